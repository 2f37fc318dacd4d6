"""Data distributions D over (x, y) ∈ R^d × {−1, +1}: the paper's and more, for "any distribution".

THEORY.md §1 claims perturbation learning works *for any data distribution*; §7 lists the paper's
settings. ``make_distribution(name, ...)`` builds a :class:`Distribution`; ``dist.sample(n, rng)``
draws ``X`` (float64, (n, d)) and ``y`` (int64, (n,), values ±1).

Families (``FAMILIES``)
-----------------------
Synthetic (fresh i.i.d. draws at every call; ``split`` is validated and otherwise ignored):

- ``gauss``: x ~ N(0, I_d), y uniform and independent of x. [paper: "Gauss"]
- ``shifted-gauss``: x ~ N(y·shift·1_d, I_d), shift = 0.3. [paper: "shifted-Gauss"]
- ``aniso-mixture``: x ~ N(y·μ, Q Λ Qᵀ); μ a random direction of norm ~ U[1, 2], Λ random
  eigenvalues (log-uniform, condition number ``cond``, mean 1), Q a random rotation.
- ``hypercube``: x ~ U[−√3, √3]^d (unit variance), y = sign(w·x) for a random w.
- ``student-t``: x = y·shift·1_d + t_df-noise scaled to unit variance (heavy tails, df = 3).
- ``subspace``: x = √(d/k)·U(y·shift·1_k + z), z ~ N(0, I_k), U a random d×k orthonormal basis.
- ``sparse-binary``: x_i = (b_i − p)/√(p(1−p)), b_i ~ Bernoulli(p); y = sign(w·x), ties → +1.
- ``xor``: x ~ N(0, I_d), y = sign((u·x)(v·x)) for random orthonormal u, v (not linearly separable).

Real (two classes of ten, ``pair``; ``pair[0]`` → y = −1, ``pair[1]`` → y = +1):

- ``digits``: scikit-learn's bundled 8×8 digits (d = 64, offline), pixels / 16 ∈ [0, 1].
- ``mnist``, ``fashion-mnist``: IDX files in ``data_dir`` (d = 784), pixels / 255 ∈ [0, 1].

Labels are balanced where the family draws y first (exactly ⌊n/2⌋ of one class, by a random
permutation, never by filtering). ``hypercube`` and ``xor`` label by a function of x and still
balance exactly: x is drawn for its label by a measure-preserving reflection (x ↦ −x, resp.
x ↦ x − 2(u·x)u), which maps one label region onto the other. ``sparse-binary`` labels by a
function of x that has no such symmetry, so its class balance is only approximate.
Every family keeps the per-coordinate scale O(1), so ‖x‖²/d = O(1).

Centring of real data follows the official code (github.com/s-kumano/perturbation-learning,
``utils/datasets.py``, ``select_data_and_labels``): pixels go through ``ToTensor`` (÷ 255) and one
*scalar* is subtracted, ``MNIST.mean = 0.1307`` / ``FMNIST.mean = 0.2860``: the mean pixel value of
the whole training set, all ten classes; no division by the std. Here that scalar is computed from
the training split read from disk (for MNIST it is 0.1307), and the test split is centred with the
same scalar. ``centering="pixel"`` (per-pixel training mean) and ``"none"`` are alternatives.
The official runs used MNIST classes 1 (y = +1) vs 2 (y = −1) and FMNIST 0 (+1) vs 9 (−1); in our
convention those are ``OFFICIAL_PAIRS``: ``pair=(2, 1)`` and ``pair=(9, 0)``.

Randomness: ``rng`` of ``make_distribution`` draws the family's fixed random structure (μ, Q, w, U,
...); it is required where there is any. ``sample`` uses only its own ``rng``; there is no global
random state. Same seeds give identical arrays.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import numbers
import os
import struct
import zlib

import numpy as np

from theory.validation import (
    check_choice,
    check_numpy_generator,
    check_positive_int,
    check_scalar,
)

SYNTHETIC_FAMILIES: tuple[str, ...] = (
    "gauss", "shifted-gauss", "aniso-mixture", "hypercube", "student-t", "subspace",
    "sparse-binary", "xor",
)
REAL_FAMILIES: tuple[str, ...] = ("digits", "mnist", "fashion-mnist")
FAMILIES: tuple[str, ...] = SYNTHETIC_FAMILIES + REAL_FAMILIES

SPLITS: tuple[str, ...] = ("train", "test")
CENTERINGS: tuple[str, ...] = ("scalar", "pixel", "none")

#: The official code's class pairs in our convention (pair[0] → −1, pair[1] → +1).
OFFICIAL_PAIRS: dict[str, tuple[int, int]] = {"mnist": (2, 1), "fashion-mnist": (9, 0)}

#: Digits has no official split: a fixed permutation (this seed) puts the first 70% in "train".
DIGITS_SPLIT_SEED = 0
DIGITS_TRAIN_FRACTION = 0.7

#: Number of Householder reflections composing the rotation Q of ``aniso-mixture`` (min with d).
ANISO_REFLECTIONS = 32

_TORCHVISION_DIRS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
_IDX_STEMS = {
    ("train", "images"): ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    ("train", "labels"): ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    ("test", "images"): ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """y ∈ {−1, +1}^n with exactly ⌊n/2⌋ of one class, in a uniformly random order.

    For odd n the class that gets the extra point is drawn from ``rng`` too, so neither label is
    favoured. Built by a permutation, never by filtering.
    """
    n = check_positive_int(n, "n")
    rng = check_numpy_generator(rng, "rng")
    n_neg = n // 2
    if n % 2 and rng.integers(2):
        n_neg = n - n // 2
    y = np.ones(n, dtype=np.int64)
    y[:n_neg] = -1
    return rng.permutation(y)


def _sign_pm1(s: np.ndarray) -> np.ndarray:
    """sign with ties broken to +1, as int64."""
    return np.where(s >= 0, 1, -1).astype(np.int64)


def _random_unit_vector(d: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(d)
    norm = np.linalg.norm(v)
    while norm == 0.0:  # probability zero; kept so that the result is always a unit vector
        v = rng.standard_normal(d)
        norm = np.linalg.norm(v)
    return v / norm


def _random_orthonormal(d: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A d×k matrix with orthonormal columns, uniformly (Haar) distributed: QR of a Gaussian
    matrix with the signs of R's diagonal moved into Q."""
    q, r = np.linalg.qr(rng.standard_normal((d, k)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs


def _fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of the fixed random structure, recorded by ``describe``."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _real_option(options: dict, key: str, default: float, **bounds) -> float:
    return float(check_scalar(options.get(key, default), key, **bounds))


# --------------------------------------------------------------------------------------------
# Distribution and the synthetic families
# --------------------------------------------------------------------------------------------

class Distribution:
    """A distribution D over (x, y) ∈ R^d × {−1, +1}; build one with :func:`make_distribution`.

    Attributes
    ----------
    name : the family name (one of ``FAMILIES``).
    d : the input dimension.
    synthetic : True for generated families, False for real data sets.
    """

    name: str
    d: int
    synthetic: bool = True
    #: True when ``sample`` returns exactly ⌊n/2⌋ of one class.
    balanced: bool = True

    def __init__(self, name: str, d: int, options: dict | None = None):
        self.name = name
        self.d = int(d)
        self.options = dict(options or {})

    def sample(self, n: int | None, rng: np.random.Generator | None,
               split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(X, y)``: X float64 (n, d), y int64 (n,) with values ±1.

        Synthetic families draw n fresh i.i.d. points (``split`` is validated, then ignored).
        Real data draw n points without replacement from ``split`` ("train" or the held-out
        "test"); ``n=None`` returns the whole split in a fixed order (``rng`` may then be None).
        """
        check_choice(split, "split", SPLITS)
        if n is None:
            raise ValueError(f"n is None, but family {self.name!r} is synthetic: give a sample size n >= 1")
        n = check_positive_int(n, "n")
        rng = check_numpy_generator(rng, "rng")
        X, y = self._draw(n, rng)
        return np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)

    def _draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _structure(self) -> dict:
        """Family-specific, JSON-able facts for ``describe``."""
        return {}

    def describe(self) -> dict:
        """The distribution's parameters as a JSON-able dict."""
        out = {"name": self.name, "d": self.d, "synthetic": self.synthetic,
               "balanced": self.balanced, "options": dict(self.options)}
        out.update(self._structure())
        return out

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}(name={self.name!r}, d={self.d}{opts})"


class GaussDistribution(Distribution):
    """x ~ N(0, I_d); y balanced ±1, independent of x (no signal). [paper: "Gauss"]"""

    def _draw(self, n, rng):
        y = balanced_labels(n, rng)
        return rng.standard_normal((n, self.d)), y


class ShiftedGaussDistribution(Distribution):
    """x ~ N(y·shift·1_d, I_d), y balanced ±1; shift = 0.3 in the paper. [paper: "shifted-Gauss"]"""

    def __init__(self, name, d, options):
        self.shift = _real_option(options, "shift", 0.3)
        super().__init__(name, d, {"shift": self.shift})

    def _draw(self, n, rng):
        y = balanced_labels(n, rng)
        X = rng.standard_normal((n, self.d))
        X += (self.shift * y)[:, None]
        return X, y

    def _structure(self):
        return {"mean_norm": abs(self.shift) * math.sqrt(self.d)}


class StudentTDistribution(Distribution):
    """x = y·shift·1_d + ξ, ξ_i i.i.d. Student-t(df)·√((df−2)/df) (unit variance, heavy tails)."""

    def __init__(self, name, d, options):
        self.shift = _real_option(options, "shift", 0.3)
        self.df = _real_option(options, "df", 3.0, min_val=2.0, include_boundaries="neither",
                               note="finite variance needs df > 2")
        super().__init__(name, d, {"shift": self.shift, "df": self.df})

    def _draw(self, n, rng):
        y = balanced_labels(n, rng)
        X = rng.standard_t(self.df, size=(n, self.d)) * math.sqrt((self.df - 2.0) / self.df)
        X += (self.shift * y)[:, None]
        return X, y


class AnisoMixtureDistribution(Distribution):
    """x ~ N(y·μ, Σ), Σ = Q diag(λ) Qᵀ, y balanced ±1.

    Fixed structure (from the construction ``rng``): μ = ‖μ‖·(uniform unit vector) with ‖μ‖ ~ U[1, 2]
    unless ``mean_norm`` is given; λ_i = exp(U[−½ ln cond, ½ ln cond]) rescaled to mean 1
    (tr Σ = d); Q = H_1 ⋯ H_r, r = min(d, ANISO_REFLECTIONS) Householder reflections
    H_j = I − 2 v_j v_jᵀ with uniform unit v_j (a random rotation applied in O(r d) per point).
    """

    def __init__(self, name, d, options, rng):
        mean_norm = options.get("mean_norm")
        self.cond = _real_option(options, "cond", 10.0, min_val=1.0)
        super().__init__(name, d, {"mean_norm": mean_norm, "cond": self.cond})
        if mean_norm is None:
            mean_norm = rng.uniform(1.0, 2.0)
        self.mean_norm = float(check_scalar(mean_norm, "mean_norm", min_val=0.0))
        self.mu = self.mean_norm * _random_unit_vector(self.d, rng)
        half_log = 0.5 * math.log(self.cond)
        lam = np.exp(rng.uniform(-half_log, half_log, size=self.d))
        self.eigenvalues = lam / lam.mean()
        r = min(self.d, ANISO_REFLECTIONS)
        self.reflections = np.stack([_random_unit_vector(self.d, rng) for _ in range(r)])
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
        y = balanced_labels(n, rng)
        Z = rng.standard_normal((n, self.d)) * np.sqrt(self.eigenvalues)
        X = self._rotate(Z)
        X += y[:, None] * self.mu
        return X, y

    def _structure(self):
        return {"mean_norm_drawn": self.mean_norm,
                "eigenvalue_range": [float(self.eigenvalues.min()), float(self.eigenvalues.max())],
                "n_reflections": int(len(self.reflections)),
                "fingerprint": _fingerprint(self.mu, self.eigenvalues, self.reflections)}


class HypercubeDistribution(Distribution):
    """x ~ U[−√3, √3]^d (unit variance per coordinate), y = sign(w·x) (ties → +1), w a uniform unit vector.

    Exactly balanced: y is drawn first (balanced permutation), x uniform on the cube, and rows whose
    label disagrees are mapped x ↦ −x; the cube is symmetric and w·(−x) = −w·x, so x is uniform on
    {sign(w·x) = y}. The returned y is recomputed from x (they differ only on ties, probability 0).
    """

    def __init__(self, name, d, options, rng):
        super().__init__(name, d, {})
        self.w = _random_unit_vector(self.d, rng)

    def _draw(self, n, rng):
        y = balanced_labels(n, rng)
        a = math.sqrt(3.0)
        X = rng.uniform(-a, a, size=(n, self.d))
        flip = _sign_pm1(X @ self.w) != y
        X[flip] *= -1.0
        return X, _sign_pm1(X @ self.w)

    def _structure(self):
        return {"fingerprint": _fingerprint(self.w)}


class SubspaceDistribution(Distribution):
    """x = √(d/k)·U(y·shift·1_k + z), z ~ N(0, I_k), y balanced ±1; U a random d×k orthonormal basis.

    The data lie on a k-dimensional subspace (k = max(1, d//10) by default). The factor √(d/k) keeps
    ‖x‖²/d ≈ 1 + shift² and each coordinate's variance ≈ 1.
    """

    def __init__(self, name, d, options, rng):
        d = int(d)
        k = options.get("k", max(1, d // 10))
        self.k = int(check_scalar(k, "k", numbers.Integral, min_val=1, max_val=d,
                                  note="subspace dimension, at most d"))
        self.shift = _real_option(options, "shift", 0.3)
        super().__init__(name, d, {"k": self.k, "shift": self.shift})
        self.basis = _random_orthonormal(self.d, self.k, rng)

    def _draw(self, n, rng):
        y = balanced_labels(n, rng)
        Z = rng.standard_normal((n, self.k))
        Z += (self.shift * y)[:, None]
        X = (Z @ self.basis.T) * math.sqrt(self.d / self.k)
        return X, y

    def _structure(self):
        return {"fingerprint": _fingerprint(self.basis)}


class SparseBinaryDistribution(Distribution):
    """x_i = (b_i − p)/√(p(1−p)), b_i ~ Bernoulli(p) i.i.d.; y = sign(w·x) with ties → +1.

    w ~ N(0, I_d) is fixed by the construction ``rng``. Centred and unit-variance features. The label
    is a function of x with no symmetry to balance it, so classes are only approximately balanced
    (close to 1/2 once many features are active, d·p ≫ 1).
    """

    balanced = False

    def __init__(self, name, d, options, rng):
        self.p = _real_option(options, "p", 0.1, min_val=0.0, max_val=1.0,
                              include_boundaries="neither", note="Bernoulli probability")
        super().__init__(name, d, {"p": self.p})
        self.w = rng.standard_normal(self.d)

    def _draw(self, n, rng):
        b = rng.random((n, self.d)) < self.p
        X = (b - self.p) / math.sqrt(self.p * (1.0 - self.p))
        return X, _sign_pm1(X @ self.w)

    def _structure(self):
        return {"fingerprint": _fingerprint(self.w)}


class XorDistribution(Distribution):
    """x ~ N(0, I_d), y = sign((u·x)(v·x)) with ties → +1; u ⟂ v random unit vectors (d ≥ 2).

    Not linearly separable. Exactly balanced: y is drawn first and rows whose label disagrees are
    reflected x ↦ x − 2(u·x)u, which preserves N(0, I_d), flips u·x and keeps v·x.
    """

    def __init__(self, name, d, options, rng):
        super().__init__(name, d, {})
        uv = _random_orthonormal(self.d, 2, rng)
        self.u, self.v = uv[:, 0].copy(), uv[:, 1].copy()

    def _label(self, X):
        return _sign_pm1((X @ self.u) * (X @ self.v))

    def _draw(self, n, rng):
        y = balanced_labels(n, rng)
        X = rng.standard_normal((n, self.d))
        flip = self._label(X) != y
        X[flip] -= 2.0 * np.outer(X[flip] @ self.u, self.u)
        return X, self._label(X)

    def _structure(self):
        return {"fingerprint": _fingerprint(self.u, self.v)}


# --------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (raw or gzip-compressed) into a numpy array of native byte order.

    Format (yann.lecun.com/exdb/mnist): magic number = two zero bytes, a dtype code
    (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) and ndim; then
    ndim big-endian uint32 sizes; then the data, big-endian, C order. gzip is detected by its own
    magic bytes, so the file name does not matter.

    Raises
    ------
    FileNotFoundError : no file at ``path``.
    ValueError : corrupt gzip stream, bad magic number, unknown dtype code, truncated header or
        data, or trailing bytes; the message names ``path``.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt gzip stream ({exc})") from None
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need at least 4)")
    if raw[0] != 0 or raw[1] != 0:
        magic = int.from_bytes(raw[:4], "big")
        raise ValueError(f"{path}: bad IDX magic number 0x{magic:08x}, must start with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02x}, must be one of {known}")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header has ndim == 0, must be >= 1")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, ndim == {ndim} needs "
                         f"{header_len})")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = _IDX_DTYPES[code]
    count = math.prod(shape)
    expected, found = count * dtype.itemsize, len(raw) - header_len
    if found < expected:
        raise ValueError(f"{path}: truncated IDX data: shape {shape} of {dtype} needs {expected} bytes, "
                         f"found {found}")
    if found > expected:
        raise ValueError(f"{path}: {found - expected} trailing bytes after IDX data of shape {shape}")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header_len).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path: str, mtime_ns: int, size: int) -> np.ndarray:
    arr = read_idx(path)
    arr.setflags(write=False)
    return arr


