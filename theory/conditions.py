"""Perturbation learning (Theorems 3.4, 3.5): the predicted decision of g and conditions C1–C3.   [C1–C3, P1, P2]

g is trained on D^adv = {(x^adv_n, y^adv_n)}, x^adv_n = r_n (Scenario "a") or x_n + r_n ("b"), with
r_n = ε y^adv_n v_n, v_n = (u_n + ξ_n)/‖u_n + ξ_n‖. In L1 for g the label enters as
y^adv_n (x^adv_n·z + 1) and (y^adv_n)² = 1 cancels the wrong label (``label_cancellation``):

    g(z) ≈ g_0(z) + S(z) + N(z) + E(z),
    S(z) = ε Σ_n Λ'_n Φ(x^adv_n, z)(u_n·z)/‖u_n‖                      (signal)
    N(z) = Σ_n Λ'_n y^adv_n Φ(x^adv_n, z) b_n(z),  b_n = 1 (a), x_n·z + 1 (b)   (label noise)

ĝ = S + N is computed before g is trained, with ‖u_n‖ in place of ‖u_n + ξ_n‖; E (the ξ_n·z terms
and g's lazy error) is bounded by B_E. All functions work in float64 numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from . import formulas
from ._backend import neuron_chunks, to_numpy64
from .kernel import gram, phi_closed_form
from .lazy import kernel_values
from .model import SCENARIOS, scenario_inputs, sign_pm1, slopes
from .params import Perturbation, check_perturbation, unit_rows
from .tolerances import C1_FACTOR, THEORY_MC_NEURONS
from .validation import (check_array, check_choice, check_consistent_length, check_delta, check_eps,
                         check_gamma, check_generator, check_nonnegative_array, check_queries, check_rows,
                         check_scalar, check_positive_int)

__all__ = ["SCENARIOS", "adversarial_inputs", "scenario_terms",
           "ScenarioTerms", "predicted_g", "bound_B0", "variance_E", "bound_BE", "bound_BN_hoeffding",
           "NoiseBound", "evaluate_conditions", "Conditions", "label_cancellation", "SymbolicIdentity"]


def _rows64(x, name, d=None):
    return to_numpy64(check_rows(x, name, d))


def adversarial_inputs(scenario, X, r):
    """x^adv_n = r_n (Scenario "a") or x_n + r_n (Scenario "b").   [§1, paper]

    Returns
    -------
    (N, d) float64.
    """
    check_choice(scenario, "scenario", SCENARIOS)
    X = _rows64(X, "X")
    r = _rows64(r, "r", X.shape[1])
    check_consistent_length(("X", X), ("r", r))
    return scenario_inputs(scenario, X, r)


@dataclass(frozen=True)
class ScenarioTerms:
    """S(z), N(z) and what they were built from; ``coef`` is c_n(z) = ε Λ'_n Φ(x^adv_n, z)/‖u_n‖ (N, n)."""

    signal: np.ndarray
    noise: np.ndarray
    x_adv: np.ndarray
    coef: np.ndarray
    u_norm: np.ndarray

    @property
    def g_hat(self) -> np.ndarray:
        return self.signal + self.noise


def scenario_terms(pert, gamma, Z):
    """S(z) = ε Σ_n Λ'_n Φ(x^adv_n, z)(u_n·z)/‖u_n‖,  N(z) = Σ_n Λ'_n y^adv_n Φ(x^adv_n, z) b_n(z).   [C2, derived]

    Symbols: b_n(z) = 1 in Scenario "a", x_n·z + 1 in "b"; Λ'_n the loss weights of g (identity loss:
    t'/N); u_n from ``predicted_direction``. ‖u_n‖ replaces ‖u_n + ξ_n‖ (the difference is covered by
    the factor (1 + B_ξ/min‖u_n‖) of B_E). Φ is evaluated at the perturbation's r (measured, or
    ``Perturbation.predicted`` for a network-free prediction). Rows with u_n = 0 contribute no signal.
    With flipped targets in "b", N ≈ −f̂·(Λ'/Λ): a random/flipped-label kernel regression on the clean data.

    Parameters
    ----------
    pert : the perturbation (``theory.params.Perturbation``: scenario, X, r, y^adv, u, Λ', ε).
    gamma ∈ [0, 1).
    Z : (n, d) test inputs.

    Returns
    -------
    ScenarioTerms(signal (n,), noise (n,), x_adv (N, d), coef (N, n), u_norm (N,)); ``.g_hat`` = S + N.
    """
    pert = check_perturbation(pert)
    gamma = check_gamma(gamma)
    Z, _ = check_queries(Z, pert.train.d)
    return scenario_values(pert, gamma, Z)


