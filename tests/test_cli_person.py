"""The command lines speak to a person: ``run`` keeps its JSON on stdout and adds a short reading on
stderr; ``presets`` is a table; no arguments print the commands; errors name the flag; ``python -m
theory claims`` prints readable formulas. One small run (about 1 s of training) feeds the run tests.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from perturbation_learning.commands.cli import COMMANDS, build_parser, flagged, main, reading
from perturbation_learning.config import PRESETS, needs_data_dir

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "shifted-gauss", "--d", "12", "--n-train", "40", "--n-test", "60", "--width", "24",
        "--epochs-f", "30", "--epochs-g", "30", "--eps", "1", "--eps-mode", "absolute", "--seed", "3",
        "--no-timings", "--threads", "1"]
MAX_READING_LINES = 12


@pytest.fixture(scope="module")
def fresh_run():
    """(returncode, stdout, stderr) of ``python -m perturbation_learning run`` in a fresh interpreter,
    stdout and stderr on separate pipes, as a shell redirect would leave them."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "perturbation_learning", "run", *TINY], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    return proc.returncode, proc.stdout, proc.stderr


def _args(*argv):
    return build_parser().parse_args(["run", *argv])


# ---------------------------------------------------------------- run: JSON on stdout, reading on stderr

def test_run_stdout_is_only_the_json_and_stderr_reads_it(fresh_run):
    rc, out, err = fresh_run
    assert rc == 0, err
    assert out.count("\n") == 1 and out.endswith("}\n"), out[-300:]
    rec = json.loads(out)  # stdout is valid JSON and nothing else
    pred, lines = rec["prediction"], err.splitlines()
    assert 5 <= len(lines) <= MAX_READING_LINES, err
    assert "Traceback" not in err
    # the reading quotes the JSON's own numbers, so it cannot drift from them
    for text in (f"{rec['acc_f_train']:.3f}", f"{rec['acc_f_test']:.3f}", f"{rec['acc_g_train']:.3f}",
                 f"{rec['acc_g_test']:.3f}", f"agreement of g with f on fresh inputs: {rec['agreement']:.3f}",
                 f"predicted before g was trained (P5): {pred['agreement']:.3f}",
                 f"κ_max = {pred['inside']['kappa_max']:.3g}", f"max κ: f {pred['inside']['kappa_f_max']:.3g}",
                 f"final loss f {rec['final_loss_f']:.4g}", "minus the mean margin", "--eps 0", "checks/"):
        assert text in err, f"the reading lacks {text!r}:\n{err}"
    assert ("inside, so" if pred["inside"]["l2"] else "outside, so") in err


def test_run_quiet_prints_the_same_json_and_no_reading(fresh_run, capsys):
    try:
        assert main(["run", *TINY, "--quiet"]) == 0
    finally:
        torch.set_num_threads(1)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == fresh_run[1]  # --no-timings: byte-identical to the fresh run's stdout


@pytest.fixture(scope="module")
def record(fresh_run):
    return json.loads(fresh_run[1])


def test_reading_inside_L2_says_the_theorems_apply(record):
    rec = copy.deepcopy(record)
    rec["prediction"]["inside"].update(l2=True, kappa_f_max=0.1, kappa_g_max=0.2, share_l2_f=1.0, share_l2_g=1.0,
                                       c2_coverage=0.9)
    text = "\n".join(reading(rec, _args(*TINY)))
    assert "): inside, so the theorems apply" in text and "C2 holds on 90.0%" in text
    assert "lazy-shifted-gauss" not in text  # no need to move towards L2
    outside = "\n".join(reading(record, _args(*TINY)))  # the planted contrast: the real, outside run
    assert "the theorems apply" not in outside and "lazy-shifted-gauss-a-small" in outside


def test_reading_of_a_diverged_run_suggests_a_smaller_step(record):
    rec = copy.deepcopy(record)
    rec.update(status="invalid: training diverged for f", agreement=None, prediction=None)
    rec["config"]["lr"] = 2.0
    lines = reading(rec, _args(*TINY, "--lr", "2.0"))
    assert len(lines) <= MAX_READING_LINES
    assert "diverged" in lines[1] and "--lr 0.2" in lines[2]


def test_reading_of_the_logistic_loss_and_of_no_prediction(record):
    rec = copy.deepcopy(record)
    rec["config"]["loss"] = "logistic"
    rec["prediction"] = None
    text = "\n".join(reading(rec, _args(*TINY, "--loss", "logistic")))
    assert "log(1 + exp(−y_n f(x_n)))" in text and "minus the mean margin" not in text
    assert "not predicted (--no-predict)" in text and "L2: not evaluated" in text


