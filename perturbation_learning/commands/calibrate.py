"""Calibration of the run's own prediction (THEORY.md P5): predicted against observed agreement, seed by seed.

``python -m perturbation_learning calibrate --preset shifted-gauss-a-small --seeds 20``

Runs seeds ``seed, seed+1, …, seed+K−1`` of the config. Every run predicts its agreement from the
data, f, the drawn targets and ε, without g (``predict.predict_outcomes``), then trains g and
measures it. The seeds go through the Dask executor (``executor.run_tasks``; one task per chunk of
``--seeds-per-task`` seeds; ``--serial`` runs them in this process); a progress bar on stderr counts
finished tasks.

Output directory (default ``reports/calibration/<preset>-<timestamp>/``), every file written atomically:

- ``calibrate.csv``: one row per seed: observed and predicted agreement, the error, the collapse flags
  (agreement < ``theory.tolerances.COLLAPSE_AGREEMENT``), predicted and observed accuracy of g on D,
  the S/N diagnostics, L2 and the C2 coverage, the reason of a predicted collapse, the seconds;
- ``calibrate.json``: the rows, the calibration (``theory.prediction.calibration``: Pearson
  correlation, mean absolute error, collapse confusion table, worst-predicted seeds), the config;
- ``calibrate.png``: the scatter of predicted against observed agreement with the diagonal and the
  collapse lines, the worst seeds labelled, and the numbers beside it.

A seed whose training diverged, or that has no prediction, is kept in the CSV and left out of the
calibration; ``n`` says how many seeds it rests on.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

from ..config import Config, config_flags, config_from_args
from .executor import config_tasks, resolve_executor, run_tasks
from ..files import atomic_write_bytes, figure_png_bytes, json_clean
from ..predict import predicted_columns
from .sweep import _csv_text, add_batch_flags, batch_executor, task_threads

#: Columns of calibrate.csv, in order.
COLUMNS = ("seed", "status", "observed", "predicted", "abs_error", "collapse_observed", "collapse_predicted",
           "acc_g_train", "acc_g_train_predicted", "share_signal_dominates", "median_abs_signal",
           "median_abs_noise", "mean_y_adv", "l2", "c2_coverage", "reason", "seconds_g", "seconds_predict")
#: Worst-predicted seeds named in the figure and the JSON.
N_WORST = 5


def calibration_row(record: dict) -> dict:
    """One CSV row from a run's result dict (``run.RunResult.record``)."""
    from theory.tolerances import COLLAPSE_AGREEMENT

    pred, cols = record.get("prediction"), predicted_columns(record)
    obs = record["agreement"] if record["status"] == "ok" else None
    p = cols["agreement_predicted"]
    return {"seed": record["config"]["seed"], "status": record["status"], "observed": obs, "predicted": p,
            "abs_error": None if obs is None or p is None else abs(obs - p),
            "collapse_observed": None if obs is None else obs < COLLAPSE_AGREEMENT,
            "collapse_predicted": None if p is None else p < COLLAPSE_AGREEMENT,
            "acc_g_train": record["acc_g_train"],
            "acc_g_train_predicted": cols["acc_g_train_predicted"],
            **{k: None if pred is None else pred[k] for k in ("share_signal_dominates", "median_abs_signal",
                                                              "median_abs_noise", "mean_y_adv", "reason")},
            "l2": None if pred is None else pred["inside"]["l2"],
            "c2_coverage": None if pred is None else pred["inside"]["c2_coverage"],
            "seconds_g": record["seconds_g"], "seconds_predict": record.get("seconds_predict")}


def summarize_calibration(rows: list[dict]) -> dict | None:
    """``theory.prediction.calibration`` over the rows that have both numbers; worst seeds by seed
    number. None when no row has both."""
    from theory.prediction import calibration

    both = [r for r in rows if r["observed"] is not None and r["predicted"] is not None]
    if not both:
        return None
    cal = calibration([r["predicted"] for r in both], [r["observed"] for r in both],
                      n_worst=min(N_WORST, len(both))).to_dict()
    cal["worst_seeds"] = [both[i]["seed"] for i in cal.pop("worst")]
    return cal


