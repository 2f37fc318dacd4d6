"""Command line: ``python -m perturbation_learning COMMAND …``.

``run --preset NAME --seed S [--FIELD VALUE …]`` prints one run's JSON on stdout and a short reading
for a person on stderr (``--quiet`` drops it); ``presets`` prints a table of the presets (``--json``
for machines); ``sweep`` and ``map`` are registered from their modules (each has ``register(parser)``,
which adds its arguments and sets ``func``). No arguments print the usage and the commands and exit 2.
This module imports the subcommands; nothing imports it. Bad input exits with code 2 and one line on
stderr that names the problem and its flag (``--data-dir``, not ``data_dir``); no traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from dataclasses import fields

from . import calibrate, decision_map, reproduce, sweep
from ..config import (PRESET_NOTES, PRESETS, Config, config_flags, config_from_args, needs_data_dir, set_threads,
                      threads_flag)
from ..run import run_experiment, to_json

EXIT_USAGE = 2
PROG = "python -m perturbation_learning"
#: The run the reading suggests when a setting lies outside L2, and the check suite.
LAZY_PRESET = "lazy-shifted-gauss-a-small"
CHECKS_COMMAND = "python -m pytest -n auto checks/"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one readable line, exit code 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# ---------------------------------------------------------------- run

def _command(args, **changes) -> str:
    """The ``run`` command line of ``args`` (preset, seed and the flags given), with ``changes``."""
    given = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    given.update(changes)
    flags = "".join(f" --{k.replace('_', '-')} " + (f"{v:g}" if isinstance(v, float) else shlex.quote(str(v)))
                    for k, v in given.items() if k != "seed")
    return f"{PROG} run --preset {args.preset}{flags} --seed {given.get('seed', 0)}"


def _loss_lines(cfg: dict, rec: dict) -> list[str]:
    lf, lg = rec["final_loss_f"], rec["final_loss_g"]
    if cfg["loss"] == "identity":
        margin = "large margins, not an error" if lf < 0 else "f does not separate D on average"
        return [f"  final loss f {lf:.4g}, g {lg:.4g}: the identity loss is the mean of ℓ(−y·f) = −y_n f(x_n) over",
                f"    the training set, i.e. minus the mean margin ({-lf:.4g} for f): {margin}"]
    return [f"  final loss f {lf:.3g}, g {lg:.3g}: the logistic loss is the mean of log(1 + exp(−y_n f(x_n))) over",
            "    the training set: log 2 ≈ 0.693 at f = 0, near 0 when every margin is large"]


def _times(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.3g}"


def _l2_lines(pred: dict | None) -> list[str]:
    if pred is None:
        return ["  width assumption L2: not evaluated (--no-predict skips the prediction, which measures κ)"]
    ins = pred["inside"]
    k_max, k_f, k_g = ins["kappa_max"], ins["kappa_f_max"], ins["kappa_g_max"]
    verdict = ("inside, so the theorems apply (P5 bounds |observed − predicted|)" if ins["l2"]
               else "outside, so the theorems guarantee nothing")
    c2 = "" if ins["c2_coverage"] is None else f"; C2 holds on {ins['c2_coverage']:.1%} of the fresh inputs"
    return [f"  width assumption L2 (κ ≤ κ_max = {k_max:.3g} at every input): {verdict}",
            f"    max κ: f {k_f:.3g} ({_times(k_f / k_max)}×κ_max), g {k_g:.3g} ({_times(k_g / k_max)}×κ_max); "
            f"within: {ins['share_l2_f']:.1%} of f's inputs, {ins['share_l2_g']:.1%} of g's{c2}"]


def _next_lines(args, cfg: dict, pred: dict | None) -> list[str]:
    lines = []
    if pred is not None and not pred["inside"]["l2"] and not args.preset.startswith("lazy"):
        lines.append(f"  next: {PROG} run --preset {LAZY_PRESET} --seed {cfg['seed']}  (wide, lazy: nearer L2)")
    if cfg["eps"] > 0:
        lines.append(f"  control: {_command(args, eps=0.0)}  (no signal: agreement ≈ 0.5)")
    else:
        lines.append("  compare: the same run with ε > 0 (without --eps 0): the control should sit at chance")
    lines.append(f"  every claim over drawn settings: {CHECKS_COMMAND}")
    return lines


def reading(rec: dict, args) -> list[str]:
    """A person's reading of one run's result dict ``rec``: at most 12 lines, for stderr.

    Accuracies of f and g, the agreement beside the one predicted before g was trained (P5), the
    width assumption L2 (κ against κ_max), what the final loss means, and the commands to try next.
    """
    cfg = rec["config"]
    n = cfg["n_train"] or "all"
    changed = any(getattr(args, f.name) is not None for f in fields(Config) if f.name not in ("seed", "data"))
    name = cfg["data"] or args.preset + (" + flags" if changed else "")
    head = (f"{name} seed {cfg['seed']}: d {cfg['d']}, N {n}, m {cfg['width']}, scenario {cfg['scenario']}, "
            f"ε {rec['eps_effective']:.3g}, {cfg['loss']} loss (--quiet hides this)")
    if rec["status"] != "ok":
        return [head, f"  {rec['status']}: every metric is null",
                f"  next: a smaller step, {_command(args, lr=cfg['lr'] / 10)}"]
    pred = rec["prediction"]
    agreement = f"  agreement of g with f on fresh inputs: {rec['agreement']:.3f}; "
    if pred is None:
        agreement += "not predicted (--no-predict)"
    else:
        agreement += f"predicted before g was trained (P5): {pred['agreement']:.3f}"
        if pred["collapse"]:
            agreement += f", a collapse: {pred['reason']}"
    return [head,
            f"  f: accuracy {rec['acc_f_train']:.3f} on its training set D, {rec['acc_f_test']:.3f} on fresh inputs",
            f"  g: accuracy {rec['acc_g_train']:.3f} on D, {rec['acc_g_test']:.3f} on fresh inputs (g saw only the "
            "perturbed inputs x_adv with targets y_adv)",
            agreement, *_l2_lines(pred), *_loss_lines(cfg, rec), *_next_lines(args, cfg, pred)]


def _run(args) -> int:
    config = config_from_args(args)
    set_threads(args.threads, config)
    result = run_experiment(config, predict=not args.no_predict)
    print(to_json(result, timings=not args.no_timings))
    sys.stdout.flush()  # the JSON first, then the reading, when both go to one terminal
    if not args.quiet:
        print("\n".join(reading(result, args)), file=sys.stderr)
    return 0 if result["status"] == "ok" else 1


def register_run(parser) -> None:
    """one run; prints one JSON object on stdout and a short reading on stderr"""
    config_flags(parser)
    threads_flag(parser)
    parser.add_argument("--no-timings", action="store_true",
                        help="print seconds_f/seconds_g/seconds_predict as null, so equal seeds give "
                             "byte-identical JSON")
    parser.add_argument("--no-predict", action="store_true",
                        help="skip the prediction of the outcome from the data, f and the targets (THEORY.md "
                             "P5; it needs O(N²) memory in the training samples N); prints prediction: null")
    parser.add_argument("--quiet", action="store_true", help="no reading on stderr (the JSON on stdout is the same)")
    parser.set_defaults(func=_run)


# ---------------------------------------------------------------- presets

def preset_rows() -> list[dict]:
    """One row per preset: name, the sizes of its Config, whether it needs --data-dir, its description."""
    return [{"preset": name, "d": cfg.d, "N": cfg.n_train or "all", "m": cfg.width,
             "eps": f"{cfg.effective_eps(cfg.d):.3g}", "scenario": cfg.scenario,
             "data_dir": "needed" if needs_data_dir(cfg) else "-", "description": PRESET_NOTES.get(name, "")}
            for name, cfg in sorted(PRESETS.items())]


def _presets(args) -> int:
    if args.json:
        print(json.dumps({name: {"description": PRESET_NOTES.get(name, ""), "needs_data_dir": needs_data_dir(cfg),
                                 "config": cfg.to_dict()} for name, cfg in sorted(PRESETS.items())}, sort_keys=True))
        return 0
    rows = preset_rows()
    titles = {"preset": "preset", "d": "d", "N": "N", "m": "m", "eps": "ε", "scenario": "sc.",
              "data_dir": "--data-dir", "description": "description"}
    widths = {k: max(len(str(v)) for v in [titles[k], *(r[k] for r in rows)]) for k in titles}
    for row in [titles, *rows]:
        print("  ".join(str(row[k]).ljust(widths[k]) for k in titles).rstrip())
    print(f"\nrun one: {PROG} run --preset NAME --seed 0 (every field is a flag: run --help; presets --json for all)")
    return 0


def register_presets(parser) -> None:
    """a table of the presets: sizes, whether --data-dir is needed, one line each"""
    parser.add_argument("--json", action="store_true", help="one JSON object: every preset's fields and description")
    parser.set_defaults(func=_presets)


# ---------------------------------------------------------------- the parser and errors

#: Sub-command name → function(parser) that adds its arguments and sets ``func``.
COMMANDS = {"run": register_run, "presets": register_presets, "sweep": sweep.register,
            "map": decision_map.register, "reproduce": reproduce.register, "calibrate": calibrate.register}


def _flags_of(parser: argparse.ArgumentParser) -> dict:
    """dest → its long flag, for every optional argument of ``parser`` (config fields included)."""
    return {a.dest: max(a.option_strings, key=len) for a in parser._actions
            if a.option_strings and a.dest != argparse.SUPPRESS and a.dest != "help"}


def flagged(message: str, flags: dict) -> str:
    """``message`` with each parameter it is about (``data_dir == …``, ``pass data_dir=…``) named by
    its flag (``--data-dir``). Only the subject of a clause is renamed, so words like "data" or "d"
    inside a sentence stay as they are."""
    if not flags:
        return message
    names = "|".join(re.escape(n) for n in sorted(flags, key=len, reverse=True))
    pattern = re.compile(rf"(^|[;:(]\s*|\b(?:pass|needs)\s+)({names})(?=\s*(?:[=<>!]=?|\bis\b|\bmust\b))")
    return pattern.sub(lambda m: m.group(1) + flags[m.group(2)], message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Perturbation learning (Kumano, Kera & Yamasaki, NeurIPS 2024): train f, "
                                 "craft targeted perturbations,\ntrain g on them alone, compare.",
                     epilog=f"start with: {PROG} run --preset shifted-gauss-a-small --seed 0\n"
                            f"{PROG} COMMAND --help lists the flags of a command")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands",
                                parser_class=_Parser)
    for name, register in COMMANDS.items():
        command = sub.add_parser(name, help=register.__doc__)
        register(command)
        command.set_defaults(flag_of=_flags_of(command))
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv:  # nothing asked: say what can be asked, as a usage error
        sys.stderr.write(parser.format_help())
        return EXIT_USAGE
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:  # bad input, or an unreadable data file
        message = " ".join(str(exc).split("\n"))  # the promised single line, whatever the message
        print(f"error: {flagged(message, getattr(args, 'flag_of', {}))}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
