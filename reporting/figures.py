"""Figures of the empirical sections, drawn from an :class:`reporting.analysis.Analysis`.

``draw(analysis, figures_dir)`` writes each figure whose data are present (PNG, atomically) and
returns {figure name: path relative to the run directory}, for the Markdown to link.
"""

from __future__ import annotations

import math
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
VALUE_BOUND = "value_vs_bound.png"


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


def value_against_bound(a: Analysis):
    from matplotlib.lines import Line2D

    by_claim = a.value_vs_bound
    claims = list(by_claim)
    ncol = min(4, len(claims))
    nrow = math.ceil(len(claims) / ncol)
    fig = _figure(figsize=(3.1 * ncol, 2.7 * nrow))
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    for ax, claim in zip(axes, claims):
        pts = by_claim[claim]
        for verdict, color in VERDICT_COLORS.items():
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
    handles = [Line2D([], [], ls="", marker="o", color=c, label=v) for v, c in VERDICT_COLORS.items() if v in present]
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles) or 1, fontsize=8)
    fig.supxlabel("bound", fontsize=9)
    fig.supylabel("observed value", fontsize=9)
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
    if a.value_vs_bound:
        _save(value_against_bound(a), figures_dir, VALUE_BOUND, drawn)
    return drawn
