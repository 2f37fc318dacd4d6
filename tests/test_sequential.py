"""Sequential batches (checks.sequential): another batch only while a share looks violated."""

from __future__ import annotations

import numpy as np
import pytest

import checks.sequential as sequential
from checks.strategies import Setting
from perturbation_learning.config import Config
from theory.power import beta_draws
from theory.tolerances import SEQUENTIAL_MAX_BATCHES

SETTING = Setting(Config(dataset="gauss", d=5, n_train=20, n_test=20, width=50), tuple(range(100, 112)))


@pytest.fixture
def batches(monkeypatch):
    """run_pairs replaced by the seeds themselves; returns the list of batches 'trained'."""
    trained = []

    def fake_run_pairs(setting):
        trained.append(setting.seeds)
        return list(setting.seeds)

    monkeypatch.setattr(sequential, "run_pairs", fake_run_pairs)
    return trained


def _measure(mean):
    def measure(seeds):
        rng = np.random.default_rng(seeds[0] % 2**32)
        return list(beta_draws(mean, 0.02, rng.random(len(seeds))))
    return measure


def _stats(obs):
    return [(obs, 0.15)]


def test_clean_shares_train_one_batch(batches):
    obs = sequential.measured_in_batches(SETTING, _measure(0.01), _stats)
    assert len(batches) == 1 and len(obs) == 12


def test_shares_just_above_the_bound_get_more_batches_with_new_seeds(batches):
    obs = sequential.measured_in_batches(SETTING, _measure(0.2), _stats)
    assert len(batches) == SEQUENTIAL_MAX_BATCHES and len(obs) == 12 * SEQUENTIAL_MAX_BATCHES
    seeds = [s for b in batches for s in b]
    assert len(set(seeds)) == len(seeds) and batches[1][0] == 100 + sequential.BATCH_SEED_STRIDE


def test_a_clear_violation_is_decided_by_the_first_batch(batches):
    sequential.measured_in_batches(SETTING, _measure(0.8), _stats)
    assert len(batches) == 1                                   # rejected after 12 pairs: nothing to add


def test_results_are_extended_while_the_test_is_underpowered(monkeypatch):
    """Controls: batches are added while the two-sided test neither rejects nor reaches its target."""
    trained = []

    def fake_run_results(setting):
        trained.append(setting.seeds)
        rng = np.random.default_rng(setting.seeds[0] % 2**32)
        return [{"agreement": float(a)} for a in beta_draws(0.5, 0.1, rng.random(len(setting.seeds)))]

    monkeypatch.setattr(sequential, "run_results", fake_run_results)
    first = fake_run_results(SETTING)

    def more(res):
        return sequential.underpowered([r["agreement"] for r in res], 0.5, 1e-6, "at most", 0.7)

    assert more(first)                                          # 12 pairs cannot detect 0.7 against 1/2
    out = sequential.results_in_batches(SETTING, first, more)
    assert len(out) == 12 * SEQUENTIAL_MAX_BATCHES and len(trained) == SEQUENTIAL_MAX_BATCHES
    assert not sequential.underpowered([0.9] * 40, 0.5, 1e-6, "at most", 0.7)   # rejected: decided


def test_lazy_errors_join_in_training_order():
    from checks.properties.lazy import LazyErrors

    a = LazyErrors([0.1], [0.2], [True], [0.05], [1])
    b = LazyErrors([0.3], [], [False], [0.07], [2])
    assert a + b == LazyErrors([0.1, 0.3], [0.2], [True, False], [0.05, 0.07], [1, 2])
