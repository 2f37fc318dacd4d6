"""Unit tests of theory.kernel (K1–K3): closed form, quadrature, Monte Carlo, finite width."""

import math

import numpy as np
import pytest
import sympy as sp
import torch

from theory import formulas as F
from theory.claims import get_claim
from theory.direction import loglog_slope
from theory.kernel import (phi, phi_closed_form, phi_finite_width, phi_monte_carlo,
                           phi_pairs, phi_quadrature)
from theory.model import leaky_derivative
from theory.tolerances import (FINITE_WIDTH_RATE, FLOAT32_ATOL, FLOAT64_ATOL, MC_DELTA,
                               MC_ORACLE_NEURONS, PSD_RTOL, QUADRATURE_ATOL)

GAMMAS = [0.0, 0.3, 0.9]


def random_pairs(n, d, seed):
    """n pairs covering every angle: independent, nearly parallel, identical, antiparallel, scaled."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 3.0, (n, 1))
    Z = rng.standard_normal((n, d)) * rng.uniform(0.1, 3.0, (n, 1))
    Z[: n // 5] = X[: n // 5] * (1 + 1e-7 * rng.standard_normal((n // 5, 1)))   # ρ → 1
    Z[n // 5: n // 4] = X[n // 5: n // 4]                                          # x = z
    Z[n // 4: n // 3] = -X[n // 4: n // 3]                                         # x = −z
    Z[n // 3: n // 3 + 5] = 0.0                                                     # z = 0
    return X, Z


def sigma2(gamma):
    return (1 + gamma**2) / 2


# --- K1: closed form ----------------------------------------------------------------------------

@pytest.mark.parametrize("gamma", GAMMAS)
def test_K1_closed_form_matches_quadrature(gamma):
    X, Z = random_pairs(100, 4, seed=1)
    exact = phi_pairs(X, Z, gamma)
    quad = phi_quadrature(X, Z, gamma)
    err = np.abs(exact - quad).max()
    assert err <= QUADRATURE_ATOL, f"K1: max |closed − quadrature| = {err:.2e} > {QUADRATURE_ATOL} [γ={gamma}]"


def test_K1_quadrature_single_pair_returns_float():
    x = np.array([1.0, 2.0, -0.5])
    z = np.array([0.3, -1.0, 2.0])
    v = phi_quadrature(x, z, 0.2)
    assert isinstance(v, float)
    assert abs(v - float(phi(x, z, 0.2))) <= QUADRATURE_ATOL


def test_K1_closed_form_equals_claim_formula():
    X, Z = random_pairs(50, 6, seed=2)
    claim = get_claim("K1")
    d = X.shape[1]
    rho = claim.evaluate("rho", xx=(X * X).sum(1), zz=(Z * Z).sum(1), xz=(X * Z).sum(1), d=d)
    for gamma in GAMMAS:
        want = claim.evaluate("phi_of_rho", rho=np.clip(rho, -1, 1), gamma=gamma)
        np.testing.assert_allclose(phi_pairs(X, Z, gamma), want, atol=1e-7)   # arccos(ρ) near ρ = 1: √ulp


def test_K1_alias_and_shapes():
    rng = np.random.default_rng(3)
    X, Z = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    assert phi is phi_closed_form
    G = phi(X, Z, 0.1)
    assert G.shape == (5, 4) and G.dtype == np.float64
    assert phi(X[0], Z, 0.1).shape == (4,)
    assert phi(X, Z[0], 0.1).shape == (5,)
    s = phi(X[0], Z[0], 0.1)
    assert np.ndim(s) == 0 and abs(float(s) - G[0, 0]) <= FLOAT64_ATOL
    np.testing.assert_allclose(phi_pairs(X[:4], Z, 0.1), np.diag(G[:4]), atol=FLOAT64_ATOL)
    np.testing.assert_allclose(phi_pairs(X[0], Z, 0.1), G[0], atol=FLOAT64_ATOL)


def test_K1_backends_and_dtypes():
    rng = np.random.default_rng(4)
    X, Z = rng.standard_normal((30, 8)), rng.standard_normal((20, 8))
    G = phi(X, Z, 0.2)
    G64 = phi(torch.from_numpy(X), torch.from_numpy(Z), 0.2)
    assert isinstance(G64, torch.Tensor) and G64.dtype == torch.float64
    np.testing.assert_allclose(G64.numpy(), G, atol=FLOAT64_ATOL)
    G32 = phi(torch.from_numpy(X).float(), torch.from_numpy(Z).float(), 0.2)
    assert G32.dtype == torch.float32
    assert np.abs(G32.numpy() - G).max() <= FLOAT32_ATOL
    Gi = phi(np.arange(12).reshape(4, 3), np.ones((2, 3), dtype=np.int64), 0.2)
    assert Gi.dtype == np.float64
    assert isinstance(phi(torch.ones(3), torch.ones(3), 0.0), torch.Tensor)


def test_K1_float32_diagonal_near_exact():
    """Cancellation in ab − c² at ρ = 1 stays within FLOAT32_ATOL."""
    X = torch.randn(200, 50, generator=torch.Generator().manual_seed(0)) * 3
    G = phi(X, X, 0.0)
    assert (G.diagonal() - 0.5).abs().max().item() <= FLOAT32_ATOL


# --- K2: range, identities, PSD -----------------------------------------------------------------

def test_K2_sympy_identities():
    g, th, rho = F.gamma, F.theta, F.rho
    assert sp.simplify(sp.limit(F.PHI_OF_THETA, g, 1) - 1) == 0                  # γ → 1 gives 1
    assert sp.simplify(F.PHI_OF_THETA.subs(th, 0) - (1 + g**2) / 2) == 0          # θ = 0: (1+γ²)/2
    assert sp.simplify(F.PHI_OF_THETA.subs(th, sp.pi) - g) == 0                   # θ = π: γ
    dphi = sp.diff(F.PHI_OF_RHO, rho)
    expected = (1 - g)**2 / (2 * sp.pi * sp.sqrt(1 - rho**2))
    assert sp.simplify(dphi - expected) == 0
    q, s = sp.Symbol("q", positive=True), sp.Symbol("s", positive=True)           # q = 1 − γ, s = √(1−ρ²)
    assert expected.subs({g: 1 - q, sp.sqrt(1 - rho**2): s}).is_positive          # ∂Φ/∂ρ > 0 on (−1, 1)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_K2_range_symmetry_diagonal(gamma):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 7)) * rng.uniform(0.1, 4, (60, 1))
    G = phi(X, X, gamma)
    assert G.min() >= gamma - FLOAT64_ATOL and G.max() <= sigma2(gamma) + FLOAT64_ATOL
    np.testing.assert_allclose(G, G.T, atol=FLOAT64_ATOL)
    np.testing.assert_allclose(np.diag(G), sigma2(gamma), atol=1e-9)
    rhos = np.linspace(-1, 1, 101)
    vals = get_claim("K1").evaluate("phi_of_rho", rho=rhos, gamma=gamma)
    assert np.all(np.diff(vals) > 0), "K2: Φ must increase in ρ"


def test_K2_gamma_to_one_gives_one():
    X, Z = random_pairs(20, 3, seed=6)
    np.testing.assert_allclose(phi_pairs(X, Z, 1 - 1e-12), 1.0, atol=1e-11)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_K2_gram_is_psd(gamma):
    rng = np.random.default_rng(7)
    X = np.vstack([rng.standard_normal((150, 5)), rng.standard_normal((50, 5)) * 0.01])
    ev = np.linalg.eigvalsh(phi(X, X, gamma))
    assert ev.min() >= -PSD_RTOL * ev.max(), f"K2: min eigenvalue {ev.min():.2e} [γ={gamma}]"


# --- K3: Monte Carlo and finite width -----------------------------------------------------------

@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_K3_closed_form_within_hoeffding_of_monte_carlo(gamma):
    """100 pairs, 10⁶ neurons; δ = 1e-3 for the family, so δ/100 per pair (union bound)."""
    X, Z = random_pairs(100, 5, seed=8)
    est, half = phi_monte_carlo(X, Z, gamma, MC_ORACLE_NEURONS, np.random.default_rng(9),
                                delta=MC_DELTA / len(X), pairs=True)
    assert half == pytest.approx((1 - gamma**2) * math.sqrt(math.log(2 * len(X) / MC_DELTA) / 2e6))
    err = np.abs(est - phi_pairs(X, Z, gamma))
    assert err.max() <= half, f"K3: max |MC − closed| = {err.max():.2e} > Hoeffding {half:.2e} [γ={gamma}]"


def test_K3_monte_carlo_gram_and_generators():
    rng = np.random.default_rng(10)
    X, Z = rng.standard_normal((6, 4)), rng.standard_normal((5, 4))
    state_t, state_n = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    e1, h = phi_monte_carlo(X, Z, 0.2, 20000, np.random.default_rng(1))
    e2, _ = phi_monte_carlo(X, Z, 0.2, 20000, np.random.default_rng(1))
    np.testing.assert_array_equal(e1, e2)
    t1, _ = phi_monte_carlo(torch.from_numpy(X), torch.from_numpy(Z), 0.2, 20000,
                            torch.Generator().manual_seed(1))
    t2, _ = phi_monte_carlo(torch.from_numpy(X), torch.from_numpy(Z), 0.2, 20000,
                            torch.Generator().manual_seed(1))
    assert isinstance(t1, torch.Tensor) and torch.equal(t1, t2)
    assert torch.equal(torch.random.get_rng_state(), state_t)
    assert np.array_equal(np.random.get_state()[1], state_n), "global RNG must not be used"
    G = phi(X, Z, 0.2)
    assert e1.shape == G.shape and np.abs(e1 - G).max() <= h
    assert np.abs(t1.numpy() - G).max() <= h
    mixed, _ = phi_monte_carlo(X, Z, 0.2, 100, torch.Generator().manual_seed(0))   # torch gen, numpy data
    assert isinstance(mixed, np.ndarray)
    e_single, _ = phi_monte_carlo(X[0], Z[0], 0.2, 100, np.random.default_rng(0))
    assert np.ndim(e_single) == 0


def test_K3_finite_width_matches_definition():
    rng = np.random.default_rng(11)
    m, d = 7, 3
    W, b, a = rng.standard_normal((m, d)), rng.standard_normal(m), rng.standard_normal(m)
    X, Z = rng.standard_normal((4, d)), rng.standard_normal((3, d))
    gamma = 0.25
    s = lambda u: 1.0 if u > 0 else gamma
    want = np.array([[sum(a[k]**2 * s(W[k] @ x + b[k]) * s(W[k] @ z + b[k]) for k in range(m))
                      for z in Z] for x in X])
    np.testing.assert_allclose(phi_finite_width(W, b, a, X, Z, gamma), want, atol=FLOAT64_ATOL)
    Gt = phi_finite_width(*(torch.from_numpy(v) for v in (W, b, a, X, Z)), gamma)
    np.testing.assert_allclose(Gt.numpy(), want, atol=FLOAT64_ATOL)
    assert phi_finite_width(W, b, a, X[0], Z[0], gamma) == pytest.approx(want[0, 0])


def test_K3_finite_width_converges_at_rate_m_to_minus_half():
    """|Φ_m − Φ| ∝ m^(−1/2): the fitted log-log slope's 95% interval contains −1/2."""
    rng = np.random.default_rng(12)
    d, gamma = 10, 0.0
    X = rng.standard_normal((30, d))
    G = phi(X, X, gamma)
    widths, errors = [], []
    for m in [64, 256, 1024, 4096, 16384]:
        for _ in range(6):
            W = rng.standard_normal((m, d)) / math.sqrt(d)
            b = rng.standard_normal(m)
            a = rng.standard_normal(m) / math.sqrt(m)
            Gm = phi_finite_width(W, b, a, X, X, gamma)
            widths.append(m)
            errors.append(np.sqrt(((Gm - G) ** 2).mean()))
    fit = loglog_slope(widths, errors)
    assert fit.contains(FINITE_WIDTH_RATE), f"K3: slope {fit.slope:.3f}, CI {fit.ci} excludes −0.5"


