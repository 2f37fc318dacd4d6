"""Conformance of a procedure's report with itself (THEORY.md §8, claims R1–R7): the identities and
their rounding tolerances, and R7's test that g starts fresh.   [§8]

Each identity holds exactly in real arithmetic for any correct implementation, inside or outside the
lazy regime. A procedure evaluates it in floating point with unit roundoff u (its dtype), so every
tolerance below is a forward error bound of that evaluation, computed from the reported parameters
and inputs, not a tuned constant. The bounds are Higham's (*Accuracy and Stability of Numerical
Algorithms*, 2nd ed., 2002, §3.1): a sum of n products computed in any order has an error of at most
γ_n Σ|terms|, with γ_n = nu/(1 − nu). Every function works in float64 numpy and returns the exact
value together with the bound ``tol``; a check compares the procedure's value v with it through
``|v − exact| ≤ tol`` and reports the ratio ``|v − exact|/tol`` (≤ 1 holds).

A pre-activation h_k(x) within its rounding bound of 0 may take either side in the procedure's
arithmetic; such a neuron is *ambiguous*, and the bounds add the most its slope can change
((1 − γ)|a_k|‖w_k‖ for a gradient).
"""

from __future__ import annotations

import math

import numpy as np

from . import formulas
from .direction import signed_cosine
from .model import leaky_derivative, leaky_relu, sign_pm1
from .tolerances import CONFORMANCE_CLAIMS
from .validation import check_choice

__all__ = ["CONFORMANCE_CLAIMS", "LOSSES", "unit_roundoff", "rounding_gamma", "network_forward",
           "network_input_gradient", "one_step_perturbation", "loss_values", "loss_weights_from_losses",
           "time_tolerance", "scenario_input", "sign_share", "cosine_means", "copied_rows", "same_values",
           "fresh_statistic", "FRESH_NULL_MEAN"]

#: Unit roundoff u = 2^-p of the dtypes a procedure may compute in.
UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}

#: The losses of THEORY.md §1: ℓ(s), and ℓ' written as a function of the value ℓ (so that Λ follows
#: from recorded per-sample losses): identity ℓ' = 1; logistic ℓ = log(1 + e^s), ℓ' = sigmoid(s) =
#: 1 − e^{−ℓ}. ``sup_lprime``: sup ℓ' (1 for both). ``ulps``: the error of one evaluation of ℓ or ℓ'
#: in units of u (softplus = log1p∘exp and sigmoid each compose two correctly rounded functions with a
#: condition number ≤ 1: at most 4u; the identity computes nothing).
LOSSES = {
    "identity": dict(value=lambda s: s, lprime_of_value=np.ones_like, sup_lprime=1.0, ulps=0.0),
    "logistic": dict(value=lambda s: np.logaddexp(s, 0.0), lprime_of_value=lambda v: -np.expm1(-v),
                     sup_lprime=1.0, ulps=4.0),
}


def unit_roundoff(dtype: str) -> float:
    """u of ``dtype`` ('float32' or 'float64')."""
    return UNIT_ROUNDOFF[check_choice(dtype, "dtype", UNIT_ROUNDOFF)]


def rounding_gamma(n: int, u: float) -> float:
    """γ_n = nu/(1 − nu) (``formulas.ROUNDING_GAMMA``): the relative error bound of a sum of n products
    (Higham, Lemma 3.1)."""
    if n * u >= 1:
        raise ValueError(f"n·u == {n * u:g}: no rounding bound for a sum of n == {n} terms at u == {u:g}")
    return float(formulas.rounding_gamma(n, u))


def preactivations(W, b, X, u):
    """h = X Wᵀ + b, and the bound γ_{d+1}(‖x‖‖w_k‖ + |b_k|) ≥ γ_{d+1}(|w_k|·|x| + |b_k|) on the
    rounding error of any evaluation of it (Cauchy–Schwarz: one outer product instead of a second
    matrix product, looser by about π/2 for Gaussian rows)."""
    H = X @ W.T + b
    bound = np.linalg.norm(X, axis=1)[:, None] * np.linalg.norm(W, axis=1) + np.abs(b)
    return H, rounding_gamma(W.shape[1] + 1, u) * bound


