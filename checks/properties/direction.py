"""Theorem 3.3 (THEORY.md §4): r_n ∥ y^adv_n (u_n + ξ_n), u_n = Σ_k Λ_k y_k Φ(x_k, x_n) x_k.

Per pair, shares over the training points are taken where L2 holds for f (κ_f(x_n) ≤ κ_max) and,
for D2/D3, where C1 holds (‖u_n‖ > B_ξ); each per-point bound fails with probability ≤ δ over the
initialisation, so every share has expectation ≤ δ and is tested over pairs (``assertions``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from perturbation_learning.attacks import random_direction
from theory import direction
from theory.model import sign_pm1
from theory.prediction import steps_for_time
from theory.tolerances import MIN_C1_COVERAGE, MIN_PAIRS

from .. import assertions
from ..assertions import tests_claim
from ..harness import retrain_f, run_pairs
from ..pairs import DELTA, Pair, share_where
from ..sequential import measured_in_batches
from ..session import current
from ..strategies import Setting, fixed_sizes, pair_seeds


def f_only(setting: Setting) -> Setting:
    """Theorem 3.3 is about f: train g for one step only."""
    return Setting(setting.config.replace(epochs_g=1), setting.seeds)


def _inside_train(p: Pair) -> np.ndarray:
    return p.width_f.inside[: len(p.X)]


@dataclass(frozen=True)
class DirectionPair:
    """One pair's D1–D3 shares over its training points (None: no point to count)."""

    seed: int
    xi_ratio_max: float
    residual_share: float | None      # ‖ξ_n‖ > B_ξ, where L2
    angle_share: float | None         # cos below the D2 bound, where L2 ∧ C1
    sign_share: float | None          # cos ≤ 0, where L2 ∧ C1
    cos_shortfall: float | None       # worst cos − bound where L2 ∧ C1 (steering)
    c1_coverage: float                # share of n with L2 ∧ C1
    counts: tuple = (0, 0)            # training points inside L2, and inside L2 ∧ C1 (the shares' sizes)


def measure_direction(pairs: list[Pair]) -> list[DirectionPair]:
    return report_direction(_measure_pairs(pairs))


def _measure_pairs(pairs: list[Pair]) -> list[DirectionPair]:
    out = []
    for p in pairs:
        inside = _inside_train(p)
        xi = np.linalg.norm(p.xi, axis=1)
        u_norm = np.linalg.norm(p.u, axis=1)
        c1 = inside & (u_norm > p.xi_bound)
        cos = direction.signed_cosine(p.r, p.y_adv, p.u)
        bound = direction.angle_bound(p.xi_bound, u_norm)
        out.append(DirectionPair(
            seed=p.seed, xi_ratio_max=p.xi_ratio_max, residual_share=share_where(inside, xi > p.xi_bound),
            angle_share=share_where(c1, cos < bound.cos), sign_share=share_where(c1, cos <= 0),
            cos_shortfall=float(-np.min(cos[c1] - bound.cos[c1])) if c1.any() else None,
            c1_coverage=float(c1.mean()), counts=(int(inside.sum()), int(c1.sum()))))
    return out


def report_direction(out: list[DirectionPair]) -> list[DirectionPair]:
    """Hypothesis' target and note for one example's observations (once per example)."""
    shortfalls = [o.cos_shortfall for o in out if o.cos_shortfall is not None]
    if shortfalls:
        assertions.steer(max(shortfalls), "D2 worst cos shortfall")
    assertions.explain(f"D1 max ‖ξ‖/σ per pair {[round(o.xi_ratio_max, 3) for o in out]}; "
                       f"C1 coverage {[round(o.c1_coverage, 3) for o in out]}")
    return out


def _coverage(obs: list[DirectionPair]) -> float | None:
    return float(np.mean([o.c1_coverage for o in obs])) if obs else None


def _assert(obs, setting: Setting, field: str, statistic: str, **fields):
    __tracebackhide__ = True
    kept = [o for o in obs if getattr(o, field) is not None]
    where = 0 if field == "residual_share" else 1             # D1 counts L2's points, D2/D3 L2 ∧ C1's
    return assertions.assert_share_of_pairs([getattr(o, field) for o in kept], 1, DELTA, setting=setting.describe(),
                                            seeds=[o.seed for o in kept], statistic=statistic,
                                            min_pairs=MIN_PAIRS, coverage=_coverage(obs),
                                            pair_counts=[o.counts[where] for o in kept], **fields)


@tests_claim("D1")
def residual_within_bound(obs: list[DirectionPair], setting: Setting):
    """D1: ‖ξ_n‖ ≤ B_ξ except on a share ≤ δ of the points inside L2."""
    __tracebackhide__ = True
    return _assert(obs, setting, "residual_share", "share of n with ‖ξ_n‖ > B_ξ",
                   xi_ratio_max=max((o.xi_ratio_max for o in obs), default=None))


