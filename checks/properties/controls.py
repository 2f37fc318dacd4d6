"""Negative controls (THEORY.md §6): with the information removed, the effect must vanish.

Statistic: a sign test over independent pairs (own data, initialisations, targets). Under the
ε = 0, random-direction and shuffled controls with random targets, g is independent of f and its
law is invariant under (r, y^adv) ↦ (r, −y^adv) together with a ↦ −a, so agreement and 1 − agreement
have the same law: the number of pairs with agreement > 1/2 is Binomial(B, 1/2) exactly. The check
fails iff the two-sided Clopper–Pearson interval excludes 1/2 (level α). Real perturbations put
every pair above 1/2 (agreement 0.71–0.98 in these settings, measured), which the planted-bug test
in tests/ shows makes the check fail.

Targets are random: with flipped targets, g in Scenario (b) at ε = 0 learns −y, which is not chance.
"""

from __future__ import annotations

import numpy as np

from theory.tolerances import CHANCE_HIGH, CHANCE_LOW

from .. import assertions
from ..strategies import Setting

#: The control of each claim: the one ingredient it replaces.
CONTROLS = {
    "CTRL-eps0": dict(eps=0.0),
    "CTRL-random": dict(attack="random"),
    "CTRL-shuffle": dict(attack="shuffled"),
}


def agreement_at_chance(setting: Setting, results: list[dict]) -> None:
    """Sign test: the pairs with agreement > 1/2 are Binomial(B, 1/2). The claim is the running
    check's (one control per test item)."""
    __tracebackhide__ = True
    if not results:
        return
    values = np.array([r["agreement"] for r in results])
    assertions.explain(f"agreement per pair {np.round(values, 3).tolist()}")
    assertions.steer(float(abs((values > 0.5).mean() - 0.5)), "sign-test imbalance")
    assertions.assert_binomial_consistent(int((values > 0.5).sum()), len(values), 0.5, setting=setting.describe(),
                                          seeds=[r["config"]["seed"] for r in results],
                                          statistic="pairs with agreement > 1/2", agreement=values.tolist())


def accuracy_at_chance(setting: Setting, results: list[dict]) -> None:
    """Untrained f: g's accuracy on D has its mean within [CHANCE_LOW, CHANCE_HIGH]; the agreement
    with f_0 is recorded only (r_n ∝ ∇f_0(x_n) carries f_0's own linear part, which g learns)."""
    __tracebackhide__ = True
    if not results:
        return
    seeds = [r["config"]["seed"] for r in results]
    desc = setting.describe()
    agreement = [r["agreement"] for r in results]
    assertions.observe(value=float(np.mean(agreement)), statistic="agreement with f_0 (not asserted)",
                       setting=desc, seeds=seeds, n_pairs=len(results), agreement=agreement)
    values = np.array([r["acc_g_train"] for r in results])
    assertions.explain(f"acc_g_train per pair {np.round(values, 3).tolist()}")
    assertions.steer(float(abs(values.mean() - 0.5)), "distance from chance")
    assertions.assert_mean_at_most(values, CHANCE_HIGH, setting=desc, seeds=seeds, statistic="acc_g_train")
    assertions.assert_mean_at_least(values, CHANCE_LOW, setting=desc, seeds=seeds, statistic="acc_g_train")
