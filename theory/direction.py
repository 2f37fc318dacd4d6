"""Theorem 3.3: the direction of an adversarial perturbation, its residual and angle bounds.   [D1–D5]

r_n ∥ y^adv_n (u_n + ξ_n), u_n = Σ_k Λ_k y_k Φ(x_k, x_n) x_k. In the lazy regime
∇f_t(x) = ∇f_0(x) + Σ_k Λ_k y_k Φ_m(x_k, x) x_k, so
ξ_n = ∇f_0(x_n) + Σ_k Λ_k y_k (Φ_m − Φ)(x_k, x_n) x_k (+ the non-lazy error, excluded by L2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from . import formulas
from ._backend import as_tensor_like, neuron_chunks, on_accelerator, to_numpy64
from .kernel import gram
from .model import slopes
from .params import TrainingSet, check_training_set
from .tolerances import SLOPE_CONFIDENCE, THEORY_MC_NEURONS
from .validation import (check_array, check_confidence, check_consistent_length, check_delta,
                         check_gamma, check_generator, check_labels_pm1, check_nonnegative_array,
                         check_positive_array, check_positive_int, check_rows)

__all__ = ["predicted_direction", "residual_xi", "residual_bound", "finite_width_residual_rms",
           "angle_bound", "AngleBound", "transfer_angle_bound", "TransferBound", "signed_cosine",
           "loglog_slope", "SlopeFit"]


def predicted_direction(train, gamma, Xq=None):
    """u_n = Σ_k Λ_k y_k Φ(x_k, x_n) x_k.   [Theorem 3.3, paper]

    Symbols: (x_k, y_k) training set, Λ_k loss weights, Φ the kernel (K1); evaluated at the training
    inputs (default) or at query points Xq. Depends on the data and Λ, not on the initialization.
    Numerics: Φ(Xq, X) @ (Λ y ⊙ X); float64, except that a training set on an accelerator stays there
    in X's dtype (``--device cuda``: float32 on the GPU; ``theory.params``).

    Parameters
    ----------
    train : training set and loss weights (``TrainingSet``).
    gamma : float in [0, 1).
    Xq : optional (n, d) query points; default X.

    Returns
    -------
    (N, d) or (n, d) float64 array; a tensor on X's device and of X's dtype for X on an accelerator.
    """
    gamma = check_gamma(gamma)
    train = check_training_set(train)
    X = train.X
    if Xq is not None:
        Xq = check_rows(Xq, "Xq", train.d)
        Xq = as_tensor_like(Xq, X) if on_accelerator(X) else to_numpy64(Xq)
    return direction_values(train, gamma, Xq)


def direction_values(train: TrainingSet, gamma: float, Xq=None):
    """:func:`predicted_direction` on checked arguments (``Xq`` in ``train``'s backend, or None)."""
    X, y, lam = train.X, train.y, train.lam
    return gram(X if Xq is None else Xq, X, gamma) @ ((lam * y)[:, None] * X)


def residual_xi(grad_f, u):
    """ξ_n = ∇f(x_n) − u_n.   [D1, derived]

    Parameters
    ----------
    grad_f : (N, d) input gradients of the trained network (numpy or torch).
    u : (N, d) predicted directions (``predicted_direction``).

    Returns
    -------
    (N, d) float64 array.
    """
    grad_f = check_rows(grad_f, "grad_f")
    u = check_rows(u, "u", grad_f.shape[1])
    check_consistent_length(("grad_f", grad_f), ("u", u))
    return to_numpy64(grad_f) - to_numpy64(u)


def residual_bound(gamma, d, delta, *, m=None, n_points=1, finite_width_rms=None):
    """B_ξ: ‖ξ_n‖ ≤ B_ξ for n_points inputs at once, with probability ≥ 1 − δ.   [D1, derived]

    ∇f_0 part: given the first layer, ∇f_0(x) = Wᵀ(a ⊙ s) is Gaussian over a ~ N(0, I/m), so
    ‖∇f_0‖² = gᵀA g with eig(A) = eig((1/m) Σ_k s_k² w_k w_kᵀ), E‖∇f_0‖² = (1+γ²)/2 =: σ² exactly
    (s² and ‖w‖² are independent by the symmetry (w, b) → (−w, −b)). Laurent–Massart gives
    ‖∇f_0‖² ≤ tr A + 2‖λ‖₂√x + 2‖λ‖_∞x w.p. ≥ 1 − e^(−x), x = log(n_points/δ) (union bound), with
    tr A ≤ σ² + √(2x)·sd (CLT over neurons), ‖λ‖₂² ≈ σ⁴/d + (1+γ⁴)(1+2/d)/(2m) and ‖λ‖_∞ ≈
    (σ²/d)(1 + √(2d/m))² (Marchenko–Pastur edge): ``formulas.BXI_GRAD0_SQ``. At m = ∞ this is
    σ²(1 + 2√(x/d) + 2x/d) → σ² as d grows: ‖ξ‖ ≈ 0.71 for ReLU, independent of d, N, t.

    Finite-width part: Σ_k Λ_k y_k (Φ_m − Φ)(x_k, x_n) x_k is even in a, uncorrelated with ∇f_0, with
    E‖·‖² = (3E[s(x_n)²‖v‖²] − ‖u_n‖²)/m (``finite_width_residual_rms``); it grows like ‖u_n‖/√m, i.e.
    with t, so D1's "does not grow with t" holds only while it is small. When its rms is given, δ is
    split in half and it enters by the triangle inequality with the rank-one Laurent–Massart
    multiplier √(1 + 2√x + 2x) (its covariance may be concentrated on the data's directions).
    The non-lazy error of f is not included: the bound is asserted inside L2 only.

    Parameters
    ----------
    gamma : float in [0, 1).
    d : input dimension, int ≥ 1.
    delta : failure probability in (0, 1).
    m : width (int ≥ 1) or None for m = ∞.
    n_points : number of inputs covered simultaneously (union bound), int ≥ 1.
    finite_width_rms : optional float or (n,) array of the finite-width term's rms.

    Returns
    -------
    float, or (n,) float64 array when ``finite_width_rms`` is an array.
    """
    gamma = check_gamma(gamma)
    d = check_positive_int(d, "d")
    delta = check_delta(delta)
    m_val = math.inf if m is None else check_positive_int(m, "m")
    n_points = check_positive_int(n_points, "n_points")
    if finite_width_rms is not None:
        finite_width_rms = check_nonnegative_array(np.asarray(to_numpy64(finite_width_rms)), "finite_width_rms")
    return residual_bound_value(gamma, d, delta, m_val, n_points, finite_width_rms)


def residual_bound_value(gamma: float, d: int, delta: float, m: float, n_points: int, finite_width_rms=None):
    """:func:`residual_bound` on checked arguments (``m``: math.inf for m = ∞; ``finite_width_rms``: None
    or a float64 array)."""
    if finite_width_rms is None:
        return float(math.sqrt(formulas.bxi_grad0_sq(gamma, d, m, delta, n_points)))
    base = math.sqrt(formulas.bxi_grad0_sq(gamma, d, m, delta / 2, n_points))
    out = base + finite_width_rms * float(formulas.rank_one_multiplier(delta / 2, n_points))
    return float(out) if out.ndim == 0 else out


def finite_width_residual_rms(train, gamma, m, generator, Xq=None, *, n_neurons=THEORY_MC_NEURONS):
    """rms of Σ_k Λ_k y_k (Φ_m − Φ)(x_k, x) x_k = √((3·E[s(w·x+b)²‖v‖²] − ‖u(x)‖²)/m),
    v(w, b) = Σ_k Λ_k y_k s(w·x_k + b) x_k.   [D1, derived]

    Φ_m(x_k, x) = Σ_j a_j² s_j(x_k) s_j(x) with m i.i.d. neurons, E[a_j⁴] = 3/m²; the expectation over
    (w, b) is a Monte Carlo over ``n_neurons`` fresh neurons (a theory quantity, no trained network).

    Parameters
    ----------
    train : training set and loss weights (``TrainingSet``).
    gamma : float in [0, 1).
    m : width of the network, int ≥ 1.
    generator : numpy or torch generator.
    Xq : optional (n, d) query points; default X.
    n_neurons : Monte Carlo neurons.

    Returns
    -------
    (N,) or (n,) float64 array.
    """
    gamma = check_gamma(gamma)
    m = check_positive_int(m, "m")
    n_neurons = check_positive_int(n_neurons, "n_neurons")
    generator = check_generator(generator)
    train = check_training_set(train).on_cpu()
    Xq = train.X if Xq is None else to_numpy64(check_rows(Xq, "Xq", train.d))
    return finite_width_rms_values(train, gamma, m, generator, Xq, n_neurons)


def finite_width_rms_values(train: TrainingSet, gamma: float, m: int, generator, Xq: np.ndarray,
                            n_neurons: int) -> np.ndarray:
    """:func:`finite_width_residual_rms` on checked arguments (float64 numpy ``train`` and ``Xq``)."""
    X, y, lam = train.X, train.y, train.lam
    N, d = X.shape
    u = direction_values(train, gamma, Xq)
    LX = (lam * y)[:, None] * X
    acc = np.zeros(Xq.shape[0])
    for W, b in neuron_chunks(generator, n_neurons, d, N + Xq.shape[0], X):
        S = slopes(X @ W.T + b, gamma)                              # (N, J)
        v2 = ((S.T @ LX) ** 2).sum(1)                               # ‖v_j‖², (J,)
        Sq = slopes(Xq @ W.T + b, gamma)
        acc += (Sq * Sq) @ v2
    second = acc / n_neurons
    return np.sqrt(np.maximum(3.0 * second - (u * u).sum(1), 0.0) / m)


@dataclass(frozen=True)
class AngleBound:
    """D2 lower bound on the cosine; ``cos`` is NaN where ``valid`` is False (B_ξ ≥ ‖u_n‖)."""

    cos: np.ndarray | float
    valid: np.ndarray | bool


def angle_bound(xi_bound, u_norm):
    """cos(r_n, y^adv_n u_n) ≥ √(1 − B_ξ²/‖u_n‖²) whenever B_ξ < ‖u_n‖.   [D2, derived]

    r_n ∥ y^adv_n(u_n + ξ_n) and ‖ξ_n‖ ≤ B_ξ < ‖u_n‖ ⇒ sin ∠(u_n + ξ_n, u_n) ≤ B_ξ/‖u_n‖. Use a residual
    bound from the theory (``residual_bound``), not the measured ‖ξ_n‖ (a tautology).

    Parameters
    ----------
    xi_bound : float or array B_ξ ≥ 0.
    u_norm : float or array ‖u_n‖ ≥ 0 (broadcast with xi_bound).

    Returns
    -------
    AngleBound(cos, valid): cos NaN where B_ξ ≥ ‖u_n‖ (the premise, C1, fails).
    """
    B = check_nonnegative_array(np.asarray(to_numpy64(xi_bound)), "xi_bound")
    U = check_nonnegative_array(np.asarray(to_numpy64(u_norm)), "u_norm")
    B, U = np.broadcast_arrays(B, U)
    valid = B < U
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(valid, formulas.angle_cos_bound(B, np.where(valid, U, 1.0)), np.nan)
    if cos.ndim == 0:
        return AngleBound(float(cos), bool(valid))
    return AngleBound(cos, valid)


@dataclass(frozen=True)
class TransferBound:
    """D5 bound: angle(r_n, r'_n) ≤ ``angle`` (radians), so cos(r_n, r'_n) ≥ ``cos``; NaN where invalid."""

    angle: np.ndarray | float
    cos: np.ndarray | float
    valid: np.ndarray | bool


def transfer_angle_bound(xi_bound, u_norm, xi_bound_prime=None):
    """angle(r_n, r'_n) ≤ asin(B_ξ/‖u_n‖) + asin(B'_ξ/‖u_n‖).   [D5, derived corollary]

    Two networks trained on the same data from independent initializations share u_n (same Λ, e.g.
    identity loss and equal t), and each r is within asin(B/‖u_n‖) of y^adv_n u_n (D2); the triangle
    inequality for angles gives the sum. With different Λ (logistic loss) add ∠(u_n, u'_n) yourself.

    Parameters
    ----------
    xi_bound : B_ξ of f (float or array).
    u_norm : ‖u_n‖.
    xi_bound_prime : B'_ξ of f'; default equal to B_ξ.

    Returns
    -------
    TransferBound(angle, cos, valid); NaN where B_ξ or B'_ξ ≥ ‖u_n‖.
    """
    B = check_nonnegative_array(np.asarray(to_numpy64(xi_bound)), "xi_bound")
    B2 = B if xi_bound_prime is None else check_nonnegative_array(
        np.asarray(to_numpy64(xi_bound_prime)), "xi_bound_prime")
    U = check_nonnegative_array(np.asarray(to_numpy64(u_norm)), "u_norm")
    B, B2, U = np.broadcast_arrays(B, B2, U)
    valid = (B < U) & (B2 < U)
    Us = np.where(valid, U, 1.0)
    angle = np.where(valid, formulas.transfer_angle(np.where(valid, B, 0), np.where(valid, B2, 0), Us),
                     np.nan)
    cos = np.cos(angle)
    if angle.ndim == 0:
        return TransferBound(float(angle), float(cos), bool(valid))
    return TransferBound(angle, cos, valid)


def signed_cosine(r, y_adv, u):
    """cos(r_n, y^adv_n u_n), keeping the sign (D3); NaN where r_n or u_n is 0.   [D3, paper]

    The official code's mean |cos| cannot see a sign error; this can.

    Parameters
    ----------
    r : (N, d) perturbations; y_adv : (N,) targets in ±1; u : (N, d) predicted directions.

    Returns
    -------
    (N,) float64.
    """
    r = check_rows(r, "r")
    u = check_rows(u, "u", r.shape[1])
    y_adv = check_labels_pm1(y_adv, "y_adv")
    check_consistent_length(("r", r), ("y_adv", y_adv), ("u", u))
    r, u, ya = to_numpy64(r), to_numpy64(u), to_numpy64(y_adv)
    num = ya * (r * u).sum(1)
    den = np.linalg.norm(r, axis=1) * np.linalg.norm(u, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


@dataclass(frozen=True)
class SlopeFit:
    """OLS fit log y = intercept + slope·log x with a t-interval for the slope."""

    slope: float
    intercept: float
    ci_low: float
    ci_high: float
    stderr: float
    n: int
    confidence: float

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    def contains(self, value: float) -> bool:
        return self.ci_low <= value <= self.ci_high


def loglog_slope(x, y, confidence=SLOPE_CONFIDENCE):
    """Slope of log y against log x by least squares, with a Student-t confidence interval.   [D4, K3]

    Numerics: natural logs (the slope does not depend on the base); n − 2 degrees of freedom;
    repeated x values (several seeds per setting) are allowed.

    Parameters
    ----------
    x, y : 1-D arrays of equal length n ≥ 3, entries > 0, at least two distinct x.
    confidence : level of the interval, in (0, 1).

    Returns
    -------
    SlopeFit(slope, intercept, ci_low, ci_high, stderr, n, confidence).
    """
    confidence = check_confidence(confidence)
    x = check_positive_array(np.asarray(to_numpy64(check_array(x, "x", ndim=1))), "x")
    y = check_positive_array(np.asarray(to_numpy64(check_array(y, "y", ndim=1))), "y")
    check_consistent_length(("x", x), ("y", y))
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"x has {n} points, must have >= 3 for a slope with a confidence interval")
    lx, ly = np.log(x), np.log(y)
    sxx = ((lx - lx.mean()) ** 2).sum()
    if sxx <= 0:
        raise ValueError("x has a single distinct value, must have >= 2 for a slope")
    slope = ((lx - lx.mean()) * (ly - ly.mean())).sum() / sxx
    intercept = ly.mean() - slope * lx.mean()
    resid = ly - intercept - slope * lx
    stderr = math.sqrt((resid ** 2).sum() / (n - 2) / sxx)
    q = stats.t.ppf(0.5 + confidence / 2, n - 2)
    return SlopeFit(float(slope), float(intercept), float(slope - q * stderr), float(slope + q * stderr),
                    float(stderr), int(n), confidence)
