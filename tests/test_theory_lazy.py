"""Unit tests of theory.lazy (L1, L2): linearized and kernel predictors, laziness index, width assumption."""

import math

import numpy as np
import pytest
import torch

from theory.claims import get_claim
from theory.kernel import phi, phi_finite_width
from theory.model import leaky_derivative
from theory.lazy import (FLIP_FRACTION_MAX, KAPPA_MAX, WidthAssumption, kernel_predictor, laziness_index,
                         lazy_error, linearized_predictor, network_output, predicted_flip_fraction,
                         width_assumption)
from theory.params import TrainingSet
from theory.stats import wilson_interval


def init(d, m, rng):
    return rng.standard_normal((m, d)) / math.sqrt(d), rng.standard_normal(m), rng.standard_normal(m) / math.sqrt(m)


def shifted_gauss(N, d, rng, shift=0.3):
    y = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    return rng.standard_normal((N, d)) + shift * y[:, None], y


def gradient_descent(W, b, a, gamma, X, y, lr, steps):
    """Plain full-batch GD on the identity loss L = (1/N) Σ −y_n f(x_n), readout fixed (test oracle)."""
    W, b = W.copy(), b.copy()
    N = len(y)
    for _ in range(steps):
        S = leaky_derivative(X @ W.T + b, gamma)            # (N, m)
        coef = S * (y / N)[:, None] * a                     # ∂(−L)/∂pre
        W += lr * coef.T @ X
        b += lr * coef.sum(0)
    return W, b


# --- L1 ------------------------------------------------------------------------------------------

def test_L1_network_output_matches_definition():
    rng = np.random.default_rng(0)
    W, b, a = init(3, 5, rng)
    Z = rng.standard_normal((4, 3))
    pre = Z @ W.T + b
    np.testing.assert_allclose(network_output(W, b, a, 0.2, Z), np.maximum(pre, 0.2 * pre) @ a, atol=1e-12)
    assert isinstance(network_output(W, b, a, 0.2, Z[0]), float)


def test_L1_linearized_predictor_matches_explicit_sum():
    rng = np.random.default_rng(1)
    d, m, N, gamma = 4, 9, 6, 0.1
    W, b, a = init(d, m, rng)
    X, y = shifted_gauss(N, d, rng)
    lam = rng.uniform(0, 1, N)
    Z = rng.standard_normal((5, d))
    Pm = phi_finite_width(W, b, a, X, Z, gamma)
    want = network_output(W, b, a, gamma, Z) + sum(
        lam[n] * y[n] * Pm[n] * (X[n] @ Z.T + 1) for n in range(N))
    np.testing.assert_allclose(linearized_predictor(W, b, a, gamma, TrainingSet(X, y, lam), Z), want, atol=1e-12)
    np.testing.assert_allclose(linearized_predictor(W, b, a, gamma, TrainingSet(X, y, 0 * lam), Z),
                               network_output(W, b, a, gamma, Z), atol=1e-12)
    tw = [torch.from_numpy(v) for v in (W, b, a)]
    tset = TrainingSet(torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(lam))
    np.testing.assert_allclose(linearized_predictor(*tw, gamma, tset, torch.from_numpy(Z)), want, atol=1e-12)


def test_L1_linearization_tracks_gradient_descent_when_wide():
    """Identity loss, Λ_n = t/N: ‖f_t − lin‖/‖f_t − f_0‖ is small in the lazy regime (m = 20000)."""
    rng = np.random.default_rng(2)
    d, m, N, gamma, lr, steps = 10, 20000, 40, 0.0, 0.05, 20
    W0, b0, a = init(d, m, rng)
    X, y = shifted_gauss(N, d, rng)
    Z = rng.standard_normal((50, d))
    W, b = gradient_descent(W0, b0, a, gamma, X, y, lr, steps)
    lam = np.full(N, lr * steps / N)
    f0, ft = network_output(W0, b0, a, gamma, Z), network_output(W, b, a, gamma, Z)
    lin = linearized_predictor(W0, b0, a, gamma, TrainingSet(X, y, lam), Z)
    rel = lazy_error(ft, lin, f0)
    assert rel < 0.05, f"L1: relative error {rel:.3f} [m={m}, t=1]"
    assert lazy_error(f0, lin, f0) == 1.0        # the same network never trained: the whole update missing
    fhat = kernel_predictor(TrainingSet(X, y, lam), Z, gamma)   # Φ in place of Φ_m: O(m^(−1/2)) more
    rel_hat = np.linalg.norm(ft - f0 - fhat) / np.linalg.norm(ft - f0)
    assert rel_hat < 0.1, f"L1: kernel predictor relative error {rel_hat:.3f}"


