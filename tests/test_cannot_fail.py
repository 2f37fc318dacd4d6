"""Checks that could not fail: each must now fail on its planted bug, and pass the same call unbroken.

- L1, and P2's first link (g ≈ its lazy prediction), measured their relative error against the observed
  update ‖f_t − f_0‖: a network that never moved had error 0/0, read as 0, and passed. Against the
  predicted update ‖lin − f_0‖ (``theory.lazy.lazy_error``) it has error 1. Planted: the procedure
  returns f (or g) untrained while reporting the Λ of its training. Measured on corner A (12 pairs):
  errors 0.020–0.028 for f and 0.034–0.053 for g unbroken, 1.0 in every pair when untrained (betting
  p = 7.2e-7 < α = 2e-6, rejected at the 12th pair).
- P5's excess max(0, |a_obs − a_pred| − (1 − c)) is at most c, so a pair whose C2 ∧ L2 coverage c is at
  most the bound 3δ could not fail: such pairs leave the test, counted in an observed record.
- P5 pair by pair: on the covered inputs the predicted and observed agreements differ by a mean ≤ 2δ
  (``checks.properties.prediction``). Planted: the run's prediction built with the clean labels y in
  place of the drawn targets y^adv. In Scenario (b) with flipped targets it predicts agreement ≈ 1
  against an observed ≈ 0: |a_obs − a_pred| on the covered inputs is 1.0 in every pair. In Scenario (a)
  the same prediction has the same sign as the right one on every covered input (measured, 12 pairs
  each: random and flipped targets, and the heavy-ball logistic example): the targets enter ĝ_a as
  y^adv_n·r̂_n ∝ (y^adv_n)² u_n and through a small offset, so there the wrong labels predict the same
  outcome and no check of the outcome can tell them apart.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest

import perturbation_learning.run as run
import theory.prediction as prediction_theory
from checks import session
from checks.axes import theorem35_example
from checks.harness import run_pairs
from checks.pairs import DELTA
from checks.properties import lazy, prediction, scenario
from checks.properties.prediction import PredictionPair
from checks.strategies import Setting
from checks.test_prediction import lazy_prediction_setting
from checks.test_thm34_scenario_a import ALL_SCENARIO_CLAIMS
from perturbation_learning.config import Config
from reporting.verdicts import FAILED, conclude
from theory.params import Perturbation

pytestmark = pytest.mark.usefixtures("one_thread", "claims_alone")

#: The ci covering example "corner A" (``checks.axes``, as in tests/test_planted_bugs.py): γ = 0, identity
#: loss, Scenario (a), flipped targets; inside L2 for f and g on every test input.
CORNER_A = Setting(Config(dataset="shifted-gauss", d=100, n_train=150, n_test=400, width=3000, gamma=0.0,
                          loss="identity", lr=0.1, momentum=0.0, epochs_f=20, epochs_g=20, eps=3.0,
                          eps_mode="absolute", scenario="a", targets="flipped"), tuple(range(12)))
#: P5's Scenario (b) example with flipped targets at small ε (checks/test_prediction.py), where the
#: clean labels predict the opposite outcome.
P5_FLIPPED_B = lazy_prediction_setting(3, "b", "flipped", 0.3, pairs=12)

_UNBROKEN: dict = {}


@pytest.fixture(autouse=True)
def _clean_record_buffer():
    session.current().discard()
    yield
    session.current().discard()


def _untrained(mp, which: str):
    """procedure: f's (or g's) training returns the initial network, its report (t, Λ) unchanged."""
    original, calls = run.train_in_chunks, []

    def train(net, X, y, **kw):
        calls.append(X)
        result = original(net, X, y, **kw)
        is_g = len(calls) % 2 == 0           # the second training of a run is g's
        return dataclasses.replace(result, net=result.net0) if is_g == (which == "g") else result

    mp.setattr(run, "train_in_chunks", train)


def _labels_as_targets(mp):
    """prediction: ĝ built with the clean labels y in place of the drawn targets y^adv."""
    original = prediction_theory.predict_outcome

    def predict_outcome(pert, *args, **kw):
        labels = Perturbation.predicted(pert.train, pert.scenario, pert.train.y, pert.u, pert.lam_g, pert.eps)
        return original(labels, *args, **kw)

    mp.setattr(prediction_theory, "predict_outcome", predict_outcome)


def _lazy_errors(bug=None):
    if bug is None:
        if "lazy" not in _UNBROKEN:
            _UNBROKEN["lazy"] = lazy.measure_lazy_errors(run_pairs(CORNER_A))
        return _UNBROKEN["lazy"]
    with pytest.MonkeyPatch.context() as mp:
        _untrained(mp, bug)
        return lazy.measure_lazy_errors(run_pairs(CORNER_A))


LAZY_PROPERTIES = {"f": ("L1", lazy.f_tracks_linearization), "g": ("P2", lazy.g_tracks_linearization)}


@pytest.mark.parametrize("which", ["f", "g"])
def test_untrained_network_passes_its_lazy_check_only_when_trained(which):
    claim, prop = LAZY_PROPERTIES[which]
    rec = prop(_lazy_errors(), CORNER_A)
    assert rec.claim == claim and rec.inside and rec.verdict in ("pass", "underpowered") and rec.n_pairs == 12
    assert rec.value < 0.1
    broken = _lazy_errors(which)
    assert getattr(broken, which) == [1.0] * 12
    with pytest.raises(AssertionError, match=rf"^{claim}: "):
        prop(broken, CORNER_A)


def _measured_p5(bug: bool):
    if not bug:
        if "p5" not in _UNBROKEN:
            _UNBROKEN["p5"] = prediction.measure_prediction(run_pairs(P5_FLIPPED_B))
        return _UNBROKEN["p5"]
    with pytest.MonkeyPatch.context() as mp:
        _labels_as_targets(mp)
        return prediction.measure_prediction(run_pairs(P5_FLIPPED_B))


def test_P5_prediction_from_the_labels_fails_pair_by_pair():
    rec = prediction.prediction_tracks_agreement_where_covered(_measured_p5(False), P5_FLIPPED_B)
    assert rec.claim == "P5" and rec.inside and rec.verdict in ("pass", "underpowered")
    assert rec.n_pairs == 12 and rec.value <= 2 * DELTA and rec.coverage > 0.5
    broken = _measured_p5(True)
    assert all(m.tracking == 1.0 for m in broken)
    with pytest.raises(AssertionError, match=r"^P5: .*on the inputs where C2 ∧ L2 hold"):
        prediction.prediction_tracks_agreement_where_covered(broken, P5_FLIPPED_B)


def _pairs(coverages, observed=0.5, predicted=0.5):
    return [PredictionPair(seed=i, observed=observed, predicted=predicted, coverage=c, reason=None,
                           n_covered=round(300 * c), tracking=0.0 if c else None) for i, c in enumerate(coverages)]


def test_P5_pairs_that_could_not_exceed_the_bound_leave_the_excess_test():
    """A pair with c ≤ 3δ has excess ≤ c ≤ 3δ, whatever its prediction: it is counted out, not a pass."""
    bound = 3 * DELTA
    mixed = _pairs([bound, bound / 2, 0.0] + [0.5] * 8, observed=1.0, predicted=0.0)
    assert all(m.excess <= m.coverage + 1e-12 for m in mixed)      # up to rounding
    with pytest.raises(AssertionError, match="^P5: "):
        prediction.prediction_tracks_agreement(mixed, P5_FLIPPED_B)
    excess, left = _records("excess")
    assert excess["n_pairs"] == 8 and excess["pair_seeds"] == list(range(3, 11)) and excess["verdict"] == "fail"
    assert left["value"] == pytest.approx(3 / 11) and left["reason"].startswith("3 of 11 pairs left out")
    session.current().discard()
    rec = prediction.prediction_tracks_agreement(_pairs([0.0, 0.02, 0.03, 0.01, 0.0]), P5_FLIPPED_B)
    assert rec.verdict == "observed" and rec.reason == "no coverage"      # never a pass on structural zeros


def test_P5_pair_by_pair_only_where_the_prediction_is_informative():
    low = _pairs([0.1, 0.19, 0.0] + [0.4] * 4)
    rec = prediction.prediction_tracks_agreement_where_covered(low, P5_FLIPPED_B)
    assert rec.n_pairs == 4 and rec.pair_seeds == [3, 4, 5, 6] and rec.pair_counts == [120] * 4
    _, left = _records("|a_obs − a_pred| on")
    assert left["reason"].startswith("3 of 7 pairs left out: coverage c < 0.2")


def _records(statistic_start: str) -> tuple[dict, dict]:
    """The test's record of a statistic and the observed record of the pairs left out of it."""
    mine = [r for r in session.current().pending() if r["statistic"].startswith(statistic_start)]
    left = [r for r in session.current().pending() if r["statistic"].startswith("share of pairs left out of: "
                                                                      + statistic_start)]
    assert len(mine) == 1 and len(left) == 1
    return mine[0], left[0]


