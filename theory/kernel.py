"""The kernel Φ(x, z) = E_{w,b}[s(w·x + b) s(w·z + b)] and its three oracles.   [K1–K3]

Closed form (K1), numerical integration of the orthant probabilities (K3), Monte Carlo with its
Hoeffding half-width (K3), and the finite-width kernel Φ_m of a given network (L1, D1). The general
formula lives once (``formulas.PHI_OF_THETA``); γ = 0 (ReLU) is the same code.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
from scipy import integrate, special

from . import formulas
from ._backend import common_backend, is_tensor, normal, single_thread_blas, to_numpy64, torch
from .model import leaky_derivative
from .tolerances import (MC_CHUNK_ELEMENTS, MC_DELTA, MC_PAIRS_CHUNK_ELEMENTS, QUAD_EPSABS, QUAD_EPSREL,
                         TORCH_MIN_ELEMENTS)
from .validation import (check_array, check_delta, check_gamma, check_generator,
                         check_positive_int, check_same_dim, check_consistent_length, check_rows)

__all__ = ["phi_closed_form", "phi", "phi_pairs", "phi_monte_carlo", "phi_quadrature",
           "phi_finite_width"]


def _phi_from_moments(a, b, c, gamma, *, outer):
    """Φ from a = ‖x‖²/d + 1, b = ‖z‖²/d + 1, c = x·z/d + 1, on a fresh buffer.

    θ = arctan2(√max(ab − c², 0), c) (neural-tangents' safe form); Φ = A(γ) + B(γ)·θ with A, B
    lambdified from ``formulas.PHI_OF_THETA``. In-place steps keep the Gram case at one matrix of
    memory traffic per step.
    """
    A = float(formulas.phi_intercept(gamma))
    B = float(formulas.phi_slope(gamma))
    if is_tensor(c):
        s = torch.outer(a, b) if outer else a * b
        s.addcmul_(c, c, value=-1.0).clamp_(min=0).sqrt_()
        theta = torch.atan2(s, c, out=s)
        return theta.mul_(B).add_(A)
    s = np.multiply.outer(a, b) if outer else a * b
    s -= c * c
    np.maximum(s, 0, out=s)
    np.sqrt(s, out=s)
    theta = np.arctan2(s, c, out=s)
    theta *= B
    theta += A
    return theta


def _to_torch(*arrays):
    """Zero-copy torch views of numpy arrays (torch's elementwise kernels are vectorised and
    multi-threaded, numpy's arctan2 is not); returns (tensors, converted)."""
    if torch is None or is_tensor(arrays[0]):
        return arrays, False
    return tuple(torch.from_numpy(a if a.flags.writeable and a.flags.c_contiguous
                                  else np.ascontiguousarray(a).copy()) for a in arrays), True


def _as_rows(X, Z, name_x, name_z):
    X = check_array(X, name_x, ndim=(1, 2))
    Z = check_array(Z, name_z, ndim=(1, 2))
    check_same_dim(X, Z, name_x, name_z)
    X, Z = common_backend((name_x, X), (name_z, Z))
    sx, sz = X.ndim == 1, Z.ndim == 1
    X = X.reshape(1, -1) if sx else X
    Z = Z.reshape(1, -1) if sz else Z
    return X, Z, sx, sz


def _squeeze(G, sx, sz):
    if sx and sz:
        return G[0, 0] if is_tensor(G) else G[0, 0][()]
    if sx:
        return G[0]
    if sz:
        return G[:, 0]
    return G


def _sqnorm(X):
    return (X * X).sum(1)


def phi_closed_form(X, Z, gamma):
    """Φ(x, z) = (1+γ²)/2 − (1−γ)² θ/(2π).   [K1, derived]

    Symbols: x, z ∈ R^d; γ ∈ [0, 1) leaky slope; a = ‖x‖²/d + 1, b = ‖z‖²/d + 1, c = x·z/d + 1;
    ρ = c/√(ab), θ = arccos ρ — the degree-0 arc-cosine kernel of the augmented inputs (x/√d, 1).
    Numerics: θ via arctan2(√max(ab − c², 0), c), stable as ρ → ±1; one matrix product plus O(n1·n2)
    elementwise work, so faster than a 1000-neuron Monte Carlo estimate. Float32 inputs lose up to
    ``tolerances.FLOAT32_ATOL`` near ρ = 1 (cancellation in ab − c²); pass float64 for exact values.

    Parameters
    ----------
    X : (n1, d) or (d,) numpy array or torch tensor.
    Z : (n2, d) or (d,), same backend as X.
    gamma : float in [0, 1).

    Returns
    -------
    Gram matrix (n1, n2) for 2-D inputs; (n2,) or (n1,) if one input is 1-D; a scalar (numpy float or
    0-d tensor) for two vectors. Backend and floating dtype of the inputs (integers → float64).
    """
    gamma = check_gamma(gamma)
    X, Z, sx, sz = _as_rows(X, Z, "X", "Z")
    return _squeeze(gram(X, Z, gamma), sx, sz)


def gram(X, Z, gamma):
    """The Gram matrix Φ(X, Z) (n1, n2) of :func:`phi_closed_form` on checked arguments: rows of one
    backend and dimension, γ a checked float. For nested calls, whose caller validated them once."""
    back = False
    if X.shape[0] * Z.shape[0] >= TORCH_MIN_ELEMENTS:  # small Grams: numpy has less overhead
        (X, Z), back = _to_torch(X, Z)
    d = X.shape[1]
    if is_tensor(X):  # c = x·z/d + 1 in one fused call
        c = torch.addmm(torch.ones((), dtype=X.dtype, device=X.device), X, Z.T, alpha=1.0 / d)
    else:
        c = X @ Z.T
        c /= d
        c += 1.0
    G = _phi_from_moments(_sqnorm(X) / d + 1, _sqnorm(Z) / d + 1, c, gamma, outer=True)
    if back:
        G = G.numpy()
    return G


#: ``from theory.kernel import phi; phi(X, Z, gamma)``.
phi = phi_closed_form


def phi_pairs(X, Z, gamma):
    """Φ(x_i, z_i) row by row (no Gram matrix).   [K1, derived]

    Symbols, numerics: as ``phi_closed_form``, with c_i = x_i·z_i/d + 1.

    Parameters
    ----------
    X, Z : (n, d) arrays of the same backend (or (d,) vectors).
    gamma : float in [0, 1).

    Returns
    -------
    (n,) values (a scalar for two vectors), backend of the inputs.
    """
    gamma = check_gamma(gamma)
    X, Z, sx, sz = _as_rows(X, Z, "X", "Z")
    if not (sx or sz):
        check_consistent_length(("X", X), ("Z", Z))
    elif X.shape[0] != Z.shape[0]:  # one vector against rows: broadcast it
        shape = (max(X.shape[0], Z.shape[0]), X.shape[1])
        X, Z = ((X.expand(shape), Z.expand(shape)) if is_tensor(X)
                else (np.broadcast_to(X, shape), np.broadcast_to(Z, shape)))
    d = X.shape[1]
    c = (X * Z).sum(1) / d + 1
    out = _phi_from_moments(_sqnorm(X) / d + 1, _sqnorm(Z) / d + 1, c, gamma, outer=False)
    if sx and sz:
        return out[0] if is_tensor(out) else out[0][()]
    return out


def _accumulate(acc, X, Z, gamma, generator, J, pairs):
    """Add Σ_j s(w_j·x + b_j) s(w_j·z + b_j) over J fresh neurons to ``acc`` (W (J, d) drawn, then b)."""
    d = X.shape[1]
    W = normal(generator, (J, d), X.dtype, X) / math.sqrt(d)
    b = normal(generator, (J,), X.dtype, X)
    if pairs:  # count the orthants: s·s is 1 on (+,+), γ² on (−,−), γ otherwise
        Px, Pz = X @ W.T + b > 0, Z @ W.T + b > 0
        n_pp = (Px & Pz).sum(1)
        n_mm = (~(Px | Pz)).sum(1)
        acc += n_pp + gamma**2 * n_mm + gamma * (J - n_pp - n_mm)
    else:
        Sx = leaky_derivative(X @ W.T + b, gamma)
        Sz = leaky_derivative(Z @ W.T + b, gamma)
        acc += Sx @ Sz.T


def phi_monte_carlo(X, Z, gamma, n_neurons, generator, delta=None, *, pairs=False):
    """Φ̂(x, z) = (1/n) Σ_j s(w_j·x + b_j) s(w_j·z + b_j), w_j ~ N(0, I/d), b_j ~ N(0, 1).   [K3, paper]

    The official code's estimate (n = 1000). Each summand lies in [γ², 1], so by Hoeffding
    |Φ̂ − Φ| ≤ (1 − γ²)·√(log(2/δ)/(2n)) for each entry with probability ≥ 1 − δ
    (``formulas.PHI_HOEFFDING``); for a family of entries, divide δ by its size (union bound).
    Numerics: neurons are drawn in chunks of at most ``MC_CHUNK_ELEMENTS/(n1 + n2)``; per chunk, W
    (J, d) then b (J,) are drawn from ``generator``, so the estimate depends only on the generator state.

    Parameters
    ----------
    X, Z : (n1, d) and (n2, d) arrays (or (d,) vectors) of one backend.
    gamma : float in [0, 1).
    n_neurons : int ≥ 1, number of sampled neurons n.
    generator : numpy.random.Generator or torch.Generator (never the global RNG).
    delta : failure probability of the half-width; default ``tolerances.MC_DELTA``.
    pairs : if True, estimate Φ(x_i, z_i) row by row (X, Z of equal length) instead of the Gram.

    Returns
    -------
    (estimate, half_width): estimate in the shape convention of ``phi_closed_form`` (``phi_pairs``
    if ``pairs``), backend and dtype of the inputs; half_width a float.
    """
    gamma = check_gamma(gamma)
    n_neurons = check_positive_int(n_neurons, "n_neurons")
    generator = check_generator(generator)
    delta = MC_DELTA if delta is None else check_delta(delta)
    X, Z, sx, sz = _as_rows(X, Z, "X", "Z")
    if pairs:
        check_consistent_length(("X", X), ("Z", Z))
    tensor = is_tensor(X)
    ref = X
    if pairs:
        # Elementwise counting in cache-sized chunks, in numpy: torch's many small multi-threaded
        # kernels wait on each other whenever another process holds a core.
        if tensor:
            X, Z = X.detach().cpu().numpy(), Z.detach().cpu().numpy()
        back = False
    else:
        (X, Z), back = _to_torch(X, Z)
    n1, d = X.shape
    n2 = Z.shape[0]
    chunk = max(1, (MC_PAIRS_CHUNK_ELEMENTS if pairs else MC_CHUNK_ELEMENTS) // (n1 + n2))
    if is_tensor(X):
        acc = torch.zeros((n1,) if pairs else (n1, n2), dtype=X.dtype, device=X.device)
    else:
        acc = np.zeros((n1,) if pairs else (n1, n2), dtype=X.dtype)
    done = 0
    with single_thread_blas() if pairs else contextlib.nullcontext():
        while done < n_neurons:
            J = min(chunk, n_neurons - done)
            done += J
            _accumulate(acc, X, Z, gamma, generator, J, pairs)
    est = acc / n_neurons
    if back:
        est = est.numpy()
    elif pairs and tensor:
        est = torch.as_tensor(est, dtype=ref.dtype, device=ref.device)
    half = float(formulas.hoeffding(n_neurons, delta, gamma**2, 1.0))
    if pairs:
        if sx and sz:
            est = est[0] if tensor else est[0][()]
        return est, half
    return _squeeze(est, sx, sz), half


def _orthant_integral(k, sign_u, sign_v):
    """P(sign_u·U > 0, sign_v·V > 0) for standard (U, V) with V | U = u ~ N(ρu, 1−ρ²), k = ρ/√(1−ρ²).

    = ∫_{sign_u·u>0} φ(u) Φ_N(sign_v·k·u) du, by adaptive quadrature on |u| ≤ 10 (the tail beyond
    holds < 1e-23), with break points where the integrand turns steeply (|u| ≈ 1/|k|).
    """
    def integrand(s):  # s = |u| ≥ 0, u = sign_u·s
        return math.exp(-0.5 * s * s) / math.sqrt(2 * math.pi) * special.ndtr(sign_v * k * sign_u * s)
    if math.isinf(k):  # ρ = ±1: V = sgn(ρ)·U
        same = (k > 0) == (sign_u == sign_v)
        return 0.5 if same else 0.0
    pts = [p / abs(k) for p in (0.5, 1.0, 3.0, 10.0) if 0 < p / max(abs(k), 1e-300) < 10.0]
    val, _ = integrate.quad(integrand, 0.0, 10.0, points=pts or None, epsabs=QUAD_EPSABS,
                            epsrel=QUAD_EPSREL, limit=400)
    return val


def phi_quadrature(x, z, gamma):
    """Φ(x, z) = P(++)·1 + P(−−)·γ² + (P(+−) + P(−+))·γ, by numerical integration.   [K3, derived]

    The four orthant probabilities of the pre-activations (h_x, h_z) = (w·x + b, w·z + b), a centred
    bivariate normal with Var h_x = ‖x‖²/d + 1, Var h_z = ‖z‖²/d + 1, Cov = x·z/d + 1, each computed as
    the 1-D integral ∫ φ(u) Φ_N(±ρu/√(1−ρ²)) du over a half line (scipy ``quad``). This is an oracle
    independent of the arccos closed form: no arcsin/arccos identity is used.
    Numerics: float64 only; agrees with ``phi_closed_form`` to ``tolerances.QUADRATURE_ATOL``. Slow
    (four ``quad`` calls per pair): use for tens to hundreds of pairs.

    Parameters
    ----------
    x, z : (d,) vectors or (n, d) rows (pairs row by row), numpy or torch (converted to float64).
    gamma : float in [0, 1).

    Returns
    -------
    float for one pair, else (n,) float64 numpy array.
    """
    gamma = check_gamma(gamma)
    x = check_array(x, "x", ndim=(1, 2))
    z = check_array(z, "z", ndim=(1, 2))
    check_same_dim(x, z, "x", "z")
    single = x.ndim == 1 and z.ndim == 1
    x = np.atleast_2d(to_numpy64(x))
    z = np.atleast_2d(to_numpy64(z))
    x, z = np.broadcast_arrays(x, z) if (x.shape[0] == 1 or z.shape[0] == 1) else (x, z)
    check_consistent_length(("x", x), ("z", z))
    d = x.shape[1]
    out = np.empty(x.shape[0])
    for i, (xi, zi) in enumerate(zip(x, z)):
        va, vb, cov = xi @ xi / d + 1, zi @ zi / d + 1, xi @ zi / d + 1
        r = float(np.clip(cov / math.sqrt(va * vb), -1.0, 1.0))
        one_minus = (va * vb - cov * cov) / (va * vb)        # 1 − ρ², without cancellation in ρ
        k = math.copysign(math.inf, r) if one_minus <= 0 else r / math.sqrt(one_minus)
        pp = _orthant_integral(k, +1, +1)
        mm = _orthant_integral(k, -1, -1)
        pm = _orthant_integral(k, +1, -1)
        mp = _orthant_integral(k, -1, +1)
        out[i] = pp + gamma**2 * mm + gamma * (pm + mp)
    return float(out[0]) if single else out


def phi_finite_width(W, b, a, X, Z, gamma):
    """Φ_m(x, z) = Σ_k a_k² s_k(x) s_k(z), s_k(x) = s(w_k·x + b_k).   [§2, paper; L1, D1]

    Symbols: W (m, d), b (m,), a (m,) network parameters (readout a; at initialization a_k ~ N(0, 1/m),
    so E Φ_m = Φ and Φ_m − Φ = O_p(m^(−1/2)), K3); γ ∈ [0, 1).
    Numerics: (S_x · a²) S_zᵀ, one product of the activation patterns.

    Parameters
    ----------
    W, b, a : parameters, numpy or torch (same backend as X, Z).
    X, Z : (n1, d), (n2, d) or (d,) inputs.
    gamma : float in [0, 1).

    Returns
    -------
    Gram (n1, n2) with the shape convention of ``phi_closed_form``.
    """
    gamma = check_gamma(gamma)
    W = check_rows(W, "W")
    b = check_array(b, "b", ndim=1)
    a = check_array(a, "a", ndim=1)
    check_consistent_length(("W", W), ("b", b), ("a", a))
    X, Z, sx, sz = _as_rows(X, Z, "X", "Z")
    check_same_dim(W, X, "W", "X")
    W, b, a, X, Z = common_backend(("W", W), ("b", b), ("a", a), ("X", X), ("Z", Z))
    Sx = leaky_derivative(X @ W.T + b, gamma)
    Sz = leaky_derivative(Z @ W.T + b, gamma)
    G = (Sx * (a * a)) @ Sz.T
    return _squeeze(G, sx, sz)
