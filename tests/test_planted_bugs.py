"""Planted bugs: the check of every claim must FAIL on a deliberately broken procedure, kernel or data.

A check that cannot fail proves nothing. Each :class:`Bug` below is one realistic defect, a one-line
change in the network, the trainer's bookkeeping, the attack, the data the procedure builds, the
kernel or the theory's bounds, planted by monkeypatching. For every claim it targets, its test runs
the claim's property (``checks.properties``) on a fixed setting and asserts that it raises with the
claim ID. ``test_unbroken_procedure_is_not_rejected`` runs the same properties on the same settings
without the bug: nothing is rejected, and the claim is asserted (not merely observed). A bug that acts
only at γ > 0 is also shown inert at γ = 0.

Settings are the ci profile's covering examples (``checks.axes``: shifted Gauss, d = 100, N = 150,
m = 3000, t = t' = 2, ε = 3, 12 pairs) where the claim is asserted there, else the smallest setting of
the claim's own check. Runs are cached per (bug, setting) in this module: each setting is trained once
unbroken and once per bug, and all claims read the same pairs.

C1 is observation-only (``theory.tolerances.OBSERVATION_ONLY``): it has no planted bug.

Bugs the checks do not catch at ci sizes (12 pairs per example, δ = 0.01; corner A at γ = 0.3 unless
said): φ′'s slope γ dropped in the input gradient (D1, D2 shares 0.0; also at γ = 0.5 on corner B); u_n
computed with γ = 0 (D1 0.004); the forward pass with γ = 0 (L1 mean relative error 0.23, bound 0.25; C3
share 0.041, bound 0.01, not rejected: detects 0.10) or without the bias (γ = 0: L1 0.37, C3 0.022); the
training loop with γ = 0 (corner B: L1 0.22). The L1 test over 12 pairs detects a mean relative error of 0.935
only (its bet gains at most 1 + 3·(x − 0.25) per pair). Neither is a test set equal to the training set
(no claim is about fresh inputs), nor, in Scenario (b) with random targets, x^adv_n built from the row
x_{n−1} (the same law as the right one; with flipped targets it is caught, by P4, C2 and P2).

The conformance claims R1–R5 catch the γ-only forward and gradient bugs, the test set equal to the
training set and more before any claim above reads a pair (``tests/test_conformance_planted.py``);
here they are switched off (the ``claims_alone`` fixture) so that each claim's own check is shown failing.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch

import perturbation_learning.attacks as attacks
import perturbation_learning.run as run
import theory.conditions as conditions
import theory.formulas as formulas
import theory.kernel as kernel
from checks import session
from checks.harness import run_pairs, run_results
from checks.properties import controls, direction, headline, lazy, scenario
from checks.properties import kernel as kernel_props
from checks.strategies import Setting
from perturbation_learning.config import Config
from perturbation_learning.network import TwoLayerNet, matmul_per_network
from theory.model import readout
from theory.tolerances import CONFORMANCE_CLAIMS, OBSERVATION_ONLY

pytestmark = pytest.mark.usefixtures("one_thread", "claims_alone")

# ------------------------------------------------------------------ settings

#: The ci covering example "corner A" (``checks.axes``): γ = 0, identity loss, Scenario (a), flipped targets.
CORNER_A = Config(dataset="shifted-gauss", d=100, n_train=150, n_test=400, width=3000, gamma=0.0, loss="identity",
                  lr=0.1, momentum=0.0, epochs_f=20, epochs_g=20, eps=3.0, eps_mode="absolute", scenario="a",
                  targets="flipped")
#: "corner B": γ = 0.3, logistic loss (twice the steps: ℓ'(0) = 1/2), Scenario (b), random targets.
CORNER_B = CORNER_A.replace(gamma=0.3, loss="logistic", epochs_f=40, epochs_g=40, scenario="b", targets="random")
#: P4's example (checks/test_thm35_scenario_b.py): Scenario (b), flipped targets, small ε.
P4_CORNER = CORNER_A.replace(scenario="b", eps=0.3)
#: P3 inside the lazy regime (random targets, identity loss, 32 pairs), at the smallest size where f fits D.
HEADLINE = CORNER_A.replace(d=50, n_train=100, width=1000, targets="random")
#: The controls' covering example, corner A (``checks.axes.control_axis_examples``: 24 pairs per example).
CONTROL = Config(dataset="shifted-gauss", d=20, n_train=100, n_test=500, width=400, gamma=0.0, loss="identity",
                 lr=0.05, momentum=0.0, epochs_f=60, epochs_g=200, eps=10.0, eps_mode="absolute", scenario="a",
                 targets="random")
#: One example's first 24 pairs cannot reject chance: the betting test around 1/2 (two-sided, α/2) gains at
#: most a factor 1.75 per pair (agreement 0.92 in all 24 pairs: p = 9.3e-6 > α/2), and around CHANCE_HIGH =
#: 0.65 at most 1.40 (acc_g 0.92 in 48 pairs: not rejected). The control properties train further batches
#: (``checks.sequential``, up to 3 × 24 pairs) while underpowered; that rejects each control bug below.

SETTINGS = {
    "A": Setting(CORNER_A, tuple(range(12))),
    "B": Setting(CORNER_B, tuple(range(12))),
    "P4": Setting(P4_CORNER, tuple(range(12))),
    "headline": Setting(HEADLINE, tuple(range(32))),
    "control": Setting(CONTROL, tuple(range(1000, 1024))),
}
#: Kernel inputs: the covering examples of checks/test_kernel.py.
K1_PAIR = (np.array([1.0, -2.0, 0.5]), np.array([0.5, 1.0, -1.0]))
K_GAMMA = 0.3

# ------------------------------------------------------------------ runs, cached per (bug, setting)

_CACHE: dict = {}


def _cached(bug: str | None, setting: str, kind: str, compute: Callable):
    """One value per (bug, setting, kind); a new bug evicts the previous bug's runs (tests of one bug
    run one after another), the unbroken runs (bug None) stay for the whole module."""
    key = (bug, setting, kind)
    if key not in _CACHE:
        for old in [k for k in _CACHE if k[0] not in (None, bug)]:
            del _CACHE[old]
        _CACHE[key] = compute()
    return _CACHE[key]


def _pairs(bug, setting, retrain=True):
    if not retrain:  # a bug where pairs are measured (theory's bounds, forward): the unbroken training, afresh
        return [dataclasses.replace(p) for p in _pairs(None, setting)]
    return _cached(bug, setting, "pairs", lambda: run_pairs(SETTINGS[setting]))


def _measured(kind: str, measure: Callable):
    def observations(bug, setting, retrain=True):
        return _cached(bug, setting, kind, lambda: measure(_pairs(bug, setting, retrain)))
    return observations


_direction = _measured("direction", direction.measure_direction)
_scenario = _measured("scenario", scenario.measure_scenario)
_lazy = _measured("lazy", lazy.measure_lazy_errors)


def _on_pairs(prop, observations=None):
    """A check that applies ``prop`` to the cached observations (or pairs) of a setting."""
    def check(bug, setting, retrain=True):
        obs = (observations or _pairs)(bug, setting, retrain)
        prop(obs, SETTINGS[setting])
    return check


def _d4(bug, setting, retrain=True):
    # Only the t axis is asserted (the d axis is recorded): the d axis is left out to halve the time.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(direction, "D4_AXES", tuple(a for a in direction.D4_AXES if a[0] == "t"))
        direction.one_minus_cos_falls(1, "shifted-gauss", 0.0)


def _d5(bug, setting, retrain=True):
    direction.perturbations_transfer(SETTINGS[setting])


def _p3(bug, setting, retrain=True):
    headline.g_learns_from_perturbations(SETTINGS[setting], inside=True)


def _control(claim):
    prop = controls.accuracy_at_chance if claim == "CTRL-untrained" else controls.agreement_at_chance
    change = dict(epochs_f=0) if claim == "CTRL-untrained" else controls.CONTROLS[claim]

    def check(bug, setting, retrain=True):
        s = SETTINGS[setting].with_config(**change)
        prop(s, run_results(s))
    return check


def _gamma(setting: str) -> float:
    """Kernel 'settings' are the γ of the covering examples: "gamma=0" or "gamma>0"."""
    return 0.0 if setting == "gamma=0" else K_GAMMA


def _inputs(n: int) -> np.ndarray:  # the covering examples' seed and d
    return np.random.default_rng(1).standard_normal((n, 5))


#: claim → its check on a named setting (bug, setting, retrain) → None; raises AssertionError "<claim>: …".
CHECKS: dict[str, Callable] = {
    "K1": lambda bug, s, retrain=True: kernel_props.closed_form_matches_quadrature(*K1_PAIR, _gamma(s)),
    "K2": lambda bug, s, retrain=True: kernel_props.range_symmetry_monotonicity_psd(_inputs(10), _gamma(s), 1),
    "K3": lambda bug, s, retrain=True: kernel_props.finite_width_converges_at_rate_half(_inputs(6), _gamma(s), 1),
    "L1": _on_pairs(lazy.f_tracks_linearization, _lazy),
    "L2": _on_pairs(lazy.flips_bounded_by_laziness),
    "D1": _on_pairs(direction.residual_within_bound, _direction),
    "D2": _on_pairs(direction.cosine_above_bound, _direction),
    "D3": _on_pairs(direction.aligned_with_plus_u, _direction),
    "D4": _d4, "D5": _d5,
    "C2": _on_pairs(scenario.noise_within_b0_plus_be, _scenario),
    "C3": _on_pairs(scenario.clean_output_within_b0, _scenario),
    "P1": _on_pairs(scenario.agrees_where_conditions_hold, _scenario),
    "P2": _on_pairs(scenario.chain_holds_link_by_link, _scenario),
    "P3": _p3,
    "P4": _on_pairs(scenario.disagrees_where_c3_fails, _scenario),
    **{c: _control(c) for c in ("CTRL-eps0", "CTRL-random", "CTRL-shuffle", "CTRL-untrained")},
}


def _run_check(claim: str, bug: str | None, setting: str, retrain: bool = True) -> list[dict]:
    """Run ``claim``'s check; returns the records it made for ``claim`` and drops them from the buffer."""
    _drop_evidence()
    try:
        with session.checking(f"planted bug: {bug}" if bug else "unbroken", (claim,)):
            CHECKS[claim](bug, setting, retrain)
    finally:
        made = [r for r in session.current().pending() if r["claim"] == claim]
        _drop_evidence()
    return made


