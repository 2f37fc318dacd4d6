"""Markdown of the report: ``summary.md``, one page a reader can paste (the run, the claim verdicts, the
failures with their counterexamples, the fitted constants, the figures, the deepest collapses), and
``records.md``, every record, stratum, collapse and empirical table. Figures are ``figures/<name>.png``
next to both files (``reporting.figures``)."""

from __future__ import annotations

import math
import re

from theory.claims import CLAIMS
from theory.lazy import KAPPA_MAX

from . import breaks, figures as F
from .analysis import Analysis
from .budget import budget_words
from .margins import CENTRE, NOT_REJECTED, SHOWN, test_in_words
from .records import finite
from .scope import (claim_title, directed, domain_section, hypothesis_lines, hypothesis_rows, hypothesis_total,
                    near_bound, not_checked, not_checked_lines, outcome_line, reading_words, readings, scope)
from .strata_tables import excludes_lines, strata_cells, strata_marks

#: Rows of the "measured ranges" table (results.json has all).
MAX_RANGE_ROWS = 30
#: Collapsed pairs listed per (check, setting) in records.md (results.json has all).
MAX_COLLAPSE_ROWS = 12
#: Collapses of attack runs, failures and least-room rows that summary.md shows (the rest: records.md).
SUMMARY_COLLAPSES, SUMMARY_FAILURES, SUMMARY_LEAST_ROOM = 10, 5, 8
#: Perturbations that carry no signal by construction, and ε = 0 or t = 0 (THEORY.md §6): their
#: collapse is the control working, and the attack's prediction does not apply to them.
CONTROL_ATTACKS = ("random", "shuffled")
DETAIL = "Every record, stratum and collapse: `records.md`, `report.html` (browsable) and `results.json`."


