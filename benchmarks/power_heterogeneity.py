"""Is each stated ``detects`` earned? Power at the stated violation under heterogeneous alternatives.

A record's ``detects`` claims: a true mean this far beyond the bound is rejected with probability ≥ 0.9.
This script checks that claim independently of ``theory.power``'s search, on a real run's records:

1. the per-pair spread real runs show: per claim, the coefficient of variation of the asserted records'
   pair values (what the power model must survive);
2. every asserted betting record of the run, per example and pooled (over a claim and over each stratum,
   rebuilt from the per-example records with ``reporting.pooling``, so with the run's units), is
   re-stated under the current model (``theory.power``), and its power at that ``detects`` is simulated
   with fresh random numbers (seed 7) under two alternatives: per-unit values from a Beta whose mean
   is the stated violation (shifted, or scaled for a ratio target, from each unit's own bound) and whose
   spread is max(observed, CV × mean) for CV 1 and CV 3, binomial over a share's covered inputs; the
   test is the record's own (``theory.betting.log_capital`` at its α, two-sided at α/2 per side).

The acceptance rule: power ≥ 0.85 under both alternatives at every stated ``detects``. A record that
cannot state a finite ``detects`` states none ("never") and is underpowered.

    python benchmarks/power_heterogeneity.py reports/baseline/results.json.gz --out benchmarks/results/power_heterogeneity.json
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

from perturbation_learning.files import atomic_write_text, json_clean  # noqa: E402
from reporting import pooling  # noqa: E402
from reporting.budget import pooled_level  # noqa: E402
from theory.betting import log_capital  # noqa: E402
from theory.power import beta_draws, betting_detects, power_spread, share_counts  # noqa: E402
from theory.tolerances import ALPHA, power_target  # noqa: E402

CVS = (1.0, 3.0)
ACCEPT = 0.85


def load(path: Path) -> dict:
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt") as fh:
        return json.load(fh)


def observed_cv(records: list[dict]) -> dict:
    """Per claim: the coefficient of variation (sd/mean) of each asserted record's pair values."""
    out = defaultdict(list)
    for r in records:
        v = np.asarray(r.get("pair_values") or [], dtype=float)
        if r.get("test") == "betting" and v.size > 1 and v.mean() > 0:
            x = v if r.get("side") != "at least" else 1 - v
            if x.mean() > 0:
                out[r["claim"]].append(float(x.std(ddof=1) / x.mean()))
    return {c: {"records": len(x), "median": float(np.median(x)), "max": float(max(x))} for c, x in sorted(out.items())}


def simulated_power(bounds, spreads, counts, alpha, side, shift, ratio, cv, repeats, rng) -> float:
    """Rejection rate of the betting test at ``alpha`` when unit i has true (oriented) mean b_i + shift or
    b_i·ratio, drawn from a Beta of spread max(s_i, cv × mean) and binomial over counts_i inputs."""
    b = np.asarray(bounds, dtype=float)
    b = b if side == "at most" else 1 - b
    means = np.minimum(b * ratio if ratio else b + shift, 1.0)
    n = b.size
    u = rng.random((repeats, n))
    x = np.empty((repeats, n))
    for i in range(n):
        x[:, i] = beta_draws(means[i], min(max(spreads[i], cv * means[i]), 0.5), u[:, i])
    c = share_counts(counts, n)
    shares = c > 0
    if shares.any():
        x[:, shares] = rng.binomial(c[shares], x[:, shares]) / c[shares]
    return float((log_capital(x, b, alpha).max(axis=-1) >= math.log(1 / alpha)).mean())


def restate(rec: dict) -> dict:
    """A per-example betting record with ``detects`` under the current model (verdicts as the run's)."""
    v = rec["pair_values"]
    side = "at most" if rec["side"] == "both" else rec["side"]
    alpha = (rec.get("alpha") or ALPHA) / (2 if rec["side"] == "both" else 1)
    det = betting_detects(len(v), rec["bound"], alpha, power_spread(v, rec["bound"]), side, rec.get("pair_counts"))
    target = power_target(rec["power_target"])
    reached = target.reached(det if math.isfinite(det) else None, rec["bound"], side)
    return dict(rec, detects=det if math.isfinite(det) else None, verdict="pass" if reached else "underpowered")


