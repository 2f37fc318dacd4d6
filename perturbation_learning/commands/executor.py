"""One executor for batch work (sweeps, calibration, figure reproduction), on Dask distributed.

A *task* is one unit of work: a module-level function ``fn(config: dict, seeds: list[int])`` applied
to a JSON-able config dict and a list of seeds. ``run_tasks`` runs a list of tasks on

- ``"local"`` (default): an embedded ``distributed.LocalCluster`` — worker processes, one thread
  each, as many workers as usable cores, bound to 127.0.0.1, no dashboard — that starts and stops
  with the call;
- an address (``tcp://HOST:8786``), or the ``DASK_SCHEDULER_ADDRESS`` environment variable when no
  executor is named: an existing cluster (the workers must have this package installed);
- ``"serial"``: in this process, one task after the other (for debugging).

Every executor runs the same wrapper (``_execute``): it pins torch to ``threads`` intra-op threads,
calls ``fn`` and passes the result through one JSON round trip, so a task's numbers are identical,
seed for seed, whichever executor ran it, and equal to what ``--resume`` later reads back.

Each finished task is written atomically (temporary file, fsync, ``os.replace``) to
``OUT/tasks/<task id>.json``; the id hashes the function's name, the config dict and the seeds. With
``resume=True`` a task whose file exists (and matches) is read back, not recomputed. A task whose
worker dies is rescheduled by the scheduler on another worker (up to its ``allowed-failures``,
default 3), and a task that raises is retried ``retries`` times before the error is raised here.
A progress bar on stderr counts finished tasks.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..files import atomic_write_text, json_clean

#: Environment variable naming an existing scheduler (Dask's own convention).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
#: Times a task that raised is resubmitted before its error is raised (worker deaths are handled by
#: the scheduler's ``allowed-failures`` and do not use these).
RETRIES = 2
TASKS_DIR = "tasks"


@dataclass(frozen=True)
class Task:
    """``fn(config, seeds)``: ``fn`` a module-level function, ``config`` a JSON-able dict."""

    fn: Callable
    config: dict
    seeds: tuple

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"fn must be callable, got {type(self.fn).__name__}")
        if "<" in getattr(self.fn, "__qualname__", "<") or not getattr(self.fn, "__module__", None):
            raise TypeError(f"fn must be a module-level function (workers import it by name), got {self.fn!r}")
        if not isinstance(self.config, dict):
            raise TypeError(f"config must be a dict, got {type(self.config).__name__}")
        seeds = tuple(self.seeds) if isinstance(self.seeds, (list, tuple)) else None
        if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
            raise ValueError(f"seeds == {self.seeds!r}, must be a non-empty list of integers >= 0")
        object.__setattr__(self, "seeds", seeds)
        try:
            json.dumps(self.config, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"config must be JSON-serialisable with finite floats: {exc}") from None

    @property
    def fn_name(self) -> str:
        return f"{self.fn.__module__}:{self.fn.__qualname__}"

    @property
    def task_id(self) -> str:
        """Stable across processes and machines: sha256 of the canonical JSON of (fn, config, seeds)."""
        key = json.dumps({"fn": self.fn_name, "config": self.config, "seeds": list(self.seeds)},
                         sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class TaskRecord:
    """One finished task: its result (after the JSON round trip), compute seconds, and whether it
    was read back from a file written earlier (``reused``) instead of computed now."""

    task_id: str
    result: object
    seconds: float
    reused: bool


def _execute(fn: Callable, config: dict, seeds: list, threads: int) -> tuple:
    """The one code path of every executor: pin torch's threads, run, round-trip through JSON."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        result = fn(config, list(seeds))
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)
    return json.loads(json.dumps(json_clean(result), allow_nan=False)), seconds


# ---------------------------------------------------------------- task files

def task_path(out_dir, task: Task) -> Path:
    return Path(out_dir) / TASKS_DIR / f"{task.task_id}.json"


