"""K1–K3: the kernel Φ(x, z) = E_{w,b}[s(w·x+b) s(w·z+b)] (THEORY.md §2).

The oracles, the formulas (Φ(x, x), ρ of the augmented inputs) and the tolerances come from
``theory``.
"""

from __future__ import annotations

import numpy as np
import torch

from theory import direction, formulas, kernel
from theory.power import slope_effect
from theory.tolerances import FINITE_WIDTH_RATE, PSD_RTOL, QUADRATURE_ATOL

from .. import assertions
from ..assertions import tests_claim


@tests_claim("K1")
def closed_form_matches_quadrature(x: np.ndarray, z: np.ndarray, gamma: float):
    """K1: Φ's closed form (1+γ²)/2 − (1−γ)²θ/(2π) equals the orthant-probability integral."""
    __tracebackhide__ = True
    err = abs(float(kernel.phi_closed_form(x, z, gamma)) - float(kernel.phi_quadrature(x, z, gamma)))
    assertions.steer(err, "K1 |closed − quadrature|")
    return assertions.assert_exact(err <= QUADRATURE_ATOL, value=err, bound=QUADRATURE_ATOL,
                                   statistic="|closed form − quadrature|", setting={"d": len(x), "gamma": gamma})


def k2_violations(X: np.ndarray, gamma: float) -> dict:
    """Largest violation of each K2 property on the Gram matrix of X (0 where it holds)."""
    d = X.shape[1]
    G = kernel.phi_closed_form(X, X, gamma)
    diagonal = float(formulas.phi_intercept(gamma))  # Φ(x, x) = (1+γ²)/2
    eig = np.linalg.eigvalsh(G)
    sq = (X * X).sum(1)
    rho = formulas.rho_of_inputs(sq[:, None], sq[None, :], X @ X.T, d)
    # Monotone in ρ: sort the entries by ρ and require non-decreasing Φ.
    steps = np.diff(G.ravel()[np.argsort(rho, axis=None)])
    return {
        "diagonal": float(np.abs(np.diag(G) - diagonal).max()),
        "range": float(max(gamma - G.min(), G.max() - diagonal, 0.0)),
        "symmetry": float(np.abs(G - G.T).max()),
        "monotone": float(max(-steps.min(), 0.0)) if steps.size else 0.0,
        "psd": float(max(-eig.min() - PSD_RTOL * eig.max(), 0.0)),
    }


@tests_claim("K2")
def range_symmetry_monotonicity_psd(X: np.ndarray, gamma: float, seed: int):
    """K2: Φ(x, x) = (1+γ²)/2, γ ≤ Φ ≤ (1+γ²)/2, Φ symmetric, increasing in ρ, Gram PSD."""
    __tracebackhide__ = True
    violations = k2_violations(X, gamma)
    worst = max(violations.values())
    assertions.explain(f"K2 violations {violations}")
    # As ρ → 1 the closed form's θ = arctan2(√(ab − c²), c) carries √ulp ≈ 1e-8 of rounding, so the
    # diagonal and the ordering near ρ = 1 hold to QUADRATURE_ATOL (measured: 1.5e-9), not to ulps.
    return assertions.assert_exact(worst <= QUADRATURE_ATOL, value=worst, bound=QUADRATURE_ATOL,
                                   statistic="largest violation of K2",
                                   setting={"n": X.shape[0], "d": X.shape[1], "gamma": gamma}, seeds=[seed],
                                   violations=violations)


@tests_claim("K3")
def monte_carlo_within_hoeffding(X: np.ndarray, gamma: float, seed: int, n_neurons: int = 20000):
    """K3: the Monte Carlo estimate (the official code's oracle) lies within its Hoeffding half-width
    of the closed form, on every entry, with the union bound over entries."""
    __tracebackhide__ = True
    # Failure probability α over all entries (union bound), inside the run's false-failure budget.
    alpha = assertions.next_level()
    est, half = kernel.phi_monte_carlo(X, X, gamma, n_neurons, torch.Generator().manual_seed(seed),
                                       delta=alpha / X.shape[0] ** 2)
    err = float(np.abs(est - kernel.phi_closed_form(X, X, gamma)).max())
    assertions.steer(err / half, "K3 error / Hoeffding half-width")
    return assertions.assert_exact(err <= half, value=err, bound=half, statistic="max |MC − closed form|",
                                   setting={"d": X.shape[1], "gamma": gamma}, seeds=[seed], test="hoeffding",
                                   alpha=alpha)


#: 22 widths give the slope's t-interval 20 degrees of freedom, so that at level 1 − α it stays
#: narrow enough to exclude slope 0 (no convergence), the mutation this check must catch.
K3_WIDTHS = np.unique(np.geomspace(32, 8192, 22).astype(int))
#: Independent networks per width of the rms error.
K3_NETWORKS = 24


@tests_claim("K3")
def finite_width_converges_at_rate_half(X: np.ndarray, gamma: float, seed: int):
    """K3: Φ_m → Φ at rate m^(−1/2): the fitted log-log slope's interval (level 1 − α) contains −1/2
    and lies below 0."""
    __tracebackhide__ = True
    gen = torch.Generator().manual_seed(seed)
    d = X.shape[1]
    exact = kernel.phi_closed_form(X, X, gamma)
    errors = []
    for m in K3_WIDTHS:
        sq = 0.0
        for _ in range(K3_NETWORKS):
            W = torch.randn(m, d, generator=gen, dtype=torch.float64) / np.sqrt(d)
            b = torch.randn(m, generator=gen, dtype=torch.float64)
            a = torch.randn(m, generator=gen, dtype=torch.float64) / np.sqrt(m)
            Gm = kernel.phi_finite_width(W.numpy(), b.numpy(), a.numpy(), X, X, gamma)
            sq += float(((Gm - exact) ** 2).mean())
        errors.append(np.sqrt(sq / K3_NETWORKS))
    alpha = assertions.next_level()
    fit = direction.loglog_slope(K3_WIDTHS, np.array(errors), confidence=1 - alpha)
    assertions.explain(f"K3 rate fit {fit}")
    lo, hi = fit.ci
    ok = lo <= FINITE_WIDTH_RATE <= hi and hi < 0
    assertions.tally(f"K3 slope CI contains -1/2: {ok}")
    return assertions.assert_exact(ok, value=fit.slope, bound=FINITE_WIDTH_RATE,
                                   statistic="log-log slope of |Φ_m − Φ| in m", setting={"d": d, "gamma": gamma},
                                   seeds=[seed], slope=fit.slope, slope_ci=(lo, hi), test="t-interval",
                                   alpha=alpha, detects=slope_effect(fit.stderr, fit.n, fit.confidence),
                                   failing=f"its interval [{lo:.3g}, {hi:.3g}] "
                                           + ("excludes the rate −1/2" if not lo <= FINITE_WIDTH_RATE <= hi
                                              else "does not lie below 0"))
