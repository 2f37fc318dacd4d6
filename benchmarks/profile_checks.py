"""Profile the default check run in one process (cProfile) and write its top entries.

    python benchmarks/profile_checks.py [--out benchmarks/results] [pytest args…]

Runs ``pytest -p no:xdist checks/`` (the ci profile unless the arguments say otherwise) under cProfile
in this process, then writes ``profile_checks.md`` (the 30 functions with the most cumulative and the 30
with the most own time, with their share of the run) and ``profile_checks.pstats`` (open with
``python -m pstats``). One process, so the shares add up to the run's CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import pytest

TOP = 30


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results", help="folder for profile_checks.{md,pstats}")
    args, rest = parser.parse_known_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report_dir = tempfile.mkdtemp(prefix="profile-checks-")
    pytest_args = ["-p", "no:xdist", "-q", "checks/", "--report-dir", report_dir, *rest]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    code = profiler.runcall(pytest.main, pytest_args)
    wall = time.perf_counter() - started
    profiler.dump_stats(out / "profile_checks.pstats")
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    lines = [f"# Profile of `pytest {' '.join(pytest_args)}`", "",
             f"One process, cProfile. Wall {wall:.0f} s, profiled CPU {total:.0f} s, pytest exit code {int(code)}.",
             f"Python {sys.version.split()[0]}.", ""]
    for key, title in (("cumulative", "cumulative time"), ("tottime", "own time")):
        lines += [f"## Top {TOP} by {title}", "", "| function | calls | own s | cumulative s | cumulative share |",
                  "|---|---:|---:|---:|---:|"]
        for func, (cc, nc, tt, ct, _) in sorted(stats.stats.items(), key=lambda kv: -kv[1][3 if key == "cumulative"
                                                                                       else 2])[:TOP]:
            file, line, name = func
            where = f"{Path(file).name}:{line} {name}" if line else name
            lines.append(f"| `{where}` | {nc} | {tt:.1f} | {ct:.1f} | {ct / total:.1%} |")
        lines.append("")
    (out / "profile_checks.md").write_text("\n".join(lines))
    buf = io.StringIO()
    pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(15)
    print(buf.getvalue())
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
