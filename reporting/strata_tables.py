"""The claim × stratum tables of the report (``reporting.verdicts``' per-stratum verdicts): one mark per
cell in summary.md, the verdict and record count per cell in records.md."""

from __future__ import annotations

from .margins import claim_order
from .verdicts import FAILED, NOT_COVERED, NOT_VERIFIED, VERIFIED

#: One mark per stratum verdict in the summary's table.
STRATUM_MARKS = {VERIFIED: "✓", FAILED: "✗", NOT_VERIFIED: "?", NOT_COVERED: "○"}
_LEGEND = ("A claim is verified only if every stratum it covers is (theory.strata); blank: the axis lies "
           "outside the claim.")


def _table(strata: dict, cell, legend: str) -> list[str]:
    if not strata:
        return []
    cols = sorted({s for per in strata.values() for s in per})
    md = ["## Claims by stratum", "", f"{_LEGEND} {legend}", "",
          "| claim | " + " | ".join(cols) + " |", "|---|" + ":-:|" * len(cols)]
    for claim in claim_order(strata):
        per = strata[claim]
        md.append(f"| {claim} | " + " | ".join(cell(per[s]) if s in per else "" for s in cols) + " |")
    return md + [""]


def strata_cells(verdicts: dict | None) -> list[str]:
    """records.md's table, from the claim verdicts: each cell's verdict and its number of records."""
    strata = {c: v["strata"] for c, v in (verdicts or {}).items() if isinstance(v.get("strata"), dict) and v["strata"]}
    return _table(strata, lambda v: f"{v.get('verdict', '')} ({v.get('records', '')})", "Per cell: verdict (records).")


def strata_marks(table: dict) -> list[str]:
    """summary.md's table, from the claim table: one mark per cell."""
    strata = {c: row["strata"] for c, row in table.items() if row.get("strata")}
    return _table(strata, lambda v: STRATUM_MARKS.get(v.get("verdict"), "?"),
                  "✓ verified at target power, ✗ failed, ? not verified, ○ not covered by the conditions (stated "
                  "in the verdict). Records per cell: records.md.")
