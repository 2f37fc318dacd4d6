"""The checks' pairs through the Dask executor (``checks/remote.py``), with a real engine.

Under the ``paper`` profile ``checks.harness`` trains one task per seed on an embedded LocalCluster (here
2 worker processes on 127.0.0.1, closed in a finally) instead of one batched run in this process. The
pairs and result dicts must be identical, tensor for tensor, to the in-process run of the same setting.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checks import harness, remote, session
from checks.pairs import Pair
from checks.profiles import using_profile
from checks.strategies import Setting
from perturbation_learning.config import Config
from perturbation_learning.commands.executor import SCHEDULER_ENV, local_cluster
from theory.tolerances import CHECK_PREDICT_COVERAGE

SETTING = Setting(Config(dataset="shifted-gauss", d=6, n_train=30, n_test=40, width=20, epochs_f=20, epochs_g=20,
                         lr=0.1, momentum=0.9, eps=1.0, eps_mode="absolute"), (0, 1, 2))
ARRAYS = ("X", "y", "Z", "yz", "y_adv", "r", "X_adv", "u", "lam_f", "lam_g")
NETS = ("f_net", "g_net", "f0_net", "g0_net")


@pytest.fixture(scope="module")
def paper_profile():
    """The paper profile on the CPU, its embedded cluster cut to 2 workers; closed whatever happens."""
    with pytest.MonkeyPatch.context() as mp, using_profile("paper"):
        mp.setattr(torch.cuda, "is_available", lambda: False)
        mp.setattr(remote, "local_cluster", lambda: local_cluster(2))
        mp.delenv("PYTEST_XDIST_WORKER", raising=False)
        mp.delenv(SCHEDULER_ENV, raising=False)
        executor = session.current().executor
        saved = executor.option
        executor.use(None)
        try:
            yield executor
        finally:
            executor.close()
            executor.option = saved
            session.current().drain_collapses()


def _same_pair(a: Pair, b: Pair) -> bool:
    return (a.seed == b.seed and a.config == b.config and a.eps == b.eps and (a.flip_f, a.flip_g) == (b.flip_f, b.flip_g)
            and a.prediction == b.prediction and all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ARRAYS)
            and all(torch.equal(getattr(getattr(a, n), p), getattr(getattr(b, n), p)) for n in NETS for p in "Wba"))


def _untimed(res: dict) -> dict:
    return {k: v for k, v in res.items() if not k.startswith("seconds_")}


def test_paper_profile_pairs_come_from_the_cluster_identical_to_in_process(paper_profile, monkeypatch):
    executor = paper_profile
    executor.use("serial")
    local_pairs = harness.run_pairs(SETTING, claims=[])
    local_results = harness.run_results(SETTING, claims=[])
    executor.use(None)
    assert executor.where() == remote.LOCAL

    def not_here(*args, **kw):
        raise AssertionError("the paper profile trained in the test process, not on the cluster")

    monkeypatch.setattr(harness, "run_batch", not_here)  # the workers import their own run_batch
    cluster_pairs = harness.run_pairs(SETTING, claims=[])
    cluster_results = harness.run_results(SETTING, claims=[])

    assert len(local_pairs) == len(cluster_pairs) == len(SETTING.seeds)
    assert all(_same_pair(a, b) for a, b in zip(local_pairs, cluster_pairs))
    assert [_untimed(r) for r in local_results] == [_untimed(r) for r in cluster_results]
    # the comparison can fail: another seed's pair is not the same
    assert not _same_pair(local_pairs[0], cluster_pairs[1])
    assert len(executor.client.scheduler_info()["workers"]) == 2


def test_a_task_error_is_raised_with_its_type(paper_profile):
    with pytest.raises(TypeError, match="procedure must be callable"):
        paper_profile.run_seeds(SETTING.config, [0], procedure=None, predict_coverage=CHECK_PREDICT_COVERAGE)


@pytest.mark.parametrize("profile, option, env, xdist, where", [
    ("ci", None, None, False, "serial"),
    ("ci", None, "tcp://10.0.0.1:8786", False, "serial"),   # the address names a cluster; the profile decides
    ("ci", "local", None, False, "local"),
    ("paper", None, None, False, "local"),
    ("paper-smoke", None, None, False, "local"),
    ("paper", None, None, True, "serial"),                    # xdist already spreads the checks over the cores
    ("paper", None, "tcp://10.0.0.1:8786", True, "tcp://10.0.0.1:8786"),
    ("paper", "serial", "tcp://10.0.0.1:8786", False, "serial"),
    ("thorough", "tcp://10.0.0.2:8786", None, True, "tcp://10.0.0.2:8786"),
])
def test_which_executor_the_checks_use(monkeypatch, profile, option, env, xdist, where):
    for name, value in ((SCHEDULER_ENV, env), ("PYTEST_XDIST_WORKER", "gw0" if xdist else None)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    executor = remote.Executor()
    executor.use(option)
    with using_profile(profile):
        assert executor.where() == where
        assert executor.active() == (where != "serial")


def test_a_blank_executor_names_the_parameter():
    with pytest.raises(ValueError, match="executor"):
        remote.Executor().use(" ")
