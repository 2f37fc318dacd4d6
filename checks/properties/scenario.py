"""Theorems 3.4 and 3.5 (THEORY.md §5) on one drawn setting: P1, P2, P4 and C1–C3.

Per pair (independent data, initialisations and targets) ``measure_scenario`` computes the shares
below on the test inputs; per-point bounds fail with probability ≤ δ each, so each share has
expectation at most the stated multiple of δ, and the Chernoff–Hoeffding test over pairs applies.
Points outside L2 (for f or g) are excluded; pairs with no covered point contribute nothing to a
share; the coverage is recorded.

- C3: |f − f̂| ≤ B_0 (the bound on f_0 behind C3) fails on a share ≤ δ of the inputs inside L2.
- C2: |g − ĝ| ≤ B_0 + B_E (the noise bounds C2 compares |ĝ| with) fails on a share ≤ 2δ.
- P2, link g ≈ ĝ: where C2 holds, sgn g ≠ sgn ĝ on a share ≤ 2δ.
- P2, link f ≈ f̂: where |f̂| > B_0, sgn f ≠ sgn f̂ on a share ≤ δ.
- P1: where C2 ∧ C3 hold, sgn g ≠ sgn f on a share ≤ 3δ.
- P4: where C2 ∧ ¬C3 hold (and |f̂| > B_0), sgn g = sgn f on a share ≤ 3δ.
- C1: share of training points with ‖u_n‖ > B_ξ (recorded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.model import sign_pm1
from theory.tolerances import MIN_P1_COVERAGE, MIN_P4_COVERAGE, MIN_PAIRS

from .. import assertions
from ..assertions import tests_claim
from ..pairs import DELTA, Pair, share_where
from ..sequential import measured_in_batches
from ..strategies import Setting


@dataclass(frozen=True)
class ScenarioPair:
    """One pair's shares and coverages on its test inputs (None: no covered input)."""

    seed: int
    kappa: float                   # largest laziness index of f
    f_noise: float | None          # |f − f̂| > B_0, inside L2
    g_noise: float | None          # |g − ĝ| > B_0 + B_E, inside L2
    f_link: float | None           # sgn f ≠ sgn f̂ where |f̂| > B_0
    g_link: float | None           # sgn g ≠ sgn ĝ where C2
    p1: float | None               # sgn g ≠ sgn f where C2 ∧ C3
    p4: float | None               # sgn g = sgn f where C2 ∧ ¬C3
    cov_l2: float
    cov_c2: float
    cov_c3: float
    cov_p1: float
    cov_p4: float
    c1_train: float
    c2_margin: float | None        # median |ĝ| − B_0 − B_E where C2 ∧ C3
    agreement: float | None        # sgn g = sgn f where C2 ∧ C3
    n_test: int = 0                # test inputs: a coverage times n_test is the inputs a share counts


def measure_pair(p: Pair) -> ScenarioPair:
    cond = p.conditions
    inside = p.inside_test
    f, g = p.f(), p.g()
    sf, sg = sign_pm1(f), sign_pm1(g)
    f_known = inside & (cond.margin_C3_f > 0)
    c2 = inside & cond.C2
    agree = inside & cond.predicted_agree
    disagree = inside & cond.predicted_disagree
    return ScenarioPair(
        seed=p.seed, kappa=p.kappa_f_max,
        f_noise=share_where(inside, np.abs(f - cond.f_hat) > cond.B0),
        g_noise=share_where(inside, np.abs(g - cond.g_hat) > cond.B0 + cond.BE),
        f_link=share_where(f_known, sf != sign_pm1(cond.f_hat)), g_link=share_where(c2, sg != sign_pm1(cond.g_hat)),
        p1=share_where(agree, sf != sg), p4=share_where(disagree, sf == sg),
        cov_l2=float(inside.mean()), cov_c2=float(c2.mean()), cov_c3=float(f_known.mean()),
        cov_p1=float(agree.mean()), cov_p4=float(disagree.mean()), c1_train=float(cond.c1_train.mean()),
        c2_margin=float(np.median(cond.margin_C2[agree])) if agree.any() else None,
        agreement=float((sf == sg)[agree].mean()) if agree.any() else None, n_test=len(inside))


