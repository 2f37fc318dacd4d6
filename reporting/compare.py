"""Compare two check runs claim by claim: what moved between a baseline A and a run B.

Records are matched by (claim, check, statistic, setting, seeds); a record in one run only is ``new``
or ``gone`` and enters no test. Per claim, from the matched records:

- the claim verdict (and, where the verdict carries them, its strata): a move down the order
  failed < not verified < observation-only = verified is a regression;
- the pooled per-pair values of every (statistic, side): violation shares, chance-level controls and
  coverage floors, paired pair by pair (same seed);
- per record: the coverage of the conditions, the bound, ``detects`` (as its gap to the bound), the
  fitted constants C_ξ (D1), C_L (L1, P2) and C_flip (L2, as ``reporting.analysis`` defines them), the
  log-log slopes, and an identity's worst deviation over its rounding tolerance (K1, K2, R1–R5).

Each quantity is compared by the paired permutation test (``theory.stats.paired_permutation_test``):
matched units have the same setting and seeds, so under "nothing changed" (the same code, or two
implementations of one procedure) the two values of a unit are exchangeable, and the test is exact
whatever the unit's law; units pooled from different settings need not share one. The false-alarm
budget is FAMILY_ALPHA for the whole comparison: Holm's step-down over every test made (claims ×
quantities); a bound, a formula of the setting, is judged by its tolerance alone (``FORMULAS``). A
quantity moved by less than its tolerance (``TOLERANCES``) is ``unchanged`` even when
significant; a significant move beyond it is ``regressed`` when it goes toward failure (a larger
violation share, a looser bound, a lower coverage, a larger ``detects`` gap, a larger constant, a mean
further from its chance level), else ``improved``. The same run twice gives no difference at all.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from theory.stats import holm, paired_permutation_test

from .analysis import claim_order, finite, finite_list, lazy_error_points
from .verdicts import FAILED, NOT_VERIFIED, POOLED_CHECK, VERIFIED
from .writer import FORMAT_VERSION

#: Family-wise false-alarm rate of one comparison (Holm over every test it makes): a CI job that
#: compares against its baseline on every commit flags an unchanged claim at most once in 100 runs.
#: Measured (benchmarks/compare_false_alarms.py, 200 simulated null pairs of the seed-0 ci run, 44 tests
#: each): 0 of 200 comparisons flagged a claim (95% upper bound 1.5%).
FAMILY_ALPHA = 0.01
#: Random swap patterns per test when 2^n is larger: the smallest p-value 1e-4 stays below Holm's
#: smallest threshold FAMILY_ALPHA / k for the ≈ 60 tests of a ci run.
N_RESAMPLES = 10_000
#: Practical tolerances: a move smaller than this is ``unchanged`` whatever its p-value. (absolute, relative):
#: the tolerance is max(absolute, relative × |baseline value|). Shares: a tenth of P1's bound 3δ = 0.03;
#: coverage: 0.02 of the tested inputs; bounds: 1% (they are formulas of the setting, a change is a
#: change of theory); detects and constants: 10% (they are extremes or power simulations, which
#: move more than means); slopes: 0.05 on a log-log scale; an identity's worst deviation over its rounding
#: tolerance (K1, K2, R1–R5): 0.1, since rounding differs between builds and implementations far below 1.
TOLERANCES = {"share": (0.003, 0.1), "coverage": (0.02, 0.0), "bound": (0.0, 0.01), "detects": (0.0, 0.1),
              "constant": (0.0, 0.1), "slope": (0.05, 0.0), "rounding": (0.1, 0.0)}
STATUSES = ("regressed", "improved", "unchanged", "new", "gone")
#: Quantities that are formulas of the setting (δ, t, d, N, m), not estimates: the same setting gives the
#: same value, so a move beyond the tolerance is a change of the theory, judged without a test (a test over
#: the few records of a claim could not reject: 8 records give p ≥ 2/2⁸ before Holm).
FORMULAS = ("bound",)
#: A claim verdict's rank: a lower rank is nearer failure.
_RANK = {FAILED: 0, "FAIL": 0, NOT_VERIFIED: 1, "invalid runs only": 1, "observation-only": 2,
         "observed outside the assumption only": 2, VERIFIED: 3, "verified inside the assumption": 3}


def load_run(path, name: str = "run") -> dict:
    """results.json of a run (the file, gzipped or not, or a reports/<run>/ folder holding it); ValueError
    naming ``name`` when it is missing, not JSON, or of another format version."""
    p = Path(path)
    if p.is_dir():
        p = next((p / f for f in ("results.json", "results.json.gz") if (p / f).is_file()), p / "results.json")
    if not p.is_file():
        raise ValueError(f"{name}: no results.json at {path}")
    try:
        # The committed baseline is gzipped (a few hundred kB instead of 2 MB).
        doc = json.loads(gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_text())
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{name}: {p} is not a readable results.json ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
        raise ValueError(f"{name}: {p} has no records list, is not a check run's results.json")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{name}: {p} has format_version {doc.get('format_version')!r}, this reader reads "
                         f"{FORMAT_VERSION}; regenerate it with this checkout")
    return dict(doc, source=str(p))


def record_key(r: dict) -> tuple:
    return (r["claim"], r["check"], r["statistic"], json.dumps(r.get("setting"), sort_keys=True),
            tuple(r.get("seeds") or ()))


def match_records(a: list[dict], b: list[dict]):
    """(matched [(ra, rb)], gone [ra], new [rb]) over the per-example records (pooled ones excluded)."""
    def grouped(rs):
        out = defaultdict(list)
        for r in rs:
            if r.get("check") != POOLED_CHECK:
                out[record_key(r)].append(r)
        return out
    ga, gb = grouped(a), grouped(b)
    matched, gone, new = [], [], []
    for key in sorted(set(ga) | set(gb), key=str):
        xs, ys = ga.get(key, []), gb.get(key, [])
        matched += list(zip(xs, ys))
        gone += xs[len(ys):]
        new += ys[len(xs):]
    return matched, gone, new


def _paired_pairs(ra: dict, rb: dict) -> tuple[list, list]:
    """The per-pair values of two matched records, paired by seed where the seeds align with the
    values, else by position (the first pairs of a setting that trained more batches in one run)."""
    va, vb = ra.get("pair_values") or [], rb.get("pair_values") or []
    sa, sb = ra.get("seeds") or [], rb.get("seeds") or []
    if len(sa) == len(va) and len(sb) == len(vb) and len(set(sa)) == len(sa) and len(set(sb)) == len(sb):
        by_seed = dict(zip(sb, vb))
        common = [(x, by_seed[s]) for s, x in zip(sa, va) if s in by_seed]
        return [c[0] for c in common], [c[1] for c in common]
    n = min(len(va), len(vb))
    return list(va[:n]), list(vb[:n])


def _worse_sign(kind: str, side, ref):
    """How a move is judged: +1 higher is worse, −1 lower is worse, ("toward", ref) further from ref is worse."""
    if kind == "share":
        return {"at most": 1, "at least": -1, "above": -1}.get(side, ("toward", ref))
    if kind == "bound":
        return {"at most": 1, "at least": -1}.get(side)
    return {"coverage": -1, "detects": 1, "constant": 1, "rounding": 1}.get(kind, ("toward", ref))


@dataclass
class Quantity:
    """One compared quantity of one claim, with its paired units."""

    claim: str
    name: str
    kind: str
    statistic: str          # "mean" or "max"
    worse: object           # see _worse_sign
    a: list = field(default_factory=list)
    b: list = field(default_factory=list)
    result: dict | None = None


def _unit_values(rec: dict) -> dict:
    """Per-record values: (kind, name, statistic, worse, value) of one record."""
    out = []
    side, bound = rec.get("side"), finite(rec.get("bound"))
    cov = finite(rec.get("coverage"))
    if cov is not None and rec.get("test") != "betting (coverage above floor)":
        out.append(("coverage", "coverage", "mean", -1, cov))
    if bound is not None and side in ("at most", "at least") and rec.get("test") != "exact":
        out.append(("bound", f"bound: {rec['statistic']}", "mean", _worse_sign("bound", side, None), bound))
    det = finite(rec.get("detects"))
    if det is not None and bound is not None and side in ("at most", "at least", "both"):
        out.append(("detects", f"detects gap: {rec['statistic']}", "mean", 1, abs(det - bound)))
    value = finite(rec.get("value"))
    if rec.get("test") == "exact" and value is not None and bound:
        # An identity up to rounding (K1, K2, R1–R5): the worst deviation over its tolerance.
        out.append(("rounding", "worst deviation / tolerance", "max", 1, value / bound))
    xi = finite(rec.get("xi_ratio_max"))
    if xi is not None:
        out.append(("constant", "C_ξ", "max", 1, xi))
    for p in lazy_error_points([{"claim": rec["claim"], "kappa": rec.get("kappa"), "value": rec.get("value")}]):
        if p["kappa"] > 0:
            out.append(("constant", "C_L", "max", 1, p["error"] / p["kappa"]))
    flip = finite(rec.get("predicted_flip"))
    if flip and value is not None:
        out.append(("constant", "C_flip", "max", 1, value / flip))
    slope = finite(rec.get("slope"))
    if slope is not None:
        # A bound 0 is a "falls" claim (D4: the slope's interval below 0), so a higher slope is worse; any
        # other bound is a rate the slope should equal (K3: −1/2), so a slope further from it is worse.
        worse = 1 if bound == 0 else ("toward", bound if bound is not None else slope)
        out.append(("slope", f"slope: {rec.get('axis') or rec['statistic']}", "mean", worse, slope))
    return out


def quantities(matched: list) -> list[Quantity]:
    """Every compared quantity, claim by claim, filled with its paired units."""
    qs: dict = {}

    def q(claim, name, kind, statistic, worse):
        key = (claim, name)
        if key not in qs:
            qs[key] = Quantity(claim, name, kind, statistic, worse)
        return qs[key]

    for ra, rb in matched:
        claim = ra["claim"]
        if ra.get("pair_values") and rb.get("pair_values"):
            xa, xb = _paired_pairs(ra, rb)
            kind = "coverage" if ra.get("side") == "above" else "share"
            name = f"pooled {ra['statistic']} ({ra.get('side')})"
            worse = _worse_sign("share", ra.get("side"), finite(ra.get("bound")))
            qq = q(claim, name, kind, "mean", worse)
            qq.a += xa
            qq.b += xb
        ua, ub = _unit_values(ra), _unit_values(rb)
        names_b = {(u[0], u[1]): u for u in ub}
        for kind, name, statistic, worse, value in ua:
            if (kind, name) in names_b:
                qq = q(claim, name, kind, statistic, worse)
                qq.a.append(value)
                qq.b.append(names_b[(kind, name)][4])
    return list(qs.values())


def tolerance(kind: str, baseline: float) -> float:
    absolute, relative = TOLERANCES[kind]
    return max(absolute, relative * abs(baseline))


def _judge(q: Quantity, adjusted, alpha: float) -> str:
    r = q.result
    if r["diff"] == 0 or abs(r["diff"]) <= r["tolerance"] or (adjusted is not None and adjusted > alpha):
        return "unchanged"
    if isinstance(q.worse, tuple):
        ref = q.worse[1]
        worse = abs(r["b"] - ref) > abs(r["a"] - ref)
    else:
        worse = q.worse * r["diff"] > 0
    return "regressed" if worse else "improved"


def verdict_rank(verdict) -> int | None:
    v = verdict.get("verdict") if isinstance(verdict, dict) else verdict
    if not isinstance(v, str):
        return None
    return next((rank for prefix, rank in sorted(_RANK.items(), key=lambda kv: -len(kv[0])) if v.startswith(prefix)),
                None)


def _verdict_moves(claim: str, ra: dict, rb: dict) -> list[dict]:
    """The claim verdict, and each stratum's verdict where both runs have them."""
    pairs = [("verdict", ra.get("verdict"), rb.get("verdict"))]
    sa, sb = ra.get("strata"), rb.get("strata")
    if isinstance(sa, dict) and isinstance(sb, dict):
        pairs += [(f"verdict [{k}]", sa[k], sb[k]) for k in sorted(set(sa) & set(sb), key=str)]
    out = []
    for name, va, vb in pairs:
        ka, kb = verdict_rank(va), verdict_rank(vb)
        status = "unchanged" if ka is None or kb is None or ka == kb else ("regressed" if kb < ka else "improved")
        show = [v.get("verdict") if isinstance(v, dict) else v for v in (va, vb)]
        out.append({"claim": claim, "name": name, "kind": "verdict", "a": show[0], "b": show[1], "status": status})
    return out


