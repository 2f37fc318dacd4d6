"""Planted bugs: each main check must FAIL on a deliberately broken procedure.

A check that cannot fail proves nothing. Each test below breaks one ingredient (by monkeypatching
the procedure or the theory), runs the check body on a fixed setting where the unbroken procedure
passes (the same settings pass in ``checks/``), and asserts that the check raises with the claim
ID in its message.

| bug | check that catches it |
|---|---|
| perturbation sign flipped | D3 (and D2), C2, P1 |
| random-direction perturbations | D2, P3 |
| g trained on the natural inputs | P3 |
| B_0 with the readout variance 1/m counted twice | C3 |
| Φ evaluated with the wrong γ | K1 |
| real perturbations given to a control | CTRL-random |
"""

from __future__ import annotations

import math

import pytest
import torch

import perturbation_learning.attacks as attacks
import perturbation_learning.run as run
import theory.conditions as conditions
import theory.kernel as kernel
from checks.harness import run_pairs, run_results
from checks.properties import headline, scenario
from checks.properties import kernel as kernel_props
from checks.properties.controls import agreement_at_chance
from checks.properties.direction import check_direction
from checks.strategies import Setting
from perturbation_learning.config import Config
from reporting import records

# Inside L2 with non-trivial C2 ∧ C3 coverage (measured 0.66 on shifted Gauss, THEORY.md §5).
LAZY = Config(dataset="shifted-gauss", d=100, n_train=150, n_test=300, width=3000, gamma=0.0, loss="identity",
              lr=0.1, momentum=0.0, epochs_f=20, epochs_g=20, eps=3.0, eps_mode="absolute", scenario="a",
              targets="random")


@pytest.fixture(autouse=True)
def _one_thread_and_clean_buffer():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    records.discard()


def _flipped_sign(net, X, y_adv, eps):
    return -_ORIGINAL_ONE_STEP(net, X, y_adv, eps)


def _random_direction(net, X, y_adv, eps):
    return attacks.random_direction(X, eps, generator=torch.Generator().manual_seed(int(X.abs().sum() * 1e3) % 2**31))


_ORIGINAL_ONE_STEP = attacks._one_step_l2  # what a run calls (attacks.craft); one_step_l2 validates, then calls it


def test_unbroken_procedure_passes_the_same_checks():
    """The positive side: on the very settings used below, the unbroken procedure passes."""
    check_direction(Setting(LAZY, tuple(range(8))))
    scenario.check_perturbation_learning(Setting(LAZY, tuple(range(10))))
    headline.g_learns_from_perturbations(Setting(LAZY.replace(d=50, width=1000, n_train=100), tuple(range(32))),
                                         inside=True)
    verdicts = {(r["claim"], r["verdict"]) for r in records.pending()}
    for claim in ("D2", "D3", "C2", "C3", "P1", "P2", "P3"):
        assert {(claim, "pass"), (claim, "underpowered")} & verdicts, \
            f"{claim} was not asserted (and not rejected) on the unbroken procedure"


def _direction_check():
    check_direction(Setting(LAZY, tuple(range(8))))


def _scenario_property(prop):
    def run():
        setting = Setting(LAZY, tuple(range(10)))
        prop(scenario.measure_scenario(run_pairs(setting)), setting)
    return run


@pytest.mark.parametrize("attack, run_check, match", [
    pytest.param(_flipped_sign, _direction_check, "D[23]", id="sign flip -> D3"),
    pytest.param(_flipped_sign, _scenario_property(scenario.agrees_where_conditions_hold), "P1", id="sign flip -> P1"),
    pytest.param(_flipped_sign, _scenario_property(scenario.noise_within_b0_plus_be), "C2", id="sign flip -> C2"),
    pytest.param(_flipped_sign, _scenario_property(scenario.chain_holds_link_by_link), "P2", id="sign flip -> P2"),
    pytest.param(_random_direction, _direction_check, "D2", id="random directions -> D2"),
])
def test_broken_perturbation_is_caught(monkeypatch, attack, run_check, match):
    monkeypatch.setattr(attacks, "_one_step_l2", attack)
    with pytest.raises(AssertionError, match=match):
        run_check()


def test_b0_with_the_readout_variance_counted_twice_is_caught_by_C3(monkeypatch):
    """B_0 with the readout variance 1/m applied a second time (B_0/√m): |f − f̂| (f_0 plus the lazy
    error) exceeds it on nearly every input, far above the share δ that C3's bound allows."""
    original = conditions.bound_B0
    monkeypatch.setattr(conditions, "bound_B0",
                        lambda Z, gamma, delta: original(Z, gamma, delta) / math.sqrt(LAZY.width))
    with pytest.raises(AssertionError, match="C3"):
        _scenario_property(scenario.clean_output_within_b0)()


def test_random_directions_are_caught_by_P3(monkeypatch):
    monkeypatch.setattr(attacks, "_one_step_l2", _random_direction)
    small = LAZY.replace(d=50, width=1000, n_train=100)
    with pytest.raises(AssertionError, match="P3"):
        headline.g_learns_from_perturbations(Setting(small, tuple(range(32))), inside=True)


def test_g_trained_on_natural_inputs_is_caught_by_P3(monkeypatch):
    calls = []
    original = run.train_in_chunks

    def train_g_on_natural_inputs(net, X, y, **kw):
        calls.append(X)
        if len(calls) % 2 == 0:  # the second training of a run is g's: give it the natural inputs
            X = calls[-2]
        return original(net, X, y, **kw)

    monkeypatch.setattr(run, "train_in_chunks", train_g_on_natural_inputs)
    small = LAZY.replace(d=50, width=1000, n_train=100)
    with pytest.raises(AssertionError, match="P3"):
        headline.g_learns_from_perturbations(Setting(small, tuple(range(32))), inside=True)


def test_wrong_gamma_in_phi_is_caught_by_K1(monkeypatch):
    original = kernel.phi_closed_form
    monkeypatch.setattr(kernel, "phi_closed_form", lambda X, Z, gamma: original(X, Z, min(gamma + 0.3, 0.99)))
    rng = torch.Generator().manual_seed(0)
    x, z = torch.randn(5, generator=rng).double().numpy(), torch.randn(5, generator=rng).double().numpy()
    with pytest.raises(AssertionError, match="K1"):
        kernel_props.closed_form_matches_quadrature(x, z, 0.0)


def test_real_perturbations_fail_the_random_direction_control():
    """The control check must detect an effect when one is there: fed the real perturbations
    (agreement 0.71–0.98 per pair, measured), the sign test rejects chance."""
    real = LAZY.replace(d=20, n_train=100, width=400, lr=0.05, epochs_f=60, epochs_g=200, eps=10.0)
    setting = Setting(real, tuple(range(48)))
    with records.checking("planted: real perturbations", ("CTRL-random",)):
        with pytest.raises(AssertionError, match="CTRL-random"):
            agreement_at_chance(setting, run_results(setting))
