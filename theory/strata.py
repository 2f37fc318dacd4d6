"""The axes a claim ranges over, their strata, and the axes a claim does not cover, with the reason.

A claim is verified only if it is verified on every stratum of every axis it covers: γ = 0 and γ > 0,
both losses, both scenarios, random and flipped targets, plain GD (β = 0) and heavy-ball (β > 0). A bug
confined to one stratum is diluted by the pairs of the others in a test pooled over all of them;
tested per stratum it is not (``reporting.verdicts``). A stratum is read from a record's ``setting``
(``checks.strategies.Setting.describe``); a record that does not name an axis lies in no stratum of it.
"""

from __future__ import annotations

from .tolerances import CONFORMANCE_CLAIMS

#: Axis → its strata, named as in the claim × stratum table.
AXES: dict[str, tuple[str, ...]] = {
    "gamma": ("0", ">0"),
    "loss": ("identity", "logistic"),
    "scenario": ("a", "b"),
    "targets": ("random", "flipped"),
    "momentum": ("0", ">0"),
}
#: Axes whose strata are "0" / ">0" of a number in the setting.
_NUMERIC = ("gamma", "momentum")


def stratum(axis: str, setting: dict | None) -> str | None:
    """The stratum of ``axis`` that a record's ``setting`` lies in; None where it does not name the axis."""
    if axis not in AXES:
        raise ValueError(f"axis == {axis!r}, must be one of {sorted(AXES)}")
    value = (setting or {}).get(axis)
    if value is None:
        return None
    if axis in _NUMERIC:
        return "0" if float(value) == 0 else ">0"
    return value if value in AXES[axis] else None


_KERNEL = "a property of the kernel Φ alone: nothing is trained"
_CONTROL_TARGETS = ("the controls are stated for random targets: with flipped targets, g at ε = 0 in "
                    "Scenario (b) learns −y, which is not chance")
#: Axes a claim does not range over, with the reason. Every other axis of :data:`AXES` takes all its
#: strata among the explicit examples of the claim's checks (``checks.axes``).
AXES_OUTSIDE_CLAIM: dict[str, dict[str, str]] = {
    **{k: {"loss": _KERNEL, "scenario": _KERNEL, "targets": _KERNEL, "momentum": _KERNEL}
       for k in ("K1", "K2", "K3")},
    "D4": {"loss": "the scaling ‖u_n‖ ≈ C t √(d/N) uses Λ_n = t/N, which holds for the identity loss",
           "scenario": "a property of f's perturbations: no g is trained",
           "targets": "1 − cos(r_n, y^adv_n u_n) does not depend on the targets: r_n and y^adv_n u_n "
                      "both carry the factor y^adv_n"},
    "D5": {"loss": "the bound compares both networks with one u_n, i.e. the same Λ in both: Λ_n = t/N "
                   "for every network holds for the identity loss"},
    "P3": {"targets": "the headline is the paper's, for its random targets; with flipped targets g is "
                      "meant to disagree with f in Scenario (b) (P4)",
           "loss": "the paper's headline uses the identity loss; the lazy logistic f is recorded by P1"},
    **{k: {"targets": _CONTROL_TARGETS} for k in ("CTRL-eps0", "CTRL-random", "CTRL-shuffle", "CTRL-untrained")},
}


#: Strata where a claim's conditions cannot select an input, with the reason: there the claim is
#: vacuous by the theory, "not covered" is stated and does not count against it. Every other stratum
#: whose conditions cover too few inputs is not verified (``reporting.verdicts``).
_C3_HOLDS = ("C2 ∧ ¬C3 needs ĝ to oppose f̂ where it beats the noise; {why}, so where C2 holds sgn ĝ = sgn "
             "f̂ (C3 holds) and P4 selects no input (THEORY.md §5's prototype: share predicted to disagree 0)")
CONDITIONS_NEVER_HOLD: dict[str, dict[tuple[str, str], str]] = {
    "P4": {("scenario", "a"): _C3_HOLDS.format(why="in Scenario (a) the label term N_a ≈ Φ(0, z) Σ Λ'_n y^adv_n "
                                                   "is a near-constant offset, not −f̂"),
           ("targets", "random"): _C3_HOLDS.format(why="with random targets N is a random-label regression, "
                                                       "not −f̂")},
}


def conditions_never_hold(claim: str, axis: str, value: str) -> str | None:
    """Why ``claim``'s conditions select no input in the stratum ``axis`` = ``value`` (None: they can)."""
    return CONDITIONS_NEVER_HOLD.get(claim, {}).get((axis, value))


def covered_strata(claim: str) -> list[tuple[str, str]]:
    """The (axis, stratum) cells ``claim`` ranges over: every stratum of every axis not outside it."""
    outside = AXES_OUTSIDE_CLAIM.get(claim, {})
    return [(axis, s) for axis, strata in AXES.items() if axis not in outside for s in strata]


#: Claims whose checks run no procedure (the kernel Φ alone): a procedure's declaration does not reach them.
PROCEDURE_FREE = ("K1", "K2", "K3")
#: Why a claim that rests on THEORY.md's kernel is not checked on a network without bias.
NO_BIAS = ("the procedure's network has no bias (b ≡ 0): the kernel Φ, the lazy predictor and the conditions "
           "of THEORY.md assume b_k ~ N(0, 1)")


def rests_on_bias(claim: str) -> bool:
    """Whether ``claim`` compares a trained network with the kernel of biased neurons (every trained claim
    but the conformance claims R1–R7 and the controls, which hold for any architecture)."""
    return claim not in PROCEDURE_FREE and claim not in CONFORMANCE_CLAIMS and not claim.startswith("CTRL-")


def not_checked_strata(claim: str, excluded: dict[str, str]) -> dict[str, str]:
    """The cells ("axis=value") among the strata ``claim`` covers that a procedure's declaration
    excludes (``excluded``: cell → why, plain data from the run's metadata), with why."""
    if claim in PROCEDURE_FREE:
        return {}
    covered = {f"{axis}={value}" for axis, value in covered_strata(claim)}
    return {cell: why for cell, why in (excluded or {}).items() if cell in covered}