def _write(out_dir, task: Task, result, seconds: float) -> None:
    record = {"task_id": task.task_id, "fn": task.fn_name, "config": task.config, "seeds": list(task.seeds),
              "seconds": seconds, "result": result}
    atomic_write_text(task_path(out_dir, task), json.dumps(record, sort_keys=True, allow_nan=False) + "\n")


def _read(out_dir, task: Task) -> TaskRecord | None:
    """The record written for ``task``, or None when absent or not this task's (a foreign file is
    recomputed and overwritten, never trusted)."""
    path = task_path(out_dir, task)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if (record.get("fn"), record.get("config"), record.get("seeds")) != (task.fn_name, task.config, list(task.seeds)):
        return None
    return TaskRecord(task.task_id, record["result"], float(record["seconds"]), reused=True)


# ---------------------------------------------------------------- executors

def resolve_executor(executor: str | None = None) -> str:
    """``None`` → ``$DASK_SCHEDULER_ADDRESS`` if set, else ``"local"``; ``"serial"``, ``"local"`` or a
    scheduler address are returned as they are."""
    if executor is None:
        return os.environ.get(SCHEDULER_ENV) or "local"
    if not isinstance(executor, str) or not executor.strip():
        raise ValueError(f"executor == {executor!r}, must be 'local', 'serial' or a scheduler address "
                         f"such as tcp://HOST:8786")
    return executor.strip()


