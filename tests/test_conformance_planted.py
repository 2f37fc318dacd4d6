"""Planted bugs that only the conformance claims R1–R5 catch (THEORY.md §8); R6's, in the run's own
measurements: tests/test_measurement_conformance.py; R7's (g starts from f_0): tests/test_g_fresh.py.

Each bug below is a realistic one-line defect planted twice: in the project's trainer (by
monkeypatching) and in a copy of ``examples/reference_torch.py`` whose source carries the same
one-line change (written to a temporary module and checked with ``--procedure`` semantics through
``CheckSession.checking_procedure``). The check suite's harness trains the setting with the broken
procedure and must fail with the claim, the procedure and the quantity named; the unbroken
procedures pass the same settings with every part of every R claim checked. No differential test
is involved: the suite alone sees the bug.

The classes: a forward pass that ignores the leaky slope, an input gradient that ignores it, a trained
bias that is not returned, an integrated time t off by the learning rate, fresh test inputs that are
the training inputs; and per claim: x^adv = x + r in Scenario (a), x + 2r or r in Scenario (b), g
trained on D instead of D^adv (R3), Λ without the momentum weights (R4, acts only under heavy-ball).
A correct procedure that keeps r in float64 and rounds x + r and r separately passes R3.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

import perturbation_learning.run as run
import perturbation_learning.training as training
from checks import harness, session
from checks.strategies import Setting, pair_seeds
from perturbation_learning.config import Config
from perturbation_learning.network import TwoLayerNet, matmul_per_network
from perturbation_learning.procedure import ProcedureOutput, as_dtype
from theory import conformance as C
from theory.model import leaky_relu, readout, scenario_inputs
from theory.tolerances import CONFORMANCE_CLAIMS

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCE = Path(__file__).resolve().parents[1] / "examples" / "reference_torch.py"

#: Small lazy settings, two pairs each: R1–R5 are exact, so a pair or two decides.
BASE = Config(dataset="shifted-gauss", d=20, n_train=60, n_test=100, width=200, gamma=0.3, loss="identity", lr=0.1,
              momentum=0.0, epochs_f=20, epochs_g=20, eps=1.0, eps_mode="absolute", scenario="a", targets="random")
SETTINGS = {
    "gamma>0": BASE,
    "gamma=0": BASE.replace(gamma=0.0),
    "logistic, b": BASE.replace(loss="logistic", scenario="b", targets="flipped"),
    "momentum": BASE.replace(momentum=0.9, epochs_f=30, epochs_g=30, lr=0.01),
    "shuffled": BASE.replace(attack="shuffled"),
    "random": BASE.replace(attack="random", scenario="b"),
}


def _setting(name: str) -> Setting:
    return Setting(SETTINGS[name], pair_seeds(7, 2))


# ------------------------------------------------------------------ the bugs, in the project's trainer

def _wrap_gradient_descent(mp, change: Callable):
    original = training.gradient_descent
    mp.setattr(training, "gradient_descent", lambda net, X, y, **kw: change(original(net, X, y, **kw), kw))


def _forward_ignores_gamma(mp):
    forward = lambda self, X: readout(leaky_relu(self.preactivations(X), 0.0), self.a)  # noqa: E731
    mp.setattr(TwoLayerNet, "forward", forward)
    mp.setattr(TwoLayerNet, "__call__", forward)


def _input_grad_ignores_gamma(mp):
    mp.setattr(TwoLayerNet, "input_grad", lambda self, X: matmul_per_network(
        (self.preactivations(X) > 0).to(self.W.dtype) * self.a.unsqueeze(-2), self.W))


def _bias_not_returned(mp):
    _wrap_gradient_descent(mp, lambda res, kw: dataclasses.replace(
        res, net=TwoLayerNet(res.net.W, res.net0.b.clone(), res.net.a, res.net.gamma)))


def _t_without_lr(mp):
    _wrap_gradient_descent(mp, lambda res, kw: dataclasses.replace(res, t=res.t / kw["lr"]))


def _test_inputs_are_training_inputs(mp):
    original = run.draw_data
    mp.setattr(run, "draw_data", lambda config, streams: (lambda X, y, Z, yz: (X, y, X[:len(Z)], y[:len(Z)]))(
        *original(config, streams)))


def _xadv_is_x_plus_r(mp):
    mp.setattr(run, "scenario_inputs", lambda scenario, X, r: X + r)


def _xadv_is_x_plus_2r(mp):
    mp.setattr(run, "scenario_inputs", lambda scenario, X, r: X + 2 * r)


def _xadv_is_r(mp):
    mp.setattr(run, "scenario_inputs", lambda scenario, X, r: r)


def _g_trained_on_d(mp):
    original = run.train_network
    calls = []

    def train(config, net, X, y, lr, steps):
        calls.append(X)
        return original(config, net, calls[0] if len(calls) % 2 == 0 else X, y, lr, steps)

    mp.setattr(run, "train_network", train)


def _lam_without_momentum(mp):
    _wrap_gradient_descent(mp, lambda res, kw: dataclasses.replace(
        res, lam=torch.full_like(res.lam, kw["lr"] * kw["steps"] / res.lam.shape[-1])))


@dataclass(frozen=True)
class Bug:
    name: str
    claim: str
    plant: Callable                      # plants it in the project's trainer (monkeypatch)
    reference_line: tuple | None         # (line, changed line) of examples/reference_torch.py; None: data bug
    setting: str
    message: str                         # what the failure must say after "R_k (procedure): "
    inert: str | None = None             # a setting where the bug changes nothing (it acts only elsewhere)

    def __str__(self):
        return self.name


BUGS = (
    Bug("forward ignores γ", "R1", _forward_ignores_gamma,
        ("        return torch.maximum(h, self.gamma * h) @ self.a", "        return torch.relu(h) @ self.a"),
        "gamma>0", r"(f|f_0|g|g_0)\((x|x\^adv|z)\) differs from Σ_k a_k φ", inert="gamma=0"),
    Bug("input gradient ignores γ", "R2", _input_grad_ignores_gamma,
        ("    (grad,) = torch.autograd.grad(net(x).sum(), x)",
         "    grad = ((net.first(x) > 0).to(x.dtype) * net.a) @ net.W"),
        "gamma>0", r"r_n differs from ε y\^adv_n ∇f", inert="gamma=0"),
    Bug("trained bias not returned", "R1", _bias_not_returned,
        ("    return NetworkReport(W=net.W, b=net.b,", "    return NetworkReport(W=net.W, b=net0.b,"),
        "gamma>0", r"(differs from Σ_k a_k φ|the recorded training loss of f differs)"),
    Bug("t without η", "R4", _t_without_lr,
        ("    return Trained(net=net, net0=net0, t=float(sum(weights)),",
         "    return Trained(net=net, net0=net0, t=float(sum(weights)) / lr,"),
        "gamma>0", r"the integrated time of f differs"),
    Bug("test inputs are training inputs", "R5", _test_inputs_are_training_inputs, None, "gamma>0",
        r"a test input equals a training input"),
    Bug("x^adv = x + r in Scenario (a)", "R3", _xadv_is_x_plus_r,
        ('    X_adv = r if config.scenario == "a" else X + r', "    X_adv = X + r"),
        "gamma>0", r"x\^adv differs from the Scenario \(a\) input"),
    Bug("x^adv = x + 2r in Scenario (b)", "R3", _xadv_is_x_plus_2r,
        ('    X_adv = r if config.scenario == "a" else X + r',
         '    X_adv = r if config.scenario == "a" else X + 2 * r'),
        "logistic, b", r"x\^adv differs from the Scenario \(b\) input"),
    Bug("x^adv = r in Scenario (b)", "R3", _xadv_is_r,
        ('    X_adv = r if config.scenario == "a" else X + r', "    X_adv = r"),
        "logistic, b", r"x\^adv differs from the Scenario \(b\) input"),
    Bug("g trained on D", "R3", _g_trained_on_d,
        ("    g = train(TwoLayerLeakyReLU(*init_g, config.gamma), X_adv, y_adv,",
         "    g = train(TwoLayerLeakyReLU(*init_g, config.gamma), X, y_adv,"),
        "gamma>0", r"the recorded training loss of g differs from ℓ\(−y\^adv g(_0)?\(x\^adv\)\) on D\^adv"),
    Bug("Λ without the momentum weights", "R4", _lam_without_momentum,
        ("        lam += w_j * c_j", "        lam += lr * c_j"),
        "momentum", r"Λ_n of f differs from t/N", inert="gamma>0"),
)


def _reference_copy(tmp_path: Path, change: tuple | None):
    """A copy of examples/reference_torch.py with one line (``change``: its start, and the new start)
    changed, imported as its own module."""
    source = REFERENCE.read_text()
    if change is not None:
        old, new = change
        assert source.count(old) == 1, f"the reference no longer has the line {old!r}"
        source = source.replace(old, new)
    name = f"reference_copy_{abs(hash((str(tmp_path), change)))}"
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def check_with():
    """Run the harness (conformance included) on a setting with a procedure; restores the default."""
    def run_setting(procedure, setting_name):
        session.current().discard()
        with session.current().checking_procedure(procedure):
            harness.run_pairs(_setting(setting_name))
        recs = [r for r in session.current().pending() if r["claim"] in CONFORMANCE_CLAIMS]
        session.current().discard()
        return recs
    return run_setting


def _conforms(rec) -> bool:
    """An exact record passes; R7's test over the two checked pairs (``checks.fresh``) cannot decide on
    two pairs and is underpowered, never failed."""
    return rec["verdict"] == "pass" or (rec["test"] != "exact" and rec["verdict"] == "underpowered")


def _procedures(tmp_path, bug: Bug | None):
    """(label, procedure) pairs: the project's trainer (None) and a reference copy with the bug's line."""
    return [("trainer", None), ("reference copy", _reference_copy(tmp_path, bug and bug.reference_line).procedure)]


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("which", ["trainer", "reference copy"])
def test_unbroken_procedures_conform_with_every_part_checked(tmp_path, check_with, which, setting):
    procedure = dict(_procedures(tmp_path, None))[which]
    recs = check_with(procedure, setting)
    assert sorted({r["claim"] for r in recs}) == list(CONFORMANCE_CLAIMS)
    bad = [(r["claim"], r["value"], r.get("violations")) for r in recs if not _conforms(r)]
    assert not bad
    # Every part checked: the PGD iterates are the only quantity a procedure cannot report here.
    assert all(not r.get("unchecked") for r in recs), [r["unchecked"] for r in recs if r.get("unchecked")]


@pytest.mark.parametrize("which", ["trainer", "reference copy"])
@pytest.mark.parametrize("bug", BUGS, ids=str)
def test_planted_bug_is_caught_by_its_conformance_claim(tmp_path, check_with, bug, which):
    with pytest.MonkeyPatch.context() as mp:
        if which == "trainer" or bug.reference_line is None:
            bug.plant(mp)  # a data bug lives in the run's loader, which both procedures share
        procedure = dict(_procedures(tmp_path, bug if which == "reference copy" else None))[which]
        with pytest.raises(AssertionError) as caught:
            check_with(procedure, bug.setting)
    message = str(caught.value)
    line = next((ln for ln in message.splitlines() if ln.startswith(bug.claim + " (")), None)
    assert line is not None, f"{bug.claim} did not fail: {message}"
    assert re.search(bug.message, line), line
    # The deviation, the worst input and the bound (or, for a count, how many and the first).
    assert re.search(r"( by \S+ at .+ \(tolerance \S+\)|: \d+ offending, the first at .+)$", line), line
    expected_name = "perturbation_learning.run:perturbation_learning" if which == "trainer" else "reference_copy_"
    assert expected_name in line


@pytest.mark.parametrize("bug", [b for b in BUGS if b.inert], ids=str)
def test_stratum_bug_is_inert_outside_its_stratum(check_with, bug):
    """A bug that acts only at γ > 0 (or only under momentum) passes where it cannot act: only the
    settings of its stratum catch it, which is why every check's settings cover both sides."""
    with pytest.MonkeyPatch.context() as mp:
        bug.plant(mp)
        recs = check_with(None, bug.inert)
    assert recs and all(_conforms(r) for r in recs)