def _meta_differences(ma: dict, mb: dict) -> dict:
    keys = ("git_revision", "procedure", "profile", "hypothesis_seed", "versions", "format_version")
    return {k: [ma.get(k), mb.get(k)] for k in keys if ma.get(k) != mb.get(k)}


def compare_runs(a: dict, b: dict, *, allow_profile_mismatch: bool = False, alpha: float = FAMILY_ALPHA,
                 n_resamples: int = N_RESAMPLES) -> dict:
    """The claim-by-claim comparison of baseline ``a`` and run ``b`` (``load_run`` documents); a JSON-able
    dict with ``claims`` (claim → status, verdicts, quantities) and ``summary``."""
    for name, doc in (("a", a), ("b", b)):
        if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
            raise TypeError(f"{name} must be a results.json document (a dict with a records list)")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha == {alpha}, must be in (0, 1) (family-wise false-alarm rate)")
    ma, mb = a.get("meta") or {}, b.get("meta") or {}
    if ma.get("profile") != mb.get("profile") and not allow_profile_mismatch:
        raise ValueError(f"profiles differ: {ma.get('profile')!r} (a) and {mb.get('profile')!r} (b); their "
                         f"examples differ in size, pass allow_profile_mismatch to compare anyway")
    matched, gone, new = match_records(a["records"], b["records"])
    qs = [q for q in quantities(matched) if q.a]
    for q in qs:
        t = paired_permutation_test(q.a, q.b, q.statistic, n_resamples=n_resamples)
        q.result = {"n": t.n, "a": t.a, "b": t.b, "diff": t.diff, "pvalue": t.pvalue, "null": [t.null_low, t.null_high],
                    "tolerance": tolerance(q.kind, t.a)}
    # An identical quantity makes no test, nor does a formula.
    tested = [q for q in qs if q.result["diff"] != 0 and q.kind not in FORMULAS]
    adjusted = holm([q.result["pvalue"] for q in tested], alpha).adjusted if tested else []
    for q, adj in zip(tested, adjusted):
        q.result["adjusted"] = float(adj)
    claims_a, claims_b = a.get("claims") or {}, b.get("claims") or {}
    names_a = set(claims_a) | {r["claim"] for r in a["records"]}
    names_b = set(claims_b) | {r["claim"] for r in b["records"]}
    by_claim = defaultdict(list)
    for q in qs:
        adj = None if q.kind in FORMULAS else q.result.get("adjusted", 1.0)
        by_claim[q.claim].append(dict(q.result, claim=q.claim, name=q.name, kind=q.kind, statistic=q.statistic,
                                      adjusted=adj, status=_judge(q, adj, alpha)))
    out = {}
    for claim in claim_order(names_a | names_b):
        if claim not in names_b or claim not in names_a:
            out[claim] = {"status": "gone" if claim not in names_b else "new", "moves": [], "quantities": []}
            continue
        moves = _verdict_moves(claim, claims_a.get(claim, {}), claims_b.get(claim, {}))
        rows = moves + by_claim.get(claim, [])
        statuses = {r["status"] for r in rows}
        status = "regressed" if "regressed" in statuses else "improved" if "improved" in statuses else "unchanged"
        out[claim] = {"status": status, "verdict": [moves[0]["a"], moves[0]["b"]], "moves": moves,
                      "quantities": by_claim.get(claim, []),
                      "records": {"matched": sum(ra["claim"] == claim for ra, _ in matched),
                                  "gone": sum(r["claim"] == claim for r in gone),
                                  "new": sum(r["claim"] == claim for r in new)},
                      "pooled": _pooled_pairs(claim, a["records"], b["records"])}
    counts = {s: sum(c["status"] == s for c in out.values()) for s in STATUSES}
    differences = sum(1 for q in qs if q.result["diff"] != 0)
    return {"a": _describe(a), "b": _describe(b), "differs": _meta_differences(dict(ma, format_version=a.get(
        "format_version")), dict(mb, format_version=b.get("format_version"))),
        "alpha": alpha, "tests": len(tested), "tolerances": {k: list(v) for k, v in TOLERANCES.items()},
        "records": {"matched": len(matched), "gone": len(gone), "new": len(new)},
        "statistic_differences": differences, "counts": counts, "regressed": counts["regressed"] > 0, "claims": out}


