"""Flakiness of the check suite: run it K times with different Hypothesis seeds, tabulate failures.

Usage (from the repository root)::

    python -m tools.flake --runs K [--profile fast] [--jobs N] [--seed BASE | --seeds S1,S2,...]
                          [--target checks/] [--keep] [--work-dir DIR] [--verbose] [-- extra pytest args]

Run i executes::

    python -m pytest -n JOBS TARGET --hypothesis-profile=PROFILE --hypothesis-seed=SEED_i
                     -p no:cacheprovider --report-dir=<tmp_i> [extra]

and reads ``<tmp_i>/latest/results.json`` (written by ``reporting/writer.py``: ``records`` with keys
``claim`` and ``verdict``, ``outcomes`` per test with ``outcome`` and ``claims``, and
``meta.wall_seconds``). It prints the seeds first (so any run can be repeated), one line per run,
then a per-claim table: failure rate = runs with at least one failing record (verdict ``fail``, or
a failed test tagged with the claim) / K. Exit code 0 iff every run passed: no failing claim, pytest
exit code 0, and a results file. Run directories of failed runs are kept (with pytest's output in
``pytest.log``) and printed; passing ones are removed unless ``--keep``.

The pure parts (seed list, command, parsing, table, exit code) are plain functions, unit-tested in
``tests/test_flake.py``; ``main`` only wires them to subprocesses.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TARGET = "checks/"
DEFAULT_PROFILE = "fast"
SEED_RANGE = 2 ** 31  # Hypothesis accepts any int; keep seeds short enough to retype
RUN_ERROR = "(run error)"      # pseudo-claim: the run left no results file
UNTAGGED = "(untagged test)"   # pseudo-claim: a failed test that names no claim
EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


# ------------------------------------------------------------------------------------------------
# Pure functions
# ------------------------------------------------------------------------------------------------

def run_seeds(runs: int, base_seed: int) -> list[int]:
    """``runs`` distinct Hypothesis seeds in [0, 2^31), a function of ``base_seed`` alone."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs == {runs!r}, must be an integer >= 1")
    return random.Random(base_seed).sample(range(SEED_RANGE), runs)


def parse_seed_list(text: str) -> list[int]:
    """'3,5,8' -> [3, 5, 8]; seeds must be distinct non-negative integers."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"seeds == {text!r}, must be comma-separated integers") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds == {text!r}, must be distinct non-negative integers")
    return seeds


def pytest_command(seed: int, *, report_dir: str | Path, profile: str = DEFAULT_PROFILE, jobs: str = "auto",
                   target: str | Path = DEFAULT_TARGET, extra: list[str] | tuple = (),
                   python: str = sys.executable) -> list[str]:
    """The pytest command line of one run."""
    return [python, "-m", "pytest", "-n", str(jobs), str(target), f"--hypothesis-profile={profile}",
            f"--hypothesis-seed={seed}", "-p", "no:cacheprovider", f"--report-dir={report_dir}", *extra]


def rerun_command(seed: int, profile: str, target: str = DEFAULT_TARGET) -> str:
    return f"python -m pytest -n auto {target} --hypothesis-profile={profile} --hypothesis-seed={seed}"


@dataclass(frozen=True)
class RunSummary:
    """What one run's results.json says: claims seen, claims failing, failed tests, wall time."""

    claims: frozenset = frozenset()
    failing: frozenset = frozenset()
    failed_tests: tuple = ()
    wall_seconds: float | None = None


def summarize_results(results: dict) -> RunSummary:
    """Parse a results.json object (see the module docstring)."""
    records = results.get("records") or []
    claims = {r["claim"] for r in records}
    failing = {r["claim"] for r in records if r.get("verdict") == "fail"}
    failed_tests = []
    for nodeid, o in sorted((results.get("outcomes") or {}).items()):
        tagged = set(o.get("claims") or [])
        claims |= tagged
        if o.get("outcome") == "failed":
            failed_tests.append(nodeid)
            failing |= tagged or {UNTAGGED}
    wall = (results.get("meta") or {}).get("wall_seconds")
    return RunSummary(frozenset(claims), frozenset(failing), tuple(failed_tests),
                      None if wall is None else float(wall))


@dataclass
class RunOutcome:
    """One run: its seed, pytest's exit code, the measured wall time and the parsed results
    (``summary`` None when the run left no results file)."""

    seed: int
    returncode: int
    wall_seconds: float
    summary: RunSummary | None
    run_dir: str = ""
    notes: list = field(default_factory=list)

    @property
    def failing(self) -> frozenset:
        if self.summary is None:
            return frozenset({RUN_ERROR})
        return self.summary.failing

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and self.summary is not None and not self.summary.failing


def failure_table(outcomes: list[RunOutcome]) -> list[tuple[str, int, int, float]]:
    """(claim, failing runs, K, rate) for every claim seen or failing in any run, worst first."""
    k = len(outcomes)
    seen = set()
    for o in outcomes:
        seen |= o.failing | (o.summary.claims if o.summary else frozenset())
    rows = [(c, sum(c in o.failing for o in outcomes), k) for c in seen]
    return [(c, n, k, n / k if k else 0.0) for c, n, k in sorted(rows, key=lambda r: (-r[1], r[0]))]