def _drop_evidence() -> None:
    """This module's records are its tests' evidence, not a check run's: the plugin must not carry them
    into the claim verdicts of a session that also runs checks/ (it drains the buffer after each test's
    call, before fixture teardown)."""
    session.current().discard()
    session.current().drain_collapses()


# ------------------------------------------------------------------ the bugs

_ORIGINAL_ONE_STEP = attacks._one_step_l2  # what a run calls (attacks.craft); one_step_l2 validates, then calls it


def _flip_sign(mp):
    """attack: r_n = −ε y^adv_n ∇f/‖∇f‖ (ascends −y^adv f, the untargeted sign)."""
    mp.setattr(attacks, "_one_step_l2", lambda net, X, y_adv, eps: -_ORIGINAL_ONE_STEP(net, X, y_adv, eps))


def _random_directions(mp):
    """attack: r_n a random direction of norm ε (the gradient never used)."""
    mp.setattr(attacks, "_one_step_l2", lambda net, X, y_adv, eps: attacks._random_direction(
        X, eps, torch.Generator().manual_seed(int(X.abs().sum() * 1e3) % 2**31)))


def _grad_without_readout(mp):
    """network: ∇f(x) = Σ_k s_k(x) w_k, the readout a_k left out of the input gradient."""
    mp.setattr(TwoLayerNet, "input_grad", lambda self, X: matmul_per_network(self.slopes(self.preactivations(X)),
                                                                             self.W))