def cell(value) -> str:
    """A Markdown table cell: '|' would split the column (|ĝ(z)|, |closed form − quadrature|)."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def fmt(v, digits=3) -> str:
    v = finite(v)
    return "–" if v is None else f"{v:.{digits}g}"


def _value(v) -> str:
    return "" if v is None else (f"{v:.4g}" if isinstance(v, (int, float)) else str(v))


def rerun_command(nodeid: str, meta: dict) -> str:
    seed = meta.get("hypothesis_seed")
    seed_part = f" --hypothesis-seed={seed}" if seed is not None else ""
    procedure = meta.get("rerun_procedure")  # None: the project's own, which needs no option
    proc_part = f" --procedure={procedure}" if procedure else ""
    return f"pytest '{nodeid}' --hypothesis-profile={meta.get('profile')}{seed_part}{proc_part}"


def counterexample(longrepr: str | None) -> str:
    """Hypothesis' shrunk "Falsifying example: …(…)" block of a failure, with pytest's "E" gutter removed."""
    lines = [re.sub(r"^E {1,3}", "", ln) for ln in (longrepr or "").splitlines()]
    for i, ln in enumerate(lines):
        if "Falsifying example" in ln:
            block = [ln.strip()]
            for nxt in lines[i + 1:]:
                block.append(nxt.rstrip())
                if nxt.strip() == ")" or not nxt.strip():
                    break
            return "\n".join(block)
    return ""


def error_line(longrepr: str | None) -> str:
    """The failure's message: the last "E …Error: …" line of pytest's report."""
    lines = (longrepr or "").strip().splitlines()
    errs = [ln[1:].strip() for ln in lines if ln.startswith("E ") and "Error" in ln]
    return errs[-1] if errs else (lines[-1] if lines else "")


#: What a smoke run's report says once, next to its budget.
SMOKE_LINE = ("- **smoke run: verdicts are recorded, not asserted**: every check ran once at tiny sizes, far below "
              "those the bounds are calibrated for; the exit code reflects errors only")


def header(records: list[dict], meta: dict, title: str, table: dict, outcomes: dict | None = None) -> list[str]:
    budget = meta["false_failure_budget"]
    rev = meta.get("git_revision")
    return [f"# {title} — run {meta['run_id']}", "", f"**{outcome_line(table)}**", "",
            f"- procedure checked: `{meta.get('procedure') or 'not recorded'}`"
            + (f"; commit `{rev[:12]}`{' (dirty)' if meta.get('git_dirty') else ''}" if rev and rev != "unknown" else ""),
            f"- profile: `{meta['profile']}`, Hypothesis seed: `{meta.get('hypothesis_seed')}`, "
            f"workers: {meta['workers']}, wall time: {meta['wall_seconds']:.0f} s",
            f"- network pairs trained: **{meta['pairs_trained']}**; records: {len(records)}",
            f"- false-failure budget: {budget_words(budget)}",
            *([SMOKE_LINE] if meta.get("verdicts_asserted") is False else []),
            f"- versions: {meta['versions']}; machine: {meta['machine']}",
            f"- {hypothesis_total(hypothesis_rows(outcomes or {}, meta, records))} Per check: records.md.", ""]


def power_cells(row: dict, forest_row: dict | None) -> tuple[str, str]:
    """The claim's ``detects`` and target cells; a slope's interval test in words instead."""
    f = forest_row or {}
    words = f.get("words") if f.get("detects") == row.get("best_detects") else None
    if words:
        return words, "interval test"
    side = "at least" if f.get("kind") == "floor" else "at most"
    return (directed(row.get("best_detects"), side, f.get("test"), f.get("bound")),
            directed(row.get("target"), side, f.get("test"), f.get("bound")))


CLAIM_COLUMNS = ("claim", "title", "records", "pass", "underpowered", "fail", "observed", "invalid", "detects",
                 "target", "verdict")


def verdict_text(row: dict, forest_row: dict | None) -> str:
    """A claim's scoped verdict and what the test it rests on shows about its bound ("verified on 10 of 10
    strata; not rejected (interval end 0.05188 > 0.01)"): a pass is not rejected, shown within only where
    its interval lies inside the bound."""
    shown = reading_words(forest_row)
    return scope(row)["text"] + (f"; {shown}" if shown else "")


def claim_table_lines(table: dict, forest: list[dict], parts: dict | None = None) -> list[str]:
    """The claim-verdict table; ``parts``: what of a claim is not checked for this procedure, in its title."""
    by_claim = {r["claim"]: r for r in forest}
    lines = ["| " + " | ".join(CLAIM_COLUMNS) + " |", "|" + "---|" * len(CLAIM_COLUMNS)]
    for cid in CLAIMS:
        row, title = table.get(cid), cell(claim_title(cid, parts or {}))
        if row is None:
            lines.append(f"| {cid} | {title} | 0 | | | | | | | | not exercised |")
            continue
        detects, target = power_cells(row, by_claim.get(cid))
        lines.append(f"| {cid} | {title} | {row['records']} | {row['pass']} | {row.get('underpowered', 0)} | "
                     f"{row['fail']} | {row['observed']} | {row['invalid']} | {cell(detects)} | {target} | "
                     f"{cell(verdict_text(row, by_claim.get(cid)))} |")
    return lines


def is_control(c: dict) -> bool:
    s = c.get("setting") or {}
    return (str(c.get("check", "")).startswith("test_CTRL") or s.get("attack") in CONTROL_ATTACKS
            or s.get("eps") == 0 or s.get("t_f") == 0)


def top_collapses(collapses: list[dict], records: list[dict] = (), pairs_trained=None) -> list[str]:
    """summary.md's compact "Where it breaks" (``reporting.breaks``)."""
    return breaks.summary_lines(breaks.where_it_breaks(collapses, list(records)), pairs_trained)


def failures_section(outcomes: dict, meta: dict, n: int | None) -> list[str]:
    failed = [(k, v) for k, v in outcomes.items() if v["outcome"] == "failed"]
    md = ["## Failures", ""]
    if not failed:
        return md + ["None.", ""]
    for nodeid, o in failed[:n]:
        example = counterexample(o.get("longrepr"))
        md += [f"### `{nodeid}` ({', '.join(o['claims'])})", "", f"- {cell(error_line(o.get('longrepr')))}",
               f"- rerun: `{rerun_command(nodeid, meta)}`", ""]
        md += ["```", example, "```", ""] if example else []
        if n is None:
            md += ["Full report:", "", "```", (o.get("longrepr") or "")[-2500:], "```", ""]
    if n is not None and len(failed) > n:
        md.append(f"{len(failed) - n} more failures in records.md.")
    return md


