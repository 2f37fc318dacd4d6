"""Write a run's report: reports/<run-id>/{results.json, summary.md, figures/} and reports/latest/.

Every file is written atomically (temporary file in the same directory, then ``os.replace``), so an
interrupted run or a parallel writer never leaves half a JSON behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from perturbation_learning.files import atomic_write_text


def claim_table(records: list[dict]) -> dict:
    """Per claim: counts by verdict, coverage, and the spread of the statistic."""
    out: dict = defaultdict(lambda: {"records": 0, "pass": 0, "fail": 0, "observed": 0, "invalid": 0,
                                     "coverage": [], "checks": set()})
    for r in records:
        row = out[r["claim"]]
        row["records"] += 1
        row[r["verdict"]] += 1
        row["checks"].add(r["check"])
        if r.get("coverage") is not None:
            row["coverage"].append(r["coverage"])
    for row in out.values():
        row["checks"] = sorted(row["checks"])
        cov = row.pop("coverage")
        row["mean_coverage"] = sum(cov) / len(cov) if cov else None
        row["verdict"] = ("FAIL" if row["fail"] else "verified inside the assumption" if row["pass"]
                          else "observed outside the assumption only" if row["observed"] else "invalid runs only")
    return dict(out)


def _rerun_command(nodeid: str, meta: dict) -> str:
    seed = meta.get("hypothesis_seed")
    seed_part = f" --hypothesis-seed={seed}" if seed is not None else ""
    return f"pytest '{nodeid}' --hypothesis-profile={meta.get('profile')}{seed_part}"


def _cell(value) -> str:
    """A Markdown table cell: '|' would split the column (|ĝ(z)|, |closed form − quadrature|)."""
    return str(value).replace("|", "\\|")


def summary_markdown(records: list[dict], outcomes: dict, meta: dict, table: dict) -> str:
    from theory.claims import CLAIMS

    lines = [f"# Claim report — run {meta['run_id']}", "",
             f"- profile: `{meta['profile']}`, Hypothesis seed: `{meta.get('hypothesis_seed')}`, "
             f"workers: {meta['workers']}, wall time: {meta['wall_seconds']:.0f} s",
             f"- network pairs trained: **{meta['pairs_trained']}**; records: {len(records)}",
             f"- false-failure budget: {meta['false_failure_budget']['run']:.0e} per run, "
             f"α = {meta['false_failure_budget']['per_assertion']:.1e} per assertion (Bonferroni over at most "
             f"{meta['false_failure_budget']['max_assertions']} assertions)",
             f"- versions: {meta['versions']}; machine: {meta['machine']}", "",
             "| claim | title | records | pass | fail | observed (outside) | invalid | mean coverage | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for cid, claim in CLAIMS.items():
        row = table.get(cid)
        if row is None:
            lines.append(f"| {cid} | {_cell(claim.title)} | 0 | | | | | | not exercised |")
            continue
        cov = "" if row["mean_coverage"] is None else f"{row['mean_coverage']:.3f}"
        lines.append(f"| {cid} | {_cell(claim.title)} | {row['records']} | {row['pass']} | {row['fail']} | "
                     f"{row['observed']} | {row['invalid']} | {cov} | {row['verdict']} |")
    lines += ["", "## Claims", ""]
    for cid, claim in CLAIMS.items():
        if cid not in table:
            continue
        lines += [f"### {cid}: {claim.title}", "", f"$${claim.latex}$$", ""]
        recs = [r for r in records if r["claim"] == cid]
        lines += ["| check | statistic | observed | bound | CI | coverage | pairs | verdict |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in recs[:40]:
            ci = "" if not r.get("ci") else f"[{r['ci'][0]:.3g}, {r['ci'][1]:.3g}]"
            fmt = (lambda v: "" if v is None else (f"{v:.4g}" if isinstance(v, (int, float)) else str(v)))
            lines.append(f"| {r['check']} | {_cell(r['statistic'])} | {fmt(r['value'])} | {fmt(r['bound'])} | {ci} | "
                         f"{fmt(r.get('coverage'))} | {r.get('n_pairs', '')} | {r['verdict']} |")
        if len(recs) > 40:
            lines.append(f"| … {len(recs) - 40} more in results.json | | | | | | | |")
        lines.append("")
    failed = {k: v for k, v in outcomes.items() if v["outcome"] == "failed"}
    lines += ["## Failures", ""]
    if not failed:
        lines.append("None.")
    for nodeid, o in failed.items():
        lines += [f"### `{nodeid}` ({', '.join(o['claims'])})", "", "Rerun:", "",
                  f"    {_rerun_command(nodeid, meta)}", "", "```", (o["longrepr"] or "")[-2500:], "```", ""]
    extra = meta.get("extra_sections") or []
    for section in extra:
        lines += ["", section]
    return "\n".join(lines) + "\n"


def write_run_report(root: Path, records: list[dict], outcomes: dict, meta: dict) -> Path:
    """Write reports/<run-id>/ and refresh reports/latest/; returns the run directory."""
    root = Path(root)
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    meta = dict(meta, run_id=run_id)
    run_dir = root / run_id
    table = claim_table(records)
    from . import empirical  # fitted constants and figures; optional sections

    extra_json, sections = empirical.analyse(records, run_dir / "figures")
    meta["extra_sections"] = sections
    results = {"meta": meta, "claims": table, "outcomes": outcomes, "records": records, "empirical": extra_json}
    atomic_write_text(run_dir / "results.json", json.dumps(results, indent=1, sort_keys=True, default=str))
    atomic_write_text(run_dir / "summary.md", summary_markdown(records, outcomes, meta, table))
    _refresh_latest(root, run_dir)
    return run_dir


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