def _forward_without_phi(mp):
    """network: f(x) = Σ_k a_k (w_k·x + b_k), the activation φ left out of the forward pass (the trainer
    has its own forward, so only what is measured changes)."""
    forward = lambda self, X: readout(self.preactivations(X), self.a)  # noqa: E731
    mp.setattr(TwoLayerNet, "forward", forward)
    mp.setattr(TwoLayerNet, "__call__", forward)


def _attack_on_f0(mp):
    """attack: the perturbations of the initial network f_0 (``f.net0`` for ``f.net``)."""
    original = run.perturb
    mp.setattr(run, "perturb", lambda config, f, X, y, streams, eps: original(
        config, dataclasses.replace(f, net=f.net0), X, y, streams, eps))


def _wrap_training(mp, change):
    """Plant a bug in what the trainer returns: ``change(result, X, y, kw)`` → result."""
    original = run.train_in_chunks
    mp.setattr(run, "train_in_chunks", lambda net, X, y, **kw: change(original(net, X, y, **kw), X, y, kw))


def _lam_over_n_twice(mp):
    """trainer, identity loss: Λ divided by N twice (ℓ'/N accumulated, then /N again when stored)."""
    _wrap_training(mp, lambda res, X, y, kw: dataclasses.replace(res, lam=res.lam / X.shape[-2]))


