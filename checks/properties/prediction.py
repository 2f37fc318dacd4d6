"""P5 (THEORY.md §5): every pair's agreement is predicted before g is trained, and tracks the observed one.

The prediction is the run's own (``perturbation_learning.predict``: ĝ = S + N at r̂_n = ε y^adv_n
u_n/‖u_n‖, from the data, f, the drawn targets, ε and Λ'), read from the run record of each pair.

- Inside L2. Per pair, let c be the share of test inputs where C2 holds and L2 holds for f and g
  (``harness.Pair.conditions`` and ``inside_test``). |a_obs − a_pred| is at most the share of inputs
  with sgn g ≠ sgn ĝ; off the covered inputs that share is at most 1 − c, on them sgn g = sgn ĝ fails
  with probability ≤ 2δ (B_0 of g_0 and B_E) ≤ 3δ. So the excess max(0, |a_obs − a_pred| − (1 − c))
  has mean ≤ 3δ over pairs: asserted with the suite's test over pairs (``assert_share_of_pairs``).
  Pairs with c = 0 cannot exceed their bound and are left out.
- Outside L2 (the paper's recipe) nothing is asserted: the correlation of a_pred and a_obs over the
  pairs, the mean absolute error and the collapse table (agreement < COLLAPSE_AGREEMENT) are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.prediction import COLLAPSE_AGREEMENT, calibration
from theory.model import sign_pm1
from theory.tolerances import MIN_PAIRS

from .. import assertions
from ..assertions import tests_claim
from ..harness import DELTA, Pair
from ..strategies import Setting


@dataclass(frozen=True)
class PredictionPair:
    """One pair's observed and predicted agreement and the share c the P5 bound rests on."""

    seed: int
    observed: float
    predicted: float
    coverage: float          # C2 ∧ L2(f) ∧ L2(g) on the test inputs
    reason: str | None

    @property
    def excess(self) -> float:
        """max(0, |a_obs − a_pred| − (1 − c)): the part of the error the bound's 3δ must cover."""
        return max(0.0, abs(self.observed - self.predicted) - (1.0 - self.coverage))


def measure_prediction(pairs: list[Pair]) -> list[PredictionPair]:
    """Observed agreement sgn g = sgn f on the test inputs, the run's prediction, and c; pairs without a
    prediction (f diverged, or the run skipped it) are left out."""
    out = []
    for p in pairs:
        if p.prediction is None:
            continue
        observed = float((sign_pm1(p.f()) == sign_pm1(p.g())).mean())
        coverage = float((p.conditions.C2 & p.inside_test).mean())
        out.append(PredictionPair(seed=p.seed, observed=observed, predicted=float(p.prediction["agreement"]),
                                  coverage=coverage, reason=p.prediction["reason"]))
    return out


@tests_claim("P5")
def prediction_tracks_agreement(measured: list[PredictionPair], setting: Setting):
    """Inside L2: mean over pairs of max(0, |a_obs − a_pred| − (1 − c)) ≤ 3δ."""
    __tracebackhide__ = True
    covered = [m for m in measured if m.coverage > 0]
    return assertions.assert_share_of_pairs(
        [m.excess for m in covered], 3, DELTA, setting=setting.describe(), seeds=[m.seed for m in covered],
        statistic="excess of |a_obs − a_pred| over (1 − c), c = share with C2 ∧ L2", min_pairs=MIN_PAIRS,
        coverage=float(np.mean([m.coverage for m in measured])) if measured else None,
        agreement=[m.observed for m in covered])


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