def constants_table(a: Analysis) -> list[str]:
    if not a.constants:
        return ["No record carried a residual ratio, a lazy error with κ, or a predicted flip share.", ""]
    md = ["| claim | bound | fitted constant | median | central 90% | records | largest at |", "|---|---|---|---|---|---|---|"]
    for c in a.constants:
        iv = c.get("interval")
        md.append(f"| {c['claim']} | {cell(c['bound'])} | {c['name']} = **{c['value']:.3g}** | "
                  f"{fmt(c.get('median'))} | {'–' if not iv else f'[{iv[0]:.3g}, {iv[1]:.3g}]'} | {c['n']} | "
                  f"{cell(c['at'] or '–')} |")
    return md + [""]


def room_text(r: dict) -> str:
    """A least-room row's room: the margin of its interval's end, or that it sits at its tolerance by
    construction (with how many records do, and the others' least room)."""
    if not r.get("at_tolerance"):
        return f"{r['room']:.3g}"
    others = "" if r["reading"] == "at its tolerance by construction" else f"; the others' least room {r['room']:.3g}"
    return (f"at its tolerance by construction ({r['at_tolerance_reason']}) in {r['at_tolerance']} of "
            f"{r['records']} records{others}")


def least_room_table(rows: list[dict]) -> list[str]:
    md = ["Room: the margin of the end of each record's interval at its test's level (its value where it has no "
          "interval), in target units; right of 0 (≥ 0) only where the interval lies inside the bound.", "",
          "| claim | statistic | bound side | room (target units) | value | interval end | bound | reading | verdict | setting |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['claim']} | {cell(r['statistic'])} | {r['kind']} | {cell(room_text(r))} | "
                  f"{near_bound(r['value'], r['bound'])} | {near_bound(r.get('end'), r['bound'])} | {_value(r['bound'])} | "
                  f"{r.get('reading') or ''} | {r['verdict']} | {cell(F.setting_text(r.get('setting')))} |")
    return md + [""]


def _link(drawn: dict, name: str, alt: str) -> list[str]:
    return [f"![{alt}]({drawn[name]})", ""] if name in drawn else []


GLANCE = ("One row per claim: the statistic its verdict rests on, with its interval at the test's level, as a "
          "margin to its bound, oriented so that holding is to the right of 0 for a ceiling and a floor alike, in "
          "units of the violation its power target asks to detect. The marker is the interval's end (· the value): "
          "filled where the interval lies inside the bound (shown within it), hollow and pale where it reaches "
          "beyond (not rejected, with the power `detects` states; | detects, ◇ target, × least room of one example).")


def glance_section(a: Analysis, drawn: dict) -> list[str]:
    """The forest plot, what the tests show (shown within the bound, or only not rejected) and the least room
    among ceilings and floors, at the interval's end: one paragraph."""
    md = ["## Claims at a glance", "", GLANCE, "", *_link(drawn, F.FOREST, "claims at a glance")]
    by, text = readings(a.forest), []
    if by.get(SHOWN) or by.get(NOT_REJECTED):
        text.append(f"What the tests show: **{len(by.get(SHOWN, []))} shown within the bound** (their interval lies "
                    f"inside it: {', '.join(by.get(SHOWN, [])) or 'none'}); **{len(by.get(NOT_REJECTED, []))} not "
                    f"rejected** only (their interval reaches beyond it, or an equality: "
                    f"{', '.join(by.get(NOT_REJECTED, [])) or 'none'}).")
    rows = [r for r in a.forest if r.get("room") is not None and r.get("kind") != CENTRE]
    if rows:
        tight = min(rows, key=lambda r: r["room"])
        text.append(f"Least room among ceilings and floors (the interval's end, not the value): **{tight['claim']}** "
                    f"({cell(tight['statistic'])}), room {tight['room']:.3g} ({tight['kind']}; value "
                    f"{near_bound(tight['value'], tight['bound'])}; {cell(reading_words(tight))}).")
    return md + ([" ".join(text), ""] if text else [])


POWER_NOTE = ("`detects`: the smallest true violation (a mean of the claim's statistic, named in its "
              "exclusion below) that its best test rejects with probability ≥ 0.9, with the side violations lie "
              "on (≥: above a ceiling, ≤: below a floor; any >: an exact comparison fails on any value beyond "
              "its bound); `target`: what its power target asks it to detect (theory.tolerances.POWER_TARGETS).")