def scenario_values(pert: Perturbation, gamma: float, Z: np.ndarray) -> ScenarioTerms:
    """:func:`scenario_terms` on checked arguments ((n, d) float64 ``Z``)."""
    X, lam_g, eps = pert.train.X, pert.lam_g, pert.eps
    x_adv = pert.x_adv
    K = gram(x_adv, Z, gamma)                                       # (N, n)
    uhat, unorm = unit_rows(pert.u)
    LK = lam_g[:, None] * K
    signal = eps * (LK * (uhat @ Z.T)).sum(0)
    b = 1.0 if pert.scenario == "a" else X @ Z.T + 1.0
    noise = (pert.y_adv[:, None] * LK * b).sum(0)
    inv = np.where(unorm > 0, 1.0 / np.where(unorm > 0, unorm, 1.0), 0.0)
    coef = eps * LK * inv[:, None]
    return ScenarioTerms(signal=signal, noise=noise, x_adv=x_adv, coef=coef, u_norm=unorm)


def predicted_g(pert, gamma, Z):
    """ĝ(z) = S(z) + N(z), the predicted decision of g, computed before g is trained.   [C2, derived]

    Parameters: as ``scenario_terms``. Returns (n,) float64.
    """
    return scenario_terms(pert, gamma, Z).g_hat


def bound_B0(Z, gamma, delta):
    """B_0(z) = √(2 log(2/δ)) · √((1+γ²)/2 · (‖z‖²/d + 1)).   [C2, derived]

    |g_0(z)| ≤ B_0(z) with probability ≥ 1 − δ: over the readout a ~ N(0, I/m), g_0(z) is Gaussian with
    variance (1/m) Σ_k φ(w_k·z + b_k)², whose mean over the first layer is (1+γ²)/2·(‖z‖²/d + 1) (and the
    Gaussian tail P(|g| > σ√(2 log(2/δ))) ≤ δ). The same bound applies to f_0 (C3).
    Numerics: the conditional variance fluctuates by O(1/√m) around its mean; this is the m → ∞ value.

    Parameters
    ----------
    Z : (n, d) inputs (or one (d,) input); gamma ∈ [0, 1); delta ∈ (0, 1).

    Returns
    -------
    (n,) float64 (float for one input).
    """
    gamma = check_gamma(gamma)
    delta = check_delta(delta)
    Z = check_array(Z, "Z", ndim=(1, 2))
    single = Z.ndim == 1
    out = b0_values(np.atleast_2d(to_numpy64(Z)), gamma, delta)
    return float(out[0]) if single else out


def b0_values(Z: np.ndarray, gamma: float, delta: float) -> np.ndarray:
    """:func:`bound_B0` on checked arguments ((n, d) float64 ``Z``)."""
    return formulas.b0((Z * Z).sum(1), Z.shape[1], gamma, delta)


def variance_E(X, coef, Z, gamma, generator, *, n_neurons=THEORY_MC_NEURONS):
    """V_E(z) = E_{w,b}[(Σ_n c_n(z) s(w·x_n + b))² (w·z)²], by Monte Carlo over fresh neurons.   [C2, derived]

    Given the first layer, Σ_n c_n(z) ξ_n·z with ξ_n ≈ ∇f_0(x_n) = Σ_k a_k s_k(x_n) w_k equals
    Σ_k a_k (w_k·z) Σ_n c_n(z) s_k(x_n): Gaussian over a ~ N(0, I/m) with variance whose mean over the
    first layer is V_E(z). A theory quantity: the neurons are fresh, not f's.

    Parameters
    ----------
    X (N, d) : clean inputs of f (where ξ_n lives); coef (N, n) : c_n(z); Z (n, d) : test inputs.
    gamma ∈ [0, 1); generator : numpy or torch generator; n_neurons : Monte Carlo size.

    Returns
    -------
    (n,) float64.
    """
    gamma = check_gamma(gamma)
    generator = check_generator(generator)
    n_neurons = check_positive_int(n_neurons, "n_neurons")
    X = _rows64(X, "X")
    Z, _ = check_queries(Z, X.shape[1])
    coef = _coef64(coef, X, Z)
    return variance_values(X, coef, Z, gamma, generator, n_neurons)


