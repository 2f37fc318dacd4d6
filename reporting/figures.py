"""Figures of the empirical sections, drawn from an :class:`reporting.analysis.Analysis`.

``draw(analysis, figures_dir)`` writes each figure whose data are present (PNG, atomically) and
returns {figure name: path relative to the run directory}, for the Markdown to link.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from perturbation_learning.files import atomic_write_bytes, figure_png_bytes
from theory.lazy import KAPPA_MAX

from .analysis import Analysis

FIGURE_DPI = 80
VERDICT_COLORS = {"pass": "#2ca02c", "underpowered": "#bcbd22", "fail": "#d62728", "observed": "#7f7f7f",
                  "invalid": "#ff7f0e"}

LAZY_ERROR = "lazy_error_vs_kappa.png"
SLOPES = "loglog_slopes.png"
AGREEMENT_KAPPA = "agreement_vs_kappa.png"
AGREEMENT_MARGIN = "agreement_vs_c2margin.png"
FOREST = "claims_at_a_glance.png"
EMPIRICAL_BOUNDS = "empirical_bounds.png"
CLAIM_DIR = "claims"
#: Claim verdicts (``reporting.verdicts``) by their first word, as colours.
CLAIM_VERDICT_COLORS = {"verified": "#2ca02c", "failed": "#d62728", "not": "#bcbd22", "observation-only:": "#7f7f7f"}
CLAIM_VERDICT_NAMES = {"verified": "verified at target power", "failed": "failed", "not": "not verified",
                       "observation-only:": "observation-only"}
#: Margins beyond ±LINEAR (in units of the target violation) are drawn on a log scale.
LINEAR = 1.0


def _figure(*args, **kw):
    from matplotlib.figure import Figure

    return Figure(*args, layout="constrained", **kw)


def _labelled(fig, ax, xlabel: str, ylabel: str):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def _save(fig, figures_dir: Path, name: str, drawn: dict) -> None:
    atomic_write_bytes(Path(figures_dir) / name, figure_png_bytes(fig, dpi=FIGURE_DPI))
    drawn[name] = f"figures/{name}"


def lazy_error(a: Analysis):
    fig = _figure(figsize=(5, 3.6))
    ax = fig.subplots()
    pts = a.lazy_points
    for claim, marker in (("L1", "o"), ("P2", "s")):
        sel = [p for p in pts if p["claim"] == claim and p["kappa"] > 0 and p["error"] > 0]
        if sel:
            ax.scatter([p["kappa"] for p in sel], [p["error"] for p in sel], marker=marker, s=18,
                       label=f"{claim} ({'f' if claim == 'L1' else 'g'})", alpha=0.8)
    ks = [p["kappa"] for p in pts if p["kappa"] > 0]
    c_l = a.lazy_error["C_L"]
    if ks and c_l:
        grid = np.geomspace(min(ks), max(ks), 20)
        ax.plot(grid, c_l * grid, "k--", lw=1, label=f"C_L·κ, C_L = {c_l:.3g}")
    ax.axvline(KAPPA_MAX, color="grey", ls=":", lw=1, label="κ_max")
    ax.set_xscale("log")
    ax.set_yscale("log")
    return _labelled(fig, ax, "laziness index κ (largest over inputs)", "relative error to the linearization")


def slopes(a: Analysis):
    groups = a.slope_groups
    fig = _figure(figsize=(6, 0.9 + 0.45 * len(groups)))
    ax = fig.subplots()
    rng = np.random.default_rng(0)  # vertical jitter of the fits only
    for i, g in enumerate(groups):
        members = g["members"]
        jitter = rng.uniform(-0.25, 0.25, len(members)) if len(members) > 1 else np.zeros(1)
        alpha = 0.8 if len(members) <= 10 else 0.25
        for r, dy in zip(members, jitter):
            color = VERDICT_COLORS.get(r["verdict"], "k")
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
    return fig


def agreement(pts: list, xlabel: str, *, vline=None):
    fig = _figure(figsize=(5, 3.6))
    ax = fig.subplots()
    by_claim = defaultdict(list)
    for x, a, claim, per_pair in pts:
        by_claim[claim].append((x, a, per_pair))
    for claim, xs in sorted(by_claim.items()):
        pair = [(x, a) for x, a, p in xs if p]
        rec = [(x, a) for x, a, p in xs if not p]
        if pair:
            ax.scatter(*zip(*pair), s=16, alpha=0.8, label=f"{claim} (per pair)")
        if rec:
            ax.scatter(*zip(*rec), s=30, marker="D", alpha=0.8, label=f"{claim} (record mean)")
    if vline is not None:
        ax.axvline(vline, color="grey", ls=":", lw=1, label="κ_max (L2)")
    ax.axhline(0.5, color="grey", ls="--", lw=0.8)
    if all(x > 0 for x, *_ in pts):
        ax.set_xscale("log")
    else:  # margins can be ≤ 0
        ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_ylim(-0.02, 1.02)
    return _labelled(fig, ax, xlabel, "agreement sgn f = sgn g")


#: The setting keys a figure's annotation names (the tables name them all).
SHORT_SETTING = ("dataset", "d", "m", "gamma", "loss", "scenario", "targets", "eps")


def setting_text(setting: dict | None, keys=None) -> str:
    """``k=v, …`` of a record's setting, without the bookkeeping keys (its seeds)."""
    items = (setting or {}).items()
    return ", ".join(f"{k}={v}" for k, v in items if k not in ("seeds", "first_seed", "pairs")
                     and (keys is None or k in keys)) or "–"