def test_a_procedure_that_reports_no_losses_gets_not_checked_never_a_silent_pass(tmp_path, check_with):
    """Without per-sample losses and final loss, the parts that need them are stated as not checked."""
    module = _reference_copy(tmp_path, None)
    from perturbation_learning.procedure import seedwise

    def without_losses(config, X, y, streams):
        out = module.reference_seed(config, X, y, streams)
        for net in (out.f, out.g):
            net.sample_losses, net.final_loss = None, float("nan")
        return out

    recs = check_with(seedwise(without_losses, name="without_losses"), "logistic, b")
    unchecked = {r["claim"]: r["unchecked"] for r in recs if r.get("unchecked")}
    assert set(unchecked) == {"R1", "R3", "R4"}
    assert all("(not reported)" in r["reason"] for r in recs if r.get("unchecked"))
    assert all(_conforms(r) for r in recs)
    from reporting.verdicts import claim_verdicts

    verdicts = claim_verdicts(["R4"], recs)
    assert "not checked in" in verdicts["R4"]["reason"] and "(not reported)" in verdicts["R4"]["reason"]


def test_r5_equality_is_not_checked_where_the_law_has_atoms(check_with):
    """sparse-binary draws coincide with positive probability: equal rows there are no evidence of a
    broken split, so R5 states that part as not checked (with the reason) instead of failing."""
    setting = Setting(BASE.replace(dataset="sparse-binary"), pair_seeds(7, 2))
    session.current().discard()
    harness.run_pairs(setting)
    r5 = [r for r in session.current().pending() if r["claim"] == "R5"]
    session.current().discard()
    assert r5 and r5[0]["verdict"] == "pass"
    assert any("has atoms" in part for part in r5[0]["unchecked"])


