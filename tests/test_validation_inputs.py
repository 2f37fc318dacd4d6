"""Bad input at every public entry point of the procedure raises ``TypeError`` (wrong type) or
``ValueError`` (wrong value) whose message names the parameter and the allowed range.

One test per bad input; each asserts the exception type *and* the words of the message, so that a
check that fires for the wrong reason (or a bare ``RuntimeError`` from deep inside torch) fails.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from perturbation_learning import attacks as atk
from perturbation_learning.data import make_distribution
from perturbation_learning.config import Config, get_preset
from perturbation_learning.run import run_batch, run_experiment
from perturbation_learning.network import init_network
from perturbation_learning.training import train

NAN = float("nan")
D, M, N = 3, 4, 6


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def net():
    return init_network(D, M, generator=gen())


@pytest.fixture(scope="module")
def data():
    X = torch.randn(N, D, generator=gen(1))
    y = torch.tensor([1.0, -1.0] * (N // 2))
    return X, y


# A config that would run in milliseconds; only its validation is exercised here.
TINY = dict(dataset="shifted-gauss", d=3, n_train=4, n_test=4, width=4, epochs_f=1, epochs_g=1)


# ------------------------------------------------------------------------------------------------
# init_network
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, match", [
    pytest.param(dict(d=0), ValueError, r"d == 0, must be >= 1", id="d=0"),
    pytest.param(dict(d=-1), ValueError, r"d == -1, must be >= 1", id="d<0"),
    pytest.param(dict(d=2.0), TypeError, r"d must be an integer", id="d-float"),
    pytest.param(dict(m=0), ValueError, r"m == 0, must be >= 1", id="width=0"),
    pytest.param(dict(gamma=1.0), ValueError, r"gamma == 1\.0, must be < 1", id="gamma=1"),
    pytest.param(dict(gamma=-0.1), ValueError, r"gamma == -0\.1, must be >= 0", id="gamma<0"),
    pytest.param(dict(gamma=NAN), ValueError, r"gamma == nan, must be finite", id="gamma=nan"),
    pytest.param(dict(gamma="0.5"), TypeError, r"gamma must be a real number", id="gamma-str"),
    pytest.param(dict(generator=None), TypeError, r"generator must be a torch\.Generator", id="generator=None"),
    pytest.param(dict(generator=0), TypeError, r"generator must be a torch\.Generator", id="generator=int"),
    pytest.param(dict(batch=0), ValueError, r"batch == 0, must be >= 1", id="batch=0"),
    pytest.param(dict(dtype="float16"), ValueError, r"dtype == 'float16', must be one of", id="dtype-name"),
    pytest.param(dict(dtype=torch.float16), ValueError, r"dtype == torch\.float16, must be torch\.float32",
                 id="dtype-torch"),
    pytest.param(dict(device="tpu"), ValueError, r"device == 'tpu', must be 'cpu', 'cuda' or 'auto'",
                 id="device-unknown"),
    pytest.param(dict(device=3), TypeError, r"device must be a str", id="device-int"),
])
def test_init_network_rejects(kwargs, exc, match):
    args = dict(d=D, m=M, gamma=0.0, generator=gen()) | kwargs
    with pytest.raises(exc, match=match):
        init_network(args.pop("d"), args.pop("m"), args.pop("gamma"), **args)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_init_network_rejects_cuda_without_cuda():
    with pytest.raises(ValueError, match=r"device == 'cuda', but CUDA is not available"):
        init_network(D, M, generator=gen(), device="cuda")


# ------------------------------------------------------------------------------------------------
# TwoLayerNet.forward / input_grad / patterns
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["forward", "input_grad", "patterns", "preactivations"])
def test_network_methods_reject_wrong_dimension(net, method):
    with pytest.raises(ValueError, match=r"X has dimension 4, but the network expects d == 3"):
        getattr(net, method)(torch.zeros(2, 4))


def test_network_rejects_numpy_input(net):
    with pytest.raises(TypeError, match=r"X must be a torch\.Tensor, got ndarray"):
        net.forward(np.zeros((2, D)))


def test_network_rejects_single_vector(net):
    with pytest.raises(ValueError, match=r"X has shape \(3,\), must be \(N, d\) or \(B, N, d\)"):
        net.forward(torch.zeros(D))


# ------------------------------------------------------------------------------------------------
# train
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, match", [
    pytest.param(dict(lr=0.0), ValueError, r"lr == 0\.0, must be > 0", id="lr=0"),
    pytest.param(dict(lr=-1.0), ValueError, r"lr == -1\.0, must be > 0", id="lr<0"),
    pytest.param(dict(lr=NAN), ValueError, r"lr == nan, must be finite", id="lr=nan"),
    pytest.param(dict(lr=math.inf), ValueError, r"lr == inf, must be finite", id="lr=inf"),
    pytest.param(dict(momentum=1.0), ValueError, r"momentum == 1\.0, must be < 1", id="momentum=1"),
    pytest.param(dict(momentum=1.5), ValueError, r"momentum == 1\.5, must be < 1", id="momentum>1"),
    pytest.param(dict(momentum=-0.1), ValueError, r"momentum == -0\.1, must be >= 0", id="momentum<0"),
    pytest.param(dict(steps=-1), ValueError, r"steps == -1, must be >= 0", id="steps<0"),
    pytest.param(dict(steps=1.5), TypeError, r"steps must be int", id="steps-float"),
    pytest.param(dict(loss="hinge"), ValueError, r"loss == 'hinge', must be one of \['identity', 'logistic'\]",
                 id="loss-name"),
    pytest.param(dict(loss=3), TypeError, r"loss must be a name, a Loss or a callable", id="loss-int"),
    pytest.param(dict(max_weight=0.0), ValueError, r"max_weight == 0\.0, must be > 0", id="max_weight=0"),
])
def test_train_rejects_hyperparameters(net, data, kwargs, exc, match):
    X, y = data
    with pytest.raises(exc, match=match):
        train(net, X, y, **(dict(lr=0.1, steps=1) | kwargs))


@pytest.mark.parametrize("labels, found", [
    pytest.param([0.0, 1.0], r"\[0\.0\]", id="0/1-labels"),
    pytest.param([-2.0, 2.0], r"\[-2\.0, 2\.0\]", id="pm2-labels"),
])
def test_train_rejects_labels_not_pm1(net, data, labels, found):
    X, _ = data
    y = torch.tensor(labels * (N // 2))
    with pytest.raises(ValueError, match=r"y must contain only labels -1 and \+1, found " + found):
        train(net, X, y, lr=0.1, steps=1)


def test_train_rejects_nan_data(net, data):
    X, y = data
    X = X.clone()
    X[2, 1] = NAN
    with pytest.raises(ValueError, match=r"Input X contains NaN or inf"):
        train(net, X, y, lr=0.1, steps=1)


def test_train_rejects_nan_labels(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"Input y contains NaN or inf"):
        train(net, X, torch.full_like(y, NAN), lr=0.1, steps=1)


def test_train_rejects_inconsistent_lengths(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"X has shape \(6, 3\) but y has shape \(5,\)"):
        train(net, X, y[:5], lr=0.1, steps=1)


def test_train_rejects_wrong_dimension(net, data):
    _, y = data
    with pytest.raises(ValueError, match=r"X has dimension 5, but the network expects d == 3"):
        train(net, torch.zeros(N, 5), y, lr=0.1, steps=1)


def test_train_rejects_wrong_ndim(net, data):
    _, y = data
    with pytest.raises(ValueError, match=r"X has shape \(6,\), must have ndim in \(2, 3\)"):
        train(net, torch.zeros(N), y, lr=0.1, steps=1)


def test_train_rejects_empty_data(net):
    with pytest.raises(ValueError, match=r"N == 0 samples, must be >= 1"):
        train(net, torch.zeros(0, D), torch.zeros(0), lr=0.1, steps=1)


def test_train_rejects_batch_mismatch(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"X has batch size 2 but the network batch shape is \(\)"):
        train(net, X.expand(2, N, D), y.expand(2, N), lr=0.1, steps=1)


@pytest.mark.parametrize("which", ["X", "y"])
def test_train_rejects_numpy_arrays(net, data, which):
    X, y = data
    args = {"X": X, "y": y}
    args[which] = args[which].numpy()
    with pytest.raises(TypeError, match=rf"{which} must be a torch\.Tensor, got ndarray"):
        train(net, args["X"], args["y"], lr=0.1, steps=1)


def test_train_rejects_non_network(data):
    X, y = data
    with pytest.raises(TypeError, match=r"net must be a TwoLayerNet"):
        train(None, X, y, lr=0.1, steps=1)


# ------------------------------------------------------------------------------------------------
# attacks
# ------------------------------------------------------------------------------------------------

ATTACK_FNS = {
    "one_step_l2": lambda net, X, y, eps: atk.one_step_l2(net, X, y, eps),
    "pgd_l2": lambda net, X, y, eps: atk.pgd_l2(net, X, y, eps, steps=2),
    "pgd_linf": lambda net, X, y, eps: atk.pgd_linf(net, X, y, eps, steps=2),
    "perturb-shuffled": lambda net, X, y, eps: atk.perturb("shuffled", net, X, y, eps, generator=gen()),
}


@pytest.mark.parametrize("attack", sorted(ATTACK_FNS))
@pytest.mark.parametrize("eps, match", [
    pytest.param(-1.0, r"eps == -1\.0, must be >= 0", id="eps<0"),
    pytest.param(NAN, r"eps == nan, must be finite", id="eps=nan"),
])
def test_attacks_reject_bad_eps(net, data, attack, eps, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        ATTACK_FNS[attack](net, X, y, eps)


def test_random_direction_rejects_negative_eps(data):
    X, _ = data
    with pytest.raises(ValueError, match=r"eps == -0\.5, must be >= 0"):
        atk.random_direction(X, -0.5, generator=gen())


@pytest.mark.parametrize("attack", sorted(ATTACK_FNS))
def test_attacks_reject_targets_not_pm1(net, data, attack):
    X, y = data
    with pytest.raises(ValueError, match=r"y_adv must contain only labels -1 and \+1"):
        ATTACK_FNS[attack](net, X, 2 * y, 1.0)


def test_attack_rejects_target_shape(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"y_adv has shape \(4,\), but X has shape \(6, 3\)"):
        atk.one_step_l2(net, X, y[:4], 1.0)


def test_attack_rejects_nan_inputs(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"Input X contains NaN or inf"):
        atk.one_step_l2(net, torch.full_like(X, NAN), y, 1.0)


def test_attack_rejects_numpy_targets(net, data):
    X, y = data
    with pytest.raises(TypeError, match=r"y_adv must be a torch\.Tensor, got ndarray"):
        atk.one_step_l2(net, X, y.numpy(), 1.0)


@pytest.mark.parametrize("fn", [atk.pgd_l2, atk.pgd_linf])
def test_pgd_rejects_zero_steps(net, data, fn):
    X, y = data
    with pytest.raises(ValueError, match=r"pgd_steps == 0, must be >= 1"):
        fn(net, X, y, 1.0, steps=0)


@pytest.mark.parametrize("step_size", [0.0, -0.1])
def test_pgd_rejects_step_size(net, data, step_size):
    X, y = data
    with pytest.raises(ValueError, match=rf"step_size == {step_size}, must be > 0"):
        atk.pgd_l2(net, X, y, 1.0, step_size=step_size)


def test_perturb_rejects_unknown_attack(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"attack == 'fgsm', must be one of \['l2-one-step'"):
        atk.perturb("fgsm", net, X, y, 1.0, generator=gen())


def test_draw_targets_rejects_unknown_mode(data):
    _, y = data
    with pytest.raises(ValueError, match=r"target_mode == 'opposite', must be one of \['flipped', 'random'\]"):
        atk.draw_targets(y, "opposite", generator=gen())


def test_draw_targets_rejects_labels_not_pm1(data):
    _, y = data
    with pytest.raises(ValueError, match=r"y must contain only labels -1 and \+1, found \[0\.0\]"):
        atk.draw_targets((y > 0).float(), "random", generator=gen())


def test_draw_targets_requires_explicit_generator(data):
    _, y = data
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator .* global random state"):
        atk.draw_targets(y, "random", generator=None)


def test_random_direction_rejects_numpy(data):
    X, _ = data
    with pytest.raises(TypeError, match=r"X must be a torch\.Tensor, got ndarray"):
        atk.random_direction(X.numpy(), 1.0, generator=gen())


def test_shuffle_rows_rejects_single_vector():
    with pytest.raises(ValueError, match=r"r has shape \(3,\), must have ndim in \(2, 3\)"):
        atk.shuffle_rows(torch.zeros(3), generator=gen())


# ------------------------------------------------------------------------------------------------
# Config, presets, runner
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, exc, match", [
    pytest.param("d", 0, ValueError, r"d == 0, must be >= 1", id="d=0"),
    pytest.param("d", "10", TypeError, r"d must be an integer, got str", id="d-str"),
    pytest.param("gamma", 1.0, ValueError, r"gamma == 1\.0, must be < 1\.0 \(leaky slope\)", id="gamma=1"),
    pytest.param("gamma", -0.1, ValueError, r"gamma == -0\.1, must be >= 0\.0 \(leaky slope\)", id="gamma<0"),
    pytest.param("gamma", NAN, ValueError, r"gamma == nan, must be finite", id="gamma=nan"),
    pytest.param("eps", -1.0, ValueError, r"eps == -1\.0, must be >= 0\.0 \(perturbation norm\)", id="eps<0"),
    pytest.param("eps", math.inf, ValueError, r"eps == inf, must be finite", id="eps=inf"),
    pytest.param("dataset", "imagenet", ValueError, r"dataset == 'imagenet', must be one of \[", id="dataset"),
    pytest.param("width", 0, ValueError, r"width == 0, must be >= 1", id="width=0"),
    pytest.param("width", 2.0, TypeError, r"width must be an integer, got float", id="width-float"),
    pytest.param("lr", 0.0, ValueError, r"lr == 0\.0, must be > 0", id="lr=0"),
    pytest.param("lr", -1.0, ValueError, r"lr == -1\.0, must be > 0", id="lr<0"),
    pytest.param("lr_g", -1.0, ValueError, r"lr_g == -1\.0, must be >= 0", id="lr_g<0"),
    pytest.param("momentum", 1.0, ValueError, r"momentum == 1\.0, must be < 1", id="momentum=1"),
    pytest.param("scenario", "c", ValueError, r"scenario == 'c', must be one of \['a', 'b'\]", id="scenario"),
    pytest.param("targets", "opposite", ValueError, r"targets == 'opposite', must be one of", id="targets"),
    pytest.param("attack", "fgsm", ValueError, r"attack == 'fgsm', must be one of", id="attack"),
    pytest.param("loss", "hinge", ValueError, r"loss == 'hinge', must be one of", id="loss"),
    pytest.param("dtype", "float16", ValueError, r"dtype == 'float16', must be one of", id="dtype"),
    pytest.param("device", "tpu", ValueError, r"device == 'tpu', must be one of", id="device"),
    pytest.param("eps_mode", "relative", ValueError, r"eps_mode == 'relative', must be one of", id="eps_mode"),
    pytest.param("pgd_steps", 0, ValueError, r"pgd_steps == 0, must be >= 1", id="pgd_steps=0"),
    pytest.param("epochs_f", -1, ValueError, r"epochs_f == -1, must be >= 0", id="epochs_f<0"),
    pytest.param("n_train", -1, ValueError, r"n_train == -1, must be >= 0", id="n_train<0"),
    pytest.param("n_train", 0, ValueError, r"n_train == 0 \(the whole split\) is only for real data",
                 id="n_train=0-synthetic"),
    pytest.param("n_test", 0, ValueError, r"n_test == 0, must be >= 1", id="n_test=0"),
    pytest.param("pair", "0", ValueError, r"pair == '0', must be two class indices", id="pair-one"),
    pytest.param("pair", "a,b", ValueError, r"pair == 'a,b', must be two class indices", id="pair-letters"),
    pytest.param("pair", "3,3", ValueError, r"pair == '3,3', must be two different class indices", id="pair-same"),
    pytest.param("pair", "0,10", ValueError, r"pair == '0,10', must be .* in 0\.\.9", id="pair-range"),
    pytest.param("seed", -1, ValueError, r"seed == -1, must be >= 0", id="seed<0"),
    pytest.param("seed", 1.5, TypeError, r"seed must be int, got float", id="seed-float"),
    pytest.param("seed", True, TypeError, r"seed must be int, got bool", id="seed-bool"),
    pytest.param("data_dir", 3, TypeError, r"data_dir must be a str, got int", id="data_dir-int"),
])
def test_config_rejects(field, value, exc, match):
    with pytest.raises(exc, match=match):
        Config(**(TINY | {field: value}))


def test_config_replace_revalidates():
    with pytest.raises(ValueError, match=r"gamma == 1\.0, must be < 1"):
        Config(**TINY).replace(gamma=1.0)


def test_config_replace_rejects_unknown_field():
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['gama'\]"):
        Config(**TINY).replace(gama=0.5)


def test_get_preset_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"preset == 'nope', must be one of \[.*'shifted-gauss-a'"):
        get_preset("nope")


def test_make_distribution_rejects_unknown_dataset():
    with pytest.raises(ValueError, match=r"name == 'imagenet', must be one of"):
        make_distribution("imagenet", d=3)


def test_run_experiment_reports_missing_idx_directory():
    config = Config(**(TINY | dict(dataset="mnist", data_dir="/nonexistent", n_train=4)))
    with pytest.raises(ValueError, match=r"data_dir == '/nonexistent': no such directory"):
        run_experiment(config)


def test_run_experiment_reports_missing_data_dir():
    with pytest.raises(ValueError, match=r"data_dir is None, but 'mnist' is read from IDX files"):
        run_experiment(Config(**(TINY | dict(dataset="mnist", n_train=4))))


@pytest.mark.parametrize("seeds, exc, match", [
    pytest.param([], ValueError, r"seeds must be a non-empty list", id="empty"),
    pytest.param([0, -1], ValueError, r"seed == -1, must be >= 0", id="negative"),
    pytest.param(["1"], TypeError, r"seed must be int, got str", id="str"),
    pytest.param(3, TypeError, r"seeds must be a list of integers, got int", id="int"),
])
def test_run_batch_rejects_seeds(seeds, exc, match):
    with pytest.raises(exc, match=match):
        run_batch(Config(**TINY), seeds)


def test_run_batch_rejects_non_config():
    with pytest.raises(TypeError, match=r"config must be a Config, got dict"):
        run_batch(dict(TINY), [0])
