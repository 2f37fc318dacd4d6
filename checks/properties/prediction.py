"""P5 (THEORY.md §5): every pair's agreement is predicted before g is trained, and tracks the observed one.

The prediction is the run's own (``perturbation_learning.predict``: ĝ = S + N at r̂_n = ε y^adv_n
u_n/‖u_n‖, from the data, f, the drawn targets, ε and Λ'), read from the run record of each pair:
a_pred = share of test inputs with sgn ĝ = sgn f, and sgn ĝ per input (``Pair.predicted_g_hat``). The
observed a_obs = share with sgn g = sgn f.

- Inside L2, the pair-level bound. Per pair, let c be the share of test inputs where C2 holds and L2
  holds for f and g (``checks.pairs.Pair.conditions`` and ``inside_test``). At every input the indicators
  [sgn g = sgn f] and [sgn ĝ = sgn f] differ exactly where sgn g ≠ sgn ĝ (signs are ±1), so
  |a_obs − a_pred| is at most the share of inputs with sgn g ≠ sgn ĝ; off the covered inputs that
  share is at most 1 − c, on them sgn g = sgn ĝ fails with probability ≤ 2δ (B_0 of g_0 and B_E) ≤ 3δ.
  So the excess max(0, |a_obs − a_pred| − (1 − c)) has mean ≤ 3δ over pairs: asserted with the
  suite's test over pairs (``assert_share_of_pairs``). The excess is at most c, so a pair with
  c ≤ 3δ could not exceed the bound whatever its prediction: such pairs leave the test, and their
  number is recorded with the reason.
- Inside L2, pair by pair (``prediction_tracks_agreement_where_covered``). On the covered inputs K
  alone the same identity gives |a_obs(K) − a_pred(K)| ≤ share of K with sgn g ≠ sgn ĝ, whose mean
  over pairs is ≤ 2δ (P2's link "sgn g = sgn ĝ where C2": g − ĝ = g_0 + E, |g_0| ≤ B_0 and |E| ≤ B_E
  each fail with probability ≤ δ, and |ĝ| > B_0 + B_E on K). The ĝ of that link is the conditions'
  ĝ, built with the Λ' recorded by g's training; the run's ĝ uses Λ' = ℓ'(0)·t'/N
  (``theory.prediction.predicted_loss_weights``). For the identity loss both are t'/N and the two ĝ
  are one function, so the bound is exact. For the logistic loss it assumes in addition that the
  constant Λ' gives ĝ the sign of the integrated one on K (a constant Λ' does not change the sign;
  a varying one can): measured equal on every covered input of the heavy-ball logistic (a) example
  of checks/test_prediction.py (12 pairs). Unlike the excess, this has no 1 − c slack, so a
  prediction whose signs are wrong on the covered inputs fails it. Asserted on pairs with
  c ≥ P5_TRACKING_MIN_COVERAGE, where the covered inputs are a fair part of the pair's agreement.
- Outside L2 (the paper's recipe) nothing is asserted: the correlation of a_pred and a_obs over the
  pairs, the mean absolute error and the collapse table (agreement < COLLAPSE_AGREEMENT) are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.prediction import calibration
from theory.model import sign_pm1
from theory.tolerances import COLLAPSE_AGREEMENT, MIN_PAIRS, P5_TRACKING_DELTA_MULTIPLE, P5_TRACKING_MIN_COVERAGE

from .. import assertions
from ..assertions import tests_claim
from ..pairs import DELTA, Pair
from ..strategies import Setting


@dataclass(frozen=True)
class PredictionPair:
    """One pair's observed and predicted agreement, the share c the P5 bound rests on, and the same
    agreements on the covered inputs K alone."""

    seed: int
    observed: float
    predicted: float
    coverage: float          # c: C2 ∧ L2(f) ∧ L2(g) on the test inputs
    reason: str | None
    n_covered: int = 0       # |K|
    tracking: float | None = None   # |a_obs(K) − a_pred(K)|; None where K is empty

    @property
    def excess(self) -> float:
        """max(0, |a_obs − a_pred| − (1 − c)): the part of the error the bound's 3δ must cover."""
        return max(0.0, abs(self.observed - self.predicted) - (1.0 - self.coverage))


def measure_prediction(pairs: list[Pair]) -> list[PredictionPair]:
    """Observed agreement sgn g = sgn f on the test inputs, the run's prediction, c, and both agreements
    on the covered inputs K; pairs without a prediction (f diverged, or the run skipped it) are left out."""
    out = []
    for p in pairs:
        if p.prediction is None:
            continue
        sf, sg = sign_pm1(p.f()), sign_pm1(p.g())
        covered = p.conditions.C2 & p.inside_test
        g_hat_agrees = sign_pm1(p.predicted_g_hat) == sf
        tracking = None
        if covered.any():
            tracking = float(abs((sg == sf)[covered].mean() - g_hat_agrees[covered].mean()))
        out.append(PredictionPair(seed=p.seed, observed=float((sf == sg).mean()),
                                  predicted=float(p.prediction["agreement"]), coverage=float(covered.mean()),
                                  reason=p.prediction["reason"], n_covered=int(covered.sum()), tracking=tracking))
    return out


