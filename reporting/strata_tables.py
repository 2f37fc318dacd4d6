"""The claim × stratum tables of the report (``reporting.verdicts``' per-stratum verdicts): one mark per
cell in summary.md (the claims with a stratum not verified), the verdict and record count per cell in
records.md, and the cells of report.html's table with their colour class (``reporting.scope``)."""

from __future__ import annotations

from theory.strata import AXES
from theory.tolerances import MIN_CELL_UNITS

from .margins import claim_order
from .scope import CSS_OK, CSS_WARN, scope, status_class, stratum_reason
from .verdicts import FAILED, NOT_CHECKED, NOT_COVERED, UNDERPOWERED, VERIFIED

#: One mark per stratum status in the summary's table: every status other than verified or failed
#: (not covered, not checked, not verified, …) is evidence missing there: ○, named in the scope list.
STRATUM_MARKS = {VERIFIED: "✓", FAILED: "✗"}
OTHER_MARK = "○"
_LEGEND = ("A claim is verified only if every stratum it covers is (theory.strata); blank: the axis lies "
           "outside the claim.")


def columns(strata: dict) -> list[str]:
    """The strata named in ``strata`` ({claim: {"axis=value": …}}), axis by axis in theory.strata's order."""
    named = {s for per in strata.values() for s in per}
    ordered = [f"{axis}={v}" for axis, values in AXES.items() for v in values if f"{axis}={v}" in named]
    return ordered + sorted(named - set(ordered))


def _table(strata: dict, cell, legend: str) -> list[str]:
    if not strata:
        return []
    cols = columns(strata)
    md = ["## Claims by stratum", "", f"{_LEGEND} {legend}", "",
          "| claim | " + " | ".join(cols) + " |", "|---|" + ":-:|" * len(cols)]
    for claim in claim_order(strata):
        per = strata[claim]
        md.append(f"| {claim} | " + " | ".join(cell(per[s]) if s in per else "" for s in cols) + " |")
    return md + [""]


def _strata_of(verdicts: dict | None) -> dict:
    return {c: v["strata"] for c, v in (verdicts or {}).items() if isinstance(v.get("strata"), dict) and v["strata"]}


def test_of_cell(v: dict) -> str:
    """The test a cell's verdict rests on: its units and ``detects`` (with its target), and whether it rests
    on fewer units than MIN_CELL_UNITS; "" for a cell written before cells kept them."""
    if v.get("units") is None:
        return ""
    det = v.get("best_detects")
    shown = "" if det is None else f", detects {det:.3g}" + ("" if v.get("target") is None else
                                                           f" (target {v['target']:.3g})")
    few = f", fewer than {MIN_CELL_UNITS} units" if v.get("few_units") else ""
    return f"{v['units']} units{shown}{few}"


def strata_cells(verdicts: dict | None) -> list[str]:
    """records.md's table, from the claim verdicts: each cell's verdict, its number of records and the
    units and ``detects`` of the test it rests on."""
    def cell(v):
        test = test_of_cell(v)
        return f"{v.get('verdict', '')} ({v.get('records', '')} records{'; ' + test if test else ''})"
    return _table(_strata_of(verdicts), cell, "Per cell: verdict (records; units and detects of its test).")


