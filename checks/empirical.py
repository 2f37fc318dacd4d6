"""Empirical-bound analysis of a run's records: fitted constants, slopes and figures (report sections).

``analyse(records, figures_dir)`` returns ``(json_dict, markdown_sections)``; ``checks.report`` puts the
dict under ``"empirical"`` in results.json and appends the sections to summary.md, which sits next to
``figures_dir`` (so the sections link ``figures/<name>.png``).

What is fitted (each only when the records carry the data; every key of ``extra`` is optional):

- **D1 residual constant** C_ξ = max ‖ξ_n‖/√((1+γ²)/2) over the records' ``extra["xi_norm_ratio_max"]``:
  the Õ(1) of Theorem 3.3 made a number (THEORY.md D1 expects ≈ 1 in the lazy regime), separately
  for records inside L2 and outside it (``inside`` False or verdict "observed").
- **Lazy error per κ** (L1 for f, P2's first link for g): the largest relative error
  ‖f_t − lin‖/‖f_t − f_0‖ observed per κ bin, and C_L = max error/κ, the constant of "error = O(κ)".
  A record gives one point (its mean error against its largest κ) unless ``extra`` pairs per-pair lists
  ``rel_errors`` and ``kappa`` of equal length.
- **Pattern flips** (L2): max of measured flip share / share predicted from κ (``extra["predicted_flip"]``).
- **value/bound** per (claim, statistic): the smallest and largest observed ratio, i.e. how much room the
  stated bound leaves.
- **log-log slopes** (D4, K3): ``extra["loglog_slope"]`` and ``extra["slope_ci"]`` as the checks fitted them.
- **agreement** against κ (``extra["kappa"]``/``"kappa_f_max"``) and against the C2 margin
  (``extra["c2_margin"]``), from ``extra["agreement"]``/``"mean_agreement"``; per pair where the lists
  have equal length, else one point per record (mean agreement, largest κ / median margin).
- **Other numbers** in ``extra``: min and max per claim and key (JSON; the markdown lists the first few).

A section whose analysis raises is replaced by one line naming the error (and listed under
``"errors"``), so a malformed record never costs the rest of the report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

FIGURE_DPI = 80
#: rows of the "other numbers" table in the markdown (the JSON has all).
MAX_EXTRA_ROWS = 30
#: κ bins for the lazy-error table (upper edges; the last bin is open).
KAPPA_BINS = (0.01, 0.03, 0.1, 0.325, 1.0)
#: extra keys that are bookkeeping, not measured quantities.
_BOOKKEEPING = {"p_value", "successes", "delta", "pairs_with_coverage", "reason"}
_VERDICT_COLORS = {"pass": "#2ca02c", "fail": "#d62728", "observed": "#7f7f7f", "invalid": "#ff7f0e"}


# ---------------------------------------------------------------- small readers

def _num(v) -> float | None:
    """A finite float, or None (bools, strings, NaN and None are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _nums(v) -> list[float]:
    """Finite floats of a scalar or a (nested) list; [] otherwise."""
    if isinstance(v, (list, tuple, np.ndarray)):
        out = []
        for x in v:
            out.extend(_nums(x))
        return out
    x = _num(v)
    return [] if x is None else [x]


def _extra(r: dict) -> dict:
    e = r.get("extra")
    return e if isinstance(e, dict) else {}


def _setting(r: dict) -> dict:
    s = r.get("setting")
    return s if isinstance(s, dict) else {}


def _first(d: dict, *keys):
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return None


def _cell(v) -> str:
    """Text safe inside a markdown table cell."""
    return str(v).replace("|", "\\|").replace("\n", " ")


def _fmt(v, digits=3) -> str:
    v = _num(v)
    return "–" if v is None else f"{v:.{digits}g}"


def _kappa_max() -> float:
    try:
        from theory.lazy import KAPPA_MAX
        return float(KAPPA_MAX)
    except Exception:  # theory not importable: the documented default tan(0.1π)
        return math.tan(0.1 * math.pi)


def _save(fig, figures_dir: Path, name: str, figures: list) -> str:
    from perturbation_learning.sweep import atomic_write_bytes, figure_png_bytes

    atomic_write_bytes(Path(figures_dir) / name, figure_png_bytes(fig, dpi=FIGURE_DPI))
    figures.append(name)
    return f"figures/{name}"


def _figure(*args, **kw):
    from matplotlib.figure import Figure

    return Figure(*args, layout="constrained", **kw)


# ---------------------------------------------------------------- fitted constants

def _outside(r: dict) -> bool:
    """Outside the theorem's assumption: the record says so, or it is an observation only."""
    return r.get("inside") is False or r.get("verdict") == "observed"


def residual_constant(records: list[dict]) -> dict | None:
    """C_ξ = the largest ‖ξ_n‖/√((1+γ²)/2) recorded (D1), separately inside and outside L2."""
    groups: dict = {"inside": [], "outside": []}
    for r in records:
        for v in _nums(_extra(r).get("xi_norm_ratio_max")):
            s = _setting(r)
            groups["outside" if _outside(r) else "inside"].append(
                {"value": v, "claim": r.get("claim"), "d": s.get("d"), "m": s.get("m", s.get("width")),
                 "gamma": s.get("gamma")})
    if not any(groups.values()):
        return None
    out = {}
    for name, pts in groups.items():
        if pts:
            best = max(pts, key=lambda p: p["value"])
            out[name] = {"C_xi": best["value"], "n": len(pts), "at": best,
                         "median": float(np.median([p["value"] for p in pts]))}
    return out


def lazy_error_points(records: list[dict]) -> list[dict]:
    """(κ, relative error) points from L1/P2 records (see the module docstring)."""
    pts = []
    for r in records:
        if r.get("claim") not in ("L1", "P2"):
            continue
        e = _extra(r)
        kappa = _nums(_first(e, "kappa", "kappa_f_max", "kappa_max"))
        errs = _nums(e.get("rel_errors"))
        if errs and len(errs) == len(kappa):
            pts += [{"claim": r["claim"], "kappa": k, "error": x, "per_pair": True} for k, x in zip(kappa, errs)]
            continue
        stat = str(r.get("statistic", ""))
        value = _num(r.get("value"))
        if value is None or not kappa or not ("‖" in stat or "rel" in stat.lower()):
            continue
        pts.append({"claim": r["claim"], "kappa": max(kappa), "error": value, "per_pair": False})
    return pts


def lazy_error_constant(pts: list[dict]) -> dict | None:
    """Largest error per κ bin and C_L = max error/κ."""
    if not pts:
        return None
    bins = []
    lo = 0.0
    for hi in KAPPA_BINS + (math.inf,):
        inside = [p for p in pts if lo < p["kappa"] <= hi or (lo == 0.0 and p["kappa"] == 0.0)]
        if inside:
            bins.append({"kappa_low": lo, "kappa_high": hi, "n": len(inside),
                         "max_error": max(p["error"] for p in inside)})
        lo = hi
    ratios = [p["error"] / p["kappa"] for p in pts if p["kappa"] > 0]
    return {"C_L": max(ratios) if ratios else None, "n": len(pts), "bins": bins,
            "max_error": max(p["error"] for p in pts)}


def flip_constant(records: list[dict]) -> dict | None:
    """max measured/predicted flip share over L2 records."""
    ratios = []
    for r in records:
        if r.get("claim") != "L2":
            continue
        pred = _num(_extra(r).get("predicted_flip"))
        value = _num(r.get("value"))
        if pred and value is not None and pred > 0:
            ratios.append(value / pred)
    if not ratios:
        return None
    return {"max_ratio": max(ratios), "median_ratio": float(np.median(ratios)), "n": len(ratios)}


def value_bound_ratios(records: list[dict]) -> dict:
    """Per claim and statistic: range of value/bound over records with both numbers (bound ≠ 0)."""
    groups: dict = defaultdict(list)
    for r in records:
        v, b = _num(r.get("value")), _num(r.get("bound"))
        if v is None or b is None or b == 0:
            continue
        groups[(str(r.get("claim")), str(r.get("statistic", "")))].append(v / b)
    return {f"{c} | {s}": {"claim": c, "statistic": s, "n": len(x), "min_ratio": min(x), "max_ratio": max(x)}
            for (c, s), x in sorted(groups.items())}


def extra_ranges(records: list[dict]) -> dict:
    """Per claim, per numeric extra key (not bookkeeping): n, min, max."""
    out: dict = defaultdict(dict)
    for r in records:
        for k, v in _extra(r).items():
            if k in _BOOKKEEPING:
                continue
            xs = _nums(v)
            if not xs:
                continue
            row = out[str(r.get("claim"))].setdefault(k, {"n": 0, "min": math.inf, "max": -math.inf})
            row["n"] += len(xs)
            row["min"] = min(row["min"], min(xs))
            row["max"] = max(row["max"], max(xs))
    return {c: dict(sorted(v.items())) for c, v in sorted(out.items())}


def _constants_section(records, figures_dir, figures):
    js = {"residual_D1": residual_constant(records)}
    pts = lazy_error_points(records)
    js["lazy_error"] = lazy_error_constant(pts)
    js["flips_L2"] = flip_constant(records)
    js["value_over_bound"] = value_bound_ratios(records)
    js["extra_ranges"] = extra_ranges(records)
    md = ["## Empirical bounds: fitted constants", ""]
    rows = []
    for where, res in (js["residual_D1"] or {}).items():
        at = res["at"]
        rows.append(f"| D1 | ‖ξ_n‖ ≤ C_ξ·√((1+γ²)/2) (Õ(1) of Thm 3.3), {where} L2 | C_ξ = **{res['C_xi']:.3f}** "
                    f"(median {res['median']:.3f}) | {res['n']} | largest at d={at['d']}, m={at['m']}, "
                    f"γ={at['gamma']} |")
    lz = js["lazy_error"]
    if lz:
        rows.append(f"| L1/P2 | ‖f_t − lin‖/‖f_t − f_0‖ ≤ C_L·κ | C_L = **{_fmt(lz['C_L'])}**, "
                    f"max error {lz['max_error']:.3g} | {lz['n']} | per κ bin below |")
    fl = js["flips_L2"]
    if fl:
        rows.append(f"| L2 | flip share ≤ C_flip · atan(κ)/π | C_flip = **{fl['max_ratio']:.3g}** "
                    f"(median {fl['median_ratio']:.3g}) | {fl['n']} | |")
    if rows:
        md += ["| claim | bound | fitted constant | records | note |", "|---|---|---|---|---|", *rows, ""]
    else:
        md += ["No record carried a residual ratio, a lazy error with κ, or a predicted flip share.", ""]
    if lz and lz["bins"]:
        md += ["Largest lazy relative error per κ bin:", "", "| κ in | points | max error |", "|---|---|---|"]
        for b in lz["bins"]:
            hi = "∞" if math.isinf(b["kappa_high"]) else f"{b['kappa_high']:g}"
            md.append(f"| ({b['kappa_low']:g}, {hi}] | {b['n']} | {b['max_error']:.3g} |")
        md.append("")
        md.append(f"![lazy error against κ]({_lazy_error_figure(pts, lz, figures_dir, figures)})")
        md.append("")
    vb = js["value_over_bound"]
    if vb:
        md += ["Observed value/bound per statistic (how much room each stated bound leaves):", "",
               "| claim | statistic | records | min value/bound | max value/bound |", "|---|---|---|---|---|"]
        for row in vb.values():
            md.append(f"| {row['claim']} | {_cell(row['statistic'])} | {row['n']} | {row['min_ratio']:.3g} | "
                      f"{row['max_ratio']:.3g} |")
        md.append("")
    ranges = [(c, k, v) for c, keys in js["extra_ranges"].items() for k, v in keys.items()]
    if ranges:
        md += ["Other numbers the checks recorded (min – max over records; all in results.json):", "",
               "| claim | quantity | values | min | max |", "|---|---|---|---|---|"]
        for c, k, v in ranges[:MAX_EXTRA_ROWS]:
            md.append(f"| {c} | {_cell(k)} | {v['n']} | {v['min']:.4g} | {v['max']:.4g} |")
        if len(ranges) > MAX_EXTRA_ROWS:
            md.append(f"| … {len(ranges) - MAX_EXTRA_ROWS} more in results.json | | | | |")
        md.append("")
    return js, md


def _lazy_error_figure(pts, lz, figures_dir, figures) -> str:
    fig = _figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for claim, marker in (("L1", "o"), ("P2", "s")):
        sel = [p for p in pts if p["claim"] == claim and p["kappa"] > 0 and p["error"] > 0]
        if sel:
            ax.scatter([p["kappa"] for p in sel], [p["error"] for p in sel], marker=marker, s=18,
                       label=f"{claim} ({'f' if claim == 'L1' else 'g'})", alpha=0.8)
    ks = [p["kappa"] for p in pts if p["kappa"] > 0]
    if ks and lz.get("C_L"):
        grid = np.geomspace(min(ks), max(ks), 20)
        ax.plot(grid, lz["C_L"] * grid, "k--", lw=1, label=f"C_L·κ, C_L = {lz['C_L']:.3g}")
    ax.axvline(_kappa_max(), color="grey", ls=":", lw=1, label="κ_max")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("laziness index κ (largest over inputs)")
    ax.set_ylabel("relative error to the linearization")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, figures_dir, "lazy_error_vs_kappa.png", figures)


