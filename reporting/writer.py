"""Write a run's report: reports/<run-id>/{results.json, summary.md, records.md, report.html, figures/}
and reports/latest/.

Only the controller writes (``checks.plugin`` through ``reporting.run_report``). Every file is written atomically (temporary file
in the same directory, then ``os.replace``), so an interrupted run or a parallel writer never
leaves half a JSON behind; latest/ is swapped in with one rename.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from perturbation_learning.files import atomic_write_text, json_clean

from . import figures
from .analysis import analyse
from .html import report_html
from .claim_figures import claim_rows, draw_claims
from .markdown import records_markdown, summary_markdown
from .records import FORMAT_VERSION, VERDICTS, Record
from .verdicts import FAILED, NOT_VERIFIED, VERIFIED

__all__ = ["FORMAT_VERSION", "claim_table", "render_results", "write_report_files", "write_run_report"]


def claim_table(records: list[dict], verdicts: dict | None = None) -> dict:
    """Per claim: counts by verdict, the checks that recorded it, mean coverage, overall verdict (the
    claim-level verdict of ``reporting.verdicts`` where given, with its best ``detects`` and target)."""
    out: dict = defaultdict(lambda: {"records": 0, **{v: 0 for v in VERDICTS}, "coverage": [], "checks": set()})
    for r in records:
        row = out[r["claim"]]
        row["records"] += 1
        row[r["verdict"]] += 1
        row["checks"].add(r["check"])
        if r["coverage"] is not None:
            row["coverage"].append(r["coverage"])
    for claim in verdicts or {}:
        out[claim]                                  # a claim with no record still gets its verdict row
    for claim, row in out.items():
        row["checks"] = sorted(row["checks"])
        cov = row.pop("coverage")
        row["mean_coverage"] = sum(cov) / len(cov) if cov else None
        row["verdict"] = ("FAIL" if row["fail"] else "verified inside the assumption" if row["pass"]
                          else "observed outside the assumption only" if row["observed"] else "invalid runs only")
        v = (verdicts or {}).get(claim)
        if v is not None:
            row.update(verdict=v["verdict"] + (f" ({v['reason']})" if v.get("reason") else ""),
                       claim_verdict=v["verdict"], reason=v.get("reason") or "",
                       best_detects=v.get("best_detects"), target=v.get("target"), excludes=v.get("excludes"))
            if v.get("strata"):
                row["strata"] = v["strata"]
    return dict(out)


def write_run_report(root: Path, records: list[dict], outcomes: dict, meta: dict,
                     verdicts: dict | None = None) -> Path:
    """Write reports/<run-id>/ and refresh reports/latest/; returns the run directory. ``verdicts``: the
    claim-level verdicts (``reporting.verdicts``)."""
    root = Path(root)
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    run_dir = root / run_id
    write_report_files(run_dir, records, outcomes, dict(meta, run_id=run_id), verdicts)
    _refresh_latest(root, run_dir)
    return run_dir


def write_report_files(run_dir: Path, records: list[dict], outcomes: dict, meta: dict,
                       verdicts: dict | None = None) -> Path:
    """Write results.json, summary.md, records.md, report.html and figures/ into ``run_dir``."""
    run_dir = Path(run_dir)
    table = claim_table(records, verdicts)
    analysis = analyse(records, verdicts)
    drawn = figures.draw(analysis, run_dir / "figures")
    per_claim = draw_claims(claim_rows(records), run_dir / "figures")
    empirical = dict(analysis.to_json(), figures=list(drawn), claim_figures=per_claim)
    results = {"format_version": FORMAT_VERSION, "meta": meta, "claims": table, "outcomes": outcomes, "records": records, "empirical": empirical}
    atomic_write_text(run_dir / "results.json", json.dumps(json_clean(results), indent=1, sort_keys=True))
    atomic_write_text(run_dir / "summary.md", summary_markdown(records, outcomes, meta, table, analysis, drawn))
    atomic_write_text(run_dir / "records.md", records_markdown(records, outcomes, meta, table, analysis, drawn, verdicts))
    atomic_write_text(run_dir / "report.html", report_html(run_dir, records, outcomes, meta, table, analysis, drawn,
                                                           per_claim, verdicts))
    return run_dir


def verdicts_from_table(claims: dict) -> dict:
    """The claim verdicts (``reporting.verdicts``' shape) back from results.json's claim table; a table
    written before it kept ``claim_verdict`` gives its verdict with the reason split off."""
    out = {}
    for cid, row in claims.items():
        verdict, reason = row.get("claim_verdict"), row.get("reason")
        if verdict is None:
            verdict, reason = row.get("verdict", ""), ""
            for name in (VERIFIED, FAILED, NOT_VERIFIED):
                if verdict.startswith(name + " ("):
                    verdict, reason = name, verdict[len(name) + 2:-1]
        out[cid] = {k: row.get(k) for k in ("best_detects", "target", "excludes", "strata")}
        out[cid].update(verdict=verdict, reason=reason or "", records=row.get("records", 0),
                        strata=row.get("strata") or {})
    return out


def render_results(results: Path, out_dir: Path) -> Path:
    """Render a written run's results.json (or .json.gz, e.g. the baseline) again into ``out_dir``, with
    this checkout's report code; its records, outcomes, metadata and claim verdicts as written."""
    import gzip

    results = Path(results)
    if results.is_dir():
        results = results / "results.json"
    with (gzip.open if results.suffix == ".gz" else open)(results, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    blank = Record(claim="", check="", setting={}, seeds=[], statistic="", value=None, bound=None, verdict="",
                   inside=None).to_jsonable()
    records = [dict(blank, **r) for r in doc["records"]]   # a slimmed baseline drops the empty fields
    return write_report_files(out_dir, records, doc.get("outcomes") or {}, doc["meta"],
                              verdicts_from_table(doc["claims"]))


def _refresh_latest(root: Path, run_dir: Path) -> None:
    """Copy the run into a temporary sibling, then swap it in with one rename."""
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".latest."))
    shutil.rmtree(tmp)
    shutil.copytree(run_dir, tmp)
    latest = root / "latest"
    old = None
    if latest.exists():
        old = Path(tempfile.mkdtemp(dir=root, prefix=".old."))
        shutil.rmtree(old)
        os.replace(latest, old)
    os.replace(tmp, latest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
