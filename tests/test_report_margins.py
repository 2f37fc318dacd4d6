"""Least room and the forest plot read a test's interval at its level, not its observed value: a record whose
mean lies inside its bound but whose interval reaches beyond reads "not rejected" with a negative room; one
whose interval lies inside reads "shown within the bound". A rule that reads the mean again fails here. A
ratio at its tolerance by construction (R6's shares with a row within rounding of 0) is no near miss."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from reporting import figures, margins, writer
from reporting.analysis import analyse
from reporting.records import Record
from reporting.verdicts import VERIFIED

sys.path.insert(0, str(Path(__file__).parent))
from test_report import _meta  # noqa: E402

#: C3's shape in the committed baseline: mean 0.0024 under the bound 0.01, interval reaching 0.052.
REACHES = dict(value=0.0024, ci=(0.0001, 0.052))
#: P1 with an interval inside its bound 0.03.
INSIDE = dict(value=0.004, ci=(0.001, 0.02))


def _share(claim, *, value, ci, bound, check="run: pooled over examples", verdict="pass", **fields):
    return Record(claim=claim, check=check, setting={"d": 50}, seeds=list(range(24)), statistic=f"share of {claim}",
                  value=value, bound=bound, verdict=verdict, inside=True, ci=ci, alpha=2e-6, n_pairs=24,
                  test="betting, pooled", side="at most", detects=bound * 1.45, target=bound + 0.1,
                  **fields).to_jsonable()


def _exact(claim, value, **fields):
    return Record(claim=claim, check="test_exact", setting={"d": 5}, seeds=[1, 2], value=value, bound=1.0,
                  statistic="largest |deviation| / rounding tolerance", verdict="pass", inside=True, test="exact",
                  detects=1.0, target=1.0, n_pairs=2, **fields).to_jsonable()


def _records():
    return [_share("C3", bound=0.01, **REACHES), _share("P1", bound=0.03, **INSIDE)]


def _verdicts(records):
    return {r["claim"]: {"verdict": VERIFIED, "reason": "", "best_detects": r["detects"], "target": r["target"],
                         "records": 1, "excludes": None, "strata": {}} for r in records}


def interval_end_rule_problems() -> list[str]:
    """What the interval-end rule gets wrong on the two records (empty while it holds): their room, reading,
    least-room row and forest row."""
    recs = _records()
    problems = []
    reach, inside = (margins.margin(r) for r in recs)
    expected = 0.01 - 0.052                                      # the upper end's margin, not the mean's
    if reach.room != pytest.approx(expected) or reach.room >= 0:
        problems.append(f"C3's room {reach.room} is not its interval end's {expected}")
    if margins.reading(recs[0], reach) != margins.NOT_REJECTED:
        problems.append(f"C3 reads {margins.reading(recs[0], reach)!r}")
    if inside.room <= 0 or margins.reading(recs[1], inside) != margins.SHOWN:
        problems.append(f"P1 (interval inside) reads {margins.reading(recs[1], inside)!r}, room {inside.room}")
    rooms = {r["claim"]: r for r in margins.least_room(recs)}
    if rooms["C3"]["room"] >= 0 or rooms["C3"]["reading"] != margins.NOT_REJECTED:
        problems.append(f"C3's least room {rooms['C3']['room']} reads {rooms['C3']['reading']!r}")
    forest = {r["claim"]: r for r in margins.forest_rows(recs, _verdicts(recs))}
    if forest["C3"]["room"] >= 0 or forest["C3"]["reading"] != margins.NOT_REJECTED:
        problems.append(f"C3's forest row {forest['C3']['room']} reads {forest['C3']['reading']!r}")
    if forest["P1"]["reading"] != margins.SHOWN:
        problems.append(f"P1's forest row reads {forest['P1']['reading']!r}")
    return problems


def test_room_is_the_interval_end_not_the_mean():
    assert interval_end_rule_problems() == []
    m = margins.margin(_records()[0])
    assert m.value > 0 > m.room                                  # the mean has room, its interval does not


def test_a_rule_reading_the_mean_again_fails(monkeypatch):
    """Planted: least room and the forest's marker from the observed value, as before."""
    original = margins.margin

    def mean_rule(rec, known=None):
        m = original(rec, known)
        return None if m is None else dataclasses.replace(m, room=m.value)

    monkeypatch.setattr(margins, "margin", mean_rule)
    problems = interval_end_rule_problems()
    assert any(p.startswith("C3's room") for p in problems) and any("least room" in p for p in problems)


