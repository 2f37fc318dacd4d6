"""Planted bugs for P5: the check must fail when the run's prediction is broken, and pass when it is not.

The settings are the inside-L2 examples of ``checks/test_prediction.py`` (THEORY.md's lazy preset at ci
size, C2 ∧ L2 coverage ≈ 0.66 in Scenario (a) and ≈ 0.9 in Scenario (b) with flipped targets, measured).

| bug | effect on a_pred | caught by |
|---|---|---|
| sgn f negated where the prediction compares with it | a_pred → 1 − a_pred (≈ 0 against a_obs ≈ 1) | P5 |
| clean labels y used in place of the drawn targets y^adv | ≈ 1 against a_obs ≈ 0 (flipped targets, (b)) | P5 |
"""

from __future__ import annotations

import pytest

import theory.prediction as prediction_theory
from checks import session
from checks.harness import run_pairs
from checks.properties import prediction
from checks.test_prediction import lazy_prediction_setting
from theory.params import Perturbation


pytestmark = pytest.mark.usefixtures("one_thread", "claims_alone")


@pytest.fixture(autouse=True)
def _clean_record_buffer():
    yield
    session.current().discard()


#: Pairs per example here: the planted bugs move the mean excess to ≈ 0.6–0.9, which 12 pairs detect
#: (the betting test at α detects 0.57 against the bound 0.15 with 12 pairs).
PAIRS = 12


def _check(variant):
    setting = lazy_prediction_setting(3, *variant, pairs=PAIRS)
    return prediction.prediction_tracks_agreement(prediction.measure_prediction(run_pairs(setting)), setting)


def test_P5_unbroken_prediction_is_not_rejected():
    for variant in (("a", "random", 3.0), ("b", "flipped", 0.3)):
        rec = _check(variant)
        assert rec.claim == "P5" and rec.verdict in ("pass", "underpowered") and rec.n_pairs == PAIRS
        # Coverage measured at δ = CHECK_DELTA = 0.01: 0.43 in scenario (a); a covering setting, not a tuned bound.
        assert rec.value < 0.05 and rec.coverage > 0.3


def _wrapped(original, **change):
    def predict_outcome(pert, gamma, Z, f_sign=None, **kw):
        if change.get("negate_f"):
            f_sign = -f_sign
        if change.get("labels_as_targets"):
            pert = Perturbation.predicted(pert.train, pert.scenario, pert.train.y, pert.u, pert.lam_g, pert.eps)
        return original(pert, gamma, Z, f_sign, **kw)
    return predict_outcome


@pytest.mark.parametrize("change, variant", [
    pytest.param({"negate_f": True}, ("a", "random", 3.0), id="sgn f negated -> P5"),
    pytest.param({"labels_as_targets": True}, ("b", "flipped", 0.3), id="labels for targets -> P5"),
])
def test_P5_broken_prediction_is_caught(monkeypatch, change, variant):
    monkeypatch.setattr(prediction_theory, "predict_outcome", _wrapped(prediction_theory.predict_outcome, **change))
    with pytest.raises(AssertionError, match="P5"):
        _check(variant)
