"""Unit tests of theory.direction (D1–D5): predicted direction, residual bound, angle bounds, slopes."""

import math

import numpy as np
import pytest
import torch

from theory.claims import get_claim
from theory.direction import (AngleBound, SlopeFit, angle_bound, finite_width_residual_rms, loglog_slope,
                              predicted_direction, residual_bound, residual_xi, signed_cosine,
                              transfer_angle_bound)
from theory.kernel import phi, phi_finite_width
from theory.model import leaky_derivative
from theory.params import TrainingSet
from theory.stats import share_at_most


def init(d, m, rng):
    return rng.standard_normal((m, d)) / math.sqrt(d), rng.standard_normal(m), rng.standard_normal(m) / math.sqrt(m)


def grad_f0(W, b, a, gamma, X):
    """∇f_0(x) = Wᵀ(a ⊙ s(Wx + b)), row by row."""
    return (leaky_derivative(X @ W.T + b, gamma) * a) @ W


def random_labels(N, d, rng):
    return rng.standard_normal((N, d)), rng.permutation(np.where(np.arange(N) % 2 == 0, 1.0, -1.0))


# --- D1 --------------------------------------------------------------------------------------------

def test_D1_predicted_direction_matches_explicit_sum():
    rng = np.random.default_rng(0)
    X, y = random_labels(6, 4, rng)
    lam = rng.uniform(0, 1, 6)
    K = phi(X, X, 0.2)
    want = np.array([sum(lam[k] * y[k] * K[k, n] * X[k] for k in range(6)) for n in range(6)])
    np.testing.assert_allclose(predicted_direction(TrainingSet(X, y, lam), 0.2), want, atol=1e-12)
    Xq = rng.standard_normal((3, 4))
    Kq = phi(X, Xq, 0.2)
    want_q = np.array([sum(lam[k] * y[k] * Kq[k, j] * X[k] for k in range(6)) for j in range(3)])
    np.testing.assert_allclose(predicted_direction(TrainingSet(X, y, lam), 0.2, Xq), want_q, atol=1e-12)
    assert np.all(predicted_direction(TrainingSet(X, y, 0 * lam), 0.2) == 0)   # untrained f: u = 0


def test_D1_residual_xi_is_difference():
    g = np.arange(6.0).reshape(2, 3)
    u = np.ones((2, 3))
    np.testing.assert_array_equal(residual_xi(g, u), g - u)
    np.testing.assert_array_equal(residual_xi(torch.from_numpy(g), u), g - u)
    with pytest.raises(ValueError, match="u has shape \\(2, 2\\), must have 3 columns"):
        residual_xi(g, np.ones((2, 2)))


@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_D1_mean_squared_initial_gradient_is_half_one_plus_gamma_squared(gamma):
    rng = np.random.default_rng(1)
    d, m = 30, 300
    x = rng.standard_normal(d)
    sq = np.array([(grad_f0(*init(d, m, rng), gamma, x[None]) ** 2).sum() for _ in range(400)])
    want = get_claim("D1").evaluate("grad0_sq_mean", gamma=gamma)
    assert want == pytest.approx((1 + gamma**2) / 2)
    se = sq.std(ddof=1) / math.sqrt(len(sq))
    assert abs(sq.mean() - want) <= 4 * se, f"D1: E‖∇f_0‖² ≈ {sq.mean():.4f} ± {se:.4f}, want {want}"


def test_D1_residual_bound_closed_form_and_claim():
    d, delta = 100, 0.05
    x = math.log(1 / delta)
    want = math.sqrt(0.5 * (1 + 2 * math.sqrt(x / d) + 2 * x / d))
    assert residual_bound(0.0, d, delta) == pytest.approx(want, rel=1e-12)
    claim = get_claim("D1")
    for m, n in [(1000, 1), (4000, 1000)]:
        assert residual_bound(0.3, d, delta, m=m, n_points=n) == pytest.approx(
            claim.evaluate(gamma=0.3, d=d, m=m, delta=delta, n=n), rel=1e-12)
    assert residual_bound(0.0, d, 0.01) > residual_bound(0.0, d, 0.1)             # smaller δ, wider
    assert residual_bound(0.0, d, 0.05, m=100) > residual_bound(0.0, d, 0.05, m=10000) > want
    assert residual_bound(0.0, 10**6, 0.05) == pytest.approx(math.sqrt(0.5), rel=1e-2)   # → σ as d → ∞
    fw = residual_bound(0.0, d, delta, m=1000, finite_width_rms=np.array([0.0, 0.1]))
    assert fw.shape == (2,) and fw[1] > fw[0] > residual_bound(0.0, d, delta, m=1000)


