"""The model of THEORY.md §1 in its smallest pieces, shared by the theory and the procedure.   [§1]

f(x) = Σ_k a_k φ(w_k·x + b_k), φ(u) = max(u, γu) = s(u)·u, s = φ′ ∈ {γ, 1}; the decision is sgn f;
g learns from x^adv_n = r_n (Scenario "a") or x_n + r_n ("b"). Every function works on numpy arrays
and torch tensors alike and keeps the backend; none imports sympy or scipy, so the procedure can
import this module cheaply.

Conventions at 0 (one for the whole project): s(0) = γ and sgn(0) = −1. Both read "u > 0" as the
active/positive side, as the official code does (``u > 0`` for the patterns, ``f > 0`` for the class).
The exact value 0 has probability zero under the continuous draws of the data and networks.
"""

from __future__ import annotations

import numpy as np

from ._backend import is_tensor, torch
from .validation import check_gamma

__all__ = ["SCENARIOS", "leaky_derivative", "slopes", "leaky_relu", "readout", "sign_pm1", "scenario_inputs"]

#: "a": g learns from r_n alone; "b": from x_n + r_n.
SCENARIOS = ("a", "b")


def leaky_derivative(u, gamma):
    """s(u) = 1 if u > 0 else γ, the derivative of the leaky ReLU φ(u) = max(u, γu).   [§1, paper]

    Symbols: u pre-activations (any shape, numpy or torch); γ ∈ [0, 1).
    Numerics: s(0) = γ. Returns the backend and floating dtype of ``u``; a tensor result carries no
    gradient (s is piecewise constant). Torch: relu(u).sign() rather than a ``where``, which is about
    ten times slower on CPU in the training loop.
    """
    return slopes(u, check_gamma(gamma))


def slopes(u, gamma):
    """:func:`leaky_derivative` with γ already checked: for nested calls, whose caller validated γ once."""
    if is_tensor(u):
        u = u.detach()
        S = torch.relu(u if u.dtype.is_floating_point else u.to(torch.float64)).sign_()
        if gamma:
            S.mul_(1.0 - gamma).add_(gamma)
        return S
    u = np.asarray(u)
    dt = u.dtype if u.dtype in (np.float32, np.float64) else np.float64
    return np.where(u > 0, dt.type(1.0), dt.type(gamma)).astype(dt, copy=False)


def leaky_relu(u, gamma):
    """φ(u) = max(u, γu), written as s(u)·u so that its bits equal the trainer's.   [§1, paper]"""
    return u * leaky_derivative(u, gamma)


def readout(act, a):
    """Σ_k a_k act[…, n, k], shape (…, N), for act (…, N, m) and a (…, m).

    Torch: an elementwise product and a last-axis sum. A matrix-vector product would be shorter,
    but CPU BLAS orders its sums by the operands' memory alignment, so one network's output would
    depend on its position in a batch (see ``perturbation_learning.network``). Numpy: ``act @ a``
    (unbatched a only).
    """
    if is_tensor(act):
        return (act * a.unsqueeze(-2)).sum(-1)
    return act @ a


def sign_pm1(v):
    """sgn v ∈ {−1, +1} with sgn(0) = −1: +1 where v > 0, else −1 (NaN → −1).

    Returns the backend of ``v``: its floating dtype, or float64 for integer input.
    """
    if is_tensor(v):
        dt = v.dtype if v.dtype.is_floating_point else torch.float64
        return torch.where(v > 0, 1.0, -1.0).to(dt)
    v = np.asarray(v)
    dt = v.dtype if v.dtype in (np.float32, np.float64) else np.float64
    return np.where(v > 0, 1.0, -1.0).astype(dt)


def scenario_inputs(scenario, X, r):
    """x^adv_n = r_n (Scenario "a") or x_n + r_n ("b"), any backend and batch shape.

    No checks: ``theory.conditions.adversarial_inputs`` is the validated entry point.
    """
    return r if scenario == "a" else X + r