def summary_markdown(records: list[dict], outcomes: dict, meta: dict, table: dict, a: Analysis,
                     drawn: dict) -> str:
    nc = not_checked(meta, outcomes)
    lines = header(records, meta, "Claim report", table, outcomes) + [DETAIL, "", "## Claim verdicts", "",
             POWER_NOTE, ""]
    lines += claim_table_lines(table, a.forest, nc["parts"]) + [""]
    lines += not_checked_lines(nc)
    lines += excludes_lines(table)
    lines += strata_marks(table)
    lines += failures_section(outcomes, meta, SUMMARY_FAILURES)
    lines += glance_section(a, drawn)
    lines += domain_section(a, drawn, kinds=("asserted",))
    lines += ["## Empirical bounds", "", *constants_table(a)]
    lines += _link(drawn, F.EMPIRICAL_BOUNDS, "empirical bounds (least room per bound: records.md)")
    others = [f"[{name}]({path})" for name, path in drawn.items() if name not in (F.FOREST, F.EMPIRICAL_BOUNDS, F.DOMAIN)]
    if others:
        lines += ["Other figures: " + ", ".join(others) + ".", ""]
    lines += top_collapses(meta.get("collapsed_pairs") or [], records, meta.get("pairs_trained"))
    return "\n".join(lines).rstrip() + "\n"


def collapses_section(collapses: list[dict], records: list[dict] = (), pairs_trained=None) -> list[str]:
    """records.md's full "Where it breaks": every collapsed pair, counted once, by class and setting."""
    return ["", *breaks.records_lines(breaks.where_it_breaks(collapses, list(records)), pairs_trained)]


