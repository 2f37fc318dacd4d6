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
from .margins import BY_CONSTRUCTION, NOT_REJECTED, REJECTED, SHOWN
from .scope import DOMAIN_FIGURE as DOMAIN, near_bound

#: Figures are drawn at FIGURE_DPI, at most MAX_WIDTH inches wide, with no text under SMALL points: on
#: report.html's narrowest figure column (PAGE_PX) every text is then ≥ MIN_TEXT_PX pixels high.
FIGURE_DPI = 100
MAX_WIDTH = 11.0
SMALL = 9
PAGE_PX = 1120
MIN_TEXT_PX = 10
#: Margins beyond ±CLIP (target units) are drawn at the edge, as an arrow marker with their value.
CLIP = 1000.0
NEUTRAL = "#f0f0f0"
VIOLATION_ZONE = "#d62728"
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
    ax.legend(fontsize=SMALL)
    ax.grid(alpha=0.3)
    return fig


def rendered_text_px(fig, page_px: int = PAGE_PX, dpi: int = FIGURE_DPI) -> float:
    """The smallest text height in pixels when ``fig``, saved at ``dpi``, is shown at most ``page_px`` wide."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    FigureCanvasAgg(fig).draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    width = fig.get_figwidth() * dpi
    return min(sizes) * dpi / 72 * min(1.0, page_px / width) if sizes else float("inf")


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
                  fontsize=SMALL)
    ax.set_ylim(-0.6, len(groups) - 0.4)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("log-log slope (dot, line: fit, CI by verdict colour; ◆ median; | bound)", fontsize=SMALL)
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


def _clip(x):
    """(x within ±CLIP, the marker that says it was clipped or None)."""
    if x is None or -CLIP <= x <= CLIP:
        return x, None
    return (CLIP, ">") if x > 0 else (-CLIP, "<")


def _clipped_point(ax, x, y, **kw):
    """Plot one margin; beyond ±CLIP at the edge as an arrow marker labelled with its value."""
    xc, arrow = _clip(x)
    if arrow is None:
        ax.plot(x, y, **kw)
        return
    ax.plot(xc, y, arrow, color=kw.get("color", "k"), ms=9, mec="k", mew=0.5)
    ax.annotate(f"{x:.3g}", (xc, y), xytext=(-4 if arrow == ">" else 4, 6), textcoords="offset points",
                ha="right" if arrow == ">" else "left", fontsize=SMALL)


def _margin_axis(ax, label: str, centre_rows=()) -> None:
    """The shared margin axis; left of 0 the violation zone, except on ``centre_rows`` (equalities: their
    margin is minus a distance, never right of 0, so those rows get a neutral background)."""
    ax.set_xscale("symlog", linthresh=LINEAR, linscale=2.0)
    lo, hi = ax.get_xlim()
    lo, hi = max(min(lo, -LINEAR * 1.5), -CLIP * 1.2), min(max(hi, LINEAR * 1.5), CLIP * 1.2)
    y0, y1 = sorted(ax.get_ylim())
    ax.axvspan(lo, 0, color=VIOLATION_ZONE, alpha=0.06, lw=0, zorder=0)
    for i in centre_rows:
        ax.axhspan(max(i - 0.5, y0), min(i + 0.5, y1), color=NEUTRAL, lw=0, zorder=0.5)
    ax.set_xlim(lo, hi)
    ax.set_xticks([t for t in (-1000, -100, -10, -1, -0.5, 0, 0.5, 1, 10, 100, 1000) if lo <= t <= hi])
    ax.set_xticklabels([f"{t:g}" for t in ax.get_xticks()])
    ax.axvline(0, color="k", lw=1)
    ax.set_xlabel(label, fontsize=SMALL)
    ax.grid(alpha=0.3, axis="x")
    ax.tick_params(labelsize=SMALL)


def _interval(ax, ends, y, color, lw=2.0):
    ends = [_clip(e)[0] for e in (ends or []) if e is not None]
    if len(ends) == 2:
        ax.plot(ends, [y, y], color=color, lw=lw, solid_capstyle="butt")


#: What a row's test shows, as the forest plot says it before its power: only a test whose interval lies
#: inside the bound shows the claim within it; a pass whose interval reaches beyond is only not rejected.
READING_SHORT = {SHOWN: "shown within", NOT_REJECTED: "not rejected", REJECTED: "rejected",
                 BY_CONSTRUCTION: "at tolerance by construction"}


def _power_text(row: dict) -> str:
    shown = READING_SHORT.get(row.get("reading"), "")
    lead = f"{shown}; " if shown else ""
    if row.get("words"):
        return lead + row["words"]
    if row.get("detects") is None:
        return shown
    sign = "≤" if row.get("kind") == "floor" else "≥"
    if row.get("test") in ("exact", "hoeffding"):
        return f"{lead}fails on any value > {num(row.get('bound'))}"
    return f"{lead}detects {sign} {row['detects']:.3g} (p 0.9)"


#: Forest colours: a claim verified on every stratum, on some, failed, observed only or not verified; a
#: verified claim whose test only did not reject (its interval reaches beyond the bound) in a paler green.
NOT_SHOWN_GREEN = "#80c080"
SCOPE_NAMES = {"#2ca02c": "verified on every stratum, shown within the bound",
               NOT_SHOWN_GREEN: "verified on every stratum, not rejected only", "#e8a33d": "not verified on every stratum",
               "#d62728": "failed", "#7f7f7f": "observation-only"}


def row_color(row: dict) -> str:
    """A forest row's colour: its scoped verdict's (``reporting.scope``, set by the analysis), else its verdict's;
    green only where its test shows the claim within the bound, pale green where it only did not reject."""
    color = row.get("scope_color") or claim_color(row.get("claim_verdict"))
    return NOT_SHOWN_GREEN if color == "#2ca02c" and row.get("reading") not in (SHOWN, None) else color


def forest(a: Analysis):
    """Claims at a glance: per claim, the record its verdict rests on, as a margin to its bound oriented
    so that "holds" is always to the right, in units of the violation its power target asks to detect."""
    from matplotlib.lines import Line2D

    rows = a.forest
    fig = _figure(figsize=(MAX_WIDTH, 1.8 + 0.32 * len(rows)))
    ax = fig.subplots()
    for i, row in enumerate(rows):
        color = row_color(row)
        if row.get("margin") is None:
            ax.text(0.02, i, "no bound (observed only)", fontsize=SMALL, color="#7f7f7f", va="center",
                    transform=ax.get_yaxis_transform())
            continue
        _interval(ax, row.get("margin_ci"), i, color)
        # The marker is the interval's end (the room): filled where it lies inside the bound (shown within, or
        # rejected), hollow where a pass only did not reject; a dot marks the observed value.
        hollow = row.get("reading") in (NOT_REJECTED, BY_CONSTRUCTION)
        _clipped_point(ax, row.get("room", row["margin"]), i, marker="o", color=color,
                       mfc="white" if hollow else color, ms=7 if hollow else 6, mec=color if hollow else "k",
                       mew=1.6 if hollow else 0.5)
        if row.get("room") is not None and abs(row["margin"]) <= CLIP:
            ax.plot(row["margin"], i, ".", color="k", ms=4)
        if row.get("target_margin") is not None:
            ax.plot(row["target_margin"], i, "D", mfc="none", mec="k", ms=6)
        if row.get("detects_margin") is not None:
            ax.plot(row["detects_margin"], i, "|", color="k", ms=11, mew=2)
        if row.get("least_example_room") is not None:
            ax.plot(row["least_example_room"], i, "x", color="k", ms=5, alpha=0.7)
        ax.text(1.01, i, _short(_power_text(row), 44),
                fontsize=SMALL, va="center", transform=ax.get_yaxis_transform(), color=color)
    ax.set_yticks(range(len(rows)), [f"{r['claim']}  {_short(r.get('statistic'), 34)} ({r.get('kind') or '–'})"
                                     for r in rows], fontsize=SMALL)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    _margin_axis(ax, "margin of the interval's end (at the test's level) to the bound, in target units: right of 0 the\n"
                     "interval lies inside the bound; a test rejects when its whole interval lies left of 0 (grey row: an equality)",
                 [i for i, r in enumerate(rows) if r.get("kind") == "centre"])
    handles = [Line2D([], [], ls="-", marker="o", color="#555", label="interval end, inside the bound: shown within"),
               Line2D([], [], ls="-", marker="o", color="#555", mfc="white", mew=1.6,
                      label="interval end beyond: not rejected only"),
               Line2D([], [], ls="", marker=".", color="k", label="observed value"),
               Line2D([], [], ls="", marker="|", color="k", ms=10, mew=2, label="detects"),
               Line2D([], [], ls="", marker="D", mfc="none", mec="k", label="target"),
               Line2D([], [], ls="", marker="x", color="k", label="least room of one example")]
    handles += [Line2D([], [], ls="", marker="s", color=c, label=SCOPE_NAMES[c])
                for c in SCOPE_NAMES if any(row_color(r) == c for r in rows)]
    fig.legend(handles=handles, loc="outside upper center", ncol=3, fontsize=SMALL)
    return fig


def settings_checked(a: Analysis):
    """Where the claims were held to their bounds (filled) and only observed (hollow): κ against t_f for
    the records that carry κ, and the width m against t_f for every trained record."""
    pts = a.setting_points
    with_kappa = [p for p in pts if p["kappa"] is not None]
    fig = _figure(figsize=(MAX_WIDTH, 4.2))
    axes = fig.subplots(1, 2 if with_kappa else 1, squeeze=False)[0]
    panels = [(axes[-1], "m", "width m", pts)] + ([(axes[0], "kappa", "laziness κ (largest)", with_kappa)]
                                                   if with_kappa else [])
    rng = np.random.default_rng(0)  # horizontal jitter only: many records share one t_f
    for ax, key, label, sel in panels:
        for asserted, name in ((True, "asserted (held to its bound)"), (False, "observed only")):
            xs = [p["t_f"] * np.exp(rng.uniform(-0.04, 0.04)) for p in sel if p["asserted"] == asserted]
            ys = [p[key] for p in sel if p["asserted"] == asserted]
            if xs:
                ax.scatter(xs, ys, s=22, alpha=0.6, label=f"{name} ({len(xs)})", color="#1f77b4",
                           facecolors="#1f77b4" if asserted else "none")
        if key == "kappa":
            ax.axhline(KAPPA_MAX, color="grey", ls=":", lw=1, label="κ_max (L2)")
            ax.set_yscale("log")
        ax.set_xscale("log")
        ax.tick_params(labelsize=SMALL)
        _labelled(fig, ax, "training time t_f of f", label)
    return fig


def empirical_bounds(a: Analysis):
    """Fitted constants (largest per-record ratio, median and central interval), and per bound the
    record with the least room."""
    consts, room = a.constants, a.least_room
    fig = _figure(figsize=(MAX_WIDTH, 2.0 + 0.32 * (len(consts) + len(room))))
    panels = [p for p in (consts, room) if p]
    axes = list(np.atleast_1d(fig.subplots(len(panels), 1, height_ratios=[len(p) + 1 for p in panels])))
    if consts:
        top = axes.pop(0)
        for i, c in enumerate(consts):
            _interval(top, c.get("interval"), i, "#1f77b4", lw=3)
            if c.get("median") is not None:
                top.plot(c["median"], i, "|", color="k", ms=10, mew=1.5)
            top.plot(c["value"], i, "o", color="#1f77b4", mec="k", ms=6)
        top.set_yticks(range(len(consts)), [f"{c['claim']} {c['name']} ({c['n']})" for c in consts], fontsize=SMALL)
        top.set_ylim(len(consts) - 0.5, -0.5)
        if all(c["value"] > 0 for c in consts):
            top.set_xscale("log")
        top.set_xlabel("fitted constant (dot: largest ratio, | median, bar: central 90% of the records' ratios)",
                       fontsize=SMALL)
        top.grid(alpha=0.3, axis="x")
        top.tick_params(labelsize=SMALL)
    if room:
        bottom = axes.pop(0)
        for i, r in enumerate(room):
            built = r.get("reading") == BY_CONSTRUCTION   # no near miss: its tolerance is met by construction
            # The bar is the room of the interval's end; hatched where it reaches beyond (not rejected only).
            bottom.barh(i, 0 if built else _clip(r["room"])[0], color=VERDICT_COLORS.get(r["verdict"], "k"),
                        height=0.6, hatch="//" if r["kind"] == "centre" or r["room"] < 0 else None, edgecolor="white")
            if _clip(r["room"])[1] and not built:
                _clipped_point(bottom, r["room"], i, color="k")
            if abs(r["margin"]) <= CLIP and not built:
                bottom.plot(r["margin"], i, ".", color="k", ms=4)
            text = ("at its tolerance by construction" if built else
                    f"{near_bound(r.get('end'), r['bound'])} vs {r['kind']} {num(r['bound'])}")
            if r.get("at_tolerance") and not built:
                text = f"{r['at_tolerance']} by construction, else {near_bound(r.get('end'), r['bound'])} vs {num(r['bound'])}"
            bottom.text(1.01, i, _short(text, 40), fontsize=SMALL, va="center", transform=bottom.get_yaxis_transform())
        bottom.set_yticks(range(len(room)), [f"{r['claim']} {_short(r['statistic'], 40)}" for r in room], fontsize=SMALL)
        bottom.set_ylim(len(room) - 0.5, -0.5)
        _margin_axis(bottom, "least room of an interval's end to the bound over a statistic's asserted records (target\n"
                             "units; · the value; hatched: the interval reaches beyond, grey row: an equality)",
                     [i for i, r in enumerate(room) if r["kind"] == "centre"])
    return fig


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
    if a.setting_points:
        _save(settings_checked(a), figures_dir, DOMAIN, drawn)
    return drawn
