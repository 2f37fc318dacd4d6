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

from . import breaks, figures as F
from .analysis import Analysis
from .margins import test_in_words
from .budget import budget_words
from .scope import (CSS_COLORS, CSS_NONE, CSS_OK, DOMAIN_COLUMNS, DOMAIN_FIGURE, HYPOTHESIS_COLUMNS, OBSERVATION,
                    OUTCOMES, READING_CSS, claim_title, directed, hypothesis_cells, hypothesis_rows, hypothesis_total,
                    near_bound, not_checked, not_checked_items, outcome_counts, outcome_line, reading_words, reason_text,
                    scope)
from .strata_tables import html_strata
from .markdown import CLAIM_COLUMNS, DETAIL, counterexample, error_line, power_cells, rerun_command, room_text

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
    side, test, bound = r.get("side"), r.get("test"), r.get("bound")
    return [r["check"], r["statistic"], near_bound(r.get("value"), bound), _num(bound), side or "",
            test_in_words(r) or directed(r.get("detects"), side, test, bound), directed(r.get("target"), side, test, bound), ci, _num(r.get("coverage")),
            _num(r.get("n_pairs")), r["verdict"], r.get("reason") or "", F.setting_text(r.get("setting"))]


def _reading(forest_row: dict | None) -> dict:
    """What the test a claim's verdict rests on shows about its bound: {"text", "css"} (``scope.reading_words``)."""
    return {"text": reading_words(forest_row), "css": READING_CSS.get((forest_row or {}).get("reading"), "")}


def _claim_rows(table: dict, a: Analysis, parts: dict) -> list[dict]:
    forest = {r["claim"]: r for r in a.forest}
    rows = []
    for cid in CLAIMS:
        row, title = table.get(cid), claim_title(cid, parts)
        if row is None:
            rows.append({"id": cid, "cells": [cid, title, 0, "", "", "", "", "", "", "", "not exercised"],
                         "css": CSS_NONE, "reading": _reading(None)})
            continue
        detects, target = power_cells(row, forest.get(cid))
        rows.append({"id": cid, "css": scope(row)["css"], "reading": _reading(forest.get(cid)),
                     "cells": [cid, title, row["records"], row["pass"], row.get("underpowered", 0), row["fail"],
                               row["observed"], row["invalid"], detects, target, scope(row)["text"]]})
    return rows


def _failures(outcomes: dict, meta: dict) -> list[dict]:
    return [{"nodeid": k, "claims": ", ".join(o["claims"]), "error": error_line(o.get("longrepr")),
             "example": counterexample(o.get("longrepr")), "rerun": rerun_command(k, meta),
             "longrepr": (o.get("longrepr") or "")[-4000:]}
            for k, o in outcomes.items() if o["outcome"] == "failed"]


def _outcome(table: dict) -> list[dict]:
    """The outcome line's parts: {"n", "name", "ids", "css"} (the css of the claims it counts)."""
    css = {"verified on every stratum": CSS_OK, "failed": "bad", "not exercised": CSS_NONE, OBSERVATION: CSS_NONE}
    return [{"n": len(ids), "name": name, "ids": ", ".join(ids) if name != OUTCOMES[0] else "",
             "css": css.get(name, "warn") if ids else "zero"} for name, ids in outcome_counts(table).items()]


def _collapses(meta: dict, records: list[dict]) -> dict:
    """"Where it breaks" (``reporting.breaks``): the account's lines, P3 over the paper's recipe, the groups."""
    b = breaks.where_it_breaks(meta.get("collapsed_pairs") or [], records)
    return {"intro": breaks.intro_text(b, meta.get("pairs_trained")), "items": breaks.summary_items(b),
            "paper": b["paper"], "columns": breaks.GROUP_COLUMNS, "rows": [breaks.group_cells(g) for g in b["groups"]],
            "total": b["total"]}


def context(run_dir: Path, records: list[dict], outcomes: dict, meta: dict, table: dict, a: Analysis,
            drawn: dict, claim_figures: dict, verdicts: dict | None) -> dict:
    """Everything the template shows, as plain values."""
    forest = {r["claim"]: r for r in a.forest}
    nc = not_checked(meta, outcomes)
    claims = []
    for cid, claim in CLAIMS.items():
        if cid not in table:
            continue
        recs = [r for r in records if r["claim"] == cid]
        power = power_cells(table[cid], forest.get(cid))
        unchecked = [f"check {k} skipped: {reason_text(v['reason'])}" for k, v in nc["checks"].items()
                     if cid in v["claims"]]
        claims.append({"id": cid, "title": claim_title(cid, nc["parts"]), "statement": statement(claim.latex),
                       "reading": dict(_reading(forest.get(cid)), text=reading_words(forest.get(cid), power[0])),
                       "unchecked": ([nc["parts"][cid]] if cid in nc["parts"] else []) + unchecked,
                       "verdict": table[cid]["verdict"], "scope": scope(table[cid]),
                       "reason": table[cid].get("reason") if table[cid].get("claim_verdict") else "",
                       "excludes": table[cid].get("excludes"), "domain": a.domain.get(cid, {}),
                       "power": power,
                       "forest": forest.get(cid), "figure": _png(run_dir, claim_figures.get(cid)),
                       "rows": [{"cells": record_row(r), "verdict": r["verdict"]} for r in recs],
                       "verdicts": sorted({r["verdict"] for r in recs})})
    figures = {name: _png(run_dir, path) for name, path in drawn.items()}
    hyp = hypothesis_rows(outcomes, meta, records)
    return {"meta": meta, "n_records": len(records), "detail": DETAIL, "claim_columns": CLAIM_COLUMNS,
            "claim_rows": _claim_rows(table, a, nc["parts"]), "claims": claims, "record_columns": RECORD_COLUMNS,
            "not_checked": not_checked_items(nc),
            "forest": figures.pop(F.FOREST, None), "bounds": figures.pop(F.EMPIRICAL_BOUNDS, None),
            "figures": figures, "failures": _failures(outcomes, meta), "constants": a.constants,
            "least_room": [dict(r, room_text=room_text(r), reading_css=READING_CSS.get(r.get("reading"), ""))
                           for r in sorted(a.least_room, key=lambda r: r["room"])], "strata": html_strata(verdicts),
            "outcome": _outcome(table), "outcome_line": outcome_line(table),
            "budget_words": budget_words(meta["false_failure_budget"]), "css_colors": CSS_COLORS,
            "domain_columns": DOMAIN_COLUMNS, "domain_figure": figures.pop(DOMAIN_FIGURE, None),
            "hypothesis_columns": HYPOTHESIS_COLUMNS, "hypothesis_total": hypothesis_total(hyp),
            "hypothesis": [hypothesis_cells(r) for r in hyp],
            "collapses": _collapses(meta, records)}


def render(ctx: dict) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["near"] = near_bound
    return env.get_template("report.html.j2").render(**ctx)


def report_html(run_dir: Path, records: list[dict], outcomes: dict, meta: dict, table: dict, a: Analysis,
                drawn: dict, claim_figures: dict, verdicts: dict | None = None) -> str:
    return render(context(Path(run_dir), records, outcomes, meta, table, a, drawn, claim_figures, verdicts))
