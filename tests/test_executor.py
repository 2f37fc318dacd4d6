"""The Dask executor with a real engine: a LocalCluster of 2 worker processes on 127.0.0.1.

- a small sweep through the cluster equals the serial run number for number (and the batched
  ``run_batch`` of all seeds at once);
- a task that kills its own worker process (SIGKILL) on its first attempt still completes: the
  scheduler reschedules it on a restarted worker;
- after an interrupted run, ``resume=True`` recomputes exactly the tasks that were not written.

Every configuration is tiny (N = 30, m = 8, 10 steps), so the tests cost the cluster start-up.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from perturbation_learning.commands.executor import (Task, config_tasks, run_config_task, run_tasks, task_path)
from perturbation_learning.config import Config
from perturbation_learning.run import run_batch

TINY = Config(dataset="shifted-gauss", d=6, n_train=30, n_test=40, width=8, epochs_f=10, epochs_g=10, lr=0.1,
              momentum=0.9, eps=1.0, eps_mode="absolute")


def _untimed(result: dict) -> dict:
    """A run's result without its wall-clock fields (``seconds_*``)."""
    return {k: v for k, v in result.items() if not k.startswith("seconds_")}


def _numbers(records) -> list:
    """Every result of every task, without the wall-clock fields."""
    return [[_untimed(r) for r in rec.result] for rec in records]


@pytest.fixture(scope="module")
def client():
    """One cluster for the module; closed whatever the tests do."""
    from distributed import Client

    from perturbation_learning.commands.executor import local_cluster

    cluster = local_cluster(2)
    cli = None
    try:
        cli = Client(cluster)
        yield cli
    finally:
        if cli is not None:
            cli.close()
        cluster.close()


def _grid_tasks():
    return config_tasks([TINY.replace(d=d) for d in (4, 6)], [0, 1, 2])


# ---------------------------------------------------------------- same numbers

def test_cluster_run_equals_serial_run_number_for_number(client, tmp_path):
    tasks = _grid_tasks()
    serial = run_tasks(tasks, tmp_path / "serial", executor="serial", progress=False)
    cluster = run_tasks(tasks, tmp_path / "cluster", client=client, progress=False)
    assert [r.task_id for r in cluster] == [t.task_id for t in tasks]
    assert _numbers(cluster) == _numbers(serial)
    # and equal to the batched runner with all seeds of a grid point in one call
    for g, d in enumerate((4, 6)):
        batched = run_batch(TINY.replace(d=d), [0, 1, 2]).records
        assert [n[0] for n in _numbers(cluster[3 * g:3 * g + 3])] == \
            [_untimed(r) for r in batched]
    # guard: the seeds do give different numbers, so equality above is not vacuous
    agreements = [rec.result[0]["agreement"] for rec in cluster]
    finals = [rec.result[0]["final_loss_g"] for rec in cluster]
    assert len(set(finals)) == len(finals), (agreements, finals)
    # the written files hold the same numbers
    on_disk = json.loads(task_path(tmp_path / "cluster", tasks[0]).read_text())
    assert on_disk["result"] == cluster[0].result and on_disk["seeds"] == [0]


def test_task_ids_are_stable_and_distinguish_config_and_seeds():
    a, b = _grid_tasks()[:2]
    assert a.task_id == Task(run_config_task, dict(a.config), list(a.seeds)).task_id
    assert a.task_id != b.task_id  # another seed
    assert a.task_id != Task(run_config_task, {**a.config, "width": 9}, a.seeds).task_id
    assert a.task_id != Task(_counted, a.config, a.seeds).task_id  # another function
    with pytest.raises(ValueError, match="seeds"):
        Task(run_config_task, a.config, [])
    with pytest.raises(TypeError, match="module-level"):
        Task(lambda c, s: None, a.config, [0])


# ---------------------------------------------------------------- a worker dies

