"""Sweep one Config field over a grid of values, several seeds per value (THEORY.md §7, P3).

``python -m perturbation_learning sweep --preset shifted-gauss-a --vary d=10,20,30 --seeds 3``

Every Config field can be varied; values are parsed with the field's type (``d=10,20`` → int,
``gamma=0,0.5`` → float, ``loss=identity,logistic`` → str; a str field whose values contain commas,
such as ``pair``, takes ``;`` as separator: ``pair=0,1;3,5``). Seeds are ``seed, seed+1, …, seed+n−1``
with ``--seed`` the first.

Execution (``perturbation_learning.commands.executor``, Dask distributed). Every grid point × chunk of
``--seeds-per-task`` seeds (default 1) is one task, a batched ``run_batch`` call. By default the tasks
run on an embedded local cluster (one worker process per core, one torch thread each) that starts
and stops with the command; ``--scheduler tcp://HOST:8786`` (or ``$DASK_SCHEDULER_ADDRESS``) uses an
existing cluster, ``--serial`` runs them in this process. The numbers are identical seed for seed
whichever executor ran them. Each finished task is written to ``OUT/tasks/``; ``--resume --out OUT``
continues an interrupted sweep without recomputing those.

ε and d. With the preset's ``eps_mode = "sqrt-d"`` (the paper's synthetic presets) the perturbation
norm is ε·√d, so a d-sweep keeps ε/√d fixed, as the paper's d-sweep does; ``--eps-mode absolute``
keeps the norm itself fixed instead. ``--vary eps=…`` varies the Config's ε, which is multiplied by √d
under ``sqrt-d``; every row records the norm actually used (``eps_effective``).

Output directory (default ``reports/sweeps/<preset>-<field>-<timestamp>/``, relative to the working
directory), every file written atomically (temporary file in the same directory, then ``os.replace``):

- ``sweep.csv``: one row per grid point: mean, std (ddof 1), 95% Student-t interval over the valid
  seeds of acc_f_train, acc_f_test, acc_g_train, acc_g_test, agreement, cos_signed;
- ``runs.csv``: one row per (grid point, seed), the raw numbers;
- ``sweep.json``: both tables plus the base config, the seeds, the executor and the wall time
  (a point's ``seconds`` is the compute time of its tasks, summed);
- ``sweep.png``: accuracies of f and g and the agreement (left) and the signed cosine (right) against
  the varied field, with 95% intervals over seeds as error bars.

A diverged run (status ``invalid: …``) is kept in runs.csv and left out of the statistics; ``n_valid``
says how many seeds a point's statistics rest on.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path

import numpy as np

from ..config import Config, config_flags, config_from_args, field_type, set_threads, threads_flag
from .executor import add_executor_flags, config_tasks, executor_from_args, resolve_executor, run_tasks
from ..files import atomic_write_bytes, figure_png_bytes, json_clean
from ..predict import predicted_columns
from ..validation import check_scalar

#: Metrics summarised per grid point (mean, std, 95% CI over seeds); each ``*_predicted`` column is
#: the run's prediction of the observed one before it, made without g (THEORY.md P5).
METRICS = ("acc_f_train", "acc_f_test", "acc_g_train", "acc_g_train_predicted", "acc_g_test", "agreement",
           "agreement_predicted", "cos_signed")
#: Per-seed columns of runs.csv, after the varied value and the seed.
RUN_COLUMNS = ("status", "eps_effective") + METRICS + ("cos_abs", "t_f", "t_g", "flip_fraction_f",
                                                      "flip_fraction_g", "seconds_f", "seconds_g")
CONFIDENCE = 0.95


# ---------------------------------------------------------------- parsing

def _parse_value(text: str, kind: type, name: str):
    text = text.strip()
    if kind is str:
        return text
    try:
        if kind is int:
            try:
                return int(text)
            except ValueError:
                value = float(text)  # "1e3" is an int, "1.5" is not
                if not value.is_integer():
                    raise
                return int(value)
        return float(text)
    except ValueError:
        raise ValueError(f"--vary {name}: value {text!r} is not a{'n' if kind is int else ''} "
                         f"{kind.__name__}") from None


def parse_vary(spec: str) -> tuple[str, list]:
    """``"d=10,20,30"`` → ``("d", [10, 20, 30])``, each value parsed with the field's type.

    Hyphens in the field name are accepted (``epochs-f=…``). A str field whose values contain commas
    uses ``;`` between values. ``seed`` cannot be varied: ``--seeds`` sets the seeds of every point.
    """
    if not isinstance(spec, str) or "=" not in spec:
        raise ValueError(f"--vary {spec!r}: must be FIELD=V1,V2,… (e.g. d=10,20,30)")
    name, _, rest = spec.partition("=")
    name = name.strip().replace("-", "_")
    if name == "seed":
        raise ValueError("--vary seed: seeds are not a grid axis; use --seeds N (and --seed for the first)")
    kind = field_type(name)
    sep = ";" if (kind is str and ";" in rest) else ","
    parts = [p for p in rest.split(sep)]
    if not rest.strip() or any(not p.strip() for p in parts):
        raise ValueError(f"--vary {spec!r}: empty value in the list")
    values = [_parse_value(p, kind, name) for p in parts]
    if len(set(values)) != len(values):
        raise ValueError(f"--vary {spec!r}: repeated values")
    return name, values


# ---------------------------------------------------------------- statistics

def summarize(values, confidence: float = CONFIDENCE) -> dict:
    """mean, std (ddof 1) and the Student-t interval for the mean over the non-None values.

    With one value, std and the interval are None; with none, everything is None (n = 0).
    """
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci": None}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci": None}
    from scipy import stats

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci": [mean - half, mean + half]}


# ---------------------------------------------------------------- running

def sweep_configs(base: Config, field: str, values: list) -> list[Config]:
    """One validated Config per grid value (all validated before anything runs)."""
    field_type(field)
    return [base.replace(**{field: v}) for v in values]


def run_sweep(base: Config, field: str, values: list, seeds: list[int], *, progress: bool = True,
              preset: str | None = None, executor: str | None = "serial", out_dir=None, resume: bool = False,
              n_workers: int | None = None, threads: int = 1, seeds_per_task: int = 1,
              configs: list[Config] | None = None) -> dict:
    """Run every grid point × chunk of ``seeds_per_task`` seeds as one task of
    ``executor.run_tasks`` (``executor``: "serial", "local", a scheduler address, or None for
    $DASK_SCHEDULER_ADDRESS else local); return the sweep table. Each task's numbers are those of
    ``run_batch(config, chunk)``, identical seed for seed to one batch of all seeds. Finished tasks are
    written to ``out_dir/tasks/`` (a temporary directory when ``out_dir`` is None); ``resume`` reads
    back the ones written there before. ``configs`` (one per value) replaces the default
    ``base`` with ``field = value``, for grids that change other fields along with ``field``."""
    if configs is None:
        configs = sweep_configs(base, field, values)
    elif len(configs) != len(values) or any(getattr(c, field) != v for c, v in zip(configs, values)):
        raise ValueError(f"configs must hold one Config per value, with {field} == that value")
    seeds = list(seeds)
    tasks = config_tasks(configs, seeds, seeds_per_task=seeds_per_task)
    t_start = time.perf_counter()
    records = run_tasks(tasks, out_dir, executor=executor, resume=resume, progress=progress, threads=threads,
                        n_workers=n_workers, desc=f"sweep {field}")
    per_point = len(tasks) // len(configs)
    points = []
    for i, value in enumerate(values):
        recs = records[i * per_point:(i + 1) * per_point]
        results = [res for rec in recs for res in rec.result]
        runs = []
        for seed, res in zip(seeds, results):
            row = {"value": value, "seed": seed}
            res = {**res, **predicted_columns(res)}
            row.update({k: res.get(k) for k in RUN_COLUMNS})
            runs.append(row)
        valid = [r for r in runs if r["status"] == "ok"]
        points.append({"value": value, "eps_effective": results[0]["eps_effective"], "n_seeds": len(runs),
                       "n_valid": len(valid), "seconds": sum(rec.seconds for rec in recs),
                       "stats": {m: summarize([r[m] for r in valid]) for m in METRICS}, "runs": runs})
    return {"preset": preset, "field": field, "values": list(values), "seeds": seeds,
            "base_config": base.to_dict(), "eps_mode": base.eps_mode,
            "eps_rule": ("eps_effective = eps·√d" if base.eps_mode == "sqrt-d" else "eps_effective = eps"),
            "confidence": CONFIDENCE, "metrics": list(METRICS),
            "executor": resolve_executor(executor), "tasks": len(tasks),
            "tasks_reused": sum(rec.reused for rec in records),
            "wall_seconds": time.perf_counter() - t_start, "points": points}


# ---------------------------------------------------------------- writing

def _csv_text(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in row])
    return buf.getvalue()


def summary_csv(table: dict) -> str:
    field = table["field"]
    header = [field, "eps_effective", "n_seeds", "n_valid", "seconds"]
    for m in METRICS:
        header += [f"{m}_mean", f"{m}_std", f"{m}_ci_low", f"{m}_ci_high"]
    rows = []
    for p in table["points"]:
        row = [p["value"], p["eps_effective"], p["n_seeds"], p["n_valid"], p["seconds"]]
        for m in METRICS:
            s = p["stats"][m]
            ci = s["ci"] or (None, None)
            row += [s["mean"], s["std"], ci[0], ci[1]]
        rows.append(row)
    return _csv_text(header, rows)


def runs_csv(table: dict) -> str:
    header = [table["field"], "seed", *RUN_COLUMNS]
    rows = [[r["value"], r["seed"], *(r[k] for k in RUN_COLUMNS)] for p in table["points"] for r in p["runs"]]
    return _csv_text(header, rows)


def _numeric_axis(values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def sweep_axis(points: list[dict]):
    """x positions of the grid points (their values, or 0, 1, … for a str field), whether the axis
    is numeric, and whether it is drawn on a log scale (positive values spanning ≥ 100x)."""
    values = [p["value"] for p in points]
    numeric = _numeric_axis(values)
    xs = np.asarray(values, dtype=float) if numeric else np.arange(len(values), dtype=float)
    logx = bool(numeric and min(xs) > 0 and max(xs) / min(xs) >= 100)
    return xs, numeric, logx


def plot_metric(ax, points: list[dict], metric: str, label: str, color: str, marker: str, *, shift: float = 0.0,
                clip=(0.0, 1.0), ls: str = "-") -> float:
    """One metric against the varied field: the mean with its t-interval as error bars (clipped to
    the metric's range; the CSV keeps the raw interval) and each valid seed's value as a faint dot.
    ``shift`` (a share of the grid step, or of x on a log axis) separates overlapping series.
    Returns the smallest value drawn (1.0 when none), for the y-limits."""
    xs, _, logx = sweep_axis(points)
    step = np.min(np.diff(np.sort(xs))) if len(xs) > 1 else 1.0
    pts = [(x, p) for x, p in zip(xs, points) if p["stats"][metric]["mean"] is not None]
    if not pts:
        return 1.0
    x = np.array([q[0] for q in pts])
    x = x * (1 + shift) if logx else x + shift * step
    stats = [q[1]["stats"][metric] for q in pts]
    mean = np.array([s["mean"] for s in stats])
    lo = np.clip([s["ci"][0] if s["ci"] else s["mean"] for s in stats], *clip)
    hi = np.clip([s["ci"][1] if s["ci"] else s["mean"] for s in stats], *clip)
    ax.errorbar(x, mean, yerr=[mean - lo, hi - mean], label=label, color=color, marker=marker, ms=4,
                capsize=3, lw=1.2, ls=ls)
    lowest = float(np.min(lo))
    for xi, (_, p) in zip(x, pts):
        seeds = [r[metric] for r in p["runs"] if r["status"] == "ok" and r[metric] is not None]
        ax.plot([xi] * len(seeds), seeds, ".", color=color, alpha=0.35, ms=3)
        lowest = min([lowest, *seeds])
    return lowest


def format_sweep_axis(ax, points: list[dict], field: str) -> None:
    xs, numeric, logx = sweep_axis(points)
    ax.set_xlabel(field)
    ax.grid(alpha=0.3)
    if logx:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(xs, [str(p["value"]) for p in points])


def sweep_figure(table: dict):
    """Matplotlib Figure (no pyplot state): accuracies and agreement, and the signed cosine."""
    from matplotlib.figure import Figure

    field, points = table["field"], table["points"]
    fig = Figure(figsize=(10, 4), dpi=90, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    series = (("acc_f_train", "acc f on D", "C0", "o"), ("acc_g_train", "acc g on D", "C1", "s"),
              ("acc_g_test", "acc g on fresh samples", "C2", "^"), ("agreement", "agreement f, g", "C3", "D"))
    lowest = [0.4]
    for i, (metric, label, color, marker) in enumerate(series):
        lowest.append(plot_metric(ax1, points, metric, label, color, marker, shift=0.06 * (i - 1.5)))
    lowest.append(plot_metric(ax1, points, "agreement_predicted", "agreement predicted before g (P5)", "C3", "x",
                              shift=0.12, ls="--"))
    ax1.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
    ax1.set_ylabel("accuracy / agreement")
    ax1.set_ylim(max(0.0, min(lowest) - 0.05), 1.02)
    ax1.legend(loc="lower right", fontsize=8)
    plot_metric(ax2, points, "cos_signed", "cos(r_n, y_adv u_n)", "C4", "o", clip=(-1.0, 1.0))
    ax2.set_ylabel("mean signed cos(r_n, y^adv_n u_n)")
    for ax in (ax1, ax2):
        format_sweep_axis(ax, points, field)
    n = len(table["seeds"])
    eps_note = "" if field == "eps" or table["eps_mode"] != "sqrt-d" else ", ε ∝ √d"
    fig.suptitle(f"{table.get('preset') or 'config'}: {field} sweep, {n} seeds per point "
                 f"(error bars: {int(CONFIDENCE * 100)}% t-interval, clipped to the range; dots: seeds){eps_note}", fontsize=10)
    return fig


def write_sweep(table: dict, out_dir) -> dict:
    """Write sweep.csv, runs.csv, sweep.json and sweep.png into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "sweep.csv", "runs_csv": out / "runs.csv", "json": out / "sweep.json",
             "png": out / "sweep.png"}
    atomic_write_bytes(paths["csv"], summary_csv(table).encode())
    atomic_write_bytes(paths["runs_csv"], runs_csv(table).encode())
    atomic_write_bytes(paths["json"], (json.dumps(json_clean(table), indent=1, sort_keys=True) + "\n").encode())
    atomic_write_bytes(paths["png"], figure_png_bytes(sweep_figure(table)))
    return {k: str(v) for k, v in paths.items()}


