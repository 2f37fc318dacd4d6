"""Pooled tests over independent units: the records of one claim and statistic, over all its examples
or over one stratum's, tested as one (``reporting.verdicts`` turns them into verdicts).

Pooled tests. The asserted records of one claim and one statistic (same side, same power target) are
pooled into one betting test over all their pairs (``theory.betting``: valid for independent pairs that
are not identically distributed, each pair against its own record's bound). Pairs enter in the order of
(test node, first seed), which does not depend on their values. Clopper–Pearson pair counts (P3) are
pooled by summing successes and pairs (a sum of independent Bernoulli variables with success
probabilities ≥ p is stochastically larger than Binomial(n, p)). A pooled test has the most power against
a bug that acts in every setting of the claim; per-example records keep power against one that acts in
one setting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from theory.betting import betting_confidence_sequence, betting_test
from theory.power import binomial_detects, pooled_betting_detects, power_spread
from theory.stats import clopper_pearson
from theory.strata import covered_strata, stratum
from theory.tolerances import ALPHA, power_target

from .records import Record, finite

#: Check names of the pooled records: over all of a claim's examples, and over one stratum's.
POOLED_CHECK = "run: pooled over examples"
STRATUM_CHECK = "run: pooled over a stratum"


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


def is_asserted(rec: dict) -> bool:
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


def _pool_betting(claim: str, group: list[dict], alpha: float) -> dict:
    units = units_of(group)
    values, bounds = units.values, units.bounds
    side = group[0]["side"]
    target = power_target(group[0]["power_target"])
    scale = "ratio" if target.rule == "factor" else "shift"
    if side == "both":
        tests = [betting_test(values, bounds, alpha / 2, s) for s in ("at most", "at least")]
        pvalue = min(1.0, 2 * min(t.pvalue for t in tests))
        rejected = any(t.reject for t in tests)
        effect = pooled_betting_detects(bounds, units.spreads, alpha / 2, "at most", scale, units.counts)
    else:
        test = betting_test(values, bounds, alpha, side)
        pvalue, rejected = test.pvalue, test.reject
        effect = pooled_betting_detects(bounds, units.spreads, alpha, side, scale, units.counts)
    reached = not rejected and effect <= target.amount + 1e-12
    rec = _pooled_record(claim, group, float(values.mean()), pvalue, rejected, reached, effect, target.amount,
                         scale, units, float(bounds.mean()), alpha)
    return dict(rec, ci=list(betting_confidence_sequence(values, alpha)))


def _pool_counts(claim: str, group: list[dict], alpha: float) -> dict:
    units = units_of(group)
    successes, n = int(units.first.sum()), len(units.first)
    p_min = group[0]["bound"]
    lo, hi = clopper_pearson(successes, n, 1 - 2 * alpha)
    detects = binomial_detects(n, p_min, alpha, "at least")
    goal = power_target(group[0]["power_target"]).target(p_min, "at least")
    rejected = hi < p_min
    reached = not rejected and detects >= goal - 1e-12
    rec = _pooled_record(claim, group, successes / n, None, rejected, reached, p_min - detects, p_min - goal,
                         "shift", units, p_min, alpha)
    return dict(rec, successes=successes, ci=[lo, hi], test="clopper-pearson, pooled", side="at least")


def _as_mean(effect, bound, side, scale):
    """A shift (or ratio) from a common bound, as the true mean it stands for."""
    if effect is None:
        return None
    if scale == "ratio":
        return effect * bound if side != "at least" else 1 - effect * (1 - bound)
    return bound - effect if side == "at least" else bound + effect


def _pooled_record(claim, group, mean, pvalue, rejected, reached, effect, goal, scale, units: Units,
                   mean_bound, alpha) -> dict:
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
                  value=mean, bound=bound, verdict=verdict, inside=True, alpha=alpha, n_pairs=n, p_value=pvalue,
                  test="betting, pooled", side=side, detects=_as_mean(finite(effect), bound, side, scale),
                  target=_as_mean(goal, bound, side, scale), power_target=first["power_target"],
                  reason=("bound: the mean of the pairs' bounds; " if several else "")
                  + f"{n} independent pairs (one per seed) from {units.entries} pair values of {len(group)} records; "
                  + f"pooled {scale} from each pair's bound: detects {shown}, target {goal:.3g}",
                  pair_values=units.values.tolist(), pair_seeds=units.keys).to_jsonable()


def pool_groups(records: list[dict]) -> list[tuple]:
    """(claim, test, records) per (claim, statistic, side, power target, test) with at least two asserted
    records: one pooled test each."""
    groups = defaultdict(list)
    for rec in sorted(records, key=_order):
        if is_asserted(rec) and rec.get("check") not in (POOLED_CHECK, STRATUM_CHECK) and \
                (rec.get("pair_values") or rec.get("test") == "clopper-pearson"):
            key = (rec["claim"], rec["statistic"], rec.get("side"), rec.get("power_target"), rec.get("test"))
            groups[key].append(rec)
    return [(claim, test, group) for (claim, _, _, _, test), group in sorted(groups.items(), key=lambda kv: kv[0][:2])
            if len(group) >= 2 and test != "betting (coverage above floor)"]


def pooled_record_of(claim: str, test: str, group: list[dict], alpha: float) -> dict:
    return _pool_counts(claim, group, alpha) if test == "clopper-pearson" else _pool_betting(claim, group, alpha)


def pool(records: list[dict], alpha: float = ALPHA) -> list[dict]:
    """One pooled record per (claim, statistic, side, power target) with at least two asserted records."""
    return [pooled_record_of(*g, alpha) for g in pool_groups(records)]


def cell_name(axis: str, value: str) -> str:
    return f"{axis}={value}"


def stratum_groups(claims, records: list[dict]) -> list[tuple]:
    """(claim, test, records, strata) per claim, covered stratum and statistic, where the stratum holds
    two or more records and not all of the claim's (else the per-example or claim-wide test is the same).
    Strata that hold the same records (the explicit examples' corners) share one test, which names them."""
    out = []
    for claim in claims:
        mine = per_example([r for r in records if r.get("claim") == claim and is_asserted(r)])
        cells: dict = defaultdict(list)                     # the records' indices → the strata holding them
        for axis, value in covered_strata(claim):
            held = tuple(i for i, r in enumerate(mine) if stratum(axis, r.get("setting")) == value)
            if 2 <= len(held) < len(mine):
                cells[held].append(cell_name(axis, value))
        out += [(*g, names) for held, names in cells.items() for g in pool_groups([mine[i] for i in held])]
    return out


def stratum_pooled_record(claim, test, group, names, alpha) -> dict:
    rec = pooled_record_of(claim, test, group, alpha)
    return dict(rec, check=STRATUM_CHECK, setting=dict(rec["setting"], strata=names))


def stratum_pools(claims, records: list[dict], alpha: float = ALPHA) -> list[dict]:
    """Per claim and covered stratum, the pooled records of its records in that stratum."""
    return [stratum_pooled_record(*g, alpha) for g in stratum_groups(claims, records)]


def per_example(recs: list[dict]) -> list[dict]:
    return [r for r in recs if r.get("check") not in (POOLED_CHECK, STRATUM_CHECK)]


def in_cell(rec: dict, axis: str, value: str) -> bool:
    if rec.get("check") == STRATUM_CHECK:
        return cell_name(axis, value) in (rec.get("setting") or {}).get("strata", ())
    return stratum(axis, rec.get("setting")) == value