def default_workers() -> int:
    """Usable cores (the CPU affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def local_cluster(n_workers: int | None = None):
    """The embedded cluster: processes, 1 thread per worker, 127.0.0.1, no dashboard."""
    import logging

    from distributed import LocalCluster

    n = default_workers() if n_workers is None else n_workers
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n_workers == {n_workers!r}, must be an integer >= 1")
    # The scheduler's HTTP routes (health, metrics) always run; a free port on 127.0.0.1 keeps two
    # clusters on one machine from contending for the default 8787.
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        silence_logs=logging.ERROR)


def _progress(total: int, initial: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="task", file=sys.stderr, disable=not enabled, desc=desc,
                dynamic_ncols=True)


def run_tasks(tasks: Sequence[Task], out_dir, *, executor: str | None = None, resume: bool = False,
              progress: bool = True, threads: int = 1, n_workers: int | None = None,
              retries: int = RETRIES, desc: str = "tasks", client=None) -> list[TaskRecord]:
    """Run ``tasks``; return one ``TaskRecord`` per task, in task order.

    ``executor``: ``"local"``, ``"serial"``, a scheduler address, or None (``$DASK_SCHEDULER_ADDRESS``,
    else local). ``client``: an already connected ``distributed.Client`` to use instead (the caller
    owns it). ``resume``: read back tasks already written to ``out_dir`` instead of recomputing them.
    ``threads``: torch intra-op threads inside each task. If a task fails for good, the tasks finished
    so far stay written, the others are cancelled and the error is raised. ``out_dir=None`` writes
    the tasks to a temporary directory, removed on return (nothing to resume from).
    """
    if out_dir is None:
        if resume:
            raise ValueError("resume needs out_dir, the directory of the interrupted run")
        with tempfile.TemporaryDirectory(prefix="tasks-") as tmp:
            return run_tasks(tasks, tmp, executor=executor, progress=progress, threads=threads, n_workers=n_workers,
                             retries=retries, desc=desc, client=client)
    tasks = list(tasks)
    for i, t in enumerate(tasks):
        if not isinstance(t, Task):
            raise TypeError(f"tasks[{i}] must be a Task, got {type(t).__name__}")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads == {threads!r}, must be an integer >= 1")
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"retries == {retries!r}, must be an integer >= 0")
    out_dir = Path(out_dir)
    mode = "client" if client is not None else resolve_executor(executor)

    done: dict[str, TaskRecord] = {}
    if resume:
        for t in tasks:
            rec = _read(out_dir, t)
            if rec is not None:
                done[t.task_id] = rec
    todo = {t.task_id: t for t in tasks if t.task_id not in done}  # identical tasks run once
    bar = _progress(len(set(t.task_id for t in tasks)), len(done), progress, desc)
    try:
        if mode == "serial":
            for tid, t in todo.items():
                result, seconds = _execute(t.fn, t.config, list(t.seeds), threads)
                _write(out_dir, t, result, seconds)
                done[tid] = TaskRecord(tid, result, seconds, reused=False)
                bar.update(1)
        elif todo:
            _run_distributed(todo, done, out_dir, mode, client, threads, n_workers, retries, bar)
    except KeyboardInterrupt:
        print(f"interrupted: {len(done)} of {len(tasks)} tasks are written to {out_dir / TASKS_DIR}; "
              "rerun with --resume (same output directory) to continue", file=sys.stderr)
        raise
    finally:
        bar.close()
    return [done[t.task_id] for t in tasks]


def _run_distributed(todo: dict, done: dict, out_dir: Path, mode: str, client, threads: int,
                     n_workers: int | None, retries: int, bar) -> None:
    from distributed import Client, as_completed

    cluster = own_client = None
    try:
        if client is None:
            if mode == "local":
                cluster = local_cluster(n_workers)
                own_client = Client(cluster)
            else:
                own_client = Client(mode, timeout="30s")
            client = own_client
        by_key = {}
        for tid, t in todo.items():
            # The key names the task, so a resubmitted identical task maps onto the same result.
            fut = client.submit(_execute, t.fn, t.config, list(t.seeds), threads, key=f"pl-task-{tid}",
                                retries=retries, pure=False)
            by_key[fut.key] = (fut, t)
        pending = as_completed([f for f, _ in by_key.values()])
        try:
            for fut in pending:
                t = by_key[fut.key][1]
                result, seconds = fut.result()  # raises the task's error, after its retries
                _write(out_dir, t, result, seconds)
                done[t.task_id] = TaskRecord(t.task_id, result, seconds, reused=False)
                bar.update(1)
        finally:
            unfinished = [f for f, _ in by_key.values() if not f.done()]
            if unfinished:
                client.cancel(unfinished)
    finally:
        if own_client is not None:
            own_client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------- the procedure as tasks

def run_config_task(config: dict, seeds: list) -> list:
    """One ``run_batch`` of the procedure: ``config`` is ``Config.to_dict()``; one result per seed."""
    from ..config import Config
    from ..run import run_batch

    return run_batch(Config(**config), list(seeds)).records


def config_tasks(configs, seeds: Sequence[int], *, seeds_per_task: int = 1, fn: Callable = run_config_task) -> list[Task]:
    """Tasks for every config × chunk of ``seeds_per_task`` seeds, in (config, seed) order. Each
    task's config carries its first seed, so a task's id does not depend on the sweep's base seed."""
    if not isinstance(seeds_per_task, int) or isinstance(seeds_per_task, bool) or seeds_per_task < 1:
        raise ValueError(f"seeds_per_task == {seeds_per_task!r}, must be an integer >= 1")
    seeds = list(seeds)
    chunks = [seeds[i:i + seeds_per_task] for i in range(0, len(seeds), seeds_per_task)]
    return [Task(fn, cfg.replace(seed=chunk[0]).to_dict(), tuple(chunk)) for cfg in configs for chunk in chunks]


def add_executor_flags(parser) -> None:
    """``--serial``, ``--scheduler``, ``--workers``, ``--resume`` for a batch sub-command."""
    group = parser.add_argument_group("executor (Dask distributed)")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--serial", action="store_true", help="run the tasks in this process, one after the other")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help=f"use an existing Dask cluster (tcp://HOST:8786; default ${SCHEDULER_ENV}, else an "
                            "embedded local cluster that starts and stops with the command)")
    group.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes of the embedded cluster (default: the usable cores)")
    group.add_argument("--resume", action="store_true",
                       help="read back the tasks already written to the output directory instead of recomputing them")


def executor_from_args(args) -> str | None:
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers == {args.workers}, must be >= 1")
    return "serial" if args.serial else args.scheduler
