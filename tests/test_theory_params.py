"""The theory's parameter objects (``theory.params``): checked once when made, and then trusted, so that
one ``predict_outcome`` call checks γ once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import theory.validation as validation
from theory.direction import predicted_direction
from theory.params import Perturbation, TrainingSet, predicted_perturbation
from theory.prediction import predict_outcome


def _data(N=30, d=5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    X = rng.standard_normal((N, d)) + 0.5 * y[:, None]
    return X, y, np.full(N, 2.0 / N), rng.permutation(y), rng.standard_normal((20, d))


def test_a_training_set_is_checked_once_and_stored_in_float64():
    X, y, lam, _, _ = _data()
    train = TrainingSet(torch.from_numpy(X).float(), torch.from_numpy(y), lam)
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in (train.X, train.y, train.lam))
    assert (train.n, train.d) == X.shape and train.on_cpu() is train
    with pytest.raises(ValueError, match="y must contain only labels -1 and \\+1"):
        TrainingSet(X, y * 0, lam)
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        TrainingSet(X, y[:-1], lam)
    with pytest.raises(ValueError, match="lam has negative entries"):
        TrainingSet(X, y, -lam)


def test_a_perturbation_is_checked_against_its_training_set():
    X, y, lam, y_adv, _ = _data()
    train = TrainingSet(X, y, lam)
    u = predicted_direction(train, 0.0)
    pert = Perturbation.predicted(train, "b", y_adv, u, lam, 2.0)
    assert pert.network_free
    np.testing.assert_array_equal(pert.r, predicted_perturbation(u, y_adv, 2.0))
    np.testing.assert_array_equal(pert.x_adv, X + pert.r)
    np.testing.assert_array_equal(pert.adversarial_set.y, y_adv)
    np.testing.assert_array_equal(pert.replace(scenario="a").x_adv, pert.r)   # r̂ does not depend on the scenario
    with pytest.raises(ValueError, match="r has shape \\(30, 4\\), must have 5 columns"):
        Perturbation(train, "a", pert.r[:, :4], y_adv, u, lam, 2.0)
    with pytest.raises(ValueError, match="eps == -1.0, must be >= 0"):
        pert.replace(eps=-1.0)
    with pytest.raises(TypeError, match="must be a theory.params.TrainingSet"):
        Perturbation((X, y, lam), "a", pert.r, y_adv, u, lam, 2.0)


def test_predict_outcome_checks_gamma_once(monkeypatch):
    """The nested calls (scenario terms, f̂, κ of f and g, B_ξ, C2's bounds) trust the γ the public
    entry point checked: one check, with or without the C2 coverage's Monte Carlo."""
    X, y, lam, y_adv, Z = _data()
    train = TrainingSet(X, y, lam)
    pert = Perturbation.predicted(train, "a", y_adv, predicted_direction(train, 0.1), lam, 1.0)
    names = []
    original = validation.check_scalar

    def counting(x, name, *args, **kwargs):
        names.append(name)
        return original(x, name, *args, **kwargs)

    monkeypatch.setattr(validation, "check_scalar", counting)
    for coverage in ("never", "always"):
        names.clear()
        predict_outcome(pert, 0.1, Z, width=2000, generator=np.random.default_rng(0), coverage=coverage,
                        n_neurons=64)
        assert names.count("gamma") == 1, (coverage, names)