def forward_from_preactivations(H, h_err, a, gamma, u):
    """f = Σ_k a_k φ(h_k) and its error bound from pre-activations and their bound (``network_forward``)."""
    phi = leaky_relu(H, gamma)
    absa = np.abs(a)
    return phi @ a, rounding_gamma(len(a) + 1, u) * (np.abs(phi) @ absa) + 2 * h_err @ absa


def network_forward(W, b, a, gamma, X, u):
    """f(x) = Σ_k a_k φ(w_k·x + b_k) for every row of X, and a bound on the error of any evaluation
    of it at unit roundoff u.   [R1]

    tol(x) = γ_{m+1} Σ_k |a_k φ(h_k)| + 2 Σ_k |a_k| e_k(x): the readout's sum of m products (φ's one
    multiplication by γ included), and the pre-activations' errors e_k (``preactivations``) carried
    through the 1-Lipschitz φ (the factor 2 covers 1 + γ_m). Returns (f, tol), each of shape (N,).
    """
    return forward_from_preactivations(*preactivations(W, b, X, u), a, gamma, u)


def network_input_gradient(W, b, a, gamma, X, u, pre=None):
    """∇f(x) = Σ_k a_k s_k(x) w_k for every row of X, and a bound on ‖error‖ of any evaluation of it
    (by autograd or by hand) at unit roundoff u.   [R2]

    ‖err(x)‖ ≤ γ_m ‖Σ_k |a_k s_k| |w_k|‖ + Σ_{k ambiguous at x} (1 − γ)|a_k| ‖w_k‖. ``pre``: the
    (H, bound) of ``preactivations`` if already computed. Returns (grad (N, d), tol (N,)).
    """
    H, h_err = pre if pre is not None else preactivations(W, b, X, u)
    S = leaky_derivative(H, gamma)
    grad = (S * a) @ W
    ambiguous = np.abs(H) <= h_err
    tol = rounding_gamma(len(a), u) * np.linalg.norm(np.abs(S * a) @ np.abs(W), axis=1) \
        + (1 - gamma) * (ambiguous * np.abs(a)) @ np.linalg.norm(W, axis=1)
    return grad, tol


def pattern_flips(pre0, pre1, u):
    """Share of (n, k) patterns 1[h > 0] that differ between two networks' pre-activations
    (``preactivations`` pairs (H, bound)) on the same inputs, and the most a rounding can move it:
    the share of (n, k) ambiguous in either network.   [R1]"""
    (H0, e0), (H1, e1) = pre0, pre1
    flips = (H0 > 0) != (H1 > 0)
    ambiguous = (np.abs(H0) <= e0) | (np.abs(H1) <= e1)
    return float(flips.mean()), float(ambiguous.mean()) + rounding_gamma(flips.size, u)


def one_step_perturbation(grad, grad_tol, y_adv, eps, u):
    """r*_n = ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖ from an exact gradient, and a bound on ‖r_n − r*_n‖ for an
    r computed from any gradient within ``grad_tol`` of it.   [R2, paper]

    A perturbation e of a vector g moves g/‖g‖ by at most 2‖e‖/‖g‖; the normalisation itself (a norm
    of d terms, a division) and the product with ε y^adv add ε γ_{d+2}. Where ‖g‖ ≤ grad_tol the
    direction is not determined by the rounding bound and the row's bound is 2ε (any two vectors of
    norm ≤ ε). Returns (r*, tol).
    """
    norm = np.linalg.norm(grad, axis=1)
    safe = np.where(norm > 0, norm, 1.0)
    r = eps * y_adv[:, None] * grad / safe[:, None] * (norm > 0)[:, None]
    determined = norm > grad_tol
    tol = np.where(determined, eps * (2 * grad_tol / safe + rounding_gamma(grad.shape[1] + 2, u)), 2 * eps)
    return r, tol


