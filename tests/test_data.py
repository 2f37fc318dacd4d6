"""Tests of perturbation_learning/data/: the families, the real-data loaders and the IDX reader."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest

from perturbation_learning.data import (
    FAMILIES,
    OFFICIAL_PAIRS,
    REAL_FAMILIES,
    SYNTHETIC_FAMILIES,
    balanced_labels,
    digits_split_indices,
    make_distribution,
    read_idx,
)
from perturbation_learning.data.images import _digits_arrays

D = 60
N = 1001  # odd on purpose: exactly ⌊n/2⌋ of one class
STRUCTURED = ("aniso-mixture", "hypercube", "subspace", "sparse-binary", "xor")
EXACTLY_BALANCED = tuple(f for f in SYNTHETIC_FAMILIES if f != "sparse-binary")


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def synthetic(name: str, d: int = D, seed: int = 0, **options):
    return make_distribution(name, d=d, rng=rng(seed), **options)


# ------------------------------------------------------------------------------------------------
# Synthetic families
# ------------------------------------------------------------------------------------------------

def test_families_lists_every_name_once():
    assert set(FAMILIES) == set(SYNTHETIC_FAMILIES) | set(REAL_FAMILIES)
    assert len(FAMILIES) == len(set(FAMILIES)) >= 9
    assert {"gauss", "shifted-gauss", "digits", "mnist", "fashion-mnist"} <= set(FAMILIES)


@pytest.mark.parametrize("name", SYNTHETIC_FAMILIES)
def test_synthetic_shape_dtype_labels(name):
    dist = synthetic(name)
    assert (dist.name, dist.d, dist.synthetic) == (name, D, True)
    X, y = dist.sample(N, rng(1))
    assert X.shape == (N, D) and X.dtype == np.float64 and X.flags.c_contiguous
    assert y.shape == (N,) and y.dtype == np.int64
    assert set(np.unique(y).tolist()) == {-1, 1}
    assert np.isfinite(X).all()
    json.dumps(dist.describe())  # JSON-able
    assert dist.describe()["name"] == name and dist.describe()["d"] == D


@pytest.mark.parametrize("name", EXACTLY_BALANCED)
@pytest.mark.parametrize("n", [1, 2, 7, N])
def test_balanced_families_have_exactly_half(name, n):
    _, y = synthetic(name).sample(n, rng(n))
    assert min((y == 1).sum(), (y == -1).sum()) == n // 2


def test_sparse_binary_is_roughly_balanced_for_many_active_features():
    dist = synthetic("sparse-binary", d=400)
    assert dist.balanced is False
    _, y = dist.sample(4000, rng(3))
    assert abs(y.mean()) < 0.1


def test_balanced_labels_are_a_permutation_with_either_majority():
    majorities = {int(np.sign(balanced_labels(5, rng(s)).sum())) for s in range(20)}
    assert majorities == {-1, 1}
    a, b = balanced_labels(10, rng(0)), balanced_labels(10, rng(1))
    assert a.sum() == b.sum() == 0 and not np.array_equal(a, b)


@pytest.mark.parametrize("name", SYNTHETIC_FAMILIES)
def test_same_seeds_identical_different_seeds_differ(name):
    X1, y1 = synthetic(name, seed=5).sample(200, rng(9))
    X2, y2 = synthetic(name, seed=5).sample(200, rng(9))
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    X3, _ = synthetic(name, seed=5).sample(200, rng(10))
    assert not np.allclose(X1, X3)


@pytest.mark.parametrize("name", STRUCTURED)
def test_structure_seed_changes_the_distribution(name):
    a, b = synthetic(name, seed=1), synthetic(name, seed=2)
    assert a.describe()["fingerprint"] != b.describe()["fingerprint"]
    assert synthetic(name, seed=1).describe() == a.describe()
    Xa, ya = a.sample(200, rng(0))
    Xb, yb = b.sample(200, rng(0))
    assert not (np.allclose(Xa, Xb) and np.array_equal(ya, yb))


@pytest.mark.parametrize("name", SYNTHETIC_FAMILIES)
def test_fresh_draws_and_test_split(name):
    dist, g = synthetic(name), rng(4)
    X1, _ = dist.sample(100, g)
    X2, _ = dist.sample(100, g)
    Xt, yt = dist.sample(100, g, split="test")
    assert not np.allclose(X1, X2) and not np.allclose(X1, Xt)
    assert Xt.shape == (100, D) and set(np.unique(yt).tolist()) <= {-1, 1}


@pytest.mark.parametrize("name", SYNTHETIC_FAMILIES)
def test_per_coordinate_scale_is_order_one(name):
    X, _ = synthetic(name, d=100).sample(4000, rng(6))
    assert 0.5 < (X ** 2).sum(axis=1).mean() / 100 < 2.0
    var = X.var(axis=0)
    assert var.min() > 0.05 and var.max() < 20.0


def test_gauss_labels_carry_no_signal():
    X, y = synthetic("gauss", d=20).sample(20000, rng(0))
    diff = X[y == 1].mean(0) - X[y == -1].mean(0)
    assert np.abs(diff).max() < 0.1  # std of each entry is 2/√20000 ≈ 0.014


@pytest.mark.parametrize("shift", [0.3, 1.0])
def test_shifted_gauss_class_means(shift):
    X, y = synthetic("shifted-gauss", d=20, shift=shift).sample(20000, rng(0))
    assert np.allclose(X[y == 1].mean(0), shift, atol=0.06)
    assert np.allclose(X[y == -1].mean(0), -shift, atol=0.06)
    assert np.allclose(X[y == 1].std(0), 1.0, atol=0.05)


def test_student_t_unit_variance_heavy_tails():
    X, y = synthetic("student-t", d=10, df=5.0, shift=0.0).sample(40000, rng(0))
    assert np.allclose(X.var(0), 1.0, atol=0.1)
    kurt = (X ** 4).mean() / (X ** 2).mean() ** 2
    assert kurt > 4.5  # Gaussian: 3, Student-t(5): 9


def test_aniso_mixture_mean_and_spectrum():
    dist = synthetic("aniso-mixture", d=30, cond=10.0)
    assert 1.0 <= np.linalg.norm(dist.mu) <= 2.0
    assert np.isclose(dist.eigenvalues.mean(), 1.0)
    X, y = dist.sample(40000, rng(0))
    assert np.allclose(X[y == 1].mean(0), dist.mu, atol=0.05)
    cov = np.cov((X - y[:, None] * dist.mu).T)
    eig = np.sort(np.linalg.eigvalsh(cov))
    assert np.allclose(eig, np.sort(dist.eigenvalues), atol=0.15)
    assert np.abs(cov - np.diag(np.diag(cov))).max() > 0.1  # rotated, not axis-aligned
    Q = dist.rotation()
    H = np.eye(30)
    for v in dist.reflections:
        H = H @ (np.eye(30) - 2.0 * np.outer(v, v))
    assert np.allclose(Q, H) and np.allclose(Q @ Q.T, np.eye(30))
    assert np.allclose(cov, Q @ np.diag(dist.eigenvalues) @ Q.T, atol=0.1)
    assert synthetic("aniso-mixture", d=30, mean_norm=3.0).mean_norm == 3.0


def test_hypercube_support_and_linear_labels():
    dist = synthetic("hypercube")
    X, y = dist.sample(500, rng(0))
    assert np.abs(X).max() <= np.sqrt(3.0)
    assert np.array_equal(y, np.where(X @ dist.w > 0, 1, -1))


def test_subspace_rank_and_class_means():
    dist = synthetic("subspace", d=100, k=7, shift=0.5)
    X, y = dist.sample(3000, rng(0))
    assert np.linalg.matrix_rank(X) == 7
    proj = X @ dist.basis / np.sqrt(100 / 7)
    assert np.allclose(proj[y == 1].mean(0), 0.5, atol=0.08)
    assert synthetic("subspace", d=100).k == 10 and synthetic("subspace", d=5).k == 1


def test_sparse_binary_features_and_ties_to_minus_one():
    dist = synthetic("sparse-binary", d=50, p=0.2)
    X, y = dist.sample(500, rng(0))
    assert np.allclose(np.unique(X), [-0.2 / 0.4, 0.8 / 0.4])
    assert np.array_equal(y, np.where(X @ dist.w > 0, 1, -1))
    dist.w = np.zeros(50)  # every point is a tie: sgn(0) = -1, the one convention (theory.model)
    assert (dist.sample(50, rng(0))[1] == -1).all()


def test_xor_labels_and_reflection_keeps_gaussian():
    dist = synthetic("xor", d=10)
    X, y = dist.sample(20000, rng(0))
    assert np.array_equal(y, np.where((X @ dist.u) * (X @ dist.v) > 0, 1, -1))
    assert np.allclose(X.mean(0), 0.0, atol=0.05) and np.allclose(X.var(0), 1.0, atol=0.05)
    assert abs(np.corrcoef(X @ dist.u, y)[0, 1]) < 0.05  # not linearly separable along u


# ------------------------------------------------------------------------------------------------
# Digits
# ------------------------------------------------------------------------------------------------

def test_digits_pair_loading_and_labels():
    dist = make_distribution("digits", pair=(3, 8), d=64)
    assert (dist.d, dist.synthetic) == (64, False)
    X, y = dist.sample(None, None)
    Xt, yt = dist.sample(None, None, split="test")
    raw, labels = _digits_arrays()
    assert len(y) + len(yt) == int(np.isin(labels, [3, 8]).sum())
    assert X.dtype == np.float64 and y.dtype == np.int64 and X.shape[1] == 64
    train_idx, _ = digits_split_indices()
    sel = train_idx[np.isin(labels[train_idx], [3, 8])]
    assert np.array_equal(y, np.where(labels[sel] == 8, 1, -1))  # pair[0] → −1, pair[1] → +1
    assert np.allclose(X + dist.center, raw[sel] / 16.0)
    assert (X + dist.center).min() >= 0.0 and (X + dist.center).max() <= 1.0
    json.dumps(dist.describe())


def test_digits_splits_disjoint_and_deterministic():
    train_idx, test_idx = digits_split_indices()
    n = len(_digits_arrays()[1])
    assert len(np.intersect1d(train_idx, test_idx)) == 0
    assert len(train_idx) + len(test_idx) == n and len(train_idx) == round(0.7 * n)
    assert np.array_equal(train_idx, digits_split_indices()[0])
    X, _ = make_distribution("digits").sample(None, None)
    Xt, _ = make_distribution("digits").sample(None, None, split="test")
    rows = {r.tobytes() for r in X}
    assert not any(r.tobytes() in rows for r in Xt)  # no shared image (digits has no duplicates here)


def test_digits_centring_uses_training_statistics_of_all_classes():
    raw, labels = _digits_arrays()
    train_idx, test_idx = digits_split_indices()
    dist = make_distribution("digits", pair=(0, 1))
    # The three scalar means agree to ~1e-6 on digits, so compare at rounding precision.
    assert dist.center == pytest.approx(raw[train_idx].mean() / 16.0, rel=1e-13)
    assert dist.center != pytest.approx(raw.mean() / 16.0, rel=1e-9)
    assert dist.center != pytest.approx(raw[test_idx].mean() / 16.0, rel=1e-9)
    Xt, _ = dist.sample(None, None, split="test")
    sel = test_idx[np.isin(labels[test_idx], [0, 1])]
    assert np.allclose(Xt, raw[sel] / 16.0 - raw[train_idx].mean() / 16.0)
    pix = make_distribution("digits", pair=(0, 1), centering="pixel")
    assert np.allclose(pix.center, raw[train_idx].mean(0) / 16.0)
    assert np.abs(pix.center - raw[test_idx].mean(0) / 16.0).max() > 0.01  # clearly train-only
    none = make_distribution("digits", pair=(0, 1), centering="none")
    assert none.sample(None, None)[0].min() >= 0.0


def test_digits_sampling_without_replacement():
    dist = make_distribution("digits", pair=(1, 7))
    full, yfull = dist.sample(None, None)
    X, y = dist.sample(len(yfull), rng(0))
    assert not np.array_equal(X, full)  # shuffled ...
    order = np.lexsort(X.T)
    assert np.array_equal(X[order], full[np.lexsort(full.T)])  # ... but the same rows
    a, b = dist.sample(50, rng(1)), dist.sample(50, rng(1))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], dist.sample(50, rng(2))[0])
    with pytest.raises(ValueError, match=r"n == 100000, must be <= \d+ .*without replacement"):
        dist.sample(100000, rng(0))


# ------------------------------------------------------------------------------------------------
# IDX reader and MNIST-style loading
# ------------------------------------------------------------------------------------------------

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
          np.float64: 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, _CODES[arr.dtype.type], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path, arr: np.ndarray, compress: bool = False) -> None:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    arr = (np.arange(2 * 3 * 4).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx" + (".gz" if compress else ""))
    write_idx(path, arr, compress)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative and out.shape == (2, 3, 4)
    assert np.array_equal(out, arr)
    assert np.array_equal(read_idx(str(path)), arr)


@pytest.mark.parametrize("payload, match", [
    (b"\x00\x00", r"truncated IDX header \(2 bytes"),
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", r"bad IDX magic number 0x01000801"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", r"unknown IDX dtype code 0x07"),
    (b"\x00\x00\x08\x00", r"ndim == 0"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 2), r"truncated IDX header .*needs 16"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00\x01", r"truncated IDX data: .*needs 5 bytes, found 2"),
    (b"\x00\x00\x0c\x01" + struct.pack(">I", 1) + b"\x00" * 5, r"1 trailing bytes"),
], ids=["short", "magic", "dtype", "ndim0", "header", "data", "trailing"])
def test_read_idx_rejects_corrupt_files(tmp_path, payload, match):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    gz = tmp_path / "bad.gz"
    gz.write_bytes(gzip.compress(payload))
    with pytest.raises(ValueError, match=match):
        read_idx(gz)


def test_read_idx_rejects_corrupt_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(10, np.uint8)))[:-6])
    with pytest.raises(ValueError, match=r"x\.gz: corrupt gzip stream"):
        read_idx(path)


def fake_mnist(folder, *, compress=False, spelling="-idx", n_train=30, n_test=12, seed=0):
    """Small 28×28 IDX files of classes 0..9 (cycled) with random pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    g = rng(seed)
    ext = ".gz" if compress else ""
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = g.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        sep = "-" if spelling == "-idx" else "."
        write_idx(folder / f"{prefix}-images{sep}idx3-ubyte{ext}", images, compress)
        write_idx(folder / f"{prefix}-labels{sep}idx1-ubyte{ext}", labels, compress)
        out[split] = (images.reshape(n, -1), labels)
    return out


