"""The family registry: name → Distribution class, and ``make_distribution``."""

from __future__ import annotations

import numbers

import numpy as np

from ..validation import check_choice, check_numpy_generator, check_scalar
from .base import Distribution
from .images import REAL
from .synthetic import SYNTHETIC

#: Every family's class by name; the class attributes carry the family's limits (see ``base``).
FAMILY_CLASSES: dict[str, type[Distribution]] = {cls.name: cls for cls in SYNTHETIC + REAL}
SYNTHETIC_FAMILIES: tuple[str, ...] = tuple(cls.name for cls in SYNTHETIC)
REAL_FAMILIES: tuple[str, ...] = tuple(cls.name for cls in REAL)
FAMILIES: tuple[str, ...] = SYNTHETIC_FAMILIES + REAL_FAMILIES


def family(name: str) -> type[Distribution]:
    """The class of family ``name``, for its limits (``min_d``, ``fixed_d``, ``max_train``, …)."""
    return FAMILY_CLASSES[check_choice(name, "name", FAMILY_CLASSES)]


def add_family(cls: type[Distribution]) -> None:
    """Add a synthetic family class (``user.register_family`` builds one from a sampler); the
    module's FAMILIES and SYNTHETIC_FAMILIES tuples are rebuilt, FAMILY_CLASSES updated in place."""
    global SYNTHETIC_FAMILIES, FAMILIES
    FAMILY_CLASSES[cls.name] = cls
    if cls.name not in SYNTHETIC_FAMILIES:
        SYNTHETIC_FAMILIES = SYNTHETIC_FAMILIES + (cls.name,)
        FAMILIES = SYNTHETIC_FAMILIES + REAL_FAMILIES


def remove_family(name: str) -> None:
    """Undo ``add_family`` for ``name``."""
    global SYNTHETIC_FAMILIES, FAMILIES
    FAMILY_CLASSES.pop(name, None)
    SYNTHETIC_FAMILIES = tuple(n for n in SYNTHETIC_FAMILIES if n != name)
    FAMILIES = SYNTHETIC_FAMILIES + REAL_FAMILIES


def make_distribution(name: str, *, d: int | None = None, rng: np.random.Generator | None = None,
                      data_dir: str | None = None, pair: tuple[int, int] = (0, 1),
                      **options) -> Distribution:
    """Build the distribution ``name`` (one of ``FAMILIES``).

    Parameters
    ----------
    name : family name, see the package docstring.
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
    cls = family(name)
    unknown = sorted(set(options) - set(cls.options))
    if unknown:
        raise TypeError(f"make_distribution got unexpected option(s) {unknown} for family {name!r}; "
                        f"its options are {sorted(cls.options)}")
    if not cls.synthetic:
        return cls.load(d=d, rng=rng, data_dir=data_dir, pair=pair, **options)
    if d is None:
        raise ValueError(f"d is None, but family {name!r} is synthetic: give its dimension d >= {cls.min_d}")
    d = int(check_scalar(d, "d", numbers.Integral, min_val=cls.min_d, note=f"input dimension of {name!r}"))
    if rng is None and cls.needs_rng:
        raise TypeError(f"rng is None, but family {name!r} has fixed random structure: pass "
                        f"rng=np.random.default_rng(seed)")
    if rng is not None:
        check_numpy_generator(rng, "rng")
    return cls(d, options, rng)
