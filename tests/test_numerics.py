"""Numerical edge cases of the procedure, each with a defined result, and divergence.

Defined results:
- ε = 0, or a zero input gradient (readout a = 0, or every neuron inactive): every attack returns
  exact zeros, never NaN; a run with ε = 0 is valid and its signed cosine is 0.
- γ → 1 (0.999), d = 1, N = 2, duplicate points, constant features: finite, valid results;
  duplicates get identical Λ_n and r_n; a feature that is 0 on every sample leaves its column of W
  untouched.
- Inputs at scale 1e-6 and 1e6: either finite with ``diverged`` False, or ``diverged`` True; a
  non-finite loss or weight is never reported as valid.
- float64: finite and close to float32 (same data and initial weights: both are drawn in float64).
- Divergence (a huge step): ``TrainResult.diverged`` is True, the experiment reports
  ``status: "invalid: ..."`` with null metrics, and the CLI exits 1 with that status in its JSON
  (tested with the other CLI cases in test_cli_errors.py).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from perturbation_learning import attacks as atk
from perturbation_learning.config import Config
from perturbation_learning.run import run_experiment, to_json
from perturbation_learning.network import TwoLayerNet, init_network, stack_networks
from perturbation_learning.training import train

METRICS = ("acc_f_train", "acc_g_train", "acc_f_test", "acc_g_test", "agreement", "cos_signed", "cos_abs")
# A run of a few milliseconds, with every ingredient of the procedure.
SMALL = Config(dataset="shifted-gauss", d=10, n_train=40, n_test=100, width=50, epochs_f=50, epochs_g=50,
               lr=0.1, momentum=0.9, eps=1.0, eps_mode="absolute")


pytestmark = pytest.mark.usefixtures("one_thread")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def labels(n: int) -> torch.Tensor:
    return torch.tensor([1.0, -1.0] * (n // 2))


def assert_valid_and_finite(result: dict) -> None:
    __tracebackhide__ = True
    assert result["status"] == "ok", result["status"]
    bad = {k: v for k, v in result.items() if isinstance(v, float) and not math.isfinite(v)}
    assert not bad, f"non-finite values in a valid result: {bad}"
    assert all(result[k] is not None for k in METRICS)


def attack_outputs(net, X, y_adv, eps):
    return {
        "one_step_l2": atk.one_step_l2(net, X, y_adv, eps),
        "pgd_l2": atk.pgd_l2(net, X, y_adv, eps, steps=3),
        "pgd_linf": atk.pgd_linf(net, X, y_adv, eps, steps=3),
        "shuffled": atk.perturb("shuffled", net, X, y_adv, eps, generator=gen()),
    }


# ------------------------------------------------------------------------------------------------
# ε = 0 and zero input gradients
# ------------------------------------------------------------------------------------------------

def test_eps_zero_gives_zero_perturbations():
    net = init_network(4, 8, generator=gen())
    X = torch.randn(6, 4, generator=gen(1))
    outs = attack_outputs(net, X, labels(6), 0.0)
    outs["random"] = atk.random_direction(X, 0.0, generator=gen())
    for name, r in outs.items():
        assert torch.equal(r, torch.zeros_like(X)), name


@pytest.mark.parametrize("scenario", ["a", "b"])
def test_eps_zero_run_is_valid_with_zero_cosine(scenario):
    result = run_experiment(SMALL.replace(eps=0.0, scenario=scenario))
    assert_valid_and_finite(result)
    assert result["cos_signed"] == 0.0 and result["cos_abs"] == 0.0


def _zero_gradient_networks():
    net = init_network(4, 8, generator=gen())
    yield "readout a = 0", TwoLayerNet(net.W, net.b, torch.zeros_like(net.a), net.gamma)
    # γ = 0 and every neuron inactive on every input: s_k(x) = 0, so ∇f(x) = 0.
    yield "all neurons off", TwoLayerNet(torch.zeros_like(net.W), torch.full_like(net.b, -1.0), net.a, 0.0)


@pytest.mark.parametrize("which, net", list(_zero_gradient_networks()), ids=lambda v: v if isinstance(v, str) else "")
def test_zero_input_gradient_gives_zero_perturbations(which, net):
    X = torch.randn(6, 4, generator=gen(1))
    assert torch.equal(net.input_grad(X), torch.zeros_like(X))
    for name, r in attack_outputs(net, X, labels(6), 1.0).items():
        assert torch.isfinite(r).all(), name
        if name != "pgd_linf":  # sign(0) = 0: L∞ PGD takes no step either
            assert torch.equal(r, torch.zeros_like(X)), name
        else:
            assert torch.equal(r, torch.zeros_like(X)), name


def test_zero_readout_does_not_train():
    """a = 0: ∂L/∂W = 0, so W and b stay put; the identity loss stays ℓ(0) = 0 and Λ_n = t/N."""
    net = init_network(4, 8, generator=gen())
    net = TwoLayerNet(net.W, net.b, torch.zeros_like(net.a), net.gamma)
    X, y = torch.randn(6, 4, generator=gen(1)), labels(6)
    tr = train(net, X, y, lr=0.1, steps=20, momentum=0.9)
    assert not tr.diverged
    assert torch.equal(tr.net.W, net.W) and torch.equal(tr.net.b, net.b)
    assert np.all(tr.loss_curve == 0.0)
    np.testing.assert_allclose(tr.lam.numpy(), tr.t / 6, rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# γ close to 1, d = 1, N = 2
# ------------------------------------------------------------------------------------------------

def test_gamma_close_to_one():
    net = init_network(4, 8, 0.999, generator=gen())
    X = torch.randn(6, 4, generator=gen(1))
    S = net.slopes(net.preactivations(X))
    assert torch.isclose(S, torch.tensor(0.999)).logical_or(S == 1.0).all()
    tr = train(net, X, labels(6), lr=0.1, steps=20, loss="logistic")
    assert not tr.diverged and np.isfinite(tr.loss_curve).all()
    assert_valid_and_finite(run_experiment(SMALL.replace(gamma=0.999)))


def test_one_dimensional_inputs():
    """d = 1: the one-step perturbation is ±ε exactly (or 0 where ∇f = 0)."""
    net = init_network(1, 8, generator=gen())
    X = torch.randn(6, 1, generator=gen(1))
    r = atk.one_step_l2(net, X, labels(6), 0.5)
    assert set(r.abs().flatten().tolist()) <= {0.5, 0.0}
    assert_valid_and_finite(run_experiment(SMALL.replace(d=1)))


def test_two_training_samples():
    result = run_experiment(SMALL.replace(n_train=2))
    assert_valid_and_finite(result)
    assert result["acc_f_train"] in (0.0, 0.5, 1.0)


# ------------------------------------------------------------------------------------------------
# Duplicate points and constant features
# ------------------------------------------------------------------------------------------------

def test_duplicate_points_get_identical_weights_and_perturbations():
    X = torch.randn(4, 5, generator=gen(1), dtype=torch.float64)
    X = torch.cat([X, X[:2]])  # rows 4, 5 duplicate rows 0, 1
    y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    net = init_network(5, 16, generator=gen(), dtype="float64")
    tr = train(net, X, y, lr=0.1, steps=30, loss="logistic", momentum=0.9)
    assert not tr.diverged
    # Equal up to rounding, not bitwise: a GEMM may compute two equal rows in different blocks.
    torch.testing.assert_close(tr.lam[4:], tr.lam[:2], rtol=1e-12, atol=0)
    r = atk.one_step_l2(tr.net, X, y, 1.0)
    assert torch.isfinite(r).all()
    torch.testing.assert_close(r[4:], r[:2], rtol=1e-12, atol=1e-15)


def test_all_points_identical():
    """Every x_n equal, labels balanced: with the identity loss the two labels cancel exactly, so
    the gradient is 0 and nothing moves; with the logistic loss training is finite."""
    X = torch.ones(4, 3)
    net = init_network(3, 8, generator=gen())
    tr = train(net, X, labels(4), lr=0.1, steps=30, loss="identity")
    assert not tr.diverged and torch.equal(tr.net.W, net.W) and np.all(tr.loss_curve == tr.loss_curve[0])
    tr = train(net, X, labels(4), lr=0.1, steps=30, loss="logistic")
    assert not tr.diverged and np.isfinite(tr.loss_curve).all()


def test_constant_features():
    """A feature that is 0 on every sample gets no gradient; a constant non-zero one acts like a bias."""
    X = torch.randn(8, 4, generator=gen(1))
    X[:, 1] = 0.0
    X[:, 2] = 3.0
    net = init_network(4, 8, generator=gen())
    tr = train(net, X, labels(8), lr=0.1, steps=30, momentum=0.9)
    assert not tr.diverged and np.isfinite(tr.loss_curve).all()
    assert torch.equal(tr.net.W[:, 1], net.W[:, 1])
    assert not torch.equal(tr.net.W[:, 2], net.W[:, 2])
    assert torch.isfinite(atk.one_step_l2(tr.net, X, labels(8), 1.0)).all()


# ------------------------------------------------------------------------------------------------
# Tiny and huge inputs: finite, or divergence flagged, never NaN silently
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["identity", "logistic"])
@pytest.mark.parametrize("scale", [1e-6, 1e6])
@pytest.mark.parametrize("lr", [1e-6, 0.1])
def test_extreme_input_scales_are_finite_or_flagged(scale, loss, dtype, lr):
    X = torch.randn(20, 5, generator=gen(1), dtype=torch.float64) * scale
    net = init_network(5, 10, generator=gen(), dtype=dtype)
    tr = train(net, X, labels(20), loss=loss, lr=lr, steps=100, momentum=0.9)
    finite = np.isfinite(tr.loss_curve).all() and bool(torch.isfinite(tr.net.W).all())
    assert bool(tr.diverged) or finite, "a non-finite network reported as valid"
    if scale == 1e-6:  # tiny inputs: nothing can blow up
        assert not tr.diverged and finite
    if scale == 1e6 and lr == 0.1 and loss == "identity":  # ‖ΔW‖ ≈ lr·|a|·‖x‖ per step ≫ MAX_WEIGHT
        assert tr.diverged
    r = atk.one_step_l2(tr.net, X.to(net.W.dtype), labels(20), 1.0)
    assert torch.isfinite(r).all()


@pytest.mark.parametrize("lr", [1e-3, 1.0, 1e3, 1e6, 1e30])
@pytest.mark.parametrize("loss", ["identity", "logistic"])
def test_no_valid_result_is_non_finite(lr, loss):
    """Whatever the step, a run is either valid with finite numbers or marked invalid."""
    result = run_experiment(SMALL.replace(lr=lr, loss=loss, epochs_f=60, epochs_g=60))
    if result["status"] == "ok":
        assert_valid_and_finite(result)
    else:
        assert result["status"].startswith("invalid: ")
        assert all(result[k] is None for k in METRICS)


# ------------------------------------------------------------------------------------------------
# float64
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides", [{}, {"gamma": 0.5, "loss": "logistic", "scenario": "b"}],
                         ids=["identity-a", "logistic-b"])
def test_float64_path_is_finite_and_close_to_float32(overrides):
    r32 = run_experiment(SMALL.replace(**overrides))
    r64 = run_experiment(SMALL.replace(dtype="float64", **overrides))
    assert_valid_and_finite(r32)
    assert_valid_and_finite(r64)
    for k in ("acc_f_train", "acc_g_train", "acc_f_test", "acc_g_test", "agreement"):
        assert abs(r32[k] - r64[k]) <= 0.02, (k, r32[k], r64[k])  # a sign may flip near 0
    for k in ("cos_signed", "cos_abs", "final_loss_f", "final_loss_g", "t_f", "t_g"):
        assert r32[k] == pytest.approx(r64[k], rel=1e-4, abs=1e-5), k


# ------------------------------------------------------------------------------------------------
# Divergence
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss, lr", [("identity", 1e6), ("logistic", 1e30)])
def test_huge_step_is_flagged_as_diverged(loss, lr):
    """The identity loss moves W by ≈ lr·t‖a x‖ whatever the fit, so any huge step explodes; the
    logistic loss saturates (ℓ' → 0 once the margins are large), so it needs a step that overshoots
    MAX_WEIGHT at once."""
    X = torch.randn(20, 5, generator=gen(1))
    tr = train(init_network(5, 10, generator=gen()), X, labels(20), loss=loss, lr=lr, steps=60, momentum=0.9)
    assert bool(tr.diverged) and not bool(tr.valid)
    weights_exploded = not torch.isfinite(tr.net.W).all() or float(tr.net.W.abs().max()) > 1e6
    assert weights_exploded or not np.isfinite(tr.loss_curve).all()


def test_divergence_is_per_network_in_a_batch():
    """A batch where one network's data is huge: only that one is flagged, and the other gets the
    same bits as when trained alone."""
    X = torch.randn(2, 20, 5, generator=gen(1))
    X[1] *= 1e6
    y = labels(20).expand(2, 20)
    nets = [init_network(5, 10, generator=gen(s)) for s in (0, 1)]
    tr = train(stack_networks(nets), X, y, lr=0.1, steps=60, momentum=0.9)
    assert tr.diverged.tolist() == [False, True]
    alone = train(nets[0], X[0], y[0], lr=0.1, steps=60, momentum=0.9)
    assert torch.equal(tr.net.W[0], alone.net.W)
    assert np.array_equal(tr.loss_curve[0], alone.loss_curve)


DIVERGING = dict(lr=1e6, loss="identity")


def test_diverged_experiment_is_invalid_with_null_metrics():
    result = run_experiment(SMALL.replace(**DIVERGING))
    assert result["status"].startswith("invalid: training diverged for f")
    assert all(result[k] is None for k in METRICS)
    out = json.loads(to_json(result))
    assert out["status"] == result["status"] and all(out[k] is None for k in METRICS)


# The CLI side (exit code 1, status in the JSON) is tests/test_cli_errors.py::test_cli_exits_1_on_divergence.
