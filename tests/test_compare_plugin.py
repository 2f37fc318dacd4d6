"""The plugin's baseline options end to end, on a one-record check that trains nothing:
--claims-baseline-update writes the baseline, --claims-baseline prints the claim-change table and writes
compare.* into the run, --claims-baseline-strict fails a regressed run, a bad baseline stops the run
before any check with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reporting.compare import load_run
from reporting.run_report import OPTION_BASELINE, OPTION_BASELINE_UPDATE
from reporting.run_report import load_baseline as _load_baseline

CHECK = '''
import os
import pytest
from checks import session
from reporting.records import Record


@pytest.mark.claim("K3")
def test_K3_stand_in():
    shift = float(os.environ.get("PLANT_SHIFT", "0"))
    values = [0.01 + 0.0005 * (i % 7) + shift for i in range(40)]
    session.emit(Record(claim="K3", check=session.current_check(), setting={"d": 10}, seeds=list(range(40)),
                        statistic="share", value=sum(values) / 40, bound=0.05, verdict="pass", inside=True,
                        side="at most", test="betting", pair_values=values, pair_seeds=list(range(40)), detects=0.06,
                        target=0.1, power_target="K3"))
'''


def run(tmp: Path, *args, shift=0.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLANT_SHIFT": str(shift), "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                           "test_stand_in.py", "--report-dir", str(tmp / "reports"), *args],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A folder with the stand-in check and its baseline, written by --claims-baseline-update."""
    tmp = tmp_path_factory.mktemp("checkout")
    (tmp / "test_stand_in.py").write_text(CHECK)
    made = run(tmp, "--claims-baseline-update", "--claims-baseline", str(tmp / "base"))
    assert made.returncode == 0, made.stdout[-2000:]
    return tmp


def test_update_then_compare_strict(checkout):
    base = checkout / "base"
    doc = load_run(base, "baseline")
    assert doc["format_version"] and doc["meta"]["git_revision"] and doc["records"][0]["pair_values"]
    drift = run(checkout, "--claims-baseline", str(base), "--claims-baseline-strict", shift=0.02)
    assert drift.returncode == 1, drift.stdout[-2000:]
    assert "claim changes against the baseline" in drift.stdout
    assert any(line.startswith("K3     regressed") for line in drift.stdout.splitlines()), drift.stdout[-2000:]
    compared = json.loads((checkout / "reports" / "latest" / "compare.json").read_text())
    assert compared["claims"]["K3"]["status"] == "regressed"


class _Config:
    def __init__(self, **options):
        self.options = options

    def getoption(self, name):
        return self.options.get(name)


def test_bad_baseline_stops_the_run_with_one_line(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"format_version": 1, "records": []}))
    for path, says in ((tmp_path / "old.json", "format_version 1"), (tmp_path / "none", "no results.json")):
        with pytest.raises(pytest.UsageError) as err:
            _load_baseline(_Config(**{OPTION_BASELINE: str(path)}))
        assert str(err.value).startswith(f"{OPTION_BASELINE}: ") and says in str(err.value)
        assert "\n" not in str(err.value)
    assert _load_baseline(_Config(**{OPTION_BASELINE: str(tmp_path / "none"), OPTION_BASELINE_UPDATE: True})) is None


def test_the_run_is_not_failed_without_strict(checkout):
    """Non-strict: a regressed claim is shown, the exit code stays the checks' own (0)."""
    loose = run(checkout, "--claims-baseline", str(checkout / "base"), shift=0.02)
    assert loose.returncode == 0 and "K3     regressed" in loose.stdout, loose.stdout[-2000:]
