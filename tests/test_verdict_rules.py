"""The rules that turn records into verdicts (reporting.verdicts, checks.assertions), each pinned so that
changing it fails a test. Where a change can be made by patching one function, the test makes it and
shows the verdict moving (the test's teeth, in the suite).

Records are built by hand, and the power model (``theory.power``'s ``detects``) is stubbed wherever a
verdict's pass or underpowered does not matter: these tests pin the verdict rules, not the power model.
"""

from __future__ import annotations

import functools
import re
import sys

import numpy as np
import pytest

from checks import assertions, session
from reporting import verdicts
from reporting.budget import spends
from reporting.verdicts import FAILED, NOT_COVERED, NOT_VERIFIED, VERIFIED, Units, conclude
from theory.betting import betting_test
from theory.power import power_spread
from theory.stats import clopper_pearson
from theory.strata import covered_strata
from theory.tolerances import ALPHA, STRATUM_MIN_COVERAGE, power_target

#: The two corners of the explicit examples: between them every stratum of every axis.
CORNERS = (dict(gamma=0.0, loss="identity", scenario="a", targets="flipped", momentum=0.0),
           dict(gamma=0.3, loss="logistic", scenario="b", targets="random", momentum=0.9))
N = 48      # pairs of the level tests: 48 pairs at one value can reject a mean of 1/2 at α
#: The module whose functions make the pooled tests (the verdicts' own, or the one they import them from):
#: the functions it calls are patched there.
POOLING = sys.modules[verdicts.pool.__module__]


@pytest.fixture(autouse=True)
def _clean():
    session.current().discard()
    yield
    session.current().discard()


@pytest.fixture
def full_power(monkeypatch):
    """Every pooled and per-example test reaches its power target (``detects`` stubbed)."""
    monkeypatch.setattr(POOLING, "pooled_betting_detects", lambda *a, **k: 0.0)
    monkeypatch.setattr(POOLING, "binomial_detects", lambda n, p, alpha, side: p)
    monkeypatch.setattr(assertions, "betting_detects", lambda *a, **k: 0.0)
    monkeypatch.setattr(assertions, "binomial_detects", lambda n, p, alpha, side: p)


def rec(values, seeds, *, bound=0.5, side="at most", claim="P1", setting=None, verdict="pass", test="betting",
        counts=None, coverage=None, inside=True, node="checks/test_x.py::test_x") -> dict:
    """A record as the assertions leave it (the fields the verdicts read)."""
    values = [float(v) for v in values]
    return dict(claim=claim, check="test_x", nodeid=node, setting=dict(setting or {}), seeds=list(seeds),
                statistic="share", value=float(np.mean(values)) if values else None, bound=bound, verdict=verdict,
                inside=inside, side=side, test=test, power_target=claim, pair_values=values, pair_seeds=list(seeds),
                pair_counts=counts, detects=bound + 0.05, target=bound + 0.1, n_pairs=len(values), coverage=coverage,
                alpha=ALPHA)


# ------------------------------------------------------------------ a unit from its entries

def units_by(group, *, value=np.mean, bound=np.mean, spread=max, count=min, first=lambda xs: xs[0]) -> Units:
    """The units of ``group`` (entries merged by seed, in order of first appearance), each field reduced
    by the given rule; the defaults are the rules the verdicts must use."""
    rows: dict = {}
    for r in group:
        sp = power_spread(r["pair_values"], r["bound"])
        for s, v, c in zip(r["pair_seeds"], r["pair_values"], r["pair_counts"] or [0] * len(r["pair_values"])):
            rows.setdefault(int(s), []).append((v, r["bound"], sp, c))
    cols = [np.array([rule([e[i] for e in es]) for es in rows.values()])
            for i, rule in enumerate((value, bound, spread, count))]
    return Units(*cols, first=np.array([first([e[0] for e in es]) for es in rows.values()]), keys=list(rows),
                 entries=sum(len(es) for es in rows.values()))


#: Two records over overlapping seeds 2, 3 whose entries differ in value, bound, spread and count.
GROUP = [rec([0.2, 0.4, 0.0], [1, 2, 3], bound=0.1, counts=[100, 50, 80]),
         rec([0.0, 0.6, 0.3], [2, 3, 4], bound=0.3, counts=[40, 90, 70])]
MUTANTS = {"value: smallest entry": dict(value=min), "bound: first entry": dict(bound=lambda xs: xs[0]),
           "spread: smallest": dict(spread=min), "count: largest": dict(count=max),
           "first: last entry": dict(first=lambda xs: xs[-1])}