def cases(doc: dict):
    """(label, units' bounds, spreads, counts, α, side, shift, ratio, stated detects, verdict) per
    asserted betting record, per example and pooled."""
    per_example = [restate(r) for r in doc["records"] if pooling.is_asserted(r) and r.get("pair_values")
                   and r.get("check") not in (pooling.POOLED_CHECK, pooling.STRATUM_CHECK)
                   and r.get("test") in ("betting", "betting, two-sided") and 0 < r["bound"] < 1]
    for r in per_example:
        side = "at most" if r["side"] == "both" else r["side"]
        alpha = (r.get("alpha") or ALPHA) / (2 if r["side"] == "both" else 1)
        spread = power_spread(r["pair_values"], r["bound"])
        n = len(r["pair_values"])
        shift = None if r["detects"] is None else abs(r["detects"] - r["bound"])
        yield (f"{r['claim']} {r['check']}", [r["bound"]] * n, [spread] * n, r.get("pair_counts"), alpha, side,
               shift, None, r["detects"], r["verdict"])
    claims = sorted({r["claim"] for r in per_example})
    jobs = [(*g, None) for g in pooling.pool_groups(per_example)] + pooling.stratum_groups(claims, per_example)
    alpha = pooled_level(len(jobs))
    for claim, test, group, names in jobs:
        if test == "clopper-pearson":
            continue
        units = pooling.units_of(group)
        rec = pooling.pooled_record_of(claim, test, group, alpha)
        side = "at most" if rec["side"] == "both" else rec["side"]
        a = alpha / (2 if rec["side"] == "both" else 1)
        ratio = power_target(rec["power_target"]).rule == "factor"
        det, bound = rec["detects"], rec["bound"]
        shift = None if det is None or ratio else abs(det - bound)
        k = None if det is None or not ratio else (det / bound if side == "at most" else (1 - det) / (1 - bound))
        label = f"{claim} pooled" + (f" [{', '.join(names)}]" if names else "")
        yield (label, units.bounds, units.spreads, units.counts, a, side, shift, k, det, rec["verdict"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a results.json or results.json.gz")
    ap.add_argument("--repeats", type=int, default=400)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    doc = load(args.run)
    rng = np.random.default_rng(7)
    rows = []
    for label, bounds, spreads, counts, alpha, side, shift, ratio, det, verdict in cases(doc):
        if det is None:
            rows.append({"record": label, "units": len(bounds), "detects": None, "verdict": verdict})
            continue
        powers = {f"cv{cv:g}": simulated_power(bounds, spreads, counts, alpha, side, shift or 0.0, ratio, cv,
                                               args.repeats, rng) for cv in CVS}
        rows.append({"record": label, "units": len(bounds), "detects": det, "verdict": verdict, **powers})
        print(f"{label[:70]:70s} {len(bounds):4d} units  detects {det:.4g}  "
              + "  ".join(f"{k} {v:.3f}" for k, v in powers.items()) + f"  {verdict}", flush=True)
    stated = [r for r in rows if r["detects"] is not None]
    short = [r for r in stated if min(r[f"cv{cv:g}"] for cv in CVS) < ACCEPT]
    result = {"run": str(args.run), "repeats": args.repeats, "cvs": CVS, "accept": ACCEPT,
              "observed_cv": observed_cv(doc["records"]), "records": rows, "stated": len(stated),
              "below_accept": len(short), "min_power": {f"cv{cv:g}": min(r[f"cv{cv:g}"] for r in stated)
                                                       for cv in CVS} if stated else None,
              "verdicts": {v: sum(r["verdict"] == v for r in rows) for v in sorted({r["verdict"] for r in rows})}}
    print(json.dumps({k: v for k, v in result.items() if k != "records"}, indent=1))
    if args.out:
        atomic_write_text(args.out, json.dumps(json_clean(result), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