def test_reading_control_of_an_eps0_run_points_back_to_eps_positive(record):
    rec = copy.deepcopy(record)
    rec["config"]["eps"] = 0.0
    text = "\n".join(reading(rec, _args(*TINY, "--eps", "0")))
    assert "--eps 0 --" not in text and "ε > 0" in text


# ---------------------------------------------------------------- presets

def test_presets_is_a_table_with_a_data_dir_column(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header[:1] == ["preset"] and "--data-dir" in header and "description" in header
    col = lines[0].index("--data-dir")
    rows = {line.split()[0]: line for line in lines[1:] if line and line.split()[0] in PRESETS}
    assert set(rows) == set(PRESETS)
    for name, line in rows.items():
        marker = line[col:].split()[0]
        assert marker == ("needed" if needs_data_dir(PRESETS[name]) else "-"), line
        assert "{" not in line and len(line) < 150, line  # no dict repr
    assert {n for n in PRESETS if needs_data_dir(PRESETS[n])} == {"mnist-a", "mnist-b", "fashion-mnist-a",
                                                                   "fashion-mnist-b"}


def test_presets_json_for_machines(capsys):
    assert main(["presets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == set(PRESETS)
    assert data["mnist-a"]["needs_data_dir"] and not data["digits-a"]["needs_data_dir"]
    assert data["shifted-gauss-a"]["config"] == PRESETS["shifted-gauss-a"].to_dict()
    assert all(entry["description"] for entry in data.values())


# ---------------------------------------------------------------- no arguments

def test_no_arguments_print_usage_and_every_command_and_exit_2(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: python -m perturbation_learning")
    for name, register in COMMANDS.items():
        first_words = " ".join(register.__doc__.split()[:3])
        assert re.search(rf"^\s+{name}\b", captured.err, re.M), f"{name} not listed:\n{captured.err}"
        assert first_words in " ".join(captured.err.split()), f"help of {name} not shown"


# ---------------------------------------------------------------- errors name the flag

FLAGS = {"data_dir": "--data-dir", "gamma": "--gamma", "dataset": "--dataset", "data": "--data", "d": "--d"}


@pytest.mark.parametrize("message,expected", [
    ("gamma == 1.0, must be < 1", "--gamma == 1.0, must be < 1"),
    ("data_dir is None, but 'mnist' is read from IDX files: pass data_dir=<folder>",
     "--data-dir is None, but 'mnist' is read from IDX files: pass --data-dir=<folder>"),
    ("dataset == 'npz' needs data == the path", "--dataset == 'npz' needs --data == the path"),
    # words inside a sentence are not parameters: the file's own d, "the synthetic dataset"
    ("x.npz: array Z has shape (6, 2), must have d == 3", "x.npz: array Z has shape (6, 2), must have d == 3"),
    ("a must be >= 1 for the synthetic dataset 'gauss'", "a must be >= 1 for the synthetic dataset 'gauss'"),
])
def test_error_messages_name_flags_not_fields(message, expected):
    assert flagged(message, FLAGS) == expected


def test_mnist_without_data_dir_names_the_flag(capsys):
    assert main(["run", "--preset", "mnist-a"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data-dir" in err and "data_dir" not in err, err


def test_every_run_flag_is_in_the_error_map():
    """Each config field reaches ``flagged`` under its flag, so no field's error keeps its Python name."""
    args = _args()
    assert args.flag_of["data_dir"] == "--data-dir" and args.flag_of["n_train"] == "--n-train"
    assert args.flag_of["threads"] == "--threads" and "help" not in args.flag_of


# ---------------------------------------------------------------- python -m theory claims

RAW = ("Function(", "Symbol(", "Eq(", "Abs(", "sqrt(", "**", "\\", "[n]", "[k]", "Idx(", "KroneckerDelta", "Sum(")


def _raw_fragments(text: str) -> list[str]:
    return [r for r in RAW if r in text]


def test_claims_print_readable_formulas(capsys):
    from theory.__main__ import main as theory_main
    from theory.claims import CLAIMS

    assert theory_main(["claims"]) == 0
    out = capsys.readouterr().out
    assert not _raw_fragments(out), _raw_fragments(out)
    r2 = out.split("R2 [")[1].split("\nR3 [")[0]
    assert "‖∇f(x_n)‖" in r2 and "∇f(x_n)·" in r2  # the norm of ∇f, not a bare symbol
    for cid, claim in CLAIMS.items():
        assert claim.text and all(line in out for line in claim.text.split("\n")), cid
    # the planted contrast: sympy's own str printing trips the same check
    assert _raw_fragments(str(CLAIMS["K1"].statement)) and "‖" not in str(CLAIMS["R2"].statement)


def test_claims_latex_still_printed(capsys):
    from theory.__main__ import main as theory_main
    from theory.claims import CLAIMS

    assert theory_main(["claims", "--latex", "R2"]) == 0
    assert CLAIMS["R2"].latex in capsys.readouterr().out
