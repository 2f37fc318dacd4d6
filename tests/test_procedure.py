"""The procedure interface (``perturbation_learning.procedure``) and ``--procedure``.

- ``load_procedure`` and the plugin's ``--procedure`` reject a bad 'module:object' with one clear message;
- ``seedwise`` and ``FunctionNet``: an implementation's own f is what the run evaluates, ∇f is its
  autograd, and its dtype survives the checks' cast of the parameters to float64;
- through the harness, the checks run the selected procedure: the independent reference passes D3 on
  the planted-bug setting, and the same reference with its perturbation's sign flipped fails it.
"""

from __future__ import annotations

import types

import pytest
import torch

from checks import harness, plugin, session
from checks.properties import direction
from checks.strategies import Setting
from examples import reference_torch as ref
from perturbation_learning.config import Config
from perturbation_learning.network import TwoLayerNet
from perturbation_learning.procedure import (DEFAULT_PROCEDURE, FunctionNet, as_dtype, load_procedure,
                                             procedure_name, seedwise)
from perturbation_learning.run import perturbation_learning, run_batch

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = Config(dataset="shifted-gauss", d=5, n_train=12, n_test=10, width=8, lr=0.1, momentum=0.0, epochs_f=5,
               epochs_g=5, eps=1.0, eps_mode="absolute")


@pytest.mark.parametrize("spec, words", [
    ("examples.reference_torch", "must be 'module:object'"),
    ("no_such_module_xyz:procedure", "cannot import module 'no_such_module_xyz'"),
    ("examples.reference_torch:no_such_object", "has no attribute 'no_such_object'"),
    ("examples.reference_torch:MAX_WEIGHT", "is a float, must be callable"),
])
def test_load_procedure_rejects_bad_specs(spec, words):
    with pytest.raises(ValueError, match=words):
        load_procedure(spec)


def test_default_and_named_procedures_load():
    assert load_procedure(None) is perturbation_learning and load_procedure("") is perturbation_learning
    assert procedure_name(load_procedure(DEFAULT_PROCEDURE)) == DEFAULT_PROCEDURE
    assert procedure_name(load_procedure("examples.reference_torch:procedure")) == "examples.reference_torch:procedure"


def test_plugin_option_turns_a_bad_procedure_into_a_usage_error():
    config = types.SimpleNamespace(getoption=lambda name: "examples.reference_torch:nope")
    with pytest.raises(pytest.UsageError, match="has no attribute 'nope'"):
        plugin._load_procedure(config)
    config = types.SimpleNamespace(getoption=lambda name: None)
    assert procedure_name(plugin._load_procedure(config)) == DEFAULT_PROCEDURE


def test_seedwise_requires_a_seed_output():
    with pytest.raises(TypeError, match="must return a SeedOutput"):
        run_batch(SMALL, [0], procedure=seedwise(lambda config, X, y, streams: "not an output"))
    with pytest.raises(TypeError, match="fn must be callable"):
        seedwise(3)


def test_function_net_uses_the_implementations_function_and_dtype():
    """f(z) and ∇f come from the reported function (float32 here) even after the checks cast the
    parameters to float64; they match the formula on the parameters to float32 rounding."""
    cfg = SMALL.replace(dtype="float32")
    result = run_batch(cfg, [0, 1], procedure=ref.procedure)
    net = result.f.net
    assert isinstance(net, FunctionNet) and net.input_dtype == torch.float32
    double = as_dtype(net[1], torch.float64)
    Z = result.Z[1].double()
    calls = []
    original = double.functions[0]
    double.functions = (lambda X: calls.append(X.dtype) or original(X),)
    formula = TwoLayerNet(net.W[1].double(), net.b[1].double(), net.a[1].double(), net.gamma)
    assert torch.allclose(double(Z), formula(Z), rtol=1e-5, atol=1e-6) and calls == [torch.float32]
    assert torch.allclose(double.input_grad(Z), formula.input_grad(Z), rtol=1e-5, atol=1e-6)
    assert double(Z).dtype == torch.float64


# ---------------------------------------------------------------- the checks run the selected procedure

#: The planted-bug suite's corner A (tests/test_planted_bugs.py): shifted Gauss, d = 100, N = 150,
#: m = 3000, t = t' = 2, ε = 3, flipped targets, 12 pairs; D3 is asserted there.
CORNER_A = Setting(Config(dataset="shifted-gauss", d=100, n_train=150, n_test=400, width=3000, gamma=0.0,
                          loss="identity", lr=0.1, momentum=0.0, epochs_f=20, epochs_g=20, eps=3.0,
                          eps_mode="absolute", scenario="a", targets="flipped"), tuple(range(12)))


def _sign_flipped(procedure):
    """The procedure with r_n → −r_n (the untargeted sign), x^adv rebuilt from it."""
    def broken(config, sample, streams):
        out = procedure(config, sample, streams)
        out.r = -out.r
        out.X_adv = out.r if config.scenario == "a" else sample.X + out.r
        return out
    return broken


@pytest.fixture
def checked():
    run = session.current()
    saved = run.procedure
    yield run.use_procedure
    run.procedure = saved


def _d3(setting):
    session.current().discard()
    with session.checking("procedure interface", ("D3",)):
        direction.aligned_with_plus_u(direction.measure_direction(harness.run_pairs(setting)), setting)
    return [r for r in session.current().pending() if r["claim"] == "D3"]


def test_checks_run_the_reference_and_catch_its_planted_sign_flip(checked):
    checked(ref.procedure)
    assert session.current().procedure_name == "examples.reference_torch:procedure"
    recs = _d3(CORNER_A)
    assert recs and "fail" not in [r["verdict"] for r in recs]
    assert any(r["inside"] and r["verdict"] in ("pass", "underpowered") for r in recs)
    checked(_sign_flipped(ref.procedure))
    with pytest.raises(AssertionError, match=r"(?m)^R2 \(test_procedure:.*broken\): r_n differs"):
        _d3(CORNER_A)  # the report contradicts the reported f: R2 first
    with session.current().without_conformance(), pytest.raises(AssertionError, match="^D3: "):
        _d3(CORNER_A)  # and D3's own check catches it too
    session.current().discard()  # the planted failure's record is this test's evidence, not a check run's
