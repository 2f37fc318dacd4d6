"""Your own data: a binary classification set from an ``.npz`` file, or a sampler registered as a family.

``.npz`` files (``Config.data``, ``--data PATH.npz``)
----------------------------------------------------
The file holds ``X`` (n, d) and ``y`` (n,), and optionally fresh test inputs ``Z`` (k, d) with their
labels ``yz`` (k,). Labels are ±1 or {0, 1}; {0, 1} maps **0 → −1 and 1 → +1**. Without ``Z``, a
fixed seeded split (``NPZ_SPLIT_SEED``) holds out ``NPZ_TEST_SHARE`` of the rows as test inputs;
those rows are never used for training, whatever the run's seed. A run draws its N training rows
without replacement from the training part (N = 0: all of them, in file order) and tests on the
whole test part, as for the real data sets. Every array is checked on loading; a bad file raises
one ``ValueError`` that names the array (missing, wrong shape, NaN or inf, a third label value,
fewer than ``MIN_CLASS_SAMPLES`` samples of a class).

Registered samplers
-------------------
``register_family(name, sampler)`` makes ``sampler(n, d, rng) -> (X, y)`` a family like the built-in
ones: ``Config(dataset=name)``, ``make_distribution(name, d=...)`` and the check suite's data
strategies (``registered_families()``) can then draw it. Its draws are checked like a file's.
"""

from __future__ import annotations

import functools
import os
import zipfile
from typing import Callable

import numpy as np

from ..validation import check_positive_int
from . import registry
from .base import SPLITS, Distribution

#: Share of the rows held out as fresh test inputs when the file has no ``Z``.
NPZ_TEST_SHARE = 0.25
#: Seed of that split; fixed, so that the held-out rows are the same for every run seed.
NPZ_SPLIT_SEED = 0
#: A class needs at least this many samples (in y, and in the training part after a split).
MIN_CLASS_SAMPLES = 2
#: Family name of data read from a file (``Config.dataset`` when ``Config.data`` is set).
NPZ_FAMILY = "npz"


def labels_pm1(labels: np.ndarray, name: str) -> np.ndarray:
    """±1 labels from ±1 or {0, 1} (0 → −1, 1 → +1), as int64; ValueError naming ``name`` otherwise."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        labels = labels.astype(np.int64)
    if not np.issubdtype(labels.dtype, np.number):
        raise ValueError(f"{name} has dtype {labels.dtype}, must hold labels ±1 or {{0, 1}}")
    values = np.unique(labels)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or inf")
    found = sorted(float(v) for v in values)
    if set(found) <= {-1.0, 1.0}:
        return labels.astype(np.int64)
    if set(found) <= {0.0, 1.0}:
        return (2 * labels - 1).astype(np.int64)
    shown = [int(v) if v == int(v) else v for v in found]
    raise ValueError(f"{name} has label values {shown}; labels must be ±1 or {{0, 1}} (two classes)")


def check_points_array(X, name: str, *, d: int | None = None) -> np.ndarray:
    """X as a finite float64 (n, d) array; ValueError naming ``name`` otherwise."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} has shape {X.shape}, must be (n, d)")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"{name} has dtype {X.dtype}, must be numeric")
    X = X.astype(np.float64)
    if X.shape[1] == 0 or (d is not None and X.shape[1] != d):
        raise ValueError(f"{name} has shape {X.shape}, must have d == {d if d is not None else '>= 1'} columns")
    if np.isnan(X).any():
        raise ValueError(f"{name} contains NaN")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains an infinite value")
    return X


def check_labels_array(y, name: str, n: int, x_name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} has shape {y.shape}, must be (n,)")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels, but {x_name} has {n} rows")
    return labels_pm1(y, name)


def check_class_counts(y: np.ndarray, name: str) -> None:
    for cls in (-1, 1):
        count = int((y == cls).sum())
        if count < MIN_CLASS_SAMPLES:
            raise ValueError(f"{name} has {count} sample(s) of class {cls:+d}, needs at least {MIN_CLASS_SAMPLES}")


# ---------------------------------------------------------------- .npz files

def _read(data, key: str, path: str):
    try:
        return data[key]
    except ValueError as exc:  # object arrays would need allow_pickle, which is never set
        raise ValueError(f"{path}: array {key} cannot be read as numbers ({exc})") from None


