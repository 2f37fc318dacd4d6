"""Shared body of the Scenario (a) and (b) checks: P1, P2 and C1–C3 on one drawn setting.

Per pair (independent data, initialisations and targets) it computes the shares below on the test
inputs; per-point bounds fail with probability ≤ δ each (THEORY.md §5), so each share has
expectation at most the stated multiple of δ, and the Chernoff–Hoeffding test over pairs applies
(``assertions``). Points outside L2 (for f or g) are excluded; pairs with no covered point
contribute nothing; the coverage is recorded.

- C3 / P2 (f ≈ f̂): among z inside L2 with |f̂(z)| > B_0(z), sgn f ≠ sgn f̂ on a share ≤ δ.
- C2 / P2 (g ≈ ĝ): among z inside L2 with C2, sgn g ≠ sgn ĝ on a share ≤ 2δ (B_0 of g_0, B_E).
- P1: among z inside L2 with C2 ∧ C3, sgn g ≠ sgn f on a share ≤ 3δ.
- P4: among z inside L2 with C2 ∧ ¬C3 (and |f̂| > B_0), sgn g = sgn f on a share ≤ 3δ.
- C1: share of training points with ‖u_n‖ > B_ξ (recorded).
"""

from __future__ import annotations

import numpy as np

from . import assertions
from .harness import DELTA, run_pairs
from .strategies import Setting

#: Fewer pairs with covered points than this and a statistic is only recorded: the test would
#: have no power, and a claim asserted on one or two pairs is not evidence.
MIN_PAIRS = 4


def _share(mask: np.ndarray, wrong: np.ndarray):
    return float(wrong[mask].mean()) if mask.any() else None


def check_perturbation_learning(setting: Setting, check: str) -> dict:
    """Run the setting and assert P1, P2 (links) and P4; record C1–C3 coverage. Returns the
    per-claim statistics for callers that add their own assertions."""
    claims = ("P1", "P2", "P4", "C1", "C2", "C3")
    pairs = run_pairs(setting, check, claims)
    desc = setting.describe()
    stats = {k: [] for k in ("f_link", "g_link", "p1", "p4", "cov_p1", "cov_c2", "cov_c3", "cov_p4", "c1",
                             "c2_margin", "agree_p1")}
    seeds = []
    for p in pairs:
        cond = p.conditions
        inside = p.inside_test
        sf, sg = np.sign(p.f()), np.sign(p.g())
        f_known = inside & (cond.margin_C3_f > 0)
        c2 = inside & cond.C2
        agree_mask = inside & cond.predicted_agree
        disagree_mask = inside & cond.predicted_disagree
        for key, value in (("f_link", _share(f_known, sf != np.sign(cond.f_hat))),
                           ("g_link", _share(c2, sg != np.sign(cond.g_hat))),
                           ("p1", _share(agree_mask, sf != sg)),
                           ("p4", _share(disagree_mask, sf == sg))):
            if value is not None:
                stats[key].append(value)
        stats["cov_p1"].append(float(agree_mask.mean()))
        stats["cov_c2"].append(float(c2.mean()))
        stats["cov_c3"].append(float(f_known.mean()))
        stats["cov_p4"].append(float(disagree_mask.mean()))
        stats["c1"].append(float(cond.c1_train.mean()))
        if agree_mask.any():
            stats["c2_margin"].append(float(np.median(cond.margin_C2[agree_mask])))
            stats["agree_p1"].append(float((sf == sg)[agree_mask].mean()))
        seeds.append(p.seed)
    assertions.explain(f"{check}: {len(pairs)} valid pairs; coverage P1 {np.round(stats['cov_p1'], 3).tolist()}")
    assertions.tally(f"{check}: P1 coverage {'>0' if any(stats['cov_p1']) else '0'}")
    if stats["p1"]:
        assertions.steer(float(max(stats["p1"])), "P1 worst disagreement share on covered points")

    def assert_share(claim, key, multiple, statistic, coverage_key):
        values = stats[key]
        cov = float(np.mean(stats[coverage_key])) if stats[coverage_key] else 0.0
        if len(values) >= MIN_PAIRS:
            assertions.assert_mean_at_most(claim, check, values, multiple * DELTA, setting=desc, seeds=seeds,
                                           statistic=statistic, coverage=cov,
                                           extra={"pairs_with_coverage": len(values), "delta": DELTA})
        else:
            assertions.observe(claim, check, value=float(np.mean(values)) if values else None,
                               statistic=statistic + " (too few covered pairs to assert)", setting=desc,
                               seeds=seeds, bound=multiple * DELTA, coverage=cov, n_pairs=len(values))

    assert_share("C3", "f_link", 1, "share sgn f ≠ sgn f̂ where |f̂| > B_0", "cov_c3")
    assert_share("C2", "g_link", 2, "share sgn g ≠ sgn ĝ where C2", "cov_c2")
    assert_share("P2", "g_link", 2, "share sgn g ≠ sgn ĝ where C2 (link g ≈ ĝ)", "cov_c2")
    assert_share("P1", "p1", 3, "share sgn g ≠ sgn f where L2 ∧ C2 ∧ C3", "cov_p1")
    assert_share("P4", "p4", 3, "share sgn g = sgn f where L2 ∧ C2 ∧ ¬C3", "cov_p4")
    if stats["c1"]:
        assertions.observe("C1", check, value=float(np.mean(stats["c1"])),
                           statistic="share of n with ‖u_n‖ > B_ξ", setting=desc, seeds=seeds,
                           coverage=float(np.mean(stats["c1"])), n_pairs=len(stats["c1"]),
                           extra={"c2_margin": stats["c2_margin"], "agreement": stats["agree_p1"],
                                  "kappa": [float(p.kappa_f.max()) for p in pairs]})
    return stats
