"""K1–K3: the kernel Φ(x, z) = E_{w,b}[s(w·x+b) s(w·z+b)] (THEORY.md §2).

Inputs are drawn by Hypothesis over dimensions, scales, angles and γ, including near-parallel and
near-antiparallel pairs where arccos is ill-conditioned. The oracles and tolerances come from
``theory.kernel`` and ``theory.tolerances``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

from theory import direction, kernel
from theory.tolerances import FINITE_WIDTH_RATE, MC_DELTA, PSD_RTOL, QUADRATURE_ATOL

from . import assertions
from .strategies import dimensions, leaky_slopes, seeds


@st.composite
def input_pairs(draw):
    """(x, z, γ): z = c·x + s·noise covers parallel (s = 0), antiparallel (c < 0) and generic pairs."""
    d = draw(dimensions(min_d=1, max_d=50), label="d")
    rng = np.random.default_rng(draw(seeds(), label="seed"))
    scale = draw(st.sampled_from([1.0, 1e-3, 10.0]), label="scale")
    x = rng.standard_normal(d) * scale
    c = draw(st.sampled_from([0.0, 1.0, -1.0, 0.5]), label="c")
    s = draw(st.sampled_from([1.0, 0.0, 1e-6]), label="s")
    z = c * x + s * rng.standard_normal(d) * scale
    return x, z, draw(leaky_slopes(max_gamma=0.99), label="gamma")


@pytest.mark.claim("K1")
@given(input_pairs())
def test_K1_closed_form_matches_quadrature(pair):
    """Φ's closed form (1+γ²)/2 − (1−γ)²θ/(2π) equals the orthant-probability integral."""
    x, z, gamma = pair
    closed = float(kernel.phi_closed_form(x, z, gamma))
    quad = float(kernel.phi_quadrature(x, z, gamma))
    err = abs(closed - quad)
    assertions.steer(err, "K1 |closed − quadrature|")
    assertions.assert_exact("K1", "test_K1_closed_form_matches_quadrature", err <= QUADRATURE_ATOL, value=err,
                            bound=QUADRATURE_ATOL, statistic="|closed form − quadrature|",
                            setting={"d": len(x), "gamma": gamma})


@pytest.mark.claim("K2")
@given(st.integers(2, 40), st.integers(1, 30), leaky_slopes(max_gamma=0.99), seeds())
def test_K2_range_symmetry_monotonicity_psd(n, d, gamma, seed):
    """Φ(x, x) = (1+γ²)/2, γ ≤ Φ ≤ (1+γ²)/2, Φ symmetric, increasing in ρ, Gram PSD."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.choice([0.1, 1.0, 3.0])
    G = kernel.phi_closed_form(X, X, gamma)
    top = (1 + gamma**2) / 2
    eig = np.linalg.eigvalsh(G)
    # Monotone in ρ: sort the off-diagonal entries by ρ and require non-decreasing Φ.
    a = (X * X).sum(1) / d + 1
    rho = ((X @ X.T) / d + 1) / np.sqrt(np.outer(a, a))
    order = np.argsort(rho, axis=None)
    steps = np.diff(G.ravel()[order])
    violations = {
        "diagonal": float(np.abs(np.diag(G) - top).max()),
        "range": float(max(gamma - G.min(), G.max() - top, 0.0)),
        "symmetry": float(np.abs(G - G.T).max()),
        "monotone": float(max(-steps.min(), 0.0)) if steps.size else 0.0,
        "psd": float(max(-eig.min() - PSD_RTOL * eig.max(), 0.0)),
    }
    worst = max(violations.values())
    assertions.explain(f"K2 violations {violations}")
    # As ρ → 1 the closed form's θ = arctan2(√(ab − c²), c) carries √ulp ≈ 1e-8 of rounding, so the
    # diagonal and the ordering near ρ = 1 hold to QUADRATURE_ATOL (measured: 1.5e-9), not to ulps.
    tol = QUADRATURE_ATOL
    assertions.assert_exact("K2", "test_K2_range_symmetry_monotonicity_psd", worst <= tol, value=worst,
                            bound=tol, statistic="largest violation of K2",
                            setting={"n": n, "d": d, "gamma": gamma}, seeds=[seed], extra=violations)


@pytest.mark.claim("K3")
@given(st.integers(2, 30), leaky_slopes(max_gamma=0.9), seeds())
def test_K3_monte_carlo_within_hoeffding(d, gamma, seed):
    """The Monte Carlo estimate (the official code's oracle) lies within its Hoeffding half-width
    of the closed form, on every entry, with the union bound over entries."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((8, d))
    n_entries = X.shape[0] ** 2
    est, half = kernel.phi_monte_carlo(X, X, gamma, 20000, torch.Generator().manual_seed(seed),
                                       delta=MC_DELTA / n_entries)
    err = float(np.abs(est - kernel.phi_closed_form(X, X, gamma)).max())
    assertions.steer(err / half, "K3 error / Hoeffding half-width")
    assertions.assert_exact("K3", "test_K3_monte_carlo_within_hoeffding", err <= half, value=err, bound=half,
                            statistic="max |MC − closed form|", setting={"d": d, "gamma": gamma}, seeds=[seed])


@pytest.mark.claim("K3")
@given(st.integers(5, 30), leaky_slopes(max_gamma=0.5), seeds())
def test_K3_finite_width_kernel_converges_at_rate_half(d, gamma, seed):
    """Φ_m → Φ at rate m^(−1/2): the fitted log-log slope's confidence interval (level 1 − α)
    contains −1/2 and lies below 0."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    X = rng.standard_normal((6, d))
    exact = kernel.phi_closed_form(X, X, gamma)
    # 22 widths give the t-interval 20 degrees of freedom, so that at level 1 − α it stays narrow
    # enough to exclude slope 0 (no convergence), the mutation this check must catch.
    widths = np.unique(np.geomspace(32, 8192, 22).astype(int))
    errors = []
    for m in widths:  # rms error over 24 independent networks per width
        sq = 0.0
        for _ in range(24):
            W = torch.randn(m, d, generator=gen, dtype=torch.float64) / np.sqrt(d)
            b = torch.randn(m, generator=gen, dtype=torch.float64)
            a = torch.randn(m, generator=gen, dtype=torch.float64) / np.sqrt(m)
            Gm = kernel.phi_finite_width(W.numpy(), b.numpy(), a.numpy(), X, X, gamma)
            sq += float(((Gm - exact) ** 2).mean())
        errors.append(np.sqrt(sq / 24))
    fit = direction.loglog_slope(widths, np.array(errors), confidence=1 - assertions.ALPHA)
    assertions.explain(f"K3 rate fit {fit}")
    lo, hi = fit.ci
    ok = lo <= FINITE_WIDTH_RATE <= hi and hi < 0
    event(f"K3 slope CI contains -1/2: {ok}")
    assertions.assert_exact("K3", "test_K3_finite_width_kernel_converges_at_rate_half", ok, value=fit.slope,
                            bound=FINITE_WIDTH_RATE, statistic="log-log slope of |Φ_m − Φ| in m",
                            setting={"d": d, "gamma": gamma}, seeds=[seed],
                            extra={"loglog_slope": fit.slope, "slope_ci": [lo, hi]})
