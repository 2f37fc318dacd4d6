"""Empirical-bound analysis of a run's records: the numbers behind the report's empirical sections.

``analyse(records)`` reads the typed fields of the records (``reporting.records.Record``) and returns
an :class:`Analysis`; ``reporting.figures`` draws it and ``reporting.markdown`` writes it up.

- **D1 residual constant** C_ξ = the largest ``xi_ratio_max`` (‖ξ_n‖ over its scale): the Õ(1)
  of Theorem 3.3 made a number (THEORY.md D1 expects ≈ 1 in the lazy regime), separately for records
  inside L2 and outside it (``inside`` False or verdict "observed").
- **Lazy error per κ** (L1 for f, P2's first link for g): records with a ``kappa`` list give one
  point, their mean relative error ‖f_t − lin‖/‖f_t − f_0‖ against their largest κ; per κ bin the
  largest error, and C_L = max error/κ, the constant of "error = O(κ)".
- **Pattern flips** (L2): max of the measured flip share over ``predicted_flip``.
- **value/bound** per (claim, statistic): the smallest and largest ratio, i.e. the room a bound leaves.
- **log-log slopes** (D4, K3): ``slope`` and ``slope_ci`` as the checks fitted them.
- **agreement** against ``kappa`` and ``c2_margin``: per pair where the lists pair up, else one point
  per record (mean agreement, largest κ / median margin).
- **measured ranges**: min and max per claim of every measured field (``records.MEASURED_FIELDS``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from theory.lazy import KAPPA_MAX

from .margins import claim_order, forest_rows, least_room
from .records import MEASURED_FIELDS, VERDICTS, finite, finite_list
from .scope import CSS_COLORS, domain, scope

#: κ bins for the lazy-error table (upper edges; the last bin is open).
KAPPA_BINS = (0.01, 0.03, 0.1, 0.325, 1.0)


def outside(r: dict) -> bool:
    """Outside the theorem's assumption: the record says so, or it is an observation only."""
    return r["inside"] is False or r["verdict"] == "observed"


@dataclass
class Analysis:
    """The numbers of the empirical sections; ``to_json`` is what results.json keeps."""

    n_records: int
    residual_D1: dict | None
    lazy_points: list
    lazy_error: dict | None
    flips_L2: dict | None
    value_over_bound: dict
    measured_ranges: dict
    slopes: list
    slope_groups: list
    agreement_vs_kappa: list
    agreement_vs_c2_margin: list
    agreement_by_L2: dict | None
    agreement_by_c2_margin: dict | None
    forest: list = field(default_factory=list)       # "claims at a glance": margins.forest_rows
    least_room: list = field(default_factory=list)   # margins.least_room
    constants: list = field(default_factory=list)    # fitted_constants
    domain: dict = field(default_factory=dict)       # scope.domain: the settings each claim was checked on
    setting_points: list = field(default_factory=list)  # setting_points (drawn, not kept in results.json)

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k not in ("lazy_points", "setting_points")}
        out["slope_groups"] = [{k: v for k, v in g.items() if k != "members"} for g in self.slope_groups]
        # The claims whose records are drawn against their bound (now oriented, in the forest plot).
        out["value_vs_bound_claims"] = [r["claim"] for r in self.forest if r.get("margin") is not None]
        return out


#: The central share of the per-record constants a "fitted constant" row shows as its interval.
SPREAD = 0.9


def spread(xs) -> list[float]:
    """The central SPREAD-quantile interval of ``xs`` (per-record ratios, each over its pairs)."""
    q = (1 - SPREAD) / 2
    return [float(np.quantile(xs, q)), float(np.quantile(xs, 1 - q))]