@pytest.mark.parametrize("layout", ["raw", "gz", "dot-spelling", "torchvision"])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_mnist_style_loading(tmp_path, name, layout):
    folder = tmp_path
    if layout == "torchvision":
        folder = tmp_path / {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[name] / "raw"
    arrays = fake_mnist(folder, compress=layout == "gz",
                        spelling="." if layout == "dot-spelling" else "-idx")
    dist = make_distribution(name, data_dir=str(tmp_path), pair=(2, 1), d=784)
    assert (dist.d, dist.synthetic) == (784, False)
    train_px, train_lab = arrays["train"]
    center = train_px.mean() / 255.0  # all ten classes of the training split
    assert np.isclose(dist.center, center)
    for split in ("train", "test"):
        px, lab = arrays[split]
        keep = np.isin(lab, [1, 2])
        X, y = dist.sample(None, None, split=split)
        assert X.dtype == np.float64 and y.dtype == np.int64
        assert np.allclose(X, px[keep] / 255.0 - center)
        assert np.array_equal(y, np.where(lab[keep] == 1, 1, -1))  # official: class 1 → +1
    X, y = dist.sample(3, rng(0), split="test")
    assert X.shape == (3, 784)
    json.dumps(dist.describe())


def test_official_pairs_map_to_the_official_labels():
    assert OFFICIAL_PAIRS == {"mnist": (2, 1), "fashion-mnist": (9, 0)}


def test_mnist_loader_checks_file_consistency(tmp_path):
    fake_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"has 30 images but .*train-labels-idx1-ubyte has 5 labels"):
        make_distribution("mnist", data_dir=tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(30) % 3).astype(np.uint8))
    with pytest.raises(ValueError, match=r"train split of 'mnist' has no images of class 7"):
        make_distribution("mnist", data_dir=tmp_path, pair=(0, 7))


