"""The check run's network pairs trained through the Dask executor (``perturbation_learning.commands.executor``).

``Executor.run_seeds(config, seeds, ...)`` submits one task per seed, ``run_batch(config, [seed], ...)`` on a
worker, and returns the workers' ``RunResult`` objects in memory: no task files, since a check run is
not resumed. A seed trained alone gives the numbers it gets inside a batch (``training.train_in_chunks``:
no arithmetic mixes networks), so the checks see the same pairs, seed for seed, in this process or on
a cluster; ``tests/test_remote_checks.py`` compares them tensor for tensor.

Which executor the checks use (:meth:`Executor.where`; the run's executor is ``checks.session``'s):

- ``pytest checks/ --executor X``: ``serial`` (in this process), ``local`` (an embedded cluster, one
  worker process per core) or a scheduler address such as ``tcp://HOST:8786``;
- else, under the ``paper`` profile (and its smoke variant): ``$DASK_SCHEDULER_ADDRESS`` when set,
  else the embedded cluster, except inside a pytest-xdist worker, which trains in-process (xdist already
  spreads the checks over the cores);
- else ``serial``: the other profiles are sized for in-process runs.

A remote cluster's workers need this package (``checks`` included) installed. The client is made on
first use and closed at the end of the run (:meth:`Executor.close`, from ``checks.plugin``). A task whose
worker dies is rescheduled by the scheduler; a task that raises raises its error here, unretried (the
same seed would raise it again).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from perturbation_learning.config import Config
from perturbation_learning.commands.executor import SCHEDULER_ENV, local_cluster, resolve_executor
from perturbation_learning.run import RunResult, run_batch

SERIAL = "serial"
LOCAL = "local"
PAPER_PROFILE = "paper"
#: torch intra-op threads per task, as the executor's tasks (one thread per worker process).
TASK_THREADS = 1


def in_paper_profile() -> bool:
    """The active Hypothesis profile is ``paper`` or its smoke variant."""
    from hypothesis import settings

    return settings.get_current_profile_name().split("-")[0] == PAPER_PROFILE


@dataclass
class Executor:
    """Where the check run's pairs train, and its Dask client once one is open (``checks.session``)."""

    option: str | None = None     # --executor, resolved; None: the default of :meth:`where`
    client: object = None
    cluster: object = None
    client_where: str | None = None   # the address the open client talks to

    def use(self, option: str | None) -> None:
        """Train on ``option`` (``serial``, ``local`` or an address) from now on; None: the default of
        :meth:`where`. An open client stays open until another address is used."""
        self.option = None if option is None else resolve_executor(option)

    def where(self) -> str:
        """``serial``, ``local`` or a scheduler address: where the checks' pairs train now."""
        if self.option is not None:
            return self.option
        if not in_paper_profile():
            return SERIAL
        if os.environ.get(SCHEDULER_ENV):
            return resolve_executor(None)
        return SERIAL if os.environ.get("PYTEST_XDIST_WORKER") else LOCAL

    def active(self) -> bool:
        return self.where() != SERIAL

    def _client(self):
        where = self.where()
        if self.client is not None and self.client_where != where:
            self.close()
        if self.client is None:
            from distributed import Client

            if where == LOCAL:
                self.cluster = local_cluster()
                self.client = Client(self.cluster)
            else:
                self.client = Client(where, timeout="30s")
            self.client_where = where
        return self.client

    def close(self) -> None:
        """Close the client (and the embedded cluster) if one is open."""
        client, cluster = self.client, self.cluster
        self.client = self.cluster = self.client_where = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def run_seeds(self, config: Config, seeds, *, procedure, predict_coverage: str) -> list[RunResult]:
        """One ``RunResult`` per seed, in seed order, each trained as its own task on :meth:`where`."""
        client = self._client()
        futures = [client.submit(run_seed, config, seed, procedure, predict_coverage, pure=False) for seed in seeds]
        try:
            return client.gather(futures)
        finally:
            unfinished = [f for f in futures if not f.done()]
            if unfinished:
                client.cancel(unfinished)


def run_seed(config: Config, seed: int, procedure, predict_coverage: str) -> RunResult:
    """A worker's task: the checks' ``run_batch`` call for one seed."""
    import torch

    torch.set_num_threads(TASK_THREADS)
    return run_batch(config, [seed], procedure=procedure, predict_coverage=predict_coverage)