def broken_unit_rules(units_fn) -> list[str]:
    """The unit rules that ``units_fn`` breaks on GROUP."""
    got, want = units_fn(GROUP), units_by(GROUP)
    fields = {"value": "values", "bound": "bounds", "spread": "spreads", "count": "counts", "first": "first"}
    out = [rule for rule, f in fields.items() if not np.allclose(getattr(got, f), getattr(want, f))]
    return out + [k for k in ("keys", "entries") if getattr(got, k) != getattr(want, k)]


def test_a_units_value_and_bound_are_means_its_spread_the_largest_its_count_the_smallest():
    assert power_spread(GROUP[0]["pair_values"], 0.1) != power_spread(GROUP[1]["pair_values"], 0.3)
    assert broken_unit_rules(verdicts.units_of) == []
    u = verdicts.units_of(GROUP)
    assert u.keys == [1, 2, 3, 4] and u.entries == 6 and u.values.tolist() == pytest.approx([0.2, 0.2, 0.3, 0.3])


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_each_unit_rule_has_teeth(mutant):
    rule = mutant.split(":")[0]
    assert broken_unit_rules(functools.partial(units_by, **MUTANTS[mutant])) == [rule]


def test_the_smallest_entry_as_a_units_value_passes_a_violated_ceiling(monkeypatch, full_power):
    """Two records of the same 24 pairs at 0.9 and 0.1 against a ceiling 0.1: the units' mean 0.5 is
    rejected; their smallest entry, 0.1, is not."""
    group = [rec([0.9] * 24, range(24), bound=0.1, node="a"), rec([0.1] * 24, range(24), bound=0.1, node="b")]
    assert verdicts.pool(group)[0]["verdict"] == "fail"
    monkeypatch.setattr(POOLING, "units_of", functools.partial(units_by, value=min))
    assert verdicts.pool(group)[0]["verdict"] != "fail"


def test_the_power_model_gets_each_units_largest_spread_and_smallest_count(monkeypatch):
    seen = []
    monkeypatch.setattr(POOLING, "pooled_betting_detects",
                        lambda bounds, spreads, alpha, side, scale, counts: seen.append((spreads, counts)) or 0.0)
    verdicts.pool(GROUP)
    want = units_by(GROUP)
    assert np.allclose(seen[-1][0], want.spreads) and np.allclose(seen[-1][1], want.counts)
    monkeypatch.setattr(POOLING, "units_of", functools.partial(units_by, spread=min, count=max))
    verdicts.pool(GROUP)                    # the optimistic power model: smaller spreads, more inputs
    assert not np.allclose(seen[-1][0], want.spreads) and not np.allclose(seen[-1][1], want.counts)


def test_records_of_one_seed_are_one_unit(monkeypatch, full_power):
    """Three records of the same 12 pairs at 0.99 against 1/2: 12 units cannot reject (log K ≤ 12 · log
    1.75 < log 1/α); counted as 36 pairs they would."""
    group = [rec([0.99] * 12, range(12), node=str(i)) for i in range(3)]
    (pooled,) = verdicts.pool(group)
    assert pooled["n_pairs"] == 12 and pooled["verdict"] != "fail"
    assert betting_test([0.99] * 36, 0.5, pooled["alpha"]).reject
    count = iter(range(10**6))
    monkeypatch.setattr(POOLING, "pair_units", lambda r: [next(count) for _ in r["pair_values"]])
    assert verdicts.pool(group)[0]["verdict"] == "fail"


# ------------------------------------------------------------------ level and side of each test

@functools.lru_cache(maxsize=None)
def edge(alpha: float) -> float:
    """The constant per-pair value where the betting test of N pairs at ``alpha`` starts to reject 1/2."""
    lo, hi = 0.5, 1.0 - 1e-12
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if betting_test([mid] * N, 0.5, alpha).reject else (mid, hi)
    return hi


def levels(alpha: float) -> dict:
    """Values between the edges: "2α" rejected only at 2α, "α" at α and not α/2, "α/2" at α/2 and not α/4."""
    e = {k: edge(alpha * k) for k in (2, 1, 0.5, 0.25)}
    assert e[2] < e[1] < e[0.5] < e[0.25]
    return {"2α": (e[2] + e[1]) / 2, "α": (e[1] + e[0.5]) / 2, "α/2": (e[0.5] + e[0.25]) / 2}


