"""The report a reader sees, on records made by the checks' own assertions and concluded by the run's own
verdicts (the plugin's path: assertions → ``verdicts.conclude`` → ``writer.write_run_report``):

- report.html parses, has a section per claim with records, and loads nothing from outside the file;
- a planted failure shows in all three views: summary.md, report.html and the forest plot;
- the claim table rebuilt from results.json alone equals the one written, and summary.md shows its numbers;
- summary.md stays one page.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from checks import assertions, session
from reporting import figures, writer
from reporting.analysis import analyse
from reporting.verdicts import claim_verdicts, conclude
from theory.claims import CLAIMS

from test_report import VERDICTS, _meta, _summary_counts

PLANTED = "checks/test_thm34_scenario_a.py::test_P1_planted_disagreement"
SETTING = dict(dataset="shifted-gauss", d=20, N=100, m=2000, gamma=0.0, loss="identity", eps=10.0, scenario="a",
               targets="random", attack="l2-one-step", momentum=0.0, t_f=1.0, t_g=3.0)
#: Per-pair disagreement shares on the covered inputs: the unbroken procedure's (none), and a planted bug's
#: (g disagrees with f on 40% of them, far above P1's bound 3δ).
CLEAN, BROKEN = np.zeros(24), np.full(24, 0.4)


def _run_records(planted: bool) -> tuple[list[dict], dict]:
    """Records of P1 (share and coverage floor), D4 (a slope's interval test) and K1 (exact), made by the
    checks' assertions, with the failure's outcome as pytest reports it."""
    session.current().discard()
    outcomes = {}
    for i, gamma in enumerate((0.0, 0.5)):
        setting = dict(SETTING, gamma=gamma, first_seed=i)
        with session.checking("test_P1_planted_disagreement", ("P1",)):
            assertions.assert_coverage_above(np.full(24, 0.8), 0.1, setting=setting, seeds=list(range(24)),
                                             statistic="coverage of L2 ∧ C2 ∧ C3")
            values = BROKEN if planted and i == 1 else CLEAN
            try:
                assertions.assert_mean_at_most(values, 0.03, setting=setting, seeds=list(range(24)),
                                               statistic="share sgn g ≠ sgn f where L2, C2, C3")
            except AssertionError as exc:
                outcomes[PLANTED] = {"outcome": "failed", "claims": ["P1"], "longrepr": (
                    f"E   AssertionError: {exc}\nE   Falsifying example: test_P1_planted_disagreement(\n"
                    f"E       setting=Setting(gamma={gamma}),\nE   )")}
    with session.checking("test_D4_slope", ("D4",)):
        assertions.assert_exact(True, value=-0.5, bound=0.0, statistic="log-log slope of 1 − cos in t (CI upper < 0)",
                                setting=SETTING, seeds=[0], detects=0.0, test="t-interval", slope=-0.5,
                                slope_ci=(-0.7, -0.3), axis="t")
    with session.checking("test_K1_closed_form", ("K1",)):
        for d in (3, 30):
            assertions.assert_exact(True, value=1e-16, bound=1e-8, statistic="|closed form − quadrature|",
                                    setting={"d": d, "gamma": 0.0})
    out = session.current().pending()
    session.current().discard()
    outcomes.setdefault(PLANTED, {"outcome": "passed", "claims": ["P1"], "longrepr": None})
    return out, outcomes


def _write(root: Path, planted: bool):
    recs, outcomes = _run_records(planted)
    conclusion = conclude(["K1", "D4", "P1"], recs, require_verified=False)
    recs += conclusion.pooled
    meta = dict(_meta(), collapsed_pairs=[], procedure="perturbation_learning.run:perturbation_learning")
    run_dir = writer.write_run_report(root, recs, outcomes, meta, conclusion.claims)
    return Path(run_dir), recs, conclusion


class _Page(HTMLParser):
    """Ids, every URL a tag would load or link, scripts' sources and the text of style blocks."""

    URL_ATTRS = ("src", "href", "srcset", "data", "poster", "action", "background")

    def __init__(self):
        super().__init__()
        self.ids, self.urls, self.style, self.tags = set(), [], [], []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self.urls += [attrs[a] for a in self.URL_ATTRS if attrs.get(a)]
        self.style.append(attrs.get("style") or "")
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style.append(data)


def _page(run_dir: Path) -> tuple[_Page, str]:
    text = (run_dir / "report.html").read_text()
    page = _Page()
    page.feed(text)
    page.close()
    return page, text


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("clean"), planted=False)


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("broken"), planted=True)