def _lam_identity_formula(mp):
    """trainer, logistic loss: Λ_n = t/N, the identity loss's formula, for every loss."""
    _wrap_training(mp, lambda res, X, y, kw: dataclasses.replace(
        res, lam=torch.full_like(res.lam, res.t / X.shape[-2])))


def _g_on_natural_inputs(mp):
    """procedure: g trained on the natural inputs x_n instead of x^adv_n."""
    original = run.train_in_chunks
    calls = []

    def train(net, X, y, **kw):
        calls.append(X)
        if len(calls) % 2 == 0:  # the second training of a run is g's
            X = calls[-2]
        return original(net, X, y, **kw)

    mp.setattr(run, "train_in_chunks", train)


def _xadv_rows_shifted(mp):
    """data: Scenario (b) builds x^adv_n = x_{n−1} + r_n (rows off by one)."""
    original = run.scenario_inputs
    mp.setattr(run, "scenario_inputs", lambda sc, X, r: original(sc, X.roll(1, dims=-2), r))


def _b0_readout_twice(mp):
    """theory: B_0 with the readout variance 1/m applied a second time (B_0/√m)."""
    original = conditions.b0_values
    mp.setattr(conditions, "b0_values", lambda Z, gamma, delta: original(Z, gamma, delta) / np.sqrt(CORNER_A.width))


def _phi_wrong_gamma(mp):
    """kernel: Φ evaluated at γ + 0.3 (the wrong slope passed on)."""
    original = kernel.phi_closed_form
    mp.setattr(kernel, "phi_closed_form", lambda X, Z, gamma: original(X, Z, min(gamma + 0.3, 0.99)))


def _phi_intercept_gamma(mp):
    """kernel: Φ's intercept (1 + γ)/2 instead of (1 + γ²)/2 (acts only at γ > 0)."""
    original = formulas.phi_intercept
    mp.setattr(formulas, "phi_intercept", lambda gamma: original(gamma) + (gamma - gamma**2) / 2)


def _phi_bias_dropped(mp):
    """kernel: c = x·z/d without the bias's + 1 (the norms keep theirs)."""
    original = kernel._phi_from_moments
    mp.setattr(kernel, "_phi_from_moments", lambda a, b, c, gamma, *, outer: original(a, b, c - 1.0, gamma,
                                                                                       outer=outer))


def _finite_width_no_bias(mp):
    """kernel: Φ_m's patterns s(w_k·x) without the bias b_k."""
    original = kernel.phi_finite_width
    mp.setattr(kernel, "phi_finite_width", lambda W, b, a, X, Z, gamma: original(W, 0 * b, a, X, Z, gamma))


def _eps_zero_unit_step(mp):
    """attack: ε = 0 replaced by a unit step (``eps or 1.0``, a guard against an empty data set)."""
    mp.setattr(attacks, "_one_step_l2", lambda net, X, y_adv, eps: _ORIGINAL_ONE_STEP(net, X, y_adv, eps or 1.0))


def _random_is_one_step(mp):
    """attack dispatch: the "random" control falls through to the one-step attack."""
    original = attacks.craft
    mp.setattr(attacks, "craft", lambda kind, *a: original("l2-one-step" if kind == "random" else kind, *a))