def measure_scenario(pairs: list[Pair]) -> list[ScenarioPair]:
    return report_scenario([measure_pair(p) for p in pairs])


def report_scenario(obs: list[ScenarioPair]) -> list[ScenarioPair]:
    """Hypothesis' note, event and target for one example's observations (once per example)."""
    assertions.explain(f"{len(obs)} valid pairs; coverage P1 {[round(o.cov_p1, 3) for o in obs]}")
    assertions.tally(f"P1 coverage {'>0' if any(o.cov_p1 for o in obs) else '0'}")
    p1 = [o.p1 for o in obs if o.p1 is not None]
    if p1:
        assertions.steer(float(max(p1)), "P1 worst disagreement share on covered points")
    return obs


@dataclass(frozen=True)
class ShareBound:
    """A per-point bound that fails on a share ≤ multiple·δ of the covered test inputs."""

    field: str            # the ScenarioPair share
    multiple: float
    statistic: str
    coverage: str         # the ScenarioPair coverage of the same inputs


def _assert(obs: list[ScenarioPair], setting: Setting, bound: ShareBound):
    __tracebackhide__ = True
    kept = [o for o in obs if getattr(o, bound.field) is not None]
    coverage = float(np.mean([getattr(o, bound.coverage) for o in obs])) if obs else 0.0
    return assertions.assert_share_of_pairs(
        [getattr(o, bound.field) for o in kept], bound.multiple, DELTA, setting=setting.describe(),
        seeds=[o.seed for o in kept], statistic=bound.statistic, min_pairs=MIN_PAIRS, coverage=coverage,
        pair_counts=[round(getattr(o, bound.coverage) * o.n_test) for o in kept])


def _share_property(name: str, claim: str, doc: str, bounds: tuple):
    """A property of ``claim`` that asserts each of ``bounds`` on the measured pairs."""
    def prop(obs: list[ScenarioPair], setting: Setting):
        __tracebackhide__ = True
        return [_assert(obs, setting, b) for b in bounds]

    prop.__name__ = prop.__qualname__ = name
    prop.__doc__ = doc
    return tests_claim(claim)(prop)


#: The share properties: name -> (claim, what it asserts, its bounds).
SHARE_PROPERTIES = {
    "clean_output_within_b0": (
        "C3", "C3's bound: f − f̂ (f_0 plus the lazy error of f) stays within B_0, except on a share ≤ δ.",
        (ShareBound("f_noise", 1, "share |f − f̂| > B_0 inside L2", "cov_l2"),)),
    "noise_within_b0_plus_be": (
        "C2", "C2's bounds: g − ĝ (g_0 plus E) stays within B_0 + B_E, except on a share ≤ 2δ.",
        (ShareBound("g_noise", 2, "share |g − ĝ| > B_0 + B_E inside L2", "cov_l2"),)),
    "chain_holds_link_by_link": (
        "P2", "P2's sign links: sgn g = sgn ĝ where C2 (≤ 2δ wrong), sgn f = sgn f̂ where |f̂| > B_0 (≤ δ). "
              "The first link, g ≈ its lazy prediction, is checked with L1.",
        (ShareBound("g_link", 2, "share sgn g ≠ sgn ĝ where C2 (link g ≈ ĝ)", "cov_c2"),
         ShareBound("f_link", 1, "share sgn f ≠ sgn f̂ where |f̂| > B_0 (link f ≈ f̂)", "cov_c3"))),
    "agrees_where_conditions_hold": (
        "P1", "P1: where L2, C2 and C3 hold, sgn g = sgn f except on a share ≤ 3δ.",
        (ShareBound("p1", 3, "share sgn g ≠ sgn f where L2 ∧ C2 ∧ C3", "cov_p1"),)),
    "disagrees_where_c3_fails": (
        "P4", "P4: where C2 holds and C3 fails (|f̂| > B_0), sgn g ≠ sgn f except on a share ≤ 3δ.",
        (ShareBound("p4", 3, "share sgn g = sgn f where L2 ∧ C2 ∧ ¬C3", "cov_p4"),)),
}
_PROPS = {name: _share_property(name, *spec) for name, spec in SHARE_PROPERTIES.items()}
clean_output_within_b0 = _PROPS["clean_output_within_b0"]
noise_within_b0_plus_be = _PROPS["noise_within_b0_plus_be"]
chain_holds_link_by_link = _PROPS["chain_holds_link_by_link"]
agrees_where_conditions_hold = _PROPS["agrees_where_conditions_hold"]
disagrees_where_c3_fails = _PROPS["disagrees_where_c3_fails"]