def run_calibration(config: Config, seeds: list[int], *, preset: str | None = None, executor: str | None = "serial",
                    out_dir=None, resume: bool = False, n_workers: int | None = None, threads: int = 1,
                    seeds_per_task: int = 1, progress: bool = True) -> dict:
    """Run the seeds through ``executor.run_tasks`` and return the calibration table."""
    seeds = list(seeds)
    tasks = config_tasks([config], seeds, seeds_per_task=seeds_per_task)
    t_start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if out_dir is None:
            if resume:
                raise ValueError("resume needs out_dir, the directory of the interrupted calibration")
            out_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="calibrate-"))
        records = run_tasks(tasks, out_dir, executor=executor, resume=resume, progress=progress, threads=threads,
                            n_workers=n_workers, desc="calibrate")
    rows = [calibration_row(res) for rec in records for res in rec.result]
    return {"preset": preset, "config": config.to_dict(), "seeds": seeds, "rows": rows,
            "calibration": summarize_calibration(rows), "executor": resolve_executor(executor),
            "tasks": len(tasks), "tasks_reused": sum(rec.reused for rec in records),
            "wall_seconds": time.perf_counter() - t_start}


# ---------------------------------------------------------------- writing

def calibration_csv(table: dict) -> str:
    return _csv_text(list(COLUMNS), [[r[k] for k in COLUMNS] for r in table["rows"]])


def _verdict_text(rows: list[dict]) -> str:
    l2 = [r["l2"] for r in rows if r["l2"] is not None]
    if not l2:
        return "no prediction"
    if all(l2):
        return "inside L2 (width assumption) for every seed"
    if not any(l2):
        return "outside L2 for every seed: an observation, not a test of the theorem"
    return f"inside L2 for {sum(l2)} of {len(l2)} seeds"