@tests_claim("D2")
def cosine_above_bound(obs: list[DirectionPair], setting: Setting):
    """D2: cos(r_n, y^adv_n u_n) ≥ √(1 − B_ξ²/‖u_n‖²) where C1 holds, except on a share ≤ δ."""
    __tracebackhide__ = True
    return _assert(obs, setting, "angle_share", "share of n with cos below the D2 bound")


@tests_claim("D3")
def aligned_with_plus_u(obs: list[DirectionPair], setting: Setting):
    """D3: the alignment is with +y^adv_n u_n (cos > 0) where C1 holds, except on a share ≤ δ."""
    __tracebackhide__ = True
    return _assert(obs, setting, "sign_share", "share of n with cos(r_n, y^adv u_n) ≤ 0")


@tests_claim("C1")
def informative_perturbation_coverage(obs: list[DirectionPair], setting: Setting):
    """C1 on the training points: the share with L2 ∧ ‖u_n‖ > B_ξ (recorded)."""
    cov = _coverage(obs)
    return assertions.observe(value=cov, statistic="share of n with L2 ∧ ‖u_n‖ > B_ξ",
                              setting=setting.describe(), seeds=[o.seed for o in obs], coverage=cov,
                              reason="C1 is a premise, reported as coverage", n_pairs=len(obs))


def _covered(obs: list[DirectionPair], setting: Setting):
    __tracebackhide__ = True
    return assertions.assert_pairs_cover(obs, "c1_coverage", MIN_C1_COVERAGE, setting=setting.describe(),
                                         statistic="share of n with L2 ∧ C1")


@tests_claim("D2")
def lazy_preset_covers_d2(obs: list[DirectionPair], setting: Setting):
    """D2 is evidence, not vacuous: in the lazy preset the mean share of training points where L2 and C1
    hold (where D2 is asserted) is shown above MIN_C1_COVERAGE."""
    __tracebackhide__ = True
    return _covered(obs, setting)


@tests_claim("D3")
def lazy_preset_covers_d3(obs: list[DirectionPair], setting: Setting):
    """D3 is evidence, not vacuous: as for D2 (D3 is asserted on the same points)."""
    __tracebackhide__ = True
    return _covered(obs, setting)


def share_statistics(obs: list[DirectionPair]) -> list[tuple[list, float]]:
    """(per-pair values, bound δ) of D1, D2 and D3: what decides whether another batch is trained."""
    return [([getattr(o, f) for o in obs if getattr(o, f) is not None], DELTA)
            for f in ("residual_share", "angle_share", "sign_share")]


def check_direction(setting: Setting) -> list[DirectionPair]:
    """D1, D2, D3 and C1 on one setting's pairs (f trained, g one step), trained in batches while a
    share looks violated (``checks.sequential``)."""
    __tracebackhide__ = True
    setting = f_only(setting)
    obs = report_direction(measured_in_batches(setting, _measure_pairs, share_statistics))
    residual_within_bound(obs, setting)
    cosine_above_bound(obs, setting)
    aligned_with_plus_u(obs, setting)
    informative_perturbation_coverage(obs, setting)
    return obs


def d4_base_config(family: str, gamma: float = 0.0, momentum: float = 0.0):
    from perturbation_learning.config import Config

    size = fixed_sizes(d=50, n=100, m=2000)
    return Config(dataset=family, d=size["d"], n_train=size["n"], n_test=100, width=size["m"], gamma=gamma,
                  loss="identity", lr=0.1, momentum=momentum, epochs_f=steps_for_time(1.0, 0.1, momentum),
                  epochs_g=1, eps=1.0, eps_mode="absolute", scenario="a")


#: Six values × six pairs give the slope's t-interval 34 degrees of freedom, narrow enough at level
#: 1 − α to tell a falling 1 − cos (measured slope ≈ −0.5 in t) from a flat one.
D4_AXES = (("t", (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)), ("d", (20, 30, 45, 65, 90, 130)))
D4_PAIRS = 6


