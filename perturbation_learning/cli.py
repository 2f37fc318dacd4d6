"""Command line: ``python -m perturbation_learning run --preset NAME --seed S [--FIELD VALUE …]``.

Every Config field is a flag (``--eps 0``, ``--width 500``, ``--loss logistic``). Bad input exits
with code 2 and one line on stderr that names the problem; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields

from .experiment import PRESETS, Config, get_preset, run_experiment, to_json

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one readable line, exit code 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _field_flag(parser: argparse.ArgumentParser, f) -> None:
    kind = {int: int, float: float, str: str}.get(f.type if isinstance(f.type, type) else
                                                   {"int": int, "float": float, "str": str}[f.type])
    parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None,
                        metavar=kind.__name__.upper(),
                        help=f"{f.metadata['help']} (default: from the preset; base {f.default!r})")


def config_flags(parser: argparse.ArgumentParser) -> None:
    """Add --preset and one flag per Config field."""
    parser.add_argument("--preset", default="shifted-gauss-a",
                        help="named setting of THEORY.md §7: " + ", ".join(sorted(PRESETS)))
    group = parser.add_argument_group("config fields (override the preset)")
    for f in fields(Config):
        _field_flag(group, f)


def config_from_args(args: argparse.Namespace) -> Config:
    overrides = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    return get_preset(args.preset).replace(**overrides)


# Below this many multiply-adds per step (N·m·d), one thread is faster: the per-op work is too
# small to amortise OpenMP barriers, and on a loaded 2-core machine a second thread that waits for
# a busy core made shifted-gauss-a 24x slower (175 s against 7.4 s, measured).
SMALL_PROBLEM_MACS = 5e7


def set_threads(threads: int, config: Config) -> None:
    import torch

    if threads < 0:
        raise ValueError(f"threads == {threads}, must be >= 0 (0 = auto)")
    if threads == 0:
        threads = 1 if config.n_train * config.width * config.d <= SMALL_PROBLEM_MACS else torch.get_num_threads()
    torch.set_num_threads(threads)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m perturbation_learning",
                     description="Perturbation learning (Kumano, Kera & Yamasaki, NeurIPS 2024): train f, "
                                 "craft targeted perturbations, train g on them alone, compare.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="one run; prints one JSON object on stdout")
    config_flags(run)
    run.add_argument("--threads", type=int, default=0, metavar="INT",
                     help="torch intra-op threads (0 = auto: 1 for small problems, else torch's default)")
    run.add_argument("--no-timings", action="store_true",
                     help="print seconds_f/seconds_g as null, so equal seeds give byte-identical JSON")
    sub.add_parser("presets", help="list the presets and their settings")
    for name, register in _EXTRA_COMMANDS.items():
        register(sub.add_parser(name, help=register.__doc__))
    return parser


# Other modules (sweeps, maps) register sub-commands here: name -> function(parser) that adds
# its arguments and sets ``func``.
_EXTRA_COMMANDS: dict = {}
_EXTRA_COMMANDS.update(__import__("perturbation_learning.sweep", fromlist=["COMMANDS"]).COMMANDS)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "presets":
            for name, cfg in sorted(PRESETS.items()):
                print(f"{name}: {cfg.to_dict()}")
            return 0
        if args.command == "run":
            config = config_from_args(args)
            set_threads(args.threads, config)
            result = run_experiment(config)
            print(to_json(result, timings=not args.no_timings))
            return 0 if result["status"] == "ok" else 1
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:  # bad input, or an unreadable data file
        message = " ".join(str(exc).split("\n"))  # the promised single line, whatever the message
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
