"""Markdown of the report: the claim summary (summary.md's top) and the empirical sections, which
link the figures ``reporting.figures`` drew (``figures/<name>.png`` next to summary.md)."""

from __future__ import annotations

import math

from perturbation_learning.procedure import DEFAULT_PROCEDURE
from theory.claims import CLAIMS
from theory.lazy import KAPPA_MAX

from . import figures as F
from .analysis import Analysis, finite

#: Rows of the "measured ranges" table (results.json has all).
MAX_RANGE_ROWS = 30
#: Records listed per claim in summary.md (results.json has all).
MAX_RECORD_ROWS = 40
#: Collapsed pairs listed per (check, setting) in summary.md (results.json has all).
MAX_COLLAPSE_ROWS = 12


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
    procedure = meta.get("procedure")
    proc_part = f" --procedure={procedure}" if procedure and procedure != DEFAULT_PROCEDURE else ""
    return f"pytest '{nodeid}' --hypothesis-profile={meta.get('profile')}{seed_part}{proc_part}"


def summary_markdown(records: list[dict], outcomes: dict, meta: dict, table: dict, sections: list[str]) -> str:
    budget = meta["false_failure_budget"]
    lines = [f"# Claim report — run {meta['run_id']}", "",
             f"- procedure checked: `{meta.get('procedure') or DEFAULT_PROCEDURE}`",
             f"- profile: `{meta['profile']}`, Hypothesis seed: `{meta.get('hypothesis_seed')}`, "
             f"workers: {meta['workers']}, wall time: {meta['wall_seconds']:.0f} s",
             f"- network pairs trained: **{meta['pairs_trained']}**; records: {len(records)}",
             f"- false-failure budget: {budget['run']:.0e} per run, α = {budget['per_assertion']:.1e} per "
             f"test (Bonferroni over at most {budget['max_assertions']} tests); "
             f"{budget.get('tests_made', '?')} tests made, {_value(budget.get('spent'))} spent",
             f"- versions: {meta['versions']}; machine: {meta['machine']}", "",
             "`detects`: the smallest true violation the claim's best test rejects with probability ≥ 0.9 "
             "(a mean, or a slope deviation); `target`: what the claim's power target asks it to detect "
             "(theory.tolerances.POWER_TARGETS). A test that is not rejected but misses the target is "
             "`underpowered`, not `pass`.", "",
             "| claim | title | records | pass | underpowered | fail | observed | invalid | mean coverage | "
             "detects | target | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for cid, claim in CLAIMS.items():
        row = table.get(cid)
        if row is None:
            lines.append(f"| {cid} | {cell(claim.title)} | 0 | | | | | | | | | not exercised |")
            continue
        cov = "" if row["mean_coverage"] is None else f"{row['mean_coverage']:.3f}"
        lines.append(f"| {cid} | {cell(claim.title)} | {row['records']} | {row['pass']} | "
                     f"{row.get('underpowered', 0)} | {row['fail']} | {row['observed']} | {row['invalid']} | {cov} | "
                     f"{_value(row.get('best_detects'))} | {_value(row.get('target'))} | {cell(row['verdict'])} |")
    lines += ["", "## Claims", ""]
    for cid, claim in CLAIMS.items():
        if cid not in table:
            continue
        lines += [f"### {cid}: {claim.title}", "", f"$${claim.latex}$$", ""]
        recs = [r for r in records if r["claim"] == cid]
        lines += ["| check | statistic | observed | bound | detects | target | CI | coverage | pairs | verdict |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in recs[:MAX_RECORD_ROWS]:
            ci = "" if not r["ci"] else f"[{r['ci'][0]:.3g}, {r['ci'][1]:.3g}]"
            verdict = r["verdict"] + (f" ({cell(r['reason'])})" if r.get("reason") and r["verdict"] != "pass" else "")
            lines.append(f"| {r['check']} | {cell(r['statistic'])} | {_value(r['value'])} | {_value(r['bound'])} | "
                         f"{_value(r.get('detects'))} | {_value(r.get('target'))} | {ci} | {_value(r['coverage'])} | "
                         f"{r['n_pairs']} | {verdict} |")
        if len(recs) > MAX_RECORD_ROWS:
            lines.append(f"| … {len(recs) - MAX_RECORD_ROWS} more in results.json | | | | | | | | | |")
        lines.append("")
    failed = {k: v for k, v in outcomes.items() if v["outcome"] == "failed"}
    lines += ["## Failures", ""]
    if not failed:
        lines.append("None.")
    for nodeid, o in failed.items():
        lines += [f"### `{nodeid}` ({', '.join(o['claims'])})", "", "Rerun:", "",
                  f"    {rerun_command(nodeid, meta)}", "", "```", (o["longrepr"] or "")[-2500:], "```", ""]
    lines += collapses_section(meta.get("collapsed_pairs") or [])
    for section in sections:
        lines += ["", section]
    return "\n".join(lines) + "\n"


_YES_NO = {True: "yes", False: "no"}


def collapses_section(collapses: list[dict]) -> list[str]:
    """Every trained pair whose agreement fell below COLLAPSE_AGREEMENT, grouped by check and setting,
    with the agreement the run predicted before g was trained and the prediction's reason (THEORY.md P5)."""
    from theory.prediction import COLLAPSE_AGREEMENT

    md = ["", f"## Pairs whose agreement collapsed (< {COLLAPSE_AGREEMENT})", ""]
    if not collapses:
        return md + ["None."]
    md += [f"{len(collapses)} pairs. `predicted`: the agreement predicted from the data, f and the drawn targets "
           "before g was trained; `reason`: the prediction's explanation where it predicted the collapse. "
           "All pairs: results.json, `meta.collapsed_pairs`.", ""]
    groups: dict = {}
    for c in collapses:
        setting = ", ".join(f"{k}={v}" for k, v in (c.get("setting") or {}).items() if k != "seeds")
        groups.setdefault((c.get("check", ""), setting, c.get("inside_l2")), []).append(c)
    for (check, setting, inside), rows in groups.items():
        md += [f"- `{check}`, inside L2: {_YES_NO.get(inside, '—')}; {setting}", "",
               "  | seed | agreement | predicted | reason |", "  |---|---|---|---|"]
        for c in rows[:MAX_COLLAPSE_ROWS]:
            predicted = "—" if c.get("predicted") is None else f"{c['predicted']:.3f}"
            reason = c.get("reason") or ("not predicted" if c.get("predicted") is not None else "no prediction")
            md.append(f"  | {c['seed']} | {c['agreement']:.3f} | {predicted} | {cell(reason)} |")
        if len(rows) > MAX_COLLAPSE_ROWS:
            md.append(f"  | … {len(rows) - MAX_COLLAPSE_ROWS} more | | | |")
        md.append("")
    return md


def _link(drawn: dict, name: str, alt: str) -> list[str]:
    return [f"![{alt}]({drawn[name]})", ""] if name in drawn else []


def constants_section(a: Analysis, drawn: dict) -> list[str]:
    md = ["## Empirical bounds: fitted constants", ""]
    rows = []
    for where, res in (a.residual_D1 or {}).items():
        at = res["at"]
        rows.append(f"| D1 | ‖ξ_n‖ ≤ C_ξ·√((1+γ²)/2) (Õ(1) of Thm 3.3), {where} L2 | "
                    f"C_ξ = **{res['C_xi']:.3f}** (median {res['median']:.3f}) | {res['n']} | "
                    f"largest at d={at['d']}, m={at['m']}, γ={at['gamma']} |")
    lz = a.lazy_error
    if lz:
        rows.append(f"| L1/P2 | ‖f_t − lin‖/‖f_t − f_0‖ ≤ C_L·κ | C_L = **{fmt(lz['C_L'])}**, "
                    f"max error {lz['max_error']:.3g} | {lz['n']} | per κ bin below |")
    fl = a.flips_L2
    if fl:
        rows.append(f"| L2 | flip share ≤ C_flip · atan(κ)/π | C_flip = **{fl['max_ratio']:.3g}** "
                    f"(median {fl['median_ratio']:.3g}) | {fl['n']} | |")
    if rows:
        md += ["| claim | bound | fitted constant | records | note |", "|---|---|---|---|---|", *rows, ""]
    else:
        md += ["No record carried a residual ratio, a lazy error with κ, or a predicted flip share.", ""]
    if lz and lz["bins"]:
        md += ["Largest lazy relative error per κ bin:", "", "| κ in | points | max error |", "|---|---|---|"]
        for b in lz["bins"]:
            hi = "∞" if math.isinf(b["kappa_high"]) else f"{b['kappa_high']:g}"
            md.append(f"| ({b['kappa_low']:g}, {hi}] | {b['n']} | {b['max_error']:.3g} |")
        md += ["", *_link(drawn, F.LAZY_ERROR, "lazy error against κ")]
    if a.value_over_bound:
        md += ["Observed value/bound per statistic (how much room each stated bound leaves):", "",
               "| claim | statistic | records | min value/bound | max value/bound |", "|---|---|---|---|---|"]
        for row in a.value_over_bound.values():
            md.append(f"| {row['claim']} | {cell(row['statistic'])} | {row['n']} | {row['min_ratio']:.3g} | "
                      f"{row['max_ratio']:.3g} |")
        md.append("")
    ranges = [(c, k, v) for c, keys in a.measured_ranges.items() for k, v in keys.items()]
    if ranges:
        md += ["Other numbers the checks recorded (min – max over records; all in results.json):", "",
               "| claim | quantity | values | min | max |", "|---|---|---|---|---|"]
        for c, k, v in ranges[:MAX_RANGE_ROWS]:
            md.append(f"| {c} | {cell(k)} | {v['n']} | {v['min']:.4g} | {v['max']:.4g} |")
        if len(ranges) > MAX_RANGE_ROWS:
            md.append(f"| … {len(ranges) - MAX_RANGE_ROWS} more in results.json | | | | |")
        md.append("")
    return md


def slopes_section(a: Analysis, drawn: dict) -> list[str]:
    if not a.slope_groups:
        return []
    md = ["## Empirical: fitted log-log slopes", "",
          "As fitted by the checks (least squares on log–log, Student-t interval at the check's level), "
          "grouped by claim, axis and data family; every fit is in results.json (`empirical.slopes`). "
          "THEORY.md: D4 expects 1 − cos to fall with d and t (slope < 0; prototype ≈ −0.6 in d), "
          "K3 expects −1/2 in m.", "",
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
    md = ["## Empirical: agreement against laziness κ and the C2 margin", "",
          "Agreement as each check recorded it: the scenario checks (C1 records) give it on the test inputs "
          "where L2, C2 and C3 hold (P1's restriction); P3 and the controls give it over all fresh inputs. "
          "Points are per network pair where the record's lists pair up, else one per record.", ""]
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


def value_bound_section(a: Analysis, drawn: dict) -> list[str]:
    if not a.value_vs_bound:
        return []
    return ["## Empirical: observed value against bound, per claim", "",
            "One point per record; dotted line: value = bound. Whether a bound is an upper or a lower one is "
            "the statistic's (see the claim tables above). Colours: pass green, underpowered olive, fail red, "
            "observed grey.", "", *_link(drawn, F.VALUE_BOUND, "value against bound")]


def empirical_sections(a: Analysis, drawn: dict) -> list[str]:
    parts = (constants_section, slopes_section, agreement_section, value_bound_section)
    return ["\n".join(md) for md in (part(a, drawn) for part in parts) if md]