@tests_claim("D4")
def one_minus_cos_falls(seed: int, family: str, gamma: float = 0.0, momentum: float = 0.0) -> None:
    """D4: while f stays lazy, 1 − cos(r_n, y^adv_n u_n) falls with t: the log-log slope's interval
    (level 1 − α) lies below 0. The slope in d is fitted and reported. Under heavy-ball the steps are
    the fewest that reach each t, and the slope is fitted in the time the procedure reports (under a
    schedule, the time its learning rates integrate)."""
    __tracebackhide__ = True
    base = d4_base_config(family, gamma, momentum)
    seeds_ = pair_seeds(seed, fixed_sizes(pairs=D4_PAIRS)["pairs"])
    for axis, values in D4_AXES:
        xs, ys = [], []
        for v in values:
            cfg = (base.replace(epochs_f=steps_for_time(v, base.lr, momentum)) if axis == "t"
                   else base.replace(d=fixed_sizes(d=v)["d"]))
            for p in run_pairs(Setting(cfg, seeds_)):
                cos = direction.signed_cosine(p.r, p.y_adv, p.u)
                xs.append(p.reported_time("f") if axis == "t" else float(v))
                ys.append(float(np.nanmean(1 - cos)))
        if len(set(xs)) < 2:
            assertions.observe(value=None, statistic=f"log-log slope of 1 − cos in {axis}",
                               setting={"family": family, "gamma": gamma, "momentum": momentum, "axis": axis},
                               seeds=list(seeds_),
                               reason="too few valid pairs for a slope", n_pairs=len(xs))
            continue
        # The t-slope is asserted: its interval's level is a test's, drawn from the budget; the d-slope is
        # only reported, at the level a test would get.
        alpha = assertions.next_level() if axis == "t" else current().levels.peek()
        fit = direction.loglog_slope(np.array(xs), np.maximum(np.array(ys), 1e-12), confidence=1 - alpha)
        assertions.explain(f"D4 slope in {axis}: {fit}")
        desc = {"family": family, "gamma": gamma, "momentum": momentum, "axis": axis, "values": list(values)}
        fitted = dict(slope=fit.slope, slope_ci=tuple(fit.ci), axis=axis)
        statistic = f"log-log slope of 1 − cos in {axis}"
        if axis == "t":
            # A flat or rising 1 − cos (the violation) leaves the interval below 0 with probability
            # ≤ α/2: it is detected at deviation 0 (POWER_TARGETS["D4"]).
            assertions.assert_exact(fit.ci_high < 0, value=fit.slope, bound=0.0,
                                    statistic=statistic + " (CI upper < 0)", setting=desc, seeds=list(seeds_),
                                    detects=0.0, test="t-interval", alpha=alpha, **fitted,
                                    failing=f"the interval's upper end {fit.ci_high:.3g} is not below 0 "
                                            f"(slope {fit.slope:.3g}, level {1 - alpha:.7f})")
        else:
            # The d-slope is weak at these sizes (measured −0.17 to −0.5 with wide intervals; THEORY.md's
            # prototype −0.6 at larger d): reported with its interval, as D4 asks, not asserted.
            assertions.observe(value=fit.slope, bound=0.0, statistic=statistic, setting=desc, seeds=list(seeds_),
                               reason="the d-slope is reported, as THEORY.md D4 asks", n_pairs=len(xs), **fitted)


@tests_claim("D5")
def perturbations_transfer(setting: Setting) -> None:
    """D5: a network f' trained on the same data from an independent initialisation gives
    perturbations within the D5 angle bound of f's, except on a share ≤ 2δ of the points (each
    network's B_ξ fails with probability ≤ δ); f's perturbations fool f' more often than random
    directions do (recorded)."""
    __tracebackhide__ = True
    setting = f_only(setting)
    shares, fool_own, fool_random, seeds_, share_seeds, counts = [], [], [], [], [], []
    for p in run_pairs(setting):
        gen = torch.Generator().manual_seed(p.seed + 7919)
        X = torch.as_tensor(p.X)
        f2 = retrain_f(p, gen)  # the checked procedure, f's initialisation from gen
        if f2.diverged:
            continue
        current().count_pairs(1)
        r2 = f2.r
        bound = direction.transfer_angle_bound(p.xi_bound, np.linalg.norm(p.u, axis=1))
        inside = _inside_train(p) & bound.valid
        cos = direction.signed_cosine(p.r, np.ones(len(p.r)), r2)
        if inside.any():
            shares.append(float((cos[inside] < bound.cos[inside]).mean()))
            share_seeds.append(p.seed)
            counts.append(int(inside.sum()))
        fooled = sign_pm1(f2.net(X + torch.as_tensor(p.r)).numpy()) == p.y_adv
        fooled_rnd = sign_pm1(f2.net(X + random_direction(X, p.eps, generator=gen)).numpy()) == p.y_adv
        fool_own.append(float(fooled.mean()))
        fool_random.append(float(fooled_rnd.mean()))
        seeds_.append(p.seed)
    measured = dict(fooling_own=fool_own, fooling_random=fool_random)
    assertions.assert_share_of_pairs(shares, 2, DELTA, setting=setting.describe(), seeds=share_seeds,
                                     statistic="share of n with cos(r_n, r'_n) below the D5 bound",
                                     min_pairs=MIN_PAIRS, pair_counts=counts, **measured)
    if fool_own:
        assertions.observe(value=float(np.mean(fool_own)), bound=float(np.mean(fool_random)),
                           statistic="fooling rate on f' by f's perturbations (bound: by random directions)",
                           setting=setting.describe(), seeds=seeds_, reason="transfer rate, reported",
                           n_pairs=len(fool_own))
