"""The :class:`Distribution` interface and the helpers its families share.

A family's limits are class attributes, so that a caller (the CLI, a Hypothesis strategy) can draw
only valid settings without building one: ``name``, ``synthetic``, ``balanced``, ``needs_rng``,
``options`` (the keyword options it accepts, with ``option_bounds``), ``min_d`` (synthetic),
``fixed_d`` (real data: the data's dimension; None for synthetic) and ``max_train(pair, data_dir)``
(real data: the size of the train split of a class pair; None for synthetic, which draws any n).
"""

from __future__ import annotations

import hashlib

import numpy as np

from theory.model import sign_pm1
from ..validation import check_choice, check_numpy_generator, check_positive_int, check_scalar

SPLITS: tuple[str, ...] = ("train", "test")


def balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """y ∈ {−1, +1}^n with exactly ⌊n/2⌋ of one class, in a uniformly random order.

    For odd n the class that gets the extra point is drawn from ``rng`` too, so neither label is
    favoured. Built by a permutation, never by filtering.
    """
    return _balanced_labels(check_positive_int(n, "n"), check_numpy_generator(rng, "rng"))


def _balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    n_neg = n // 2
    if n % 2 and rng.integers(2):
        n_neg = n - n // 2
    y = np.ones(n, dtype=np.int64)
    y[:n_neg] = -1
    return rng.permutation(y)


def labels_of(s: np.ndarray) -> np.ndarray:
    """y = sgn s as int64, with the project's sgn(0) = −1 (``theory.model.sign_pm1``)."""
    return sign_pm1(s).astype(np.int64)


def random_unit_vector(d: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(d)
    norm = np.linalg.norm(v)
    while norm == 0.0:  # probability zero; kept so that the result is always a unit vector
        v = rng.standard_normal(d)
        norm = np.linalg.norm(v)
    return v / norm


def random_orthonormal(d: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A d×k matrix with orthonormal columns, uniformly (Haar) distributed: QR of a Gaussian
    matrix with the signs of R's diagonal moved into Q."""
    q, r = np.linalg.qr(rng.standard_normal((d, k)))
    signs = np.sign(np.diag(r))  # numpy's sign: a zero diagonal entry is set to +1 below
    signs[signs == 0] = 1.0
    return q * signs


def fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of the fixed random structure, recorded by ``describe``."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


class Distribution:
    """A distribution D over (x, y) ∈ R^d × {−1, +1}; build one with ``make_distribution``.

    Instance attributes: ``d`` the input dimension, ``options`` the family options in use.
    """

    #: The family name (one of ``FAMILIES``).
    name: str = ""
    #: True for generated families, False for real data sets.
    synthetic: bool = True
    #: True when ``sample`` returns exactly ⌊n/2⌋ of one class.
    balanced: bool = True
    #: True when the family has fixed random structure drawn from the construction ``rng``.
    needs_rng: bool = False
    #: The keyword options ``make_distribution`` accepts for this family.
    options: tuple[str, ...] = ()
    #: Per real-valued option: (default, check_scalar bounds); the constructor and strategies use them.
    option_bounds: dict = {}
    #: Smallest input dimension (synthetic families).
    min_d: int = 1
    #: The data's own dimension (real data); None where d is free.
    fixed_d: int | None = None
    #: True when two independent draws can be equal (a law with atoms, pixel data, an unknown sampler):
    #: a test input equal to a training input is then no evidence of a broken split (R5).
    atoms: bool = False

    def __init__(self, d: int, options: dict | None = None):
        self.d = int(d)
        self.options = dict(options or {})

    @classmethod
    def max_train(cls, pair: tuple[int, int] = (0, 1), data_dir: str | None = None) -> int | None:
        """Largest training sample n_train: None (any n) for synthetic families."""
        return None

    @classmethod
    def option(cls, options: dict, key: str) -> float:
        """The checked value of real-valued option ``key`` (its default when absent)."""
        default, bounds = cls.option_bounds[key]
        return float(check_scalar(options.get(key, default), key, **bounds))

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
