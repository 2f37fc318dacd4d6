"""Every pair's outcome predicted before g is trained, and the calibration of that prediction.   [P5]

From the data, the drawn targets, ε, γ, Λ of f and Λ' of g only (no network of g), with the
network-free perturbation r̂_n = ε y^adv_n u_n/‖u_n‖ (``params.predicted_perturbation``):

    ĝ(z) = S(z) + N(z)                                   (``conditions.scenario_terms``)
    a_pred = share of fresh z with sgn ĝ(z) = sgn f(z)

and the same on D gives g's predicted accuracy. Mechanism of the collapses [derived, THEORY.md P5]:
in Scenario (a) with small ε, Φ(r_n, z) ≈ Φ(0, z), so N(z) ≈ Φ(0, z) Σ_n Λ'_n y^adv_n; an
imbalance of the drawn targets of order 1/√N shifts ĝ by a nearly constant offset, and where it
outweighs S, g predicts one class everywhere (agreement ≈ 1/2). ``Prediction.reason`` names it.

Λ' of g before g exists: Λ'_n = (1/N)∫ℓ'(−y^adv_n g_τ(x^adv_n))dτ. For the identity loss ℓ' = 1 and
Λ'_n = t'/N exactly. For the logistic loss the prediction uses ℓ'(0)·t'/N = t'/(2N), the value at
initialisation, where the margins are ≈ 0 (``LOSS_WEIGHT_RULES``). A constant Λ' scales S and N
alike, so sgn ĝ, a_pred and the predicted accuracy do not depend on the constant; it enters only
the magnitudes (C2 coverage, L2 of g).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import formulas
from ._backend import to_numpy64
from .conditions import condition_values, scenario_values
from .direction import finite_width_rms_values, residual_bound_value
from .lazy import kernel_values, laziness_values, width_assumption
from .model import sign_pm1
from .params import Perturbation, check_perturbation
from .tolerances import C1_FACTOR, COLLAPSE_AGREEMENT, DEFAULT_DELTA, THEORY_MC_NEURONS
from .validation import (check_array, check_choice, check_consistent_length, check_delta, check_gamma,
                         check_generator, check_positive_int, check_rows, check_scalar)

__all__ = ["COVERAGE_MODES", "LOSS_SLOPE_AT_ZERO", "LOSS_WEIGHT_RULES", "integrated_time", "steps_for_time",
           "predicted_loss_weights", "predict_outcome", "Prediction", "Inside", "collapse_reason",
           "calibration", "Calibration", "p5_tolerance"]

#: When ``predict_outcome`` evaluates the C2 coverage (see its docstring).
COVERAGE_MODES = ("inside-l2", "always", "never")

#: ℓ'(0) of the losses the trainer knows: identity ℓ' ≡ 1; logistic ℓ' = sigmoid, sigmoid(0) = 1/2.
LOSS_SLOPE_AT_ZERO = {"identity": 1.0, "logistic": 0.5}

#: How Λ' of g is taken before g is trained, per loss (quoted in every prediction).
LOSS_WEIGHT_RULES = {
    "identity": "Λ'_n = t'/N (exact: ℓ' = 1)",
    "logistic": "Λ'_n = ℓ'(0)·t'/N = t'/(2N) (g at initialisation, margins ≈ 0)",
}


def integrated_time(lr, steps, momentum=0.0):
    """t = Σ_{j=1..T} η(1 − β^j)/(1 − β) = η/(1 − β)·(T − β(1 − β^T)/(1 − β)); β = 0: t = ηT.   [§1]

    The gradient-flow time that T full-batch steps of size η with heavy-ball momentum β integrate:
    the weight each gradient receives in the displacement, summed (the trainer accumulates the
    same sum step by step). Known before training. Under a schedule (``lr`` the (T,) step sizes
    η_0 … η_{T−1} a procedure reports), t = Σ_j Σ_{k≥j} η_k β^{k−j} (``conformance.step_weights``),
    which is the formula above when every η_k = η.

    Parameters
    ----------
    lr : η > 0, or a (T,) sequence of step sizes ≥ 0; steps : T ≥ 0 (int); momentum : β in [0, 1).

    Returns
    -------
    float.
    """
    steps = int(check_scalar(steps, "steps", (int, np.integer), min_val=0))
    beta = float(check_scalar(momentum, "momentum", min_val=0.0, max_val=1.0, include_boundaries="left"))
    if np.ndim(lr):
        from .conformance import step_weights

        return float(step_weights(lr, steps, beta).sum())
    lr = float(check_scalar(lr, "lr", min_val=0.0, include_boundaries="neither"))
    return float(formulas.integrated_time(lr, steps, beta))


def steps_for_time(t, lr, momentum=0.0):
    """The fewest steps T whose :func:`integrated_time` reaches ``t`` (up to rounding: β = 0 gives
    round(t/η)). Under heavy-ball the first steps integrate less than η/(1 − β) each, so T is not
    t(1 − β)/η.   [§1]

    Parameters
    ----------
    t : time ≥ 0; lr : η > 0; momentum : β in [0, 1).

    Returns
    -------
    int.
    """
    t = float(check_scalar(t, "t", min_val=0.0))
    steps = 0
    while integrated_time(lr, steps, momentum) < t * (1 - 1e-9):
        steps += 1
    return steps


def predicted_loss_weights(loss, t, n):
    """Λ'_n = ℓ'(0)·t/N for every n: the loss weights of a network not yet trained.   [P5, derived]

    Exact for the identity loss; for the logistic loss the value at initialisation (see the
    module docstring: the sign of ĝ does not depend on this constant).

    Parameters
    ----------
    loss : "identity" or "logistic"; t : integrated time ≥ 0 (``integrated_time``); n : N ≥ 1.

    Returns
    -------
    (N,) float64.
    """
    check_choice(loss, "loss", LOSS_SLOPE_AT_ZERO)
    t = float(check_scalar(t, "t", min_val=0.0, note="integrated time"))
    n = check_positive_int(n, "n")
    return np.full(n, LOSS_SLOPE_AT_ZERO[loss] * t / n)


@dataclass(frozen=True)
class Inside:
    """Where the theory behind the prediction applies, evaluated before g is trained.

    L2 for f on D ∪ Z (κ from Λ of f) and for g on D^adv ∪ Z (κ from Λ', with x^adv = r̂); the C2
    coverage on Z, alone and together with L2 for f and g at the same input (the share c of P5);
    None where it was not evaluated (``COVERAGE_MODES``).
    """

    l2_f: bool
    kappa_f_max: float
    share_l2_f: float
    l2_g: bool
    kappa_g_max: float
    share_l2_g: float
    kappa_max: float
    c2_coverage: float | None
    c2_l2_coverage: float | None

    @property
    def l2(self) -> bool:
        return self.l2_f and self.l2_g

    def to_dict(self) -> dict:
        return {"l2": self.l2, "l2_f": self.l2_f, "kappa_f_max": self.kappa_f_max, "share_l2_f": self.share_l2_f,
                "l2_g": self.l2_g, "kappa_g_max": self.kappa_g_max, "share_l2_g": self.share_l2_g,
                "kappa_max": self.kappa_max, "c2_coverage": self.c2_coverage,
                "c2_l2_coverage": self.c2_l2_coverage}


@dataclass(frozen=True)
class Prediction:
    """The predicted outcome of one pair (THEORY.md P5). ``reason`` is set when a collapse is predicted."""

    agreement: float
    acc_g_train: float
    share_signal_dominates: float
    median_abs_signal: float
    median_abs_noise: float
    mean_y_adv: float
    reason: str | None
    inside: Inside
    lam_g_rule: str
    g_hat: np.ndarray = field(repr=False, compare=False)   # ĝ on the fresh inputs Z

    @property
    def collapse(self) -> bool:
        return self.agreement < COLLAPSE_AGREEMENT

    def to_dict(self) -> dict:
        """JSON-ready scalars (ĝ itself stays on the object: P5 reads it from the run)."""
        return {"agreement": self.agreement, "acc_g_train": self.acc_g_train, "collapse": self.collapse,
                "share_signal_dominates": self.share_signal_dominates,
                "median_abs_signal": self.median_abs_signal, "median_abs_noise": self.median_abs_noise,
                "mean_y_adv": self.mean_y_adv, "reason": self.reason, "lam_g_rule": self.lam_g_rule,
                "inside": self.inside.to_dict()}


def collapse_reason(agreement, share_signal_dominates, mean_y_adv, share_signal_disagrees, targets_equal_labels):
    """One line saying why a collapse (agreement < COLLAPSE_AGREEMENT) is predicted; None otherwise.

    Where N outweighs S on most inputs, the label term is the cause: in Scenario (a) a nearly
    constant offset ∝ Σ Λ'_n y^adv_n (THEORY.md P5 mechanism, hence mean y_adv); in Scenario (b) a
    kernel regression on the targets (hence the share of targets equal to the labels: 0% for
    flipped targets, where N ≈ −f̂). Otherwise S itself points away from f on the disagreeing inputs.
    """
    if agreement >= COLLAPSE_AGREEMENT:
        return None
    if share_signal_dominates < 0.5:
        return (f"label term outweighs the signal on {1 - share_signal_dominates:.0%} of inputs "
                f"(mean y_adv = {mean_y_adv:+.3f}; y_adv = y on {targets_equal_labels:.0%} of D)")
    return (f"the signal term has the opposite sign to f on {share_signal_disagrees:.0%} of inputs "
            f"(it dominates the label term on {share_signal_dominates:.0%})")


def predict_outcome(pert, gamma, Z, f_sign=None, *, width, generator, delta=DEFAULT_DELTA, coverage="inside-l2",
                    lam_g_rule="", n_neurons=THEORY_MC_NEURONS):
    """a_pred = share of z ∈ Z with sgn ĝ(z) = sgn f(z), ĝ = S + N at r̂_n = ε y^adv_n u_n/‖u_n‖.   [P5, derived]

    Computed before g is trained: nothing of g's network enters. The accuracy of g on D is predicted
    as the share of n with sgn ĝ(x_n) = y_n. ``share_signal_dominates`` is the share of z with
    |S(z)| > |N(z)|; below 1/2 with a collapse, the label term is the stated reason.

    Parameters
    ----------
    pert : the network-free perturbation (``theory.params.Perturbation.predicted``): f's training set
    with the Λ the trainer recorded, the scenario, the drawn targets y^adv, the directions u_n
    (``predicted_direction``), Λ' of g (``predicted_loss_weights``) and ε.
    gamma ∈ [0, 1).
    Z (n, d) : fresh test inputs.
    f_sign : optional (n,) values of f on Z (only their sign is used); default f̂ (``kernel_predictor``).
    width : m of f and g (for L2 and the finite-width part of B_ξ).
    generator : numpy or torch generator for the Monte Carlo of C2 (B_ξ's finite-width part, V_E).
    delta : failure probability of each bound of C2.
    coverage : when to evaluate the C2 coverage, one of COVERAGE_MODES: "inside-l2" (default) only
    where L2 holds for f and g (outside it the bounds of C2 do not apply and P5 does not use c; the
    Monte Carlo of V_E is the costly part of the prediction), "always" or "never".
    lam_g_rule : how lam_g was chosen, quoted in the result; n_neurons : Monte Carlo size.

    Returns
    -------
    Prediction.
    """
    pert = check_perturbation(pert)
    if not pert.network_free:
        raise ValueError("pert must be the network-free perturbation (Perturbation.predicted): a prediction "
                         "made before g may not read f's measured perturbations")
    check_choice(coverage, "coverage", COVERAGE_MODES)
    gamma = check_gamma(gamma)
    delta = check_delta(delta)
    n_neurons = check_positive_int(n_neurons, "n_neurons")
    width = check_positive_int(width, "width")
    generator = check_generator(generator)
    Z = to_numpy64(check_rows(Z, "Z", pert.train.d))
    if not isinstance(lam_g_rule, str):
        raise TypeError(f"lam_g_rule must be a str, got {type(lam_g_rule).__name__}")
    if f_sign is None:
        f_sign = kernel_values(pert.train, Z, gamma)
    else:
        f_sign = to_numpy64(check_array(f_sign, "f_sign", ndim=1))
        if len(f_sign) != len(Z):
            raise ValueError(f"f_sign has length {len(f_sign)}, must be len(Z) == {len(Z)}")
    f_sign = sign_pm1(f_sign)

    X, y, y_adv = pert.train.X, pert.train.y, pert.y_adv
    nz = len(Z)
    terms = scenario_values(pert, gamma, np.concatenate([Z, X]))
    S, N = terms.signal[:nz], terms.noise[:nz]
    g_hat = terms.g_hat
    agreement = float((sign_pm1(g_hat[:nz]) == f_sign).mean())
    acc_g_train = float((sign_pm1(g_hat[nz:]) == y).mean())
    dominates = np.abs(S) > np.abs(N)
    share_dom = float(dominates.mean())
    share_sig_disagrees = float((sign_pm1(S) != f_sign).mean())
    mean_y_adv = float(y_adv.mean())

    inside = _inside(pert, gamma, Z, width, generator, delta, coverage, n_neurons)
    return Prediction(agreement=agreement, acc_g_train=acc_g_train, share_signal_dominates=share_dom,
                      median_abs_signal=float(np.median(np.abs(S))),
                      median_abs_noise=float(np.median(np.abs(N))), mean_y_adv=mean_y_adv,
                      reason=collapse_reason(agreement, share_dom, mean_y_adv, share_sig_disagrees,
                                             float((y_adv == y).mean())),
                      inside=inside, lam_g_rule=lam_g_rule, g_hat=g_hat[:nz])


def _inside(pert: Perturbation, gamma, Z, width, generator, delta, coverage, n_neurons):
    """L2 for f and (predicted) for g, and the C2 coverage on Z; see ``Inside``."""
    nz = len(Z)
    train, adv = pert.train, pert.adversarial_set
    kappa_f = laziness_values(train, np.concatenate([train.X, Z]), gamma, width)
    kappa_g = laziness_values(adv, np.concatenate([adv.X, Z]), gamma, width)
    wf, wg = width_assumption(kappa_f), width_assumption(kappa_g)
    c2 = c2_l2 = None
    if coverage == "always" or (coverage == "inside-l2" and wf and wg):
        fw = finite_width_rms_values(train, gamma, width, generator, train.X, n_neurons)
        xi_bound = float(residual_bound_value(gamma, train.d, delta, width, 1, np.asarray(float(fw.max()))))
        cond = condition_values(pert, gamma, Z, delta, generator, xi_bound, C1_FACTOR, n_neurons)
        c2 = float(cond.C2.mean())
        c2_l2 = float((cond.C2 & wf.inside[-nz:] & wg.inside[-nz:]).mean())
    return Inside(l2_f=bool(wf), kappa_f_max=wf.value, share_l2_f=wf.share_inside, l2_g=bool(wg),
                  kappa_g_max=wg.value, share_l2_g=wg.share_inside, kappa_max=wf.kappa_max,
                  c2_coverage=c2, c2_l2_coverage=c2_l2)


@dataclass(frozen=True)
class Calibration:
    """Predicted against observed agreement over pairs (THEORY.md P5, outside L2 an observation).

    ``confusion`` counts collapses (agreement < COLLAPSE_AGREEMENT): both, predicted only (false
    alarm), observed only (missed), neither. ``worst`` lists the indices of the largest |error| first.
    """

    n: int
    correlation: float | None
    mae: float
    max_abs_error: float
    confusion: dict
    worst: tuple

    @property
    def collapses_observed(self) -> int:
        return self.confusion["both"] + self.confusion["missed"]

    @property
    def share_collapses_predicted(self) -> float | None:
        obs = self.collapses_observed
        return self.confusion["both"] / obs if obs else None

    @property
    def false_alarms(self) -> int:
        return self.confusion["false_alarm"]

    def to_dict(self) -> dict:
        return {"n": self.n, "correlation": self.correlation, "mae": self.mae,
                "max_abs_error": self.max_abs_error, "confusion": dict(self.confusion),
                "collapses_observed": self.collapses_observed,
                "share_collapses_predicted": self.share_collapses_predicted,
                "false_alarms": self.false_alarms, "worst": list(self.worst)}


def calibration(predicted, observed, *, n_worst=3):
    """Pearson correlation, mean absolute error and the collapse confusion table of a_pred vs a_obs.   [P5]

    The correlation is None when either side is constant (undefined).

    Parameters
    ----------
    predicted, observed : (K,) agreements in [0, 1], one per pair, K ≥ 1.
    n_worst : how many worst-predicted pairs to list.

    Returns
    -------
    Calibration.
    """
    p = to_numpy64(check_array(predicted, "predicted", ndim=1))
    o = to_numpy64(check_array(observed, "observed", ndim=1))
    check_consistent_length(("predicted", p), ("observed", o))
    if len(p) == 0:
        raise ValueError("predicted has length 0, must hold at least one pair")
    for name, v in (("predicted", p), ("observed", o)):
        if v.min() < 0 or v.max() > 1:
            raise ValueError(f"{name} must hold agreements in [0, 1], got range [{v.min()}, {v.max()}]")
    n_worst = check_positive_int(n_worst, "n_worst")
    err = np.abs(p - o)
    corr = None
    if len(p) > 1 and p.std() > 0 and o.std() > 0:
        corr = float(np.corrcoef(p, o)[0, 1])
    pc, oc = p < COLLAPSE_AGREEMENT, o < COLLAPSE_AGREEMENT
    confusion = {"both": int((pc & oc).sum()), "false_alarm": int((pc & ~oc).sum()),
                 "missed": int((~pc & oc).sum()), "neither": int((~pc & ~oc).sum())}
    worst = tuple(int(i) for i in np.argsort(-err, kind="stable")[:n_worst])
    return Calibration(n=len(p), correlation=corr, mae=float(err.mean()), max_abs_error=float(err.max()),
                       confusion=confusion, worst=worst)


def p5_tolerance(c, delta):
    """|a_obs − a_pred| ≤ (1 − c) + 3δ inside L2, c the C2 coverage.   [P5, derived]

    Off the C2 inputs nothing is predicted (share 1 − c); on them sgn g = sgn ĝ except with the
    bounds' failure probabilities (≤ 3δ, as in P1).
    """
    c = float(check_scalar(c, "c", min_val=0.0, max_val=1.0, note="C2 coverage"))
    delta = check_delta(delta)
    return float(formulas.p5_tolerance(c, delta))