# ---------------------------------------------------------------- slopes

def slope_rows(records: list[dict]) -> list[dict]:
    rows = []
    for r in records:
        e = _extra(r)
        slope = _num(_first(e, "loglog_slope", "slope"))
        if slope is None:
            continue
        ci = _nums(e.get("slope_ci"))
        s = _setting(r)
        rows.append({"claim": r.get("claim"), "check": r.get("check"), "axis": _first(e, "axis") or s.get("axis"),
                     "family": s.get("family", s.get("dataset")), "slope": slope,
                     "ci": ci[:2] if len(ci) >= 2 else None, "bound": _num(r.get("bound")),
                     "verdict": r.get("verdict")})
    return rows


def slope_groups(rows: list[dict]) -> list[dict]:
    """Per (claim, axis, family): how many fits, their median and range, median CI ends, verdicts."""
    groups: dict = defaultdict(list)
    for r in rows:
        groups[(str(r["claim"]), str(r["axis"] or "–"), str(r["family"] or "–"))].append(r)
    out = []
    for (claim, axis, family), rs in groups.items():
        slopes = [r["slope"] for r in rs]
        cis = [r["ci"] for r in rs if r["ci"]]
        out.append({"claim": claim, "axis": axis, "family": family, "n": len(rs),
                    "median_slope": float(np.median(slopes)), "min_slope": min(slopes), "max_slope": max(slopes),
                    "median_ci": ([float(np.median([c[0] for c in cis])), float(np.median([c[1] for c in cis]))]
                                  if cis else None),
                    "bound": rs[0]["bound"],
                    "verdicts": {v: sum(r["verdict"] == v for r in rs) for v in _VERDICT_COLORS
                                 if any(r["verdict"] == v for r in rs)},
                    "members": rs})
    order = {c: i for i, c in enumerate(_claim_order([g["claim"] for g in out]))}
    return sorted(out, key=lambda g: (order[g["claim"]], g["axis"], g["family"]))


