"""K1–K3: the kernel Φ (THEORY.md §2). Bodies: ``checks.properties.kernel``.

Inputs are drawn over dimensions, scales, angles and γ, including near-parallel and
near-antiparallel pairs where arccos is ill-conditioned.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from .properties import kernel as props
from .axes import covering_gamma
from .strategies import dimensions, leaky_slopes, seeds


@st.composite
def input_pairs(draw):
    """(x, z): z = c·x + s·noise covers parallel (s = 0), antiparallel (c < 0) and generic pairs."""
    d = draw(dimensions(min_d=1, max_d=50), label="d")
    rng = np.random.default_rng(draw(seeds(), label="seed"))
    scale = draw(st.sampled_from([1.0, 1e-3, 10.0]), label="scale")
    x = rng.standard_normal(d) * scale
    c = draw(st.sampled_from([0.0, 1.0, -1.0, 0.5]), label="c")
    s = draw(st.sampled_from([1.0, 0.0, 1e-6]), label="s")
    z = c * x + s * rng.standard_normal(d) * scale
    return x, z


@pytest.mark.claim("K1")
@given(pair=input_pairs(), gamma=leaky_slopes(max_gamma=0.99))
@covering_gamma(pair=(np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, -1.0])))
def test_K1_closed_form_matches_quadrature(pair, gamma):
    props.closed_form_matches_quadrature(*pair, gamma)


@pytest.mark.claim("K2")
@given(n=st.integers(2, 40), d=st.integers(1, 30), gamma=leaky_slopes(max_gamma=0.99), seed=seeds())
@covering_gamma(n=10, d=5, seed=1)
def test_K2_range_symmetry_monotonicity_psd(n, d, gamma, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.choice([0.1, 1.0, 3.0])
    props.range_symmetry_monotonicity_psd(X, gamma, seed)


@pytest.mark.claim("K3")
@given(d=st.integers(2, 30), gamma=leaky_slopes(max_gamma=0.9), seed=seeds())
@covering_gamma(d=5, seed=1)
def test_K3_monte_carlo_within_hoeffding(d, gamma, seed):
    X = np.random.default_rng(seed).standard_normal((8, d))
    props.monte_carlo_within_hoeffding(X, gamma, seed)


@pytest.mark.claim("K3")
@given(d=st.integers(5, 30), gamma=leaky_slopes(max_gamma=0.5), seed=seeds())
@covering_gamma(d=5, seed=1)
def test_K3_finite_width_kernel_converges_at_rate_half(d, gamma, seed):
    X = np.random.default_rng(seed).standard_normal((6, d))
    props.finite_width_converges_at_rate_half(X, gamma, seed)