def _coef64(coef, X, Z):
    coef = to_numpy64(check_array(coef, "coef", ndim=2))
    if coef.shape != (X.shape[0], Z.shape[0]):
        raise ValueError(f"coef has shape {coef.shape}, must be (N, n) = {(X.shape[0], Z.shape[0])}")
    return coef


def variance_values(X, coef, Z, gamma: float, generator, n_neurons: int) -> np.ndarray:
    """:func:`variance_E` on checked arguments (float64 numpy arrays)."""
    N, d = X.shape
    acc = np.zeros(Z.shape[0])
    for W, b in neuron_chunks(generator, n_neurons, d, N + 2 * Z.shape[0], X):
        S = slopes(X @ W.T + b, gamma)                              # (N, J)
        A = coef.T @ S                                              # (n, J): Σ_n c_n(z) s_j(x_n)
        acc += ((A * (Z @ W.T)) ** 2).sum(1)
    return acc / n_neurons


def bound_BE(X, coef, u_norm, Z, gamma, delta, generator, *, xi_bound, n_neurons=THEORY_MC_NEURONS):
    """B_E(z) = √(2 log(2/δ) · V_E(z)) · (1 + B_ξ/min_n ‖u_n‖).   [C2, derived]

    Bounds the ξ_n·z part of E(z) with probability ≥ 1 − δ over f's readout (Gaussian, not
    Cauchy–Schwarz: ‖ξ_n‖‖z‖ is far too loose to ever hold). Where some ‖u_n‖ = 0 (e.g. untrained f)
    the factor is unbounded and B_E = +∞: C2 cannot hold.

    Parameters
    ----------
    X (N, d), coef (N, n) = ``ScenarioTerms.coef``, u_norm (N,) = ‖u_n‖, Z (n, d).
    gamma, delta, generator; xi_bound : B_ξ (``residual_bound``); n_neurons : Monte Carlo size.

    Returns
    -------
    (n,) float64.
    """
    delta = check_delta(delta)
    B = float(check_scalar(xi_bound, "xi_bound", min_val=0.0, note="residual bound"))
    u_norm = to_numpy64(check_nonnegative_array(u_norm, "u_norm", ndim=1))
    gamma = check_gamma(gamma)
    generator = check_generator(generator)
    n_neurons = check_positive_int(n_neurons, "n_neurons")
    X = _rows64(X, "X")
    Z, _ = check_queries(Z, X.shape[1])
    return be_values(X, _coef64(coef, X, Z), u_norm, Z, gamma, delta, generator, B, n_neurons)


def be_values(X, coef, u_norm, Z, gamma: float, delta: float, generator, xi_bound: float,
              n_neurons: int) -> np.ndarray:
    """:func:`bound_BE` on checked arguments (float64 numpy arrays)."""
    V = variance_values(X, coef, Z, gamma, generator, n_neurons)
    umin = float(u_norm.min()) if u_norm.size else 0.0
    if umin <= 0:
        return np.full(V.shape, np.inf)
    return formulas.be(V, xi_bound, umin, delta)


@dataclass(frozen=True)
class NoiseBound:
    """|N(z)| ≤ |offset| + half_width = bound with probability ≥ 1 − δ over random targets."""

    offset: np.ndarray
    half_width: np.ndarray

    @property
    def bound(self) -> np.ndarray:
        return np.abs(self.offset) + self.half_width


