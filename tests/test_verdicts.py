"""Claim-level verdicts (reporting.verdicts): pooling over examples, power targets, the budget count.

Records are built by the assertion API (checks.assertions) on synthetic per-pair values, so the pooled
test sees exactly what a check run hands the controller.
"""

from __future__ import annotations

import numpy as np
import pytest

from checks import assertions, session
from reporting.verdicts import (FAILED, NOT_COVERED, NOT_VERIFIED, POOLED_CHECK, STRATUM_CHECK, VERIFIED, conclude,
                                count_tests, pool)
from reporting.budget import pooled_level
from reporting.verdicts import UNDERPOWERED
from theory import tolerances
from theory.power import beta_draws
from theory.tolerances import ALPHA, OBSERVATION_ONLY, PowerTarget


@pytest.fixture(autouse=True)
def _clean():
    session.current().discard()
    yield
    session.current().discard()


#: The two corners of the explicit examples (``checks.axes``): between them every stratum of every axis.
CORNERS = (dict(gamma=0.0, loss="identity", scenario="a", targets="flipped", momentum=0.0),
           dict(gamma=0.3, loss="logistic", scenario="b", targets="random", momentum=0.9))


def _share_records(claim: str, means, pairs: int, bound: float = 0.15, seed: int = 0, corners=None) -> list[dict]:
    """One P1-like record per mean, each over ``pairs`` pairs with per-pair spread 0.05; record i lies in
    ``corners[i]`` (default: the two corners in turn)."""
    rng = np.random.default_rng(seed)
    corners = corners or [CORNERS[i % 2] for i in range(len(means))]
    with session.checking("test_synthetic", (claim,)):
        for i, mean in enumerate(means):
            values = beta_draws(mean, 0.05, rng.random(pairs))
            try:
                assertions.assert_mean_at_most(values, bound, setting={"example": i, **corners[i]},
                                               seeds=[1000 * (100 * seed + i) + k for k in range(pairs)],
                                               statistic="share")
            except AssertionError:
                pass
    out = [dict(r, nodeid=f"checks/test_x.py::test_{claim}") for r in session.current().pending()]
    session.current().discard()
    return out


def test_a_small_record_is_underpowered_and_pooling_verifies_the_claim(reachable_targets):
    recs = _share_records("P1", [0.01] * 12, 12)
    assert {r["verdict"] for r in recs} == {"underpowered"}            # 12 pairs: detects ≈ 0.8 > 0.55
    assert all(r["detects"] > r["target"] for r in recs)
    c = conclude(["P1"], recs)
    pooled, *per_stratum = c.pooled
    assert pooled["check"] == POOLED_CHECK and pooled["n_pairs"] == 144 and pooled["verdict"] == "pass"
    assert pooled["detects"] <= pooled["target"] == pytest.approx(0.55)
    # The corners hold the same records on every axis: one test per corner, naming its five strata.
    assert [(r["check"], r["n_pairs"], len(r["setting"]["strata"])) for r in per_stratum] == [(STRATUM_CHECK, 72, 5)] * 2
    assert c.claims["P1"]["verdict"] == VERIFIED and c.ok
    assert {v["verdict"] for v in c.claims["P1"]["strata"].values()} == {VERIFIED}
    assert len(c.claims["P1"]["strata"]) == 10


def test_a_bug_confined_to_one_stratum_is_caught_by_its_stratum_test(reachable_targets):
    """True share 0.3 in the γ > 0 corner's records, 0.01 in the others: neither the 12-pair records nor
    the test pooled over all 144 pairs rejects (their mean is 0.155 against the bound 0.15); the γ > 0
    stratum's 72 pairs do, and the verdict names the stratum."""
    recs = _share_records("P1", [0.01, 0.3] * 6, 12, seed=4)
    assert not any(r["verdict"] == "fail" for r in recs)
    c = conclude(["P1"], recs)
    by_check = {r["check"]: r for r in c.pooled if r["verdict"] == "fail"}
    assert set(by_check) == {STRATUM_CHECK} and "gamma=>0" in by_check[STRATUM_CHECK]["setting"]["strata"]
    assert c.claims["P1"]["verdict"] == FAILED and "gamma=>0" in c.claims["P1"]["reason"]
    assert c.claims["P1"]["strata"]["gamma=0"]["verdict"] == VERIFIED