def format_table(rows: list[tuple[str, int, int, float]]) -> str:
    if not rows:
        return "no claims recorded"
    width = max(len("claim"), *(len(r[0]) for r in rows))
    lines = [f"{'claim':<{width}}  failing runs  failure rate", f"{'-' * width}  ------------  ------------"]
    lines += [f"{c:<{width}}  {f'{n}/{k}':>12}  {rate:>12.2f}" for c, n, k, rate in rows]
    return "\n".join(lines)


def format_run(index: int, outcome: RunOutcome) -> str:
    s = outcome.summary
    pytest_wall = "n/a" if s is None or s.wall_seconds is None else f"{s.wall_seconds:.1f} s"
    status = "pass" if outcome.passed else "FAIL"
    detail = ", ".join(sorted(outcome.failing)) if not outcome.passed else ""
    line = (f"run {index + 1}: seed {outcome.seed:>10}  {status}  exit {outcome.returncode}  "
            f"wall {outcome.wall_seconds:.1f} s (pytest {pytest_wall})")
    return line + (f"  failing: {detail}" if detail else "")


def exit_code(outcomes: list[RunOutcome]) -> int:
    return EXIT_OK if outcomes and all(o.passed for o in outcomes) else EXIT_FAILURES


def load_results(report_dir: str | Path) -> dict | None:
    """``<report_dir>/latest/results.json`` as a dict, or None if absent or unreadable."""
    path = Path(report_dir) / "latest" / "results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.flake",
                                description="Run the check suite K times with different Hypothesis seeds and "
                                            "report each claim's failure rate. Arguments after '--' go to pytest.")
    p.add_argument("--runs", type=int, required=True, metavar="K", help="number of runs (>= 1)")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help=f"Hypothesis profile (default {DEFAULT_PROFILE})")
    p.add_argument("--jobs", default="auto", metavar="N", help="pytest-xdist workers, -n (default auto; 0 = none)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, metavar="BASE",
                       help="base seed the run seeds are drawn from (default: random, printed)")
    seeds.add_argument("--seeds", default=None, metavar="S1,S2,...", help="explicit run seeds (K of them)")
    p.add_argument("--target", default=None, help=f"test path (default {DEFAULT_TARGET} of this repository)")
    p.add_argument("--keep", action="store_true", help="keep every run directory, not only failed ones")
    p.add_argument("--work-dir", default=None, metavar="DIR",
                   help="where the run directories go (default: the system's temporary directory)")
    p.add_argument("--verbose", action="store_true", help="stream pytest's output instead of logging it")
    return p


def split_extra(argv: list[str]) -> tuple[list[str], list[str]]:
    """Arguments before and after the first '--'."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def _resolve_seeds(args, parser) -> tuple[list[int], str]:
    try:
        if args.seeds is not None:
            seeds = parse_seed_list(args.seeds)
            if len(seeds) != args.runs:
                raise ValueError(f"--seeds has {len(seeds)} seeds but --runs == {args.runs}")
            return seeds, "explicit"
        base = args.seed if args.seed is not None else random.SystemRandom().randrange(SEED_RANGE)
        return run_seeds(args.runs, base), f"base seed {base}"
    except ValueError as exc:
        parser.error(str(exc))


def main(argv: list[str] | None = None) -> int:
    own, extra = split_extra(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(own)
    if args.runs < 1:
        parser.error(f"--runs == {args.runs}, must be >= 1")
    seeds, origin = _resolve_seeds(args, parser)
    target = Path(args.target).resolve() if args.target else ROOT / DEFAULT_TARGET
    target_label = args.target or DEFAULT_TARGET
    print(f"flake: {args.runs} run(s) of {target_label}, profile {args.profile}, jobs {args.jobs}; "
          f"seeds ({origin}): {', '.join(map(str, seeds))}", flush=True)
    print(f"flake: repeat one run with: {rerun_command(seeds[0], args.profile, target_label)}", flush=True)

    outcomes = []
    for i, seed in enumerate(seeds):
        run_dir = Path(tempfile.mkdtemp(prefix=f"flake-{seed}-", dir=args.work_dir))
        cmd = pytest_command(seed, report_dir=run_dir, profile=args.profile, jobs=args.jobs, target=target,
                             extra=extra)
        start = time.perf_counter()
        if args.verbose:
            rc = subprocess.run(cmd, cwd=ROOT).returncode
        else:
            with open(run_dir / "pytest.log", "w", encoding="utf-8") as log:
                rc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT).returncode
        wall = time.perf_counter() - start
        results = load_results(run_dir)
        outcome = RunOutcome(seed, rc, wall, None if results is None else summarize_results(results), str(run_dir))
        outcomes.append(outcome)
        print(format_run(i, outcome), flush=True)
        if outcome.passed and not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"       kept {run_dir} (pytest.log, latest/)", flush=True)

    print()
    print(format_table(failure_table(outcomes)))
    total = sum(o.wall_seconds for o in outcomes)
    print(f"\nwall time: {total:.1f} s total, " + ", ".join(f"{o.wall_seconds:.1f}" for o in outcomes) + " s per run")
    code = exit_code(outcomes)
    print(f"flake: {'no failures' if code == EXIT_OK else 'FAILURES'} in {len(outcomes)} run(s)")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
