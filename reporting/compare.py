"""Compare two check runs claim by claim: what moved between a baseline A and a run B.

Records are matched by (claim, check, statistic, setting, seeds); a record in one run only is ``new``
or ``gone`` and enters no test. Per claim, from the matched records:

- the claim verdict (and, where the verdict carries them, its strata): a move down the order
  failed < not verified < not covered = observation-only < verified is a regression;
- the pooled per-pair values of every (statistic, side): violation shares, chance-level controls and
  coverage floors;
- per record: the coverage of the conditions, the bound, ``detects`` (as its gap to the bound), the
  fitted constants C_ξ (D1), C_L (L1, P2) and C_flip (L2, as ``reporting.analysis`` defines them), the
  log-log slopes, and an identity's worst deviation over its rounding tolerance (K1, K2, R1–R5).

Units: one per network pair (STATISTICS.md, "Pooling across examples"). Pair values of one seed
(``reporting.verdicts.pair_units``), in one record or in several checks, are one unit, their mean in each
run, matched across runs by the seed; records whose seeds overlap are one unit of a record-level number
(their mean, or max for the constants). Each quantity is compared by the paired permutation test over
its units (``theory.stats.paired_permutation_test``): under "nothing changed" (the same code, or two
implementations of one procedure) the two values of a unit are exchangeable, so the test is exact whatever
the units' laws. The false-alarm budget is FAMILY_ALPHA for the whole comparison: Holm's step-down over the
tests made. A bound (``FORMULAS``, a formula of the setting) and a quantity whose units cannot give a
p-value below Holm's first threshold α/k are judged by their tolerance alone; the report says which. A
move within its tolerance (``TOLERANCES``) is ``unchanged`` even when significant; a move beyond it
(significant, where tested) is ``regressed`` when it goes toward failure (a larger violation share, a
looser bound, a lower coverage, a larger ``detects`` gap, a larger constant, a mean further from its
chance level), else ``improved``. The same run twice gives no difference at all.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from theory.stats import holm, paired_permutation_test

from .analysis import claim_order, constant_ratios, finite, finite_list
from .verdicts import (FAILED, NOT_COVERED, NOT_VERIFIED, POOLED_CHECK, STRATUM_CHECK, UNDERPOWERED, VERIFIED,
                       pair_units)
from .records import FORMAT_VERSION

#: Family-wise false-alarm rate of one comparison (Holm over every test it makes): a CI job that compares
#: against its baseline on every commit flags an unchanged claim at most once in 100 runs (README, Baselines).
FAMILY_ALPHA = 0.01
#: Random swap patterns per test: B = max(N_RESAMPLES, RESAMPLE_MARGIN·k/α) for k candidate tests, so that
#: the smallest Monte Carlo p-value 1/(1 + B) is RESAMPLE_MARGIN times below Holm's first threshold α/k and
#: a move every unit shows is never lost to the resolution. A test first draws N_RESAMPLES patterns and
#: draws all B only when that p-value is ≤ α: a p-value above α is never rejected by Holm and decides no
#: other rejection, so the screen changes no decision (P(final p ≤ x) ≤ P(second p ≤ x) ≤ x for x ≤ α), and
#: an unchanged quantity costs 10⁴ patterns. (Comparison constants live here, not in theory.tolerances:
#: they set the comparison's budget, not a claim's.)
N_RESAMPLES = 10_000
RESAMPLE_MARGIN = 20
#: Practical tolerances: a move smaller than this is ``unchanged`` whatever its p-value. (absolute, relative):
#: the tolerance is max(absolute, relative × |baseline value|). Shares: a tenth of P1's bound 3δ = 0.03;
#: coverage: 0.02 of the tested inputs; bounds: 1% (they are formulas of the setting, a change is a
#: change of theory); detects: 10% (a power simulation); constants: 20% (extremes over a claim's few units,
#: mostly judged by their tolerance: in 300 unit-resampled null comparisons of the committed baseline, L1's
#: C_L moved by more than 10% in 2.7% and by more than 20% in none, P2's in 17% and 0.7% (95% of its moves
#: under 15%), C_flip by at most 5%); slopes: 0.05 on a log-log scale; an identity's worst deviation over its
#: rounding tolerance (K1, K2, R1–R5): 0.1, since rounding differs between builds and implementations far below 1.
TOLERANCES = {"share": (0.003, 0.1), "coverage": (0.02, 0.0), "bound": (0.0, 0.01), "detects": (0.0, 0.1),
              "constant": (0.0, 0.2), "slope": (0.05, 0.0), "rounding": (0.1, 0.0)}
STATUSES = ("regressed", "improved", "unchanged", "new", "gone")
#: Quantities that are formulas of the setting (δ, t, d, N, m), not estimates: the same setting gives the
#: same value, so a move beyond the tolerance is a change of the theory, judged without a test.
FORMULAS = ("bound",)
#: How a quantity was judged: by the permutation test and Holm, or by its tolerance alone.
JUDGED = {"test": "tested", "identical": "no difference", "formula": "a formula, not tested",
          "few units": "too few units to pass Holm, judged by its tolerance alone"}
#: A verdict's rank: a lower rank is nearer failure. A stratum "not covered by the conditions" is no
#: evidence, so a move to it from verified is a regression; it fails no run, so it ranks above not verified.
_RANK = {FAILED: 0, "FAIL": 0, NOT_VERIFIED: 1, "invalid runs only": 1, NOT_COVERED: 2, "observation-only": 2,
         "observed outside the assumption only": 2, UNDERPOWERED: 3, VERIFIED: 4, "verified inside the assumption": 4}


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
    """(matched [(ra, rb)], gone [ra], new [rb]) over the per-example records (pooled ones, over the examples
    or a stratum, excluded: their numbers are made of the per-example records')."""
    def grouped(rs):
        out = defaultdict(list)
        for r in (r for r in rs if r.get("check") not in (POOLED_CHECK, STRATUM_CHECK)):
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


#: A unit's or a quantity's value from its numbers (plain floats: numpy's reductions on short lists made
#: most of a comparison's time).
_REDUCE = {"mean": lambda xs: math.fsum(xs) / len(xs), "max": lambda xs: float(max(xs))}


def _pair_entries(ra: dict, rb: dict) -> list[tuple]:
    """((seed,), a, b) per seed in both records' pairs: a seed's pairs averaged in each (pairs of one seed
    are one unit), the seeds only one run trained (a setting that trained more batches) left out."""
    def by_seed(rec):
        out = defaultdict(list)
        for s, v in zip(pair_units(rec), rec["pair_values"]):
            out[s].append(float(v))
        return out
    sa, sb = by_seed(ra), by_seed(rb)
    return [((s,), _REDUCE["mean"](sa[s]), _REDUCE["mean"](sb[s])) for s in sa if s in sb]


def _worse_sign(kind: str, side, ref):
    """How a move is judged: +1 higher is worse, −1 lower is worse, ("toward", ref) further from ref is worse."""
    if kind == "share":
        return {"at most": 1, "at least": -1, "above": -1}.get(side, ("toward", ref))
    if kind == "bound":
        return {"at most": 1, "at least": -1}.get(side)
    return {"coverage": -1, "detects": 1, "constant": 1, "rounding": 1}.get(kind, ("toward", ref))


@dataclass
class Quantity:
    """One compared quantity of one claim: its entries ((unit keys), a, b), then its paired units."""

    claim: str
    name: str
    kind: str
    statistic: str          # "mean" or "max"
    worse: object           # see _worse_sign
    entries: list = field(default_factory=list)
    a: list = field(default_factory=list)
    b: list = field(default_factory=list)
    result: dict | None = None

    def unite(self) -> None:
        """One (a, b) per unit: entries linked by shared keys (records whose seeds overlap) are one unit,
        valued by the mean of its entries, or their max for a "max" quantity."""
        parent: dict = {}

        def root(k):
            while parent.setdefault(k, k) != k:
                k = parent[k]
            return k
        for keys, _, _ in self.entries:
            for k in keys[1:]:
                parent[root(k)] = root(keys[0])
        units: dict = defaultdict(lambda: ([], []))
        for keys, a, b in self.entries:
            units[root(keys[0])][0].append(a)
            units[root(keys[0])][1].append(b)
        reduce = _REDUCE[self.statistic]
        self.a = [reduce(xa) for xa, _ in units.values()]
        self.b = [reduce(xb) for _, xb in units.values()]


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
    # The records that enter a fitted constant are the report's (reporting.analysis), so both read one constant.
    out += [("constant", name, "max", 1, ratio) for name, ratio in constant_ratios(rec).items()]
    slope = finite(rec.get("slope"))
    if slope is not None:
        # A bound 0 is a "falls" claim (D4: the slope's interval below 0), so a higher slope is worse; any
        # other bound is a rate the slope should equal (K3: −1/2), so a slope further from it is worse.
        worse = 1 if bound == 0 else ("toward", bound if bound is not None else slope)
        out.append(("slope", f"slope: {rec.get('axis') or rec['statistic']}", "mean", worse, slope))
    return out


def _record_keys(rec: dict) -> tuple:
    """A record-level number's unit keys: its seeds (records that share one are one unit), else itself."""
    return tuple(rec.get("seeds") or ()) or (("record",) + record_key(rec),)


def quantities(matched: list) -> list[Quantity]:
    """Every compared quantity, claim by claim, with its paired units."""
    qs: dict = {}

    def q(claim, name, kind, statistic, worse):
        return qs.setdefault((claim, name), Quantity(claim, name, kind, statistic, worse))

    for ra, rb in matched:
        claim = ra["claim"]
        if ra.get("pair_values") and rb.get("pair_values"):
            kind = "coverage" if ra.get("side") == "above" else "share"
            name = f"pooled {ra['statistic']} ({ra.get('side')})"
            worse = _worse_sign("share", ra.get("side"), finite(ra.get("bound")))
            q(claim, name, kind, "mean", worse).entries += _pair_entries(ra, rb)
        values_b = {(u[0], u[1]): u[4] for u in _unit_values(rb)}
        for kind, name, statistic, worse, value in _unit_values(ra):
            if (kind, name) in values_b:
                q(claim, name, kind, statistic, worse).entries.append((_record_keys(ra), value, values_b[kind, name]))
    for qq in qs.values():
        qq.unite()
    return list(qs.values())


def tolerance(kind: str, baseline: float) -> float:
    absolute, relative = TOLERANCES[kind]
    return max(absolute, relative * abs(baseline))


def p_floor(q: Quantity, n_resamples: int) -> float:
    """The smallest p-value the permutation test can give on q's units: 2/2^m for m units that moved (the
    others swap to themselves), and 1/(1 + B) for B random patterns."""
    moved = sum(x != y for x, y in zip(q.a, q.b))
    exact = len(q.a) <= 30 and 2 ** len(q.a) <= n_resamples
    return 2.0 ** (1 - moved) if exact else max(2.0 ** (1 - moved), 1 / (1 + n_resamples))


def testable(qs: list[Quantity], alpha: float, n_resamples: int) -> list[Quantity]:
    """The quantities worth a test: the m with the smallest floors, m the largest with floor_(m) ≤ α/m, so
    that each could pass Holm's first threshold α/k. Which ones depends on how many units moved, which a
    swap does not change, so choosing them keeps every test exact."""
    ranked = sorted(qs, key=lambda q: p_floor(q, n_resamples))
    m = max((i for i, q in enumerate(ranked, 1) if p_floor(q, n_resamples) <= alpha / i), default=0)
    return ranked[:m]


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


def _test(q: Quantity, alpha: float, n_resamples: int) -> None:
    """The permutation test of q, screened with N_RESAMPLES patterns (see N_RESAMPLES)."""
    t = paired_permutation_test(q.a, q.b, q.statistic, n_resamples=min(n_resamples, N_RESAMPLES))
    if not t.exact and t.pvalue <= alpha and n_resamples > N_RESAMPLES:
        t = paired_permutation_test(q.a, q.b, q.statistic, n_resamples=n_resamples)
    q.result.update(pvalue=t.pvalue, null=[t.null_low, t.null_high], resamples=2 ** t.n if t.exact else n_resamples)


def compare_runs(a: dict, b: dict, *, allow_profile_mismatch: bool = False, alpha: float = FAMILY_ALPHA,
                 n_resamples: int | None = None) -> dict:
    """The claim-by-claim comparison of baseline ``a`` and run ``b`` (``load_run`` documents); a JSON-able
    dict with ``claims`` (claim → status, verdicts, quantities) and ``summary``. ``n_resamples``: swap
    patterns per test, by default max(N_RESAMPLES, RESAMPLE_MARGIN·k/α)."""
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
        va, vb = _REDUCE[q.statistic](q.a), _REDUCE[q.statistic](q.b)
        q.result = {"n": len(q.a), "moved": sum(x != y for x, y in zip(q.a, q.b)), "a": va, "b": vb,
                    "diff": vb - va, "tolerance": tolerance(q.kind, va), "pvalue": None, "null": None}
    # An identical quantity makes no test, nor does a formula, nor one whose units cannot pass Holm.
    candidates = [q for q in qs if q.result["diff"] != 0 and q.kind not in FORMULAS]
    resamples = n_resamples or max(N_RESAMPLES, math.ceil(RESAMPLE_MARGIN * len(candidates) / alpha))
    tested = testable(candidates, alpha, resamples)
    for q in tested:
        _test(q, alpha, resamples)
    adjusted = holm([q.result["pvalue"] for q in tested], alpha).adjusted if tested else []
    for q, adj in zip(tested, adjusted):
        q.result["adjusted"] = float(adj)
    claims_a, claims_b = a.get("claims") or {}, b.get("claims") or {}
    names_a = set(claims_a) | {r["claim"] for r in a["records"]}
    names_b = set(claims_b) | {r["claim"] for r in b["records"]}
    by_claim = defaultdict(list)
    for q in qs:
        judged = "identical" if q.result["diff"] == 0 else "formula" if q.kind in FORMULAS else \
            "test" if "adjusted" in q.result else "few units"
        adj = q.result.get("adjusted")
        by_claim[q.claim].append(dict(q.result, claim=q.claim, name=q.name, kind=q.kind, statistic=q.statistic,
                                      adjusted=adj, judged=judged, status=_judge(q, adj, alpha)))
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
        "alpha": alpha, "tests": len(tested), "tolerance_only": len(candidates) - len(tested), "resamples": resamples,
        "tolerances": {k: list(v) for k, v in TOLERANCES.items()},
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