def test_a_stratum_without_records_is_not_verified_unless_outside_the_claim(reachable_targets):
    """Every record at β = 0: P1 is not verified, naming momentum=>0; P3, whose targets and loss axes lie
    outside it (theory.strata), needs no flipped-target or logistic record."""
    corner = dict(CORNERS[0], targets="random")
    recs = _share_records("P1", [0.01] * 12, 12, corners=[corner, dict(corner, gamma=0.3, scenario="b")] * 6)
    c = conclude(["P1"], recs)
    assert c.claims["P1"]["verdict"] == NOT_VERIFIED and not c.ok
    assert "momentum=>0 (no record)" in c.claims["P1"]["reason"] and "targets=flipped" in c.claims["P1"]["reason"]
    p3 = [dict(r, claim="P3") for r in _share_records("P3", [0.01] * 12, 12, corners=[
        dict(corner, momentum=m, gamma=g, scenario=sc) for m, g, sc in ((0.0, 0.0, "a"), (0.9, 0.3, "b"))] * 6)]
    assert conclude(["P3"], p3).claims["P3"]["verdict"] == VERIFIED
    assert set(conclude(["P3"], p3).claims["P3"]["strata"]) == {"gamma=0", "gamma=>0", "scenario=a", "scenario=b",
                                                                "momentum=0", "momentum=>0"}


def test_a_bug_spread_over_examples_is_caught_only_by_the_pooled_test():
    """True share 0.3 in every example: no 12-pair record rejects, the pooled 72 pairs do."""
    recs = _share_records("P1", [0.3] * 6, 12, seed=1)
    assert not any(r["verdict"] == "fail" for r in recs)
    c = conclude(["P1"], recs)
    assert c.pooled[0]["verdict"] == "fail" and c.claims["P1"]["verdict"] == FAILED and not c.ok


def test_unverified_and_observation_only_claims():
    recs = _share_records("P1", [0.01], 12)
    c = conclude(["P1", "C1"], recs)
    assert c.pooled == []                                                # one record: nothing to pool
    assert c.claims["P1"]["verdict"] == NOT_VERIFIED and not c.ok
    assert conclude(["P1"], recs, require_verified=False).ok             # a run of a few checks
    assert c.claims["C1"]["verdict"] == f"observation-only: {OBSERVATION_ONLY['C1']}"


def test_pooling_with_one_bound_per_record_uses_the_ratio_target(monkeypatch):
    """L2-like records with different bounds pool into one test; the target is a ratio of each pair's
    bound, shown as the mean it stands for against the mean bound (24 pairs per bound: 0.03). The factor
    is set to what 96 pairs reach under heterogeneous violations (L2's own, 2, needs more pairs)."""
    monkeypatch.setitem(tolerances.POWER_TARGETS, "L2", PowerTarget("factor", 12.0, "synthetic"))
    rng = np.random.default_rng(3)
    with session.checking("test_L2_synthetic", ("L2",)):
        for i, b in enumerate([0.01, 0.02, 0.04, 0.05]):
            assertions.assert_mean_at_most(beta_draws(b / 3, b / 6, rng.random(24)), b, setting={"i": i},
                                           seeds=[100 * i + k for k in range(24)], statistic="flip share")
    recs = [dict(r, nodeid="n") for r in session.current().pending()]
    (pooled,) = pool(recs)
    assert pooled["bound"] == pytest.approx(0.03) and pooled["target"] == pytest.approx(12.0 * 0.03)
    assert pooled["detects"] <= pooled["target"] and "target 12" in pooled["reason"]
    lo, hi = pooled["ci"]
    assert lo <= pooled["value"] <= hi and lo < pooled["bound"]   # not rejected: the interval reaches the bound
    assert pooled["verdict"] == "pass"


