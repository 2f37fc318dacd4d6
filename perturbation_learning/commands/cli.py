"""Command line: ``python -m perturbation_learning COMMAND …``.

``run --preset NAME --seed S [--FIELD VALUE …]`` prints one run's JSON; ``presets`` lists the
presets; ``sweep`` and ``map`` are registered from their modules (each has ``register(parser)``,
which adds its arguments and sets ``func``). This module imports the subcommands; nothing imports
it. Bad input exits with code 2 and one line on stderr that names the problem; no traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import calibrate, decision_map, reproduce, sweep
from ..config import PRESETS, config_flags, config_from_args, set_threads, threads_flag
from ..run import run_experiment, to_json

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one readable line, exit code 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _run(args) -> int:
    config = config_from_args(args)
    set_threads(args.threads, config)
    result = run_experiment(config, predict=not args.no_predict)
    print(to_json(result, timings=not args.no_timings))
    return 0 if result["status"] == "ok" else 1


def register_run(parser) -> None:
    """one run; prints one JSON object on stdout"""
    config_flags(parser)
    threads_flag(parser)
    parser.add_argument("--no-timings", action="store_true",
                        help="print seconds_f/seconds_g/seconds_predict as null, so equal seeds give "
                             "byte-identical JSON")
    parser.add_argument("--no-predict", action="store_true",
                        help="skip the prediction of the outcome from the data, f and the targets (THEORY.md "
                             "P5; it needs O(N²) memory in the training samples N); prints prediction: null")
    parser.set_defaults(func=_run)


def _presets(args) -> int:
    for name, cfg in sorted(PRESETS.items()):
        print(f"{name}: {cfg.to_dict()}")
    return 0


def register_presets(parser) -> None:
    """list the presets and their settings"""
    parser.set_defaults(func=_presets)


#: Sub-command name → function(parser) that adds its arguments and sets ``func``.
COMMANDS = {"run": register_run, "presets": register_presets, "sweep": sweep.register,
            "map": decision_map.register, "reproduce": reproduce.register, "calibrate": calibrate.register}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m perturbation_learning",
                     description="Perturbation learning (Kumano, Kera & Yamasaki, NeurIPS 2024): train f, "
                                 "craft targeted perturbations, train g on them alone, compare.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, register in COMMANDS.items():
        register(sub.add_parser(name, help=register.__doc__))
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:  # bad input, or an unreadable data file
        message = " ".join(str(exc).split("\n"))  # the promised single line, whatever the message
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
