"""Your own data: ``--data PATH.npz`` / ``Config.data`` and ``register_family``.

- an ``.npz`` written from scikit-learn's ``make_classification`` runs end to end (library and CLI);
- labels {0, 1} map 0 → −1, 1 → +1; ±1 labels are kept;
- without Z, a fixed seeded split holds out ``NPZ_TEST_SHARE`` of the rows, and no held-out row is
  ever a training row, whatever the seed; with Z, the file's Z is the test set;
- every bad file raises one ValueError naming the array, and the CLI exits 2 with one line;
- a registered sampler is a family that Config, ``make_distribution`` and Hypothesis can draw.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.datasets import make_classification

from perturbation_learning.commands import cli
from perturbation_learning.config import Config, get_preset
from perturbation_learning.data import (NPZ_TEST_SHARE, family, load_npz, make_distribution,
                                        register_family, registered_families, unregister_family)
from perturbation_learning.run import run_batch

SMALL = dict(width=50, epochs_f=100, epochs_g=100, lr=0.1, momentum=0.9, eps=1.0, eps_mode="absolute")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def classification_npz(tmp_path):
    X, y = make_classification(n_samples=80, n_features=6, n_informative=3, n_redundant=0, random_state=0)
    path = tmp_path / "mc.npz"
    np.savez(path, X=X, y=y)
    return path, X, y


def test_make_classification_file_runs_and_fixes_dataset_and_d(classification_npz):
    path, X, y = classification_npz
    cfg = get_preset("shifted-gauss-a-small").replace(data=str(path), n_train=0, **SMALL)
    assert (cfg.dataset, cfg.d, cfg.real) == ("npz", 6, True)
    result = run_batch(cfg, [0, 1])
    n_test = round(NPZ_TEST_SHARE * len(X))
    assert result.X.shape == (2, len(X) - n_test, 6) and result.Z.shape == (2, n_test, 6)
    assert all(rec["status"] == "ok" for rec in result.records)
    # make_classification is learnable: measured acc_f_train 0.867 and 0.833 for seeds 0 and 1.
    assert min(rec["acc_f_train"] for rec in result.records) > 0.7


def test_cli_run_with_data(classification_npz, capsys):
    path, X, _ = classification_npz
    code = cli.main(["run", "--data", str(path), "--width", "20", "--epochs-f", "20", "--epochs-g", "20",
                     "--no-timings", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    import json
    rec = json.loads(out)
    assert rec["config"]["dataset"] == "npz" and rec["config"]["d"] == 6 and rec["config"]["n_train"] == 0
    assert rec["config"]["data"] == str(path) and rec["status"] == "ok"


def test_labels_01_map_to_pm1_and_pm1_are_kept(tmp_path):
    X = np.arange(20.0).reshape(10, 2)
    y01 = np.array([0, 1] * 5)
    np.savez(tmp_path / "a.npz", X=X, y=y01, Z=X[:3], yz=y01[:3])
    np.savez(tmp_path / "b.npz", X=X, y=2 * y01 - 1, Z=X[:3], yz=2 * y01[:3] - 1)
    Xa, ya, Za, yza = load_npz(tmp_path / "a.npz")
    Xb, yb, Zb, yzb = load_npz(tmp_path / "b.npz")
    assert ya.tolist() == (2 * y01 - 1).tolist() == yb.tolist()  # 0 → −1, 1 → +1
    assert yza.tolist() == [-1, 1, -1] == yzb.tolist()
    assert np.array_equal(Za, X[:3])  # the file's Z is the test set; X stays whole
    assert np.array_equal(Xa, X)


def test_held_out_rows_never_train_whatever_the_seed(tmp_path):
    n = 41
    X = np.column_stack([np.arange(n, dtype=float), np.zeros(n)])  # row identity in column 0
    y = np.where(np.arange(n) % 3 == 0, 1, -1)
    path = tmp_path / "rows.npz"
    np.savez(path, X=X, y=y)
    Xtr, _, Zte, _ = load_npz(path)
    assert len(Zte) == round(NPZ_TEST_SHARE * n) and len(Xtr) + len(Zte) == n
    test_rows = set(Zte[:, 0].tolist())
    assert not test_rows & set(Xtr[:, 0].tolist())
    cfg = Config(data=str(path), n_train=20, **SMALL)
    for seed in range(4):
        res = run_batch(cfg.replace(seed=seed), [seed])
        assert not test_rows & set(res.X[0, :, 0].tolist())
        assert set(res.Z[0, :, 0].tolist()) == test_rows


def test_n_train_beyond_the_file_names_n_train(classification_npz):
    path, X, _ = classification_npz
    with pytest.raises(ValueError, match="n_train == 500, must be <= 60"):
        Config(data=str(path), n_train=500)


def _bad(tmp_path, name, **arrays):
    path = tmp_path / f"{name}.npz"
    np.savez(path, **arrays)
    return path


X6 = np.random.default_rng(0).standard_normal((6, 3))
Y6 = np.array([0, 1, 0, 1, 0, 1])

# id: (arrays in the file, words the error must contain: the array and the problem)
BAD_FILES = {
    "missing-X": (dict(y=Y6), ["array X is missing"]),
    "missing-y": (dict(X=X6), ["array y is missing"]),
    "Z-without-yz": (dict(X=X6, y=Y6, Z=X6), ["array yz is missing"]),
    "yz-without-Z": (dict(X=X6, y=Y6, yz=Y6), ["array Z is missing"]),
    "X-one-dimensional": (dict(X=X6[:, 0], y=Y6), ["array X has shape (6,)", "(n, d)"]),
    "y-two-dimensional": (dict(X=X6, y=Y6[:, None]), ["array y has shape (6, 1)", "(n,)"]),
    "y-wrong-length": (dict(X=X6, y=Y6[:5]), ["array y has 5 labels", "X has 6 rows"]),
    "Z-wrong-d": (dict(X=X6, y=Y6, Z=X6[:, :2], yz=Y6), ["array Z has shape (6, 2)", "d == 3"]),
    "X-nan": (dict(X=np.where(np.eye(6, 3) > 0, np.nan, X6), y=Y6), ["array X contains NaN"]),
    "X-inf": (dict(X=np.where(np.eye(6, 3) > 0, np.inf, X6), y=Y6), ["array X contains an infinite value"]),
    "Z-nan": (dict(X=X6, y=Y6, Z=np.full((2, 3), np.nan), yz=Y6[:2]), ["array Z contains NaN"]),
    "y-nan": (dict(X=X6, y=np.where(Y6 > 0, np.nan, 0.0)), ["array y contains NaN"]),
    "third-label": (dict(X=X6, y=np.array([0, 1, 2, 0, 1, 0])), ["array y has label values [0, 1, 2]"]),
    "minus-one-and-zero": (dict(X=X6, y=np.array([-1, 0, -1, 0, -1, 0])), ["array y has label values [-1, 0]"]),
    "one-sample-of-a-class": (dict(X=X6, y=np.array([0, 0, 0, 0, 0, 1])), ["array y has 1 sample(s) of class +1",
                                                                           "at least 2"]),
    "one-class-only": (dict(X=X6, y=np.ones(6)), ["array y has 0 sample(s) of class -1"]),
    # The fixed split (seed 0) holds out rows 2 and 4 of 8: both +1 rows go to the test part.
    "class-lost-to-the-split": (dict(X=np.zeros((8, 2)), y=np.array([0, 0, 1, 0, 1, 0, 0, 0])),
                                ["after holding out 2 rows", "of class +1"]),
    "text-labels": (dict(X=X6, y=np.array(list("abcabc"))), ["array y has dtype <U1"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_raises_one_valueerror_naming_the_array(tmp_path, case):
    arrays, words = BAD_FILES[case]
    path = _bad(tmp_path, case, **arrays)
    with pytest.raises(ValueError) as info:
        Config(data=str(path), n_train=0)
    message = str(info.value)
    for word in words:
        assert word in message, message


def test_the_split_check_is_what_rejects_that_file(tmp_path):
    """The same rows with the +1 labels elsewhere load: the file itself has 2 of each class, and it
    is the split that removes them."""
    load_npz(_bad(tmp_path, "ok", X=np.zeros((8, 2)), y=np.array([0, 0, 0, 0, 0, 0, 1, 1])))


def test_not_an_npz_file(tmp_path):
    single = tmp_path / "single.npy"
    np.save(single, X6)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(ValueError, match="single array"):
        Config(data=str(single))
    with pytest.raises(ValueError, match="cannot read it as an .npz file"):
        Config(data=str(text))
    with pytest.raises(ValueError, match="no such file"):
        Config(data=str(tmp_path / "absent.npz"))
    with pytest.raises(TypeError, match="data must be a str"):
        Config(data=3)
    with pytest.raises(ValueError, match="dataset == 'npz' needs data"):
        Config(dataset="npz")


@pytest.mark.parametrize("case", ["missing-X", "X-nan", "third-label", "one-sample-of-a-class", "y-wrong-length"])
def test_cli_bad_file_exits_2_with_one_line(tmp_path, capsys, case):
    arrays, words = BAD_FILES[case]
    path = _bad(tmp_path, case, **arrays)
    for command in ("run", "sweep", "calibrate"):
        argv = [command, "--data", str(path)] + (["--vary", "width=10,20"] if command == "sweep" else [])
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
        assert words[0] in err, err


# ---------------------------------------------------------------- registered samplers

def _blobs(n, d, rng):
    y = rng.integers(0, 2, n)
    return rng.standard_normal((n, d)) + 1.5 * (2 * y - 1)[:, None], y


@pytest.fixture
def blobs():
    register_family("test-blobs", _blobs, min_d=2)
    yield "test-blobs"
    unregister_family("test-blobs")


def test_registered_sampler_is_a_family(blobs):
    assert blobs in registered_families() and family(blobs).min_d == 2 and family(blobs).synthetic
    X, y = make_distribution(blobs, d=4).sample(30, np.random.default_rng(1))
    assert X.shape == (30, 4) and set(y.tolist()) <= {-1, 1}
    res = run_batch(Config(dataset=blobs, d=4, n_train=40, n_test=30, **SMALL), [0])
    assert res.records[0]["status"] == "ok" and res.records[0]["acc_f_test"] > 0.8


def test_hypothesis_draws_a_registered_family(blobs):
    seen = []

    @settings(max_examples=5, deadline=None, database=None)
    @given(st.sampled_from(registered_families()), st.integers(2, 6), st.integers(0, 2**16))
    def draw(name, d, seed):
        X, y = make_distribution(name, d=d).sample(10, np.random.default_rng(seed))
        assert X.shape == (10, d)
        seen.append(name)

    draw()
    assert set(seen) == {blobs}


def test_register_family_errors(blobs):
    with pytest.raises(ValueError, match="registered already"):
        register_family(blobs, _blobs)
    with pytest.raises(ValueError, match="built-in family"):
        register_family("gauss", _blobs)
    with pytest.raises(TypeError, match="sampler must be callable"):
        register_family("x", 3)
    with pytest.raises(ValueError, match="d == 1, must be >= 2"):
        make_distribution(blobs, d=1)
    register_family("test-bad", lambda n, d, rng: (np.zeros((n, d)), np.full(n, 3)))
    try:
        with pytest.raises(ValueError, match="family 'test-bad': sampler's y has label values \\[3\\]"):
            make_distribution("test-bad", d=2).sample(4, np.random.default_rng(0))
    finally:
        unregister_family("test-bad")
    assert "test-bad" not in registered_families()


def test_check_suite_strategies_draw_a_registered_family(blobs):
    from hypothesis import find

    from checks.strategies import data_families

    assert find(data_families(), lambda name: name == blobs) == blobs
