"""``python -m reporting compare A B``: compare two finished check runs claim by claim.

A and B are results.json files or reports/<run>/ folders; A is the baseline. Writes compare.md,
compare.json and compare.png to ``--out`` and prints the claim-change table. Exit code 0 when nothing
regressed, 1 when a claim regressed, 2 on bad input (one line, no traceback).
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reporting", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp_ = sub.add_parser("compare", help="compare run B with baseline A, claim by claim")
    cmp_.add_argument("a", help="baseline: results.json or a reports/<run>/ folder")
    cmp_.add_argument("b", help="run: results.json or a reports/<run>/ folder")
    cmp_.add_argument("--out", default="reports/compare", help="where compare.md/json/png go (default: %(default)s)")
    cmp_.add_argument("--allow-profile-mismatch", action="store_true",
                      help="compare runs of different Hypothesis profiles (their examples differ in size)")
    args = parser.parse_args(argv)
    from .compare import compare_runs, load_run
    from .compare_report import terminal_lines, write_comparison

    try:
        a, b = load_run(args.a, "a"), load_run(args.b, "b")
        comparison = compare_runs(a, b, allow_profile_mismatch=args.allow_profile_mismatch)
        out = write_comparison(comparison, args.out)
    except (ValueError, OSError) as exc:
        print(f"python -m reporting compare: {exc}", file=sys.stderr)
        return 2
    print("\n".join(terminal_lines(comparison)))
    print(f"comparison: {out}/compare.md")
    return 1 if comparison["regressed"] else 0


if __name__ == "__main__":
    sys.exit(main())