def scenario_input(X, r, scenario: str, u):
    """x^adv = r (Scenario a) or x + r (b) from the reported x and r, and a bound on |x̂^adv − x^adv|
    for a procedure that rounds in either order.   [R3]

    (a): x̂^adv and r̂ are the same rounding of r: u|r̂|. (b): a procedure may add in its dtype
    (x̂^adv = fl(x + r̂): error ≤ u|x + r̂|) or keep r in a wider type and round r and the sum
    separately (r̂ = fl(r), x̂^adv = fl(x + r)). Rounding r then costs |r − r̂| ≤ u|r̂| (round to
    nearest: ≤ u|r|/(1 + u), and |r| ≤ (1 + u)|r̂|), and rounding the sum u|x + r| ≤ u|x + r̂| + u²|r̂|.
    Either order stays within u|x + r̂| + u(1 + u)|r̂|; one rounding of the sum alone (u|x + r̂|) is
    attained by the first and fails the second wherever x + r cancels. Pass u + u₆₄ to cover this
    float64 evaluation of x + r̂. Returns (x^adv, tol), each of r's shape.
    """
    X, r = np.asarray(X, float), np.asarray(r, float)
    if check_choice(scenario, "scenario", ("a", "b")) == "a":
        return r, u * np.abs(r)
    expected = X + r
    return expected, u * np.abs(expected) + u * (1 + u) * np.abs(r)


def sign_share(v, v_tol, target, target_tol=None):
    """The share of rows n with sgn v_n = sgn target_n (sgn(0) = −1, ``model.sign_pm1``), for values
    known only within their rounding bounds, and how far any evaluation's share can be from it.   [R6]

    A row with −tol_n < v_n ≤ tol_n may take either sign in another evaluation (one in [v − tol, v + tol]
    is ≤ 0 or > 0): it is ambiguous (as is a row whose target is, for a target of values such as g(z);
    labels are exact). The share of any evaluation lies in [lo, lo + n_amb/N], lo the share among the
    unambiguous rows. The run's float64 mean of N values in {0, 1} errs by at most γ_N(u₆₄) in any
    summation order, and this midpoint by three roundings: γ_{N+3}(u₆₄). Returns (the midpoint, tol).
    """
    v, target = np.asarray(v, float), np.asarray(target, float)
    ambiguous = (-v_tol < v) & (v <= v_tol)
    if target_tol is not None:
        ambiguous |= (-target_tol < target) & (target <= target_tol)
    agree = (sign_pm1(v) == sign_pm1(target)) & ~ambiguous
    n, half = len(v), ambiguous.sum() / (2 * len(v))
    return agree.sum() / n + half, half + rounding_gamma(n + 3, UNIT_ROUNDOFF["float64"])


def cosine_means(r, y_adv, u_dir, u):
    """The means over n of cos(r_n, y^adv_n u_n) and of its absolute value (each 0 where r_n or u_n is 0,
    as the run reports them), and a bound on the error of any evaluation of them at unit roundoff u.   [R6]

    c = y (r·v)/(‖r‖‖v‖), v = u_n: the dot product errs by at most γ_d Σ|r_i v_i| ≤ γ_d ‖r‖‖v‖
    (Cauchy–Schwarz), the denominator (two sums of d squares, two square roots, a product) by a
    relative γ_{2d+3}, the division by one rounding; with |c| ≤ 1 the sum stays below γ_{3d+6}
    (Higham, Lemma 3.3), and ||ĉ| − |c|| ≤ |ĉ − c|. Two means of N terms in [−1, 1] (the run's and
    this one: a sum and a division each) add 2γ_{N+1}(u). Returns ((signed mean, absolute mean), tol).
    """
    cos = np.nan_to_num(signed_cosine(r, y_adv, u_dir), nan=0.0)
    tol = rounding_gamma(3 * np.shape(r)[1] + 6, u) + 2 * rounding_gamma(len(cos) + 1, u)
    return (cos.mean(), np.abs(cos).mean()), tol


def loss_values(loss: str, margins):
    """ℓ(s) of the margins s = −y f(x) (numpy, float64)."""
    return LOSSES[check_choice(loss, "loss", LOSSES)]["value"](np.asarray(margins, dtype=float))


def loss_tolerance(loss: str, margin_tol, values, u):
    """Bound on |ℓ(ŝ) − ℓ(s)| for |ŝ − s| ≤ margin_tol: ℓ is 1-Lipschitz (ℓ' ≤ 1), plus ℓ's own rounding."""
    spec = LOSSES[check_choice(loss, "loss", LOSSES)]
    return spec["sup_lprime"] * margin_tol + spec["ulps"] * u * np.abs(values)