@pytest.mark.parametrize("d, m", [(20, 200), (100, 1000)])
def test_D1_residual_bound_holds_with_probability_one_minus_delta(d, m):
    """‖∇f_0(x)‖ ≤ B_ξ(δ) on ≥ 1 − δ of independent initializations (binomial test)."""
    rng = np.random.default_rng(2)
    delta, trials = 0.05, 300
    x = rng.standard_normal(d) * 1.5
    B = residual_bound(0.0, d, delta, m=m)
    norms = np.array([np.linalg.norm(grad_f0(*init(d, m, rng), 0.0, x[None])) for _ in range(trials)])
    k = int((norms > B).sum())
    res = share_at_most(k, trials, delta, confidence=0.999)
    assert res, f"D1: ‖∇f_0‖ > B_ξ={B:.3f} in {k}/{trials} [d={d}, m={m}, δ={delta}]"


def test_D1_finite_width_residual_rms_matches_simulation():
    """rms of Σ_k Λ_k y_k (Φ_m − Φ)(x_k, x_n) x_k over random networks ≈ the theory's value."""
    rng = np.random.default_rng(3)
    d, N, m, gamma = 8, 30, 200, 0.0
    X = rng.standard_normal((N, d)) + 0.5 * np.where(np.arange(N) % 2 == 0, 1.0, -1.0)[:, None]
    y = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    lam = np.full(N, 2.0 / N)
    u = predicted_direction(TrainingSet(X, y, lam), gamma)
    sims = []
    for _ in range(300):
        W, b, a = init(d, m, rng)
        Pm = phi_finite_width(W, b, a, X, X, gamma)
        sims.append(((Pm * (lam * y)[:, None]).T @ X - u))
    sim_rms = np.sqrt((np.array(sims) ** 2).sum(2).mean(0))
    pred = finite_width_residual_rms(TrainingSet(X, y, lam), gamma, m, np.random.default_rng(4), n_neurons=40000)
    np.testing.assert_allclose(pred, sim_rms, rtol=0.15)
    q = finite_width_residual_rms(TrainingSet(X, y, lam), gamma, m, torch.Generator().manual_seed(0), X[:3],
                                  n_neurons=2000)
    assert q.shape == (3,)


# --- D2, D3, D5 ------------------------------------------------------------------------------------

def test_D2_angle_bound_values_and_flags():
    res = angle_bound(0.6, 1.0)
    assert isinstance(res, AngleBound) and res.valid and res.cos == pytest.approx(0.8)
    res = angle_bound(np.array([0.0, 0.5, 1.0, 2.0]), 1.0)
    np.testing.assert_allclose(res.cos[:2], [1.0, math.sqrt(0.75)])
    assert np.isnan(res.cos[2:]).all() and list(res.valid) == [True, True, False, False]
    assert angle_bound(0.1, 0.0).valid is False
    np.testing.assert_allclose(angle_bound(0.3, np.array([1.0, 2.0])).cos,
                               get_claim("D2").evaluate(B_xi=0.3, u_norm=np.array([1.0, 2.0])))


def test_D2_angle_bound_holds_geometrically_and_is_tight():
    rng = np.random.default_rng(5)
    u = rng.standard_normal((2000, 5)) * 3
    xi = rng.standard_normal((2000, 5))
    B = np.linalg.norm(xi, axis=1)
    U = np.linalg.norm(u, axis=1)
    ok = B < U
    v = u + xi
    cos = (v * u).sum(1) / (np.linalg.norm(v, axis=1) * U)
    assert np.all(cos[ok] >= angle_bound(B[ok], U[ok]).cos - 1e-12)
    uu = np.array([1.0, 0.0])                              # ξ at the tangent point: equality
    w = np.array([1 - 0.36, 0.48])                         # w = u + ξ, ‖ξ‖ = 0.6, ξ ⟂ w
    assert np.linalg.norm(w - uu) == pytest.approx(0.6) and (w - uu) @ w == pytest.approx(0.0)
    assert w @ uu / np.linalg.norm(w) == pytest.approx(angle_bound(0.6, 1.0).cos)


def test_D3_signed_cosine_sees_the_sign():
    rng = np.random.default_rng(6)
    u = rng.standard_normal((5, 3))
    y_adv = np.array([1.0, -1, 1, -1, 1])
    r = y_adv[:, None] * u * 2.0
    np.testing.assert_allclose(signed_cosine(r, y_adv, u), 1.0)
    np.testing.assert_allclose(signed_cosine(-r, y_adv, u), -1.0)
    r[0] = 0
    assert np.isnan(signed_cosine(r, y_adv, u)[0])
    with pytest.raises(ValueError, match="y_adv must contain only labels -1 and \\+1"):
        signed_cosine(r, np.array([1.0, 2, 1, 1, 1]), u)