def _slopes_section(records, figures_dir, figures):
    rows = slope_rows(records)
    if not rows:
        return {"slopes": []}, []
    groups = slope_groups(rows)
    md = ["## Empirical: fitted log-log slopes", "",
          "As fitted by the checks (least squares on log–log, Student-t interval at the check's level), "
          "grouped by claim, axis and data family; every fit is in results.json (`empirical.slopes`). "
          "THEORY.md: D4 expects 1 − cos to fall with d and t (slope < 0; prototype ≈ −0.6 in d), "
          "K3 expects −1/2 in m.", "",
          "| claim | axis | family | fits | median slope | range | median CI | bound | verdicts |",
          "|---|---|---|---|---|---|---|---|---|"]
    for g in groups:
        ci = "–" if not g["median_ci"] else f"[{g['median_ci'][0]:.3g}, {g['median_ci'][1]:.3g}]"
        verdicts = ", ".join(f"{k} {v}" for k, v in g["verdicts"].items())
        md.append(f"| {g['claim']} | {_cell(g['axis'])} | {_cell(g['family'])} | {g['n']} | "
                  f"{g['median_slope']:.3g} | {g['min_slope']:.3g} … {g['max_slope']:.3g} | {ci} | "
                  f"{_fmt(g['bound'])} | {verdicts} |")
    fig = _figure(figsize=(6, 0.9 + 0.45 * len(groups)))
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for i, g in enumerate(groups):
        members = g["members"]
        jitter = rng.uniform(-0.25, 0.25, len(members)) if len(members) > 1 else np.zeros(1)
        alpha = 0.8 if len(members) <= 10 else 0.25
        for r, dy in zip(members, jitter):
            color = _VERDICT_COLORS.get(r["verdict"], "k")
            if r["ci"]:
                ax.plot(r["ci"], [i + dy] * 2, color=color, lw=0.8, alpha=alpha)
            ax.plot(r["slope"], i + dy, "o", color=color, ms=3, alpha=min(1.0, alpha + 0.2))
        ax.plot(g["median_slope"], i, "D", color="k", ms=5)
        if g["bound"] is not None:
            ax.plot(g["bound"], i, "|", color="k", ms=16, mew=2)
    ax.set_yticks(range(len(groups)), [f"{g['claim']} {g['axis']} {g['family']} ({g['n']})" for g in groups],
                  fontsize=7)
    ax.set_ylim(-0.6, len(groups) - 0.4)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("log-log slope (dot, line: fit, CI by verdict colour; ◆ median; | bound)", fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    md += ["", f"![log-log slopes]({_save(fig, figures_dir, 'loglog_slopes.png', figures)})", ""]
    return {"slopes": rows, "slope_groups": [{k: v for k, v in g.items() if k != "members"} for g in groups]}, md


# ---------------------------------------------------------------- agreement vs κ and C2 margin

def agreement_points(records: list[dict]) -> dict:
    """{"kappa": [(κ, agreement, claim, per_pair)], "c2_margin": [(margin, agreement, claim, per_pair)]}."""
    out = {"kappa": [], "c2_margin": []}
    for r in records:
        e = _extra(r)
        ag = _nums(_first(e, "agreement", "mean_agreement", "agree_p1"))
        if not ag and "agreement" in str(r.get("statistic", "")).lower() and _num(r.get("value")) is not None:
            ag = [_num(r.get("value"))]
        if not ag:
            continue
        claim = r.get("claim")
        for key, raw, reduce in (("kappa", _first(e, "kappa", "kappa_f_max", "kappa_max") or
                                  _setting(r).get("kappa"), max),
                                 ("c2_margin", e.get("c2_margin"), lambda xs: float(np.median(xs)))):
            xs = _nums(raw)
            if not xs:
                continue
            if len(xs) == len(ag):
                out[key] += [(x, a, claim, True) for x, a in zip(xs, ag)]
            else:  # lists of different pairs (e.g. κ of all pairs, agreement of covered pairs only)
                out[key].append((reduce(xs), float(np.mean(ag)), claim, False))
    return out


def _agreement_figure(pts, xlabel, name, figures_dir, figures, *, vline=None, xscale="log") -> str:
    fig = _figure(figsize=(5, 3.6))
    ax = fig.subplots()
    by_claim = defaultdict(list)
    for x, a, claim, per_pair in pts:
        by_claim[claim].append((x, a, per_pair))
    for claim, xs in sorted(by_claim.items(), key=lambda kv: str(kv[0])):
        pair = [(x, a) for x, a, p in xs if p]
        rec = [(x, a) for x, a, p in xs if not p]
        if pair:
            ax.scatter(*zip(*pair), s=16, alpha=0.8, label=f"{claim} (per pair)")
        if rec:
            ax.scatter(*zip(*rec), s=30, marker="D", alpha=0.8, label=f"{claim} (record mean)")
    if vline is not None:
        ax.axvline(vline, color="grey", ls=":", lw=1, label="κ_max (L2)")
    ax.axhline(0.5, color="grey", ls="--", lw=0.8)
    if xscale == "log" and all(x > 0 for x, *_ in pts):
        ax.set_xscale("log")
    elif xscale == "log":
        ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("agreement sgn f = sgn g")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, figures_dir, name, figures)


