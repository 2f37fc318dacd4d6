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

Strata. A claim is verified only if it is verified on every stratum it covers (``theory.strata``: γ = 0 /
γ > 0, identity / logistic, Scenario (a) / (b), random / flipped targets, β = 0 / β > 0): a bug confined to
one stratum is diluted by the other strata's pairs in the test pooled over all of them. Per stratum, the
records whose setting lies in it are pooled as above (one more test per stratum and statistic, made only
where the stratum holds two or more records and not all of the claim's); the stratum is verified when
one of its records or its pooled test passes at its power target. A stratum without records is "not
verified"; an axis the claim does not range over is named, with the reason, in ``AXES_OUTSIDE_CLAIM``.
A stratum where the claim's conditions cover fewer than STRATUM_MIN_COVERAGE of the inputs in every record
holds no evidence: it is "not covered by the conditions" (stated next to the claim's verdict with its
largest coverage and the reason, neither verified nor failing the run) only where ``theory.strata``
states that the theorem's conditions cannot select an input there (P4 in Scenario (a) or with random
targets); anywhere else it is "not verified", and explicit examples must cover it (Theorem 3.5's
Scenario (b) example, ``checks.axes``). A stratum or a claim that the checked procedure's declaration
excludes (``not_checked``: plain data from the run's metadata, ``checks.axes.not_checked``) is "not
checked", with the reason: never verified, never failed, and stated next to the claim's verdict.

Claim verdicts: "failed" (a record or a pooled test rejected the claim), "verified at target power" (a
record or pooled test passed at its power target, and every stratum the claim covers is verified or not
covered), "observation-only: <reason>" (``theory.tolerances.OBSERVATION_ONLY``), "not verified" (nothing
reached the target, or a stratum did not). A run with a
failed claim fails; a run of the whole suite with a not-verified claim fails too.

False-failure budget. Every test is made at α = ALPHA = RUN_BUDGET / MAX_ASSERTIONS_PER_RUN (Bonferroni);
the tests actually made, per-example and pooled, are counted, and the run's spent budget is that count
× α. More than MAX_ASSERTIONS_PER_RUN tests would exceed RUN_BUDGET and fails the run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from theory.betting import betting_confidence_sequence, betting_test
from theory.power import binomial_detects, pooled_betting_detects, power_spread
from theory.stats import clopper_pearson
from theory.strata import conditions_never_hold, covered_strata, not_checked_strata, stratum
from theory.tolerances import (ALPHA, MAX_ASSERTIONS_PER_RUN, OBSERVATION_ONLY, RUN_BUDGET, STRATUM_MIN_COVERAGE,
                               power_target)

from .records import Record, finite

#: Check names of the pooled records: over all of a claim's examples, and over one stratum's.
POOLED_CHECK = "run: pooled over examples"
STRATUM_CHECK = "run: pooled over a stratum"
#: Record tests that are statistical tests at level α (counted against the budget).
#: A coverage shown above its floor (EVIDENCE_ALPHA) bounds the chance that a vacuous check passes, not a
#: false failure, and is not counted.
STATISTICAL = {"betting", "betting, two-sided", "clopper-pearson", "t-interval", "hoeffding"}
VERIFIED, FAILED, NOT_VERIFIED = "verified at target power", "failed", "not verified"
#: A stratum where the claim's conditions hold on too few inputs to test it (STRATUM_MIN_COVERAGE).
NOT_COVERED = "not covered by the conditions"
#: A stratum or claim outside what the checked procedure declares it implements.
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Conclusion:
    pooled: list            # pooled records (dicts, like Record.to_jsonable)
    claims: dict            # claim → {"verdict": str, "reason": str, "best_detects": …, "target": …,
                            #          "strata": {"axis=stratum": {"verdict", "records", "best_detects", "target",
                            #                              "max_coverage"}}}
    tests_made: int
    budget_spent: float
    ok: bool


def pair_units(rec: dict) -> list:
    """One independence key per entry of ``rec["pair_values"]``: the seed of its network pair.

    ``config.seed_streams`` splits every generator of a pair from its seed, so pairs of distinct seeds are
    independent, and two records of one seed are copies of one unit whatever their configs (the same data
    and f when only ε, t_g or the scenario differ; streams consumed in another shape otherwise: correlated).
    """
    values, seeds = rec.get("pair_values") or [], rec.get("pair_seeds")
    if seeds is None or len(seeds) != len(values):
        raise ValueError(f"record {rec.get('claim')}/{rec.get('check')}: pair_seeds must hold one seed per pair "
                         f"value ({len(values)}), got {None if seeds is None else len(seeds)}")
    return [int(s) for s in seeds]


def _asserted(rec: dict) -> bool:
    return bool(rec.get("inside")) and rec.get("verdict") in ("pass", "underpowered", "fail")


def _order(rec: dict):
    return (rec.get("nodeid") or "", rec.get("check") or "", (rec.get("seeds") or [0])[0])


@dataclass(frozen=True)
class Units:
    """A group's pair values merged into independent units (``pair_units``), in order of first appearance:
    a unit's value and bound are the means of its entries (the claim, E[X] ≤ b per entry, implies E[mean
    X] ≤ mean b), its power spread the largest, its input count the smallest (more binomial noise: the
    conservative power model); ``first`` is its first entry's value (a Bernoulli outcome stays one)."""

    values: np.ndarray
    bounds: np.ndarray
    spreads: np.ndarray
    counts: np.ndarray
    first: np.ndarray
    keys: list                   # the units' seeds
    entries: int                 # pair values before merging


def units_of(group: list[dict]) -> Units:
    rows: dict = {}
    for r in group:
        spread = power_spread(r["pair_values"], r["bound"]) if 0 < r["bound"] < 1 else 0.0
        counts = r.get("pair_counts") or [0] * len(r["pair_values"])
        for key, v, c in zip(pair_units(r), r["pair_values"], counts):
            rows.setdefault(key, []).append((float(v), float(r["bound"]), spread, int(c)))
    cols = [np.array(col) for col in zip(*[(np.mean([e[0] for e in es]), np.mean([e[1] for e in es]),
                                            max(e[2] for e in es), min(e[3] for e in es), es[0][0])
                                           for es in rows.values()])]
    return Units(*cols, keys=list(rows), entries=sum(len(es) for es in rows.values()))


def _pool_betting(claim: str, group: list[dict]) -> dict:
    units = units_of(group)
    values, bounds = units.values, units.bounds
    side = group[0]["side"]
    target = power_target(group[0]["power_target"])
    scale = "ratio" if target.rule == "factor" else "shift"
    if side == "both":
        tests = [betting_test(values, bounds, ALPHA / 2, s) for s in ("at most", "at least")]
        pvalue = min(1.0, 2 * min(t.pvalue for t in tests))
        rejected = any(t.reject for t in tests)
        effect = pooled_betting_detects(bounds, units.spreads, ALPHA / 2, "at most", scale, units.counts)
    else:
        test = betting_test(values, bounds, ALPHA, side)
        pvalue, rejected = test.pvalue, test.reject
        effect = pooled_betting_detects(bounds, units.spreads, ALPHA, side, scale, units.counts)
    reached = not rejected and effect <= target.amount + 1e-12
    rec = _pooled_record(claim, group, float(values.mean()), pvalue, rejected, reached, effect, target.amount,
                         scale, units, float(bounds.mean()))
    return dict(rec, ci=list(betting_confidence_sequence(values, ALPHA)))


def _pool_counts(claim: str, group: list[dict]) -> dict:
    units = units_of(group)
    successes, n = int(units.first.sum()), len(units.first)
    p_min = group[0]["bound"]
    lo, hi = clopper_pearson(successes, n, 1 - 2 * ALPHA)
    detects = binomial_detects(n, p_min, ALPHA, "at least")
    goal = power_target(group[0]["power_target"]).target(p_min, "at least")
    rejected = hi < p_min
    reached = not rejected and detects >= goal - 1e-12
    rec = _pooled_record(claim, group, successes / n, None, rejected, reached, p_min - detects, p_min - goal,
                         "shift", units, p_min)
    return dict(rec, successes=successes, ci=[lo, hi], test="clopper-pearson, pooled", side="at least")


def _as_mean(effect, bound, side, scale):
    """A shift (or ratio) from a common bound, as the true mean it stands for."""
    if effect is None:
        return None
    if scale == "ratio":
        return effect * bound if side != "at least" else 1 - effect * (1 - bound)
    return bound - effect if side == "at least" else bound + effect


def _pooled_record(claim, group, mean, pvalue, rejected, reached, effect, goal, scale, units: Units,
                   mean_bound) -> dict:
    """A pooled record over independent units (``n_pairs``: the units); ``detects`` and ``target`` are
    means, as in the per-example records. With several bounds (L2: one per record) its bound is their
    mean over the units, and the shift (or ratio) from each unit's own bound becomes the mean it stands
    for: the claim, E[X_i] ≤ b_i, implies mean E[X] ≤ mean b."""
    n = len(units.values)
    verdict = "fail" if rejected else ("pass" if reached else "underpowered")
    first = group[0]
    shown = "never" if finite(effect) is None else f"{effect:.3g}"
    several = len({r["bound"] for r in group}) > 1
    bound = mean_bound if several else first["bound"]
    side = first["side"]
    return Record(claim=claim, check=POOLED_CHECK, setting={"records": len(group)},
                  seeds=sorted({s for r in group for s in r.get("seeds") or []}), statistic=first["statistic"],
                  value=mean, bound=bound, verdict=verdict, inside=True, alpha=ALPHA, n_pairs=n, p_value=pvalue,
                  test="betting, pooled", side=side, detects=_as_mean(finite(effect), bound, side, scale),
                  target=_as_mean(goal, bound, side, scale), power_target=first["power_target"],
                  reason=("bound: the mean of the pairs' bounds; " if several else "")
                  + f"{n} independent pairs (one per seed) from {units.entries} pair values of {len(group)} records; "
                  + f"pooled {scale} from each pair's bound: detects {shown}, target {goal:.3g}",
                  pair_values=units.values.tolist(), pair_seeds=units.keys).to_jsonable()


def pool(records: list[dict]) -> list[dict]:
    """One pooled record per (claim, statistic, side, power target) with at least two asserted records."""
    groups = defaultdict(list)
    for rec in sorted(records, key=_order):
        if _asserted(rec) and rec.get("check") not in (POOLED_CHECK, STRATUM_CHECK) and \
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


def excludes(best: dict | None) -> str | None:
    """What a claim's verdict excludes, in words (STATISTICS.md, "What a verdict excludes"): the violation
    its most telling test would have caught with probability 0.9, and the end of its interval next to the
    bound."""
    if best is None or best.get("detects") is None:
        return None
    if best.get("test") in ("exact", "hoeffding") or best.get("side") is None:
        return f"every value of {best['statistic']} beyond its bound {best['bound']:.4g} fails"
    lo, hi = (best.get("ci") or (None, None))[:2]
    at_least = best["side"] == "at least"
    relation, end = ("≤", lo) if at_least else ("≥", hi)
    shown = "" if end is None else f"; {'lower' if at_least else 'upper'} end of its interval {end:.4g}"
    return (f"a mean {best['statistic']} {relation} {best['detects']:.4g} on every pair (bound {best['bound']:.4g}) "
            f"would have been caught with probability 0.9 over {best['n_pairs']} independent pairs{shown}")


def _cell_name(axis: str, value: str) -> str:
    return f"{axis}={value}"


def stratum_pools(claims, records: list[dict]) -> list[dict]:
    """Per claim and covered stratum, the pooled records of its records in that stratum (where it holds
    two or more and not all of the claim's: else the per-example or claim-wide test is the same). Strata
    that hold the same records (the explicit examples' corners) share one test, which names them all."""
    out = []
    for claim in claims:
        mine = _per_example([r for r in records if r.get("claim") == claim and _asserted(r)])
        cells: dict = defaultdict(list)                     # the records' indices → the strata holding them
        for axis, value in covered_strata(claim):
            held = tuple(i for i, r in enumerate(mine) if stratum(axis, r.get("setting")) == value)
            if 2 <= len(held) < len(mine):
                cells[held].append(_cell_name(axis, value))
        for held, names in cells.items():
            for rec in pool([mine[i] for i in held]):
                out.append(dict(rec, check=STRATUM_CHECK, setting=dict(rec["setting"], strata=names)))
    return out


def _in_cell(rec: dict, axis: str, value: str) -> bool:
    if rec.get("check") == STRATUM_CHECK:
        return _cell_name(axis, value) in (rec.get("setting") or {}).get("strata", ())
    return stratum(axis, rec.get("setting")) == value


def _per_example(recs: list[dict]) -> list[dict]:
    return [r for r in recs if r.get("check") not in (POOLED_CHECK, STRATUM_CHECK)]


def _covered_too_little(cell: list[dict]) -> bool:
    """Every record of the cell states a coverage of the claim's conditions, all below the floor."""
    covs = [r.get("coverage") for r in cell]
    return bool(cell) and all(c is not None and c < STRATUM_MIN_COVERAGE for c in covs)


def strata_verdicts(claim: str, asserted: list[dict], mine: list[dict] = (), excluded: dict | None = None) -> dict:
    """Per covered stratum of ``claim``: its verdict from the asserted records in it (the claim-wide
    pooled records count in a stratum that holds every per-example record). ``mine``: all the claim's
    records, observed ones included, for the coverage of a stratum that none passes. ``excluded``: the
    cells the procedure's declaration leaves unchecked → why."""
    examples = _per_example(asserted)
    out = {}
    for axis, value in covered_strata(claim):
        cell = [r for r in asserted if _in_cell(r, axis, value)]
        n_records = len(_per_example(cell))
        if n_records and n_records == len(examples):
            cell += [r for r in asserted if r.get("check") == POOLED_CHECK]
        tried = [r for r in _per_example(mine) if _in_cell(r, axis, value) and r.get("power_target") != "coverage"]
        best = best_record(cell)
        vacuous = _covered_too_little(tried)
        never = conditions_never_hold(claim, axis, value)
        unchecked = (excluded or {}).get(_cell_name(axis, value))
        verdict = (NOT_CHECKED if unchecked else FAILED if any(r["verdict"] == "fail" for r in cell) else
                   VERIFIED if any(r["verdict"] == "pass" for r in cell) else
                   NOT_COVERED if vacuous and never else NOT_VERIFIED)
        covs = [r["coverage"] for r in tried if r.get("coverage") is not None]
        out[_cell_name(axis, value)] = {"verdict": verdict, "records": n_records,
                                        "best_detects": best and best.get("detects"),
                                        "target": best and best.get("target"),
                                        "max_coverage": max(covs) if covs else None,
                                        "uncovered": vacuous,
                                        "reason": unchecked or (never if verdict == NOT_COVERED else None)}
    return out


def _why_unverified(v: dict) -> str:
    if v.get("uncovered"):
        return f"the conditions cover ≤ {v['max_coverage']:.2f} of the inputs, < {STRATUM_MIN_COVERAGE:g}"
    return "no record" if v["records"] == 0 else "underpowered"


def _unverified_strata(strata: dict) -> str:
    cells = [f"{cell} ({_why_unverified(v)})" for cell, v in strata.items() if v["verdict"] == NOT_VERIFIED]
    return "not verified on the strata " + ", ".join(cells) if cells else ""


def _uncovered_strata(strata: dict) -> str:
    cells = [f"{cell} (coverage ≤ {v['max_coverage']:.2f}: {v['reason']})" for cell, v in strata.items()
             if v["verdict"] == NOT_COVERED]
    return ("not covered: the theory's conditions cannot select an input on the strata " + "; ".join(cells)
            if cells else "")


def claim_verdicts(claims, records: list[dict], not_checked: dict | None = None) -> dict:
    """Verdict of every claim ID in ``claims`` from its records (pooled ones included); ``not_checked``:
    {"strata": cell → why, "claims": claim → why} of the procedure's declaration."""
    out, not_checked = {}, not_checked or {}
    for claim in claims:
        if claim in (not_checked.get("claims") or {}):
            out[claim] = {"verdict": NOT_CHECKED, "reason": not_checked["claims"][claim], "records": 0,
                          "asserted": 0, "best_detects": None, "target": None, "excludes": None, "strata": {}}
            continue
        mine = [r for r in records if r.get("claim") == claim]
        # A coverage shown above its floor is a premise of the claim's check, not a test of the claim.
        asserted = [r for r in mine if _asserted(r) and r.get("power_target") != "coverage"]
        best = best_record(asserted)
        strata = strata_verdicts(claim, asserted, mine, not_checked_strata(claim, not_checked.get("strata"))) \
            if asserted else {}
        info = {"records": len(mine), "asserted": len(asserted),
                "best_detects": best and best.get("detects"), "target": best and best.get("target"),
                "excludes": excludes(best), "strata": strata}
        unverified = _unverified_strata(strata)
        unchecked = "; ".join(f"{c} ({v['reason']})" for c, v in strata.items() if v["verdict"] == NOT_CHECKED)
        unchecked = unchecked and "not checked on the strata " + unchecked
        if any(r["verdict"] == "fail" for r in mine if _asserted(r)):
            failed = [c for c, v in strata.items() if v["verdict"] == FAILED]
            out[claim] = dict(info, verdict=FAILED, reason="a test rejected the claim"
                              + (f" (strata {', '.join(failed)})" if failed else ""))
        elif any(r["verdict"] == "pass" for r in asserted) and not unverified:
            out[claim] = dict(info, verdict=VERIFIED, reason="; ".join(
                part for part in (_uncovered_strata(strata), unchecked, _unchecked_parts(asserted)) if part))
        elif claim in OBSERVATION_ONLY:
            out[claim] = dict(info, verdict=f"observation-only: {OBSERVATION_ONLY[claim]}", reason="")
        else:
            why = "no asserted record" if not asserted else unverified or \
                f"underpowered in all {len(asserted)} asserted records (pooled included)"
            # Parts not checked are stated whatever the verdict: never hidden behind another reason.
            out[claim] = dict(info, verdict=NOT_VERIFIED,
                              reason="; ".join(part for part in (why, unchecked, _unchecked_parts(asserted)) if part))
    return out


def count_tests(records: list[dict]) -> int:
    """Statistical tests at level α among the records (per-example and pooled)."""
    return sum(1 for r in records if _asserted(r) and (r.get("test") in STATISTICAL or
                                                        str(r.get("test", "")).endswith("pooled")))


def conclude(claims, records: list[dict], require_verified: bool = True, not_checked: dict | None = None) -> Conclusion:
    """Pooled records, claim verdicts and the budget; ``ok`` is False when a claim failed, when the
    budget is exceeded, or (``require_verified``) when a claim is not verified. ``not_checked``: what the
    procedure's declaration excludes (``claim_verdicts``): not checked, which fails nothing."""
    pooled = pool(records)
    pooled += stratum_pools(claims, records)
    everything = list(records) + pooled
    verdicts = claim_verdicts(claims, everything, not_checked)
    made = count_tests(everything)
    bad = (FAILED, NOT_VERIFIED) if require_verified else (FAILED,)
    ok = made <= MAX_ASSERTIONS_PER_RUN and all(v["verdict"] not in bad for v in verdicts.values())
    return Conclusion(pooled=pooled, claims=verdicts, tests_made=made, budget_spent=made * ALPHA, ok=ok)


def budget_line(c: Conclusion) -> str:
    state = "within" if c.tests_made <= MAX_ASSERTIONS_PER_RUN else "EXCEEDS"
    return (f"false-failure budget: {c.tests_made} tests at α = {ALPHA:.1e} (Bonferroni) spend "
            f"{c.budget_spent:.2e} of {RUN_BUDGET:g} per run ({state} the budget)")