def num(v, digits: int = 3) -> str:
    """A number for a label or a cell ("" for None); other values as they are."""
    return "" if v is None else (f"{v:.{digits}g}" if isinstance(v, float) else str(v))


def claim_color(verdict: str) -> str:
    return CLAIM_VERDICT_COLORS.get((verdict or "").split(" ")[0], "#7f7f7f")


def _short(text, n: int = 48) -> str:
    text = str(text or "")
    return text if len(text) <= n else text[:n - 1] + "…"


def _margin_axis(ax, label: str) -> None:
    ax.set_xscale("symlog", linthresh=LINEAR, linscale=2.0)
    lo, hi = ax.get_xlim()
    lo, hi = min(lo, -LINEAR * 1.5), max(hi, LINEAR * 1.5)
    ax.axvspan(lo, 0, color="#d62728", alpha=0.035, lw=0)
    ax.set_xlim(lo, hi)
    ax.set_xticks([t for t in (-100, -10, -1, -0.5, 0, 0.5, 1, 10, 100) if lo <= t <= hi])
    ax.set_xticklabels([f"{t:g}" for t in ax.get_xticks()])
    ax.axvline(0, color="k", lw=1)
    ax.set_xlabel(label, fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    ax.tick_params(labelsize=7)


def _interval(ax, ends, y, color, lw=2.0):
    ends = [e for e in (ends or []) if e is not None]
    if len(ends) == 2:
        ax.plot(ends, [y, y], color=color, lw=lw, solid_capstyle="butt")


def _power_text(row: dict) -> str:
    if row.get("words"):
        return row["words"]
    if row.get("detects") is None:
        return ""
    target = "" if row.get("target") is None else f" (target {row['target']:.3g})"
    return f"detects {row['detects']:.3g}{target}"


def forest(a: Analysis):
    """Claims at a glance: per claim, the record its verdict rests on, as a margin to its bound oriented
    so that "holds" is always to the right, in units of the violation its power target asks to detect."""
    from matplotlib.lines import Line2D

    rows = a.forest
    fig = _figure(figsize=(11, 1.4 + 0.3 * len(rows)))
    ax = fig.subplots()
    for i, row in enumerate(rows):
        color = claim_color(row["claim_verdict"])
        if row.get("margin") is None:
            ax.text(0.02, i, "no bound (observed only)", fontsize=7, color="#7f7f7f", va="center",
                    transform=ax.get_yaxis_transform())
            continue
        _interval(ax, row.get("margin_ci"), i, color)
        centre = row.get("kind") == "centre"   # an equality: the point is never right of 0, its interval is
        ax.plot(row["margin"], i, "o", color=color, mfc="white" if centre else color, ms=6, mec=color if centre
                else "k", mew=1.2 if centre else 0.5)
        if row.get("target_margin") is not None:
            ax.plot(row["target_margin"], i, "D", mfc="none", mec="k", ms=6)
        if row.get("detects_margin") is not None:
            ax.plot(row["detects_margin"], i, "|", color="k", ms=11, mew=2)
        if row.get("least_example_margin") is not None:
            ax.plot(row["least_example_margin"], i, "x", color="k", ms=5, alpha=0.7)
        ax.text(1.01, i, _short(f"{_power_text(row)}; {row['claim_verdict']}", 60), fontsize=7, va="center",
                transform=ax.get_yaxis_transform(), color=color)
    ax.set_yticks(range(len(rows)), [f"{r['claim']}  {_short(r.get('statistic'), 40)} ({r.get('kind') or '–'})"
                                     for r in rows], fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    _margin_axis(ax, "margin to the bound, in units of the target violation: right of 0 holds; a test rejects "
                     "when its whole interval lies left of 0 (○ centre: an equality, margin = −distance)")
    handles = [Line2D([], [], ls="-", marker="o", color="#555", label="statistic and its interval"),
               Line2D([], [], ls="", marker="|", color="k", ms=10, mew=2, label="detects"),
               Line2D([], [], ls="", marker="D", mfc="none", mec="k", label="target"),
               Line2D([], [], ls="", marker="x", color="k", label="least room of one example")]
    handles += [Line2D([], [], ls="", marker="s", color=c, label=CLAIM_VERDICT_NAMES[k])
                for k, c in CLAIM_VERDICT_COLORS.items() if any(claim_color(r["claim_verdict"]) == c for r in rows)]
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles), fontsize=7)
    return fig