def per_example(fn, x, claim="P1") -> dict:
    """The record of ``fn`` (an assertion) on N pairs at ``x`` against 1/2."""
    with session.checking("test_x", (claim,)):
        try:
            fn([x] * N, 0.5, setting={}, seeds=list(range(N)), statistic="share", alpha=ALPHA)
        except AssertionError:
            pass
    (out,) = session.current().pending()
    session.current().discard()
    return out


def pooled(x, side) -> dict:
    group = [rec([x] * (N // 2), range(k * N, k * N + N // 2), side=side, claim="CTRL-eps0", node=str(k))
             for k in range(2)]
    return verdicts.pool(group)[0]


def rejects(make, level: str, sign: int) -> bool:
    """Whether the test ``make`` (value → record) fails N pairs at the value that the tests at its stated
    level α reject at ``level`` only (mirrored below 1/2 for sign −1)."""
    x = levels(make(0.5)["alpha"])[level]
    return make(0.5 + sign * (x - 0.5))["verdict"] == "fail"


def test_a_ceiling_is_tested_at_most_and_a_floor_at_least_at_its_level(full_power):
    """Each one-sided test rejects at the level α its record states, on its claim's side only."""
    tests = [(functools.partial(per_example, assertions.assert_mean_at_most), 1),
             (functools.partial(per_example, assertions.assert_mean_at_least), -1),
             (functools.partial(pooled, side="at most"), 1), (functools.partial(pooled, side="at least"), -1)]
    for make, sign in tests:
        assert rejects(make, "α", sign) and not rejects(make, "2α", sign)
        assert make(0.5 - sign * 0.45)["verdict"] != "fail"              # far on the claim's side


def test_a_two_sided_test_spends_half_of_its_level_on_each_side(full_power):
    chance = functools.partial(per_example, assertions.assert_mean_at_chance, claim="CTRL-eps0")
    for make in (chance, functools.partial(pooled, side="both")):
        for sign in (1, -1):
            assert rejects(make, "α/2", sign) and not rejects(make, "α", sign)


@pytest.mark.parametrize("change", ["side flipped", "alpha doubled", "alpha halved"])
def test_the_level_tests_have_teeth(monkeypatch, full_power, change):
    def changed(values, bound, alpha, side="at most"):
        flip = {"at most": "at least", "at least": "at most"}
        return betting_test(values, bound, {"alpha doubled": 2 * alpha, "alpha halved": alpha / 2}.get(change, alpha),
                            flip[side] if change == "side flipped" else side)

    monkeypatch.setattr(assertions, "betting_test", changed)
    monkeypatch.setattr(POOLING, "betting_test", changed)
    with pytest.raises(AssertionError):
        test_a_ceiling_is_tested_at_most_and_a_floor_at_least_at_its_level(None)
    if change != "side flipped":
        with pytest.raises(AssertionError):
            test_a_two_sided_test_spends_half_of_its_level_on_each_side(None)


def share_test(pooled_: bool, k: int, p_min: float, n: int = 40) -> dict:
    """The record of the share-of-pairs test (per example, or pooled from two records) on k of n pairs."""
    outcomes = [1.0] * k + [0.0] * (n - k)
    if pooled_:
        return verdicts.pool([rec(outcomes[i::2], range(i, n, 2), bound=p_min, side="at least", claim="P3",
                                  test="clopper-pearson", node=str(i)) for i in range(2)])[0]
    with session.checking("test_x", ("P3",)):
        try:
            assertions.assert_share_at_least(outcomes, p_min, setting={}, seeds=list(range(n)), statistic="s",
                                             alpha=ALPHA)
        except AssertionError:
            pass
    (out,) = session.current().pending()
    session.current().discard()
    return out


def share_rejects(pooled_: bool, level: str) -> bool:
    """Whether 20 of 40 pairs fail against the p_min that the one-sided Clopper–Pearson bound rejects at
    ``level`` only ("α": at α, not α/2; "2α": at 2α, not α), α the level the record states."""
    alpha = share_test(pooled_, 20, 0.5)["alpha"]
    hi = {f: clopper_pearson(20, 40, 1 - 2 * f * alpha)[1] for f in (0.5, 1, 2)}
    p_min = (hi[1] + hi[0.5]) / 2 if level == "α" else (hi[2] + hi[1]) / 2
    return share_test(pooled_, 20, p_min)["verdict"] == "fail"


def test_a_share_of_pairs_is_a_floor_tested_at_its_level(full_power):
    for pooled_ in (False, True):
        assert share_rejects(pooled_, "α") and not share_rejects(pooled_, "2α")
        assert share_test(pooled_, 40, 0.99)["verdict"] != "fail"


@pytest.mark.parametrize("scale", [2, 0.5])
def test_the_share_level_test_has_teeth(monkeypatch, full_power, scale):
    def changed(k, n, confidence):
        return clopper_pearson(k, n, 1 - scale * (1 - confidence))

    monkeypatch.setattr(assertions, "clopper_pearson", changed)
    monkeypatch.setattr(POOLING, "clopper_pearson", changed)
    with pytest.raises(AssertionError):
        test_a_share_of_pairs_is_a_floor_tested_at_its_level(None)


# ------------------------------------------------------------------ power target, failures, strata

def test_a_test_passes_only_at_its_power_target(monkeypatch):
    """Per example and pooled: not rejected and detects beyond the target is "underpowered"."""
    group = [rec([0.0] * 12, range(k * 12, k * 12 + 12), bound=0.15, node=str(k)) for k in range(2)]
    goal = power_target("P1")
    for detects, want in ((goal.amount - 0.01, "pass"), (goal.amount + 0.01, "underpowered")):
        monkeypatch.setattr(POOLING, "pooled_betting_detects", lambda *a, d=detects, **k: d)
        monkeypatch.setattr(assertions, "betting_detects", lambda *a, d=detects, **k: 0.15 + d)
        assert verdicts.pool(group)[0]["verdict"] == want
        with session.checking("test_x", ("P1",)):
            assert assertions.assert_mean_at_most([0.0] * 12, 0.15, setting={}, seeds=list(range(12)),
                                                  statistic="share", alpha=ALPHA).verdict == want
        session.current().discard()
    # A share of pairs: detects is the smallest success share caught; the target asks for p_min − 0.3.
    for short, want in ((-0.01, "pass"), (0.01, "underpowered")):
        p_min = 0.9
        stub = lambda n, p, alpha, side, d=p_min - power_target("P3").amount - short: d  # noqa: E731
        monkeypatch.setattr(POOLING, "binomial_detects", stub)
        monkeypatch.setattr(assertions, "binomial_detects", stub)
        assert share_test(True, 40, p_min)["verdict"] == share_test(False, 40, p_min)["verdict"] == want


def corner_records(verdict_a: str, verdict_b: str, claim="P1", corners=CORNERS) -> list[dict]:
    """Two records in each corner, with the given verdicts."""
    return [rec([0.0] * 12, range(k * 12, k * 12 + 12), claim=claim, setting=corners[k % 2], node=str(k),
                verdict=(verdict_a, verdict_b)[k % 2]) for k in range(4)]


def test_a_stratum_is_verified_only_by_a_record_or_pooled_test_at_its_power_target(monkeypatch):
    monkeypatch.setattr(POOLING, "pooled_betting_detects", lambda *a, **k: 1.0)      # nothing pooled passes
    c = conclude(["P1"], corner_records("pass", "underpowered"))
    strata = c.claims["P1"]["strata"]
    assert {v["verdict"] for k, v in strata.items() if k in ("gamma=0", "scenario=a")} == {VERIFIED}
    assert VERIFIED not in {v["verdict"] for k, v in strata.items() if k in ("gamma=>0", "scenario=b")}
    assert c.claims["P1"]["verdict"] not in (VERIFIED, FAILED)
    monkeypatch.setattr(POOLING, "pooled_betting_detects", lambda *a, **k: 0.0)      # each stratum's pool passes
    c = conclude(["P1"], corner_records("underpowered", "underpowered"))
    assert c.claims["P1"]["verdict"] == VERIFIED and len(c.claims["P1"]["strata"]) == len(covered_strata("P1"))


def test_a_failed_record_fails_its_claim_whatever_else_passes(full_power):
    recs = corner_records("pass", "pass")
    recs[1] = dict(recs[1], verdict="fail")
    c = conclude(["P1"], recs, require_verified=False)
    assert c.claims["P1"]["verdict"] == FAILED and not c.ok
    assert c.claims["P1"]["strata"]["gamma=>0"]["verdict"] == FAILED
    assert c.claims["P1"]["strata"]["gamma=0"]["verdict"] == VERIFIED
    observed = dict(recs[1], inside=False, verdict="observed")       # an observation never fails a claim
    assert conclude(["P1"], recs[:1] + [observed] + recs[2:]).claims["P1"]["verdict"] == VERIFIED


def uncovered(claim: str, coverages, corner=1) -> list[dict]:
    """The claim verified in corner 0; in ``corner`` only observed records, at ``coverages``."""
    recs = [r for r in corner_records("pass", "pass", claim=claim) if r["setting"] == CORNERS[0]]
    return recs + [rec([], [], claim=claim, setting=CORNERS[corner], verdict="observed", inside=False, coverage=c,
                       node=f"o{i}") for i, c in enumerate(coverages)]


def test_a_stratum_below_the_coverage_floor_is_not_verified(full_power):
    below, floor = STRATUM_MIN_COVERAGE * (1 - 1e-9), STRATUM_MIN_COVERAGE
    v = conclude(["P1"], uncovered("P1", [below, below])).claims["P1"]
    assert v["verdict"] == NOT_VERIFIED and v["strata"]["scenario=b"]["uncovered"]
    assert f"< {STRATUM_MIN_COVERAGE:g}" in v["reason"]
    for coverages in ([floor], [below, 0.9]):           # not every record below the floor: no record
        v = conclude(["P1"], uncovered("P1", coverages)).claims["P1"]
        assert v["verdict"] == NOT_VERIFIED and not v["strata"]["scenario=b"]["uncovered"]
    # Only where theory.strata says the conditions cannot hold (P4 in Scenario (a), with random targets)
    # is a stratum below the floor stated "not covered", and the claim verified without it.
    corner = dict(CORNERS[1], targets="flipped")
    p4 = corner_records("pass", "pass", claim="P4", corners=(dict(corner, gamma=0.0, momentum=0.0, loss="identity"),
                                                            corner))
    for coverage, verdict, claim_verdict in ((below, NOT_COVERED, VERIFIED), (floor, NOT_VERIFIED, NOT_VERIFIED)):
        v = conclude(["P4"], p4 + [rec([], [], claim="P4", setting=dict(CORNERS[0], targets="random"), inside=False,
                                       verdict="observed", coverage=coverage, node="o")]).claims["P4"]
        assert v["strata"]["scenario=a"]["verdict"] == v["strata"]["targets=random"]["verdict"] == verdict
        assert v["verdict"] == claim_verdict


# ------------------------------------------------------------------ the false-failure budget

def budget_records() -> list[dict]:
    """One per-example record of every statistical test and verdict (on 40 pairs, enough for a betting test
    to be able to reject: one that cannot spends nothing, ``tests/test_budget.py``), and records that are
    no test."""
    recs = [rec([0.1] * 40, list(range(40 * i, 40 * i + 40)), claim=f"X{i}", test=t, verdict=v)
            for i, (t, v) in enumerate((t, v) for t in sorted(verdicts.STATISTICAL)
                                       for v in ("pass", "underpowered", "fail"))]
    return recs + [rec([0.5], [900], claim="Y", test="betting (coverage above floor)"),
                   rec([0.5], [901], claim="Y", test="exact"),
                   rec([0.5], [902], claim="Y", verdict="observed", inside=False)]


def test_the_budget_counts_every_test_made(full_power):
    """Every statistical test made, per example (whatever its verdict) and pooled, is counted, and the
    budget spent is the sum of their levels; a coverage floor, an exact comparison or an observation is
    no test at the run's level."""
    recs, corner = budget_records(), corner_records("pass", "pass")
    assert verdicts.count_tests(recs) == 3 * len(verdicts.STATISTICAL) == 15
    c = conclude(["P1"], recs + corner, require_verified=False)
    assert len(c.pooled) == 3                        # over the claim, and over each corner's two records
    # A betting test on too few pairs to reject spends nothing (``reporting.budget.spends``).
    made = [r for r in recs[:15] + corner if spends(r)] + c.pooled
    assert c.tests_made == len(made) == 18
    assert c.budget_spent == pytest.approx(sum(r["alpha"] for r in made))
    line = verdicts.budget_line(c)
    assert f"{c.budget_spent:.2e}" in line
    assert sum(int(k) for k in re.findall(r"(\d+) (?:per-example |pooled )?tests", line)) == c.tests_made
    kinds = {t: sum(r["test"] == t for r in recs[:15] + corner if spends(r)) for t in verdicts.STATISTICAL}
    for left_out in sorted(verdicts.STATISTICAL):     # the count has teeth: each kind of test counts
        verdicts.STATISTICAL.discard(left_out)        # in place: every module that imported the set sees it
        try:
            assert verdicts.count_tests(recs) == 12
            kind = kinds[left_out]
            assert conclude(["P1"], recs + corner, require_verified=False).tests_made == 18 - kind
        finally:
            verdicts.STATISTICAL.add(left_out)