def step_weights(lr, steps: int, momentum: float) -> np.ndarray:
    """w_j = Σ_{k=j}^{T−1} η_k β^{k−j}, j = 0 … T−1: the total displacement gradient j causes under
    heavy-ball in torch's convention (buf ← β buf + ∇L; θ ← θ − η_k buf), so Σ_j w_j = t
    (``integrated_time``). ``lr``: η, or the (T,) sequence η_0 … η_{T−1} of a schedule; a constant η
    gives η(1 − β^{T−j})/(1 − β).   [§1, R4]"""
    rates = np.asarray(lr, dtype=float)
    if rates.ndim == 0:
        j = np.arange(steps)
        return float(lr) * (1 - momentum ** (steps - j)) / (1 - momentum) if momentum else np.full(steps, float(lr))
    if rates.shape != (steps,) or not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError(f"lr has shape {rates.shape}, must be {steps} finite step sizes >= 0 (one per step)")
    w = np.zeros(steps)
    carried = 0.0
    for j in range(steps - 1, -1, -1):  # w_j = η_j + β w_{j+1}
        carried = rates[j] + momentum * carried
        w[j] = carried
    return w


#: What R4 compares t with: the constant-η formula, and the sum over a reported schedule (``step_weights``).
TIME_FORMULAS = ("η Σ_j (1 − β^(T−j))/(1 − β)", "Σ_j Σ_(k≥j) η_k β^(k−j) of its reported learning rates")


def time_tolerance(t: float, steps: int, u: float) -> float:
    """Bound on |t̂ − t| for a t accumulated over T steps at unit roundoff u (a sum of T positive
    terms, each computed with a few roundings): γ_{T+4}·t."""
    return rounding_gamma(steps + 4, u) * abs(t)


def loss_weights_from_losses(loss: str, sample_losses, lr, momentum: float, u: float):
    """Λ_n = Σ_{j<T} w_j ℓ'(−y_n f_j(x_n))/N from the per-sample losses recorded before each step
    ((T+1, N): the last row is after the last step and does not enter; ``lr``: η or the (T,) schedule,
    ``step_weights``), with ℓ' written through ℓ
    (``LOSSES``), and a bound on |Λ̂_n − Λ_n| for a Λ̂ accumulated from ℓ' evaluated directly.   [R4]

    Per step, the recorded ℓ (error ≤ 4u|ℓ|) gives ℓ' = 1 − e^{−ℓ} to within e^{−ℓ}·4u|ℓ| ≤ 4u/e plus the
    expm1's own 2u; the trainer's ℓ' carries its own 4u. Summed with the weights: (t/N)(4/e + 6)u,
    plus γ_{T+4} Λ_n for the accumulation. Returns (Λ (N,), tol (N,)).
    """
    spec = LOSSES[check_choice(loss, "loss", LOSSES)]
    L = np.asarray(sample_losses, dtype=float)
    steps, n = L.shape[0] - 1, L.shape[1]
    w = step_weights(lr, steps, momentum)
    lam = w @ spec["lprime_of_value"](L[:-1]) / n
    per_step = (4 / np.e + 6) * u if spec["ulps"] else 0.0
    return lam, w.sum() * per_step / n + rounding_gamma(steps + 4, u) * np.abs(lam)


def spans_one_dimension(X) -> bool:
    """Whether the rows of X lie on one line through 0 (up to float32 rounding). Continuous draws on a line,
    rounded to float32, coincide by chance: 100 training and 500 test inputs of a 1-D Gaussian share a
    row in 0.25% of draws (400 draws), so R5's equality test cannot tell a leak from chance there.   [R5]"""
    s = np.linalg.svd(np.asarray(X, float), compute_uv=False)
    return s.size < 2 or bool(s[1] <= 1e-4 * s[0])