def default_out_dir(preset: str, field: str) -> Path:
    return Path("reports") / "sweeps" / f"{preset}-{field}-{time.strftime('%Y%m%d-%H%M%S')}"


# ---------------------------------------------------------------- command line

def task_threads(args, configs: list[Config]) -> int:
    """torch threads inside each task: ``--threads``, or (0 = auto) 1 on a cluster (one worker per
    core) and the ``run`` heuristic, decided by the largest grid point, when serial."""
    import torch

    if args.threads or args.serial:
        set_threads(args.threads, max(configs, key=lambda c: c.n_train * c.width * c.d))
        return torch.get_num_threads()
    return 1


def batch_executor(args, what: str) -> str | None:
    """Check --seeds, --seeds-per-task and --resume (which needs --out) of a batch sub-command (``what``
    names it in the message); return the executor the flags name (``executor_from_args``)."""
    check_scalar(args.seeds, "--seeds", int, min_val=1)
    check_scalar(args.seeds_per_task, "--seeds-per-task", int, min_val=1)
    if args.resume and not args.out:
        raise ValueError(f"--resume needs --out DIR, the directory of the interrupted {what}")
    return executor_from_args(args)


def _main(args) -> int:
    field, values = parse_vary(args.vary)
    executor = batch_executor(args, "sweep")
    base = config_from_args(args)
    configs = sweep_configs(base, field, values)  # every grid point validated before anything runs
    seeds = list(range(base.seed, base.seed + args.seeds))
    out = Path(args.out) if args.out else default_out_dir(args.preset, field)
    table = run_sweep(base, field, values, seeds, progress=not args.no_progress, preset=args.preset,
                      executor=executor, out_dir=out, resume=args.resume, n_workers=args.workers,
                      threads=task_threads(args, configs), seeds_per_task=args.seeds_per_task)
    table["command"] = (f"python -m perturbation_learning sweep --preset {args.preset} --vary {args.vary} "
                        f"--seeds {args.seeds}")
    paths = write_sweep(table, out)
    print(json.dumps({"out": str(out), "wall_seconds": round(table["wall_seconds"], 2), **paths}))
    return 0


