"""One figure per claim: its records as margins to their bounds (``reporting.margins``), one row per
check and per stratum's pooled test, with a legend; written to ``figures/claims/<claim>.png``."""

from __future__ import annotations

import numpy as np

from .figures import CLAIM_DIR, NEUTRAL, SMALL, VERDICT_COLORS, _clipped_point, _figure, _interval, _margin_axis, _save, _short


def claim_records(rows: list[dict], claim: str):
    """One claim's records as margins to their bounds (same orientation and units as the forest plot),
    one line per check (a stratum's pooled test named by its strata), coloured by verdict; pooled tests
    as diamonds with their interval; equality rows on a neutral background."""
    from matplotlib.lines import Line2D

    labels = list(dict.fromkeys(r.get("label") or r["check"] for r in sorted(rows, key=lambda r: r["pooled"])))
    fig = _figure(figsize=(9, 1.5 + 0.32 * len(labels)))
    ax = fig.subplots()
    rng = np.random.default_rng(0)  # vertical jitter only
    for r in rows:
        y = labels.index(r.get("label") or r["check"]) + (rng.uniform(-0.25, 0.25) if not r["pooled"] else 0.0)
        color = VERDICT_COLORS.get(r["verdict"], "k")
        # A pooled test's diamond is hollow where its interval reaches beyond the bound (not rejected only).
        hollow = r["pooled"] and (r.get("room") is not None and r["room"] < 0 and r["verdict"] != "fail")
        if r["pooled"]:
            _interval(ax, r.get("margin_ci"), y, color, lw=2.5)
        _clipped_point(ax, r["margin"], y, marker="D" if r["pooled"] else "o", color=color,
                       mfc="white" if hollow else color, ms=6 if r["pooled"] else 3.5,
                       mec=color if hollow else "k" if r["pooled"] else color, mew=1.2 if hollow else 0.5,
                       alpha=1.0 if r["pooled"] else 0.7, ls="")
    ax.set_yticks(range(len(labels)), [_short(c, 60) for c in labels], fontsize=SMALL)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    centre = sorted({labels.index(r.get("label") or r["check"]) for r in rows if r.get("kind") == "centre"})
    _margin_axis(ax, f"{claim}: margin to the bound per record's value, a pooled test with its interval, in target "
                     "units\n(right of 0: the value holds; shown within the bound only where the whole interval is)", centre)
    shown = [v for v in VERDICT_COLORS if any(r["verdict"] == v for r in rows)]
    handles = [Line2D([], [], ls="", marker="o", color=VERDICT_COLORS[v], label=v) for v in shown]
    handles += [Line2D([], [], ls="-", marker="D", color="#555", mec="k", label="pooled test, its interval")]
    if any(r["pooled"] and (r.get("room") or 0) < 0 for r in rows):
        handles.append(Line2D([], [], ls="-", marker="D", color="#555", mfc="white",
                              label="pooled, interval beyond the bound: not rejected only"))
    if centre:
        handles.append(Line2D([], [], ls="", marker="s", ms=10, color=NEUTRAL, mec="#999",
                              label="equality (margin = −distance)"))
    fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 4), fontsize=SMALL)
    return fig


def row_label(rec: dict) -> str:
    """A record's row in its claim's figure: its check, or the strata of a stratum's pooled test."""
    from .verdicts import POOLED_CHECK, STRATUM_CHECK

    if rec.get("check") == STRATUM_CHECK:
        return "pooled on " + ", ".join((rec.get("setting") or {}).get("strata") or ["a stratum"])
    return "pooled over all examples" if rec.get("check") == POOLED_CHECK else rec.get("check", "")


def claim_rows(records: list[dict]) -> dict:
    """claim → its records' scaled margins (``margins.margin``) with their kind and figure row label."""
    from .margins import known_kinds, margin
    from .verdicts import POOLED_CHECK, STRATUM_CHECK

    known, out = known_kinds(records), {}
    for r in records:
        m = margin(r, known)
        if m is not None:
            s = m.scaled()
            out.setdefault(r["claim"], []).append(
                {"check": r["check"], "label": row_label(r), "kind": m.kind, "verdict": r["verdict"],
                 "margin": s["margin"], "margin_ci": s["margin_ci"], "room": s["room"],
                 "pooled": r["check"] in (POOLED_CHECK, STRATUM_CHECK)})
    return out


def draw_claims(rows_by_claim: dict, figures_dir) -> dict:
    """One figure per claim with margins: {claim: "figures/claims/<claim>.png"}."""
    drawn: dict = {}
    for claim, rows in rows_by_claim.items():
        if rows:
            name = f"{CLAIM_DIR}/{claim}.png"
            _save(claim_records(rows, claim), figures_dir, name, drawn)
    return {claim: drawn[f"{CLAIM_DIR}/{claim}.png"] for claim in rows_by_claim if f"{CLAIM_DIR}/{claim}.png" in drawn}
