"""The ``sweep`` and ``map`` sub-commands: grid parsing, one batched run per point, the written
CSV/JSON/PNG, and the one-line exit-2 errors.

Every run here is tiny (N ≤ 40, m = 8, a few steps), so the file runs in seconds.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from perturbation_learning.commands.cli import main
from perturbation_learning.config import get_preset
from perturbation_learning.run import run_experiment
from perturbation_learning.commands.sweep import METRICS, parse_vary, run_sweep, summarize

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ["--preset", "shifted-gauss-a-small", "--n-train", "40", "--n-test", "40", "--width", "8",
        "--epochs-f", "5", "--epochs-g", "5", "--threads", "1"]


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _f(s: str):
    return None if s == "" else float(s)


# ---------------------------------------------------------------- parsing

def test_parse_vary_uses_the_field_type():
    assert parse_vary("d=10,20,30") == ("d", [10, 20, 30])
    assert parse_vary("width=1e2,200") == ("width", [100, 200])
    field, values = parse_vary("eps=0,0.001,1")
    assert field == "eps" and values == [0.0, 0.001, 1.0] and all(isinstance(v, float) for v in values)
    assert parse_vary("epochs-f=1,2") == ("epochs_f", [1, 2])
    assert parse_vary("loss=identity,logistic") == ("loss", ["identity", "logistic"])
    assert parse_vary("pair=0,1;3,5") == ("pair", ["0,1", "3,5"])


@pytest.mark.parametrize("spec, words", [
    ("foo=1,2", ["unknown config field", "'foo'"]),
    ("d=1.5", ["d", "'1.5'", "not an int"]),
    ("gamma=x", ["gamma", "'x'", "not a float"]),
    ("seed=1,2", ["--seeds"]),
    ("d", ["FIELD=V1,V2"]),
    ("d=1,,2", ["empty value"]),
    ("d=3,3", ["repeated"]),
])
def test_parse_vary_rejects_bad_specs_naming_the_problem(spec, words):
    with pytest.raises(ValueError) as err:
        parse_vary(spec)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_summarize_student_t_interval():
    s = summarize([0.5, 0.7, 0.9])
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.7) and s["std"] == pytest.approx(0.2)
    half = 4.302652729911275 * 0.2 / math.sqrt(3)  # t_{0.975, 2}
    assert s["ci"] == [pytest.approx(0.7 - half), pytest.approx(0.7 + half)]
    assert summarize([0.4]) == {"n": 1, "mean": 0.4, "std": None, "ci": None}
    assert summarize([None, float("nan")])["n"] == 0  # invalid runs are left out


# ---------------------------------------------------------------- the sweep command

@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    rc = main(["sweep", *TINY, "--vary", "d=4,9", "--seeds", "2", "--seed", "3", "--no-progress",
               "--out", str(out), "--serial", "--seeds-per-task", "2"])
    return rc, out


def test_sweep_writes_csv_json_png(tiny_sweep):
    rc, out = tiny_sweep
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["runs.csv", "sweep.csv", "sweep.json", "sweep.png", "tasks"]
    assert len(list((out / "tasks").glob("*.json"))) == 2  # one task per point (--seeds-per-task 2)
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC
    summary = _read_csv(out / "sweep.csv")
    assert [int(r["d"]) for r in summary] == [4, 9]
    for row in summary:
        assert int(row["n_seeds"]) == 2 and int(row["n_valid"]) == 2
        # ε follows the preset's eps_mode (sqrt-d for the paper's synthetic presets: ε·√d)
        d = int(row["d"])
        preset = get_preset("shifted-gauss-a-small")
        assert preset.eps_mode == "sqrt-d"
        assert float(row["eps_effective"]) == pytest.approx(preset.eps * math.sqrt(d))
        for m in METRICS:
            mean, lo, hi = _f(row[f"{m}_mean"]), _f(row[f"{m}_ci_low"]), _f(row[f"{m}_ci_high"])
            assert lo <= mean <= hi
            assert -1.0 <= mean <= 1.0


def test_sweep_tables_agree_with_each_other(tiny_sweep):
    _, out = tiny_sweep
    summary = _read_csv(out / "sweep.csv")
    runs = _read_csv(out / "runs.csv")
    table = json.loads((out / "sweep.json").read_text())
    assert table["field"] == "d" and table["values"] == [4, 9] and table["seeds"] == [3, 4]
    assert [(int(r["d"]), int(r["seed"])) for r in runs] == [(4, 3), (4, 4), (9, 3), (9, 4)]
    for row, point in zip(summary, table["points"]):
        mine = [float(r["agreement"]) for r in runs if int(r["d"]) == int(row["d"])]
        assert float(row["agreement_mean"]) == pytest.approx(np.mean(mine))
        assert point["stats"]["agreement"]["mean"] == pytest.approx(np.mean(mine))
        assert point["stats"]["agreement"]["std"] == pytest.approx(np.std(mine, ddof=1))


def test_sweep_batch_matches_a_single_run(tiny_sweep):
    """A point's seeds run as one batch; each seed's numbers equal a separate run of that seed."""
    _, out = tiny_sweep
    runs = _read_csv(out / "runs.csv")
    row = next(r for r in runs if int(r["d"]) == 9 and int(r["seed"]) == 4)
    cfg = get_preset("shifted-gauss-a-small").replace(n_train=40, n_test=40, width=8, epochs_f=5, epochs_g=5,
                                                      d=9, seed=4)
    single = run_experiment(cfg)
    for m in ("acc_f_train", "acc_g_train", "agreement"):
        assert float(row[m]) == pytest.approx(single[m], abs=1e-12)


def test_sweep_resume_reads_every_task_back_and_writes_the_same_tables(tiny_sweep, tmp_path, capsys):
    _, out = tiny_sweep
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    rc = main(["sweep", *TINY, "--vary", "d=4,9", "--seeds", "2", "--seed", "3", "--no-progress",
               "--out", str(copy), "--serial", "--seeds-per-task", "2", "--resume"])
    assert rc == 0
    table = json.loads((copy / "sweep.json").read_text())
    assert table["tasks"] == table["tasks_reused"] == 2
    assert (copy / "runs.csv").read_text() == (out / "runs.csv").read_text()
    capsys.readouterr()
    assert main(["sweep", *TINY, "--vary", "d=4,9", "--resume", "--serial", "--no-progress"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err


def test_sweep_progress_bar_goes_to_stderr(capsys):
    cfg = get_preset("shifted-gauss-a-small").replace(n_train=20, n_test=20, width=4, epochs_f=2, epochs_g=2)
    table = run_sweep(cfg, "gamma", [0.0, 0.5], [0], progress=True)
    captured = capsys.readouterr()
    assert "sweep gamma" in captured.err and "2/2" in captured.err
    assert captured.out == ""
    assert [p["value"] for p in table["points"]] == [0.0, 0.5]


def test_sweep_bad_field_exits_2_with_one_line(capsys):
    rc = main(["sweep", *TINY, "--vary", "nonsense=1,2", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "nonsense" in err and "Traceback" not in err


def test_sweep_invalid_value_is_caught_before_any_run(capsys, tmp_path):
    rc = main(["sweep", *TINY, "--vary", "d=5,0", "--no-progress", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "d == 0" in err
    assert not (tmp_path / "x").exists()  # nothing ran, nothing written


def test_sweep_bad_field_in_a_fresh_interpreter(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "perturbation_learning", "sweep", "--vary", "colour=1,2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "colour" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "reports").exists()


# ---------------------------------------------------------------- the map command

def test_plane_axes_are_orthonormal_and_span_the_class_means():
    from perturbation_learning.commands.decision_map import plane_axes

    rng = np.random.default_rng(0)
    y = np.repeat([-1, 1], 50)
    X = rng.standard_normal((100, 20)) + 0.3 * y[:, None]
    e1, e2 = plane_axes(X, y)
    assert e1 @ e1 == pytest.approx(1) and e2 @ e2 == pytest.approx(1) and abs(e1 @ e2) < 1e-12
    for mean in (X[y == 1].mean(0), X[y == -1].mean(0)):  # both means lie in span(e1, e2)
        resid = mean - (mean @ e1) * e1 - (mean @ e2) * e2
        assert np.linalg.norm(resid) < 1e-10
    assert e1.sum() / math.sqrt(20) > 0.9  # ≈ 1/√d for shifted-Gauss


def test_map_writes_one_png_with_json(tmp_path, capsys):
    rc = main(["map", *TINY, "--resolution", "8", "--out", str(tmp_path)])
    assert rc == 0
    assert (tmp_path / "map.png").read_bytes()[:8] == PNG_MAGIC
    info = json.loads((tmp_path / "map.json").read_text())
    assert info["resolution"] == 8 and info["limit"] > 0
    for share in info["grid_sign_agreement"].values():
        assert 0.0 <= share <= 1.0
    assert json.loads(capsys.readouterr().out)["png"] == str(tmp_path / "map.png")


def test_map_bad_resolution_exits_2(capsys):
    rc = main(["map", *TINY, "--resolution", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "resolution" in err
