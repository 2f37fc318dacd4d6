"""Redraw the paper's accuracy and agreement panels, with 95% intervals over seeds (THEORY.md §7).

``python -m perturbation_learning reproduce FIGURE [--scale cpu|paper]``

- ``fig3``: shifted-Gauss, Scenario (a): accuracy of f and of g on D against d;
- ``figA4``: the same runs, the agreement of f and g on fresh samples against d;
- ``figA5``: shifted-Gauss, Scenario (b): accuracy and agreement against d;
- ``sweep-N``, ``sweep-m``, ``sweep-gamma``: shifted-Gauss (a) against N, m and γ (the appendix's
  sweeps of THEORY.md §7).

``--scale paper`` uses the paper's sizes (THEORY.md §7; the seed count is this project's choice, the
paper's is not recorded there). ``--scale cpu`` keeps the paper's recipe and cuts sizes and seeds so
that each figure finishes in ≤ 15 minutes on 2 cores; what it cuts is written in the figure's caption
and in ``FIGURES``. Every point is a sweep task run by ``perturbation_learning.commands.executor`` (embedded
local cluster by default; ``--serial``, ``--scheduler``, ``--resume`` as for ``sweep``).

Writes ``OUT/<figure>.csv`` (one row per point: mean, std, 95% t-interval of every metric),
``OUT/runs.csv`` (one row per seed), ``OUT/<figure>.json`` (both, the spec, the scale and the wall
time) and ``OUT/<figure>.png``; OUT defaults to ``reports/reproduce/<figure>-<scale>/``. Where the
runs carry the theory's predicted agreement (the ``prediction`` of each run, THEORY.md P5), the
agreement panel overlays it, dashed; otherwise the caption says that no prediction was available.
"""

from __future__ import annotations

import json
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DEVICES, get_preset, threads_flag
from .executor import add_executor_flags, executor_from_args
from ..files import atomic_write_bytes, atomic_write_text, figure_png_bytes, json_clean
from .sweep import (CONFIDENCE, format_sweep_axis, plot_metric, run_sweep, runs_csv, summary_csv, task_threads)
from ..validation import check_choice, check_scalar, resolve_device

SCALES = ("cpu", "paper")
#: The sweep metric holding each run's predicted agreement, when the runs carry a prediction.
PREDICTED_AGREEMENT = "agreement_predicted"


@dataclass(frozen=True)
class Scale:
    """The grid, the seed count and the changes to the preset at one scale."""

    values: tuple
    seeds: int
    overrides: dict = field(default_factory=dict)
    note: str = ""
    #: other fields set in proportion to the varied one: {"n_train": 2} sets N = 2·value
    tied: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FigureSpec:
    title: str
    preset: str
    field: str
    label: str
    panels: tuple  # "accuracy" and/or "agreement"
    cpu: Scale
    paper: Scale

    def scale(self, name: str) -> Scale:
        return self.cpu if name == "cpu" else self.paper


_D_GRID = tuple(range(10, 101, 10))
_PAPER_SEEDS = 20
FIGURES: dict[str, FigureSpec] = {
    "fig3": FigureSpec(
        "Figure 3: shifted-Gauss (a), accuracy of f and g", "shifted-gauss-a", "d", "input dimension d",
        ("accuracy",),
        cpu=Scale(_D_GRID, 10, note="paper sizes (N = 1000, m = 100, 1000 + 1000 steps), 10 seeds"),
        paper=Scale(_D_GRID, _PAPER_SEEDS, note=f"paper sizes, {_PAPER_SEEDS} seeds")),
    "figA4": FigureSpec(
        "Figure A4: shifted-Gauss (a), agreement of f and g", "shifted-gauss-a", "d", "input dimension d",
        ("agreement",),
        cpu=Scale(_D_GRID, 10, note="paper sizes (N = 1000, m = 100, 1000 + 1000 steps), 10 seeds"),
        paper=Scale(_D_GRID, _PAPER_SEEDS, note=f"paper sizes, {_PAPER_SEEDS} seeds")),
    "figA5": FigureSpec(
        "Figure A5: shifted-Gauss (b)", "shifted-gauss-b", "d", "input dimension d", ("accuracy", "agreement"),
        # N = 2d keeps the paper's ratio (d = 5000, N = 10000): at N = 1000 fixed the agreement stayed
        # at about 0.65 for every d from 100 to 2000 (2 seeds each), the label term growing with d/N.
        cpu=Scale((100, 250, 500, 1000, 1500), 6, tied={"n_train": 2},
                  note="cut: d ≤ 1500 (paper 5000) with N = 2d as in the paper, 6 seeds; m = 100, 1000 + 1000 steps"),
        paper=Scale((500, 1000, 2000, 5000), 10, tied={"n_train": 2},
                    note="paper sizes up to d = 5000, N = 2d = 10000, m = 100; 10 seeds")),
    "sweep-N": FigureSpec(
        "Sweep of N: shifted-Gauss (a)", "shifted-gauss-a", "n_train", "training samples N",
        ("accuracy", "agreement"),
        cpu=Scale((10, 30, 100, 300, 1000, 3000), 8, note="cut: N ≤ 3000 (paper 10000), 8 seeds; d = 100, m = 100"),
        paper=Scale((2, 10, 100, 1000, 10000), _PAPER_SEEDS, note=f"paper sizes, {_PAPER_SEEDS} seeds")),
    "sweep-m": FigureSpec(
        "Sweep of m: shifted-Gauss (a)", "shifted-gauss-a", "width", "hidden width m", ("accuracy", "agreement"),
        cpu=Scale((1, 3, 10, 30, 100, 300, 1000), 6, note="paper grid, 6 seeds; d = 100, N = 1000"),
        paper=Scale((1, 3, 10, 30, 100, 300, 1000), _PAPER_SEEDS, note=f"paper sizes, {_PAPER_SEEDS} seeds")),
    "sweep-gamma": FigureSpec(
        "Sweep of γ: shifted-Gauss (a)", "shifted-gauss-a", "gamma", "leaky-ReLU slope γ", ("accuracy", "agreement"),
        cpu=Scale((0.0, 0.25, 0.5, 0.75, 0.9, 0.99), 8, note="paper sizes, 8 seeds"),
        paper=Scale((0.0, 0.25, 0.5, 0.75, 0.9, 0.99), _PAPER_SEEDS, note=f"paper sizes, {_PAPER_SEEDS} seeds")),
}


