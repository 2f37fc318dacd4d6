"""The synthetic families: fresh i.i.d. draws at every call (see the package docstring).

Each family's fixed random structure (μ, Q, w, U, …) is drawn once, from the construction ``rng``;
``sample`` draws from its own ``rng``. Labels are balanced where the family draws y first.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..validation import check_scalar
from .base import (Distribution, _balanced_labels, fingerprint, labels_of, random_orthonormal,
                   random_unit_vector)


class GaussDistribution(Distribution):
    """x ~ N(0, I_d); y balanced ±1, independent of x (no signal). [paper: "Gauss"]"""

    name = "gauss"

    def __init__(self, d, options, rng=None):
        super().__init__(d, {})

    def _draw(self, n, rng):
        y = _balanced_labels(n, rng)
        return rng.standard_normal((n, self.d)), y


class ShiftedGaussDistribution(Distribution):
    """x ~ N(y·shift·1_d, I_d), y balanced ±1; shift = 0.3 in the paper. [paper: "shifted-Gauss"]"""

    name = "shifted-gauss"
    options = ("shift",)
    option_bounds = {"shift": (0.3, {})}

    def __init__(self, d, options, rng=None):
        self.shift = self.option(options, "shift")
        super().__init__(d, {"shift": self.shift})

    def _draw(self, n, rng):
        y = _balanced_labels(n, rng)
        X = rng.standard_normal((n, self.d))
        X += (self.shift * y)[:, None]
        return X, y

    def _structure(self):
        return {"mean_norm": abs(self.shift) * math.sqrt(self.d)}


class StudentTDistribution(Distribution):
    """x = y·shift·1_d + ξ, ξ_i i.i.d. Student-t(df)·√((df−2)/df) (unit variance, heavy tails)."""

    name = "student-t"
    options = ("shift", "df")
    option_bounds = {"shift": (0.3, {}),
                     "df": (3.0, dict(min_val=2.0, include_boundaries="neither", note="finite variance needs df > 2"))}

    def __init__(self, d, options, rng=None):
        self.shift = self.option(options, "shift")
        self.df = self.option(options, "df")
        super().__init__(d, {"shift": self.shift, "df": self.df})

    def _draw(self, n, rng):
        y = _balanced_labels(n, rng)
        X = rng.standard_t(self.df, size=(n, self.d)) * math.sqrt((self.df - 2.0) / self.df)
        X += (self.shift * y)[:, None]
        return X, y


class AnisoMixtureDistribution(Distribution):
    """x ~ N(y·μ, Σ), Σ = Q diag(λ) Qᵀ, y balanced ±1.

    Fixed structure (from the construction ``rng``): μ = ‖μ‖·(uniform unit vector) with ‖μ‖ ~ U[1, 2]
    unless ``mean_norm`` is given; λ_i = exp(U[−½ ln cond, ½ ln cond]) rescaled to mean 1
    (tr Σ = d); Q = H_1 ⋯ H_r, r = min(d, reflections_max) Householder reflections
    H_j = I − 2 v_j v_jᵀ with uniform unit v_j (a random rotation applied in O(r d) per point).
    """

    #: Number of Householder reflections composing the rotation Q (min with d).
    reflections_max = 32

    name = "aniso-mixture"
    needs_rng = True
    options = ("mean_norm", "cond")
    #: mean_norm: None (the default) draws ‖μ‖ ~ U[1, 2] from the construction rng.
    option_bounds = {"mean_norm": (None, dict(min_val=0.0)), "cond": (10.0, dict(min_val=1.0))}

    def __init__(self, d, options, rng):
        mean_norm = options.get("mean_norm")
        self.cond = self.option(options, "cond")
        super().__init__(d, {"mean_norm": mean_norm, "cond": self.cond})
        if mean_norm is None:
            mean_norm = rng.uniform(1.0, 2.0)
        self.mean_norm = float(check_scalar(mean_norm, "mean_norm", min_val=0.0))
        self.mu = self.mean_norm * random_unit_vector(self.d, rng)
        half_log = 0.5 * math.log(self.cond)
        lam = np.exp(rng.uniform(-half_log, half_log, size=self.d))
        self.eigenvalues = lam / lam.mean()
        r = min(self.d, self.reflections_max)
        self.reflections = np.stack([random_unit_vector(self.d, rng) for _ in range(r)])
        # Q = I + A Bᵀ (A, B: d×r), built as Q_j = Q_{j−1} H_j = Q_{j−1} − 2 (Q_{j−1} v_j) v_jᵀ.
        A = np.zeros((self.d, r))
        for j, v in enumerate(self.reflections):
            A[:, j] = -2.0 * (v + A[:, :j] @ (self.reflections[:j] @ v))
        self._low_rank = (A, self.reflections.T.copy())

    def _rotate(self, Z: np.ndarray) -> np.ndarray:
        """Rows z ↦ Q z, i.e. Z ↦ Z Qᵀ = Z + (Z B) Aᵀ."""
        A, B = self._low_rank
        Z += (Z @ B) @ A.T
        return Z

    def rotation(self) -> np.ndarray:
        """Q as a dense d×d matrix (for tests and small d)."""
        A, B = self._low_rank
        return np.eye(self.d) + A @ B.T

    def _draw(self, n, rng):
        y = _balanced_labels(n, rng)
        Z = rng.standard_normal((n, self.d)) * np.sqrt(self.eigenvalues)
        X = self._rotate(Z)
        X += y[:, None] * self.mu
        return X, y

    def _structure(self):
        return {"mean_norm_drawn": self.mean_norm,
                "eigenvalue_range": [float(self.eigenvalues.min()), float(self.eigenvalues.max())],
                "n_reflections": int(len(self.reflections)),
                "fingerprint": fingerprint(self.mu, self.eigenvalues, self.reflections)}


class HypercubeDistribution(Distribution):
    """x ~ U[−√3, √3]^d (unit variance per coordinate), y = sign(w·x) (ties → −1), w a uniform unit vector.

    Exactly balanced: y is drawn first (balanced permutation), x uniform on the cube, and rows whose
    label disagrees are mapped x ↦ −x; the cube is symmetric and w·(−x) = −w·x, so x is uniform on
    {sign(w·x) = y}. The returned y is recomputed from x (they differ only on ties, probability 0).
    """

    name = "hypercube"
    needs_rng = True

    def __init__(self, d, options, rng):
        super().__init__(d, {})
        self.w = random_unit_vector(self.d, rng)

    def _draw(self, n, rng):
        y = _balanced_labels(n, rng)
        a = math.sqrt(3.0)
        X = rng.uniform(-a, a, size=(n, self.d))
        flip = labels_of(X @ self.w) != y
        X[flip] *= -1.0
        return X, labels_of(X @ self.w)

    def _structure(self):
        return {"fingerprint": fingerprint(self.w)}


class SubspaceDistribution(Distribution):
    """x = √(d/k)·U(y·shift·1_k + z), z ~ N(0, I_k), y balanced ±1; U a random d×k orthonormal basis.

    The data lie on a k-dimensional subspace (k = max(1, d//10) by default). The factor √(d/k) keeps
    ‖x‖²/d ≈ 1 + shift² and each coordinate's variance ≈ 1.
    """

    name = "subspace"
    needs_rng = True
    options = ("k", "shift")
    #: k is an integer in [1, d], default max(1, d // 10).
    option_bounds = {"shift": (0.3, {})}

    def __init__(self, d, options, rng):
        d = int(d)
        k = options.get("k", max(1, d // 10))
        self.k = int(check_scalar(k, "k", numbers.Integral, min_val=1, max_val=d,
                                  note="subspace dimension, at most d"))
        self.shift = self.option(options, "shift")
        super().__init__(d, {"k": self.k, "shift": self.shift})
        self.basis = random_orthonormal(self.d, self.k, rng)

    def _draw(self, n, rng):
        y = _balanced_labels(n, rng)
        Z = rng.standard_normal((n, self.k))
        Z += (self.shift * y)[:, None]
        X = (Z @ self.basis.T) * math.sqrt(self.d / self.k)
        return X, y

    def _structure(self):
        return {"fingerprint": fingerprint(self.basis)}


class SparseBinaryDistribution(Distribution):
    """x_i = (b_i − p)/√(p(1−p)), b_i ~ Bernoulli(p) i.i.d.; y = sign(w·x) with ties → −1.

    w ~ N(0, I_d) is fixed by the construction ``rng``. Centred and unit-variance features. The label
    is a function of x with no symmetry to balance it, so classes are only approximately balanced
    (close to 1/2 once many features are active, d·p ≫ 1).
    """

    name = "sparse-binary"
    balanced = False
    atoms = True  # b ∈ {0, 1}^d: two draws coincide with probability Σ_b P(b)² > 0
    needs_rng = True
    options = ("p",)
    option_bounds = {"p": (0.1, dict(min_val=0.0, max_val=1.0, include_boundaries="neither",
                                     note="Bernoulli probability"))}

    def __init__(self, d, options, rng):
        self.p = self.option(options, "p")
        super().__init__(d, {"p": self.p})
        self.w = rng.standard_normal(self.d)

    def _draw(self, n, rng):
        b = rng.random((n, self.d)) < self.p
        X = (b - self.p) / math.sqrt(self.p * (1.0 - self.p))
        return X, labels_of(X @ self.w)

    def _structure(self):
        return {"fingerprint": fingerprint(self.w)}


class XorDistribution(Distribution):
    """x ~ N(0, I_d), y = sign((u·x)(v·x)) with ties → −1; u ⟂ v random unit vectors (d ≥ 2).

    Not linearly separable. Exactly balanced: y is drawn first and rows whose label disagrees are
    reflected x ↦ x − 2(u·x)u, which preserves N(0, I_d), flips u·x and keeps v·x.
    """

    name = "xor"
    needs_rng = True
    min_d = 2

    def __init__(self, d, options, rng):
        super().__init__(d, {})
        uv = random_orthonormal(self.d, 2, rng)
        self.u, self.v = uv[:, 0].copy(), uv[:, 1].copy()

    def _label(self, X):
        return labels_of((X @ self.u) * (X @ self.v))

    def _draw(self, n, rng):
        y = _balanced_labels(n, rng)
        X = rng.standard_normal((n, self.d))
        flip = self._label(X) != y
        X[flip] -= 2.0 * np.outer(X[flip] @ self.u, self.u)
        return X, self._label(X)

    def _structure(self):
        return {"fingerprint": fingerprint(self.u, self.v)}


SYNTHETIC = (GaussDistribution, ShiftedGaussDistribution, AnisoMixtureDistribution, HypercubeDistribution,
             StudentTDistribution, SubspaceDistribution, SparseBinaryDistribution, XorDistribution)
