"""Unit tests of theory.prediction (P5): the outcome predicted before g is trained, and its calibration."""

import json
import math

import numpy as np
import pytest

from theory.conditions import predicted_g, scenario_terms
from theory.direction import predicted_direction
from theory.lazy import kernel_predictor
from theory.params import Perturbation, TrainingSet, predicted_perturbation
from theory.prediction import (LOSS_WEIGHT_RULES, Calibration, Prediction, calibration, collapse_reason,
                               integrated_time, p5_tolerance, predict_outcome, predicted_loss_weights)
from theory.tolerances import COLLAPSE_AGREEMENT


def setting(seed=0, N=60, d=8, t=3.0, n_test=80, shift=0.6):
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    X = rng.standard_normal((N, d)) + shift * y[:, None]
    lam = np.full(N, t / N)
    yz = np.where(np.arange(n_test) % 2 == 0, 1.0, -1.0)
    Z = rng.standard_normal((n_test, d)) + shift * yz[:, None]
    y_adv = np.where(rng.random(N) < 0.5, 1.0, -1.0)
    return rng, X, y, lam, Z, y_adv


def predicted(X, y, lam, y_adv, lam_g, eps, scenario="a"):
    """The network-free perturbation of (X, y, Λ): r̂ along u = ``predicted_direction`` at γ = 0."""
    train = TrainingSet(X, y, lam)
    return Perturbation.predicted(train, scenario, y_adv, predicted_direction(train, 0.0), lam_g, eps)


def predict(scenario="a", eps=2.0, y_adv=None, lam_g=None, f_sign=None, coverage="never", seed=0, **kw):
    rng, X, y, lam, Z, ya = setting(seed)
    y_adv = ya if y_adv is None else y_adv
    lam_g = np.full(len(y), 10.0 / len(y)) if lam_g is None else lam_g
    pred = predict_outcome(predicted(X, y, lam, y_adv, lam_g, eps, scenario), 0.0, Z, f_sign, width=2000,
                           generator=np.random.default_rng(1), coverage=coverage, **kw)
    return pred, (X, y, lam, Z, y_adv, lam_g)


# --- Λ' and t' before training ---------------------------------------------------------------

@pytest.mark.parametrize("lr,steps,beta", [(0.1, 0, 0.0), (0.01, 300, 0.0), (0.1, 1000, 0.9), (1.0, 7, 0.5)])
def test_P5_integrated_time_is_the_sum_of_step_weights(lr, steps, beta):
    explicit = sum(lr * (1 - beta**j) / (1 - beta) for j in range(1, steps + 1)) if beta else lr * steps
    assert integrated_time(lr, steps, beta) == pytest.approx(explicit, rel=1e-12, abs=1e-15)


def test_P5_integrated_time_matches_the_trainer():
    import torch

    from perturbation_learning.network import init_network
    from perturbation_learning.training import train

    g = torch.Generator().manual_seed(0)
    net = init_network(3, 5, 0.0, generator=g, dtype="float64")
    X = torch.randn(6, 3, generator=g, dtype=torch.float64)
    y = torch.tensor([1.0, -1.0] * 3, dtype=torch.float64)
    for beta in (0.0, 0.9):
        res = train(net, X, y, lr=0.1, steps=40, momentum=beta)
        assert integrated_time(0.1, 40, beta) == pytest.approx(res.t, rel=1e-12)
        # identity loss: the recorded Λ' is exactly the predicted one
        np.testing.assert_allclose(predicted_loss_weights("identity", res.t, 6), res.lam.numpy(), rtol=1e-12)


def test_P5_predicted_loss_weights_per_loss():
    np.testing.assert_allclose(predicted_loss_weights("identity", 3.0, 4), np.full(4, 0.75))
    np.testing.assert_allclose(predicted_loss_weights("logistic", 3.0, 4), np.full(4, 0.375))
    assert set(LOSS_WEIGHT_RULES) == {"identity", "logistic"} and "t'/(2N)" in LOSS_WEIGHT_RULES["logistic"]


@pytest.mark.parametrize("kw,word", [({"loss": "hinge"}, "loss"), ({"t": -1.0}, "t"), ({"n": 0}, "n")])
def test_P5_predicted_loss_weights_rejects(kw, word):
    args = {"loss": "identity", "t": 1.0, "n": 3, **kw}
    with pytest.raises(ValueError, match=word):
        predicted_loss_weights(**args)