def _agreement_section(records, figures_dir, figures):
    pts = agreement_points(records)
    js = {"agreement_vs_kappa": [list(p) for p in pts["kappa"]],
          "agreement_vs_c2_margin": [list(p) for p in pts["c2_margin"]]}
    if not pts["kappa"] and not pts["c2_margin"]:
        return js, []
    md = ["## Empirical: agreement against laziness κ and the C2 margin", "",
          "Agreement as each check recorded it: the scenario checks (C1 records) give it on the test inputs "
          "where L2, C2 and C3 hold (P1's restriction); P3 and the controls give it over all fresh inputs. "
          "Points are per network pair where the record's lists pair up, else one per record.", ""]
    kmax = _kappa_max()
    if pts["kappa"]:
        by = {}
        md += [f"| claim | κ ≤ κ_max = {kmax:.3g} (inside L2) | κ > κ_max |", "|---|---|---|"]
        for claim in _claim_order(sorted({str(c) for _, _, c, _ in pts["kappa"]})):
            inside = [a for k, a, c, _ in pts["kappa"] if str(c) == claim and k <= kmax]
            outside = [a for k, a, c, _ in pts["kappa"] if str(c) == claim and k > kmax]
            by[claim] = {"inside": _summary(inside), "outside": _summary(outside)}
            md.append(f"| {claim} | {_describe(inside)} | {_describe(outside)} |")
        js["agreement_by_L2"] = {"kappa_max": kmax, "claims": by}
        md += ["", f"![agreement against κ]({_agreement_figure(pts['kappa'], 'laziness index κ (largest)', 'agreement_vs_kappa.png', figures_dir, figures, vline=kmax)})",
               ""]
    if pts["c2_margin"]:
        margins = np.array([m for m, *_ in pts["c2_margin"]])
        ags = np.array([a for _, a, *_ in pts["c2_margin"]])
        med = float(np.median(margins))
        low, high = ags[margins <= med].tolist(), ags[margins > med].tolist()
        js["agreement_by_c2_margin"] = {"median_margin": med, "below": _summary(low), "above": _summary(high)}
        md += [f"Agreement split at the median C2 margin {med:.3g}: at or below it {_describe(low)}; "
               f"above it {_describe(high)}.", "",
               f"![agreement against the C2 margin]({_agreement_figure(pts['c2_margin'], 'C2 margin |ĝ| − B_0 − B_E (median over covered z)', 'agreement_vs_c2margin.png', figures_dir, figures)})",
               ""]
    return js, md


