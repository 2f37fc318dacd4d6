"""Known deviation signatures of R1–R5: a failing conformance part that matches one names its likely cause.

A conformance failure (``checks.conformance``) says what differs, by how much and where. Many deviations
have a shape that points at one defect: a reported t that is the config's time at another momentum, an
‖r_n‖ of ε√d, a test set that is the training set. :data:`SIGNATURES` is the table of such shapes. Each
entry names the claim and a piece of the part's name it reads, and a small test that, given the checked
pair (``checks.conformance.Checked``) and the failing ``Part``, recomputes the quantity under the
suspected defect (with ``theory``'s formulas) and returns the cause, with its numbers, where the
reported values match it. A match is a suggestion, printed as "likely cause: …" under the failure; the
failure itself does not depend on it. The pair is passed in, never imported: ``checks.conformance``
imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from theory import conformance as C
from theory.model import SCENARIOS
from theory.prediction import integrated_time
from theory.tolerances import ATOM_MAX_LEVELS, CONFORMANCE_ROWS_PER_SET, DIAGNOSIS_RTOL, R5_LEAK_SHARE

from .pairs import double, to_float64

U64 = C.unit_roundoff("float64")
#: Momenta a hard-coded heavy-ball β′ commonly takes (the paper's 0.9, and 0.99, 0.5, plain GD).
COMMON_MOMENTA = (0.9, 0.99, 0.5, 0.0)


@dataclass(frozen=True)
class Signature:
    """A deviation shape: ``claim``'s failing parts whose name contains one of ``parts`` are tested by
    ``test(pair, part, gradient)``, which returns the likely cause or None."""

    name: str
    claim: str
    parts: tuple
    test: Callable


def _close(value, expected) -> bool:
    value, expected = np.asarray(value, float), np.asarray(expected, float)
    return bool(np.all(np.abs(value - expected) <= DIAGNOSIS_RTOL * np.abs(expected)))


def _ratio(part) -> float | None:
    return part.value / part.exact if part.exact and np.isfinite(part.value) else None


def _network(part) -> str:
    return "g" if " of g " in part.name else "f"


def _schedule(p, name):
    cfg = p.cfg
    return (cfg.lr, cfg.epochs_f) if name == "f" else (cfg.lr_g or cfg.lr, cfg.epochs_g)


# ------------------------------------------------------------------ R4: time and Λ

def momentum_used(p, part, gradient):
    """t (or Λ = t/N) booked at another heavy-ball β′ than the config's β."""
    ratio, (lr, steps) = _ratio(part), _schedule(p, _network(part))
    booked = integrated_time(lr, steps, p.cfg.momentum) if steps else 0.0
    if ratio is None or not booked:
        return None
    for beta in (b for b in COMMON_MOMENTA if b != p.cfg.momentum):
        expected = integrated_time(lr, steps, beta) / booked
        if _close(ratio, expected):
            return (f"momentum β′ = {beta:g} was used where the config says β = {p.cfg.momentum:g} (reported/booked "
                    f"= {ratio:.5g} = η Σ_j (1 − β′^(T−j))/(1 − β′) over the config's, T = {steps})")
    return None


def time_in_steps(p, part, gradient):
    """t = T (or its momentum sum at η = 1): steps counted, not η·steps."""
    ratio, (lr, steps) = _ratio(part), _schedule(p, _network(part))
    if ratio is None or lr == 1 or not _close(ratio, 1 / lr):
        return None
    return f"t counts steps, not η·steps (reported/booked = {ratio:.5g} = 1/η, η = {lr:g})"


def lam_scaled_by_n(p, part, gradient):
    """Λ off by the factor N: not divided by N, or divided twice."""
    ratio, n = _ratio(part), len(p.X)
    if ratio is not None and _close(ratio, n):
        return f"Λ not divided by N (reported/expected Λ_n = {ratio:.5g} = N)"
    if ratio is not None and _close(ratio, 1 / n):
        return f"Λ divided by N twice (reported/expected Λ_n = {ratio:.5g} = 1/N, N = {n})"
    return None


# ------------------------------------------------------------------ R2: the attack

def _norm_ratio(p) -> float | None:
    norms = np.linalg.norm(p.r, axis=1)
    norms = norms[norms > 0]
    return float(np.median(norms)) / p.data.eps if len(norms) and p.data.eps else None


def eps_scaled(p, part, gradient):
    """ε (the reported one, or the one r was built with) off by √d: the other eps_mode."""
    d = p.X.shape[1]
    ratio = _ratio(part) if "reported ε" in part.name else _norm_ratio(p)
    if ratio is None or d == 1:
        return None
    for factor, how in ((np.sqrt(d), "ε·√d"), (1 / np.sqrt(d), "ε/√d")):
        if _close(ratio, factor) and (part.name.startswith("the reported ε") or p.cfg.attack != "pgd-linf"):
            return (f"ε was scaled by √d (eps_mode): the config's eps_mode = {p.cfg.eps_mode!r} gives "
                    f"ε = {p.cfg.effective_eps(d):g}, the {'reported ε' if 'reported ε' in part.name else '‖r_n‖'} "
                    f"is {how} (d = {d})")
    return None


def _one_step(p, net, labels, gradient):
    rows = slice(0, CONFORMANCE_ROWS_PER_SET)
    r_star, _ = C.one_step_perturbation(gradient(p.nets[net], p.X[rows]), 0.0, labels[rows], p.data.eps, p.u)
    return p.r[rows], r_star


def _matches(r, r_star, eps) -> bool:
    return bool(np.all(np.linalg.norm(r - r_star, axis=1) <= DIAGNOSIS_RTOL * max(eps, 1e-300)))