def r_in_float64(config, sample, streams):
    """The project's procedure, except that r is crafted in float64 (f's parameters and x cast up) and
    reported rounded to the run's dtype, and x^adv = x + r is added in float64 and rounded once: a
    correct implementation whose x^adv is not one addition in the run's dtype."""
    eps, dtype = config.effective_eps(sample.d), sample.X.dtype
    f, seconds_f = run.train_network(config, run.init_networks(config, sample, streams, "f_init"), sample.X,
                                     sample.y, config.lr, config.epochs_f)
    f64 = dataclasses.replace(f, net=as_dtype(f.net, torch.float64))
    y_adv, r64 = run.perturb(config, f64, sample.X.double(), sample.y.double(), streams, eps)
    X_adv, y_adv = scenario_inputs(config.scenario, sample.X.double(), r64).to(dtype), y_adv.to(dtype)
    g, seconds_g = run.train_network(config, run.init_networks(config, sample, streams, "g_init"), X_adv, y_adv,
                                     config.lr_g or config.lr, config.epochs_g)
    return ProcedureOutput(f=f, g=g, y_adv=y_adv, r=r64.to(dtype), X_adv=X_adv, eps=eps, seconds_f=seconds_f,
                           seconds_g=seconds_g)


@pytest.mark.parametrize("setting", ["logistic, b", "random"])
def test_r3_holds_for_r_kept_in_float64(check_with, setting):
    """x^adv = fl(x + r) with r reported as fl(r) is x + r̂ only up to u|x + r| + u|r̂|: one rounding
    bound u|x + r̂| (a single addition in the run's dtype) fails it wherever x + r cancels."""
    cfg = SETTINGS[setting]
    data = run.run_batch(cfg, list(_setting(setting).seeds), procedure=r_in_float64, predict=False)
    X, r, X_adv = (t.double().numpy() for t in (data.X, data.r, data.X_adv))
    u = C.unit_roundoff(cfg.dtype)
    dev = np.abs(X_adv - (X + r))
    assert (dev > u * np.abs(X + r)).mean() > 0.01  # the one-addition bound would fail on this procedure
    expected, tol = C.scenario_input(X, r, "b", u)
    assert (dev <= tol).all()
    r3 = [rec for rec in check_with(r_in_float64, setting) if rec["claim"] == "R3"]
    assert r3 and r3[0]["verdict"] == "pass", r3
