"""``python -m theory claims [IDS ...] [--latex]``: print the claim registry, each statement in plain
Unicode (``Claim.text``: ‖∇f(x_n)‖, Σ, ≤, one line per conjunct) or, with ``--latex``, as LaTeX.

Exit codes: 0 on success, 2 for bad arguments (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys

PROG = "python -m theory"


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _OneLineParser(prog=PROG, description="The theory's claims (THEORY.md).")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    c = sub.add_parser("claims", help="print every claim with ID, label, title and statement")
    c.add_argument("ids", nargs="*", metavar="ID", help="only these claim IDs (default: all)")
    c.add_argument("--latex", action="store_true", help="print statements as LaTeX (default: plain text)")
    return p


def format_claim(claim, latex: bool = False) -> str:
    """ID, label and title, then the statement indented: plain text, one line per conjunct, or LaTeX."""
    stmt = claim.latex if latex else claim.text
    return f"{claim.id} [{claim.label}] {claim.title}\n" + "\n".join("    " + line for line in stmt.split("\n"))


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .claims import CLAIMS  # after parsing: bad arguments fail fast, without importing sympy
    unknown = [i for i in args.ids if i not in CLAIMS]
    if unknown:
        print(f"{PROG}: error: unknown claim ID(s) {unknown}; known: {' '.join(CLAIMS)}", file=sys.stderr)
        return 2
    try:
        for cid in (args.ids or list(CLAIMS)):
            print(format_claim(CLAIMS[cid], latex=args.latex))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stdout = open(os.devnull, "w")
    return 0


if __name__ == "__main__":
    sys.exit(main())
