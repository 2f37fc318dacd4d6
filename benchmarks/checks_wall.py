"""(e) End-to-end wall time of the Hypothesis check run, per profile.

For each profile, runs

    python -m pytest -n auto checks/ -p no:randomly --report-dir=<tmp> --hypothesis-profile=<profile>

in a subprocess from the repository root, and records the wall time, the exit code, pytest's final
summary line, and the number of network pairs the checks trained (the plugin's
``network pairs trained: N`` line) with pairs per minute. Profiles ``fast`` and ``ci`` by default;
``--full`` adds ``thorough`` and ``paper`` (long). Takes minutes: run it on a quiet machine.

    python benchmarks/checks_wall.py [--full] [--profiles ci] [--out benchmarks/results] [--workers auto]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import log, machine_info, markdown_table, section, write_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROFILES = ("fast", "ci")
FULL_PROFILES = ("fast", "ci", "thorough", "paper")
_PAIRS = re.compile(r"network pairs trained:\s*(\d+)")
_SUMMARY = re.compile(r"^=+ (.*(?:passed|failed|error|skipped|no tests ran).*) =+$", re.MULTILINE)


def parse_pairs(output: str) -> int | None:
    """The N of the last 'network pairs trained: N' line, or None.

    >>> parse_pairs("claims exercised\\nnetwork pairs trained: 42\\nreport: x")
    42
    """
    found = _PAIRS.findall(output)
    return int(found[-1]) if found else None


def parse_summary(output: str) -> str | None:
    """pytest's final '=== 3 passed, 1 failed in 12.3s ===' line, without the '=' padding.

    >>> parse_summary("...\\n======= 5 passed in 1.00s =======\\n")
    '5 passed in 1.00s'
    """
    found = _SUMMARY.findall(output)
    return found[-1].strip() if found else None


def pairs_per_minute(pairs: int | None, seconds: float) -> float | None:
    if pairs is None or seconds <= 0:
        return None
    return 60.0 * pairs / seconds


def checks_command(profile: str, report_dir: str, workers: str = "auto") -> list[str]:
    return [sys.executable, "-m", "pytest", "-n", workers, "checks/", "-p", "no:randomly",
            f"--report-dir={report_dir}", f"--hypothesis-profile={profile}"]


def time_profile(profile: str, workers: str = "auto", timeout: float | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"checks-wall-{profile}-") as tmp:
        cmd = checks_command(profile, tmp, workers)
        log(f"[checks_wall] {' '.join(cmd[1:])}")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
            out, rc = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            rc = "timeout"
        wall = time.perf_counter() - t0
    pairs = parse_pairs(out)
    return {"profile": profile, "workers": workers, "wall_s": wall, "exit_code": rc,
            "pytest_summary": parse_summary(out), "pairs_trained": pairs,
            "pairs_per_minute": pairs_per_minute(pairs, wall), "load_average_after": _load()}


def _load():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def markdown(payload: dict) -> str:
    m = payload["machine"]
    return section(
        "### (e) check-suite wall time per Hypothesis profile",
        f"{m['cpu_model']}, {m['cores']} cores, {m['date']}, torch {m['torch']}; load average at start "
        f"{m['load_average_1_5_15']}. Command: `pytest -n <workers> checks/ -p no:randomly "
        "--report-dir=<tmp> --hypothesis-profile=<profile>` (workers pin 1 torch thread each).",
        markdown_table(payload["rows"], ["profile", "workers", "wall_s", "exit_code", "pytest_summary",
                                         "pairs_trained", "pairs_per_minute", "load_average_after"]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="also the thorough and paper profiles")
    p.add_argument("--profiles", nargs="+", help="explicit profiles (overrides --full)")
    p.add_argument("--workers", default="auto", help="pytest-xdist -n value")
    p.add_argument("--timeout", type=float, default=None, help="seconds per profile")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = p.parse_args(argv)
    profiles = args.profiles or (FULL_PROFILES if args.full else DEFAULT_PROFILES)
    payload = {"machine": machine_info(), "rows": []}
    for profile in profiles:
        payload["rows"].append(time_profile(profile, args.workers, args.timeout))
        write_json(args.out / "checks_wall.json", payload)
        (args.out / "checks_wall.md").write_text(markdown(payload) + "\n")
    print(markdown(payload))


if __name__ == "__main__":
    main()
