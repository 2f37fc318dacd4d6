"""L1–L2: the lazy regime (THEORY.md §3), and P2's first link (g ≈ its lazy prediction).

L1: f_t ≈ f_0 + Σ_n Λ_n y_n Φ_m(x_n, z)(x_n·z + 1), with Λ recorded along the actual trajectory.
L2: the laziness index κ, computed before training, predicts how many activation patterns flip.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from theory import lazy
from theory.tolerances import L1_REL_ERR_MAX, L2_FLIP_FACTOR, MIN_LAZY_ERROR_PAIRS

from .. import assertions
from ..assertions import tests_claim
from ..harness import Pair
from ..sequential import measured_in_batches
from ..strategies import Setting


def _rel_error(actual, reference, initial) -> float:
    den = np.linalg.norm(actual - initial)
    return float(min(np.linalg.norm(actual - reference) / den, 1.0)) if den > 0 else 0.0


@dataclass(frozen=True)
class LazyErrors:
    """Relative errors to the linearisation on the test inputs inside L2, per pair that has one."""

    f: list
    g: list
    inside: list        # per pair: L2 holds for f on every input
    kappa: list         # per pair: largest κ of f
    seeds: list

    def __add__(self, other: "LazyErrors") -> "LazyErrors":
        """Both batches' pairs, in the order trained."""
        return LazyErrors(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def measure_lazy_errors(pairs: list[Pair]) -> LazyErrors:
    return report_lazy_errors(_measure_pairs(pairs))


def lazy_errors_in_batches(setting: Setting) -> LazyErrors:
    """The lazy errors of the setting's pairs, trained in batches while a mean error looks above
    L1_REL_ERR_MAX (``checks.sequential``)."""
    return report_lazy_errors(measured_in_batches(
        setting, _measure_pairs, lambda e: [(e.f, L1_REL_ERR_MAX), (e.g, L1_REL_ERR_MAX)]))


def _measure_pairs(pairs: list[Pair]) -> LazyErrors:
    errs_f, errs_g = [], []
    for p in pairs:
        nz = len(p.Z)
        Z = p.Z[p.width_f.inside[-nz:]]
        if len(Z):
            lin = lazy.linearized_predictor(p.f0_net.W, p.f0_net.b, p.f0_net.a, p.gamma, p.X, p.y, p.lam_f, Z)
            errs_f.append(_rel_error(p.f(Z), lin, p.f0_net(torch.as_tensor(Z)).numpy()))
        Zg = p.Z[p.width_g.inside[-nz:]]
        if len(Zg):
            lin_g = lazy.linearized_predictor(p.g0_net.W, p.g0_net.b, p.g0_net.a, p.gamma, p.X_adv, p.y_adv,
                                              p.lam_g, Zg)
            errs_g.append(_rel_error(p.g(Zg), lin_g, p.g0_net(torch.as_tensor(Zg)).numpy()))
    return LazyErrors(errs_f, errs_g, [bool(p.width_f) for p in pairs], [p.kappa_f_max for p in pairs],
                      [p.seed for p in pairs])


def report_lazy_errors(e: LazyErrors) -> LazyErrors:
    """Hypothesis' note and target for one example's lazy errors (once per example)."""
    assertions.explain(f"L1 relative errors f {np.round(e.f, 3).tolist()} g {np.round(e.g, 3).tolist()}")
    if e.f:
        assertions.steer(float(max(e.f)), "L1 worst relative error of f")
    return e


def _assert_errors(errs: list, e: LazyErrors, setting: Setting, what: str):
    __tracebackhide__ = True
    statistic = f"‖{what}_t − lin‖/‖{what}_t − {what}_0‖ inside L2"
    coverage = float(np.mean(e.inside)) if e.inside else None
    if len(errs) < MIN_LAZY_ERROR_PAIRS:
        return assertions.observe(value=float(np.mean(errs)) if errs else None, statistic=statistic,
                                  setting=setting.describe(), seeds=e.seeds, bound=L1_REL_ERR_MAX,
                                  reason="no coverage" if not errs else "too few pairs with a test input inside L2",
                                  coverage=coverage, n_pairs=len(errs))
    return assertions.assert_mean_at_most(errs, L1_REL_ERR_MAX, setting=setting.describe(), seeds=e.seeds,
                                          statistic=statistic, coverage=coverage, kappa=e.kappa,
                                          power_target_key="lazy error")


@tests_claim("L1")
def f_tracks_linearization(e: LazyErrors, setting: Setting):
    """L1: inside L2, f_t matches f_0 plus the lazy update built from the recorded Λ, to a mean
    relative error ≤ L1_REL_ERR_MAX."""
    __tracebackhide__ = True
    return _assert_errors(e.f, e, setting, "f")


@tests_claim("P2")
def g_tracks_linearization(e: LazyErrors, setting: Setting):
    """P2's first link: inside L2, g_t matches g_0 plus its lazy update built from Λ'."""
    __tracebackhide__ = True
    return _assert_errors(e.g, e, setting, "g")


@tests_claim("L2")
def flips_bounded_by_laziness(pairs: list[Pair], setting: Setting):
    """L2: the share of f's activation patterns that flip is at most L2_FLIP_FACTOR times the share
    atan(κ)/π predicted from κ before training."""
    __tracebackhide__ = True
    if not pairs:
        return assertions.observe(value=None, statistic="flip share of f's patterns", setting=setting.describe(),
                                  seeds=list(setting.seeds), reason="no valid pairs (all diverged)")
    N = len(pairs[0].X)

    def flips(ps):
        predicted = np.array([float(np.mean(lazy.predicted_flip_fraction(p.kappa_f[:N]))) for p in ps])
        return [([p.flip_f for p in ps], float(min(L2_FLIP_FACTOR * predicted.mean(), 1.0)))]

    # More batches of pairs while the flip share looks above its bound (checks.sequential).
    pairs = measured_in_batches(setting, list, flips, first=pairs)
    predicted = np.array([float(np.mean(lazy.predicted_flip_fraction(p.kappa_f[:N]))) for p in pairs])
    measured = np.array([p.flip_f for p in pairs])
    assertions.explain(f"L2 flips measured {np.round(measured, 4).tolist()} "
                       f"predicted {np.round(predicted, 4).tolist()}")
    assertions.steer(float(np.max(measured / np.maximum(predicted, 1e-12))), "L2 measured/predicted flips")
    bound = float(min(L2_FLIP_FACTOR * predicted.mean(), 1.0))
    return assertions.assert_mean_at_most(measured, bound, setting=setting.describe(), seeds=[p.seed for p in pairs],
                                          statistic="flip share of f's patterns",
                                          predicted_flip=float(predicted.mean()),
                                          kappa=[p.kappa_f_max for p in pairs])
