"""The report says where each claim holds: scoped verdicts with amber strata, the outcome line, what each
verdict excludes, the settings each claim was checked on, numbers with their direction and enough digits,
readable figures, Hypothesis' view per check, and a summary.md of at most 150 lines on the real run."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from checks.plugin import hypothesis_view
from reporting import claim_figures, figures, scope, writer
from reporting.analysis import analyse
from reporting.strata_tables import html_strata
from reporting.strata_tables import excludes_lines
from reporting.verdicts import FAILED, NOT_CHECKED, NOT_COVERED, NOT_VERIFIED, VERIFIED
from theory.claims import CLAIMS

sys.path.insert(0, str(Path(__file__).parent))
from test_report import _meta, _outcomes, synthetic_records  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "reports" / "baseline" / "results.json.gz"
#: A stratum status another module may add: any status but verified or failed is amber.
NEW_STATUS = "not checked: the procedure does not support momentum"


def _cell(verdict, records=2, reason=None):
    return {"verdict": verdict, "records": records, "reason": reason, "max_coverage": 0.0 if reason else None,
            "uncovered": bool(reason), "best_detects": None, "target": None}


def _verdicts(d1_strata: dict) -> dict:
    return {"D1": {"verdict": VERIFIED, "reason": "", "best_detects": 0.02, "target": 0.11, "records": 4,
                   "excludes": "a mean share ≥ 0.02 on every pair (bound 0.01) would have been caught",
                   "strata": d1_strata},
            "K1": {"verdict": FAILED, "reason": "a test rejected the claim", "strata": {"gamma=0": _cell(FAILED)}}}


PARTIAL = {"scenario=a": _cell(NOT_COVERED, 0, "the conditions cannot select an input here"),
           "scenario=b": _cell(VERIFIED), "momentum=>0": _cell(NEW_STATUS, 0), "gamma=0": _cell(NOT_VERIFIED, 1)}
FULL = {"scenario=a": _cell(VERIFIED), "scenario=b": _cell(VERIFIED)}


def _written(tmp_path, strata):
    return writer.write_report_files(tmp_path, synthetic_records(), _outcomes(), dict(_meta(), run_id="t"),
                                     _verdicts(strata))


def test_not_covered_and_other_statuses_render_amber_verified_green_failed_red(tmp_path):
    table = html_strata(_verdicts(PARTIAL))
    d1 = next(r for r in table["rows"] if r["claim"] == "D1")
    css = {col: c["css"] for col, c in zip(table["columns"], d1["cells"]) if c}
    assert css == {"scenario=a": "warn", "scenario=b": "ok", "momentum=>0": "warn", "gamma=0": "warn"}
    assert table["columns"][:2] == ["gamma=0", "scenario=a"]            # theory.strata's axis order
    html = (_written(tmp_path, PARTIAL) / "report.html").read_text()
    assert re.search(r'<td class="warn" title="not covered by the conditions: the conditions cannot select', html)
    assert f'<td class="warn" title="{NEW_STATUS}: no asserted record">' in html
    assert '<span class="badge warn">verified on 1 of 4 strata</span>' in html
    assert '<td class="bad" title="failed">' in html
    assert "<b>Excludes:</b> a mean share ≥ 0.02 on every pair" in html


def test_a_claim_verified_on_every_stratum_is_green(tmp_path):
    html = (_written(tmp_path, FULL) / "report.html").read_text()
    assert '<span class="badge ok">verified on 2 of 2 strata</span>' in html
    assert 'class="warn"' not in html.split('<h2 id="strata">')[1].split("</table>")[0]


def test_outcome_line_counts_every_claim_and_opens_page_and_summary(tmp_path):
    table = writer.claim_table(synthetic_records(), _verdicts(PARTIAL))
    counts = scope.outcome_counts(table)
    assert counts["verified on some strata"] == ["D1"] and counts["failed"] == ["K1"]
    assert sum(map(len, counts.values())) == len(CLAIMS)
    line = scope.outcome_line(table)
    assert line.startswith(f"{len(CLAIMS)} claims: ") and "1 failed (K1)" in line
    run = _written(tmp_path, PARTIAL)
    assert (run / "summary.md").read_text().splitlines()[2] == f"**{line}**"
    html = (run / "report.html").read_text()
    assert html.index('id="outcome"') < html.index('id="verdicts"')


UNSUPPORTED = "the procedure does not support momentum 0 (fixed β = 0.9)"


def test_strata_a_procedure_does_not_support_are_said_once_and_scope_the_outcome():
    """A claim verified everywhere but on the strata the procedure's declaration excludes is "verified on
    every supported stratum"; the excluded strata are named once, not on every claim; a claim with another
    stratum not verified stays "verified on some strata"."""
    declared = {"momentum=0": _cell(NOT_CHECKED, 0, UNSUPPORTED), "momentum=>0": _cell(VERIFIED)}
    verdicts = _verdicts(declared)
    verdicts["P1"] = dict(verdicts["D1"], strata=dict(declared, **{"scenario=a": _cell(NOT_VERIFIED, 1)}))
    table = writer.claim_table(synthetic_records(), verdicts)
    counts = scope.outcome_counts(table)
    assert counts[scope.SUPPORTED] == ["D1"] and counts["verified on some strata"] == ["P1"]
    assert "1 verified on every supported stratum, 1 verified on some strata (P1)" in scope.outcome_line(table)
    lines = excludes_lines(table)
    assert sum(UNSUPPORTED in ln for ln in lines) == 1 and lines[0].startswith("**Not checked on any claim**")
    undeclared = writer.claim_table(synthetic_records(), _verdicts(FULL))
    assert scope.SUPPORTED not in scope.outcome_line(undeclared)


def test_values_near_their_bound_get_digits_until_they_differ():
    assert scope.near_bound(0.99999923, 1.0) == "0.9999992"
    assert scope.near_bound(0.5, 1.0) == "0.5" and scope.near_bound(1.0, 1.0) == "1"
    assert scope.near_bound(0.0301, 0.03) == "0.0301"                    # farther than 1e-3 relative: 4 digits


def test_detects_and_target_carry_their_direction():
    assert scope.directed(0.7528, "at least", "betting, pooled") == "≤ 0.7528"   # a floor: violations below
    assert scope.directed(0.054, "at most", "betting, pooled") == "≥ 0.054"
    assert scope.directed(1.0, None, "exact", 1.0) == "any > 1"


def test_domain_gives_ranges_of_asserted_and_observed_records_and_na():
    recs = [dict(r, setting=dict(r["setting"], N=60, t_f=2.0)) for r in synthetic_records()]
    dom = scope.domain(recs)
    assert dom["D1"]["asserted"]["d"] == "50–200" and dom["D1"]["observed"]["d"] == "100"
    assert dom["D1"]["asserted"]["κ"] == "n/a" and dom["L1"]["asserted"]["κ"] == "0.05–0.08"
    assert dom["K1"]["asserted"]["m"] == "n/a" and dom["D1"]["asserted"]["t_f"] == "2"


def test_hypothesis_view_reads_the_statistics_hypothesis_prints():
    from hypothesis.statistics import describe_statistics

    def phase(valid, invalid):
        cases = [{"status": "valid", "runtime": 0.1, "drawtime": 0.0, "events": []}] * valid
        cases += [{"status": "invalid", "runtime": 0.0, "drawtime": 0.0, "events": []}] * invalid
        return {"test-cases": cases, "duration-seconds": 0.5, "distinct-failures": 0}
    text = describe_statistics({"explicit-phase": phase(2, 0), "generate-phase": phase(3, 1),
                                "stopped-because": "settings.max_examples=3"})
    view = hypothesis_view(text)
    # Hypothesis prints no explicit phase: the plugin counts the test's @example list instead.
    assert view == {"generate": 4, "invalid": 1, "seconds": 0.5, "stopped": "settings.max_examples=3"}
    view["explicit"] = 2
    assert hypothesis_view(None) == {}
    rows = scope.hypothesis_rows({"n::t": {"duration": 3.0}}, {"hypothesis": {"n::t": dict(view, pairs=7)}}, [])
    assert scope.hypothesis_cells(rows[0])[1:8] == ["2", "4", "0", "0", "1", "7", "0"]
    assert "2 explicit and 4 drawn examples" in scope.hypothesis_total(rows)


def test_equality_rows_are_neutral_and_clipped_values_marked():
    rows = [{"check": "ctrl", "label": "ctrl", "kind": "centre", "verdict": "pass", "margin": -0.2,
             "margin_ci": None, "pooled": False},
            {"check": "far", "label": "far", "kind": "ceiling", "verdict": "pass", "margin": 1e6,
             "margin_ci": None, "pooled": False}]
    fig = claim_figures.claim_records(rows, "X")
    ax = fig.axes[0]
    neutral = [p for p in ax.patches if p.get_facecolor()[:3] == pytest.approx((240 / 255,) * 3)]
    assert len(neutral) == 1                                             # the equality's row only
    arrows = [ln for ln in ax.get_lines() if ln.get_marker() == ">"]
    assert arrows and arrows[0].get_xdata()[0] == figures.CLIP
    assert fig.legends, "the claim figure has a legend"


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    """The committed baseline (a full ci run, seed 0) rendered by this checkout's report code."""
    return writer.render_results(BASELINE, tmp_path_factory.mktemp("baseline"))


