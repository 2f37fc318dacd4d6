"""The report's "Where it breaks" (``reporting.breaks``): every collapsed pair counted once and in one class,
the classes in the report's order (the paper's recipe first, then the misses inside L2, each explained or
"unexplained"), the expected classes recognised, and the section rendered from real run data, in the
format the harness notes now and in the older one without its new fields."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from reporting import breaks
from reporting.breaks import (CONTROL, FLIPPED, G_STEP, MISSED, OUTSIDE, PAPER, PREDICTED, UNEXPLAINED,
                              classify, explain_miss, where_it_breaks)
from theory.tolerances import COLLAPSE_AGREEMENT, F_FITS_D, G_BARELY_TRAINED_TIME

ROOT = Path(__file__).resolve().parents[1]
#: The committed baseline: a full ci check run (seed 0), notes without the harness's new fields.
BASELINE = ROOT / "reports" / "baseline" / "results.json.gz"

LAZY = dict(dataset="shifted-gauss", d=100, N=150, m=3000, gamma=0.0, loss="identity", eps=3.0, scenario="b",
            targets="random", attack="l2-one-step", momentum=0.0, t_f=2.0, t_g=2.0, first_seed=100, pairs=12)
PAPER_SETTING = dict(LAZY, m=100, momentum=0.9, eps=0.001, scenario="a", t_f=291.0, t_g=291.0, first_seed=200)


def note(seed, setting=None, agreement=0.5, predicted=0.9, reason=None, inside_l2=True, check="test_x", **extra):
    return dict(setting=dict(setting or LAZY), seed=seed, agreement=agreement, predicted=predicted, reason=reason,
                inside_l2=inside_l2, check=check, **extra)


def _examples() -> list[dict]:
    """One or more notes of every class, and one pair noted by two checks."""
    return [
        note(1, PAPER_SETTING, predicted=0.5, reason="label term outweighs the signal on 100% of inputs",
             inside_l2=False),
        note(2, PAPER_SETTING, predicted=0.9, inside_l2=False),
        note(3),                                                             # missed inside L2
        note(3, check="test_y"),                                             # the same pair, another check
        note(4, inside_l2=False),                                            # outside L2, not predicted
        note(5, predicted=0.4, reason="the signal term has the opposite sign to f on 60% of inputs"),
        note(6, dict(LAZY, targets="flipped", first_seed=300), agreement=0.01, predicted=0.0,
             reason="label term outweighs the signal on 100% of inputs"),
        note(7, dict(LAZY, t_g=G_BARELY_TRAINED_TIME, first_seed=400)),
        note(8, dict(LAZY, eps=0.0, first_seed=500), check="test_CTRL_x"),
        note(9, dict(LAZY, attack="random", first_seed=500)),
        note(10, dict(LAZY, attack="shuffled", first_seed=500)),
        note(11, dict(LAZY, t_f=0.0, first_seed=500)),
    ]


def _load(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def _counts_add_up(b: dict) -> None:
    assert sum(b["counts"].values()) == b["total"] == sum(g["k"] for g in b["groups"])


def test_counts_add_up_and_a_pair_noted_by_two_checks_counts_once():
    notes = _examples()
    b = where_it_breaks(notes)
    _counts_add_up(b)
    assert b["notes"] == len(notes) and b["total"] == len(notes) - 1
    (missed,) = [g for g in b["groups"] if g["class"] == MISSED]
    assert missed["k"] == 1 and missed["checks"] == ["test_x", "test_y"]
    # Without the deduplication the two notes of seed 3 would count twice: the total is what catches it.
    assert len(breaks.distinct_pairs(notes + notes)) == b["total"]


def test_each_class_is_recognised():
    by_seed = {n["seed"]: classify(dict(n, checks=[n["check"]])) for n in _examples()}
    assert by_seed == {1: PAPER, 2: PAPER, 3: MISSED, 4: OUTSIDE, 5: PREDICTED, 6: FLIPPED, 7: G_STEP,
                       8: CONTROL, 9: CONTROL, 10: CONTROL, 11: CONTROL}
    b = where_it_breaks(_examples())
    assert b["controls"] == {"ε = 0": 1, "random directions": 1, "shuffled perturbations": 1,
                             "untrained f (t_f = 0)": 1}
    # Flipped targets that P4 does not predict to disagree are not an expected collapse.
    flipped_missed = note(12, dict(LAZY, targets="flipped"), predicted=0.9)
    assert classify(dict(flipped_missed, checks=["test_x"])) == MISSED
    # The harness's own control flag wins over the setting (a note says None: not a control).
    assert classify(dict(note(13, dict(LAZY, eps=0.0)), control=None, checks=["test_x"])) == MISSED


def test_the_papers_recipe_comes_first_with_p3_per_setting():
    p3 = {"claim": "P3", "inside": False, "setting": PAPER_SETTING, "statistic": "pairs with agreement > 0.6",
          "value": 2 / 12, "n_pairs": 12, "agreement": [0.7, 0.65] + [0.5] * 10, "seeds": list(range(12))}
    b = where_it_breaks(_examples(), [p3])
    assert b["groups"][0]["class"] == PAPER
    assert [label for label, _ in breaks.summary_items(b)][:2] == ["The paper's recipe", "Missed inside L2"]
    text = breaks.paper_text(b)
    assert "held in 0 of 1 setting: 2 of 12 pairs above 0.6" in text
    assert "2 pairs collapsed, 1 of them predicted" in text
    md = breaks.summary_lines(b, pairs_trained=40)
    assert md[0] == "## Where it breaks" and md[4].startswith("- **The paper's recipe**")
    assert "0.70, 0.65, 0.50" in "\n".join(breaks.records_lines(b))
    # A run without the paper's recipe still says so first.
    assert breaks.summary_items(where_it_breaks([]))[0] == (
        "The paper's recipe", "P3's headline not measured in this run; no pair collapsed.")


def test_a_miss_inside_L2_is_explained_by_the_theory_or_labelled_unexplained():
    miss = dict(note(3, agreement=0.55, predicted=0.75), checks=["test_x"])
    assert explain_miss(miss) == UNEXPLAINED
    assert explain_miss(miss, {"p5_uncovered": True}).startswith("P5 predicts nothing here")
    assert explain_miss(miss, {"p5_excess": (0.0, 0.03)}).startswith("within P5's slack")
    assert explain_miss(miss, {"p5_excess": (0.2, 0.03)}) == UNEXPLAINED
    assert explain_miss(dict(miss, c2_coverage=0.5)).startswith("within P5's slack")   # 0.2 ≤ 0.5 + 0.03
    assert explain_miss(dict(miss, c2_coverage=0.95)) == UNEXPLAINED                    # 0.2 > 0.05 + 0.03
    assert explain_miss(dict(miss, acc_f_train=F_FITS_D - 0.1)).startswith("f does not fit D")
    assert explain_miss(dict(miss, setting=dict(LAZY, targets="flipped"))).startswith("S ≈ −N")
    b = where_it_breaks([note(3, agreement=0.55, predicted=0.75)])
    assert b["unexplained"] == 1 and "1 unexplained" in dict(breaks.summary_items(b))["Missed inside L2"]
    # The summary counts explanations by kind: two pairs whose f fits D badly, at different accuracies, are one kind.
    weak = where_it_breaks([note(4, agreement=0.55, predicted=0.75, acc_f_train=F_FITS_D - 0.1),
                            note(5, agreement=0.55, predicted=0.75, acc_f_train=F_FITS_D - 0.2)])
    assert "explained by the theory (f does not fit D: 2)" in dict(breaks.summary_items(weak))["Missed inside L2"]


def test_explanations_come_from_the_runs_records_of_the_same_pair():
    """P5's records name the pairs it left out for lack of coverage; a pair of another setting with the
    same seed is not explained by them."""
    left_out = {"claim": "P5", "statistic": "share of pairs left out of: excess of |a_obs − a_pred| over (1 − c)",
                "setting": LAZY, "seeds": [3]}
    b = where_it_breaks([note(3, agreement=0.55, predicted=0.75)], [left_out])
    assert b["unexplained"] == 0
    other = dict(left_out, setting=dict(LAZY, first_seed=999))
    assert where_it_breaks([note(3, agreement=0.55, predicted=0.75)], [other])["unexplained"] == 1


def test_k_of_n_uses_the_valid_pairs_noted_else_says_drawn():
    new = where_it_breaks([note(3, setting_pairs=10), note(4, setting_pairs=10)])
    assert breaks.group_cells(new["groups"][0])[3] == "2 of 10"
    old = where_it_breaks([note(3), note(4)])
    assert breaks.group_cells(old["groups"][0])[3] == "2 of 12 drawn"
    # Two batches of one setting (other seeds) make one row, k and n summed.
    two = where_it_breaks([note(3, setting_pairs=10), note(1003, dict(LAZY, first_seed=1000), setting_pairs=11)])
    assert breaks.group_cells(two["groups"][0])[3] == "2 of 21 (2 batches)"
    assert breaks.group_cells(old["groups"][0])[6] == "unknown / unknown"                    # κ of an old note


def test_harness_notes_carry_what_the_grouping_needs():
    from checks import harness, session
    from checks.strategies import Setting
    from perturbation_learning.config import get_preset

    setting = Setting(get_preset("lazy-shifted-gauss-a").replace(eps=0.0), (0, 1, 2))
    pred = {"agreement": 0.4, "reason": "r", "inside": {"l2": True, "kappa_f_max": 0.2, "kappa_g_max": 0.1,
                                                         "c2_l2_coverage": None}}
    results = [dict(status="ok", agreement=0.5, config={"seed": 0}, prediction=pred, t_g=10.0, acc_f_train=1.0,
                    acc_g_train=0.5),
               dict(status="ok", agreement=0.9, config={"seed": 1}, prediction=pred, t_g=10.0),
               dict(status="invalid: training diverged for g", agreement=None, config={"seed": 2})]
    with session.checking("test_CTRL_x", ("CTRL-eps0",)):
        harness.note_collapses(results, setting)
    (carried,) = [json.loads(s) for s in session.current().drain_collapses()]
    assert carried["setting_pairs"] == 2 and carried["control"] == "ε = 0" and carried["check"] == "test_CTRL_x"
    assert (carried["kappa_f"], carried["kappa_g"], carried["t_g"], carried["acc_f_train"]) == (0.2, 0.1, 10.0, 1.0)
    assert carried["seed"] == 0 and carried["agreement"] < COLLAPSE_AGREEMENT and carried["predicted"] == 0.4
    b = where_it_breaks([carried])
    assert b["counts"][CONTROL] == 1
    assert breaks.group_cells(b["groups"][0])[3:7] == ["1 of 2", "0.500", "0.400", "0.2 / 0.1"]


def _real_runs() -> list[dict]:
    """The committed baseline, and this checkout's latest check run where there is one (any size)."""
    runs = [_load(BASELINE)] if BASELINE.is_file() else []
    latest = ROOT / "reports" / "latest" / "results.json"
    return runs + ([_load(latest)] if latest.is_file() else [])


@pytest.mark.skipif(not BASELINE.is_file(), reason="the committed baseline run is missing")
def test_renders_on_real_run_data():
    """Markdown (both files) and the HTML section from real runs: every distinct pair in the table once,
    the paper's recipe first, summary.md's part short."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from reporting import html, markdown

    env = Environment(loader=FileSystemLoader(html.TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    for run in _real_runs():
        meta, records = run["meta"], run["records"]
        b = where_it_breaks(meta["collapsed_pairs"], records)
        _counts_add_up(b)
        summary = markdown.top_collapses(meta["collapsed_pairs"], records, meta.get("pairs_trained"))
        assert summary[0] == "## Where it breaks" and len(summary) <= 12
        assert summary[4].startswith("- **The paper's recipe**")
        full = "\n".join(markdown.collapses_section(meta["collapsed_pairs"], records, meta.get("pairs_trained")))
        assert (f"| total | | | {b['total']} |" if b["groups"] else "No pair collapsed.") in full
        page = env.get_template("breaks.html.j2").render(collapses=html._collapses(meta, records))
        assert page.count("<tr>") == sum(1 + len(rows) for rows in (b["groups"], b["paper"]) if rows)
        assert "The paper&#39;s recipe" in page