def test_L1_lazy_error_is_measured_against_the_predicted_update():
    """‖f_t − lin‖/‖lin − f_0‖, capped at 1: a network that never moved has error 1, not 0/0."""
    f0, lin = np.array([0.0, 1.0, -1.0]), np.array([3.0, 5.0, -1.0])    # predicted update (3, 4, 0): norm 5
    assert lazy_error(lin, lin, f0) == 0.0
    assert lazy_error(f0, lin, f0) == 1.0                                 # untrained: f_t = f_0
    assert lazy_error(lin + np.array([0.0, 0.0, 1.0]), lin, f0) == pytest.approx(0.2)
    assert lazy_error(f0 - (lin - f0), lin, f0) == 1.0                     # moved the wrong way: 2, capped
    assert lazy_error(f0 + 1.0, f0, f0) == 1.0                            # moved where nothing was predicted
    assert lazy_error(f0, f0, f0) is None                                 # nothing predicted, nothing moved
    assert lazy_error(torch.from_numpy(lin), torch.from_numpy(lin), torch.from_numpy(f0)) == 0.0
    with pytest.raises(ValueError, match="initial"):
        lazy_error(lin, lin, f0[:2])


def test_L1_kernel_predictor_matches_explicit_sum():
    rng = np.random.default_rng(3)
    X, y = shifted_gauss(7, 3, rng)
    lam = rng.uniform(0, 2, 7)
    Z = rng.standard_normal((4, 3))
    K = phi(X, Z, 0.3)
    want = sum(lam[n] * y[n] * K[n] * (X[n] @ Z.T + 1) for n in range(7))
    np.testing.assert_allclose(kernel_predictor(TrainingSet(X, y, lam), Z, 0.3), want, atol=1e-12)
    assert kernel_predictor(TrainingSet(X, y, lam), Z[0], 0.3) == pytest.approx(want[0])


# --- L2 ------------------------------------------------------------------------------------------

def test_L2_laziness_index_matches_double_sum_and_monte_carlo():
    rng = np.random.default_rng(4)
    d, N, m, gamma = 5, 8, 40000, 0.2
    X, y = shifted_gauss(N, d, rng)
    lam = rng.uniform(0.5, 1.5, N) / N
    Z = rng.standard_normal((3, d))
    kappa = laziness_index(TrainingSet(X, y, lam), Z, gamma, m)
    G = phi(X, X, gamma)
    for j, z in enumerate(Z):
        c = lam * y * (X @ z + 1)
        rms2 = sum(c[n] * c[k] * G[n, k] for n in range(N) for k in range(N)) / m
        assert kappa[j] == pytest.approx(math.sqrt(rms2) / math.sqrt(z @ z / d + 1), rel=1e-10)
    # Δ_k(z) = a_k Σ_n Λ_n y_n s_k(x_n)(x_n·z + 1) over one random network of width m.
    W, b, a = init(d, m, rng)
    S = leaky_derivative(X @ W.T + b, gamma)
    Delta = a[:, None] * (S.T @ ((lam * y)[:, None] * (X @ Z.T + 1)))          # (m, n)
    mc = np.sqrt((Delta ** 2).mean(0)) / np.sqrt((Z * Z).sum(1) / d + 1)
    np.testing.assert_allclose(mc, kappa, rtol=0.05)


def test_L2_predicted_flip_fraction_formula_and_monte_carlo():
    claim = get_claim("L2")
    ks = np.array([0.0, 0.05, 0.3, 1.0, 5.0])
    np.testing.assert_allclose(predicted_flip_fraction(ks), np.arctan(ks) / np.pi, atol=1e-15)
    np.testing.assert_allclose(predicted_flip_fraction(ks), claim.evaluate(kappa=ks), atol=1e-15)
    assert predicted_flip_fraction(1.0) == pytest.approx(0.25)
    assert predicted_flip_fraction(1e-4) == pytest.approx(1e-4 / np.pi, rel=1e-6)   # O(κ)
    rng = np.random.default_rng(5)
    n = 200000
    for kappa in (0.1, 0.5, 2.0):
        h = rng.standard_normal(n)
        delta = kappa * rng.standard_normal(n)
        k = int((np.sign(h + delta) != np.sign(h)).sum())
        lo, hi = wilson_interval(k, n, 0.999)
        assert lo <= predicted_flip_fraction(kappa) <= hi, f"L2: flip share {k / n:.4f} [κ={kappa}]"