def base_config(figure: str, scale: str, device: str = "cpu", overrides: dict | None = None):
    """The figure's preset with the scale's changes, the device, and ``overrides`` (tests, quick looks)."""
    spec = figure_spec(figure)
    check_choice(scale, "scale", SCALES)
    return get_preset(spec.preset).replace(**{**spec.scale(scale).overrides, "device": device, **(overrides or {})})


def figure_configs(figure: str, scale: str, base) -> list:
    """One Config per grid value: ``base`` with the varied field and the fields tied to it."""
    spec = figure_spec(figure)
    sc = spec.scale(scale)
    return [base.replace(**{spec.field: v, **{k: int(round(f * v)) for k, f in sc.tied.items()}}) for v in sc.values]


def figure_spec(figure: str) -> FigureSpec:
    check_choice(figure, "figure", tuple(FIGURES))
    return FIGURES[figure]


def reproduce(figure: str, scale: str = "cpu", *, seeds: int | None = None, device: str = "cpu", out_dir=None,
              executor: str | None = None, resume: bool = False, n_workers: int | None = None, threads: int = 1,
              seeds_per_task: int = 1, progress: bool = True, overrides: dict | None = None) -> dict:
    """Run ``figure`` at ``scale`` and return its table (the sweep table plus the figure's spec).
    ``overrides`` changes Config fields beyond the scale's; the caption then lists them."""
    spec = figure_spec(figure)
    base = base_config(figure, scale, device, overrides)
    sc = spec.scale(scale)
    n = sc.seeds if seeds is None else check_scalar(seeds, "seeds", int, min_val=1)
    out = Path(out_dir) if out_dir is not None else default_out_dir(figure, scale)
    table = run_sweep(base, spec.field, list(sc.values), list(range(base.seed, base.seed + n)), progress=progress,
                      preset=spec.preset, executor=executor, out_dir=out, resume=resume, n_workers=n_workers,
                      threads=threads, seeds_per_task=seeds_per_task, configs=figure_configs(figure, scale, base))
    note = sc.note if seeds is None else f"{sc.note}; seeds set to {n}"
    if overrides:
        note += "; changed: " + ", ".join(f"{k} = {v}" for k, v in sorted(overrides.items()))
    table.update(figure=figure, title=spec.title, scale=scale, scale_note=note, panels=list(spec.panels),
                 device=device)
    return table


def has_prediction(table: dict) -> bool:
    return any(p["stats"].get(PREDICTED_AGREEMENT, {}).get("mean") is not None for p in table["points"])


def caption(table: dict) -> str:
    if "agreement" not in table["panels"]:
        overlay = "accuracy only (the agreement of the same runs: figA4)"
    elif has_prediction(table):
        overlay = "dashed: the theory's predicted agreement (ĝ = S + N before g is trained, THEORY.md P5)"
    else:
        overlay = "no theory overlay: these runs carry no predicted agreement"
    cfg = table["base_config"]
    fixed = {"eps": f"ε = {cfg['eps']}·√d" if cfg["eps_mode"] == "sqrt-d" else f"ε = {cfg['eps']}",
             "lr": f"lr {cfg['lr']}", "momentum": f"momentum {cfg['momentum']}", "loss": f"{cfg['loss']} loss",
             "gamma": f"γ = {cfg['gamma']}", "targets": f"{cfg['targets']} targets"}
    recipe = ", ".join(text for name, text in fixed.items() if name != table["field"])
    return (f"scale {table['scale']}: {table['scale_note']}. Error bars: {int(CONFIDENCE * 100)}% t-interval over "
            f"seeds (clipped to [0, 1]); dots: seeds. {recipe}. {overlay}.")