def residual_constant(records: list[dict]) -> dict | None:
    """C_ξ = the largest recorded ``xi_ratio_max`` (D1), separately inside and outside L2."""
    groups: dict = {"inside": [], "outside": []}
    for r in records:
        v = constant_points(r).get("C_ξ")
        if v is None:
            continue
        s = r["setting"]
        groups["outside" if outside(r) else "inside"].append(
            {"value": v, "claim": r["claim"], "d": s.get("d"), "m": s.get("m"), "gamma": s.get("gamma")})
    out = {}
    for name, pts in groups.items():
        if pts:
            best = max(pts, key=lambda p: p["value"])
            out[name] = {"C_xi": best["value"], "n": len(pts), "at": best,
                         "median": float(np.median([p["value"] for p in pts])),
                         "interval": spread([p["value"] for p in pts])}
    return out or None


#: The statistic of L1's parameter-block records starts so: a displacement error, not f's or g's lazy
#: error, so it is no point of the lazy error against κ (a written run's block records may carry κ).
BLOCK_STATISTIC = "L1 (block "


def constant_points(r: dict) -> dict:
    """How record ``r`` enters the fitted constants: {"C_ξ": xi_ratio_max, "C_L": {claim, κ, error},
    "C_flip": value/predicted_flip}, the constants it enters. The one rule for which records enter them,
    shared by the report (``analyse``) and the comparison (``reporting.compare``), so both read the same
    constant."""
    out = {}
    xi, value = finite(r.get("xi_ratio_max")), finite(r.get("value"))
    if xi is not None:
        out["C_ξ"] = xi
    kappa = finite_list(r.get("kappa"))
    if (r.get("claim") in ("L1", "P2") and kappa and value is not None
            and not str(r.get("statistic") or "").startswith(BLOCK_STATISTIC)):
        out["C_L"] = {"claim": r["claim"], "kappa": max(kappa), "error": value}
    flip = finite(r.get("predicted_flip"))
    if flip and value is not None:
        out["C_flip"] = value / flip
    return out


def lazy_ratio(p: dict) -> float | None:
    """A lazy-error point's error/κ, its term of C_L (None at κ = 0: a point of the table, no ratio)."""
    return p["error"] / p["kappa"] if p["kappa"] > 0 else None


def constant_ratios(r: dict) -> dict:
    """{constant: r's ratio}, the per-record numbers whose largest is the constant."""
    out = constant_points(r)
    if "C_L" in out:
        out["C_L"] = lazy_ratio(out["C_L"])
    return {k: v for k, v in out.items() if v is not None}


def lazy_error_points(records: list[dict]) -> list[dict]:
    """(largest κ, mean relative error) of the records that enter C_L (``constant_points``)."""
    return [p["C_L"] for r in records if "C_L" in (p := constant_points(r))]


def lazy_error_constant(pts: list[dict]) -> dict | None:
    """Largest error per κ bin and C_L = max error/κ."""
    if not pts:
        return None
    bins, lo = [], 0.0
    for hi in KAPPA_BINS + (math.inf,):
        members = [p for p in pts if lo < p["kappa"] <= hi or (lo == 0.0 and p["kappa"] == 0.0)]
        if members:
            bins.append({"kappa_low": lo, "kappa_high": hi, "n": len(members),
                         "max_error": max(p["error"] for p in members)})
        lo = hi
    ratios = [x for p in pts if (x := lazy_ratio(p)) is not None]
    return {"C_L": max(ratios) if ratios else None, "n": len(pts), "bins": bins,
            "max_error": max(p["error"] for p in pts),
            "median": float(np.median(ratios)) if ratios else None, "interval": spread(ratios) if ratios else None}


def flip_constant(records: list[dict]) -> dict | None:
    """max measured/predicted flip share over the L2 records."""
    ratios = [p["C_flip"] for r in records if "C_flip" in (p := constant_points(r))]
    if not ratios:
        return None
    return {"max_ratio": max(ratios), "median_ratio": float(np.median(ratios)), "n": len(ratios),
            "interval": spread(ratios)}


def value_bound_ratios(records: list[dict]) -> dict:
    """Per claim and statistic: range of value/bound over records with both numbers (bound ≠ 0)."""
    groups: dict = defaultdict(list)
    for r in records:
        v, b = finite(r["value"]), finite(r["bound"])
        if v is not None and b:
            groups[(r["claim"], r["statistic"])].append(v / b)
    return {f"{c} | {s}": {"claim": c, "statistic": s, "n": len(x), "min_ratio": min(x), "max_ratio": max(x)}
            for (c, s), x in sorted(groups.items())}