def test_L2_width_assumption_verdicts():
    assert KAPPA_MAX == pytest.approx(math.tan(math.pi * FLIP_FRACTION_MAX))
    assert predicted_flip_fraction(KAPPA_MAX) == pytest.approx(FLIP_FRACTION_MAX)
    assert KAPPA_MAX == pytest.approx(get_claim("L2").evaluate("kappa_max", f_max=FLIP_FRACTION_MAX))
    inside = width_assumption(np.array([0.01, KAPPA_MAX]))
    assert isinstance(inside, WidthAssumption) and inside and inside.verdict == "inside"
    assert inside.kappa_max == KAPPA_MAX and inside.value == KAPPA_MAX and inside.share_inside == 1.0
    out = width_assumption(np.array([0.01, 0.5, 2.0]))
    assert not out and out.verdict == "outside" and out.value == 2.0
    np.testing.assert_array_equal(out.inside, [True, False, False])
    assert out.predicted_flip == pytest.approx(np.arctan(2.0) / np.pi)
    assert width_assumption(0.5, kappa_max=1.0).verdict == "inside"


def test_L2_laziness_grows_with_t_and_falls_with_m():
    rng = np.random.default_rng(6)
    X, y = shifted_gauss(50, 8, rng)
    Z = rng.standard_normal((4, 8))
    k1 = laziness_index(TrainingSet(X, y, np.full(50, 1 / 50)), Z, 0.0, 1000)
    np.testing.assert_allclose(laziness_index(TrainingSet(X, y, np.full(50, 3 / 50)), Z, 0.0, 1000), 3 * k1)
    np.testing.assert_allclose(laziness_index(TrainingSet(X, y, np.full(50, 1 / 50)), Z, 0.0, 4000), k1 / 2)


# --- validation ------------------------------------------------------------------------------------

def test_lazy_rejects_bad_inputs():
    rng = np.random.default_rng(7)
    X, y = shifted_gauss(4, 3, rng)
    lam = np.full(4, 0.25)
    with pytest.raises(ValueError, match="y must contain only labels -1 and \\+1, found \\[0.0"):
        kernel_predictor(TrainingSet(X, np.array([0.0, 1, 1, -1]), lam), X, 0.0)
    with pytest.raises(ValueError, match="lam has negative entries"):
        kernel_predictor(TrainingSet(X, y, -lam), X, 0.0)
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        kernel_predictor(TrainingSet(X, y[:3], lam), X, 0.0)
    with pytest.raises(ValueError, match="Z has dimension 2 but X has dimension 3"):
        kernel_predictor(TrainingSet(X, y, lam), np.ones((2, 2)), 0.0)
    with pytest.raises(ValueError, match="gamma == 1, must be < 1"):
        laziness_index(TrainingSet(X, y, lam), X, 1, 10)
    with pytest.raises(ValueError, match="m == 0, must be >= 1"):
        laziness_index(TrainingSet(X, y, lam), X, 0.0, 0)
    with pytest.raises(ValueError, match="kappa == -0.1, must be >= 0"):
        predicted_flip_fraction(-0.1)
    with pytest.raises(ValueError, match="kappa has negative entries"):
        width_assumption(np.array([0.1, -1.0]))
    with pytest.raises(ValueError, match="kappa_max == 0.0, must be > 0"):
        width_assumption(0.1, kappa_max=0.0)
    W, b, a = init(3, 5, rng)
    with pytest.raises(ValueError, match="W0 has shape \\(5, 3\\), must have 4 columns"):
        linearized_predictor(W, b, a, 0.0, TrainingSet(np.ones((4, 4)), y, lam), np.ones((2, 4)))
    bad = X.copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains NaN or inf"):
        linearized_predictor(W, b, a, 0.0, TrainingSet(bad, y, lam), X)