def test_mnist_loader_rejects_wrong_image_size(tmp_path):
    fake_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((30, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"images have 64 pixels, 'mnist' needs 784"):
        make_distribution("mnist", data_dir=tmp_path)


# ------------------------------------------------------------------------------------------------
# Bad inputs
# ------------------------------------------------------------------------------------------------

def test_unknown_family_lists_valid_names():
    with pytest.raises(ValueError, match=r"name == 'cifar', must be one of .*'digits'.*'shifted-gauss'"):
        make_distribution("cifar", d=3)


@pytest.mark.parametrize("d, err, match", [
    (None, ValueError, r"d is None, .*synthetic.*d >= 1"),
    (0, ValueError, r"d == 0, must be >= 1"),
    (-4, ValueError, r"d == -4, must be >= 1"),
    (2.5, TypeError, r"d must be an integer"),
])
def test_bad_d_for_synthetic(d, err, match):
    with pytest.raises(err, match=match):
        make_distribution("gauss", d=d)


def test_xor_needs_two_dimensions():
    with pytest.raises(ValueError, match=r"d == 1, must be >= 2"):
        make_distribution("xor", d=1, rng=rng(0))


@pytest.mark.parametrize("name", STRUCTURED)
def test_structured_families_require_rng(name):
    with pytest.raises(TypeError, match=r"rng is None.*fixed random structure"):
        make_distribution(name, d=5)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        make_distribution(name, d=5, rng=0)


def test_sample_rejects_bad_n_split_and_rng():
    dist = make_distribution("gauss", d=3)
    for n in (0, -1):
        with pytest.raises(ValueError, match=rf"n == {n}, must be >= 1"):
            dist.sample(n, rng(0))
    with pytest.raises(ValueError, match=r"n is None.*synthetic"):
        dist.sample(None, rng(0))
    with pytest.raises(TypeError, match=r"n must be an integer"):
        dist.sample(2.0, rng(0))
    with pytest.raises(ValueError, match=r"split == 'val', must be one of \['test', 'train'\]"):
        dist.sample(3, rng(0), split="val")
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        dist.sample(3, None)
    digits = make_distribution("digits")
    with pytest.raises(ValueError, match=r"n == 0, must be >= 1"):
        digits.sample(0, rng(0))
    with pytest.raises(ValueError, match=r"split == 'dev'"):
        digits.sample(None, None, split="dev")


@pytest.mark.parametrize("options, err, match", [
    ({"df": 2.0}, ValueError, r"df == 2.0, must be > 2.0 \(finite variance"),
    ({"df": "3"}, TypeError, r"df must be a real number"),
    ({"shift": float("nan")}, ValueError, r"shift == nan, must be finite"),
    ({"foo": 1}, TypeError, r"unexpected option\(s\) \['foo'\] for family 'student-t'; its options are \['df', 'shift'\]"),
])
def test_bad_options(options, err, match):
    with pytest.raises(err, match=match):
        make_distribution("student-t", d=3, **options)


def test_bad_family_specific_options():
    with pytest.raises(ValueError, match=r"k == 11, must be <= 10 \(subspace dimension"):
        make_distribution("subspace", d=10, rng=rng(0), k=11)
    with pytest.raises(ValueError, match=r"p == 1.0, must be < 1.0"):
        make_distribution("sparse-binary", d=10, rng=rng(0), p=1.0)
    with pytest.raises(ValueError, match=r"centering == 'zscore', must be one of"):
        make_distribution("digits", centering="zscore")


@pytest.mark.parametrize("pair, err, match", [
    ((3, 3), ValueError, r"pair == \(3, 3\), the two classes must differ"),
    ((0, 10), ValueError, r"pair == 10, must be <= 9 \(class labels 0..9\)"),
    ((-1, 2), ValueError, r"pair == -1, must be >= 0"),
    ((1,), TypeError, r"pair must be a tuple of two class labels"),
    ((1.0, 2), TypeError, r"pair must be an integer"),
])
def test_bad_pair(pair, err, match):
    with pytest.raises(err, match=match):
        make_distribution("digits", pair=pair)


def test_real_data_rejects_mismatched_d():
    with pytest.raises(ValueError, match=r"d == 100, but 'digits' has d == 64"):
        make_distribution("digits", d=100)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_bad_data_dir(tmp_path, name):
    with pytest.raises(ValueError, match=r"data_dir is None.*nothing is downloaded"):
        make_distribution(name)
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=r"data_dir == '.*nowhere': no such directory"):
        make_distribution(name, data_dir=str(missing))
    with pytest.raises(ValueError, match=r"data_dir == '.*': no train images IDX file .*train-images-idx3-ubyte"):
        make_distribution(name, data_dir=str(tmp_path))
    fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ValueError, match=r"no test labels IDX file .*t10k-labels-idx1-ubyte"):
        make_distribution(name, data_dir=str(tmp_path))