# --- the prediction --------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", ["a", "b"])
def test_P5_prediction_is_the_sign_of_g_hat_at_r_hat(scenario):
    """a_pred, acc_g_train, the S/N shares and medians are those of conditions.scenario_terms at r̂."""
    rng = np.random.default_rng(5)
    _, X, y, lam, Z, y_adv = setting()
    f_values = rng.standard_normal(len(Z))
    pred, (X, y, lam, Z, y_adv, lam_g) = predict(scenario, f_sign=f_values)
    u = predicted_direction(TrainingSet(X, y, lam), 0.0)
    r_hat = Perturbation(TrainingSet(X, y, lam), scenario, predicted_perturbation(u, y_adv, 2.0), y_adv, u, lam_g,
                         2.0)
    g_hat_z = predicted_g(r_hat, 0.0, Z)
    g_hat_x = predicted_g(r_hat, 0.0, X)
    terms = scenario_terms(r_hat, 0.0, Z)
    sgn = lambda v: np.where(v > 0, 1.0, -1.0)                              # noqa: E731
    assert pred.agreement == pytest.approx(float((sgn(g_hat_z) == sgn(f_values)).mean()))
    assert pred.acc_g_train == pytest.approx(float((sgn(g_hat_x) == y).mean()))
    assert pred.share_signal_dominates == pytest.approx(float((abs(terms.signal) > abs(terms.noise)).mean()))
    assert pred.median_abs_signal == pytest.approx(float(np.median(abs(terms.signal))))
    assert pred.median_abs_noise == pytest.approx(float(np.median(abs(terms.noise))))
    assert pred.mean_y_adv == pytest.approx(float(y_adv.mean()))
    np.testing.assert_allclose(pred.g_hat, g_hat_z, rtol=1e-10, atol=1e-12)


def test_P5_default_sign_of_f_is_the_kernel_predictor():
    pred, (X, y, lam, Z, *_ ) = predict()
    f_hat = kernel_predictor(TrainingSet(X, y, lam), Z, 0.0)
    assert pred.agreement == predict(f_sign=f_hat)[0].agreement


def test_P5_constant_lam_g_does_not_change_the_signs():
    """Λ' = c·t'/N scales S and N alike (the logistic rule's constant cannot move a_pred)."""
    base = predict()[0]
    N = len(setting()[2])
    half = predict(lam_g=np.full(N, 5.0 / N))[0]
    assert (half.agreement, half.acc_g_train, half.share_signal_dominates) == \
        (base.agreement, base.acc_g_train, base.share_signal_dominates)
    assert half.median_abs_signal == pytest.approx(base.median_abs_signal / 2)


def test_P5_imbalanced_targets_at_small_eps_collapse_with_the_label_term_as_reason():
    """THEORY.md P5 mechanism: all y^adv = +1 and ε → 0 make N ≈ a positive constant: sgn ĝ ≡ +1."""
    _, X, y, lam, Z, _ = setting()
    f_hat = kernel_predictor(TrainingSet(X, y, lam), Z, 0.0)
    pred = predict(eps=1e-3, y_adv=np.ones(len(y)))[0]
    assert np.all(pred.g_hat > 0)
    assert pred.agreement == pytest.approx(float((f_hat > 0).mean()))
    assert pred.acc_g_train == pytest.approx(0.5)
    assert pred.collapse and pred.share_signal_dominates == 0.0
    assert pred.reason == "label term outweighs the signal on 100% of inputs (mean y_adv = +1.000; y_adv = y on 50% of D)"


def test_P5_balanced_targets_with_a_strong_signal_predict_agreement():
    N = len(setting()[2])
    y_adv = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    pred = predict(eps=20.0, y_adv=y_adv)[0]
    assert pred.agreement > 0.9 and pred.acc_g_train > 0.9 and not pred.collapse and pred.reason is None
    assert pred.share_signal_dominates > 0.9 and pred.mean_y_adv == 0.0


def test_P5_eps_zero_has_no_signal():
    pred = predict(eps=0.0)[0]
    assert pred.median_abs_signal == 0.0 and pred.share_signal_dominates == 0.0


def test_P5_collapse_reason_names_the_signal_when_it_dominates():
    assert collapse_reason(0.9, 0.1, 0.05, 0.5, 0.5) is None
    assert collapse_reason(COLLAPSE_AGREEMENT, 0.1, 0.05, 0.5, 0.5) is None
    text = collapse_reason(0.3, 0.8, 0.0, 0.7, 0.5)
    assert "opposite sign to f on 70% of inputs" in text and "80%" in text


def test_P5_coverage_modes():
    never = predict(coverage="never")[0]
    assert never.inside.c2_coverage is None and never.inside.c2_l2_coverage is None
    always = predict(coverage="always")[0]
    c, cl = always.inside.c2_coverage, always.inside.c2_l2_coverage
    assert 0.0 <= cl <= c <= 1.0
    # outside L2 for f, "inside-l2" skips the Monte Carlo; a long-trained f at small width is outside
    _, X, y, lam, Z, y_adv = setting()
    lam_big = lam * 1e4
    out = predict_outcome(predicted(X, y, lam_big, y_adv, np.full(len(y), 0.1), 2.0), 0.0, Z, width=10,
                          generator=np.random.default_rng(0))
    assert not out.inside.l2_f and out.inside.c2_coverage is None


