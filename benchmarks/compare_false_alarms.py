"""False-alarm rate of ``reporting.compare`` under "nothing changed", by simulation from a real run.

Two full check runs of the same code and seed are identical, so their comparison cannot show a false
alarm; two runs that differ only in their randomness (another torch build, another implementation of
the procedure) can. This script builds such pairs from one results.json, resampling *units* (network
pairs, ``reporting.verdicts.pair_units``), not records: each simulated run A*, B* draws, per unit key, one
uniform u, and every record replaces its pair value at that key by its own value at position ⌊u·n⌋ of its
n pairs (the same setting, so the same law). A seed's copies in several records and checks are drawn
together, so they stay as correlated as in a real run and a comparison that counted them as independent
units would show it. Record-level numbers (coverage, detects, C_ξ, slopes, …) are resampled, by the same
draw, among the records of their law: the records of one claim, check and statistic whose settings differ
only in their seeds (records of other settings are other laws: D1's coverage ranges from 0 to 1 across
them); a record alone in its setting keeps them, except what is computed from its pair values (its value,
so C_L and C_flip). Bounds, formulas of the setting, are kept. Unless
``--keep-verdicts``, the claim verdicts are concluded again from the resampled records
(``reporting.verdicts.conclude``), so a verdict that flips by chance counts too. A* and B* are then
exchangeable by construction, and every claim flagged ``regressed`` (or ``improved``) is a false alarm.

    python benchmarks/compare_false_alarms.py reports/baseline --pairs 300 --keep-verdicts \\
        --out benchmarks/results/compare_false_alarms.json

A results.json of an older format (no ``pair_seeds``) is read with ``with_units``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reporting.compare import compare_runs  # noqa: E402
from reporting.verdicts import POOLED_CHECK, STRATUM_CHECK, conclude, pair_units  # noqa: E402
from reporting.writer import FORMAT_VERSION  # noqa: E402
from theory.stats import clopper_pearson  # noqa: E402

#: Record-level numbers resampled across the records of one law.
RESAMPLED = ("coverage", "detects", "xi_ratio_max", "slope", "predicted_flip")


def with_units(doc: dict) -> dict:
    """``doc`` as the current format: ``pair_seeds`` added where a record with pair values lacks them, its
    ``seeds`` where they align with its values, else first_seed·1000 + i (format 2 kept no finer key)."""
    records = []
    for r in doc["records"]:
        values, r = r.get("pair_values"), dict(r)
        if values and r.get("pair_seeds") is None:
            seeds = list(r.get("seeds") or [])
            first = (r.get("setting") or {}).get("first_seed", seeds[0] if seeds else 0)
            r["pair_seeds"] = seeds if len(seeds) == len(values) else [first * 1000 + i for i in range(len(values))]
        records.append(r)
    return dict(doc, records=records, format_version=FORMAT_VERSION, read_format=doc.get("format_version"))


def load_any(path) -> dict:
    """A results.json (file, gzipped or not, or a folder holding it) of any format, ``with_units``."""
    p = Path(path)
    if p.is_dir():
        p = next(p / f for f in ("results.json", "results.json.gz") if (p / f).is_file())
    doc = json.loads(gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_text())
    return dict(with_units(doc), source=str(p))


def _law(r: dict) -> tuple:
    setting = {k: v for k, v in (r.get("setting") or {}).items() if k != "first_seed"}
    return r["claim"], r["check"], r["statistic"], json.dumps(setting, sort_keys=True)


def simulated_run(doc: dict, rng: np.random.Generator, verdicts: bool = True) -> dict:
    # Shallow copies: every field changed below is replaced, none is changed in place.
    records = [dict(r) for r in doc["records"] if r.get("check") not in (POOLED_CHECK, STRATUM_CHECK)]
    u = defaultdict(rng.random)              # one uniform per unit key, shared by all its records
    groups = defaultdict(list)
    for r in records:
        groups[_law(r)].append(r)
    for group in groups.values():
        sources = [group[int(u[(r.get("seeds") or [None])[0]] * len(group))] for r in group]
        for name in RESAMPLED:
            new = [src.get(name) for src in sources]
            for r, v in zip(group, new):
                if isinstance(r.get(name), (int, float)) and isinstance(v, (int, float)):
                    r[name] = float(v)
    for r in records:
        values = r.get("pair_values")
        if values:
            r["pair_values"] = [float(values[int(u[s] * len(values))]) for s in pair_units(r)]
            r["value"] = float(np.mean(r["pair_values"]))
    if not verdicts:
        return dict(doc, records=records)
    claims = sorted({r["claim"] for r in records})
    conclusion = conclude(claims, records, require_verified=False)
    table = {c: dict(doc["claims"].get(c, {}), verdict=v["verdict"], strata=v["strata"])
             for c, v in conclusion.claims.items()}
    return dict(doc, records=records + conclusion.pooled, claims=table)


def upper_95(k: int, n: int) -> float:
    """One-sided 95% upper confidence bound of a rate seen k times in n (Clopper–Pearson)."""
    return clopper_pearson(k, n, 0.90)[1]


def false_alarms(doc: dict, pairs: int, rng: np.random.Generator, verdicts: bool = True) -> dict:
    """Compare ``pairs`` pairs of simulated runs of ``doc``: how many flagged a claim, which claims and
    quantities, and how many tests and tolerance-only judgements they made."""
    alarms, claims, per_claim, per_quantity, judged = Counter(), 0, Counter(), Counter(), Counter()
    for _ in range(pairs):
        out = compare_runs(*(simulated_run(doc, rng, verdicts) for _ in range(2)))
        flagged = [c for c, row in out["claims"].items() if row["status"] in ("regressed", "improved")]
        alarms["comparisons with an alarm"] += bool(flagged)
        alarms["regressed comparisons"] += out["regressed"]
        claims += len(out["claims"])
        for c in flagged:
            per_claim[c] += 1
            for q in out["claims"][c]["moves"] + out["claims"][c]["quantities"]:
                if q["status"] != "unchanged":
                    per_quantity[f"{c}: {q['name']} ({q.get('judged', 'verdict')})"] += 1
        judged["tests"] += out["tests"]
        judged["tolerance only"] += out["tolerance_only"]
    k = alarms["comparisons with an alarm"]
    return {"pairs": pairs, "claims_compared": claims, "alarms": dict(alarms), "per_claim": dict(per_claim),
            "per_quantity": dict(per_quantity), "mean_tests": judged["tests"] / pairs,
            "mean_tolerance_only": judged["tolerance only"] / pairs, "rate_any_alarm": k / pairs,
            "ci_95_any_alarm": list(clopper_pearson(k, pairs, 0.95)), "upper_95_any_alarm": upper_95(k, pairs),
            "rate_regressed": alarms["regressed comparisons"] / pairs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a results.json or reports/<run>/ folder")
    parser.add_argument("--pairs", type=int, default=40, help="simulated pairs of runs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the counts as JSON here")
    parser.add_argument("--keep-verdicts", action="store_true",
                        help="keep the run's claim verdicts instead of concluding them again (much faster)")
    args = parser.parse_args(argv)
    doc = load_any(args.run)
    started = time.time()
    counts = false_alarms(doc, args.pairs, np.random.default_rng(args.seed), not args.keep_verdicts)
    result = {"run": str(args.run), "read_format": doc["read_format"], "revision": doc["meta"].get("git_revision"),
              "pairs": args.pairs, "seed": args.seed,
              "units": "network pairs (pair_units), resampled jointly across records",
              "verdicts_concluded_again": not args.keep_verdicts, **counts, "seconds": time.time() - started}
    low, high = counts["ci_95_any_alarm"]
    print(f"false alarms: {counts['alarms'].get('comparisons with an alarm', 0)} of {args.pairs} comparisons "
          f"({counts['rate_any_alarm']:.1%}, 95% Clopper–Pearson interval {low:.1%}–{high:.1%}); flagged: "
          + (", ".join(f"{q} ×{n}" for q, n in sorted(counts["per_quantity"].items())) or "none"), file=sys.stderr)
    return emit_result(result, args.out)


def emit_result(result: dict, out) -> int:
    """Print a benchmark's result as JSON and write it to ``out`` (if given); the exit status 0."""
    print(json.dumps(result, indent=1))
    if out:
        Path(out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