def _find_idx_file(data_dir: str, family: str, split: str, kind: str) -> str:
    dirs = [data_dir, os.path.join(data_dir, _TORCHVISION_DIRS[family], "raw")]
    candidates = [os.path.join(folder, stem + ext) for folder in dirs
                  for stem in _IDX_STEMS[(split, kind)] for ext in ("", ".gz")]
    for c in candidates:
        if os.path.isfile(c):
            return c
    raise ValueError(f"data_dir == {data_dir!r}: no {split} {kind} IDX file for {family!r}; looked for "
                     f"{candidates[0]} (also .gz, the '.idx' spelling and {dirs[1]}); nothing is "
                     f"downloaded, place the IDX files there yourself")


def _load_idx_split(data_dir: str, family: str, split: str) -> tuple[np.ndarray, np.ndarray, list]:
    paths = [_find_idx_file(data_dir, family, split, kind) for kind in ("images", "labels")]
    images, labels = (_read_idx_cached(p, os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in paths)
    if images.dtype != np.uint8 or images.ndim not in (2, 3):
        raise ValueError(f"{paths[0]}: expected uint8 images of ndim 3 (n, rows, cols), got "
                         f"{images.dtype} of shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{paths[1]}: expected labels of ndim 1, got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels")
    return images.reshape(len(images), -1), labels.astype(np.int64), paths


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

    bunch = load_digits()
    X, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def digits_split_indices() -> tuple[np.ndarray, np.ndarray]:
    """Indices (ascending) of the digits train and test splits: a permutation with
    ``DIGITS_SPLIT_SEED`` puts the first ``round(0.7·1797)`` = 1258 images in "train"."""
    n = len(_digits_arrays()[1])
    perm = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(n)
    n_train = int(round(DIGITS_TRAIN_FRACTION * n))
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


class ImageDistribution(Distribution):
    """Two classes of a ten-class image data set: ``pair[0]`` → y = −1, ``pair[1]`` → y = +1.

    Pixels scaled to [0, 1], then centred with training-split statistics (see the module docstring).
    ``sample`` draws without replacement from the named split; ``n=None`` returns the whole split in
    file order.
    """

    synthetic = False
    balanced = False

    def __init__(self, name, pair, centering, splits, scale, source):
        """``splits``: {"train": (pixels (N, d) raw, labels 0–9), "test": (...)}; ``scale``: max pixel."""
        train_raw, _ = splits["train"]
        super().__init__(name, train_raw.shape[1], {"centering": centering})
        self.pair = pair
        self.centering = centering
        self.source = source
        if centering == "scalar":
            center = train_raw.mean(dtype=np.float64) / scale
        elif centering == "pixel":
            center = train_raw.mean(axis=0, dtype=np.float64) / scale
        else:
            center = 0.0
        self.center = center
        self._X, self._y = {}, {}
        for split, (raw, labels) in splits.items():
            keep = (labels == pair[0]) | (labels == pair[1])
            for c in pair:
                if not np.any(labels == c):
                    raise ValueError(f"pair == {pair}: the {split} split of {name!r} has no images of "
                                     f"class {c} ({source.get(split, name)})")
            X = raw[keep].astype(np.float64) / scale - center
            y = np.where(labels[keep] == pair[1], 1, -1).astype(np.int64)
            X.setflags(write=False)
            y.setflags(write=False)
            self._X[split], self._y[split] = X, y

    def split_size(self, split: str = "train") -> int:
        return len(self._y[check_choice(split, "split", SPLITS)])

    def sample(self, n, rng, split="train"):
        check_choice(split, "split", SPLITS)
        X, y = self._X[split], self._y[split]
        if n is None:
            return X.copy(), y.copy()
        n = check_positive_int(n, "n")
        if n > len(y):
            raise ValueError(f"n == {n}, must be <= {len(y)} (size of the {split} split of {self.name!r} "
                             f"for pair {self.pair}; draws are without replacement)")
        rng = check_numpy_generator(rng, "rng")
        idx = rng.choice(len(y), size=n, replace=False)
        return X[idx], y[idx]

    def _structure(self):
        center = (float(self.center) if np.ndim(self.center) == 0
                  else {"mean": float(np.mean(self.center)), "max": float(np.max(self.center))})
        return {"pair": list(self.pair), "label_of": {str(self.pair[0]): -1, str(self.pair[1]): 1},
                "center": center, "n_train": self.split_size("train"),
                "n_test": self.split_size("test"), "source": dict(self.source)}


# --------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------

_SYNTHETIC = {
    # name: (class, needs rng, options, minimum d)
    "gauss": (GaussDistribution, False, (), 1),
    "shifted-gauss": (ShiftedGaussDistribution, False, ("shift",), 1),
    "student-t": (StudentTDistribution, False, ("shift", "df"), 1),
    "aniso-mixture": (AnisoMixtureDistribution, True, ("mean_norm", "cond"), 1),
    "hypercube": (HypercubeDistribution, True, (), 1),
    "subspace": (SubspaceDistribution, True, ("k", "shift"), 1),
    "sparse-binary": (SparseBinaryDistribution, True, ("p",), 1),
    "xor": (XorDistribution, True, (), 2),
}
_REAL_OPTIONS = ("centering",)
_REAL_DIMS = {"digits": 64, "mnist": 784, "fashion-mnist": 784}


def _check_pair(pair) -> tuple[int, int]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"pair must be a tuple of two class labels, got {pair!r}")
    for c in pair:
        check_scalar(c, "pair", numbers.Integral, min_val=0, max_val=9, note="class labels 0..9")
    a, b = int(pair[0]), int(pair[1])
    if a == b:
        raise ValueError(f"pair == {(a, b)}, the two classes must differ")
    return a, b


