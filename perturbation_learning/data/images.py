"""Two classes of a ten-class image data set: scikit-learn's digits, MNIST and Fashion-MNIST.

``pair[0]`` → y = −1, ``pair[1]`` → y = +1. Pixels are scaled to [0, 1] and centred as the official
code does (github.com/s-kumano/perturbation-learning, ``utils/datasets.py``,
``select_data_and_labels``): one *scalar*, the mean pixel value of the whole training split (all ten
classes), is subtracted, and the test split is centred with the same scalar; no division by the
std (for MNIST the scalar is 0.1307, the official ``MNIST.mean``). ``centering="pixel"``
(per-pixel training mean) and ``"none"`` are alternatives. The official runs used MNIST classes
1 (y = +1) vs 2 (y = −1) and FMNIST 0 (+1) vs 9 (−1): ``OFFICIAL_PAIRS`` in our convention.
"""

from __future__ import annotations

import functools
import numbers
import os

import numpy as np

from ..validation import (check_choice, check_class_pair, check_numpy_generator, check_positive_int,
                          check_scalar)
from .base import SPLITS, Distribution
from .idx import load_idx_split

CENTERINGS: tuple[str, ...] = ("scalar", "pixel", "none")

#: The official code's class pairs in our convention (pair[0] → −1, pair[1] → +1).
OFFICIAL_PAIRS: dict[str, tuple[int, int]] = {"mnist": (2, 1), "fashion-mnist": (9, 0)}

#: Digits has no official split: a fixed permutation (this seed) puts the first 70% in "train".
DIGITS_SPLIT_SEED = 0
DIGITS_TRAIN_FRACTION = 0.7


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
    """Two classes of an image data set; build one with ``make_distribution`` (or ``load``).

    ``sample`` draws without replacement from the named split; ``n=None`` returns the whole split in
    file order.
    """

    synthetic = False
    atoms = True
    balanced = False
    options = ("centering",)
    #: Largest raw pixel value (pixels are divided by it).
    scale: float = 1.0

    @classmethod
    def raw_splits(cls, data_dir: str | None) -> tuple[dict, dict]:
        """{"train": (pixels (N, d) raw, labels 0–9), "test": (…)} and where each split came from."""
        raise NotImplementedError

    @classmethod
    def load(cls, *, d=None, rng=None, data_dir=None, pair=(0, 1), centering="scalar") -> "ImageDistribution":
        """Check the arguments (as ``make_distribution`` documents them) and read the data."""
        centering = check_choice(centering, "centering", CENTERINGS)
        pair = check_class_pair(pair)
        if d is not None:
            d_given = check_scalar(d, "d", numbers.Integral)
            if d_given != cls.fixed_d:
                raise ValueError(f"d == {d_given}, but {cls.name!r} has d == {cls.fixed_d} (omit d for real data)")
        if rng is not None:
            check_numpy_generator(rng, "rng")
        splits, source = cls.raw_splits(data_dir)
        return cls(pair, centering, splits, source)

    @classmethod
    def max_train(cls, pair=(0, 1), data_dir=None) -> int:
        """Size of the train split of ``pair`` (the largest n_train)."""
        pair = check_class_pair(pair)
        _, labels = cls.raw_splits(data_dir)[0]["train"]
        return int(np.isin(labels, pair).sum())

    def __init__(self, pair, centering, splits, source):
        """``splits`` and ``source`` as ``raw_splits`` returns them; ``pair`` and ``centering`` checked."""
        train_raw, _ = splits["train"]
        super().__init__(train_raw.shape[1], {"centering": centering})
        name, scale = self.name, self.scale
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


class DigitsDistribution(ImageDistribution):
    """scikit-learn's bundled 8×8 digits (d = 64, offline), pixels / 16."""

    name = "digits"
    fixed_d = 64
    scale = 16.0

    @classmethod
    def raw_splits(cls, data_dir=None):
        X, y = _digits_arrays()
        train_idx, test_idx = digits_split_indices()
        splits = {"train": (X[train_idx], y[train_idx]), "test": (X[test_idx], y[test_idx])}
        source = {"train": "sklearn.datasets.load_digits", "test": "sklearn.datasets.load_digits",
                  "split": f"permutation seed {DIGITS_SPLIT_SEED}, train fraction {DIGITS_TRAIN_FRACTION}"}
        return splits, source


class MnistDistribution(ImageDistribution):
    """MNIST from IDX files in ``data_dir`` (d = 784), pixels / 255."""

    name = "mnist"
    fixed_d = 784
    scale = 255.0

    @classmethod
    def raw_splits(cls, data_dir):
        if data_dir is None:
            raise ValueError(f"data_dir is None, but {cls.name!r} is read from IDX files: pass data_dir=<folder "
                             f"with train-images-idx3-ubyte, ...>; nothing is downloaded")
        data_dir = os.fspath(data_dir)
        if not os.path.isdir(data_dir):
            raise ValueError(f"data_dir == {data_dir!r}: no such directory ({os.path.abspath(data_dir)})")
        splits, source = {}, {}
        for split in SPLITS:
            pixels, labels, paths = load_idx_split(data_dir, cls.name, split)
            if pixels.shape[1] != cls.fixed_d:
                raise ValueError(f"{paths[0]}: images have {pixels.shape[1]} pixels, {cls.name!r} needs "
                                 f"{cls.fixed_d} (28×28)")
            splits[split] = (pixels, labels)
            source[split] = paths[0]
        return splits, source


class FashionMnistDistribution(MnistDistribution):
    """Fashion-MNIST from IDX files in ``data_dir`` (d = 784), pixels / 255."""

    name = "fashion-mnist"


REAL = (DigitsDistribution, MnistDistribution, FashionMnistDistribution)
