"""One trained (f, g) pair as the checks read it: its data as float64 arrays, its networks in float64,
and its theory quantities on demand.

:class:`Pair` is the one per-pair view of a run's result row: the harness hands one per valid pair to
the properties, and the conformance checks (``checks.conformance``) evaluate R1–R7 on the same view.
Theory quantities are cached properties computed from ``theory/``; nothing here re-derives the math.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from perturbation_learning.config import Config
from perturbation_learning.procedure import as_dtype
from perturbation_learning.run import RunResult
from theory import conditions, direction, formulas, lazy
from theory.params import Perturbation, TrainingSet
from theory.tolerances import CHECK_DELTA

#: δ of every per-point bound in the checks (B_0, B_E, B_ξ). P1 then allows a share 3δ.
DELTA = CHECK_DELTA


def to_float64(t) -> np.ndarray:
    """A tensor (any device, any dtype) or an array as a float64 numpy array."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().double().numpy()
    return np.asarray(t, float)


def share_where(mask: np.ndarray, wrong: np.ndarray) -> float | None:
    """The share of ``wrong`` over the entries where ``mask`` holds; None where it holds nowhere."""
    return float(wrong[mask].mean()) if mask.any() else None


def double(net):
    """A network with its parameters in float64; an implementation's own f stays its own
    (``procedure.FunctionNet``)."""
    return as_dtype(net, torch.float64)


@dataclass
class Pair:
    """One trained (f, g) pair with its data; ``run`` and ``index`` locate it in the run it came from
    (its training records: Λ, flips, losses, times). Theory quantities are cached properties."""

    config: Config
    seed: int
    X: np.ndarray
    y: np.ndarray
    Z: np.ndarray
    yz: np.ndarray
    y_adv: np.ndarray
    r: np.ndarray
    X_adv: np.ndarray
    u: np.ndarray
    lam_f: np.ndarray
    lam_g: np.ndarray
    f_net: object
    g_net: object
    f0_net: object
    g0_net: object
    flip_f: float
    flip_g: float
    eps: float
    run: RunResult
    index: int

    @classmethod
    def from_run(cls, data: RunResult, i: int, config: Config) -> "Pair":
        """Seed ``i`` of ``data``; ``config`` is the setting's (its seed set to the pair's)."""
        seed = data.seeds[i]
        return cls(config=config.replace(seed=seed), seed=seed, X=to_float64(data.X[i]), y=to_float64(data.y[i]),
                   Z=to_float64(data.Z[i]), yz=to_float64(data.yz[i]), y_adv=to_float64(data.y_adv[i]),
                   r=to_float64(data.r[i]), X_adv=to_float64(data.X_adv[i]), u=to_float64(data.u[i]),
                   lam_f=to_float64(data.f.lam[i]), lam_g=to_float64(data.g.lam[i]), f_net=double(data.f.net[i]),
                   g_net=double(data.g.net[i]), f0_net=double(data.f.net0[i]), g0_net=double(data.g.net0[i]),
                   flip_f=float(data.f.flip_fraction[i]), flip_g=float(data.g.flip_fraction[i]), eps=data.eps,
                   run=data, index=i)

    @functools.cached_property
    def prediction(self) -> dict | None:
        """The run's prediction of this pair before g (THEORY.md P5), as its result row records it."""
        return self.run.record(self.index)["prediction"]

    @property
    def predicted_g_hat(self):
        """ĝ on the test inputs, from the run's prediction (None where the run made none)."""
        preds = self.run.predictions
        return None if preds is None or preds[self.index] is None else preds[self.index].g_hat

    @property
    def gamma(self) -> float:
        return self.config.gamma

    def reported_time(self, name: str) -> float:
        """The integrated time the procedure reported for network ``name`` ('f' or 'g'): the config's
        only when its steps are constant (R4 checks which)."""
        trained = getattr(self.run, name)
        return float(trained.info.get("t_per_seed", [trained.t] * (self.index + 1))[self.index])

    def f(self, Z=None) -> np.ndarray:
        return to_float64(self.f_net(torch.as_tensor(self.Z if Z is None else Z)))

    def g(self, Z=None) -> np.ndarray:
        return to_float64(self.g_net(torch.as_tensor(self.Z if Z is None else Z)))

    @functools.cached_property
    def training_set(self) -> TrainingSet:
        """f's training set D with its Λ."""
        return TrainingSet(self.X, self.y, self.lam_f)

    @functools.cached_property
    def adversarial_set(self) -> TrainingSet:
        """g's training set D^adv with its Λ'."""
        return TrainingSet(self.X_adv, self.y_adv, self.lam_g)

    @functools.cached_property
    def grad_f(self) -> np.ndarray:
        return to_float64(self.f_net.input_grad(torch.as_tensor(self.X)))

    @functools.cached_property
    def xi(self) -> np.ndarray:
        return direction.residual_xi(self.grad_f, self.u)

    @functools.cached_property
    def kappa_f(self) -> np.ndarray:
        """Laziness index of f on the training inputs and the test inputs."""
        return lazy.laziness_index(self.training_set, np.concatenate([self.X, self.Z]), self.gamma, self.config.width)

    @functools.cached_property
    def kappa_g(self) -> np.ndarray:
        return lazy.laziness_index(self.adversarial_set, np.concatenate([self.X_adv, self.Z]), self.gamma,
                                   self.config.width)

    @functools.cached_property
    def width_f(self):
        return lazy.width_assumption(self.kappa_f)

    @functools.cached_property
    def width_g(self):
        return lazy.width_assumption(self.kappa_g)

    @property
    def inside_l2(self) -> bool:
        """L2 for f and for g (THEORY.md P1)."""
        return bool(self.width_f) and bool(self.width_g)

    @property
    def xi_ratio_max(self) -> float:
        """Largest ‖ξ_n‖ in units of its scale √E‖∇f_0‖² (the Õ(1) constant of D1)."""
        return float(np.linalg.norm(self.xi, axis=1).max() / np.sqrt(formulas.grad0_sq_mean(self.gamma)))

    @functools.cached_property
    def xi_bound(self) -> float:
        """B_ξ at δ for this width, including the finite-width term at its largest over n."""
        fw = direction.finite_width_residual_rms(self.training_set, self.gamma, self.config.width,
                                                 np.random.default_rng(self.seed))
        return float(direction.residual_bound(self.gamma, self.X.shape[1], DELTA, m=self.config.width,
                                              finite_width_rms=float(fw.max())))

    @functools.cached_property
    def conditions(self) -> "conditions.Conditions":
        """C1–C3 on the test inputs, from the data, targets, Λ, Λ', ε and γ only: r is the theory's
        r̂_n = ε y^adv_n u_n/‖u_n‖, not the network's perturbation."""
        predicted = Perturbation.predicted(self.training_set, self.config.scenario, self.y_adv, self.u, self.lam_g,
                                           self.eps)
        return conditions.evaluate_conditions(predicted, self.gamma, self.Z, DELTA,
                                              np.random.default_rng(self.seed + 1), xi_bound=self.xi_bound)

    @property
    def inside_test(self) -> np.ndarray:
        """Per test input: L2 holds for f and for g."""
        nz = len(self.Z)
        return self.width_f.inside[-nz:] & self.width_g.inside[-nz:]

    @property
    def kappa_f_max(self) -> float:
        """Largest laziness index of f over the training and test inputs."""
        return float(self.kappa_f.max())
