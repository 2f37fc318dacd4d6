"""False-alarm rate of ``reporting.compare`` under "nothing changed", by simulation from a real run.

Two full check runs of the same code and seed are identical, so their comparison cannot show a false
alarm; two runs that differ only in their randomness (another torch build, another implementation of
the procedure) can. This script builds such pairs from one results.json: each simulated run A*, B*
resamples every record's per-pair values with replacement from that record's own pairs (the same
setting, so the same law), and every record-level number (coverage, detects, C_ξ, slopes, …)
from the records of the same claim, check and statistic; bounds, formulas of the setting, are kept.
The claim verdicts are concluded again from the resampled records (``reporting.verdicts.conclude``),
so a verdict that flips by chance counts too. A* and B* are then exchangeable by construction, and
every claim flagged ``regressed`` (or ``improved``) is a false alarm.

    python benchmarks/compare_false_alarms.py reports/baseline --pairs 40
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reporting.compare import compare_runs, load_run  # noqa: E402
from reporting.verdicts import POOLED_CHECK, conclude  # noqa: E402

#: Record-level numbers resampled across the records of one (claim, check, statistic).
RESAMPLED = ("coverage", "detects", "xi_ratio_max", "slope", "predicted_flip")


def simulated_run(doc: dict, rng: np.random.Generator, verdicts: bool = True) -> dict:
    records = [copy.deepcopy(r) for r in doc["records"] if r.get("check") != POOLED_CHECK]
    groups = defaultdict(list)
    for r in records:
        groups[(r["claim"], r["check"], r["statistic"])].append(r)
    for group in groups.values():
        for name in RESAMPLED:
            pool = [r[name] for r in group if isinstance(r.get(name), (int, float))]
            for r in group:
                if isinstance(r.get(name), (int, float)):
                    r[name] = float(rng.choice(pool))
    for r in records:
        values = r.get("pair_values")
        if values:
            r["pair_values"] = [float(v) for v in rng.choice(values, size=len(values))]
            r["value"] = float(np.mean(r["pair_values"]))
    if not verdicts:
        return dict(doc, records=records)
    claims = sorted({r["claim"] for r in records})
    conclusion = conclude(claims, records, require_verified=False)
    table = {c: dict(doc["claims"].get(c, {}), verdict=v["verdict"]) for c, v in conclusion.claims.items()}
    return dict(doc, records=records + conclusion.pooled, claims=table)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a results.json or reports/<run>/ folder")
    parser.add_argument("--pairs", type=int, default=40, help="simulated pairs of runs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the counts as JSON here")
    parser.add_argument("--keep-verdicts", action="store_true",
                        help="keep the run's claim verdicts instead of concluding them again (much faster)")
    args = parser.parse_args(argv)
    doc = load_run(args.run, "run")
    rng = np.random.default_rng(args.seed)
    alarms, claims, quantities, started = Counter(), 0, Counter(), time.time()
    for _ in range(args.pairs):
        verdicts = not args.keep_verdicts
        out = compare_runs(simulated_run(doc, rng, verdicts), simulated_run(doc, rng, verdicts))
        flagged = [c for c, row in out["claims"].items() if row["status"] in ("regressed", "improved")]
        alarms["comparisons with an alarm"] += bool(flagged)
        alarms["regressed comparisons"] += out["regressed"]
        claims += len(out["claims"])
        for c in flagged:
            quantities[c] += 1
    result = {"pairs": args.pairs, "verdicts_concluded_again": not args.keep_verdicts, "claims_compared": claims, "alarms": dict(alarms), "per_claim": dict(quantities),
              "rate_any_alarm": alarms["comparisons with an alarm"] / args.pairs,
              "rate_regressed": alarms["regressed comparisons"] / args.pairs, "seconds": time.time() - started}
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