def figure(table: dict):
    """Matplotlib Figure (no pyplot state) of the table's panels."""
    from matplotlib.figure import Figure

    spec, points = FIGURES[table["figure"]], table["points"]
    panels = table["panels"]
    fig = Figure(figsize=(5.5 * len(panels) + 1, 4.6), dpi=90, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        lowest = [0.4]
        if panel == "accuracy":
            series = (("acc_f_train", "f on D", "C0", "o"), ("acc_g_train", "g on D", "C1", "s"),
                      ("acc_g_test", "g on fresh samples", "C2", "^"))
            ax.set_ylabel("accuracy")
        else:
            series = (("agreement", "agreement of f and g (fresh samples)", "C3", "D"),)
            ax.set_ylabel("agreement")
        for i, (metric, label, color, marker) in enumerate(series):
            lowest.append(plot_metric(ax, points, metric, label, color, marker, shift=0.05 * (i - (len(series) - 1) / 2)))
        if panel == "agreement" and has_prediction(table):
            lowest.append(plot_metric(ax, points, PREDICTED_AGREEMENT, "predicted agreement (theory)", "k", "x",
                                      shift=0.05, ls="--"))
        ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
        ax.set_ylim(max(0.0, min(lowest) - 0.05), 1.02)
        ax.legend(loc="best", fontsize=8)
        format_sweep_axis(ax, points, spec.field)
        ax.set_xlabel(spec.label)
    fig.suptitle(f"{spec.title} (scale {table['scale']})", fontsize=11)
    # supxlabel: the constrained layout keeps room for it below the axes
    fig.supxlabel("\n".join(textwrap.wrap(caption(table), 75 * len(panels) + 20)), fontsize=7.5, ha="center")
    return fig


def write_figure(table: dict, out_dir) -> dict:
    """Write <figure>.csv, runs.csv, <figure>.json and <figure>.png into ``out_dir``."""
    out, name = Path(out_dir), table["figure"]
    paths = {"csv": out / f"{name}.csv", "runs_csv": out / "runs.csv", "json": out / f"{name}.json",
             "png": out / f"{name}.png"}
    atomic_write_text(paths["csv"], summary_csv(table))
    atomic_write_text(paths["runs_csv"], runs_csv(table))
    atomic_write_text(paths["json"], json.dumps(json_clean(table), indent=1, sort_keys=True) + "\n")
    atomic_write_bytes(paths["png"], figure_png_bytes(figure(table), dpi=110))
    return {k: str(v) for k, v in paths.items()}


def default_out_dir(figure: str, scale: str) -> Path:
    return Path("reports") / "reproduce" / f"{figure}-{scale}"


# ---------------------------------------------------------------- command line

def _main(args) -> int:
    check_choice(args.device, "--device", DEVICES)
    resolve_device(args.device)  # "cuda" without a GPU fails here, before any cluster starts
    if args.seeds is not None:
        check_scalar(args.seeds, "--seeds", int, min_val=1)
    check_scalar(args.seeds_per_task, "--seeds-per-task", int, min_val=1)
    executor = executor_from_args(args)
    configs = figure_configs(args.figure, args.scale, base_config(args.figure, args.scale, args.device))
    out = Path(args.out) if args.out else default_out_dir(args.figure, args.scale)
    t0 = time.perf_counter()
    table = reproduce(args.figure, args.scale, seeds=args.seeds, device=args.device, out_dir=out, executor=executor,
                      resume=args.resume, n_workers=args.workers, threads=task_threads(args, configs),
                      seeds_per_task=args.seeds_per_task, progress=not args.no_progress)
    table["command"] = f"python -m perturbation_learning reproduce {args.figure} --scale {args.scale}"
    paths = write_figure(table, out)
    print(json.dumps({"out": str(out), "wall_seconds": round(time.perf_counter() - t0, 2),
                      "prediction_overlay": has_prediction(table), **paths}))
    return 0


def register(parser) -> None:
    """redraw a figure of the paper (fig3, figA4, figA5, sweep-N, sweep-m, sweep-gamma) with 95%% intervals; CSV, JSON, PNG"""
    parser.add_argument("figure", choices=tuple(FIGURES), metavar="FIGURE",
                        help="one of " + ", ".join(FIGURES))
    parser.add_argument("--scale", choices=SCALES, default="cpu",
                        help="cpu: cut sizes and seeds, ≤ 15 min on 2 cores (stated in the caption); "
                             "paper: the paper's sizes (default cpu)")
    parser.add_argument("--seeds", type=int, default=None, metavar="N", help="seeds per point (default: the scale's)")
    parser.add_argument("--device", default="cpu", metavar="DEVICE",
                        help="cpu, cuda or auto: where training, attacks and the theory's kernels run (float32)")
    parser.add_argument("--seeds-per-task", type=int, default=1, metavar="K", help="seeds batched into one task")
    parser.add_argument("--out", default=None, metavar="DIR", help="output directory (default reports/reproduce/FIGURE-SCALE/)")
    threads_flag(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_executor_flags(parser)
    parser.set_defaults(func=_main)