def test_budget_counts_the_tests_made():
    recs = _share_records("P1", [0.01] * 3, 12)
    with session.checking("test_K1_synthetic", ("K1",)):
        assertions.assert_exact(True, value=0.0, bound=1e-8, statistic="err", setting={})
    recs += session.current().pending()
    c = conclude(["P1", "K1"], recs)
    assert count_tests(recs) == 3                                         # the exact K1 comparison is no test
    # Three per-example tests at their own levels, one pooled over the claim, one over corner A's two
    # records (its five strata share it); corner B's single record is its own test. The two pooled
    # tests share POOLED_SHARE of the budget: the run spends the per-example levels plus all of it.
    assert c.tests_made == 5 and c.budget.pooled_tests == 2
    assert c.budget.pooled_alpha == pytest.approx(pooled_level(2)) == pytest.approx(tolerances.POOLED_SHARE
                                                                                   * tolerances.RUN_BUDGET / 2)
    assert c.budget_spent == pytest.approx(3 * ALPHA + tolerances.POOLED_SHARE * tolerances.RUN_BUDGET)
    assert c.budget_spent <= tolerances.RUN_BUDGET


def test_a_claim_short_of_its_target_is_underpowered_not_verified_and_fails_no_run():
    """Records that pass but miss the power target on a stratum (P1's real target 0.25 at bound 0.15 needs
    hundreds of pairs under heterogeneous violations): "not rejected, underpowered", naming the strata,
    their units and detects, and the run is not failed for it; without any record it is "not verified"."""
    recs = _share_records("P1", [0.01] * 12, 12)
    c = conclude(["P1"], recs)
    v = c.claims["P1"]
    assert v["verdict"] == UNDERPOWERED and c.ok
    assert "short of the power target on the strata gamma=0, gamma=>0, loss=identity" in v["reason"]
    assert "72 units" in v["reason"]
    assert {s["verdict"] for s in v["strata"].values()} == {UNDERPOWERED}
    assert conclude(["P1"], []).claims["P1"]["verdict"] == NOT_VERIFIED


def test_a_coverage_shown_above_its_floor_does_not_verify_the_claim():
    with session.checking("test_P4_synthetic", ("P4",)):
        assertions.assert_coverage_above([0.9] * 12, 0.2, setting={}, seeds=list(range(12)),
                                         statistic="coverage")
    recs = [dict(r, nodeid="n") for r in session.current().pending()]
    assert recs[0]["verdict"] == "pass"
    assert conclude(["P4"], recs).claims["P4"]["verdict"] == NOT_VERIFIED


def _with_uncovered_record(claim: str, recs: list[dict], setting: dict) -> list[dict]:
    """``recs`` plus one observed record at ``setting`` whose conditions cover 1% of the inputs."""
    with session.checking(f"test_{claim}_synthetic", (claim,)):
        assertions.observe(value=None, statistic="share", setting=setting, seeds=[99], reason="no coverage",
                           coverage=0.01)
    out = recs + [dict(r, nodeid="n") for r in session.current().pending()]
    session.current().discard()
    return out


def test_a_stratum_the_conditions_do_not_cover_is_not_verified():
    """P1's Scenario (b) records cover 1% of the inputs: no evidence, so P1 is not verified there
    (Theorem 3.5's agreement must be asserted somewhere); at coverage 0.3 the reason is the power."""
    recs = _share_records("P1", [0.01] * 12, 12, corners=[dict(CORNERS[0], scenario="a"),
                                                          dict(CORNERS[1], scenario="a")] * 6)
    uncovered = _with_uncovered_record("P1", recs, dict(CORNERS[1]))
    v = conclude(["P1"], uncovered).claims["P1"]
    assert v["verdict"] == NOT_VERIFIED and v["strata"]["scenario=b"]["verdict"] == NOT_VERIFIED
    assert "scenario=b (the conditions cover ≤ 0.01 of the inputs, < 0.2)" in v["reason"]
    covered = [dict(r, coverage=0.3) if r["setting"].get("scenario") == "b" else r for r in uncovered]
    assert "scenario=b (no record)" in conclude(["P1"], covered).claims["P1"]["reason"]


