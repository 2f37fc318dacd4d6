"""Tests of tools/flake.py: its pure parts, and end to end against a fake check directory whose
conftest writes a results.json in the format of reporting/writer.py (the real suite is too slow to
run K times here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) does not put the root on sys.path
    sys.path.insert(0, str(ROOT))

from tools import flake  # noqa: E402
from tools.flake import RUN_ERROR, UNTAGGED, RunOutcome, RunSummary  # noqa: E402


def results_json(records=(), outcomes=None, wall=12.5) -> dict:
    return {"meta": {"wall_seconds": wall}, "records": [dict(claim=c, verdict=v) for c, v in records],
            "outcomes": outcomes or {}}


def outcome(seed, failing=(), claims=("K1", "D2"), rc=0, wall=1.0, results=True) -> RunOutcome:
    summary = RunSummary(frozenset(claims) | frozenset(failing), frozenset(failing), (), wall) if results else None
    return RunOutcome(seed, rc, wall, summary)


# ------------------------------------------------------------------------------------------------
# Seeds and command
# ------------------------------------------------------------------------------------------------

def test_run_seeds_are_distinct_reproducible_and_counted():
    seeds = flake.run_seeds(50, base_seed=7)
    assert len(seeds) == 50 == len(set(seeds))
    assert seeds == flake.run_seeds(50, base_seed=7)
    assert seeds != flake.run_seeds(50, base_seed=8)
    assert all(0 <= s < flake.SEED_RANGE for s in seeds)


@pytest.mark.parametrize("runs", [0, -1, 1.5, True])
def test_run_seeds_rejects_bad_counts(runs):
    with pytest.raises(ValueError, match=r"runs == .*, must be an integer >= 1"):
        flake.run_seeds(runs, base_seed=0)


def test_parse_seed_list():
    assert flake.parse_seed_list("3, 5,8") == [3, 5, 8]
    for bad in ("", "a,b", "1,1", "-2"):
        with pytest.raises(ValueError, match=r"seeds == "):
            flake.parse_seed_list(bad)


def test_pytest_command_has_every_required_option():
    cmd = flake.pytest_command(42, report_dir="/tmp/r", profile="fast", jobs="auto", target="checks/",
                               extra=["-x", "-k", "K1"], python="py")
    assert cmd[:6] == ["py", "-m", "pytest", "-n", "auto", "checks/"]
    for arg in ("--hypothesis-profile=fast", "--hypothesis-seed=42", "--report-dir=/tmp/r"):
        assert arg in cmd
    i = cmd.index("-p")
    assert cmd[i + 1] == "no:cacheprovider"
    assert cmd[-3:] == ["-x", "-k", "K1"]


def test_split_extra():
    assert flake.split_extra(["--runs", "2", "--", "-x", "--", "y"]) == (["--runs", "2"], ["-x", "--", "y"])
    assert flake.split_extra(["--runs", "2"]) == (["--runs", "2"], [])


# ------------------------------------------------------------------------------------------------
# Parsing results.json
# ------------------------------------------------------------------------------------------------

def test_summarize_results_counts_fail_records_and_failed_tests():
    res = results_json(
        records=[("K1", "pass"), ("K1", "pass"), ("D2", "fail"), ("D2", "pass"), ("L2", "observed"),
                 ("C1", "invalid")],
        outcomes={"checks/test_a.py::test_x": {"outcome": "failed", "claims": ["D5"]},
                  "checks/test_a.py::test_y": {"outcome": "passed", "claims": ["K2"]},
                  "checks/test_b.py::test_z": {"outcome": "failed", "claims": []}})
    s = flake.summarize_results(res)
    assert s.claims == {"K1", "D2", "L2", "C1", "D5", "K2"}
    assert s.failing == {"D2", "D5", UNTAGGED}  # 'observed' and 'invalid' are not failures
    assert s.failed_tests == ("checks/test_a.py::test_x", "checks/test_b.py::test_z")
    assert s.wall_seconds == 12.5


def test_summarize_results_tolerates_missing_sections():
    s = flake.summarize_results({})
    assert s == RunSummary()


def test_load_results(tmp_path):
    assert flake.load_results(tmp_path) is None
    (tmp_path / "latest").mkdir()
    (tmp_path / "latest" / "results.json").write_text("{not json")
    assert flake.load_results(tmp_path) is None
    (tmp_path / "latest" / "results.json").write_text(json.dumps(results_json([("K1", "pass")])))
    assert flake.load_results(tmp_path)["records"] == [{"claim": "K1", "verdict": "pass"}]


# ------------------------------------------------------------------------------------------------
# Table and exit code
# ------------------------------------------------------------------------------------------------

def test_failure_table_rates_are_runs_with_a_failure_over_k():
    runs = [outcome(1), outcome(2, failing=("D2",)), outcome(3, failing=("D2", "K1")), outcome(4, results=False, rc=3)]
    rows = flake.failure_table(runs)
    assert rows[0] == ("D2", 2, 4, 0.5)
    assert ("K1", 1, 4, 0.25) in rows and (RUN_ERROR, 1, 4, 0.25) in rows
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)  # worst first
    table = flake.format_table(rows)
    assert "D2" in table and "2/4" in table and "0.50" in table


def test_a_fail_record_counts_once_per_run():
    """Several failing records of one claim in one run are one failing run."""
    s = flake.summarize_results(results_json([("D2", "fail"), ("D2", "fail"), ("D2", "fail")]))
    rows = flake.failure_table([RunOutcome(1, 1, 1.0, s), outcome(2)])
    assert ("D2", 1, 2, 0.5) in rows


def test_exit_code():
    assert flake.exit_code([outcome(1), outcome(2)]) == 0
    assert flake.exit_code([outcome(1), outcome(2, failing=("K1",))]) == 1
    assert flake.exit_code([outcome(1), outcome(2, rc=1)]) == 1          # pytest failed, no record
    assert flake.exit_code([outcome(1), outcome(2, results=False)]) == 1  # no results file
    assert flake.exit_code([]) == 1


def test_format_run_reports_wall_times_and_failures():
    line = flake.format_run(0, outcome(17, failing=("D2",), wall=3.25))
    assert "run 1" in line and "seed" in line and "17" in line and "FAIL" in line and "D2" in line
    assert "3.2 s" in line or "3.3 s" in line
    assert "pass" in flake.format_run(1, outcome(18))


# ------------------------------------------------------------------------------------------------
# End to end, on a fake check directory
# ------------------------------------------------------------------------------------------------

FAKE_CONFTEST = textwrap.dedent('''
    """Writes <report-dir>/latest/results.json like reporting/writer.py, with verdicts set by the seed:
    B2 fails for odd seeds, test_crash (claim D4) fails for multiples of 3, seed 5 writes nothing."""
    import json, os
    from pathlib import Path
    from hypothesis import settings

    settings.register_profile("fast", max_examples=2, database=None)

    def pytest_addoption(parser):
        try:
            parser.addoption("--report-dir", default="reports")
        except ValueError:  # the installed claim plugin (pytest11 entry point) defines it already
            pass

    def pytest_sessionfinish(session, exitstatus):
        config = session.config
        if hasattr(config, "workerinput"):
            return
        seed = int(config.getoption("hypothesis_seed"))
        if seed == 5:
            return
        records = [{"claim": "A1", "verdict": "pass"}, {"claim": "C3", "verdict": "observed"},
                   {"claim": "B2", "verdict": "fail" if seed % 2 else "pass"}]
        outcomes = {"test_fake.py::test_ok": {"outcome": "passed", "claims": ["A1"]}}
        if seed % 3 == 0:
            outcomes["test_fake.py::test_crash"] = {"outcome": "failed", "claims": ["D4"]}
        meta = {"wall_seconds": 0.25, "profile": settings.get_current_profile_name(), "hypothesis_seed": seed}
        latest = Path(config.getoption("--report-dir")) / "latest"
        latest.mkdir(parents=True, exist_ok=True)
        (latest / "results.json").write_text(json.dumps({"meta": meta, "records": records, "outcomes": outcomes}))
''')


@pytest.fixture
def fake_checks(tmp_path):
    d = tmp_path / "fake_checks"
    d.mkdir()
    (d / "pytest.ini").write_text("[pytest]\n")
    (d / "conftest.py").write_text(FAKE_CONFTEST)
    (d / "test_fake.py").write_text("def test_ok():\n    assert True\n")
    return d


def _flake(*args, cwd=ROOT):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HYPOTHESIS_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "tools.flake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_flake_end_to_end_reports_failure_rates(fake_checks, tmp_path):
    work = tmp_path / "runs"
    work.mkdir()
    proc = _flake("--runs", "2", "--seeds", "3,5", "--jobs", "0", "--target", str(fake_checks),
                  "--work-dir", str(work), "--", "-q")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "seeds (explicit): 3, 5" in out
    assert "--hypothesis-seed=3" in out  # the repro line
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line and line.split()[0] in
             ("A1", "B2", "C3", "D4", RUN_ERROR.split()[0])}
    assert lines["B2"][1:] == ["1/2", "0.50"]     # a fail record (seed 3)
    assert lines["D4"][1:] == ["1/2", "0.50"]     # a failed test tagged D4 (seed 3)
    assert lines["A1"][1:] == ["0/2", "0.00"] and lines["C3"][1:] == ["0/2", "0.00"]
    assert "(run" in lines and lines["(run"][-2:] == ["1/2", "0.50"]  # seed 5 left no results
    assert "run 1: seed          3  FAIL" in out and "run 2: seed          5  FAIL" in out
    assert "wall time:" in out
    assert "FAILURES" in out
    kept = sorted(p.name.split("-")[1] for p in work.iterdir())  # failed runs keep their directory
    assert kept == ["3", "5"] and (next(work.glob("flake-3-*")) / "pytest.log").exists()


def test_flake_end_to_end_exits_0_without_failures(fake_checks, tmp_path):
    proc = _flake("--runs", "1", "--seeds", "2", "--jobs", "0", "--target", str(fake_checks),
                  "--work-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no failures" in proc.stdout and "B2" in proc.stdout
    assert not list(tmp_path.glob("flake-*"))  # a passing run's directory is removed


def test_flake_usage_errors_exit_2():
    proc = _flake("--runs", "0")
    assert proc.returncode == 2 and "--runs == 0, must be >= 1" in proc.stderr