def record_lines(records: list[dict], parts: dict | None = None) -> list[str]:
    md = []
    for cid in CLAIMS:
        recs = [r for r in records if r["claim"] == cid]
        if not recs:
            continue
        md += [f"### {cid}: {claim_title(cid, parts or {})}", "", f"$${CLAIMS[cid].latex}$$", "",
               "| check | statistic | observed | bound | side | detects | target | CI | coverage | pairs | verdict |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in recs:
            ci = "" if not r["ci"] else f"[{_value(r['ci'][0])}, {_value(r['ci'][1])}]"
            verdict = r["verdict"] + (f" ({cell(r['reason'])})" if r.get("reason") and r["verdict"] != "pass" else "")
            md.append(f"| {r['check']} | {cell(r['statistic'])} | {near_bound(r['value'], r['bound'])} | "
                      f"{_value(r['bound'])} | {r.get('side') or ''} | "
                      f"{cell(test_in_words(r) or directed(r.get('detects'), r.get('side'), r.get('test'), r['bound']))} | "
                      f"{directed(r.get('target'), r.get('side'), r.get('test'), r['bound'])} | {ci} | {_value(r['coverage'])} | {r['n_pairs']} | {verdict} |")
        md.append("")
    return md


def records_markdown(records: list[dict], outcomes: dict, meta: dict, table: dict, a: Analysis, drawn: dict,
                     verdicts: dict | None = None) -> str:
    """records.md: the claim table with coverage and checks, strata, every record, every failure in full,
    every collapse and the empirical tables."""
    nc = not_checked(meta, outcomes)
    md = header(records, meta, "Claim records", table, outcomes) + ["The one-page summary: `summary.md`.", "",
                                                   "## Claim verdicts", "", *claim_table_lines(table, a.forest, nc["parts"]), ""]
    md += not_checked_lines(nc, full=True)
    md += ["| claim | mean coverage | checks |", "|---|---|---|"]
    md += [f"| {c} | {fmt(row['mean_coverage'])} | {', '.join(row['checks'])} |" for c, row in table.items()] + [""]
    md += strata_cells(verdicts) + domain_section(a, drawn) + hypothesis_lines(hypothesis_rows(outcomes, meta, records))
    md += ["## Records", ""] + record_lines(records, nc["parts"])
    md += failures_section(outcomes, meta, None) + collapses_section(meta.get("collapsed_pairs") or [], records,
                                                                    meta.get("pairs_trained")) + [""]
    md += ["## Empirical bounds: fitted constants", "", *constants_table(a)]
    md += ["## Least room per bound", "", *least_room_table(a.least_room), *_link(drawn, F.EMPIRICAL_BOUNDS, "bounds")]
    for section in (lazy_bins, slopes_section, agreement_section, ranges_section):
        md += section(a, drawn)
    return "\n".join(md).rstrip() + "\n"


def lazy_bins(a: Analysis, drawn: dict) -> list[str]:
    lz = a.lazy_error
    if not lz or not lz["bins"]:
        return []
    md = ["## Lazy relative error per κ bin", "", "| κ in | points | max error |", "|---|---|---|"]
    for b in lz["bins"]:
        hi = "∞" if math.isinf(b["kappa_high"]) else f"{b['kappa_high']:g}"
        md.append(f"| ({b['kappa_low']:g}, {hi}] | {b['n']} | {b['max_error']:.3g} |")
    return md + ["", *_link(drawn, F.LAZY_ERROR, "lazy error against κ")]


def ranges_section(a: Analysis, drawn: dict) -> list[str]:
    ranges = [(c, k, v) for c, keys in a.measured_ranges.items() for k, v in keys.items()]
    if not ranges:
        return []
    md = ["## Other numbers the checks recorded", "", "| claim | quantity | values | min | max |", "|---|---|---|---|---|"]
    for c, k, v in ranges[:MAX_RANGE_ROWS]:
        md.append(f"| {c} | {cell(k)} | {v['n']} | {v['min']:.4g} | {v['max']:.4g} |")
    if len(ranges) > MAX_RANGE_ROWS:
        md.append(f"| … {len(ranges) - MAX_RANGE_ROWS} more in results.json | | | | |")
    return md + [""]


def slopes_section(a: Analysis, drawn: dict) -> list[str]:
    if not a.slope_groups:
        return []
    md = ["## Fitted log-log slopes", "",
          "As fitted by the checks (least squares on log–log, Student-t interval at the check's level), "
          "grouped by claim, axis and data family. THEORY.md: D4 expects 1 − cos to fall with d and t "
          "(slope < 0; prototype ≈ −0.6 in d), K3 expects −1/2 in m.", "",
          "| claim | axis | family | fits | median slope | range | median CI | bound | verdicts |",
          "|---|---|---|---|---|---|---|---|---|"]
    for g in a.slope_groups:
        ci = "–" if not g["median_ci"] else f"[{g['median_ci'][0]:.3g}, {g['median_ci'][1]:.3g}]"
        verdicts = ", ".join(f"{k} {v}" for k, v in g["verdicts"].items())
        md.append(f"| {g['claim']} | {cell(g['axis'])} | {cell(g['family'])} | {g['n']} | "
                  f"{g['median_slope']:.3g} | {g['min_slope']:.3g} … {g['max_slope']:.3g} | {ci} | "
                  f"{fmt(g['bound'])} | {verdicts} |")
    return md + ["", *_link(drawn, F.SLOPES, "log-log slopes")]


def _describe(s: dict) -> str:
    if not s["n"]:
        return "–"
    return f"mean {s['mean']:.3f}, min {s['min']:.3f} ({s['n']} point{'s' * (s['n'] > 1)})"


def agreement_section(a: Analysis, drawn: dict) -> list[str]:
    if not a.agreement_by_L2 and not a.agreement_by_c2_margin:
        return []
    md = ["## Agreement against laziness κ and the C2 margin", "",
          "The scenario checks (C1 records) give agreement on the test inputs where L2, C2 and C3 hold; P3 and "
          "the controls over all fresh inputs. Points are per network pair where the lists pair up.", ""]
    if a.agreement_by_L2:
        md += [f"| claim | κ ≤ κ_max = {KAPPA_MAX:.3g} (inside L2) | κ > κ_max |", "|---|---|---|"]
        for claim, row in a.agreement_by_L2["claims"].items():
            md.append(f"| {claim} | {_describe(row['inside'])} | {_describe(row['outside'])} |")
        md += ["", *_link(drawn, F.AGREEMENT_KAPPA, "agreement against κ")]
    m = a.agreement_by_c2_margin
    if m:
        md += [f"Agreement split at the median C2 margin {m['median_margin']:.3g}: at or below it "
               f"{_describe(m['below'])}; above it {_describe(m['above'])}.", "",
               *_link(drawn, F.AGREEMENT_MARGIN, "agreement against the C2 margin")]
    return md