def bound_BN_hoeffding(scenario, X, v, eps, lam_g, gamma, Z, delta):
    """|N(z)| ≤ |Σ_n (α⁺_n − α⁻_n)/2| + √(2 log(2/δ) Σ_n ((α⁺_n + α⁻_n)/2)²) over uniform y^adv.   [C2, derived]

    α^±_n(z) = Λ'_n Φ(x^adv_n(±1), z) b_n(z), x^adv_n(y) = y ε v_n ("a") or x_n + y ε v_n ("b"). Since
    Φ(x^adv_n, z) depends on y^adv_n itself, write y α(y) = y(α⁺+α⁻)/2 + (α⁺−α⁻)/2: a Rademacher sum
    (Hoeffding, ``formulas.BN_HOEFFDING``) plus a deterministic offset. This refines THEORY.md's
    √(2 log(2/δ) Σ_n (Λ'_n Φ(x^adv_n, z) b_n(z))²), which treats Φ(x^adv_n, z) as independent of y^adv_n;
    the two agree when α⁺ = α⁻ (ε → 0). v_n must not depend on y^adv (true for (u_n + ξ_n)/‖·‖).

    Parameters
    ----------
    scenario : "a" or "b"; X (N, d) clean inputs; v (N, d) perturbation directions (unit or 0);
    eps ≥ 0; lam_g (N,) ≥ 0; gamma ∈ [0, 1); Z (n, d); delta ∈ (0, 1).

    Returns
    -------
    NoiseBound(offset (n,), half_width (n,)); ``.bound`` the total.
    """
    check_choice(scenario, "scenario", SCENARIOS)
    gamma = check_gamma(gamma)
    eps = check_eps(eps)
    delta = check_delta(delta)
    X = _rows64(X, "X")
    v = _rows64(v, "v", X.shape[1])
    lam_g = to_numpy64(check_nonnegative_array(lam_g, "lam_g", ndim=1))
    check_consistent_length(("X", X), ("v", v), ("lam_g", lam_g))
    Z, _ = check_queries(Z, X.shape[1])
    base = 0.0 if scenario == "a" else X
    b = 1.0 if scenario == "a" else X @ Z.T + 1.0
    a_plus = lam_g[:, None] * phi_closed_form(base + eps * v, Z, gamma) * b
    a_minus = lam_g[:, None] * phi_closed_form(base - eps * v, Z, gamma) * b
    offset = ((a_plus - a_minus) / 2).sum(0)
    half = formulas.bn_hoeffding((((a_plus + a_minus) / 2) ** 2).sum(0), delta)
    return NoiseBound(offset=offset, half_width=np.asarray(half, dtype=float))


@dataclass(frozen=True)
class Conditions:
    """Per test input z: predictions, bounds, margins (> 0 means the condition holds) and masks."""

    g_hat: np.ndarray
    f_hat: np.ndarray
    signal: np.ndarray
    noise: np.ndarray
    B0: np.ndarray
    BE: np.ndarray
    xi_bound: float
    margin_C1: np.ndarray          # min_n ‖u_n‖ − c₁ B_ξ, broadcast to every z
    margin_C2: np.ndarray          # |ĝ| − (B_0 + B_E)
    margin_C3_sign: np.ndarray     # sgn(f̂)·ĝ  (> 0: same sign)
    margin_C3_f: np.ndarray        # |f̂| − B_0
    C1: np.ndarray
    C2: np.ndarray
    C3: np.ndarray
    predicted_agree: np.ndarray    # C2 ∧ C3
    predicted_disagree: np.ndarray  # C2 ∧ ¬C3, restricted to |f̂| > B_0 (sgn f known)
    c1_train: np.ndarray = field(repr=False, default=None)  # per training n: ‖u_n‖ > c₁ B_ξ

    def coverage(self) -> dict:
        """Shares of test inputs where each condition / prediction holds."""
        return {k: float(getattr(self, k).mean()) for k in
                ("C1", "C2", "C3", "predicted_agree", "predicted_disagree")}


def evaluate_conditions(pert, gamma, Z, delta, generator, *, xi_bound, c1=C1_FACTOR, n_neurons=THEORY_MC_NEURONS):
    """C1: ‖u_n‖ > c₁B_ξ.  C2: |ĝ(z)| > B_0(z) + B_E(z).  C3: sgn ĝ(z) = sgn f̂(z) and |f̂(z)| > B_0(z).   [C1–C3, derived]

    Evaluated per test input before g is trained, with no knowledge of the particular random networks
    beyond r (pass ``Perturbation.predicted`` for a fully network-free prediction). Each of the three
    bounds (B_0 for g_0, B_E, B_0 for f_0) fails with probability ≤ δ, so P1 allows a share ≈ 3δ of
    wrong predictions. C1 is a property of the training set (min over n) and is broadcast over z; it is
    the premise of the D2 angle bound and enters C2 through B_E.
    "Predicted disagree" is C2 ∧ (sgn ĝ ≠ sgn f̂) ∧ |f̂| > B_0: where C3 fails only because |f̂| ≤ B_0,
    sgn f is unknown and nothing is predicted.

    Parameters
    ----------
    pert : the perturbation (``theory.params.Perturbation``), with f's training set and Λ (for f̂).
    gamma ∈ [0, 1); Z (n, d) test inputs; delta ∈ (0, 1) per bound; generator for V_E.
    xi_bound : B_ξ (``residual_bound``); c1 : C1 factor; n_neurons : Monte Carlo size of V_E.

    Returns
    -------
    Conditions (see its fields); ``.coverage()`` gives the shares.
    """
    pert = check_perturbation(pert)
    gamma = check_gamma(gamma)
    delta = check_delta(delta)
    generator = check_generator(generator)
    n_neurons = check_positive_int(n_neurons, "n_neurons")
    B = float(check_scalar(xi_bound, "xi_bound", min_val=0.0, note="residual bound"))
    c1 = float(check_scalar(c1, "c1", min_val=0.0, include_boundaries="neither", note="C1 factor"))
    Z, _ = check_queries(Z, pert.train.d)
    return condition_values(pert, gamma, Z, delta, generator, B, c1, n_neurons)