def load_npz(path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, Z, yz) from the ``.npz`` file at ``path``: training rows and test rows, validated,
    float64 and int64 ±1 (see the module docstring)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"data must be a path to an .npz file, got {type(path).__name__}")
    path = os.fspath(path)
    stat = os.stat(path) if os.path.isfile(path) else None
    if stat is None:
        raise ValueError(f"data == {path!r}: no such file")
    X, y, Z, yz = _load_npz(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    return X.copy(), y.copy(), Z.copy(), yz.copy()


@functools.lru_cache(maxsize=8)
def _load_npz(path: str, mtime_ns: int, size: int):
    """Cached by path, modification time and size: Config re-validates on every ``replace``."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"data == {path!r}: cannot read it as an .npz file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"data == {path!r} holds a single array, must be an .npz file with arrays X and y")
    with data:
        for key in ("X", "y"):
            if key not in data.files:
                raise ValueError(f"{path}: array {key} is missing (arrays present: {sorted(data.files)})")
        X = check_points_array(_read(data, "X", path), f"{path}: array X")
        y = check_labels_array(_read(data, "y", path), f"{path}: array y", len(X), "X")
        has_z, has_yz = "Z" in data.files, "yz" in data.files
        if has_z != has_yz:
            raise ValueError(f"{path}: array {'yz' if has_z else 'Z'} is missing; Z and yz come together")
        if has_z:
            Z = check_points_array(_read(data, "Z", path), f"{path}: array Z", d=X.shape[1])
            yz = check_labels_array(_read(data, "yz", path), f"{path}: array yz", len(Z), "Z")
            if len(Z) == 0:
                raise ValueError(f"{path}: array Z has no rows, needs at least 1 test input")
    check_class_counts(y, f"{path}: array y")
    if not has_z:
        order = np.random.default_rng(NPZ_SPLIT_SEED).permutation(len(X))
        n_test = max(1, int(round(NPZ_TEST_SHARE * len(X))))
        test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
        X, y, Z, yz = X[train], y[train], X[test], y[test]
        check_class_counts(y, f"{path}: array y, after holding out {n_test} rows as test inputs,")
    for arr in (X, y, Z, yz):
        arr.setflags(write=False)
    return X, y, Z, yz


class NpzDistribution(Distribution):
    """The rows of an ``.npz`` file: a "train" and a held-out "test" part, sampled like real data."""

    name = NPZ_FAMILY
    synthetic = False
    atoms = True
    balanced = False

    def __init__(self, path):
        X, y, Z, yz = load_npz(path)
        super().__init__(X.shape[1], {})
        self.path = os.fspath(path)
        self._parts = {"train": (X, y), "test": (Z, yz)}

    def split_size(self, split: str) -> int:
        return len(self._parts[split][1])

    def sample(self, n, rng, split="train"):
        """n rows without replacement from ``split`` (drawn by ``rng``); n None: the whole part."""
        if split not in SPLITS:
            raise ValueError(f"split == {split!r}, must be one of {list(SPLITS)}")
        X, y = self._parts[split]
        if n is None:
            return X.copy(), y.copy()
        n = check_positive_int(n, "n")
        if n > len(y):
            raise ValueError(f"n == {n}, must be <= {len(y)} (rows in the {split} part of {self.path!r})")
        idx = rng.choice(len(y), size=n, replace=False)
        return X[idx], y[idx]

    def _structure(self):
        return {"path": self.path, "n_train": self.split_size("train"), "n_test": self.split_size("test"),
                "label_map": "0 → −1, 1 → +1 (±1 labels kept)"}


def npz_facts(path) -> dict:
    """d and the sizes of the training and test parts of the file (validating it)."""
    X, _, Z, _ = load_npz(path)
    return {"d": X.shape[1], "n_train": len(X), "n_test": len(Z)}


# ---------------------------------------------------------------- registered samplers

_REGISTERED: dict[str, type[Distribution]] = {}


def register_family(name: str, sampler: Callable, *, min_d: int = 1, balanced: bool = False,
                    replace: bool = False) -> type[Distribution]:
    """Make ``sampler(n, d, rng) -> (X, y)`` the synthetic family ``name``.

    ``sampler`` draws n i.i.d. points of dimension d from the numpy Generator ``rng`` (and nothing
    else); X (n, d), y (n,) with labels ±1 or {0, 1} (0 → −1). ``min_d``: the smallest d it supports;
    ``balanced``: it returns exactly ⌊n/2⌋ of one class. Afterwards ``Config(dataset=name)``,
    ``make_distribution(name, d=...)`` and ``registered_families()`` (which the check suite's data
    strategies draw from) know it. ``replace=True`` re-registers a name registered before; a
    built-in family cannot be replaced. Returns the family's class.

    >>> import numpy as np
    >>> def two_blobs(n, d, rng):
    ...     y = rng.integers(0, 2, n)
    ...     return rng.standard_normal((n, d)) + (2 * y - 1)[:, None], y
    >>> cls = register_family("two-blobs", two_blobs, replace=True)
    >>> X, y = registry.make_distribution("two-blobs", d=3).sample(5, np.random.default_rng(0))
    >>> X.shape, sorted(set(y.tolist())) <= [-1, 1]
    ((5, 3), True)
    """
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError(f"name == {name!r}, must be a non-empty string without surrounding spaces")
    if not callable(sampler):
        raise TypeError(f"sampler must be callable (n, d, rng) -> (X, y), got {type(sampler).__name__}")
    min_d = check_positive_int(min_d, "min_d")
    if name in registry.FAMILY_CLASSES and name not in _REGISTERED or name == NPZ_FAMILY:
        raise ValueError(f"name == {name!r} is a built-in family; choose another name")
    if name in _REGISTERED and not replace:
        raise ValueError(f"name == {name!r} is registered already; pass replace=True to re-register it")

    def _draw(self, n, rng):
        X, y = sampler(n, self.d, rng)
        X = check_points_array(X, f"family {name!r}: sampler's X", d=self.d)
        if len(X) != n:
            raise ValueError(f"family {name!r}: sampler's X has {len(X)} rows, must have n == {n}")
        return X, check_labels_array(y, f"family {name!r}: sampler's y", n, "X")

    cls = type(f"Registered_{name}", (Distribution,), {
        "name": name, "balanced": bool(balanced), "min_d": min_d, "_draw": _draw, "atoms": True,
        "__init__": lambda self, d, options, rng=None: Distribution.__init__(self, d, {}),
        "__doc__": getattr(sampler, "__doc__", None) or f"A registered sampler ({name}).",
    })
    _REGISTERED[name] = cls
    registry.add_family(cls)
    return cls


def unregister_family(name: str) -> None:
    """Remove a family added by ``register_family``."""
    if name not in _REGISTERED:
        raise ValueError(f"name == {name!r} is not a registered family; registered: {list(_REGISTERED)}")
    del _REGISTERED[name]
    registry.remove_family(name)


def registered_families() -> tuple[str, ...]:
    """Names of the families added by ``register_family``, in registration order."""
    return tuple(_REGISTERED)