def test_D5_transfer_angle_bound():
    res = transfer_angle_bound(0.6, 1.0)
    assert res.valid and res.angle == pytest.approx(2 * math.asin(0.6))
    assert res.cos == pytest.approx(math.cos(2 * math.asin(0.6)))
    assert res.angle == pytest.approx(get_claim("D5").evaluate(B_xi=0.6, B_xi_prime=0.6, u_norm=1.0))
    two = transfer_angle_bound(np.array([0.1, 0.9]), 1.0, xi_bound_prime=np.array([0.2, 1.5]))
    assert list(two.valid) == [True, False] and np.isnan(two.angle[1])
    rng = np.random.default_rng(7)
    u = np.array([4.0, 0, 0])
    for _ in range(500):
        xi1, xi2 = rng.standard_normal(3), rng.standard_normal(3)
        r1, r2 = u + xi1, u + xi2
        ang = math.acos(np.clip(r1 @ r2 / np.linalg.norm(r1) / np.linalg.norm(r2), -1, 1))
        b = transfer_angle_bound(np.linalg.norm(xi1), 4.0, np.linalg.norm(xi2))
        assert not b.valid or ang <= b.angle + 1e-12


# --- D4: log-log slopes ------------------------------------------------------------------------------

def test_D4_loglog_slope_exact_power_law():
    x = np.array([10.0, 20, 40, 80, 160])
    fit = loglog_slope(x, 3 * x ** -0.75)
    assert isinstance(fit, SlopeFit) and fit.slope == pytest.approx(-0.75)
    assert fit.intercept == pytest.approx(math.log(3))
    assert fit.ci_high - fit.ci_low < 1e-8 and fit.contains(-0.75) and fit.n == 5


def test_D4_loglog_slope_interval_covers_at_nominal_rate():
    rng = np.random.default_rng(8)
    x = np.repeat([10.0, 30, 100, 300, 1000], 4)
    hits = 0
    for _ in range(400):
        y = x ** -1.0 * np.exp(0.2 * rng.standard_normal(x.size))
        hits += loglog_slope(x, y, confidence=0.9).contains(-1.0)
    assert 0.84 <= hits / 400 <= 0.96


def test_D4_one_minus_cos_falls_with_d_and_t():
    claim = get_claim("D4")
    f = lambda t, d: claim.evaluate(B_xi=0.7, C=2.0, t=t, d=d, N=100)
    assert f(1.0, 400) < f(1.0, 100) and f(2.0, 100) < f(1.0, 100)
    ds = np.array([400.0, 1600, 6400, 25600])
    assert loglog_slope(ds, f(1.0, ds)).slope == pytest.approx(-1.0, abs=0.02)   # slope −1 as cos → 1


# --- validation ---------------------------------------------------------------------------------------

def test_direction_rejects_bad_inputs():
    with pytest.raises(ValueError, match="delta == 1.0, must be < 1"):
        residual_bound(0.0, 10, 1.0)
    with pytest.raises(ValueError, match="delta == 0, must be > 0"):
        residual_bound(0.0, 10, 0)
    with pytest.raises(ValueError, match="d == 0, must be >= 1"):
        residual_bound(0.0, 0, 0.1)
    with pytest.raises(ValueError, match="gamma == 1.5, must be < 1"):
        residual_bound(1.5, 10, 0.1)
    with pytest.raises(ValueError, match="xi_bound has negative entries"):
        angle_bound(-1.0, 1.0)
    with pytest.raises(ValueError, match="x has 2 points, must have >= 3"):
        loglog_slope([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="y has entries <= 0"):
        loglog_slope([1.0, 2.0, 3.0], [1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="single distinct value"):
        loglog_slope([2.0, 2.0, 2.0], [1.0, 3.0, 2.0])
    with pytest.raises(ValueError, match="confidence == 1.0, must be < 1"):
        loglog_slope([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], confidence=1.0)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        loglog_slope([1.0, 2.0, 3.0], [1.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="y must contain only labels"):
        predicted_direction(TrainingSet(np.ones((2, 2)), np.array([1.0, 0.5]), np.ones(2)), 0.0)
    with pytest.raises(TypeError, match="generator must be"):
        finite_width_residual_rms(TrainingSet(np.ones((2, 2)), np.array([1.0, -1]), np.ones(2)), 0.0, 10, 42)