def condition_values(pert: Perturbation, gamma: float, Z: np.ndarray, delta: float, generator, xi_bound: float,
                     c1: float, n_neurons: int) -> Conditions:
    """:func:`evaluate_conditions` on checked arguments ((n, d) float64 ``Z``)."""
    terms = scenario_values(pert, gamma, Z)
    f_hat = kernel_values(pert.train, Z, gamma)
    B0 = b0_values(Z, gamma, delta)
    BE = be_values(pert.train.X, terms.coef, terms.u_norm, Z, gamma, delta, generator, xi_bound, n_neurons)
    g_hat = terms.g_hat
    c1_train = terms.u_norm > c1 * xi_bound
    margin_C1 = np.full(Z.shape[0], float(terms.u_norm.min()) - c1 * xi_bound)
    with np.errstate(invalid="ignore"):
        margin_C2 = np.abs(g_hat) - (B0 + BE)
    margin_C3_sign = sign_pm1(f_hat) * g_hat
    margin_C3_f = np.abs(f_hat) - B0
    C1 = margin_C1 > 0
    C2 = margin_C2 > 0
    C3 = (margin_C3_sign > 0) & (margin_C3_f > 0)
    return Conditions(g_hat=g_hat, f_hat=f_hat, signal=terms.signal, noise=terms.noise, B0=B0, BE=BE,
                      xi_bound=xi_bound, margin_C1=margin_C1, margin_C2=margin_C2,
                      margin_C3_sign=margin_C3_sign, margin_C3_f=margin_C3_f, C1=C1, C2=C2, C3=C3,
                      predicted_agree=C2 & C3,
                      predicted_disagree=C2 & (margin_C3_sign < 0) & (margin_C3_f > 0),
                      c1_train=c1_train)


@dataclass(frozen=True)
class SymbolicIdentity:
    """lhs = rhs under the stated assumption; ``holds`` is sympy's verdict."""

    lhs: sp.Expr
    rhs: sp.Expr
    assumption: sp.Basic
    holds: bool


def label_cancellation(scenario="a"):
    """y^adv_n (x^adv_n·z + 1) = ε v_n·z + y^adv_n b_n(z) given (y^adv_n)² = 1.   [§5 mechanism, derived]

    With r_n = ε y^adv_n v_n: Scenario "a" has x^adv·z + 1 = ε y^adv v·z + 1 (b_n = 1); Scenario "b"
    has x^adv·z + 1 = ε y^adv v·z + (x_n·z + 1). The wrong label multiplies itself away in the signal
    term; what is left of it is the label noise y^adv_n b_n(z).

    Returns
    -------
    SymbolicIdentity(lhs, rhs, assumption Eq(y_adv², 1), holds) — ``holds`` from sympy, not asserted.
    """
    check_choice(scenario, "scenario", SCENARIOS)
    bval = sp.Integer(1) if scenario == "a" else formulas.xz + 1
    lhs = formulas.LABEL_TERM.subs(formulas.bz, bval)
    rhs = formulas.LABEL_TERM_CANCELLED.subs(formulas.bz, bval)
    diff = sp.expand(lhs - rhs).subs(formulas.y_adv**2, 1)
    return SymbolicIdentity(lhs=lhs, rhs=rhs, assumption=sp.Eq(formulas.y_adv**2, 1),
                            holds=bool(sp.simplify(diff) == 0))