def _describe(doc: dict) -> dict:
    m = doc.get("meta") or {}
    return {"source": doc.get("source"), "run_id": m.get("run_id"), "git_revision": m.get("git_revision", "unknown"),
            "procedure": m.get("procedure"), "profile": m.get("profile"), "seed": m.get("hypothesis_seed"),
            "versions": m.get("versions")}


def _pooled_pairs(claim: str, a: list, b: list) -> list[dict]:
    """The claim's pooled records of both runs, per statistic: value, interval, bound (for the figure)."""
    def pooled(rs):
        return {r["statistic"]: r for r in rs if r.get("check") == POOLED_CHECK and r["claim"] == claim}
    pa, pb = pooled(a), pooled(b)
    out = []
    for stat in sorted(set(pa) | set(pb)):
        row = {"statistic": stat}
        for name, p in (("a", pa.get(stat)), ("b", pb.get(stat))):
            row[name] = None if p is None else {"value": finite(p.get("value")), "bound": finite(p.get("bound")),
                                                "ci": finite_list(p.get("ci"))[:2] or None, "n_pairs": p.get("n_pairs")}
        out.append(row)
    return out


def headline(q: dict) -> str:
    """One quantity's move, e.g. 'coverage 0.431 → 0.203 (Δ −0.228, p_adj 1e-04)'."""
    if q["kind"] == "verdict":
        return f"verdict {q['a']} → {q['b']}"
    return (f"{q['name']} {q['a']:.4g} → {q['b']:.4g} (Δ {q['diff']:+.3g}, n {q['n']}, "
            f"{p_shown(q)}, tol {q['tolerance']:.2g})")


def p_shown(q: dict) -> str:
    return "a formula, not tested" if q["adjusted"] is None else f"p_adj {q['adjusted']:.2g}"


def most_telling(claim_row: dict) -> list[dict]:
    """The rows that decided a claim's status: its regressions, else its improvements, else the largest move."""
    rows = claim_row.get("moves", []) + claim_row.get("quantities", [])
    for status in ("regressed", "improved"):
        hit = [r for r in rows if r["status"] == status]
        if hit:
            return hit
    moved = [r for r in claim_row.get("quantities", []) if r["diff"] != 0 and math.isfinite(r["diff"])]
    return sorted(moved, key=lambda r: (r["adjusted"] is not None, r["adjusted"] or 0))[:1]