def _summary(xs) -> dict:
    return {"n": len(xs), "mean": float(np.mean(xs)) if xs else None, "min": min(xs) if xs else None}


def _describe(xs) -> str:
    return "–" if not xs else f"mean {np.mean(xs):.3f}, min {min(xs):.3f} ({len(xs)} point{'s' * (len(xs) > 1)})"


# ---------------------------------------------------------------- value against bound

def _value_bound_section(records, figures_dir, figures):
    from matplotlib.lines import Line2D

    by_claim = defaultdict(list)
    for r in records:
        v, b = _num(r.get("value")), _num(r.get("bound"))
        if v is not None and b is not None:
            by_claim[str(r.get("claim"))].append((b, v, r.get("verdict")))
    if not by_claim:
        return {"value_vs_bound_claims": []}, []
    claims = _claim_order(list(by_claim))
    ncol = min(4, len(claims))
    nrow = math.ceil(len(claims) / ncol)
    fig = _figure(figsize=(3.1 * ncol, 2.7 * nrow))
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    for ax, claim in zip(axes, claims):
        pts = by_claim[claim]
        for verdict, color in _VERDICT_COLORS.items():
            sel = [(b, v) for b, v, vd in pts if vd == verdict]
            if sel:
                ax.scatter(*zip(*sel), s=14, color=color, alpha=0.8)
        lo = min(min(b, v) for b, v, _ in pts)
        hi = max(max(b, v) for b, v, _ in pts)
        pad = 0.05 * (hi - lo or abs(hi) or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k:", lw=0.8)
        ax.set_title(f"{claim} ({len(pts)} records)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(claims):]:
        ax.set_visible(False)
    present = {vd for pts in by_claim.values() for *_, vd in pts}
    handles = [Line2D([], [], ls="", marker="o", color=c, label=v) for v, c in _VERDICT_COLORS.items() if v in present]
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles) or 1, fontsize=8)
    fig.supxlabel("bound", fontsize=9)
    fig.supylabel("observed value", fontsize=9)
    path = _save(fig, figures_dir, "value_vs_bound.png", figures)
    md = ["## Empirical: observed value against bound, per claim", "",
          "One point per record; dotted line: value = bound. Whether a bound is an upper or a lower one is "
          "the statistic's (see the claim tables above). Colours: pass green, fail red, observed outside "
          "the assumption grey.", "", f"![value against bound]({path})", ""]
    return {"value_vs_bound_claims": claims}, md