def calibration_figure(table: dict):
    """Matplotlib Figure (no pyplot state): the scatter with the diagonal and the collapse lines,
    and a panel with the correlation, MAE, confusion table and the worst-predicted seeds."""
    from matplotlib.figure import Figure
    from theory.tolerances import COLLAPSE_AGREEMENT

    rows = [r for r in table["rows"] if r["observed"] is not None and r["predicted"] is not None]
    cal = table["calibration"]
    fig = Figure(figsize=(11, 5.2), dpi=90, layout="constrained")
    ax, info = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    colors = {(True, True): ("C3", "collapse predicted and observed"),
              (True, False): ("C1", "false alarm (predicted only)"),
              (False, True): ("C4", "missed (observed only)"),
              (False, False): ("C0", "neither collapsed")}
    for key, (color, label) in colors.items():
        pts = [r for r in rows if (r["collapse_predicted"], r["collapse_observed"]) == key]
        if pts:
            ax.scatter([r["predicted"] for r in pts], [r["observed"] for r in pts], s=28, color=color,
                       label=f"{label}: {len(pts)}", edgecolor="k", linewidth=0.4, zorder=3)
    lo = min([0.4] + [min(r["predicted"], r["observed"]) - 0.03 for r in rows])
    ax.plot([lo, 1.01], [lo, 1.01], color="grey", lw=1, label="diagonal: predicted = observed")
    for line in (ax.axvline, ax.axhline):
        line(COLLAPSE_AGREEMENT, color="k", ls=":", lw=0.9)
    worst = set(cal["worst_seeds"]) if cal else set()
    for r in rows:
        if r["seed"] in worst:
            ax.annotate(f"seed {r['seed']}", (r["predicted"], r["observed"]), textcoords="offset points",
                        xytext=(5, -10), fontsize=8)
    ax.set_xlim(lo, 1.01)
    ax.set_ylim(lo, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted agreement (sgn ĝ = sgn f, before g is trained)")
    ax.set_ylabel("observed agreement (sgn g = sgn f)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)

    info.axis("off")
    lines = [f"{len(rows)} of {len(table['rows'])} seeds with both numbers", _verdict_text(table["rows"]), ""]
    if cal:
        corr = "undefined (one side constant)" if cal["correlation"] is None else f"{cal['correlation']:.3f}"
        lines += [f"correlation: {corr}", f"mean absolute error: {cal['mae']:.3f}",
                  f"largest error: {cal['max_abs_error']:.3f}", "",
                  f"collapse = agreement < {COLLAPSE_AGREEMENT}"]
    info.text(0.0, 1.0, "\n".join(lines), va="top", fontsize=9.5, family="monospace", transform=info.transAxes)
    if cal:
        c = cal["confusion"]
        # rows: predicted yes / no; columns: observed yes / no
        tab = info.table(cellText=[[c["both"], c["false_alarm"]], [c["missed"], c["neither"]]],
                         rowLabels=["predicted collapse", "predicted none"],
                         colLabels=["observed collapse", "observed none"],
                         cellLoc="center", bbox=[0.36, 0.42, 0.62, 0.18])
        tab.auto_set_font_size(False)
        tab.set_fontsize(8.5)
        by_seed = {r["seed"]: r for r in rows}
        worst_lines = ["worst-predicted seeds (predicted → observed):"]
        for s in cal["worst_seeds"]:
            r = by_seed[s]
            worst_lines.append(f"seed {s}: {r['predicted']:.3f} → {r['observed']:.3f}")
            if r["reason"]:
                worst_lines.append(f"  ({r['reason']})")
        info.text(0.0, 0.36, "\n".join(worst_lines), va="top", fontsize=8, family="monospace",
                  transform=info.transAxes)
    name = table.get("preset") or "config"
    fig.suptitle(f"{name}: predicted vs observed agreement over {len(table['rows'])} seeds (THEORY.md P5)",
                 fontsize=11)
    return fig


def write_calibration(table: dict, out_dir) -> dict:
    """Write calibrate.csv, calibrate.json and calibrate.png into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "calibrate.csv", "json": out / "calibrate.json", "png": out / "calibrate.png"}
    atomic_write_bytes(paths["csv"], calibration_csv(table).encode())
    atomic_write_bytes(paths["json"], (json.dumps(json_clean(table), indent=1, sort_keys=True) + "\n").encode())
    atomic_write_bytes(paths["png"], figure_png_bytes(calibration_figure(table)))
    return {k: str(v) for k, v in paths.items()}


def default_out_dir(preset: str) -> Path:
    return Path("reports") / "calibration" / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"


# ---------------------------------------------------------------- command line

def _main(args) -> int:
    executor = batch_executor(args, "calibration")
    config = config_from_args(args)
    seeds = list(range(config.seed, config.seed + args.seeds))
    out = Path(args.out) if args.out else default_out_dir(args.preset)
    table = run_calibration(config, seeds, preset=args.preset, executor=executor, out_dir=out, resume=args.resume,
                            n_workers=args.workers, threads=task_threads(args, [config]),
                            seeds_per_task=args.seeds_per_task, progress=not args.no_progress)
    table["command"] = f"python -m perturbation_learning calibrate --preset {args.preset} --seeds {args.seeds}"
    paths = write_calibration(table, out)
    cal = table["calibration"] or {}
    print(json.dumps({"out": str(out), "wall_seconds": round(table["wall_seconds"], 2),
                      "correlation": cal.get("correlation"), "mae": cal.get("mae"),
                      "confusion": cal.get("confusion"), **paths}))
    return 0


def register(parser) -> None:
    """predicted vs observed agreement over K seeds (THEORY.md P5); writes CSV, JSON, PNG"""
    config_flags(parser)
    add_batch_flags(parser, seeds=20, seeds_help="seeds --seed, --seed+1, …, --seed+N−1 (default 20)",
                    out_help="output directory (default reports/calibration/<preset>-<timestamp>/)")
    parser.set_defaults(func=_main)