def fitted_constants(a: "Analysis") -> list[dict]:
    """The constants of the empirical bounds, one row each: the fitted value (the largest ratio, so the
    bound holds on every record), the median and SPREAD interval of the per-record ratios, and where the
    largest sits (D1)."""
    rows = []
    for where, res in (a.residual_D1 or {}).items():
        at = res["at"]
        rows.append({"claim": "D1", "name": f"C_ξ ({where} L2)", "bound": "‖ξ_n‖ ≤ C_ξ·√((1+γ²)/2)",
                     "value": res["C_xi"], "median": res["median"], "interval": res.get("interval"), "n": res["n"],
                     "at": f"d={at['d']}, m={at['m']}, γ={at['gamma']}"})
    lz = a.lazy_error
    if lz and lz["C_L"] is not None:
        rows.append({"claim": "L1/P2", "name": "C_L", "bound": "‖f_t − lin‖/‖f_t − f_0‖ ≤ C_L·κ",
                     "value": lz["C_L"], "median": lz.get("median"), "interval": lz.get("interval"), "n": lz["n"],
                     "at": f"max error {lz['max_error']:.3g}"})
    fl = a.flips_L2
    if fl:
        rows.append({"claim": "L2", "name": "C_flip", "bound": "flip share ≤ C_flip·atan(κ)/π",
                     "value": fl["max_ratio"], "median": fl["median_ratio"], "interval": fl.get("interval"),
                     "n": fl["n"], "at": ""})
    return rows


def measured_ranges(records: list[dict]) -> dict:
    """Per claim, per measured field: how many numbers, min, max."""
    out: dict = defaultdict(dict)
    for r in records:
        for name in MEASURED_FIELDS:
            xs = finite_list(r[name])
            if not xs:
                continue
            row = out[r["claim"]].setdefault(name, {"n": 0, "min": math.inf, "max": -math.inf})
            row["n"] += len(xs)
            row["min"] = min(row["min"], min(xs))
            row["max"] = max(row["max"], max(xs))
    return {c: dict(sorted(out[c].items())) for c in claim_order(out)}


def slope_rows(records: list[dict]) -> list[dict]:
    rows = []
    for r in records:
        slope = finite(r["slope"])
        if slope is None:
            continue
        ci = finite_list(r["slope_ci"])
        rows.append({"claim": r["claim"], "check": r["check"], "axis": r["axis"],
                     "family": r["setting"].get("family", r["setting"].get("dataset")), "slope": slope,
                     "ci": ci[:2] if len(ci) >= 2 else None, "bound": finite(r["bound"]), "verdict": r["verdict"]})
    return rows


def slope_groups(rows: list[dict]) -> list[dict]:
    """Per (claim, axis, family): how many fits, their median and range, median CI ends, verdicts."""
    groups: dict = defaultdict(list)
    for r in rows:
        groups[(r["claim"], r["axis"] or "–", r["family"] or "–")].append(r)
    out = []
    for (claim, axis, family), rs in groups.items():
        slopes = [r["slope"] for r in rs]
        cis = [r["ci"] for r in rs if r["ci"]]
        out.append({"claim": claim, "axis": axis, "family": family, "n": len(rs),
                    "median_slope": float(np.median(slopes)), "min_slope": min(slopes), "max_slope": max(slopes),
                    "median_ci": ([float(np.median([c[0] for c in cis])), float(np.median([c[1] for c in cis]))]
                                  if cis else None),
                    "bound": rs[0]["bound"],
                    "verdicts": {v: n for v in VERDICTS if (n := sum(r["verdict"] == v for r in rs))},
                    "members": rs})
    order = {c: i for i, c in enumerate(claim_order({g["claim"] for g in out}))}
    return sorted(out, key=lambda g: (order[g["claim"]], g["axis"], g["family"]))