# ------------------------------------------------------------------------------------------------
# Family limits (class attributes, for strategies that must draw only valid settings)
# ------------------------------------------------------------------------------------------------

def test_family_limits_are_class_attributes():
    from perturbation_learning.data import FAMILY_CLASSES, family

    assert set(FAMILY_CLASSES) == set(FAMILIES)
    assert family("xor").min_d == 2 and family("gauss").min_d == 1
    assert family("digits").fixed_d == 64 and family("mnist").fixed_d == 784 and family("gauss").fixed_d is None
    assert family("shifted-gauss").max_train() is None
    assert family("digits").max_train((3, 5)) == make_distribution("digits", pair=(3, 5)).split_size("train")
    for name in SYNTHETIC_FAMILIES:  # the limits are the ones make_distribution enforces
        cls = family(name)
        rng_arg = rng(0) if cls.needs_rng else None
        assert make_distribution(name, d=cls.min_d, rng=rng_arg).d == cls.min_d
        if cls.min_d > 1:
            with pytest.raises(ValueError, match=f"d == {cls.min_d - 1}, must be >= {cls.min_d}"):
                make_distribution(name, d=cls.min_d - 1, rng=rng_arg)
        with pytest.raises(TypeError, match="unexpected option"):
            make_distribution(name, d=cls.min_d, rng=rng_arg, **{"not_an_option": 1})
        for option, (default, _) in cls.option_bounds.items():
            assert option in cls.options
            if default is not None:
                assert make_distribution(name, d=4, rng=rng_arg, **{option: default}).options[option] == default
    with pytest.raises(ValueError, match=r"data_dir is None"):
        family("mnist").max_train((0, 1))
