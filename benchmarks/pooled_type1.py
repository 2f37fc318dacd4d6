"""Type-I error of the claim-level pooled betting test at a real run's duplication structure.

A pooled test is valid over independent pairs; two records of one seed are one pair counted twice
(STATISTICS.md, "Pooling across examples"). This script takes a results.json, rebuilds every pooled
group of ``reporting.verdicts.pool`` (claim, statistic, side, power target) with the seed of each pair
value, and simulates the null at the bound: each distinct seed (unit) draws one value from a Beta with
mean its bound and spread max(observed, b/2), binomial over 200 inputs (``theory.power.share_model``),
and every copy of the unit carries that value. It then counts how often the pooled test rejects

- "copies": every pair value is a pair (the pooled test before units), and
- "units": each seed once, with the mean of its copies (``reporting.verdicts.units_of``).

Records without ``pair_seeds`` (results.json format 2) take their first len(pair_values) seeds: the
seeds of the pairs whose value was kept, when none was dropped (approximate otherwise; stated).

    python benchmarks/pooled_type1.py reports/baseline/results.json.gz --repeats 20000
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reporting.pooling import POOLED_CHECK, STRATUM_CHECK, is_asserted  # noqa: E402
from theory.betting import log_capital  # noqa: E402
from theory.power import beta_draws, power_spread  # noqa: E402
from theory.tolerances import ALPHA  # noqa: E402

INPUTS = 200


def load(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return json.load(fh)


def groups(doc: dict) -> dict:
    """(claim, statistic) → [(seed, bound, spread)] per pair value, in the pooled test's order."""
    out = defaultdict(list)
    recs = [r for r in doc["records"] if is_asserted(r) and r.get("check") not in (POOLED_CHECK, STRATUM_CHECK)
            and r.get("pair_values") and r.get("test") == "betting" and r.get("side") == "at most"]
    for r in sorted(recs, key=lambda r: (r.get("nodeid") or "", r.get("check") or "", (r.get("seeds") or [0])[0])):
        values = r["pair_values"]
        seeds = r.get("pair_seeds") or (r.get("seeds") or [])[:len(values)]
        if len(seeds) != len(values):
            seeds = [f"{r['check']}/{i}" for i in range(len(values))]       # unknown: counted as distinct
        spread = power_spread(values, r["bound"])
        out[(r["claim"], r["statistic"])].extend((s, r["bound"], spread) for s in seeds)
    return {k: v for k, v in out.items() if len({s for s, _, _ in v}) >= 2}


def rejection_rates(entries: list, repeats: int, alpha: float, rng: np.random.Generator) -> tuple:
    keys = list(dict.fromkeys(s for s, _, _ in entries))
    index = {k: i for i, k in enumerate(keys)}
    unit_of = np.array([index[s] for s, _, _ in entries])
    bounds = np.array([b for _, b, _ in entries])
    unit_bound = np.bincount(unit_of, bounds) / np.bincount(unit_of)
    unit_spread = np.array([max(sp for s, _, sp in entries if s == k) for k in keys])
    u = rng.random((repeats, len(keys)))
    p = np.column_stack([beta_draws(b, max(sp, b / 2), u[:, j]) for j, (b, sp) in
                         enumerate(zip(unit_bound, unit_spread))])
    x_units = rng.binomial(INPUTS, p) / INPUTS
    level = math.log(1 / alpha)
    copies = (log_capital(x_units[:, unit_of], bounds, alpha).max(axis=-1) >= level).mean()
    once = (log_capital(x_units, unit_bound, alpha).max(axis=-1) >= level).mean()
    return len(entries), len(keys), float(copies), float(once)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a results.json or results.json.gz")
    ap.add_argument("--repeats", type=int, default=20000)
    ap.add_argument("--alpha", type=float, default=ALPHA)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write the table as JSON here")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rows = []
    for (claim, statistic), entries in sorted(groups(load(args.run)).items()):
        n, k, copies, once = rejection_rates(entries, args.repeats, args.alpha, rng)
        rows.append(dict(claim=claim, statistic=statistic, pair_values=n, units=k, copies=copies, units_once=once))
        print(f"{claim:4s} {n:4d} values {k:4d} units  copies {copies:.2e}  units {once:.2e}  {statistic[:60]}")
    dup = [r for r in rows if r["units"] < r["pair_values"]]
    print(f"{len(dup)} of {len(rows)} groups hold copies; α = {args.alpha:.1e}, {args.repeats} repeats, "
          f"largest rate: copies {max((r['copies'] for r in rows), default=0):.2e}, "
          f"units {max((r['units_once'] for r in rows), default=0):.2e}")
    if args.out:
        args.out.write_text(json.dumps(dict(run=str(args.run), alpha=args.alpha, repeats=args.repeats,
                                            inputs=INPUTS, groups=rows), indent=1))


if __name__ == "__main__":
    main()
