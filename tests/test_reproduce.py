"""The ``reproduce`` command: figure specs, the written CSV/JSON/PNG, the theory overlay, and errors.

The runs here shrink every figure to seconds (N = 20, m = 4, 3 steps) through ``overrides``; the
figures at their real scales are measured, not tested (README, "Scale-out and the paper's figures").
"""

from __future__ import annotations

import copy
import csv
import json

import pytest
import torch

from perturbation_learning.commands.cli import main
from perturbation_learning.commands.reproduce import (FIGURES, PREDICTED_AGREEMENT, base_config, caption, figure_configs,
                                             has_prediction, reproduce, write_figure)
from perturbation_learning.commands.sweep import METRICS, summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = dict(n_train=20, n_test=20, width=4, epochs_f=3, epochs_g=3)


@pytest.fixture(scope="module")
def tiny_a4(tmp_path_factory):
    out = tmp_path_factory.mktemp("figA4")
    table = reproduce("figA4", seeds=2, executor="serial", out_dir=out, overrides=TINY, progress=False)
    return table, out, write_figure(table, out)


def test_every_figure_has_both_scales_and_a_note():
    assert set(FIGURES) == {"fig3", "figA4", "figA5", "sweep-N", "sweep-m", "sweep-gamma"}
    for name, spec in FIGURES.items():
        for scale in ("cpu", "paper"):
            configs = figure_configs(name, scale, base_config(name, scale))
            assert [getattr(c, spec.field) for c in configs] == list(spec.scale(scale).values)
            assert spec.scale(scale).note and spec.scale(scale).seeds >= 2
    # the paper's sizes at paper scale (THEORY.md §7)
    a = base_config("fig3", "paper")
    assert (a.n_train, a.width, a.epochs_f, a.epochs_g, a.scenario) == (1000, 100, 1000, 1000, "a")
    b = figure_configs("figA5", "paper", base_config("figA5", "paper"))[-1]
    assert (b.d, b.n_train, b.width, b.scenario) == (5000, 10000, 100, "b")


def test_figure_writes_csv_json_png_with_intervals(tiny_a4):
    table, out, paths = tiny_a4
    assert sorted(p.name for p in out.iterdir()) == ["figA4.csv", "figA4.json", "figA4.png", "runs.csv", "tasks"]
    assert out.joinpath("figA4.png").read_bytes()[:8] == PNG_MAGIC
    with open(paths["csv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["d"]) for r in rows] == list(FIGURES["figA4"].cpu.values)
    for row, point in zip(rows, table["points"]):
        agreements = [r["agreement"] for r in point["runs"]]
        assert float(row["agreement_mean"]) == pytest.approx(summarize(agreements)["mean"])
        assert float(row["agreement_ci_low"]) <= float(row["agreement_mean"]) <= float(row["agreement_ci_high"])
    saved = json.loads(out.joinpath("figA4.json").read_text())
    assert saved["figure"] == "figA4" and saved["scale"] == "cpu" and saved["seeds"] == [0, 1]
    assert "changed: epochs_f = 3" in saved["scale_note"]


def test_caption_states_whether_the_theory_is_overlaid(tiny_a4):
    table = tiny_a4[0]
    if not has_prediction(table):  # runs without a prediction: the caption says so
        assert "no theory overlay" in caption(table)
    with_pred = copy.deepcopy(table)
    for p in with_pred["points"]:
        p["stats"][PREDICTED_AGREEMENT] = summarize([0.7, 0.8])
        for r in p["runs"]:
            r[PREDICTED_AGREEMENT] = 0.75
    assert has_prediction(with_pred) and "dashed: the theory's predicted agreement" in caption(with_pred)
    without = copy.deepcopy(with_pred)
    for p in without["points"]:
        p["stats"][PREDICTED_AGREEMENT] = summarize([])
    assert not has_prediction(without)
    accuracy_only = dict(with_pred, panels=["accuracy"])  # fig3 draws no agreement, so no overlay either
    assert "accuracy only" in caption(accuracy_only) and "dashed" not in caption(accuracy_only)


def test_figA5_ties_N_to_d_as_the_paper():
    for scale in ("cpu", "paper"):
        for c in figure_configs("figA5", scale, base_config("figA5", scale)):
            assert c.n_train == 2 * c.d and c.scenario == "b"


def test_fig3_and_figA4_run_the_same_tasks(tmp_path):
    """Shared runs: figA4 into fig3's directory with resume recomputes nothing."""
    kw = dict(seeds=2, executor="serial", out_dir=tmp_path, overrides=TINY, progress=False)
    first = reproduce("fig3", **kw)
    again = reproduce("figA4", resume=True, **kw)
    assert again["tasks_reused"] == again["tasks"] == first["tasks"]
    assert [p["stats"] for p in again["points"]] == [p["stats"] for p in first["points"]]
    assert set(METRICS) <= set(first["points"][0]["stats"])


def test_unknown_figure_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "fig99"])
    assert exc.value.code == 2 and "fig99" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_exits_2_before_anything_runs(capsys, tmp_path):
    assert main(["reproduce", "fig3", "--device", "cuda", "--serial", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CUDA is not available" in err
    assert not (tmp_path / "x").exists()