def test_a_passing_stratum_whose_conditions_cover_almost_nothing_holds_no_evidence(reachable_targets):
    """Records that pass in Scenario (b) but whose conditions cover 1% of the inputs: the stratum is "not
    verified" (a pass on almost nothing is no evidence), where coverage 0.3 verifies it."""
    recs = _share_records("P1", [0.01] * 12, 12)
    thin = [dict(r, coverage=0.01) if r["setting"].get("scenario") == "b" else r for r in recs]
    v = conclude(["P1"], thin).claims["P1"]
    assert v["strata"]["scenario=b"]["verdict"] == NOT_VERIFIED and v["verdict"] == NOT_VERIFIED
    covered = [dict(r, coverage=0.3) for r in recs]
    assert conclude(["P1"], covered).claims["P1"]["strata"]["scenario=b"]["verdict"] == VERIFIED


def test_a_stratum_where_theory_says_the_conditions_cannot_hold_is_stated_not_covered(reachable_targets):
    """P4 in Scenario (a): C3 holds wherever C2 does (``theory.strata.CONDITIONS_NEVER_HOLD``), so the
    stratum is "not covered", with the theory's reason, and does not keep P4 from being verified."""
    corner_b = dict(CORNERS[1], targets="flipped")
    recs = _share_records("P4", [0.01] * 12, 12, corners=[dict(corner_b, gamma=0.0, momentum=0.0, loss="identity"),
                                                          corner_b] * 6)
    recs = _with_uncovered_record("P4", recs, dict(CORNERS[0], targets="random"))
    v = conclude(["P4"], recs).claims["P4"]
    assert v["verdict"] == VERIFIED
    assert v["strata"]["scenario=a"]["verdict"] == v["strata"]["targets=random"]["verdict"] == NOT_COVERED
    assert "scenario=a (coverage ≤ 0.01: C2 ∧ ¬C3 needs ĝ to oppose f̂" in v["reason"]


def test_copies_of_one_pair_are_one_unit_in_the_pooled_test():
    """Three checks that reuse the same 12 seeds (the same pairs) pool into 12 units, not 36: each unit's
    value is the mean of its copies, and ``n_pairs`` and ``detects`` count it once."""
    with session.checking("test_synthetic", ("C3",)):
        for check in range(3):
            assertions.assert_mean_at_most([0.0] * 12, 0.01, setting={"check": check}, seeds=list(range(12)),
                                           statistic="share", pair_counts=[300] * 12)
        assertions.assert_mean_at_most([0.0] * 12, 0.01, setting={"check": 3}, seeds=list(range(100, 112)),
                                       statistic="share", pair_counts=[300] * 12)
    recs = [dict(r, nodeid="n") for r in session.current().pending()]
    (pooled,) = pool(recs)
    assert pooled["n_pairs"] == 24 and sorted(pooled["pair_seeds"]) == list(range(12)) + list(range(100, 112))
    assert "24 independent pairs (one per seed) from 48 pair values of 4 records" in pooled["reason"]
    distinct = [dict(r, pair_seeds=[1000 * i + s for s in r["pair_seeds"]]) for i, r in enumerate(recs)]
    assert pool(distinct)[0]["n_pairs"] == 48 and pool(distinct)[0]["detects"] < pooled["detects"]


def test_misaligned_pair_seeds_are_refused():
    with session.checking("test_synthetic", ("P1",)), pytest.raises(ValueError, match="one seed per value"):
        assertions.assert_mean_at_most([0.0] * 12, 0.03, setting={}, seeds=[0], statistic="share")


def test_a_verdict_states_what_it_excludes():
    recs = _share_records("P1", [0.01] * 12, 12)
    v = conclude(["P1"], recs).claims["P1"]
    assert v["excludes"].startswith(f"a mean share ≥ {v['best_detects']:.4g} (bound 0.15), however it falls on the "
                                    "pairs (CV ≤ 3), would have been caught with probability 0.9 over 144 "
                                    "independent pairs; upper end of")