def _shuffle_is_identity(mp):
    """attack: the shuffled control permutes by arange (r_n stays with its own y^adv_n)."""
    mp.setattr(attacks, "_shuffle_rows", lambda r, generator: r)


def _untrained_trains(mp):
    """procedure: 0 steps read as "not given" (``steps or config.epochs_g``): the untrained f is trained."""
    original = run.train_network
    mp.setattr(run, "train_network", lambda config, net, X, y, lr, steps: original(
        config, net, X, y, lr, steps or config.epochs_g))


@dataclass(frozen=True)
class Bug:
    """A planted defect: where it lives, the setting it is shown on, the claims whose checks catch it."""

    name: str
    part: str
    plant: Callable
    setting: str
    claims: tuple
    retrain: bool = True        # False: it acts only where pairs are measured: the unbroken training, measured afresh
    inert_at_gamma0: str | None = None   # the same check at γ = 0, which the bug must not fail

    def __str__(self):
        return self.name


BUGS = (
    Bug("attack sign flipped", "attack", _flip_sign, "A", ("D3", "D2", "C2", "P1", "P2")),
    Bug("random directions", "attack", _random_directions, "headline", ("P3",)),
    Bug("∇f without a_k", "network: input gradient", _grad_without_readout, "A", ("D1", "D2", "P1")),
    Bug("forward without φ", "network: forward pass", _forward_without_phi, "A", ("C3",), retrain=False),
    Bug("attack on f_0", "attack", _attack_on_f0, "A", ("D5",)),
    Bug("attack on f_0 (D4)", "attack", _attack_on_f0, "D4", ("D4",)),
    Bug("Λ divided by N twice", "trainer: Λ, identity loss", _lam_over_n_twice, "A", ("L1", "L2")),
    Bug("Λ = t/N, logistic", "trainer: Λ, logistic loss", _lam_identity_formula, "B", ("D1", "C3", "C2")),
    Bug("g on natural inputs", "procedure: g's data", _g_on_natural_inputs, "headline", ("P3",)),
    Bug("x^adv rows shifted", "data: Scenario (b) x^adv", _xadv_rows_shifted, "P4", ("P4", "C2", "P2")),
    Bug("B_0 readout twice", "theory: B_0", _b0_readout_twice, "A", ("C3",), retrain=False),
    Bug("Φ at the wrong γ", "kernel", _phi_wrong_gamma, "gamma=0", ("K1",)),
    Bug("Φ intercept (1+γ)/2", "kernel (γ > 0 only)", _phi_intercept_gamma, "gamma>0", ("K1",),
        inert_at_gamma0="gamma=0"),
    Bug("Φ bias dropped", "kernel", _phi_bias_dropped, "gamma>0", ("K2",)),
    Bug("Φ_m bias dropped", "kernel: finite width", _finite_width_no_bias, "gamma>0", ("K3",)),
    Bug("ε = 0 as unit step", "attack", _eps_zero_unit_step, "control", ("CTRL-eps0",)),
    Bug("random control is one-step", "attack dispatch", _random_is_one_step, "control", ("CTRL-random",)),
    Bug("shuffle is identity", "attack", _shuffle_is_identity, "control", ("CTRL-shuffle",)),
    Bug("0 steps trains f", "procedure: steps", _untrained_trains, "control", ("CTRL-untrained",)),
)
SETTINGS["D4"] = None  # D4 builds its own settings (checks.properties.direction.d4_base_config)

_CASES = [(bug, claim) for bug in BUGS for claim in bug.claims]


def test_every_claim_has_a_planted_bug_or_is_observation_only():
    from theory.claims import CLAIMS

    caught = {claim for _, claim in _CASES}
    # P5's planted bugs: tests/test_p5_planted.py; R1–R5's: tests/test_conformance_planted.py.
    missing = set(CLAIMS) - caught - set(OBSERVATION_ONLY) - {"P5"} - set(CONFORMANCE_CLAIMS)
    assert not missing, f"claims without a planted bug: {sorted(missing)}"


def test_c1_is_observation_only_with_a_reason():
    """C1 is a premise (the points where D2 and D3 are asserted), not a prediction: nothing to plant."""
    assert OBSERVATION_ONLY.get("C1")


