"""Every deviation signature of ``checks.diagnoses`` names its cause under the conformance failure that a
planted bug of that kind causes; a failure that matches none gets no "likely cause" line.

The bugs are planted in the project's trainer, as in tests/test_conformance_planted.py (whose plants and
settings this module reuses), and the harness trains a small setting with them: conformance fails, and
the message must carry the cause.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

import perturbation_learning.attacks as attacks
import perturbation_learning.run as run
import perturbation_learning.training as training
from checks import diagnoses, harness, session
from checks.strategies import Setting, pair_seeds
from perturbation_learning.data import family
from test_conformance_planted import (SETTINGS, _forward_ignores_gamma, _lam_without_momentum, _t_without_lr,
                                      _test_inputs_are_training_inputs, _wrap_gradient_descent, _xadv_is_r,
                                      _xadv_is_x_plus_2r, _xadv_is_x_plus_r)

pytestmark = pytest.mark.usefixtures("one_thread")


def _failure(config, plant) -> str:
    """The conformance failure of the harness on ``config`` (2 pairs) with ``plant`` planted."""
    session.current().discard()
    try:
        with pytest.MonkeyPatch.context() as mp:
            plant(mp)
            with pytest.raises(AssertionError) as caught:
                harness.run_pairs(Setting(config, pair_seeds(7, 2)))
    finally:
        session.current().discard()
    return str(caught.value)


def _momentum_hard_coded(beta):
    def plant(mp):
        original = training.gradient_descent
        mp.setattr(training, "gradient_descent", lambda net, X, y, **kw: original(net, X, y, **{**kw, "momentum": beta}))
    return plant


def _lam_times(factor):
    def plant(mp):
        _wrap_gradient_descent(mp, lambda res, kw: dataclasses.replace(
            res, lam=res.lam * (res.lam.shape[-1] ** factor)))
    return plant


def _wrap_perturb(mp, change):
    original = run.perturb
    mp.setattr(run, "perturb", lambda config, f, X, y, streams, eps: change(original, config, f, X, y, streams, eps))


def _eps_times_sqrt_d(mp):
    _wrap_perturb(mp, lambda original, config, f, X, y, streams, eps: original(
        config, f, X, y, streams, eps * math.sqrt(X.shape[-1])))


def _toward_y(mp):
    def change(original, config, f, X, y, streams, eps):
        y_adv, _ = original(config, f, X, y, streams, eps)
        return y_adv, torch.stack([attacks._one_step_l2(f.net[i], X[i], y[i], eps) for i in range(len(X))])
    _wrap_perturb(mp, change)


def _sign_flipped(mp):
    original = attacks._one_step_l2
    mp.setattr(attacks, "_one_step_l2", lambda net, X, y_adv, eps: -original(net, X, y_adv, eps))


def _on_f0(mp):
    _wrap_perturb(mp, lambda original, config, f, X, y, streams, eps: original(
        config, dataclasses.replace(f, net=f.net0), X, y, streams, eps))


def _atoms_undeclared(mp):
    mp.setattr(family("sparse-binary"), "atoms", False)  # a family that forgot to declare its atoms


#: (signature, planted bug, config, claim, the cause the message must name)
CASES = [
    ("momentum β′ used", _momentum_hard_coded(0.9), SETTINGS["gamma>0"], "R4",
     r"momentum β′ = 0\.9 was used where the config says β = 0 "),
    ("momentum β′ used", _momentum_hard_coded(0.0), SETTINGS["momentum"], "R4",
     r"momentum β′ = 0 was used where the config says β = 0\.9 "),
    ("momentum β′ used", _lam_without_momentum, SETTINGS["momentum"], "R4",
     r"momentum β′ = 0 was used where the config says β = 0\.9 "),
    ("t in steps", _t_without_lr, SETTINGS["gamma>0"], "R4", r"t counts steps, not η·steps"),
    ("Λ off by N", _lam_times(1), SETTINGS["gamma>0"], "R4", r"Λ not divided by N"),
    ("Λ off by N", _lam_times(-1), SETTINGS["logistic, b"], "R4", r"Λ divided by N twice"),
    ("ε scaled by √d", _eps_times_sqrt_d, SETTINGS["gamma>0"], "R2", r"ε was scaled by √d \(eps_mode\).*ε·√d"),
    ("r toward y, or sign flipped", _toward_y, SETTINGS["gamma>0"], "R2", r"r built toward y, not y\^adv$"),
    ("r toward y, or sign flipped", _sign_flipped, SETTINGS["gamma>0"], "R2", r"r's sign is flipped"),
    ("r crafted on f_0", _on_f0, SETTINGS["gamma>0"], "R2", r"r crafted on the initial network f_0"),
    ("forward at another γ", _forward_ignores_gamma, SETTINGS["gamma>0"], "R1", r"a forward pass that ignores γ"),
    ("scenario swapped", _xadv_is_x_plus_r, SETTINGS["gamma>0"], "R3",
     r"x\^adv built as Scenario \(b\)'s input where the config says Scenario \(a\)"),
    ("scenario swapped", _xadv_is_r, SETTINGS["logistic, b"], "R3", r"x\^adv built as Scenario \(a\)'s input"),
    ("test set leak or atom", _test_inputs_are_training_inputs, SETTINGS["gamma>0"], "R5",
     r"a leak of training inputs into the test set: (\d+) of \1 .*starts with the training set"),
    ("test set leak or atom", _atoms_undeclared, SETTINGS["gamma>0"].replace(dataset="sparse-binary", d=30), "R5",
     r"a coinciding atom: \d+ of 100 test inputs equal a training input"),
]


@pytest.mark.parametrize("signature, plant, config, claim, cause", CASES,
                         ids=[f"{c[0]}: {c[4][:30]}" for c in CASES])
def test_planted_bug_names_its_likely_cause(signature, plant, config, claim, cause):
    message = _failure(config, plant)
    assert re.search(rf"^{claim} \(", message, re.M), message
    causes = [ln.removeprefix("  likely cause: ") for ln in message.splitlines() if ln.startswith("  likely cause: ")]
    assert any(re.search(cause, c) for c in causes), message


def test_every_signature_has_a_planted_bug():
    assert {sig.name for sig in diagnoses.SIGNATURES} == {case[0] for case in CASES}


def test_a_failure_that_matches_no_signature_names_no_cause():
    """x^adv = x + 2r in Scenario (b) is neither scenario's input: R3 fails, with no cause suggested."""
    message = _failure(SETTINGS["logistic, b"], _xadv_is_x_plus_2r)
    assert re.search(r"^R3 \(", message, re.M) and "likely cause" not in message, message
