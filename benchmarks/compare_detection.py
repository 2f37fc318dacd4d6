"""Detection rate of ``reporting.compare``: how often a comparison flags a claim after an injected drift.

Each comparison takes two runs simulated under "nothing changed" from one results.json
(``compare_false_alarms.simulated_run``: network pairs resampled jointly across records), injects one
drift of ``DRIFTS`` into the second and counts the comparisons that flag the drifted claim ``regressed``.
The claim verdicts are kept from the run (``--keep-verdicts`` of the false-alarm benchmark), except where
the drift itself is a verdict's move.

    python benchmarks/compare_detection.py reports/baseline --pairs 100 \\
        --out benchmarks/results/compare_detection.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_false_alarms import emit_result, load_any, simulated_run, upper_95  # noqa: E402

from reporting.compare import compare_runs  # noqa: E402
from reporting.verdicts import NOT_COVERED, POOLED_CHECK, STRATUM_CHECK, UNDERPOWERED, VERIFIED  # noqa: E402

COVERAGE_FLOOR = "betting (coverage above floor)"


def _examples(doc: dict, claim: str) -> list[dict]:
    return [r for r in doc["records"] if r["claim"] == claim and r.get("check") not in (POOLED_CHECK, STRATUM_CHECK)]


def share(claim: str, delta: float, records: int | None = None):
    """Every violation share of the claim (per-pair values of its "at most" tests) raised by ``delta``; in
    its first ``records`` such records only, where given (a bug confined to one setting)."""
    def drift(doc):
        shares = [r for r in _examples(doc, claim) if r.get("pair_values") and r.get("side") == "at most"]
        for r in shares[:records]:
            r["pair_values"] = [min(1.0, v + delta) for v in r["pair_values"]]
            r["value"] = float(np.mean(r["pair_values"]))
    return drift


def slope(claim: str, axis: str | None = None, factor: float = 1.0, shift: float = 0.0):
    """The claim's fitted slopes (on ``axis``, where given) made factor·slope + shift."""
    def drift(doc):
        for r in _examples(doc, claim):
            if r.get("slope") is not None and (axis is None or r.get("axis") == axis):
                r["slope"] = r["value"] = factor * r["slope"] + shift
    return drift


def constant(claim: str, field: str, factor: float):
    """A record-level number of the claim (e.g. D1's ``xi_ratio_max``, its C_ξ) scaled by ``factor``."""
    def drift(doc):
        for r in _examples(doc, claim):
            if r.get(field) is not None:
                r[field] *= factor
    return drift


def coverage(claim: str, delta: float):
    """The claim's mean coverage over its records lowered by ``delta``: every coverage (and the per-pair
    coverages of its coverage-floor records) scaled by 1 − delta/mean, as conditions that select less."""
    def drift(doc):
        recs = [r for r in _examples(doc, claim) if r.get("coverage") is not None]
        factor = 1 - delta / np.mean([r["coverage"] for r in recs])
        for r in recs:
            r["coverage"] *= factor
            if r.get("test") == COVERAGE_FLOOR and r.get("pair_values"):
                r["pair_values"] = [v * factor for v in r["pair_values"]]
                r["value"] = float(np.mean(r["pair_values"]))
    return drift


def not_covered(claim: str):
    """The claim's first stratum with evidence (verified, or not rejected but underpowered) becomes "not
    covered by the conditions"."""
    def drift(doc):
        strata = doc["claims"][claim]["strata"]
        cell = next(k for k in sorted(strata) if str(strata[k]["verdict"]).startswith((VERIFIED, UNDERPOWERED)))
        moved = dict(doc["claims"][claim], strata=dict(strata, **{cell: dict(strata[cell], verdict=NOT_COVERED)}))
        doc["claims"] = dict(doc["claims"], **{claim: moved})        # a simulated run shares its claim table
    return drift


#: (name, claim, drift): the grid of the README's detection table, with drifts at and below the
#: tolerances (share 0.003, slope 0.05, constant 20%, coverage 0.02) to show where detection stops.
DRIFTS = [(f"P4 share +{d}", "P4", share("P4", d)) for d in (0.01, 0.02, 0.05)] + \
    [(f"P1 share +{d}", "P1", share("P1", d)) for d in (0.005, 0.01, 0.02, 0.05)] + [
    ("P1 share +0.05 in one record", "P1", share("P1", 0.05, records=1)),
    ("D4 t-slope halved", "D4", slope("D4", "t", factor=0.5)),
    ("D4 t-slope +0.04", "D4", slope("D4", "t", shift=0.04)),
    ("K3 rate −0.5 → −0.3", "K3", slope("K3", shift=0.2)),
    ("D1 C_ξ ×1.1", "D1", constant("D1", "xi_ratio_max", 1.1)),
    ("D1 C_ξ ×1.25", "D1", constant("D1", "xi_ratio_max", 1.25)),
    ("D1 C_ξ ×1.5", "D1", constant("D1", "xi_ratio_max", 1.5)),
    ("P1 coverage −0.01", "P1", coverage("P1", 0.01)),
    ("P1 coverage −0.05", "P1", coverage("P1", 0.05)),
    ("P1 stratum → not covered", "P1", not_covered("P1")),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a results.json or reports/<run>/ folder")
    parser.add_argument("--pairs", type=int, default=40, help="comparisons per drift (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the rates as JSON here")
    args = parser.parse_args(argv)
    doc = load_any(args.run)
    rng = np.random.default_rng(args.seed)
    rows, started = [], time.time()
    for name, claim, drift in DRIFTS:
        flagged, others = 0, 0
        for _ in range(args.pairs):
            a, b = simulated_run(doc, rng, False), simulated_run(doc, rng, False)
            drift(b)
            out = compare_runs(a, b)
            flagged += out["claims"][claim]["status"] == "regressed"
            others += any(row["status"] != "unchanged" for c, row in out["claims"].items() if c != claim)
        rows.append({"drift": name, "claim": claim, "flagged": flagged, "rate": flagged / args.pairs,
                     "other_claims_flagged": others})
        print(f"{name:36s} {flagged}/{args.pairs}", flush=True)
    k = sum(r["other_claims_flagged"] for r in rows)
    result = {"run": str(args.run), "read_format": doc["read_format"], "revision": doc["meta"].get("git_revision"),
              "pairs": args.pairs, "seed": args.seed, "drifts": rows,
              "comparisons_flagging_another_claim": k, "upper_95_another_claim": upper_95(k, len(rows) * args.pairs),
              "seconds": time.time() - started}
    return emit_result(result, args.out)


if __name__ == "__main__":
    sys.exit(main())