def _die_once(config: dict, seeds: list):
    """Log this attempt's pid; on the first attempt of the marked task, SIGKILL this worker."""
    log = Path(config["log"])
    with open(log, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    if config["kill"] and len(log.read_text().split()) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_config_task(config["run"], seeds)


def test_a_task_whose_worker_is_killed_is_rerun_and_the_run_completes(client, tmp_path):
    runs = _grid_tasks()
    tasks = [Task(_die_once, {"run": t.config, "log": str(tmp_path / f"log{i}"), "kill": i == 2}, t.seeds)
             for i, t in enumerate(runs)]
    got = run_tasks(tasks, tmp_path / "out", client=client, progress=False)
    expected = run_tasks(runs, tmp_path / "serial", executor="serial", progress=False)
    assert _numbers(got) == _numbers(expected)
    pids = (tmp_path / "log2").read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1], pids  # ran twice, in two processes
    with pytest.raises(ProcessLookupError):  # the first one is gone
        os.kill(int(pids[0]), 0)
    # results held by the killed worker and not yet gathered are recomputed too; none is lost
    assert all((tmp_path / f"log{i}").exists() for i in range(len(tasks)))


# ---------------------------------------------------------------- interrupt and resume

def _counted(config: dict, seeds: list):
    """Log every execution; the task marked ``interrupt`` raises while its stop file exists."""
    with open(config["log"], "a") as fh:
        fh.write(json.dumps(list(seeds) + [config["run"]["d"]]) + "\n")
    if config["interrupt"] and os.path.exists(config["stop"]):
        time.sleep(0.5)  # let the earlier tasks finish and be written first
        raise RuntimeError("interrupted")
    return run_config_task(config["run"], seeds)


def test_resume_after_an_interrupt_recomputes_nothing_that_was_written(tmp_path):
    out, log, stop = tmp_path / "out", tmp_path / "log", tmp_path / "stop"
    stop.touch()
    runs = _grid_tasks()
    tasks = [Task(_counted, {"run": t.config, "log": str(log), "stop": str(stop), "interrupt": i == len(runs) - 1},
                  t.seeds) for i, t in enumerate(runs)]
    # the embedded cluster, as the command line starts it; it is closed when the error is raised
    with pytest.raises(RuntimeError, match="interrupted"):
        run_tasks(tasks, out, executor="local", n_workers=2, retries=0, progress=False)
    written = {t.task_id for t in tasks if task_path(out, t).exists()}
    assert 1 <= len(written) < len(tasks)
    first = log.read_text().splitlines()
    stop.unlink()
    resumed = run_tasks(tasks, out, executor="serial", resume=True, progress=False)
    again = log.read_text().splitlines()[len(first):]
    missing = [t for t in tasks if t.task_id not in written]
    assert sorted(again) == sorted(json.dumps(list(t.seeds) + [t.config["run"]["d"]]) for t in missing)
    assert [r.reused for r in resumed] == [t.task_id in written for t in tasks]
    assert _numbers(resumed) == _numbers(run_tasks(runs, tmp_path / "ref", executor="serial", progress=False))
    # without resume, everything is computed again
    run_tasks(tasks, out, executor="serial", progress=False)
    assert len(log.read_text().splitlines()) == len(first) + len(again) + len(tasks)


def test_a_file_of_another_task_is_not_trusted(tmp_path):
    t = _grid_tasks()[0]
    first = run_tasks([t], tmp_path, executor="serial", progress=False)
    rec = json.loads(task_path(tmp_path, t).read_text())
    rec["seeds"] = [7]
    task_path(tmp_path, t).write_text(json.dumps(rec))
    again = run_tasks([t], tmp_path, executor="serial", resume=True, progress=False)
    assert not again[0].reused and _numbers(again) == _numbers(first)


def test_bad_arguments_name_the_parameter(tmp_path):
    t = _grid_tasks()[0]
    with pytest.raises(TypeError, match=r"tasks\[0\]"):
        run_tasks([t.config], tmp_path)
    with pytest.raises(ValueError, match="threads"):
        run_tasks([t], tmp_path, executor="serial", threads=0)
    with pytest.raises(ValueError, match="executor"):
        run_tasks([t], tmp_path, executor=" ")
    with pytest.raises(ValueError, match="out_dir"):
        run_tasks([t], None, executor="serial", resume=True)


def test_without_out_dir_nothing_is_left_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    t = _grid_tasks()[0]
    got = run_tasks([t], None, executor="serial", progress=False)
    assert got[0].result[0]["status"] == "ok" and not got[0].reused
    assert list(tmp_path.iterdir()) == []