# The closed form's speed against the official 1000-neuron Monte Carlo is a benchmark, not a test
# (timed tests flake under background load): see benchmarks/kernel.py and the README's benchmark table.


# --- input validation ---------------------------------------------------------------------------

def test_leaky_derivative_values():
    u = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(leaky_derivative(u, 0.1), [0.1, 0.1, 1.0])
    assert torch.equal(leaky_derivative(torch.tensor([-1.0, 3.0]), 0.0), torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("gamma, exc, words", [
    (1.0, ValueError, "gamma == 1.0, must be < 1"),
    (-0.1, ValueError, "gamma == -0.1, must be >= 0"),
    (float("nan"), ValueError, "gamma == nan, must be finite"),
    ("0.1", TypeError, "gamma must be a real number"),
    (True, TypeError, "gamma must be a real number"),
])
def test_kernel_rejects_bad_gamma(gamma, exc, words):
    X = np.ones((2, 3))
    for fn in (lambda: phi(X, X, gamma), lambda: phi_quadrature(X, X, gamma),
               lambda: phi_pairs(X, X, gamma)):
        with pytest.raises(exc, match=words):
            fn()


def test_kernel_rejects_bad_arrays():
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match="dimension 3 but Z has dimension 4"):
        phi(X, np.ones((2, 4)), 0.0)
    with pytest.raises(ValueError, match="must have ndim in"):
        phi(np.ones((2, 3, 1)), X, 0.0)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        phi(bad, X, 0.0)
    with pytest.raises(ValueError, match="Input Z contains NaN"):
        phi(torch.ones(2, 3), torch.tensor([[1.0, float("inf"), 0.0]]), 0.0)
    with pytest.raises(TypeError, match="must all be numpy arrays or all torch tensors"):
        phi(X, torch.ones(2, 3), 0.0)
    with pytest.raises(TypeError, match="must be a numpy array or torch tensor"):
        phi("abc", X, 0.0)
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        phi_pairs(np.ones((2, 3)), np.ones((3, 3)), 0.0)


def test_monte_carlo_rejects_bad_arguments():
    X = np.ones((2, 3))
    with pytest.raises(TypeError, match="generator must be a torch.Generator or numpy.random.Generator"):
        phi_monte_carlo(X, X, 0.0, 10, None)
    with pytest.raises(ValueError, match="n_neurons == 0, must be >= 1"):
        phi_monte_carlo(X, X, 0.0, 0, np.random.default_rng(0))
    with pytest.raises(TypeError, match="n_neurons must be an integer"):
        phi_monte_carlo(X, X, 0.0, 10.5, np.random.default_rng(0))
    for delta in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match=f"delta == {delta}, must be"):
            phi_monte_carlo(X, X, 0.0, 10, np.random.default_rng(0), delta=delta)


def test_finite_width_rejects_inconsistent_parameters():
    rng = np.random.default_rng(0)
    W, b, a, X = rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal(5), np.ones((2, 3))
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        phi_finite_width(W, b, a, X, X, 0.0)
    with pytest.raises(ValueError, match="W has dimension 3 but X has dimension 2"):
        phi_finite_width(W, b, a[:4], np.ones((2, 2)), np.ones((2, 2)), 0.0)