@pytest.mark.parametrize("claim, setting", sorted({(c, b.setting) for b, c in _CASES}
                                                  | {(b.claims[0], b.inert_at_gamma0) for b in BUGS
                                                     if b.inert_at_gamma0}))
def test_unbroken_procedure_is_not_rejected(claim, setting):
    recs = _run_check(claim, None, setting)
    verdicts = [r["verdict"] for r in recs]
    assert "fail" not in verdicts
    assert any(r["inside"] and r["verdict"] in ("pass", "underpowered") for r in recs), \
        f"{claim} was not asserted on setting {setting}: verdicts {verdicts}"


@pytest.mark.parametrize("bug, claim", _CASES, ids=[f"{b.name} -> {c}" for b, c in _CASES])
def test_planted_bug_is_caught(bug, claim):
    if not bug.retrain:
        _pairs(None, bug.setting)  # the unbroken training, before the bug is planted
        _drop_evidence()
    with pytest.MonkeyPatch.context() as mp:
        bug.plant(mp)
        with pytest.raises(AssertionError, match=rf"^{re.escape(claim)}: "):
            _run_check(claim, bug.name, bug.setting, bug.retrain)


@pytest.mark.parametrize("bug", [b for b in BUGS if b.inert_at_gamma0], ids=str)
def test_gamma_only_bug_is_inert_at_gamma_zero(bug):
    """A bug that acts only at γ > 0 passes the same check at γ = 0: only the γ > 0 examples catch it."""
    with pytest.MonkeyPatch.context() as mp:
        bug.plant(mp)
        recs = _run_check(bug.claims[0], bug.name, bug.inert_at_gamma0, bug.retrain)
    assert recs and all(r["verdict"] == "pass" for r in recs)


def test_labels_not_pm1_stop_the_run_before_any_claim(monkeypatch):
    """data: labels in {0, 1} instead of ±1 (a loader that forgets 0 → −1). No claim sees such a run: it
    stops with a ValueError that names y."""
    original = run.draw_data
    monkeypatch.setattr(run, "draw_data", lambda config, streams: (lambda X, y, Z, yz: (X, (y + 1) / 2, Z, yz))(
        *original(config, streams)))
    small = CONTROL.replace(n_test=100, width=50, epochs_f=2, epochs_g=2)
    with pytest.raises(ValueError, match=r"\by\b.*-1 and \+1"):
        run.run_batch(small, [0])


@pytest.mark.parametrize("q, caught", [(0.02, False), (0.25, True)])
def test_p1_catches_a_g_flipped_on_a_share_q_beyond_its_stated_power(monkeypatch, q, caught):
    """sgn g flipped on a seeded random share q of the test inputs: P1's true mean is ≈ q on every pair. At
    δ = 0.01 its record states detects 0.84 over 12 pairs (bound 3δ = 0.03): the violation it is sure to
    catch however unevenly it falls on the pairs (CV up to 3, ``theory.power``). One that falls evenly, as
    here, is caught far below it: q = 0.25 is rejected, q = 0.02 is not. Measured over 10 × 12 pairs of
    corner A at α = 2e-6: rejected 10/10 at q ≥ 0.16, 9/10 at 0.14, 0/10 at q ≤ 0.12."""
    from checks.pairs import Pair

    original = Pair.g

    def g(self, Z=None):
        v = original(self, Z)
        return np.where(np.random.default_rng(self.seed).random(len(v)) < q, -v, v) if Z is None else v

    monkeypatch.setattr(Pair, "g", g)
    _drop_evidence()
    try:
        with session.checking(f"planted bug: g flipped on a share {q}", ("P1",)):
            obs = scenario.measure_scenario(_pairs(None, "A", retrain=False))
            if caught:
                with pytest.raises(AssertionError, match="^P1: "):
                    scenario.agrees_where_conditions_hold(obs, SETTINGS["A"])
            else:
                scenario.agrees_where_conditions_hold(obs, SETTINGS["A"])
        (rec,) = [r for r in session.current().pending() if r["claim"] == "P1"]
    finally:
        _drop_evidence()
    assert rec["detects"] > 0.25 and abs(rec["value"] - q) < 0.05
