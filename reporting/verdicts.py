"""Claim-level verdicts at the end of a run: pooled tests, power targets and the false-failure budget.

Numbers only; the plugin calls :func:`conclude` on the controller and fails the run on its verdicts.

Pooled tests. The asserted records of one claim and one statistic (same side, same power target) are
pooled into one betting test over all their pairs (``theory.betting``: valid for independent pairs that
are not identically distributed, each pair against its own record's bound). Pairs enter in the order of
(test node, first seed), which does not depend on their values. Clopper–Pearson pair counts (P3) are
pooled by summing successes and pairs (a sum of independent Bernoulli variables with success
probabilities ≥ p is stochastically larger than Binomial(n, p)). A pooled test has the most power against
a bug that acts in every setting of the claim; per-example records keep power against one that acts in
one setting.

Claim verdicts: "failed" (a record or a pooled test rejected the claim), "verified at target power" (a
record or pooled test passed at its power target), "observation-only: <reason>"
(``theory.tolerances.OBSERVATION_ONLY``), "not verified" (nothing reached the target). A run with a
failed claim fails; a run of the whole suite with a not-verified claim fails too.

False-failure budget. Every test is made at α = ALPHA = RUN_BUDGET / MAX_ASSERTIONS_PER_RUN (Bonferroni);
the tests actually made, per-example and pooled, are counted, and the run's spent budget is that count
× α. More than MAX_ASSERTIONS_PER_RUN tests would exceed RUN_BUDGET and fails the run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from theory.betting import betting_confidence_sequence, betting_test
from theory.power import binomial_detects, pooled_betting_detects, power_spread
from theory.stats import clopper_pearson
from theory.tolerances import ALPHA, MAX_ASSERTIONS_PER_RUN, OBSERVATION_ONLY, RUN_BUDGET, power_target

from .records import Record

#: Check name of the pooled records.
POOLED_CHECK = "run: pooled over examples"
#: Record tests that are statistical tests at level α (counted against the budget).
#: A coverage shown above its floor (EVIDENCE_ALPHA) bounds the chance that a vacuous check passes, not a
#: false failure, and is not counted.
STATISTICAL = {"betting", "betting, two-sided", "clopper-pearson", "t-interval", "hoeffding"}
VERIFIED, FAILED, NOT_VERIFIED = "verified at target power", "failed", "not verified"


@dataclass(frozen=True)
class Conclusion:
    pooled: list            # pooled records (dicts, like Record.to_jsonable)
    claims: dict            # claim → {"verdict": str, "reason": str, "best_detects": …, "target": …}
    tests_made: int
    budget_spent: float
    ok: bool


def _asserted(rec: dict) -> bool:
    return bool(rec.get("inside")) and rec.get("verdict") in ("pass", "underpowered", "fail")


def _order(rec: dict):
    return (rec.get("nodeid") or "", rec.get("check") or "", (rec.get("seeds") or [0])[0])


def _finite(x):
    return float(x) if x is not None and math.isfinite(x) else None


def _pool_betting(claim: str, group: list[dict]) -> dict:
    values = np.concatenate([np.asarray(r["pair_values"], dtype=float) for r in group])
    bounds = np.concatenate([np.full(len(r["pair_values"]), r["bound"], dtype=float) for r in group])
    spreads = np.concatenate([np.full(len(r["pair_values"]), power_spread(r["pair_values"], r["bound"]))
                              for r in group])
    side = group[0]["side"]
    target = power_target(group[0]["power_target"])
    scale = "ratio" if target.rule == "factor" else "shift"
    if side == "both":
        tests = [betting_test(values, bounds, ALPHA / 2, s) for s in ("at most", "at least")]
        pvalue = min(1.0, 2 * min(t.pvalue for t in tests))
        rejected = any(t.reject for t in tests)
        effect = pooled_betting_detects(bounds, spreads, ALPHA / 2, "at most", scale)
    else:
        test = betting_test(values, bounds, ALPHA, side)
        pvalue, rejected = test.pvalue, test.reject
        effect = pooled_betting_detects(bounds, spreads, ALPHA, side, scale)
    reached = not rejected and effect <= target.amount + 1e-12
    rec = _pooled_record(claim, group, float(values.mean()), pvalue, rejected, reached, effect, target.amount,
                         scale, len(values), float(bounds.mean()))
    return dict(rec, ci=list(betting_confidence_sequence(values, ALPHA)))


def _pool_counts(claim: str, group: list[dict]) -> dict:
    successes, n = sum(int(r["successes"]) for r in group), sum(int(r["n_pairs"]) for r in group)
    p_min = group[0]["bound"]
    lo, hi = clopper_pearson(successes, n, 1 - 2 * ALPHA)
    detects = binomial_detects(n, p_min, ALPHA, "at least")
    goal = power_target(group[0]["power_target"]).target(p_min, "at least")
    rejected = hi < p_min
    reached = not rejected and detects >= goal - 1e-12
    rec = _pooled_record(claim, group, successes / n, None, rejected, reached, p_min - detects, p_min - goal,
                         "shift", n, p_min)
    return dict(rec, successes=successes, ci=[lo, hi], test="clopper-pearson, pooled", side="at least")


def _as_mean(effect, bound, side, scale):
    """A shift (or ratio) from a common bound, as the true mean it stands for."""
    if effect is None:
        return None
    if scale == "ratio":
        return effect * bound if side != "at least" else 1 - effect * (1 - bound)
    return bound - effect if side == "at least" else bound + effect


def _pooled_record(claim, group, mean, pvalue, rejected, reached, effect, goal, scale, n, mean_bound) -> dict:
    """A pooled record; ``detects`` and ``target`` are means, as in the per-example records. With several
    bounds (L2: one per record) its bound is their mean over the pairs, and the shift (or ratio) from each
    pair's own bound becomes the mean it stands for: the claim, E[X_i] ≤ b_i, implies mean E[X] ≤ mean b."""
    verdict = "fail" if rejected else ("pass" if reached else "underpowered")
    first = group[0]
    shown = "never" if _finite(effect) is None else f"{effect:.3g}"
    several = len({r["bound"] for r in group}) > 1
    bound = mean_bound if several else first["bound"]
    side = first["side"]
    return Record(claim=claim, check=POOLED_CHECK, setting={"records": len(group)},
                  seeds=sorted({s for r in group for s in r.get("seeds") or []}), statistic=first["statistic"],
                  value=mean, bound=bound, verdict=verdict, inside=True, alpha=ALPHA, n_pairs=n, p_value=pvalue,
                  test="betting, pooled", side=side, detects=_as_mean(_finite(effect), bound, side, scale),
                  target=_as_mean(goal, bound, side, scale), power_target=first["power_target"],
                  reason=("bound: the mean of the pairs' bounds; " if several else "")
                  + f"pooled {scale} from each pair's bound: detects {shown}, target {goal:.3g}",
                  ).to_jsonable()