def register(parser) -> None:
    """sweep one config field over a grid (--vary FIELD=V1,V2,…), N seeds per point; writes CSV, JSON, PNG"""
    config_flags(parser)
    parser.add_argument("--vary", required=True, metavar="FIELD=V1,V2,…",
                        help="the config field to vary and its values, parsed with the field's type "
                             "(str values containing commas: separate with ';'). With eps_mode sqrt-d, "
                             "ε (varied or not) is multiplied by √d")
    add_batch_flags(parser, seeds=3, seeds_help="seeds per grid point: --seed, --seed+1, … (default 3)",
                    out_help="output directory (default reports/sweeps/<preset>-<field>-<timestamp>/)")
    parser.set_defaults(func=_main)


def add_batch_flags(parser, *, seeds: int, seeds_help: str, out_help: str) -> None:
    """--seeds, --seeds-per-task, --out, --threads, --no-progress and the executor flags of a batch
    sub-command (``batch_executor`` checks them)."""
    parser.add_argument("--seeds", type=int, default=seeds, metavar="N", help=seeds_help)
    parser.add_argument("--seeds-per-task", type=int, default=1, metavar="K",
                        help="seeds batched into one task (default 1; larger batches save per-step "
                             "overhead on small configs, smaller ones spread better over workers)")
    parser.add_argument("--out", default=None, metavar="DIR", help=out_help)
    threads_flag(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_executor_flags(parser)