def _minus_r_in_scenario_b(mp):
    """procedure: x^adv_n = x_n − r_n in Scenario (b): g learns from perturbations pointing away from
    the targets, so its signal S_b opposes f where Theorem 3.5's conditions hold."""
    original = run.scenario_inputs
    mp.setattr(run, "scenario_inputs", lambda scenario, X, r: original(scenario, X, r) if scenario == "a"
               else X - r)


def test_a_bug_only_in_scenario_b_fails_P1_in_that_cell():
    """Theorem 3.5's agreement is asserted (``checks.axes.theorem35_example``): a bug acting only in
    Scenario (b) fails P1 on the scenario=b cell of the claim × stratum table, while a Scenario (a)
    corner of the same claim stays clean. Before the Scenario (b) example, P1's (b) records covered
    ≤ 1% of the inputs and the cell was "not covered": this bug passed."""
    b_example = theorem35_example().with_config(n_test=200)
    b_example = Setting(b_example.config, b_example.seeds[:12])
    a_corner = Setting(CORNER_A.config.replace(targets="random", n_test=200), tuple(range(100, 112)))
    session.current().discard()
    with pytest.MonkeyPatch.context() as mp, session.checking("test_P1_planted", ALL_SCENARIO_CLAIMS):
        _minus_r_in_scenario_b(mp)
        for setting in (a_corner, b_example):
            obs = scenario.measure_scenario(run_pairs(setting))
            with pytest.raises(AssertionError, match="^P1: ") if setting is b_example else contextlib.nullcontext():
                scenario.agrees_where_conditions_hold(obs, setting)
    recs = [dict(r, nodeid="checks/test_x.py::test_P1_planted") for r in session.current().pending()]
    session.current().discard()
    p1 = conclude(["P1"], recs, require_verified=False).claims["P1"]
    assert p1["verdict"] == FAILED and p1["strata"]["scenario=b"]["verdict"] == FAILED
    assert p1["strata"]["scenario=a"]["verdict"] != FAILED