def pool(records: list[dict]) -> list[dict]:
    """One pooled record per (claim, statistic, side, power target) with at least two asserted records."""
    groups = defaultdict(list)
    for rec in sorted(records, key=_order):
        if _asserted(rec) and rec.get("check") != POOLED_CHECK and \
                (rec.get("pair_values") or rec.get("test") == "clopper-pearson"):
            key = (rec["claim"], rec["statistic"], rec.get("side"), rec.get("power_target"), rec.get("test"))
            groups[key].append(rec)
    out = []
    for (claim, _, _, _, test), group in sorted(groups.items(), key=lambda kv: kv[0][:2]):
        if len(group) < 2 or test == "betting (coverage above floor)":
            continue
        out.append(_pool_counts(claim, group) if test == "clopper-pearson" else _pool_betting(claim, group))
    return out


def _unchecked_parts(records: list[dict]) -> str:
    """The parts of a claim that some records could not check, each with why (e.g. "not reported" by
    the procedure): stated next to the verdict, never passed silently."""
    counts: dict = defaultdict(int)
    for r in records:
        for part in r.get("unchecked") or ():
            counts[part] += 1
    return "; ".join(f"not checked in {k} of {len(records)} records: {part}"
                     for part, k in sorted(counts.items()))


def best_record(asserted: list[dict]) -> dict | None:
    """The most telling test among a claim's asserted records that did not fail: a statistical one
    before an exact comparison, pooled before per-example, then the most pairs."""
    return min((r for r in asserted if r.get("detects") is not None and r.get("verdict") != "fail"),
               key=lambda r: (r.get("test") in ("exact", "hoeffding"), r["check"] != POOLED_CHECK,
                              -(r["n_pairs"] or 0)), default=None)


def claim_verdicts(claims, records: list[dict]) -> dict:
    """Verdict of every claim ID in ``claims`` from its records (pooled ones included)."""
    out = {}
    for claim in claims:
        mine = [r for r in records if r.get("claim") == claim]
        # A coverage shown above its floor is a premise of the claim's check, not a test of the claim.
        asserted = [r for r in mine if _asserted(r) and r.get("power_target") != "coverage"]
        best = best_record(asserted)
        info = {"records": len(mine), "asserted": len(asserted),
                "best_detects": best and best.get("detects"), "target": best and best.get("target")}
        if any(r["verdict"] == "fail" for r in mine if _asserted(r)):
            out[claim] = dict(info, verdict=FAILED, reason="a test rejected the claim")
        elif any(r["verdict"] == "pass" for r in asserted):
            out[claim] = dict(info, verdict=VERIFIED, reason=_unchecked_parts(asserted))
        elif claim in OBSERVATION_ONLY:
            out[claim] = dict(info, verdict=f"observation-only: {OBSERVATION_ONLY[claim]}", reason="")
        else:
            why = "no asserted record" if not asserted else \
                f"underpowered in all {len(asserted)} asserted records (pooled included)"
            out[claim] = dict(info, verdict=NOT_VERIFIED, reason=why)
    return out


def count_tests(records: list[dict]) -> int:
    """Statistical tests at level α among the records (per-example and pooled)."""
    return sum(1 for r in records if _asserted(r) and (r.get("test") in STATISTICAL or
                                                        str(r.get("test", "")).endswith("pooled")))


def conclude(claims, records: list[dict], require_verified: bool = True) -> Conclusion:
    """Pooled records, claim verdicts and the budget; ``ok`` is False when a claim failed, when the
    budget is exceeded, or (``require_verified``) when a claim is not verified."""
    pooled = pool(records)
    everything = list(records) + pooled
    verdicts = claim_verdicts(claims, everything)
    made = count_tests(everything)
    bad = (FAILED, NOT_VERIFIED) if require_verified else (FAILED,)
    ok = made <= MAX_ASSERTIONS_PER_RUN and all(v["verdict"] not in bad for v in verdicts.values())
    return Conclusion(pooled=pooled, claims=verdicts, tests_made=made, budget_spent=made * ALPHA, ok=ok)


def budget_line(c: Conclusion) -> str:
    state = "within" if c.tests_made <= MAX_ASSERTIONS_PER_RUN else "EXCEEDS"
    return (f"false-failure budget: {c.tests_made} tests at α = {ALPHA:.1e} (Bonferroni) spend "
            f"{c.budget_spent:.2e} of {RUN_BUDGET:g} per run ({state} the budget)")