def identical_rows(A, B) -> np.ndarray:
    """Indices i of rows of A that equal some row of B exactly.   [R5]"""
    # + 0.0 turns −0.0 into 0.0, so that bytes compare as the values do.
    A, B = np.ascontiguousarray(np.asarray(A, float) + 0.0), np.ascontiguousarray(np.asarray(B, float) + 0.0)
    if not len(A) or not len(B):
        return np.zeros(0, dtype=int)
    seen = {row.tobytes() for row in B}
    return np.array([i for i, row in enumerate(A) if row.tobytes() in seen], dtype=int)


#: R7: an entry "equals" another up to rounding when |x − y| ≤ COPY_ULPS·u₃₂·max(|x|, |y|): a copy kept in
#: another dtype or cast through float32 and back is within 1 (u₃₂, the coarsest dtype, whatever the run's).
COPY_ULPS = 4.0

#: R7: E[(1 + ρ(f_0, g_0))/2] for g_0 drawn independently of f_0 (``fresh_statistic``).
FRESH_NULL_MEAN = 0.5


def _close(x, y, ulps: float):
    return np.abs(x - y) <= ulps * UNIT_ROUNDOFF["float32"] * np.maximum(np.abs(x), np.abs(y))


def copied_rows(A, B, ulps: float = COPY_ULPS) -> np.ndarray:
    """Indices i of rows of A (neurons: w_k, or (w_k, b_k)) that equal some row of B entry by entry up to
    rounding (``COPY_ULPS``), in any order of the rows.   [R7]

    For independent draws of the theory's initialisation a row matches with probability at most
    rows(A)·rows(B)·(2·COPY_ULPS·u₃₂/π)^k for rows of k entries (|x − y| ≤ ε max(|x|, |y|) has probability
    ≤ 2ε/π for independent normals of one scale): at 64 × 10⁴ rows below 2·10⁻⁸ for k = 2 (d = 1 with
    the bias), 4·10⁻¹⁵ for k = 3.
    """
    A, B = np.atleast_2d(np.asarray(A, float)), np.atleast_2d(np.asarray(B, float))
    if not A.size or not B.size or A.shape[1] != B.shape[1]:
        return np.zeros(0, dtype=int)
    i, k = np.nonzero(_close(A[:, :1], B[None, :, 0], ulps))        # candidates by the first entry
    same = _close(A[i], B[k], ulps).all(axis=1)
    return np.unique(i[same])


def same_values(a, b, ulps: float = COPY_ULPS) -> bool:
    """Whether two vectors hold the same values up to rounding (``COPY_ULPS``), in any order.   [R7]"""
    a, b = np.sort(np.ravel(np.asarray(a, float))), np.sort(np.ravel(np.asarray(b, float)))
    return a.shape == b.shape and bool(_close(a, b, ulps).all())


def fresh_statistic(f0, g0) -> float:
    """(1 + ρ)/2 with ρ the correlation of f_0's and g_0's values on the same inputs (ρ = 0 where either
    is constant): one pair's value in [0, 1] for R7's test over pairs.   [R7]

    Null mean exactly FRESH_NULL_MEAN = 1/2 when g_0's readout a is symmetric (a and −a equal in law) and
    independent of g_0's first layer and of f_0, as the theory's fresh g_0 (a_k ~ N(0, 1/m)) is: given
    f_0, W_0 and b_0 of g, the values of −a are −g_0 and ρ(f_0, −g_0) = −ρ(f_0, g_0) (negation is exact
    in floating point, so the computed ρ is odd too). Nothing else enters: not γ, the bias, the data or
    the law of W_0 and b_0. The share of inputs where sgn f_0 = sgn g_0 has mean 1/2 only up to the
    chance that g_0(z) = 0 (every neuron off at γ = 0; sgn(0) = −1), and spreads as much or more between
    pairs (measured sd 0.21 against 0.09 at d = 100): f_0 and g_0 each keep one sign over most inputs, a
    near-constant part that ρ removes.
    """
    v, w = (np.asarray(x, float).ravel() for x in (f0, g0))
    v, w = v - v.mean(), w - w.mean()
    den = math.sqrt(float(v @ v) * float(w @ w))
    rho = float(v @ w) / den if den > 0 and math.isfinite(den) else 0.0
    return float(min(max((1 + rho) / 2, 0.0), 1.0))