def _claim_order(ids: list[str]) -> list[str]:
    try:
        from theory.claims import CLAIMS
        order = {c: i for i, c in enumerate(CLAIMS)}
    except Exception:
        order = {}
    return sorted(ids, key=lambda c: (order.get(c, len(order)), c))


# ---------------------------------------------------------------- entry point

_PARTS = (("fitted constants", _constants_section), ("slopes", _slopes_section),
          ("agreement", _agreement_section), ("value against bound", _value_bound_section))


def analyse(records: list[dict], figures_dir) -> tuple[dict, list[str]]:
    """Fitted constants, slopes, agreement figures and value-vs-bound scatter of ``records``.

    Returns (json_dict, markdown_sections); figures go to ``figures_dir`` (created when one is drawn),
    referenced from the sections as ``figures/<name>.png``.
    """
    records = [r for r in (records or []) if isinstance(r, dict)]
    figures_dir = Path(figures_dir)
    out: dict = {"n_records": len(records), "figures": [], "errors": []}
    sections: list[str] = []
    for name, part in _PARTS:
        try:
            js, md = part(records, figures_dir, out["figures"])
        except Exception as exc:  # one malformed record must not cost the whole report
            message = f"{name}: {type(exc).__name__}: {exc}"
            out["errors"].append(message)
            js, md = {}, [f"_Empirical analysis — {message}_", ""]
        out.update(js)
        if md:
            sections.append("\n".join(md))
    return out, sections