def sign_or_label(p, part, gradient):
    """r toward y instead of y^adv, or with its sign flipped (ascending −y^adv f)."""
    r, toward_y = _one_step(p, "f", p.y, gradient)
    rows = slice(0, len(r))
    if _matches(r, toward_y, p.data.eps) and np.any(p.y[rows] != p.y_adv[rows]):
        both = " (with flipped targets, the same as a flipped sign)" if np.all(p.y[rows] != p.y_adv[rows]) else ""
        return f"r built toward y, not y^adv{both}"
    if _matches(r, -toward_y * (p.y[rows] * p.y_adv[rows])[:, None], p.data.eps):
        return "r's sign is flipped: r ascends −y^adv f (an untargeted step, or ℓ's gradient without its minus)"
    return None


def attack_on_initial(p, part, gradient):
    """r crafted on f_0 instead of the trained f."""
    r, on_f0 = _one_step(p, "f_0", p.y_adv, gradient)
    return "r crafted on the initial network f_0, not the trained f" if _matches(r, on_f0, p.data.eps) else None


# ------------------------------------------------------------------ R1: the forward pass

def forward_gamma(p, part, gradient):
    """The returned f equals the formula at γ = 0 (ReLU) where the config says γ > 0."""
    name, _, label = part.name.partition("(")
    label = label.partition(")")[0]
    if name not in p.nets or label not in p.sets:
        return None
    rows = p.sets[label][:CONFORMANCE_ROWS_PER_SET]
    with torch.no_grad():
        values = to_float64(double(p.nets[name])(torch.as_tensor(rows)))
    H, h_err = p.pre(name, label)
    a = p.params[name][2]
    if p.cfg.gamma == 0:
        return None
    exact, tol = C.forward_from_preactivations(H[:len(rows)], h_err[:len(rows)], a, 0.0, p.u + U64)
    if np.all(np.abs(values - exact) <= tol):
        return ("a forward pass that ignores γ (it computes the ReLU): the returned networks equal Σ_k a_k φ(h_k) "
                f"at γ = 0, the config's γ = {p.cfg.gamma:g}")
    return None


# ------------------------------------------------------------------ R3: the scenario

def scenario_swapped(p, part, gradient):
    """x^adv built as the other scenario's input."""
    for other in (s for s in SCENARIOS if s != p.cfg.scenario):
        expected, tol = C.scenario_input(p.X, p.r, other, p.u + U64)
        if np.all(np.abs(p.X_adv - expected) <= tol):
            return f"x^adv built as Scenario ({other})'s input where the config says Scenario ({p.cfg.scenario})"
    return None


# ------------------------------------------------------------------ R5: the data contract

def test_set_leak(p, part, gradient):
    """Test inputs among the training inputs: a leak (many) or a coinciding atom (few, on data with atoms)."""
    train = p.X_adv if "x^adv" in part.name else p.X
    hits = C.identical_rows(p.Z, train)
    if not len(hits):
        return None
    share = len(hits) / len(p.Z)
    if share >= R5_LEAK_SHARE:
        sliced = " (the test set starts with the training set)" if len(p.Z) <= len(train) and \
            np.array_equal(p.Z[:len(hits)], train[:len(hits)]) else ""
        return f"a leak of training inputs into the test set: {len(hits)} of {len(p.Z)} test inputs are training inputs{sliced}"
    levels = len(np.unique(p.X))
    repeats = len(np.unique(p.X, axis=0)) < len(p.X)
    if repeats or levels <= ATOM_MAX_LEVELS:
        evidence = "the training inputs repeat among themselves" if repeats else f"the inputs take {levels} values"
        return (f"a coinciding atom: {len(hits)} of {len(p.Z)} test inputs equal a training input, and {evidence}: "
                "the data's law has atoms (declare the family's `atoms`, and R5 states the part as not checked)")
    return None


#: The table: each signature with the claim and the parts (pieces of their names) it reads.
SIGNATURES = (
    Signature("momentum β′ used", "R4", ("integrated time", "differs from t/N"), momentum_used),
    Signature("t in steps", "R4", ("integrated time", "differs from t/N"), time_in_steps),
    Signature("Λ off by N", "R4", ("differs from t/N", "per-sample losses"), lam_scaled_by_n),
    Signature("ε scaled by √d", "R2", ("reported ε", "r_n differs", "norm differs from ε", "ε-ball"), eps_scaled),
    Signature("r toward y, or sign flipped", "R2", ("r_n differs",), sign_or_label),
    Signature("r crafted on f_0", "R2", ("r_n differs",), attack_on_initial),
    Signature("forward at another γ", "R1", ("differs from Σ_k a_k φ",), forward_gamma),
    Signature("scenario swapped", "R3", ("x^adv differs from the Scenario",), scenario_swapped),
    Signature("test set leak or atom", "R5", ("a test input",), test_set_leak),
)


def diagnose(part, pairs, gradient) -> list[str]:
    """The causes of the signatures ``part`` matches on its own pair (the first of ``pairs`` if none is named)."""
    own = [p for p in pairs if p.seed == part.seed] or list(pairs[:1])
    causes = []
    for sig in SIGNATURES:
        if sig.claim == part.claim and any(piece in part.name for piece in sig.parts):
            for p in own:
                cause = sig.test(p, part, gradient)
                if cause and cause not in causes:
                    causes.append(cause)
    return causes


def likely_causes(parts, pairs, gradient) -> str:
    """'\\n  likely cause: …' for each cause the failing ``parts`` match ('' for none); ``gradient(net, X)``
    is ∇f by autograd of a returned network."""
    causes = []
    for part in parts:
        causes += [c for c in diagnose(part, pairs, gradient) if c not in causes]
    return "".join(f"\n  likely cause: {c}" for c in causes)