def strata_marks(table: dict) -> list[str]:
    """summary.md's table, from the claim table: one mark per cell, for the claims with some strata verified
    and others not (a claim short of its power target on every stratum, or verified on every one, is said
    in one line)."""
    strata = _strata_of(table)
    partial = {c: per for c, per in strata.items()
               if any(v.get("verdict") not in (VERIFIED, NOT_CHECKED) for v in per.values())}
    short = [c for c in claim_order(partial)
             if all(v.get("verdict") in (UNDERPOWERED, NOT_CHECKED, NOT_COVERED) for v in partial[c].values())]
    mixed = {c: per for c, per in partial.items() if c not in short}
    rest = [c for c in claim_order(strata) if c not in partial]
    md = _table(mixed, lambda v: STRATUM_MARKS.get(v.get("verdict"), OTHER_MARK),
                f"✓ verified at target power, ✗ failed, {OTHER_MARK} not verified there (not covered, not "
                "checked or underpowered: the reason is in the scope list above). Records per cell: records.md.")
    if not strata:
        return md
    unsupported = unsupported_strata(table)
    line = (f"Verified on every stratum they cover{' that the procedure supports' if unsupported else ''}: "
            f"{', '.join(rest)}." if rest else "")
    shortline = (f"Not rejected on any stratum, short of the power target on every one the conditions cover: "
                 f"{', '.join(short)} (units and detects per cell: records.md)." if short else "")
    said = " ".join(ln for ln in (line, shortline) if ln)
    return (md or ["## Claims by stratum", ""]) + ([said, ""] if said else [])


def html_strata(verdicts: dict | None) -> dict | None:
    """report.html's table: {"columns", "rows": [{"claim", "cells": [None | {"text", "css", "title"}]}]},
    claims in THEORY.md's order, a cell coloured by its status (amber: any status but verified or failed)."""
    strata = _strata_of(verdicts)
    if not strata:
        return None
    cols = columns(strata)
    rows = []
    for claim in claim_order(strata):
        cells = []
        for s in cols:
            v = strata[claim].get(s)
            if v is None:
                cells.append(None)
                continue
            css = status_class(v.get("verdict"))
            title = v.get("verdict") or ""
            if css == CSS_WARN:
                title += ": " + stratum_reason(v)
            if test_of_cell(v):
                title += f" — {test_of_cell(v)}"
            shown = {CSS_OK: "✓", "bad": "✗ failed"}.get(css, v.get("verdict", ""))
            cells.append({"text": f"{shown} ({v.get('records', 0)})", "css": css, "title": title})
        rows.append({"claim": claim, "cells": cells})
    return {"columns": cols, "rows": rows}


def unsupported_strata(table: dict) -> dict:
    """The strata the procedure's declaration excludes ("not checked" with one reason wherever they
    appear): stratum → reason."""
    out = {}
    for row in table.values():
        for name, status, reason in scope(row)["others"]:
            if status == NOT_CHECKED:
                out[name] = reason
    return out


def excludes_lines(table: dict) -> list[str]:
    """Per claim, the strata its verdict does not cover (amber, with the reason), the parts not checked,
    and what it excludes (``reporting.verdicts.excludes``); the strata the procedure does not support,
    the same for every claim, are said once."""
    lines: dict = {}
    unsupported = unsupported_strata(table)
    for cid in claim_order(table):
        row, s = table[cid], scope(table[cid])
        groups: dict = {}      # strata of one status and reason (one test) named together
        for name, status, reason in s["others"]:
            if not (status == NOT_CHECKED and name in unsupported):
                why = test_of_cell(row["strata"][name]) if status == UNDERPOWERED else reason
                groups.setdefault((status, why), []).append(name)
        missing = "; ".join(f"**{status}** on {', '.join(names)}: {why}" for (status, why), names in groups.items())
        reason = row.get("reason") if row.get("claim_verdict") else ""
        parts = [p for p in (missing, "" if missing else reason,
                             row.get("excludes") and f"excludes: {row['excludes']}") if p]
        if parts:   # claims with the same scope and exclusion (R1–R7) share a line
            lines.setdefault(f"({s['text']}): " + "; ".join(parts), []).append(cid)
    rows = [f"- {', '.join(ids)} {text}" for text, ids in lines.items()]
    once = [f"**Not checked on any claim** (the procedure's declaration): " +
            "; ".join(f"{name}: {reason}" for name, reason in unsupported.items()), ""] if unsupported else []
    return once + ["Scope of each verdict (strata not verified, with the reason) and what it excludes (its most "
                   "telling test):", "", *rows, ""] if rows else once
