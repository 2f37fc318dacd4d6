"""The run predicts its own outcome without g (THEORY.md P5); ``calibrate`` writes CSV, JSON and PNG."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest

from perturbation_learning.commands import calibrate as cal_module
from perturbation_learning.commands.cli import main
from perturbation_learning.config import Config, get_preset
from perturbation_learning.run import perturbation_learning, run_batch, run_experiment, to_json
from theory.params import Perturbation, TrainingSet
from theory.prediction import (calibration, integrated_time, predict_outcome, predicted_loss_weights)

TINY = Config(dataset="shifted-gauss", d=10, n_train=40, n_test=50, width=16, epochs_f=20, epochs_g=20, lr=0.1,
              momentum=0.9, eps=0.5, eps_mode="absolute")

pytestmark = pytest.mark.usefixtures("one_thread")

PREDICTION_KEYS = {"agreement", "acc_g_train", "collapse", "share_signal_dominates", "median_abs_signal",
                   "median_abs_noise", "mean_y_adv", "reason", "lam_g_rule", "inside"}


def test_P5_run_record_carries_the_prediction():
    res = run_experiment(TINY.replace(seed=3))
    pred = res["prediction"]
    assert set(pred) == PREDICTION_KEYS
    assert 0.0 <= pred["agreement"] <= 1.0 and 0.0 <= pred["acc_g_train"] <= 1.0
    assert pred["lam_g_rule"].startswith("Λ'_n = t'/N")
    assert {"l2", "l2_f", "l2_g", "c2_coverage", "kappa_f_max"} <= set(pred["inside"])
    assert res["seconds_predict"] > 0
    out = json.loads(to_json(res, timings=False))
    assert out["seconds_predict"] is None and out["prediction"] == json.loads(json.dumps(pred))


def test_P5_prediction_is_theory_prediction_of_the_run_arrays():
    """The record's prediction is ``theory.prediction.predict_outcome`` of the run's data, f, y^adv, ε and
    the Λ' that g's training integrates."""
    run = run_batch(TINY.replace(seed=1), [1])
    np64 = lambda t: t[0].detach().double().numpy()                      # noqa: E731
    t_g = integrated_time(TINY.lr, TINY.epochs_g, TINY.momentum)
    assert t_g == pytest.approx(run.g.t, rel=1e-12)
    lam_g = predicted_loss_weights("identity", t_g, TINY.n_train)
    np.testing.assert_allclose(lam_g, run.g.lam[0].numpy(), rtol=1e-12)   # exact for the identity loss
    pert = Perturbation.predicted(TrainingSet(np64(run.X), np64(run.y), run.f.lam[0]), "a", np64(run.y_adv),
                                  np64(run.u), lam_g, run.eps)
    direct = predict_outcome(pert, 0.0, np64(run.Z), run.f.net(run.Z)[0].detach().double(), width=TINY.width,
                             generator=np.random.default_rng(0))
    rec = run.record(0)["prediction"]
    assert rec["agreement"] == direct.agreement and rec["acc_g_train"] == direct.acc_g_train


def _with_other_g(config, sample, streams):
    """The default procedure, then g replaced by f (a different network): the prediction must not move."""
    out = perturbation_learning(config, sample, streams)
    return dataclasses.replace(out, g=out.f)


def _f_diverged(config, sample, streams):
    out = perturbation_learning(config, sample, streams)
    out.f.diverged[:] = True
    return out


def test_P5_prediction_does_not_depend_on_g():
    seeds = [0, 1]
    plain, swapped = run_batch(TINY, seeds), run_batch(TINY, seeds, procedure=_with_other_g)
    assert [r["agreement"] for r in plain.records] != [r["agreement"] for r in swapped.records]
    assert [r["prediction"] for r in plain.records] == [r["prediction"] for r in swapped.records]


def test_P5_no_prediction_where_f_diverged_or_when_skipped():
    rec = run_batch(TINY, [0], procedure=_f_diverged).record(0)
    assert rec["status"].startswith("invalid") and rec["prediction"] is None
    skipped = run_batch(TINY, [0], predict=False).record(0)
    assert skipped["prediction"] is None and skipped["seconds_predict"] is None


def test_P5_cli_no_predict(capsys):
    flags = ["--preset", "shifted-gauss-a-small", "--d", "8", "--n-train", "30", "--n-test", "20", "--width", "8",
             "--epochs-f", "5", "--epochs-g", "5", "--no-timings"]
    assert main(["run", *flags]) == 0
    with_prediction = json.loads(capsys.readouterr().out)
    assert main(["run", *flags, "--no-predict"]) == 0
    without = json.loads(capsys.readouterr().out)
    assert set(with_prediction["prediction"]) == PREDICTION_KEYS and without["prediction"] is None
    assert {k: v for k, v in with_prediction.items() if k != "prediction"} == \
        {k: v for k, v in without.items() if k != "prediction"}


# --- calibrate -------------------------------------------------------------------------------

def test_P5_calibrate_writes_csv_json_png(tmp_path, capsys):
    out = tmp_path / "cal"
    argv = ["calibrate", "--preset", "shifted-gauss-a-small", "--d", "10", "--n-train", "40", "--n-test", "50",
            "--width", "16", "--epochs-f", "20", "--epochs-g", "20", "--seeds", "4", "--seed", "2", "--serial",
            "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader((out / "calibrate.csv").open()))
    assert [int(r["seed"]) for r in rows] == [2, 3, 4, 5] and list(rows[0]) == list(cal_module.COLUMNS)
    table = json.loads((out / "calibrate.json").read_text())
    pred = [r["predicted"] for r in table["rows"]]
    obs = [r["observed"] for r in table["rows"]]
    expected = calibration(pred, obs, n_worst=4).to_dict()
    assert table["calibration"]["mae"] == pytest.approx(expected["mae"]) == printed["mae"]
    assert table["calibration"]["confusion"] == expected["confusion"]
    assert table["calibration"]["worst_seeds"] == [2 + i for i in expected["worst"]]
    for r in table["rows"]:
        assert r["abs_error"] == pytest.approx(abs(r["predicted"] - r["observed"]))
        assert r["collapse_predicted"] == (r["predicted"] < 0.65)
    png = (out / "calibrate.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # the numbers are those of the runs themselves
    config = get_preset("shifted-gauss-a-small").replace(d=10, n_train=40, n_test=50, width=16, epochs_f=20,
                                                         epochs_g=20, seed=2)
    direct = run_batch(config, [2, 3, 4, 5]).records
    assert pred == [r["prediction"]["agreement"] for r in direct] and obs == [r["agreement"] for r in direct]


def test_P5_calibration_leaves_out_seeds_without_numbers():
    rows = [{"seed": 0, "observed": 0.9, "predicted": 0.8}, {"seed": 1, "observed": None, "predicted": 0.7},
            {"seed": 2, "observed": 0.6, "predicted": None}, {"seed": 3, "observed": 0.55, "predicted": 0.5}]
    cal = cal_module.summarize_calibration(rows)
    assert cal["n"] == 2 and cal["worst_seeds"] == [0, 3]
    assert cal_module.summarize_calibration(rows[1:3]) is None


@pytest.mark.parametrize("argv,word", [(["--seeds", "0"], "--seeds"), (["--resume"], "--resume"),
                                       (["--seeds-per-task", "0"], "--seeds-per-task")])
def test_P5_calibrate_bad_arguments_exit_2(argv, word, capsys):
    assert main(["calibrate", "--preset", "shifted-gauss-a-small", "--serial", *argv]) == 2
    err = capsys.readouterr().err
    assert word in err and err.count("\n") == 1


def test_P5_sweep_writes_predicted_columns_next_to_observed(tmp_path):
    out = tmp_path / "sweep"
    assert main(["sweep", "--preset", "shifted-gauss-a-small", "--n-train", "30", "--n-test", "30", "--width", "8",
                 "--epochs-f", "5", "--epochs-g", "5", "--vary", "d=4,9", "--seeds", "2", "--serial", "--no-progress",
                 "--out", str(out)]) == 0
    runs = list(csv.DictReader((out / "runs.csv").open()))
    header = list(runs[0])
    assert header.index("agreement_predicted") == header.index("agreement") + 1
    assert header.index("acc_g_train_predicted") == header.index("acc_g_train") + 1
    config = get_preset("shifted-gauss-a-small").replace(n_train=30, n_test=30, width=8, epochs_f=5, epochs_g=5,
                                                         d=9, seed=1)
    direct = run_experiment(config)["prediction"]
    row = next(r for r in runs if r["d"] == "9" and r["seed"] == "1")
    assert float(row["agreement_predicted"]) == direct["agreement"]
    summary = list(csv.DictReader((out / "sweep.csv").open()))
    mine = [float(r["agreement_predicted"]) for r in runs if r["d"] == "4"]
    assert float(summary[0]["agreement_predicted_mean"]) == pytest.approx(np.mean(mine))


def test_P5_map_marks_where_g_hat_and_g_differ(tmp_path):
    from perturbation_learning.commands.decision_map import decision_map, write_map
    from theory.model import sign_pm1

    config = get_preset("shifted-gauss-a-small").replace(n_train=40, n_test=30, width=8, epochs_f=10, epochs_g=10,
                                                         d=6, seed=2)
    m = decision_map(config, resolution=12)
    differs = sign_pm1(m["grids"]["g_hat"]) != sign_pm1(m["grids"]["g"])
    np.testing.assert_array_equal(m["grids"]["g_hat_differs"], differs.astype(float))
    assert m["grid_sign_agreement"]["g_vs_g_hat"] == pytest.approx(1 - differs.mean())
    assert m["run"]["agreement_predicted"] == run_experiment(config)["prediction"]["agreement"]
    paths = write_map(m, tmp_path)
    assert json.loads(open(paths["json"]).read())["run"]["agreement_predicted"] == m["run"]["agreement_predicted"]


def test_P5_collapsed_pairs_reach_the_summary():
    """The harness notes each collapsed pair with its prediction; the plugin carries the notes like
    records; records.md's "Where it breaks" groups them by setting and class."""
    from checks import session
    from reporting.markdown import collapses_section

    note = {"setting": {"dataset": "shifted-gauss", "d": 100}, "seed": 4, "agreement": 0.501, "predicted": 0.499,
            "reason": "label term outweighs the signal on 100% of inputs", "inside_l2": False}
    with session.checking("test_x", ("P3",)):
        session.current().note_collapse(note)
    (carried,) = [json.loads(s) for s in session.current().drain_collapses()]
    assert carried == dict(note, check="test_x") and session.current().drain_collapses() == []
    md = "\n".join(collapses_section([carried, dict(carried, seed=5, predicted=0.8, reason=None)]))
    assert ("| predicted before g was trained (P5) | d=100, dataset=shifted-gauss | test_x | 1 of unknown | 0.501 "
            "| 0.499 | unknown / unknown | unknown | no | label term outweighs the signal |") in md
    assert ("| outside L2 (or L2 unknown), not predicted | d=100, dataset=shifted-gauss | test_x | 1 of unknown "
            "| 0.501 | 0.800 |") in md
    assert "| total | | | 2 |" in md
    assert collapses_section([])[-2] == "No pair collapsed."


def test_P5_prediction_coverage_mode_reaches_the_theory():
    """run_batch(predict_coverage=…) decides whether the prediction evaluates its C2 coverage; the
    agreement does not depend on it."""
    lazy = TINY.replace(width=2000, lr=0.01, momentum=0.0, epochs_f=20, epochs_g=20, eps=1.0)
    always = run_batch(lazy, [0], predict_coverage="always").record(0)["prediction"]
    never = run_batch(lazy, [0], predict_coverage="never").record(0)["prediction"]
    assert always["inside"]["c2_coverage"] is not None and never["inside"]["c2_coverage"] is None
    assert always["agreement"] == never["agreement"]
    with pytest.raises(ValueError, match="coverage"):
        run_batch(lazy, [0], predict_coverage="sometimes")