@tests_claim("C1")
def informative_perturbation_share(obs: list[ScenarioPair], setting: Setting):
    """C1 on the training points, with the per-pair agreement, C2 margin and κ (recorded)."""
    if not obs:
        return assertions.observe(value=None, statistic="share of n with ‖u_n‖ > B_ξ", setting=setting.describe(),
                                  seeds=list(setting.seeds), reason="no valid pairs (all diverged)")
    c1 = float(np.mean([o.c1_train for o in obs]))
    return assertions.observe(value=c1, statistic="share of n with ‖u_n‖ > B_ξ", setting=setting.describe(),
                              seeds=[o.seed for o in obs], reason="C1 is a premise, reported as coverage",
                              coverage=c1, n_pairs=len(obs),
                              c2_margin=[o.c2_margin for o in obs if o.c2_margin is not None],
                              agreement=[o.agreement for o in obs if o.agreement is not None],
                              kappa=[o.kappa for o in obs])


@tests_claim("P1")
def lazy_preset_covers_p1(obs: list[ScenarioPair], setting: Setting):
    """P1 is evidence, not vacuous: in the lazy preset the mean coverage of L2 ∧ C2 ∧ C3 over pairs
    is shown above MIN_P1_COVERAGE."""
    __tracebackhide__ = True
    return assertions.assert_pairs_cover(obs, "cov_p1", MIN_P1_COVERAGE, setting=setting.describe(),
                                         statistic="coverage of L2 ∧ C2 ∧ C3")


@tests_claim("P4")
def flipped_preset_covers_p4(obs: list[ScenarioPair], setting: Setting):
    """P4 is evidence, not vacuous: in the lazy preset with Scenario (b), flipped targets and small ε,
    the mean coverage of L2 ∧ C2 ∧ ¬C3 over pairs is shown above MIN_P4_COVERAGE."""
    __tracebackhide__ = True
    return assertions.assert_pairs_cover(obs, "cov_p4", MIN_P4_COVERAGE, setting=setting.describe(),
                                         statistic="coverage of L2 ∧ C2 ∧ ¬C3")


def share_statistics(obs: list[ScenarioPair]) -> list[tuple[list, float]]:
    """(per-pair values, bound) of every share bound: what decides whether another batch is trained."""
    return [([getattr(o, b.field) for o in obs if getattr(o, b.field) is not None], b.multiple * DELTA)
            for _, _, bounds in SHARE_PROPERTIES.values() for b in bounds]


def check_perturbation_learning(setting: Setting) -> list[ScenarioPair]:
    """C3, C2, P2 (sign links), P1, P4 and C1 on one setting's pairs, trained in batches while a share
    looks violated (``checks.sequential``)."""
    __tracebackhide__ = True
    obs = report_scenario(measured_in_batches(setting, lambda ps: [measure_pair(p) for p in ps], share_statistics))
    clean_output_within_b0(obs, setting)
    noise_within_b0_plus_be(obs, setting)
    chain_holds_link_by_link(obs, setting)
    agrees_where_conditions_hold(obs, setting)
    disagrees_where_c3_fails(obs, setting)
    informative_perturbation_share(obs, setting)
    return obs