def _split(measured: list[PredictionPair], keep, setting: Setting, statistic: str, why: str) -> list[PredictionPair]:
    """The pairs a test keeps; how many left it, and why, is recorded (an observation) when any did."""
    kept, left = [m for m in measured if keep(m)], [m for m in measured if not keep(m)]
    if left:
        assertions.observe(value=len(left) / len(measured), statistic=f"share of pairs left out of: {statistic}",
                           setting=setting.describe(),
                           seeds=[m.seed for m in left], n_pairs=len(measured),
                           coverage=float(np.mean([m.coverage for m in left])),
                           reason=f"{len(left)} of {len(measured)} pairs left out: {why}")
    return kept


#: Statistics of the two P5 tests (record keys: keep them stable).
EXCESS_STATISTIC = "excess of |a_obs − a_pred| over (1 − c), c = share with C2 ∧ L2"
TRACKING_STATISTIC = "|a_obs − a_pred| on the inputs where C2 ∧ L2 hold"


@tests_claim("P5")
def prediction_tracks_agreement(measured: list[PredictionPair], setting: Setting):
    """Inside L2: mean over pairs of max(0, |a_obs − a_pred| − (1 − c)) ≤ 3δ, over the pairs with
    c > 3δ (the others cannot exceed the bound)."""
    __tracebackhide__ = True
    bound = 3 * DELTA
    kept = _split(measured, lambda m: m.coverage > bound, setting, EXCESS_STATISTIC,
                  f"coverage c ≤ 3δ = {bound:g} bounds the excess by c, so the pair could not fail")
    return assertions.assert_share_of_pairs(
        [m.excess for m in kept], 3, DELTA, setting=setting.describe(), seeds=[m.seed for m in kept],
        statistic=EXCESS_STATISTIC, min_pairs=MIN_PAIRS,
        coverage=float(np.mean([m.coverage for m in measured])) if measured else None,
        agreement=[m.observed for m in kept])


@tests_claim("P5")
def prediction_tracks_agreement_where_covered(measured: list[PredictionPair], setting: Setting):
    """Inside L2, pair by pair: on the covered inputs K, mean over pairs of |a_obs(K) − a_pred(K)| ≤ 2δ,
    over the pairs with c ≥ P5_TRACKING_MIN_COVERAGE (derivation: the module docstring)."""
    __tracebackhide__ = True
    kept = _split(measured, lambda m: m.tracking is not None and m.coverage >= P5_TRACKING_MIN_COVERAGE, setting,
                  TRACKING_STATISTIC, f"coverage c < {P5_TRACKING_MIN_COVERAGE:g}: the covered inputs say too little "
                  "of the pair's agreement (their signs are asserted by P2)")
    return assertions.assert_share_of_pairs(
        [m.tracking for m in kept], P5_TRACKING_DELTA_MULTIPLE, DELTA, setting=setting.describe(),
        seeds=[m.seed for m in kept], statistic=TRACKING_STATISTIC, min_pairs=MIN_PAIRS,
        pair_counts=[m.n_covered for m in kept],
        coverage=float(np.mean([m.coverage for m in measured])) if measured else None,
        agreement=[m.observed for m in kept])


def collapse_table(calib: dict) -> str:
    """The collapse confusion table of ``theory.prediction.calibration`` in one line."""
    c = calib["confusion"]
    return (f"collapses (agreement < {COLLAPSE_AGREEMENT}): {c['both']} predicted and observed, "
            f"{c['false_alarm']} false alarms, {c['missed']} missed, {c['neither']} neither")


@tests_claim("P5")
def prediction_calibration_observed(results: list[dict], setting: Setting) -> dict | None:
    """Outside L2: record the correlation of a_pred and a_obs over the pairs with the collapse table,
    and the mean absolute error. Returns the calibration (None without pairs)."""
    rows = [r for r in results if r.get("prediction") is not None and r["agreement"] is not None]
    desc, seeds = setting.describe(), [r["config"]["seed"] for r in rows]
    if not rows:
        assertions.observe(value=None, statistic="correlation of predicted and observed agreement", setting=desc,
                           seeds=list(setting.seeds), reason="no pair with a prediction")
        return None
    predicted = [r["prediction"]["agreement"] for r in rows]
    observed = [r["agreement"] for r in rows]
    calib = calibration(predicted, observed).to_dict()
    reason = "observed (outside L2): " + collapse_table(calib)
    assertions.observe(value=calib["correlation"], statistic="correlation of predicted and observed agreement",
                       setting=desc, seeds=seeds, reason=reason, n_pairs=len(rows), agreement=observed)
    assertions.observe(value=calib["mae"], statistic="mean |a_obs − a_pred|", setting=desc, seeds=seeds,
                       reason=reason, n_pairs=len(rows), agreement=observed)
    return calib