def test_the_report_says_shown_within_or_not_rejected_in_words_and_colour(tmp_path):
    recs = _records()
    run = writer.write_report_files(tmp_path, recs, {}, dict(_meta(), run_id="t"), _verdicts(recs))
    summary = (run / "summary.md").read_text()
    c3 = next(ln for ln in summary.splitlines() if ln.startswith("| C3 |"))
    p1 = next(ln for ln in summary.splitlines() if ln.startswith("| P1 |"))
    assert "not rejected (interval end 0.052 > 0.01)" in c3 and "shown within" not in c3
    assert "shown within the bound (interval end 0.02 ≤ 0.03)" in p1
    assert "**1 shown within the bound** (their interval lies inside it: P1)" in summary
    assert "**1 not rejected** only" in summary and "Least room among ceilings and floors" in summary
    html = (run / "report.html").read_text()
    assert '<span class="reading notrej">not rejected (interval end 0.052 &gt; 0.01)</span>' in html
    assert '<span class="reading shown">shown within the bound (interval end 0.02 ≤ 0.03)</span>' in html
    doc = json.loads((run / "results.json").read_text())
    forest = {r["claim"]: r for r in doc["empirical"]["forest"]}
    assert forest["C3"]["room"] < 0 < forest["C3"]["margin"] and forest["C3"]["end"] == pytest.approx(0.052)
    # The forest plot: the C3 marker (the interval's end) hollow, left of 0, in the paler green; P1 filled.
    a = analyse(recs, _verdicts(recs))
    ax = figures.forest(a).axes[0]
    rows = [r["claim"] for r in a.forest]
    marks = {c: [ln for ln in ax.lines if ln.get_marker() == "o" and list(ln.get_ydata()) == [rows.index(c)]]
             for c in ("C3", "P1")}
    (c3_mark,), (p1_mark,) = marks["C3"], marks["P1"]
    assert c3_mark.get_xdata()[0] < 0 and c3_mark.get_markerfacecolor() == "white"
    assert c3_mark.get_color() == figures.NOT_SHOWN_GREEN
    assert p1_mark.get_xdata()[0] > 0 and p1_mark.get_markerfacecolor() != "white"


def test_a_ratio_at_its_tolerance_by_construction_is_no_near_miss():
    """R6's worst ratio 1 − 4·10⁻¹³ (a row within rounding of 0 counted one way) reads "at its tolerance by
    construction"; least room is the others'; the same ratio elsewhere, or from a cosine, is a near miss."""
    built = _exact("R6", 1 - 4.2e-13)
    assert margins.at_tolerance(built) == "a value within rounding of 0 counts either way"
    assert margins.reading(built, margins.margin(built)) == margins.BY_CONSTRUCTION
    assert margins.at_tolerance(_exact("R1", 1 - 4.2e-13)) is None
    assert margins.at_tolerance(_exact("R6", 0.99)) is None
    cosine = _exact("R6", 1 - 4.2e-13, violations={"the reported cos_signed differs from the mean of cos": 1 - 4.2e-13,
                                                   "the reported agreement differs from the share of …": 0.2})
    assert margins.at_tolerance(cosine) is None
    (row,) = margins.least_room([built, _exact("R6", 0.25)])
    assert row["value"] == 0.25 and row["at_tolerance"] == 1 and row["reading"] == margins.SHOWN
    (alone,) = margins.least_room([built])
    assert alone["reading"] == margins.BY_CONSTRUCTION
    from reporting.markdown import least_room_table

    text = "\n".join(least_room_table([row, alone]))
    assert "at its tolerance by construction (a value within rounding of 0 counts either way) in 1 of 2" in text
    assert (forest := margins.forest_row([built, _exact("R6", 0.25)], "R6", None))["least_example_room"] == 0.75
    assert forest["claim"] == "R6"


def test_a_coverage_floor_that_passed_is_shown_above_it():
    """A coverage floor passes only by rejecting "mean ≤ floor" one-sided; its two-sided interval may reach
    just below the floor."""
    rec = Record(claim="P1", check="test_P1_cov", setting={}, seeds=[0], statistic="coverage", value=0.43, bound=0.2,
                 verdict="pass", inside=True, ci=(0.198, 0.6), test="betting (coverage above floor)", side="above",
                 detects=0.2, target=0.2, power_target="coverage", n_pairs=24).to_jsonable()
    m = margins.margin(rec)
    assert margins.reading(rec, m) == margins.SHOWN and m.room == 0.0
