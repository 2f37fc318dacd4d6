"""Bad input on the command line: ``python -m perturbation_learning ...`` exits with code 2 and
prints exactly one line on stderr that names the parameter, never a traceback.

Cost. Each fresh interpreter spends seconds of CPU importing torch, so starting one per case would
cost a minute. The cases therefore run in a *fork server*:
one subprocess (``sys.executable``) imports the package once, then forks one child per case, and
the child runs the module exactly as ``python -m`` does (``runpy.run_module(..., run_name=
"__main__", alter_sys=True)``), with its own stdout/stderr files and its real exit status; an
uncaught exception prints its traceback and exits 1, as the interpreter would. One case also runs
in a genuinely fresh ``python -m perturbation_learning`` process, and
``test_fork_server_matches_fresh_interpreter`` checks that both give the same exit code and stderr.
All processes start together in one fixture, run once per session (also under pytest-xdist).
The diverging run (exit 1, not 2) is here too, to share the fork server.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXIT_USAGE = 2
TIMEOUT = 120

# Keeps any case that wrongly passes validation short (a full default run takes seconds).
SHORT = ["--preset", "shifted-gauss-a-small", "--epochs-f", "1", "--epochs-g", "1"]

# id: (argv, words the single stderr line must contain: the parameter and the problem)
CASES = {
    "unknown-preset": (["run", "--preset", "nope"], ["preset", "'nope'", "must be one of"]),
    "unknown-dataset": (["run", *SHORT, "--dataset", "imagenet"], ["dataset", "'imagenet'", "must be one of"]),
    "missing-idx-dir": (["run", *SHORT, "--dataset", "mnist", "--data-dir", "/nonexistent"],
                        ["--data-dir", "/nonexistent", "no such directory"]),
    "mnist-without-data-dir": (["run", "--preset", "mnist-a"], ["--preset mnist-a", "pass --data-dir", "IDX"]),
    "dataset-without-data-dir": (["run", *SHORT, "--dataset", "fashion-mnist"],
                                 ["--dataset fashion-mnist", "pass --data-dir"]),
    "seed-not-integer": (["run", *SHORT, "--seed", "1.5"], ["--seed", "invalid int value", "1.5"]),
    "seed-negative": (["run", *SHORT, "--seed", "-1"], ["seed == -1", "must be >= 0"]),
    "unknown-flag": (["run", *SHORT, "--bogus", "1"], ["unrecognized arguments", "--bogus"]),
    "gamma-one": (["run", *SHORT, "--gamma", "1.0"], ["--gamma == 1.0", "must be < 1"]),
    "gamma-negative": (["run", *SHORT, "--gamma", "-0.1"], ["gamma == -0.1", "must be >= 0"]),
    "gamma-nan": (["run", *SHORT, "--gamma", "nan"], ["gamma == nan", "must be finite"]),
    "eps-negative": (["run", *SHORT, "--eps", "-1"], ["eps == -1.0", "must be >= 0"]),
    "d-zero": (["run", *SHORT, "--d", "0"], ["d == 0", "must be >= 1"]),
    "width-zero": (["run", *SHORT, "--width", "0"], ["width == 0", "must be >= 1"]),
    "width-not-integer": (["run", *SHORT, "--width", "ten"], ["--width", "invalid int value"]),
    "lr-zero": (["run", *SHORT, "--lr", "0"], ["lr == 0.0", "must be > 0"]),
    "momentum-one": (["run", *SHORT, "--momentum", "1"], ["momentum == 1.0", "must be < 1"]),
    "scenario": (["run", *SHORT, "--scenario", "c"], ["scenario == 'c'", "must be one of"]),
    "targets": (["run", *SHORT, "--targets", "opposite"], ["targets == 'opposite'", "must be one of"]),
    "attack": (["run", *SHORT, "--attack", "fgsm"], ["attack == 'fgsm'", "must be one of"]),
    "loss": (["run", *SHORT, "--loss", "hinge"], ["loss == 'hinge'", "must be one of"]),
    "dtype": (["run", *SHORT, "--dtype", "float16"], ["dtype == 'float16'", "must be one of"]),
    "pair-same-class": (["run", *SHORT, "--pair", "3,3"], ["pair == '3,3'", "two different class indices"]),
    "pair-malformed": (["run", *SHORT, "--pair", "3"], ["pair == '3'", "two class indices"]),
    "n-train-zero-synthetic": (["run", *SHORT, "--n-train", "0"], ["--n-train == 0", "only for real data"]),
    "threads-negative": (["run", *SHORT, "--threads", "-1"], ["--threads == -1", "must be >= 0"]),
    "unknown-command": (["fly"], ["COMMAND", "invalid choice", "'fly'"]),
}
if not torch.cuda.is_available():
    CASES["cuda-unavailable"] = (["run", *SHORT, "--device", "cuda"], ["device == 'cuda'", "CUDA is not available"])

# Run again in a fresh interpreter: an error found at run time, after argparse and Config have run.
FRESH = ("missing-idx-dir",)

# A run whose training diverges (the identity loss with a huge step): exit 1, status in the JSON.
DIVERGING = ["run", "--no-timings", "--quiet", "--dataset", "shifted-gauss", "--d", "10", "--n-train", "40",
             "--n-test", "100", "--width", "50", "--epochs-f", "50", "--epochs-g", "50", "--lr", "1e6",
             "--loss", "identity"]
METRICS = ("acc_f_train", "acc_g_train", "acc_f_test", "acc_g_test", "agreement", "cos_signed", "cos_abs")

_FORK_SERVER = textwrap.dedent("""
    import json, os, runpy, sys, traceback
    import perturbation_learning.commands.cli  # the expensive imports, once; no torch operation runs here
    import theory.direction  # imported lazily by a run; here once for the diverging run

    cases, out_dir = json.loads(sys.stdin.read()), sys.argv[1]
    children = {}
    for name, argv in cases.items():
        pid = os.fork()
        if pid:
            children[pid] = name
            continue
        code = 1
        try:
            for fd, suffix in ((1, ".out"), (2, ".err")):
                f = os.open(os.path.join(out_dir, name + suffix), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(f, fd)
                os.close(f)
            sys.argv = ["perturbation_learning", *argv]
            try:
                runpy.run_module("perturbation_learning", run_name="__main__", alter_sys=True)
                code = 0
            except SystemExit as exc:  # what the interpreter does with sys.exit(...)
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    status = {}
    while children:
        pid, st = os.wait()
        status[children.pop(pid)] = os.waitstatus_to_exitcode(st)
    print(json.dumps(status))
""")


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _fresh_command(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "perturbation_learning", *argv]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, request) -> dict:
    """{"fork:<case>" | "fresh:<case>": [returncode, stdout, stderr]} for every case.

    Computed once per session: under pytest-xdist the first worker to get here runs the processes
    and the others read its results (a file lock in the session's shared temporary directory)."""
    if not hasattr(request.config, "workerinput"):  # not an xdist worker
        return _run_all_cases(tmp_path_factory.mktemp("cli"))
    shared = tmp_path_factory.getbasetemp().parent  # one per session, shared by its workers
    with open(shared / "cli_cases.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = shared / "cli_cases.json"
        if not cache.exists():
            cache.write_text(json.dumps(_run_all_cases(tmp_path_factory.mktemp("cli"))))
        return json.loads(cache.read_text())


def _run_all_cases(out_dir: Path) -> dict:
    server = subprocess.Popen([sys.executable, "-c", _FORK_SERVER, str(out_dir)], cwd=ROOT, env=_env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fresh = {name: subprocess.Popen(_fresh_command(CASES[name][0]), cwd=ROOT, env=_env(),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in FRESH}
    cases = {k: v[0] for k, v in CASES.items()} | {"diverging": DIVERGING}
    server_out, server_err = server.communicate(json.dumps(cases), timeout=TIMEOUT)
    assert server.returncode == 0, f"fork server failed: {server_err[-2000:]}"
    status = json.loads(server_out.strip().splitlines()[-1])
    results = {}
    for name in cases:
        out = (out_dir / f"{name}.out").read_text()
        err = (out_dir / f"{name}.err").read_text()
        results[f"fork:{name}"] = [status[name], out, err]
    for name, proc in fresh.items():
        out, err = proc.communicate(timeout=TIMEOUT)
        results[f"fresh:{name}"] = [proc.returncode, out, err]
    return results


def _assert_usage_error(result, words, where):
    __tracebackhide__ = True
    rc, out, err = result
    lines = err.splitlines()
    assert "Traceback" not in err, f"{where}: traceback on stderr:\n{err}"
    assert rc == EXIT_USAGE, f"{where}: exit code {rc}, should be {EXIT_USAGE}; stderr:\n{err}"
    assert len(lines) == 1 and err.endswith("\n"), f"{where}: stderr has {len(lines)} lines, should be 1:\n{err}"
    missing = [w for w in words if w not in lines[0]]
    assert not missing, f"{where}: stderr {lines[0]!r} lacks {missing}"
    assert out == "", f"{where}: a failed run printed on stdout: {out[:300]!r}"


@pytest.mark.parametrize("name", list(CASES))
def test_cli_bad_input_exits_2_with_one_line(outcomes, name):
    argv, words = CASES[name]
    _assert_usage_error(outcomes[f"fork:{name}"], words, f"python -m perturbation_learning {' '.join(argv)}")


@pytest.mark.parametrize("name", FRESH)
def test_cli_bad_input_in_fresh_interpreter(outcomes, name):
    argv, words = CASES[name]
    _assert_usage_error(outcomes[f"fresh:{name}"], words, " ".join(_fresh_command(argv)))


@pytest.mark.parametrize("name", FRESH)
def test_fork_server_matches_fresh_interpreter(outcomes, name):
    """The fork server is faithful: same exit code, same stdout and stderr as a fresh process."""
    assert outcomes[f"fork:{name}"] == outcomes[f"fresh:{name}"]


def test_cli_exits_1_on_divergence(outcomes):
    """A diverged run is a result, not a usage error: exit 1, its JSON on stdout with
    status "invalid: ..." and null metrics, nothing on stderr (--quiet: no reading)."""
    rc, out, err = outcomes["fork:diverging"]
    assert "Traceback" not in err and err == "", err
    assert rc == 1, (rc, out[-500:])
    result = json.loads(out)
    assert result["status"].startswith("invalid: training diverged")
    assert all(result[k] is None for k in METRICS)


@pytest.mark.parametrize("command", [[], ["run"], ["sweep"], ["map"], ["reproduce"], ["calibrate"], ["presets"]])
def test_help_of_every_subcommand_prints_and_exits_0(command, capsys):
    """argparse formats help strings with %-interpolation: a bare '%' in one crashes --help."""
    from perturbation_learning.commands.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out
