"""Every Hypothesis profile runs: a smoke run of each profile inside the normal test run.

``NAME-smoke`` (``checks/profiles.py``) is profile NAME with one generated example of every check, at
the profile's limits cut to tiny sizes (``SizeLimits.tiny``) and with no explicit examples, so a
profile whose registration, strategies, limits or check code paths break fails here, not only when
someone runs it in full. At tiny sizes a claim may be rejected (the sizes are far below those its
bounds are calibrated for): a smoke run records such a verdict and asserts none (``CheckSession.
asserts_verdicts``), so on correct code it exits 0, and it fails on anything else: an error, a
Hypothesis health-check or invalid-argument failure, a check that did not run or recorded nothing.
Whether a profile's full-size draws are valid is ``tests/test_strategies.py``'s job.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from checks.profiles import PROFILES
from checks.strategies import SMOKE_SUFFIX
from theory.claims import CLAIMS

ROOT = Path(__file__).resolve().parent.parent
#: A claim rejection as ``checks.assertions`` raises it: "AssertionError: <claim ID>: …".
CLAIM_REJECTION = re.compile(r"^AssertionError: (%s): " % "|".join(re.escape(c) for c in CLAIMS))
#: A smoke run takes about 10 s here (1 thread); the limit only stops a hung run.
SMOKE_TIMEOUT_S = 600


def smoke_run(profile: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("HYPOTHESIS_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:randomly", "checks/",
         f"--hypothesis-profile={profile}{SMOKE_SUFFIX}", "--report-dir", str(out / "reports"),
         f"--junitxml={out / 'junit.xml'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S)


def outcomes(junit: Path) -> dict[str, str | None]:
    """Per check: None if it passed, else its failure or error message."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        bad = [c for c in case if c.tag in ("failure", "error", "skipped")]
        out[name] = None if not bad else f"{bad[0].tag}: {bad[0].get('message', '')}"
    return out


def broken(results: dict[str, str | None]) -> dict[str, str]:
    """The checks whose outcome is neither a pass nor a claim rejection."""
    return {name: msg for name, msg in results.items()
            if msg is not None and not CLAIM_REJECTION.match(msg.removeprefix("failure: "))}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_profile_smoke_run_runs_every_check(profile, tmp_path):
    proc = smoke_run(profile, tmp_path)
    assert (tmp_path / "junit.xml").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    results = outcomes(tmp_path / "junit.xml")
    assert results, proc.stdout[-3000:]
    assert not broken(results), (broken(results), proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-3000:]           # verdicts recorded, not asserted
    report = json.loads((tmp_path / "reports" / "latest" / "results.json").read_text())
    assert report["meta"]["profile"] == profile + SMOKE_SUFFIX and report["meta"]["verdicts_asserted"] is False
    assert "verdicts are recorded, not asserted" in (tmp_path / "reports" / "latest" / "summary.md").read_text()
    checks_run = {name.split("::")[1].split("[")[0] for name in results}
    checks_recorded = {r["nodeid"].split("::")[1].split("[")[0] for r in report["records"] if r.get("nodeid")}
    assert checks_run <= checks_recorded, sorted(checks_run - checks_recorded)  # every check recorded

def test_smoke_verdicts_tell_claim_rejections_from_errors():
    """The acceptance rule itself: a claim rejection passes, an error or a bare AssertionError fails."""
    results = {"a": None, "b": "failure: AssertionError: P1: mean share 0.5 exceeds 0.15",
               "c": "failure: ValueError: n == 250, must be <= 249", "d": "error: fixture failed",
               "e": "failure: AssertionError: assert 1 == 2"}
    assert sorted(broken(results)) == ["c", "d", "e"]


def test_profiles_draw_from_the_run_seed_under_a_ci_variable():
    """With CI set, Hypothesis loads its own derandomized "ci" profile as the default; ours must not inherit
    it, or CI would draw other examples than the committed baseline's seed-0 run (and compare fewer records)."""
    code = ("from hypothesis import settings; from checks.profiles import PROFILES, register_profiles; "
            "assert settings.default.derandomize; register_profiles(); "
            "print([settings.get_profile(n).derandomize for n in PROFILES])")
    env = {**os.environ, "CI": "true"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str([False] * len(PROFILES))
