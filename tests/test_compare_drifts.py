"""Planted drifts between two real check runs are flagged ``regressed`` and name their claims.

Fixtures (``tests/data/make_drift_fixtures.py`` says how they were made): the Scenario (a) checks
(checks/test_thm34_scenario_a.py) of a ci run at seed 0, once at δ = 0.01 and once with δ planted at 0.02
through the real mechanism (``theory.tolerances.CHECK_DELTA``, read by the check harness).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from reporting.compare import compare_runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from compare_false_alarms import load_any  # noqa: E402  (reads a fixture of an older format with unit keys)

DATA = Path(__file__).parent / "data"
#: P1's per-pair statistic: the share of covered inputs where the predicted sign is wrong.
P1_SHARE = "share sgn g ≠ sgn f where L2 ∧ C2 ∧ C3"
P1_POOLED = f"pooled {P1_SHARE} (at most)"


@pytest.fixture(scope="module")
def runs():
    return load_any(DATA / "delta_0.01.json.gz"), load_any(DATA / "delta_0.02.json.gz")


def _rows(out, claim):
    return {q["name"]: q for q in out["claims"][claim]["quantities"]}


def test_delta_doubled_regresses_the_claims_whose_bounds_loosen(runs):
    out = compare_runs(*runs)
    regressed = {c for c, row in out["claims"].items() if row["status"] == "regressed"}
    assert {"P1", "C2", "C3", "P2"} <= regressed
    p1 = _rows(out, "P1")
    bound = p1[f"bound: {P1_SHARE}"]
    assert bound["status"] == "regressed" and bound["b"] == pytest.approx(2 * bound["a"])   # 3δ: 0.03 → 0.06
    assert p1["coverage"]["b"] > p1["coverage"]["a"]       # looser bounds cover more inputs
    assert out["records"]["new"] == out["records"]["gone"] == 0
    # The conformance claims do not read δ: unchanged.
    assert all(out["claims"][c]["status"] == "unchanged" for c in ("R1", "R2", "R3", "R4", "R5"))


def test_agreement_drop_on_covered_points_regresses_P1(runs):
    # A procedure bug that lowers agreement by 0.05 on covered points: each pair's P1 share rises by 0.05.
    a = runs[0]
    b = copy.deepcopy(a)
    for r in b["records"]:
        if r["claim"] == "P1" and r["statistic"] == P1_SHARE and r.get("pair_values"):
            r["pair_values"] = [min(1.0, v + 0.05) for v in r["pair_values"]]
    out = compare_runs(a, b)
    assert out["claims"]["P1"]["status"] == "regressed"
    moved = _rows(out, "P1")[P1_POOLED]
    assert moved["status"] == "regressed" and moved["diff"] == pytest.approx(0.05)
    assert [c for c, row in out["claims"].items() if row["status"] != "unchanged"] == ["P1"]


def test_the_same_run_twice_has_no_difference(runs):
    out = compare_runs(runs[1], copy.deepcopy(runs[1]))
    assert out["statistic_differences"] == 0 and set(out["counts"]) >= {"unchanged"}
    assert {row["status"] for row in out["claims"].values()} == {"unchanged"}