def _check_options(name: str, options: dict, allowed: tuple) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"make_distribution got unexpected option(s) {unknown} for family {name!r}; "
                        f"its options are {sorted(allowed)}")


def make_distribution(name: str, *, d: int | None = None, rng: np.random.Generator | None = None,
                      data_dir: str | None = None, pair: tuple[int, int] = (0, 1),
                      **options) -> Distribution:
    """Build the distribution ``name`` (one of ``FAMILIES``).

    Parameters
    ----------
    name : family name, see the module docstring.
    d : input dimension; required (>= 1, >= 2 for "xor") for synthetic families; for real data
        optional and, if given, must equal the data's dimension (64 digits, 784 MNIST/FMNIST).
    rng : numpy Generator drawing the family's fixed random structure; required for
        "aniso-mixture", "hypercube", "subspace", "sparse-binary", "xor"; ignored otherwise.
    data_dir : folder holding the IDX files ("mnist", "fashion-mnist" only); ``<data_dir>/MNIST/raw``
        and ``<data_dir>/FashionMNIST/raw`` (torchvision's layout) are searched too.
    pair : the two classes of real data; ``pair[0]`` → y = −1, ``pair[1]`` → y = +1.
    options : family options: ``shift`` (shifted-gauss, student-t, subspace), ``df`` (student-t),
        ``mean_norm``, ``cond`` (aniso-mixture), ``k`` (subspace), ``p`` (sparse-binary),
        ``centering`` ("scalar" (default, the official code's), "pixel", "none"; real data).

    Examples
    --------
    >>> dist = make_distribution("shifted-gauss", d=100)
    >>> X, y = dist.sample(1000, np.random.default_rng(0))
    >>> X.shape, int((y == 1).sum())
    ((1000, 100), 500)
    """
    check_choice(name, "name", FAMILIES)
    if name in _SYNTHETIC:
        cls, needs_rng, allowed, min_d = _SYNTHETIC[name]
        _check_options(name, options, allowed)
        if d is None:
            raise ValueError(f"d is None, but family {name!r} is synthetic: give its dimension d >= {min_d}")
        d = int(check_scalar(d, "d", numbers.Integral, min_val=min_d,
                             note=f"input dimension of {name!r}"))
        if needs_rng:
            if rng is None:
                raise TypeError(f"rng is None, but family {name!r} has fixed random structure: pass "
                                f"rng=np.random.default_rng(seed)")
            check_numpy_generator(rng, "rng")
            return cls(name, d, options, rng)
        if rng is not None:
            check_numpy_generator(rng, "rng")
        return cls(name, d, options)

    _check_options(name, options, _REAL_OPTIONS)
    centering = check_choice(options.get("centering", "scalar"), "centering", CENTERINGS)
    pair = _check_pair(pair)
    if d is not None:
        d_given = check_scalar(d, "d", numbers.Integral)
        if d_given != _REAL_DIMS[name]:
            raise ValueError(f"d == {d_given}, but {name!r} has d == {_REAL_DIMS[name]} (omit d for real data)")
    if rng is not None:
        check_numpy_generator(rng, "rng")

    if name == "digits":
        X, y = _digits_arrays()
        train_idx, test_idx = digits_split_indices()
        splits = {"train": (X[train_idx], y[train_idx]), "test": (X[test_idx], y[test_idx])}
        source = {"train": "sklearn.datasets.load_digits", "test": "sklearn.datasets.load_digits",
                  "split": f"permutation seed {DIGITS_SPLIT_SEED}, train fraction {DIGITS_TRAIN_FRACTION}"}
        return ImageDistribution(name, pair, centering, splits, 16.0, source)

    if data_dir is None:
        raise ValueError(f"data_dir is None, but {name!r} is read from IDX files: pass data_dir=<folder "
                         f"with train-images-idx3-ubyte, ...>; nothing is downloaded")
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise ValueError(f"data_dir == {data_dir!r}: no such directory ({os.path.abspath(data_dir)})")
    splits, source = {}, {}
    for split in SPLITS:
        pixels, labels, paths = _load_idx_split(data_dir, name, split)
        if pixels.shape[1] != _REAL_DIMS[name]:
            raise ValueError(f"{paths[0]}: images have {pixels.shape[1]} pixels, {name!r} needs "
                             f"{_REAL_DIMS[name]} (28×28)")
        splits[split] = (pixels, labels)
        source[split] = paths[0]
    return ImageDistribution(name, pair, centering, splits, 255.0, source)