def test_html_has_a_section_per_claim_and_loads_nothing_from_outside(clean):
    run_dir, recs, _ = clean
    page, text = _page(run_dir)
    assert {f"claim-{c}" for c in {r["claim"] for r in recs}} <= page.ids
    assert page.urls, "the figures and statements are embedded, so there are URLs to check"
    external = [u for u in page.urls if not u.startswith(("data:", "#"))]
    assert external == []
    assert not any("url(" in s or "@import" in s for s in page.style)
    assert "link" not in page.tags and "iframe" not in page.tags
    assert "mathjax" not in text.lower()
    # Every statement of a claim with records is drawn (SVG), none falls back to LaTeX source.
    assert text.count("data:image/svg+xml;base64,") >= len({r["claim"] for r in recs})


def test_planted_failure_shows_in_summary_html_and_forest(broken, clean):
    run_dir, recs, conclusion = broken
    assert conclusion.claims["P1"]["verdict"] == "failed"
    summary = (run_dir / "summary.md").read_text()
    failures = summary.split("## Failures", 1)[1].split("## Claims at a glance", 1)[0]
    assert PLANTED in failures and "--hypothesis-profile=ci" in failures and "Falsifying example" in failures
    p1_line = next(ln for ln in summary.splitlines() if ln.startswith("| P1 |"))   # the claim-verdict table's
    assert p1_line.split("|")[-2].strip().startswith("failed")
    page, text = _page(run_dir)
    assert "claim-P1" in page.ids and PLANTED in text and "test_P1_planted_disagreement(" in text
    a = analyse(recs, conclusion.claims)
    (row,) = [r for r in a.forest if r["claim"] == "P1"]
    assert row["claim_verdict"] == "failed" and row["verdict"] == "fail" and row["margin"] < 0
    assert row["margin_ci"][1] < 0                      # the whole interval lies beyond the bound
    # The forest plot draws that row in the failure colour, left of 0 (the bound).
    ax = figures.forest(a).axes[0]
    index = [r["claim"] for r in a.forest].index("P1")
    marks = [ln for ln in ax.lines if ln.get_marker() == "o" and list(ln.get_ydata()) == [index]]
    assert [(ln.get_color(), ln.get_xdata()[0] < 0) for ln in marks] == [(figures.claim_color("failed"), True)]
    (clean_row,) = [r for r in analyse(clean[1], clean[2].claims).forest if r["claim"] == "P1"]
    assert clean_row["margin"] > 0 and clean_row["claim_verdict"] != "failed"


def test_coverage_floors_and_slopes_read_as_holding(clean):
    """A coverage floor well above its floor has a positive margin, like a ceiling well below its bound;
    a slope's interval test is stated in words, not as "detects 0"."""
    run_dir, recs, conclusion = clean
    a = analyse(recs, conclusion.claims)
    floors = [r for r in a.least_room if r["statistic"].startswith("coverage")]
    assert floors and all(r["kind"] == "floor" and r["margin"] > 0 for r in floors)
    (d4,) = [r for r in a.forest if r["claim"] == "D4"]
    assert d4["words"] == "slope CI < 0"
    d4_line = next(ln for ln in (run_dir / "summary.md").read_text().splitlines() if ln.startswith("| D4 |"))
    assert "| slope CI < 0 | interval test |" in d4_line


def test_claim_table_rebuilt_from_results_json_matches(broken):
    """results.json alone (its records, pooled ones included) rebuilds the claim table it carries, through
    the run's own verdict code, and summary.md shows the same counts and detects."""
    run_dir, _, _ = broken
    results = json.loads((run_dir / "results.json").read_text())
    verdicts = claim_verdicts(list(results["claims"]), results["records"])
    rebuilt = json.loads(json.dumps(writer.claim_table(results["records"], verdicts)))
    assert rebuilt == results["claims"]
    counts = _summary_counts((run_dir / "summary.md").read_text())
    for claim, row in results["claims"].items():
        assert counts[claim] == (row["records"], *(row[v] for v in VERDICTS))
    table = (run_dir / "summary.md").read_text().split("## Claim verdicts", 1)[1].split("\n## ", 1)[0]
    lines = {ln.split("|")[1].strip(): ln for ln in table.splitlines()
             if ln.startswith("| ") and ln.split("|")[1].strip() in CLAIMS}
    for claim, row in results["claims"].items():
        if row.get("best_detects") is not None and claim != "D4":
            # With its direction: "≥ x" (ceiling), "≤ x" (floor), "any > x" (exact comparison).
            shown = f"{row['best_detects']:.4g}"
            assert any(f"| {d} {shown} |" in lines[claim] for d in ("≥", "≤", "any >")), lines[claim]


def test_summary_is_one_page_and_records_md_has_the_rest(broken):
    run_dir, recs, _ = broken
    summary = (run_dir / "summary.md").read_text().splitlines()
    assert len(summary) <= 150
    assert "## Claims by stratum" in summary                      # one mark per claim and stratum
    detail = (run_dir / "records.md").read_text()
    assert detail.count("| test_P1_planted_disagreement |") == sum(r["check"] == "test_P1_planted_disagreement"
                                                                   for r in recs)