def agreement_points(records: list[dict]) -> dict:
    """{"kappa": [(κ, agreement, claim, per_pair)], "c2_margin": [(margin, agreement, claim, per_pair)]}."""
    out = {"kappa": [], "c2_margin": []}
    for r in records:
        ag = finite_list(r["agreement"])
        if not ag:
            continue
        for key, reduce in (("kappa", max), ("c2_margin", lambda xs: float(np.median(xs)))):
            xs = finite_list(r[key])
            if not xs:
                continue
            if len(xs) == len(ag):
                out[key] += [(x, a, r["claim"], True) for x, a in zip(xs, ag)]
            else:  # lists of different pairs (e.g. κ of all pairs, agreement of covered pairs only)
                out[key].append((reduce(xs), float(np.mean(ag)), r["claim"], False))
    return out


def summary(xs) -> dict:
    return {"n": len(xs), "mean": float(np.mean(xs)) if xs else None, "min": min(xs) if xs else None}


def agreement_by_l2(pts: list) -> dict | None:
    if not pts:
        return None
    by = {}
    for claim in claim_order({c for _, _, c, _ in pts}):
        by[claim] = {"inside": summary([a for k, a, c, _ in pts if c == claim and k <= KAPPA_MAX]),
                     "outside": summary([a for k, a, c, _ in pts if c == claim and k > KAPPA_MAX])}
    return {"kappa_max": KAPPA_MAX, "claims": by}


def agreement_by_margin(pts: list) -> dict | None:
    if not pts:
        return None
    margins = np.array([m for m, *_ in pts])
    ags = np.array([a for _, a, *_ in pts])
    med = float(np.median(margins))
    return {"median_margin": med, "below": summary(ags[margins <= med].tolist()),
            "above": summary(ags[margins > med].tolist())}


def setting_points(records: list[dict]) -> list[dict]:
    """Per trained per-example record held to its bound or observed: t_f, m, its largest κ (None where it
    carries none) and whether it was asserted, for the figure of the settings checked."""
    from .pooling import POOLED_CHECK, STRATUM_CHECK, is_asserted

    pts = []
    for r in records:
        s = r.get("setting") or {}
        t, m = finite(s.get("t_f")), finite(s.get("m"))
        if r.get("check") in (POOLED_CHECK, STRATUM_CHECK) or t is None or m is None:
            continue
        asserted = is_asserted(r)
        if asserted or r.get("verdict") == "observed":
            kappa = finite_list(r.get("kappa"))
            pts.append({"claim": r["claim"], "t_f": t, "m": m, "kappa": max(kappa) if kappa else None,
                        "asserted": asserted})
    return pts


def analyse(records: list[dict], verdicts: dict | None = None) -> Analysis:
    """The empirical numbers of ``records`` (dicts as ``Record.to_jsonable`` writes them); ``verdicts``:
    the claim-level verdicts (``reporting.verdicts``), named in the forest rows."""
    pts = lazy_error_points(records)
    rows = slope_rows(records)
    agreement = agreement_points(records)
    a = Analysis(
        n_records=len(records), residual_D1=residual_constant(records), lazy_points=pts,
        lazy_error=lazy_error_constant(pts), flips_L2=flip_constant(records),
        value_over_bound=value_bound_ratios(records), measured_ranges=measured_ranges(records),
        slopes=rows, slope_groups=slope_groups(rows),
        agreement_vs_kappa=[list(p) for p in agreement["kappa"]],
        agreement_vs_c2_margin=[list(p) for p in agreement["c2_margin"]],
        agreement_by_L2=agreement_by_l2(agreement["kappa"]),
        agreement_by_c2_margin=agreement_by_margin(agreement["c2_margin"]),
        forest=forest_rows(records, verdicts), least_room=least_room(records))
    a.constants = fitted_constants(a)
    a.domain, a.setting_points = domain(records), setting_points(records)
    for row in a.forest:                     # the scoped verdict colours the claim's row
        if (verdicts or {}).get(row["claim"]):
            s = scope(verdicts[row["claim"]])
            row.update(scope=s["text"], scope_color=CSS_COLORS[s["css"]])
    return a
