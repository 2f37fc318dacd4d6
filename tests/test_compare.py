"""The claim-by-claim comparison of two runs (``reporting.compare``), on small synthetic results.json
documents: identical runs, planted drifts in each direction, new and gone claims, bad input."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from reporting.__main__ import main
from reporting.compare import FAMILY_ALPHA, TOLERANCES, compare_runs, load_run, match_records
from reporting.compare_report import slim_results, terminal_lines, write_comparison
from reporting.verdicts import NOT_VERIFIED, POOLED_CHECK, VERIFIED
from reporting.writer import FORMAT_VERSION
from theory.stats import paired_permutation_test

P1_STAT = "share of covered inputs where sgn g ≠ sgn f"


def _record(claim, check, setting, seeds, values, **fields) -> dict:
    rec = {"claim": claim, "check": check, "statistic": fields.pop("statistic", P1_STAT), "setting": setting,
           "seeds": list(seeds), "pair_values": list(values), "pair_seeds": list(seeds)[:len(values)],
           "value": float(np.mean(values)),
           "bound": 0.03, "verdict": "pass", "inside": True, "side": "at most", "test": "betting",
           "detects": 0.04, "coverage": 0.43, "n_pairs": len(values)}
    rec.update(fields)
    return rec


def synthetic_run(seed=0, profile="ci", shift=0.0, coverage=0.43, verdict=VERIFIED, settings=8) -> dict:
    """A run with P1 records (per-pair violation shares near 0.005), D1 records (C_ξ) and a K1 claim."""
    rng = np.random.default_rng(seed)
    records = []
    for k in range(settings):
        seeds = [1000 * k + i for i in range(12)]
        shares = np.clip(rng.beta(1, 150, 12) + shift, 0, 1)
        records.append(_record("P1", "test_P1", {"d": 100 + k}, seeds, shares, coverage=coverage))
        records.append(_record("D1", "test_D1", {"d": 100 + k}, seeds[:1], [0.0], pair_values=None, value=0.0,
                               statistic="largest ‖ξ‖/B_ξ", side=None, detects=None, coverage=None,
                               xi_ratio_max=float(rng.uniform(0.5, 0.9))))
    records.append(_record("P1", POOLED_CHECK, {"records": settings}, [], [0.0], statistic=P1_STAT))
    return {"format_version": FORMAT_VERSION, "meta": {"profile": profile, "hypothesis_seed": 0,
                                                      "git_revision": "abc", "procedure": "p"},
            "claims": {"P1": {"verdict": verdict}, "D1": {"verdict": VERIFIED}, "K1": {"verdict": VERIFIED}},
            "records": records}


def test_identical_runs_are_unchanged_with_no_difference():
    a = synthetic_run()
    out = compare_runs(a, copy.deepcopy(a))
    assert {c["status"] for c in out["claims"].values()} == {"unchanged"}
    assert out["statistic_differences"] == 0 and out["tests"] == 0 and not out["regressed"]
    assert out["records"] == {"matched": 16, "gone": 0, "new": 0}


def test_agreement_drop_on_covered_points_regresses_P1_only():
    # A procedure bug that lowers agreement by 0.05 on covered points raises P1's per-pair share by 0.05.
    a = synthetic_run()
    b = copy.deepcopy(a)
    for r in b["records"]:
        if r["claim"] == "P1" and r["pair_values"] and r["check"] != POOLED_CHECK:
            r["pair_values"] = [v + 0.05 for v in r["pair_values"]]
    out = compare_runs(a, b)
    assert out["claims"]["P1"]["status"] == "regressed"
    assert out["claims"]["D1"]["status"] == out["claims"]["K1"]["status"] == "unchanged"
    moved = [q for q in out["claims"]["P1"]["quantities"] if q["status"] == "regressed"]
    assert [q["name"] for q in moved] == [f"pooled {P1_STAT} (at most)"]
    assert moved[0]["diff"] == pytest.approx(0.05) and moved[0]["adjusted"] <= FAMILY_ALPHA
    assert any(line.startswith("P1     regressed") for line in terminal_lines(out))


def test_lower_share_is_an_improvement_and_coverage_fall_a_regression():
    a = synthetic_run(shift=0.05)
    better = compare_runs(a, synthetic_run(seed=0, shift=0.0))
    assert better["claims"]["P1"]["status"] == "improved"
    worse = compare_runs(synthetic_run(), synthetic_run(coverage=0.20))
    rows = {q["name"]: q for q in worse["claims"]["P1"]["quantities"]}
    assert worse["claims"]["P1"]["status"] == "regressed" and rows["coverage"]["status"] == "regressed"


def test_a_move_below_the_tolerance_is_unchanged_even_when_significant():
    a = synthetic_run()
    b = copy.deepcopy(a)
    small = TOLERANCES["share"][0] / 2
    for r in b["records"]:
        if r["claim"] == "P1" and r["pair_values"] and r["check"] != POOLED_CHECK:
            r["pair_values"] = [v + small for v in r["pair_values"]]
    q = next(q for q in compare_runs(a, b)["claims"]["P1"]["quantities"] if q["name"].startswith("pooled"))
    assert q["adjusted"] <= FAMILY_ALPHA and q["status"] == "unchanged"


def test_verdict_and_strata_moves_count():
    b = synthetic_run(verdict=NOT_VERIFIED)
    out = compare_runs(synthetic_run(), b)
    assert out["claims"]["P1"]["status"] == "regressed" and out["claims"]["P1"]["verdict"] == [VERIFIED, NOT_VERIFIED]
    a, b = synthetic_run(), synthetic_run()
    a["claims"]["K1"]["strata"] = {"gamma=0": {"verdict": VERIFIED}, "gamma>0": VERIFIED}
    b["claims"]["K1"]["strata"] = {"gamma=0": {"verdict": VERIFIED}, "gamma>0": "failed"}
    moves = compare_runs(a, b)["claims"]["K1"]["moves"]
    assert [m["name"] for m in moves if m["status"] == "regressed"] == ["verdict [gamma>0]"]


def test_new_and_gone_claims_and_records():
    a, b = synthetic_run(), synthetic_run()
    del b["claims"]["K1"]
    b["records"] = [r for r in b["records"] if not (r["claim"] == "D1" and r["setting"]["d"] == 100)]
    b["claims"]["C9"] = {"verdict": VERIFIED}
    out = compare_runs(a, b)
    assert out["claims"]["K1"]["status"] == "gone" and out["claims"]["C9"]["status"] == "new"
    assert out["claims"]["D1"]["records"] == {"matched": 7, "gone": 1, "new": 0}
    assert not out["regressed"]


def test_records_match_by_check_setting_and_seeds():
    a = synthetic_run()["records"]
    b = copy.deepcopy(a)
    b[0]["seeds"] = [s + 1 for s in b[0]["seeds"]]
    matched, gone, new = match_records(a, b)
    assert len(gone) == len(new) == 1 and gone[0] is a[0] and new[0] is b[0]
    assert len(matched) == len(a) - 2        # the pooled record is never matched


def test_profiles_must_agree_unless_allowed():
    a, b = synthetic_run(), synthetic_run(profile="thorough")
    with pytest.raises(ValueError, match="profiles differ: 'ci' .* 'thorough'"):
        compare_runs(a, b)
    assert compare_runs(a, b, allow_profile_mismatch=True)["differs"]["profile"] == ["ci", "thorough"]
    with pytest.raises(TypeError, match="^b must be a results.json document"):
        compare_runs(a, {"records": None})
    with pytest.raises(ValueError, match="^alpha == 2"):
        compare_runs(a, a, alpha=2)


def test_load_run_names_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="^base: no results.json at"):
        load_run(tmp_path / "nope", "base")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="^base: .* is not a readable results.json"):
        load_run(bad, "base")
    old = tmp_path / "old"
    old.mkdir()
    (old / "results.json").write_text(json.dumps(dict(synthetic_run(), format_version=1)))
    with pytest.raises(ValueError, match=f"format_version 1, this reader reads {FORMAT_VERSION}"):
        load_run(old, "base")


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return str(path)


def test_cli_exit_codes_and_files(tmp_path, capsys):
    a = _write(tmp_path / "a.json", synthetic_run())
    assert main(["compare", a, a, "--out", str(tmp_path / "same")]) == 0
    assert {p.name for p in (tmp_path / "same").iterdir()} == {"compare.md", "compare.json", "compare.png"}
    drift = synthetic_run(shift=0.05)
    assert main(["compare", a, _write(tmp_path / "b.json", drift), "--out", str(tmp_path / "o")]) == 1
    assert json.loads((tmp_path / "o" / "compare.json").read_text())["claims"]["P1"]["status"] == "regressed"
    capsys.readouterr()
    other = _write(tmp_path / "c.json", synthetic_run(profile="thorough"))
    for args in ([a, str(tmp_path / "missing.json")], [a, other], [a, _write(tmp_path / "v.json", {"records": []})]):
        assert main(["compare", *args, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("python -m reporting compare: ") and "Traceback" not in err
    assert main(["compare", a, other, "--allow-profile-mismatch", "--out", str(tmp_path / "x")]) == 0


def test_slim_baseline_compares_like_the_full_run(tmp_path):
    a = synthetic_run()
    for r in a["records"]:
        r["agreement"] = [0.99] * 12          # per-pair detail the baseline drops
    slim = slim_results(a)
    assert "agreement" not in slim["records"][0]
    out = compare_runs(slim, a)
    assert out["statistic_differences"] == 0 and {c["status"] for c in out["claims"].values()} == {"unchanged"}
    written = write_comparison(out, tmp_path)
    assert "| P1 | unchanged |" in (written / "compare.md").read_text()


def test_paired_permutation_test_is_exact_on_small_samples():
    # Three pairs all moved by +1: of the 2^3 swap patterns, only "none" and "all" give |T| = 1.
    t = paired_permutation_test([0, 0, 0], [1, 1, 1])
    assert t.exact and t.diff == 1 and t.pvalue == pytest.approx(2 / 8)
    same = paired_permutation_test([0.2, 0.5], [0.2, 0.5], "max")
    assert same.diff == 0 and same.pvalue == 1
    with pytest.raises(ValueError, match="^a and b have 2 and 3 entries"):
        paired_permutation_test([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="^statistic == 'median'"):
        paired_permutation_test([0], [1], "median")


def test_figure_draws_a_pooled_mean_outside_its_confidence_sequence(tmp_path):
    """A betting confidence sequence is an intersection over time and may exclude the final pooled mean
    (seen in a seed-11 run); the figure draws the point and the interval apart instead of failing."""
    from reporting.compare_report import draw

    side = {"value": 0.02, "ci": [0.03, 0.05], "bound": 0.03}
    fig = draw({"claims": {"P1": {"status": "unchanged", "pooled": [{"statistic": "share", "a": side, "b": side}]}}})
    assert fig is not None and len(fig.axes[0].collections) == 4     # two intervals, two bound lines