def claim_records(rows: list[dict], claim: str):
    """One claim's records as margins to their bounds (same orientation and units as the forest plot),
    one line per check, coloured by verdict; pooled tests as diamonds with their interval."""
    checks = sorted({r["check"] for r in rows})
    fig = _figure(figsize=(7, 0.9 + 0.28 * len(checks)))
    ax = fig.subplots()
    rng = np.random.default_rng(0)  # vertical jitter only
    for r in rows:
        y = checks.index(r["check"]) + (rng.uniform(-0.25, 0.25) if not r["pooled"] else 0.0)
        color = VERDICT_COLORS.get(r["verdict"], "k")
        if r["pooled"]:
            _interval(ax, r.get("margin_ci"), y, color, lw=2.5)
        ax.plot(r["margin"], y, "D" if r["pooled"] else "o", color=color, ms=6 if r["pooled"] else 3.5,
                mec="k" if r["pooled"] else color, mew=0.5, alpha=1.0 if r["pooled"] else 0.7)
    ax.set_yticks(range(len(checks)), [_short(c, 44) for c in checks], fontsize=7)
    ax.set_ylim(len(checks) - 0.5, -0.5)
    _margin_axis(ax, f"{claim}: margin to the bound per record (right of 0: holds)")
    return fig


def empirical_bounds(a: Analysis):
    """Fitted constants (largest per-record ratio, median and central interval), and per bound the
    record with the least room."""
    consts, room = a.constants, a.least_room
    fig = _figure(figsize=(9, 1.6 + 0.3 * (len(consts) + len(room))))
    panels = [p for p in (consts, room) if p]
    axes = list(np.atleast_1d(fig.subplots(len(panels), 1, height_ratios=[len(p) + 1 for p in panels])))
    if consts:
        top = axes.pop(0)
        for i, c in enumerate(consts):
            _interval(top, c.get("interval"), i, "#1f77b4", lw=3)
            if c.get("median") is not None:
                top.plot(c["median"], i, "|", color="k", ms=10, mew=1.5)
            top.plot(c["value"], i, "o", color="#1f77b4", mec="k", ms=6)
        top.set_yticks(range(len(consts)), [f"{c['claim']} {c['name']} ({c['n']})" for c in consts], fontsize=7)
        top.set_ylim(len(consts) - 0.5, -0.5)
        if all(c["value"] > 0 for c in consts):
            top.set_xscale("log")
        top.set_xlabel("fitted constant (dot: largest ratio, | median, bar: central 90% of the records' ratios)",
                       fontsize=8)
        top.grid(alpha=0.3, axis="x")
        top.tick_params(labelsize=7)
    if room:
        bottom = axes.pop(0)
        for i, r in enumerate(room):
            bottom.barh(i, r["margin"], color=VERDICT_COLORS.get(r["verdict"], "k"), height=0.6,
                        hatch="//" if r["kind"] == "centre" else None, edgecolor="white")
            bottom.text(1.01, i, _short(f"{num(r['value'])} vs {r['kind']} {num(r['bound'])} at "
                                        f"{setting_text(r.get('setting'), SHORT_SETTING)}", 62),
                        fontsize=6.5, va="center", transform=bottom.get_yaxis_transform())
        bottom.set_yticks(range(len(room)), [f"{r['claim']} {_short(r['statistic'], 40)}" for r in room], fontsize=7)
        bottom.set_ylim(len(room) - 0.5, -0.5)
        _margin_axis(bottom, "least room to the bound over a statistic's asserted records (units of the target "
                             "violation; hatched: an equality, margin = −distance)")
    return fig


def draw_claims(rows_by_claim: dict, figures_dir) -> dict:
    """One figure per claim with margins: {claim: "figures/claims/<claim>.png"}."""
    drawn: dict = {}
    for claim, rows in rows_by_claim.items():
        if rows:
            name = f"{CLAIM_DIR}/{claim}.png"
            _save(claim_records(rows, claim), figures_dir, name, drawn)
    return {claim: drawn[f"{CLAIM_DIR}/{claim}.png"] for claim in rows_by_claim if f"{CLAIM_DIR}/{claim}.png" in drawn}


def draw(a: Analysis, figures_dir) -> dict:
    """Draw every figure that has data; {name: "figures/<name>"} in drawing order."""
    drawn: dict = {}
    if a.lazy_error and a.lazy_error["bins"]:
        _save(lazy_error(a), figures_dir, LAZY_ERROR, drawn)
    if a.slope_groups:
        _save(slopes(a), figures_dir, SLOPES, drawn)
    if a.agreement_vs_kappa:
        _save(agreement(a.agreement_vs_kappa, "laziness index κ (largest)", vline=KAPPA_MAX), figures_dir,
              AGREEMENT_KAPPA, drawn)
    if a.agreement_vs_c2_margin:
        _save(agreement(a.agreement_vs_c2_margin, "C2 margin |ĝ| − B_0 − B_E (median over covered z)"),
              figures_dir, AGREEMENT_MARGIN, drawn)
    if a.forest:
        _save(forest(a), figures_dir, FOREST, drawn)
    if a.constants or a.least_room:
        _save(empirical_bounds(a), figures_dir, EMPIRICAL_BOUNDS, drawn)
    return drawn
