"""Theorem 3.4, Scenario (a): g trained on the perturbations alone, x^adv_n = r_n (THEORY.md §5).

g(z) ≈ g_0(z) + S_a(z) + N_a(z) + E_a(z); where L2, C2 and C3 hold, sgn g = sgn f (P1), and the
chain holds link by link (P2). Settings are drawn over data families (digits included), sizes,
γ, both losses and both target modes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perturbation_learning.experiment import get_preset

from . import assertions
from .harness import run_results
from .scenario import check_perturbation_learning
from .strategies import Setting, lazy_settings, paper_like_settings

#: Coverage a lazy preset must reach for P1 to mean anything: the share of test inputs where
#: L2 ∧ C2 ∧ C3 hold, as a mean over pairs. THEORY.md §5's prototype reached 0.98 at m = 4000;
#: the ci-sized variant below is smaller, so the floor is set at a share that still gives P1
#: hundreds of covered points per pair.
MIN_P1_COVERAGE = 0.2

#: P3 headline: the share of pairs in which g agrees with f on more than HEADLINE_AGREEMENT of
#: the fresh inputs must be ≥ HEADLINE_PAIR_SHARE (Clopper–Pearson, one-sided, level α).
HEADLINE_AGREEMENT = 0.6
HEADLINE_PAIR_SHARE = 0.9

#: P3's premise "f fits D": mean training accuracy of f over the pairs. Where f does not fit D
#: (e.g. xor data, not linearly separable, in the lazy regime) the headline is only recorded.
F_FITS_D = 0.9


@pytest.mark.claim("P1", "P2", "P4", "C1", "C2", "C3")
@given(data=st.data())
def test_P1_scenario_a_g_agrees_with_f_where_conditions_hold(data):
    """Scenario (a): on test inputs where L2 (f and g), C2 and C3 hold, sgn g = sgn f except on a
    share ≤ 3δ; each link of the chain holds; where C2 holds and C3 fails, g disagrees with f."""
    setting = data.draw(lazy_settings(scenario="a"), label="setting")
    check_perturbation_learning(setting, "test_P1_scenario_a_g_agrees_with_f_where_conditions_hold")


@pytest.mark.claim("P1", "C2", "C3")
@given(seed=st.integers(0, 2**20))
def test_P1_lazy_preset_has_nontrivial_coverage(seed):
    """In the lazy shifted-Gauss preset (inside L2), the conditions cover a non-trivial share of
    test inputs, so P1 is evidence and not vacuous."""
    # THEORY.md's lazy preset with g made lazy too (ε·t' from 100 to 6: at ε = 10, t' = 10, g flips
    # ~35% of its patterns and L2 covers < 1% of inputs) and N, m cut to ci size.
    cfg = get_preset("lazy-shifted-gauss-a").replace(n_train=150, n_test=300, width=3000, lr=0.1, epochs_f=20,
                                                      epochs_g=20, eps=3.0)
    setting = Setting(cfg, tuple(seed * 1000 + i for i in range(12)))
    stats = check_perturbation_learning(setting, "test_P1_lazy_preset_has_nontrivial_coverage")
    cov = np.array(stats["cov_p1"])
    assertions.assert_mean_at_least("P1", "test_P1_lazy_preset_has_nontrivial_coverage", cov, MIN_P1_COVERAGE,
                                    setting=setting.describe(), seeds=list(setting.seeds),
                                    statistic="coverage of L2 ∧ C2 ∧ C3", coverage=float(cov.mean()))


def assert_headline(setting: Setting, check: str, inside: bool) -> None:
    results = run_results(setting, check, ("P3",))
    if not results:
        return
    agreement = np.array([r["agreement"] for r in results])
    acc_g = np.array([r["acc_g_train"] for r in results])
    seeds = [r["config"]["seed"] for r in results]
    extra = {"mean_agreement": float(agreement.mean()), "mean_acc_g_train": float(acc_g.mean()),
             "mean_acc_f_train": float(np.mean([r["acc_f_train"] for r in results])),
             "mean_flip_f": float(np.mean([r["flip_fraction_f"] for r in results]))}
    inside = inside and extra["mean_acc_f_train"] >= F_FITS_D
    for statistic, values in (("pairs with agreement > 0.6", agreement), ("pairs with acc_g on D > 0.6", acc_g)):
        assertions.assert_share_at_least("P3", check, int((values > HEADLINE_AGREEMENT).sum()), len(values),
                                         HEADLINE_PAIR_SHARE, setting=setting.describe(), seeds=seeds,
                                         statistic=statistic, inside=inside, extra=extra)


@pytest.mark.claim("P3")
@given(data=st.data())
def test_P3_headline_g_learns_from_perturbations_inside_lazy_regime(data):
    """Where f fits D in the lazy regime, g's accuracy on D and its agreement with f on fresh data
    are far above chance (> 0.6) in at least 90% of independent pairs."""
    setting = data.draw(lazy_settings(scenario=data.draw(st.sampled_from(["a", "b"]), label="scenario"),
                                      targets="random", loss="identity", eps=3.0, pairs=32), label="setting")
    assert_headline(setting, "test_P3_headline_g_learns_from_perturbations_inside_lazy_regime", inside=True)


@pytest.mark.claim("P3")
@given(data=st.data())
def test_P3_paper_recipe_is_observed_outside_the_assumption(data):
    """The paper's own recipe (momentum 0.9, ε ∝ √d) lies outside L2; its headline is recorded
    as an observation, not asserted."""
    setting = data.draw(paper_like_settings(), label="setting")
    assert_headline(setting, "test_P3_paper_recipe_is_observed_outside_the_assumption", inside=False)
