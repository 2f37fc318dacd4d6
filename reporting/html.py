"""``report.html``: the run in one self-contained page that opens offline.

Rendered from ``templates/report.html.j2`` (jinja2, autoescaped). Nothing is fetched: the CSS and the
table script are inline, the figures are embedded as base64 PNG, and each claim's statement is drawn as
SVG by matplotlib's mathtext (no MathJax, no fonts: glyphs are paths), embedded as a data URI so that
the glyph ids of different statements cannot collide.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from pathlib import Path

from theory.claims import CLAIMS

from . import figures as F
from .analysis import Analysis
from .margins import test_in_words
from .markdown import (CLAIM_COLUMNS, DETAIL, attack_collapses, counterexample, error_line, power_cells,
                       predicted_collapse, rerun_command)

TEMPLATES = Path(__file__).parent / "templates"
#: Point size of the rendered statements.
MATH_SIZE = 13
RECORD_COLUMNS = ("check", "statistic", "value", "bound", "side", "detects", "target", "CI", "coverage", "pairs",
                  "verdict", "reason", "setting")


def conjuncts(latex: str) -> list[str]:
    r"""The top-level ``\wedge`` conjuncts of a statement (each drawn on its own line; one line is too wide)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(latex):
        if latex.startswith(r"\left", i) or latex[i] == "{":
            depth += 1
        elif latex.startswith(r"\right", i) or latex[i] == "}":
            depth -= 1
        elif depth == 0 and latex.startswith(r"\wedge", i):
            parts.append(latex[start:i].strip())
            start = i + len(r"\wedge")
        i += 1
    return [p for p in parts + [latex[start:].strip()] if p]


@functools.lru_cache(maxsize=None)
def math_svg(latex: str) -> str | None:
    """A data URI of the SVG of ``$latex$``, or None where mathtext cannot parse it."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import math_to_image

    buf = io.BytesIO()
    try:
        math_to_image(f"${latex}$", buf, prop=FontProperties(size=MATH_SIZE), format="svg")
    except (ValueError, RuntimeError):
        return None
    svg = buf.getvalue().decode("utf-8")
    # The XML prolog names a DTD by URL and the metadata a licence: neither is needed to draw it.
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<metadata>.*?</metadata>", "", svg, flags=re.S)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def statement(latex: str) -> dict:
    """{"images": [data URIs], "latex": source}; the whole statement on one line where a conjunct fails."""
    images = [math_svg(p) for p in conjuncts(latex)]
    if not all(images):
        images = [math_svg(latex)]
    return {"images": [i for i in images if i], "latex": latex}


def _png(run_dir: Path, rel: str | None) -> str | None:
    if not rel or not (run_dir / rel).is_file():
        return None
    return "data:image/png;base64," + base64.b64encode((run_dir / rel).read_bytes()).decode("ascii")


def _num(v) -> str:
    return F.num(v, 4)


def record_row(r: dict) -> list[str]:
    ci = "" if not r.get("ci") else f"[{_num(r['ci'][0])}, {_num(r['ci'][1])}]"
    return [r["check"], r["statistic"], _num(r.get("value")), _num(r.get("bound")), r.get("side") or "",
            test_in_words(r) or _num(r.get("detects")), _num(r.get("target")), ci, _num(r.get("coverage")),
            _num(r.get("n_pairs")), r["verdict"], r.get("reason") or "", F.setting_text(r.get("setting"))]


def _claim_rows(table: dict, a: Analysis) -> list[dict]:
    forest = {r["claim"]: r for r in a.forest}
    rows = []
    for cid, claim in CLAIMS.items():
        row = table.get(cid)
        if row is None:
            rows.append({"id": cid, "cells": [cid, claim.title, 0, "", "", "", "", "", "", "", "not exercised"],
                         "color": "#7f7f7f"})
            continue
        detects, target = power_cells(row, forest.get(cid))
        rows.append({"id": cid, "color": F.claim_color(row["verdict"]),
                     "cells": [cid, claim.title, row["records"], row["pass"], row.get("underpowered", 0), row["fail"],
                               row["observed"], row["invalid"], detects, target, row["verdict"]]})
    return rows


def _failures(outcomes: dict, meta: dict) -> list[dict]:
    return [{"nodeid": k, "claims": ", ".join(o["claims"]), "error": error_line(o.get("longrepr")),
             "example": counterexample(o.get("longrepr")), "rerun": rerun_command(k, meta),
             "longrepr": (o.get("longrepr") or "")[-4000:]}
            for k, o in outcomes.items() if o["outcome"] == "failed"]


def _strata(verdicts: dict | None) -> dict | None:
    strata = {c: v["strata"] for c, v in (verdicts or {}).items() if isinstance(v.get("strata"), dict) and v["strata"]}
    if not strata:
        return None
    return {"columns": sorted({s for per in strata.values() for s in per}), "claims": strata}


def _collapses(collapses: list[dict]) -> dict:
    attacks = attack_collapses(collapses)
    return {"attacks": attacks, "controls": len(collapses) - len(attacks),
            "predicted": sum(map(predicted_collapse, attacks))}


def context(run_dir: Path, records: list[dict], outcomes: dict, meta: dict, table: dict, a: Analysis,
            drawn: dict, claim_figures: dict, verdicts: dict | None) -> dict:
    """Everything the template shows, as plain values."""
    forest = {r["claim"]: r for r in a.forest}
    claims = []
    for cid, claim in CLAIMS.items():
        if cid not in table:
            continue
        recs = [r for r in records if r["claim"] == cid]
        claims.append({"id": cid, "title": claim.title, "statement": statement(claim.latex),
                       "verdict": table[cid]["verdict"], "color": F.claim_color(table[cid]["verdict"]),
                       "forest": forest.get(cid), "figure": _png(run_dir, claim_figures.get(cid)),
                       "rows": [{"cells": record_row(r), "verdict": r["verdict"]} for r in recs],
                       "verdicts": sorted({r["verdict"] for r in recs})})
    figures = {name: _png(run_dir, path) for name, path in drawn.items()}
    return {"meta": meta, "n_records": len(records), "detail": DETAIL, "claim_columns": CLAIM_COLUMNS,
            "claim_rows": _claim_rows(table, a), "claims": claims, "record_columns": RECORD_COLUMNS,
            "forest": figures.pop(F.FOREST, None), "bounds": figures.pop(F.EMPIRICAL_BOUNDS, None),
            "figures": figures, "failures": _failures(outcomes, meta), "constants": a.constants,
            "least_room": sorted(a.least_room, key=lambda r: r["margin"]), "strata": _strata(verdicts),
            "collapses": _collapses(meta.get("collapsed_pairs") or [])}


def render(ctx: dict) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env.get_template("report.html.j2").render(**ctx)


def report_html(run_dir: Path, records: list[dict], outcomes: dict, meta: dict, table: dict, a: Analysis,
                drawn: dict, claim_figures: dict, verdicts: dict | None = None) -> str:
    return render(context(Path(run_dir), records, outcomes, meta, table, a, drawn, claim_figures, verdicts))