def test_P5_inside_reports_l2_for_f_and_g():
    """Small Λ at a large width is lazy; 10⁴ times larger Λ at width 10 is not."""
    pred = predict(lam_g=np.full(60, 1e-3))[0]
    assert pred.inside.l2_f and pred.inside.l2_g and pred.inside.l2
    assert pred.inside.kappa_f_max <= pred.inside.kappa_max and pred.inside.share_l2_f == 1.0


def test_P5_to_dict_is_json_ready():
    pred = predict(coverage="always", lam_g_rule=LOSS_WEIGHT_RULES["identity"])[0]
    assert isinstance(pred, Prediction)
    out = json.loads(json.dumps(pred.to_dict()))
    assert set(out) >= {"agreement", "acc_g_train", "share_signal_dominates", "median_abs_signal",
                        "median_abs_noise", "mean_y_adv", "reason", "inside", "lam_g_rule", "collapse"}
    assert out["lam_g_rule"] == LOSS_WEIGHT_RULES["identity"]
    assert set(out["inside"]) >= {"l2", "l2_f", "l2_g", "c2_coverage", "c2_l2_coverage", "kappa_f_max"}


@pytest.mark.parametrize("kw,exc,word", [
    ({"coverage": "sometimes"}, ValueError, "coverage"),
    ({"f_sign": np.ones(3)}, ValueError, "f_sign"),
    ({"lam_g": np.ones(5)}, ValueError, "lam_g"),
    ({"y_adv": np.zeros(60)}, ValueError, "y_adv"),
    ({"lam_g_rule": 3}, TypeError, "lam_g_rule"),
    ({"scenario": "c"}, ValueError, "scenario"),
])
def test_P5_predict_outcome_rejects_bad_input(kw, exc, word):
    with pytest.raises(exc, match=word):
        predict(**kw)


def test_P5_predict_outcome_takes_only_the_network_free_perturbation():
    """A perturbation with measured r (f's network) cannot make a prediction before g."""
    _, X, y, lam, Z, y_adv = setting()
    pert = predicted(X, y, lam, y_adv, lam, 2.0)
    measured = Perturbation(pert.train, "a", pert.r + 0.1, y_adv, pert.u, lam, 2.0)
    with pytest.raises(ValueError, match="network-free perturbation"):
        predict_outcome(measured, 0.0, Z, width=10, generator=np.random.default_rng(0))


# --- calibration -----------------------------------------------------------------------------

def test_P5_calibration_numbers():
    p = np.array([0.95, 0.50, 0.60, 0.90, 0.70])
    o = np.array([0.97, 0.52, 0.90, 0.55, 0.72])
    cal = calibration(p, o, n_worst=2)
    assert isinstance(cal, Calibration) and cal.n == 5
    assert cal.correlation == pytest.approx(float(np.corrcoef(p, o)[0, 1]))
    assert cal.mae == pytest.approx(float(np.abs(p - o).mean()))
    assert cal.max_abs_error == pytest.approx(0.35)
    # collapses (< 0.65): predicted {1, 2}, observed {1, 3}
    assert cal.confusion == {"both": 1, "false_alarm": 1, "missed": 1, "neither": 2}
    assert cal.collapses_observed == 2 and cal.share_collapses_predicted == 0.5 and cal.false_alarms == 1
    assert cal.worst == (3, 2)
    assert json.loads(json.dumps(cal.to_dict()))["confusion"]["both"] == 1


def test_P5_calibration_constant_side_has_no_correlation():
    cal = calibration([0.9, 0.9], [0.8, 0.95])
    assert cal.correlation is None and cal.share_collapses_predicted is None


@pytest.mark.parametrize("p,o,word", [([0.5], [0.5, 0.6], "observed"), ([1.5], [0.5], "predicted"),
                                      ([], [], "predicted")])
def test_P5_calibration_rejects(p, o, word):
    with pytest.raises(ValueError, match=word):
        calibration(np.asarray(p, dtype=float), np.asarray(o, dtype=float))


def test_P5_tolerance_is_one_minus_coverage_plus_three_delta():
    assert p5_tolerance(0.9, 0.05) == pytest.approx(0.25)
    assert p5_tolerance(1.0, 0.01) == pytest.approx(0.03)
    with pytest.raises(ValueError, match="c"):
        p5_tolerance(1.2, 0.05)
    assert not math.isnan(p5_tolerance(0.0, 0.5))
