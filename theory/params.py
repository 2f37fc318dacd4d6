"""The parameter objects of the theory: f's training set with its Λ, and a perturbation of it.   [§1]

Each is a frozen dataclass validated once, in ``__post_init__`` (as ``perturbation_learning.config.Config``
is): the public functions of ``theory`` take them and pass them on, and the nested calls trust them
(scikit-learn's ``prefer_skip_nested_validation`` habit). Arrays are stored as float64 numpy arrays,
except that torch tensors on an accelerator stay there, in X's dtype (``--device cuda``: float32 on
the GPU); :meth:`TrainingSet.on_cpu` gives the float64 numpy copy the numpy functions work on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ._backend import as_tensor_like, on_accelerator, to_numpy64
from .model import SCENARIOS, scenario_inputs
from .validation import (check_choice, check_consistent_length, check_eps, check_labels_pm1,
                         check_nonnegative_array, check_rows)

__all__ = ["TrainingSet", "Perturbation", "predicted_perturbation", "check_training_set", "check_perturbation"]


def _trusted(cls, **values):
    """An instance of the frozen dataclass ``cls`` from values already checked (no ``__post_init__``)."""
    obj = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(obj, name, value)
    return obj


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """D = {(x_n, y_n)} with its loss weights Λ_n: X (N, d), y (N,) ±1, lam (N,) ≥ 0.   [§1]

    f's training set with Λ as the trainer records it (identity loss: t/N); g's, D^adv with Λ', is one
    too. Numpy or torch input; see the module docstring for how it is stored.
    """

    X: np.ndarray
    y: np.ndarray
    lam: np.ndarray

    def __post_init__(self):
        X = check_rows(self.X, "X")
        y = check_labels_pm1(self.y, "y")
        lam = check_nonnegative_array(self.lam, "lam", ndim=1)
        check_consistent_length(("X", X), ("y", y), ("lam", lam))
        if on_accelerator(X):
            y, lam = as_tensor_like(y, X), as_tensor_like(lam, X)
        else:
            X, y, lam = to_numpy64(X), to_numpy64(y), to_numpy64(lam)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "lam", lam)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    def on_cpu(self) -> "TrainingSet":
        """This set as float64 numpy arrays (itself when it is already)."""
        if isinstance(self.X, np.ndarray):
            return self
        return _trusted(TrainingSet, X=to_numpy64(self.X), y=to_numpy64(self.y), lam=to_numpy64(self.lam))


def predicted_perturbation(u, y_adv, eps):
    """r̂_n = ε y^adv_n u_n/‖u_n‖ (0 where u_n = 0): Theorem 3.3 with ξ_n dropped.   [D1–D3, paper]

    Use it where ĝ must not depend on f's particular random network.

    Returns
    -------
    (N, d) float64.
    """
    u = to_numpy64(check_rows(u, "u"))
    y_adv = to_numpy64(check_labels_pm1(y_adv, "y_adv"))
    eps = check_eps(eps)
    check_consistent_length(("u", u), ("y_adv", y_adv))
    return _predicted_perturbation(u, y_adv, eps)


def _predicted_perturbation(u, y_adv, eps):
    uhat, _ = unit_rows(u)
    return eps * y_adv[:, None] * uhat


def unit_rows(u):
    """(u_n/‖u_n‖, ‖u_n‖), with a zero direction where u_n = 0 (untrained f: no signal)."""
    norm = np.linalg.norm(u, axis=1)
    safe = np.where(norm > 0, norm, 1.0)
    return np.where((norm > 0)[:, None], u / safe[:, None], 0.0), norm


@dataclass(frozen=True, eq=False)
class Perturbation:
    """g's training data built from f's: D^adv = {(x^adv_n, y^adv_n)} with Λ'.   [§1, C1–C3]

    ``train``: f's training set D with Λ (float64 numpy); ``scenario``: "a" (x^adv_n = r_n) or "b"
    (x_n + r_n); ``r`` (N, d): the perturbations; ``y_adv`` (N,) ±1: the targets; ``u`` (N, d): the
    predicted directions u_n (``theory.direction.predicted_direction``); ``lam_g`` (N,) ≥ 0: Λ' of g;
    ``eps`` ≥ 0: the perturbation norm. ``network_free``: r is the theory's r̂ (:meth:`predicted`),
    so nothing of f's particular network enters.
    """

    train: TrainingSet
    scenario: str
    r: np.ndarray
    y_adv: np.ndarray
    u: np.ndarray
    lam_g: np.ndarray
    eps: float
    network_free: bool = False

    def __post_init__(self):
        train = check_training_set(self.train).on_cpu()
        check_choice(self.scenario, "scenario", SCENARIOS)
        values = dict(train=train, r=to_numpy64(check_rows(self.r, "r", train.d)),
                      y_adv=to_numpy64(check_labels_pm1(self.y_adv, "y_adv")),
                      u=to_numpy64(check_rows(self.u, "u", train.d)),
                      lam_g=to_numpy64(check_nonnegative_array(self.lam_g, "lam_g", ndim=1)), eps=check_eps(self.eps))
        check_consistent_length(("X", train.X), ("r", values["r"]), ("y_adv", values["y_adv"]), ("u", values["u"]),
                                ("lam_g", values["lam_g"]))
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def predicted(cls, train: TrainingSet, scenario, y_adv, u, lam_g, eps) -> "Perturbation":
        """The network-free perturbation r̂_n = ε y^adv_n u_n/‖u_n‖ (:func:`predicted_perturbation`)."""
        pert = cls(train, scenario, u, y_adv, u, lam_g, eps)  # r = u only to be checked once with the rest
        object.__setattr__(pert, "r", _predicted_perturbation(pert.u, pert.y_adv, pert.eps))
        object.__setattr__(pert, "network_free", True)
        return pert

    @property
    def x_adv(self) -> np.ndarray:
        """x^adv_n = r_n (Scenario "a") or x_n + r_n ("b")."""
        return scenario_inputs(self.scenario, self.train.X, self.r)

    @property
    def adversarial_set(self) -> TrainingSet:
        """D^adv with Λ': g's training set."""
        return _trusted(TrainingSet, X=self.x_adv, y=self.y_adv, lam=self.lam_g)

    def replace(self, **changes) -> "Perturbation":
        """A copy with ``changes``, validated again."""
        return dataclasses.replace(self, **changes)


def check_training_set(train, name: str = "train") -> TrainingSet:
    """``train`` if it is a :class:`TrainingSet` (checked when it was made); a TypeError otherwise."""
    if not isinstance(train, TrainingSet):
        raise TypeError(f"{name} must be a theory.params.TrainingSet, got {type(train).__name__}")
    return train


def check_perturbation(pert, name: str = "perturbation") -> Perturbation:
    """``pert`` if it is a :class:`Perturbation` (checked when it was made); a TypeError otherwise."""
    if not isinstance(pert, Perturbation):
        raise TypeError(f"{name} must be a theory.params.Perturbation, got {type(pert).__name__}")
    return pert
