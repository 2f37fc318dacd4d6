"""The lazy regime: linearized and kernel predictors, and the width assumption made explicit.   [L1, L2]

Gradient flow on L = (1/N) Σ_n ℓ(−y_n f(x_n)) with the readout a fixed moves w_k by
a_k Σ_n Λ_n y_n s_k(x_n) x_n and b_k by a_k Σ_n Λ_n y_n s_k(x_n), Λ_n = (1/N)∫ℓ'(−y_n f_τ(x_n))dτ.
With the activation patterns frozen at initialization and φ(u) = s(u)·u this gives L1. L2 measures how
far the update moves a pre-activation relative to its scale, which bounds how many patterns flip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import formulas
from ._backend import to_numpy64
from .kernel import gram
from .model import leaky_relu, readout, slopes
from .params import TrainingSet, check_training_set
from .tolerances import FLIP_FRACTION_MAX
from .validation import (check_array, check_consistent_length, check_gamma, check_nonnegative_array,
                         check_queries, check_rows, check_scalar, check_positive_int)

__all__ = ["linearized_predictor", "kernel_predictor", "laziness_index", "predicted_flip_fraction", "lazy_error",
           "predicted_displacement", "width_assumption", "WidthAssumption", "network_output", "FLIP_FRACTION_MAX", "KAPPA_MAX"]

#: L2: κ_max = tan(π·FLIP_FRACTION_MAX) ≈ 0.325, the κ whose predicted flip fraction atan(κ)/π
#: (``predicted_flip_fraction``) equals the threshold FLIP_FRACTION_MAX (``theory.tolerances``, with its
#: reason). Derived here, not set: it moves with the threshold through L2's formula, and tolerances stays
#: free of sympy, so that the procedure imports it cheaply.
KAPPA_MAX = float(formulas.kappa_of_flip(FLIP_FRACTION_MAX))


def network_output(W, b, a, gamma, Z):
    """f(z) = Σ_k a_k φ(w_k·z + b_k), φ(u) = max(u, γu) = s(u)·u.   [§1, paper]

    Parameters
    ----------
    W (m, d), b (m,), a (m,) : parameters (numpy or torch; evaluated in float64 numpy).
    gamma : float in [0, 1).
    Z : (n, d) inputs or one (d,) input.

    Returns
    -------
    (n,) float64 array (float for one input).
    """
    gamma = check_gamma(gamma)
    W = check_rows(W, "W")
    b = check_array(b, "b", ndim=1)
    a = check_array(a, "a", ndim=1)
    check_consistent_length(("W", W), ("b", b), ("a", a))
    W, b, a = to_numpy64(W), to_numpy64(b), to_numpy64(a)
    Z, single = check_queries(Z, W.shape[1])
    out = readout(leaky_relu(Z @ W.T + b, gamma), a)
    return float(out[0]) if single else out


def _initial_layer(W0, b0, a, gamma, train):
    """The checked (γ, training set on the CPU, W0, b0, a as float64) of the lazy predictions."""
    gamma = check_gamma(gamma)
    train = check_training_set(train).on_cpu()
    W0 = check_rows(W0, "W0", train.X.shape[1])
    b0 = check_array(b0, "b0", ndim=1)
    a = check_array(a, "a", ndim=1)
    check_consistent_length(("W0", W0), ("b0", b0), ("a", a))
    return gamma, train, to_numpy64(W0), to_numpy64(b0), to_numpy64(a)


def linearized_predictor(W0, b0, a, gamma, train, Z):
    """f_t(z) ≈ f_0(z) + Σ_n Λ_n y_n Φ_m(x_n, z)(x_n·z + 1).   [L1, derived]

    Symbols: W0, b0 the *initial* first layer, a the fixed readout; Φ_m(x, z) = Σ_k a_k² s_k(x) s_k(z)
    from the initial patterns; Λ_n the loss weights (identity loss: Λ_n = t/N exactly; otherwise as
    accumulated by the trainer, Σ_steps η ℓ'(·)/N). The "+1" is the bias's share of the update.
    Numerics: float64 numpy; O(N·n_z·m).

    Parameters
    ----------
    W0 (m, d), b0 (m,), a (m,) : initial parameters.
    gamma : float in [0, 1).
    train : f's training set and loss weights (``TrainingSet``).
    Z : (n, d) query inputs, or one (d,) input.

    Returns
    -------
    (n,) float64 (float for one input).
    """
    gamma, train, W0, b0, a = _initial_layer(W0, b0, a, gamma, train)
    X, y, lam = train.X, train.y, train.lam
    Z, single = check_queries(Z, X.shape[1])
    Hz = Z @ W0.T + b0
    f0 = readout(Hz * slopes(Hz, gamma), a)                         # f_0(z), as network_output
    Sx = slopes(X @ W0.T + b0, gamma)
    Sz = slopes(Hz, gamma)
    Phi_m = (Sx * (a * a)) @ Sz.T                                   # (N, n)
    out = f0 + ((lam * y)[:, None] * Phi_m * (X @ Z.T + 1)).sum(0)
    return float(out[0]) if single else out


def predicted_displacement(W0, b0, a, gamma, train):
    """ΔW_k = a_k Σ_n Λ_n y_n s_k(x_n) x_n and Δb_k = a_k Σ_n Λ_n y_n s_k(x_n).   [L1, derived]

    The first-layer update of gradient flow with the readout fixed and the patterns s_k(x_n) frozen at
    initialization: −∂L/∂w_k = (1/N) Σ_n ℓ'(−y_n f(x_n)) y_n a_k s_k(x_n) x_n integrated over time, the
    ℓ'/N weights summed into Λ_n. It is L1's prediction before it is evaluated at z: f_t − f_0 of L1 is
    Σ_k a_k s_k(z)(Δw_k·z + Δb_k), so the "+1" of (x_n·z + 1) is Δb's share. Exact (up to rounding)
    for the identity loss while no pattern flips, at any step and heavy-ball β (Λ then carries the
    momentum weights).

    Parameters
    ----------
    W0 (m, d), b0 (m,), a (m,) : initial parameters.
    gamma : float in [0, 1).
    train : the network's training set with its Λ (``TrainingSet``).

    Returns
    -------
    (ΔW (m, d), Δb (m,)) float64.
    """
    gamma, train, W0, b0, a = _initial_layer(W0, b0, a, gamma, train)
    X, y, lam = train.X, train.y, train.lam
    S = slopes(X @ W0.T + b0, gamma)                                # (N, m), initial patterns
    c = lam * y
    return a[:, None] * (S.T @ (c[:, None] * X)), a * (S.T @ c)


def lazy_error(actual, linearized, initial):
    """‖f_t − lin‖ / ‖lin − f_0‖ over a set of inputs, capped at 1: L1's relative error.   [L1, derived]

    The denominator is the *predicted* update lin − f_0 (``linearized_predictor`` minus f_0), known
    before training from the data, Λ and the initial network. Measured against the observed update
    ‖f_t − f_0‖ instead, a network that never moved (f_t = f_0) would have error 0/0, read as 0, and
    pass; here it has error exactly 1, as has a network that moved while no update was predicted.
    Where the error is small the two forms agree to first order (‖f_t − f_0‖ = ‖lin − f_0‖ ± ‖f_t − lin‖,
    so a ratio r of one form is at most r/(1 − r) of the other). The cap keeps the value in [0, 1], as
    the tests over pairs need, and is conservative: a capped error is still above any bound below 1.

    Parameters
    ----------
    actual, linearized, initial : (n,) values of f_t, of f_0 plus the lazy update, and of f_0 on
    the same inputs (numpy or torch; compared in float64).

    Returns
    -------
    float in [0, 1]; None where nothing was predicted and nothing moved (lin = f_0 = f_t): L1 then
    holds trivially and says nothing.
    """
    actual, linearized, initial = (to_numpy64(check_array(v, name, ndim=1)) for v, name in
                                   ((actual, "actual"), (linearized, "linearized"), (initial, "initial")))
    check_consistent_length(("actual", actual), ("linearized", linearized), ("initial", initial))
    predicted = float(np.linalg.norm(linearized - initial))
    error = float(np.linalg.norm(actual - linearized))
    if predicted == 0.0:
        return None if error == 0.0 else 1.0
    return min(error / predicted, 1.0)


def kernel_predictor(train, Z, gamma):
    """f̂(z) = Σ_n Λ_n y_n Φ(x_n, z)(x_n·z + 1).   [L1, derived]

    The infinite-width, f_0-free part of L1: the predictor of the paper's decision maps, keeping the
    "+1" and the Λ weights that the official code drops.

    Parameters
    ----------
    train : training set and loss weights (``TrainingSet``).
    Z : (n, d) queries or one (d,) query.
    gamma : float in [0, 1).

    Returns
    -------
    (n,) float64 (float for one query).
    """
    gamma = check_gamma(gamma)
    train = check_training_set(train).on_cpu()
    Z, single = check_queries(Z, train.d)
    out = kernel_values(train, Z, gamma)
    return float(out[0]) if single else out


def kernel_values(train: TrainingSet, Z: np.ndarray, gamma: float) -> np.ndarray:
    """:func:`kernel_predictor` on checked arguments (float64 numpy ``train`` and (n, d) ``Z``)."""
    X, y, lam = train.X, train.y, train.lam
    K = gram(X, Z, gamma)                                           # (N, n)
    return ((lam * y)[:, None] * K * (X @ Z.T + 1)).sum(0)


def laziness_index(train, Z, gamma, m):
    """κ(z) = rms_k Δ_k(z) / √(‖z‖²/d + 1),
    rms² = (1/m) Σ_{n,n'} Λ_n Λ_n' y_n y_n' Φ(x_n, x_n')(x_n·z + 1)(x_n'·z + 1).   [L2, derived]

    Symbols: Δ_k(z) = a_k Σ_n Λ_n y_n s_k(x_n)(x_n·z + 1), the change of neuron k's pre-activation at z
    predicted by L1; its mean square over a_k ~ N(0, 1/m) and (w_k, b_k) is rms² above (exact in
    expectation, since E a_k² = 1/m and E[s(x_n)s(x_n')] = Φ). √(‖z‖²/d + 1) is the standard deviation
    of the initial pre-activation w·z + b. Computable before training.
    Numerics: float64. With c(z) = Λy ⊙ (X̃ z̃), X̃ = [X, 1], z̃ = (z, 1): rms² = z̃ᵀ M z̃ / m with
    M = (Λy ⊙ X̃)ᵀ Φ(X, X) (Λy ⊙ X̃) of size (d+1)², in O(N²·d + n·d²), used when d + 1 < n;
    otherwise the N × n form c(z)ᵀ Φ c(z), O(N²·n).

    Parameters
    ----------
    train : training set and loss weights (``TrainingSet``; identity loss: Λ = t/N).
    Z : (n, d) inputs (training or test) or one (d,) input.
    gamma : float in [0, 1).
    m : width, int ≥ 1.

    Returns
    -------
    (n,) float64 κ values (float for one input).
    """
    gamma = check_gamma(gamma)
    m = check_positive_int(m, "m")
    train = check_training_set(train).on_cpu()
    Z, single = check_queries(Z, train.d)
    kappa = laziness_values(train, Z, gamma, m)
    return float(kappa[0]) if single else kappa


def laziness_values(train: TrainingSet, Z: np.ndarray, gamma: float, m: int) -> np.ndarray:
    """:func:`laziness_index` on checked arguments (float64 numpy ``train`` and (n, d) ``Z``)."""
    X, y, lam = train.X, train.y, train.lam
    d = X.shape[1]
    G = gram(X, X, gamma)
    if d + 1 < len(Z):
        A = (lam * y)[:, None] * np.hstack([X, np.ones((len(X), 1))])  # (N, d+1)
        M = A.T @ (G @ A)
        Zt = np.hstack([Z, np.ones((len(Z), 1))])
        quad = ((Zt @ M) * Zt).sum(1)
    else:
        Cz = (lam * y)[:, None] * (X @ Z.T + 1)                     # c_n(z), (N, n)
        quad = (Cz * (G @ Cz)).sum(0)
    rms2 = np.maximum(quad, 0.0) / m
    return np.sqrt(rms2) / np.sqrt((Z * Z).sum(1) / d + 1)


def predicted_flip_fraction(kappa):
    """P(sgn(h + Δ) ≠ sgn h) = atan(κ)/π ≈ κ/π for small κ.   [L2, derived]

    Derivation: over the neurons, the initial pre-activation h ~ N(0, σ²) and, given the first layer,
    its update Δ = a_k·M_k is symmetric (a_k ~ N(0, 1/m) is independent of (w_k, b_k)); model Δ as
    N(0, κ²σ²) independent of h. A pattern flips iff |Δ| > |h| *and* Δ has the sign opposite to h.
    (h, Δ/κ) is isotropic, so P(|Δ| > |h|) = P(|h|/|Δ/κ| < κ) = (2/π)·atan κ (half-Cauchy ratio), and
    the sign condition halves it: (1/π)·atan κ. The (2/π)·atan κ form counts updates that *could* flip
    h in magnitude regardless of direction. Approximate: Δ is a Gaussian scale mixture and weakly
    dependent on h through s_k(x_n); the measured flip share is the check.

    Parameters
    ----------
    kappa : float or array of κ ≥ 0.

    Returns
    -------
    Same shape, in [0, 1/2).
    """
    if np.ndim(kappa) == 0:
        k = float(check_scalar(kappa, "kappa", min_val=0.0, note="laziness index"))
        return float(formulas.flip_fraction(k))
    k = check_nonnegative_array(np.asarray(to_numpy64(kappa)), "kappa")
    return formulas.flip_fraction(k)


@dataclass(frozen=True)
class WidthAssumption:
    """Verdict of L2. ``verdict`` is "inside" iff every κ ≤ κ_max; ``inside`` is the per-input mask."""

    verdict: str
    kappa_max: float
    value: float                 # max κ over the inputs
    inside: np.ndarray           # per-input κ ≤ κ_max
    predicted_flip: float        # predicted flip fraction at the max κ
    share_inside: float

    def __bool__(self) -> bool:
        return self.verdict == "inside"


def width_assumption(kappa, kappa_max=KAPPA_MAX):
    """L2 holds at z iff κ(z) ≤ κ_max (default KAPPA_MAX = tan(0.1π) ≈ 0.325).   [L2, derived]

    Outside, the theory's claims are only reported, marked "outside the width assumption".

    Parameters
    ----------
    kappa : float or array of laziness indices (``laziness_index``).
    kappa_max : threshold > 0.

    Returns
    -------
    WidthAssumption(verdict "inside"/"outside", kappa_max, value = max κ, inside mask, predicted_flip,
    share_inside); truthy iff inside.
    """
    kappa_max = float(check_scalar(kappa_max, "kappa_max", min_val=0.0, include_boundaries="neither",
                                   note="laziness threshold"))
    k = check_nonnegative_array(np.atleast_1d(to_numpy64(kappa)), "kappa")
    inside = k <= kappa_max
    value = float(k.max()) if k.size else 0.0
    return WidthAssumption(verdict="inside" if bool(inside.all()) else "outside",
                           kappa_max=kappa_max, value=value, inside=inside,
                           predicted_flip=float(formulas.flip_fraction(value)),
                           share_inside=float(inside.mean()) if k.size else 1.0)
