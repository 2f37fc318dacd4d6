"""The comparison's units and what it flags: one unit per network pair, quantities with too few units
judged by their tolerance alone, "not covered" ranked below verified, and the injected drifts of the
detection benchmark (``benchmarks/compare_detection.py``) flagged on the committed baseline."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from reporting.compare import (FAMILY_ALPHA, N_RESAMPLES, RESAMPLE_MARGIN, compare_runs, p_floor, quantities,
                               match_records, verdict_rank)
from reporting.compare_report import slim_results, terminal_lines
from reporting.verdicts import NOT_COVERED, NOT_VERIFIED, VERIFIED
from test_compare import P1_STAT, _record, synthetic_run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from compare_detection import DRIFTS, coverage, slope  # noqa: E402  (the drifts the benchmark measures)
from compare_false_alarms import load_any  # noqa: E402


@pytest.fixture(scope="module")
def baseline():
    """The committed baseline, with unit keys where its format lacks them."""
    return load_any(ROOT / "reports" / "baseline")


def _drifted(base, *names):
    b = copy.deepcopy(base)
    for name, _, drift in DRIFTS:
        if name in names:
            drift(b)
    return b


def _flagged(out) -> dict:
    return {c: row["status"] for c, row in out["claims"].items() if row["status"] != "unchanged"}


def _row(out, claim, name):
    return next(q for q in out["claims"][claim]["quantities"] if q["name"] == name)


@pytest.mark.parametrize("name, claim, judged", [
    ("D4 t-slope halved", "D4", "few units"),
    ("K3 rate −0.5 → −0.3", "K3", "few units"),
    # With each check's own pairs (salted seeds) D1's C_ξ has enough units to be tested.
    ("D1 C_ξ ×1.5", "D1", "test"),
    ("P4 share +0.02", "P4", "test"),
    ("P1 coverage −0.05", "P1", "test"),
])
def test_injected_drifts_regress_their_claim_only(baseline, name, claim, judged):
    out = compare_runs(baseline, _drifted(baseline, name))
    assert _flagged(out) == {claim: "regressed"}
    moved = [q for q in out["claims"][claim]["quantities"] if q["status"] == "regressed"]
    assert judged in {q["judged"] for q in moved}
    for q in moved:
        assert (q["adjusted"] is None) == (q["judged"] == "few units")


def test_slope_halved_says_it_was_judged_by_its_tolerance(baseline):
    out = compare_runs(baseline, _drifted(baseline, "D4 t-slope halved"))
    q = _row(out, "D4", "slope: t")
    assert q["b"] == pytest.approx(q["a"] / 2) and q["n"] < 8
    line = next(line for line in terminal_lines(out) if line.startswith("D4"))
    assert "regressed" in line and "judged by its tolerance alone" in line
    assert out["tolerance_only"] == 1 and out["tests"] == 0


def test_mean_coverage_drop_on_the_records_alone_regresses(baseline):
    """The records' coverage −0.057, the per-pair coverage floors untouched: P1's coverage units are few
    (11 in the format-2 baseline), so the tolerance (0.02) judges it, or a test where they are many."""
    b = copy.deepcopy(baseline)
    kept = [(r.get("pair_values"), r.get("value")) for r in b["records"]]
    coverage("P1", 0.057)(b)
    for r, (values, value) in zip(b["records"], kept):
        r["pair_values"], r["value"] = values, value
    out = compare_runs(baseline, b)
    assert _flagged(out) == {"P1": "regressed"}
    q = _row(out, "P1", "coverage")
    assert q["status"] == "regressed" and q["judged"] in ("few units", "test") and q["diff"] < -0.02


def test_stratum_verified_to_not_covered_is_a_regression(baseline):
    out = compare_runs(baseline, _drifted(baseline, "P1 stratum → not covered"))
    assert _flagged(out) == {"P1": "regressed"}
    move = next(m for m in out["claims"]["P1"]["moves"] if m["status"] == "regressed")
    assert move["name"].startswith("verdict [") and move["b"] == NOT_COVERED
    assert verdict_rank(NOT_VERIFIED) < verdict_rank(NOT_COVERED) < verdict_rank(VERIFIED)
    back = compare_runs(_drifted(baseline, "P1 stratum → not covered"), baseline)
    assert back["claims"]["P1"]["status"] == "improved"


def test_the_same_run_twice_has_no_difference(baseline):
    out = compare_runs(baseline, copy.deepcopy(baseline))
    assert out["statistic_differences"] == 0 and out["tests"] == out["tolerance_only"] == 0
    assert set(_flagged(out)) == set()


def test_records_of_one_seed_are_one_unit(baseline):
    """C3's per-pair shares come from several checks that reuse the explicit examples' seeds: the pooled
    quantity counts each seed once."""
    matched, _, _ = match_records(baseline["records"], baseline["records"])
    c3 = next(q for q in quantities(matched) if q.claim == "C3" and q.name.startswith("pooled"))
    seeds = {e[0][0] for e in c3.entries}
    assert len(c3.a) == len(seeds) <= len(c3.entries)


def _two_checks(values_a, values_b, seeds):
    """Two checks of one claim that share their network pairs (the same seeds)."""
    return [_record("P1", check, {"d": 100}, seeds, v) for check, v in (("test_a", values_a), ("test_b", values_b))]


def test_a_units_values_are_averaged_and_matched_by_seed():
    seeds = list(range(12))
    a = synthetic_run(settings=0)
    a["records"] = _two_checks([0.01] * 12, [0.03] * 12, seeds)
    b = copy.deepcopy(a)
    b["records"][1]["pair_values"] = [0.05] * 12
    # Run b trained one more pair in test_b (seed 12): a key only one run has is left out.
    b["records"][1]["pair_values"].append(0.9)
    b["records"][1]["pair_seeds"].append(12)
    q = _row(compare_runs(a, b), "P1", f"pooled {P1_STAT} (at most)")
    assert q["n"] == 12 and q["a"] == pytest.approx(0.02) and q["b"] == pytest.approx(0.03)


def test_copies_are_not_counted_as_independent_units():
    """Six checks on the same 4 pairs: 24 records' values but 4 units, whose smallest p-value 2/2⁴ cannot
    pass Holm; a move beyond the tolerance is then judged by it, and one within it is unchanged."""
    a = synthetic_run(settings=0)
    a["records"] = [_record("P1", f"test_{i}", {"d": 100}, range(4), [0.01, 0.02, 0.0, 0.01]) for i in range(6)]
    b = copy.deepcopy(a)
    for r in b["records"]:
        r["pair_values"] = [v + 0.002 for v in r["pair_values"]]
    q = _row(compare_runs(a, b), "P1", f"pooled {P1_STAT} (at most)")
    assert q["n"] == 4 and q["judged"] == "few units" and q["status"] == "unchanged"
    for r in b["records"]:
        r["pair_values"] = [v + 0.05 for v in r["pair_values"]]
    q = _row(compare_runs(a, b), "P1", f"pooled {P1_STAT} (at most)")
    assert q["judged"] == "few units" and q["status"] == "regressed"


def test_enough_resamples_for_holms_first_threshold():
    a = synthetic_run()
    b = synthetic_run(shift=0.05, coverage=0.2)
    out = compare_runs(a, b)
    k = out["tests"] + out["tolerance_only"]
    assert out["resamples"] >= max(N_RESAMPLES, RESAMPLE_MARGIN * k / FAMILY_ALPHA - 1)
    assert 1 / (1 + out["resamples"]) <= FAMILY_ALPHA / k / RESAMPLE_MARGIN
    moved = _row(out, "P1", f"pooled {P1_STAT} (at most)")
    assert moved["judged"] == "test" and moved["adjusted"] <= FAMILY_ALPHA


def test_p_floor_counts_only_the_units_that_moved():
    matched, _, _ = match_records(synthetic_run()["records"], synthetic_run(shift=0.01)["records"])
    q = next(q for q in quantities(matched) if q.name.startswith("pooled"))
    assert p_floor(q, 10 ** 6) == pytest.approx(max(2.0 ** (1 - len(q.a)), 1 / (1 + 10 ** 6)))
    q.b = list(q.a[:-3]) + list(q.b[-3:])
    assert p_floor(q, 10 ** 6) == pytest.approx(2.0 ** -2)


def test_the_slim_baseline_keeps_the_unit_keys():
    slim = slim_results(synthetic_run())
    assert all(r["pair_seeds"] == r["seeds"][:len(r["pair_values"])] for r in slim["records"] if r["pair_values"])


def test_slope_drift_helper_changes_only_its_axis(baseline):
    b = copy.deepcopy(baseline)
    slope("D4", "t", factor=0.5)(b)
    moved = [(x, y) for x, y in zip(baseline["records"], b["records"]) if x.get("slope") != y.get("slope")]
    assert moved and all(x["claim"] == "D4" and x["axis"] == "t" for x, _ in moved)


def test_pair_values_without_unit_keys_are_refused():
    """Without a seed per pair value the units are unknown; counting values as units is the error this
    comparison avoids, so it refuses (the command line exits 2 with this line)."""
    a = synthetic_run()
    for r in a["records"]:
        r.pop("pair_seeds", None)
    with pytest.raises(ValueError, match="pair_seeds must hold one seed per pair value"):
        compare_runs(a, copy.deepcopy(a))