def test_summary_of_the_real_run_fits_150_lines_and_names_partial_claims(baseline_run):
    summary = (baseline_run / "summary.md").read_text()
    assert len(summary.splitlines()) <= 150
    assert "## Where each claim was checked" in summary and "## Claims by stratum" in summary
    # Every registered claim is counted; the claims short of their power target are named.
    assert re.search(rf"^\*\*{len(CLAIMS)} claims: .*not rejected, underpowered \(L1, ", summary, re.M)
    assert "| CTRL-untrained | ✓ |" in summary and "verified on 3 of 8 strata" in summary


def test_figure_text_is_at_least_10px_at_page_width(baseline_run):
    import json
    import gzip

    doc = json.load(gzip.open(BASELINE, "rt"))
    blank = {k: None for k in ("kappa", "xi_ratio_max", "slope", "slope_ci", "axis", "predicted_flip", "agreement",
                               "c2_margin", "violations", "fooling_own", "fooling_random", "acc_f", "acc_g", "flip_f")}
    records = [dict(blank, **r) for r in doc["records"]]
    a = analyse(records, writer.verdicts_from_table(doc["claims"]))
    rows = claim_figures.claim_rows(records)
    drawn = [figures.forest(a), figures.empirical_bounds(a), figures.settings_checked(a),
             claim_figures.claim_records(rows["P4"], "P4"), claim_figures.claim_records(rows["CTRL-eps0"], "CTRL-eps0")]
    for fig in drawn:
        assert figures.rendered_text_px(fig) >= figures.MIN_TEXT_PX
    small = figures._figure(figsize=(5, 3))
    small.subplots().set_title("x", fontsize=6)                          # the measure catches small text
    assert figures.rendered_text_px(small) < figures.MIN_TEXT_PX
    assert (baseline_run / "figures" / figures.DOMAIN).is_file()
