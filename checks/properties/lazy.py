"""L1–L2: the lazy regime (THEORY.md §3), and P2's first link (g ≈ its lazy prediction).

L1: f_t ≈ f_0 + Σ_n Λ_n y_n Φ_m(x_n, z)(x_n·z + 1), with Λ recorded along the actual trajectory. The
relative error is measured against the predicted update (``theory.lazy.lazy_error``), so a network
that never moved, or moved while nothing was predicted, has error 1 and fails; the same for g
(P2's first link), with Λ' and its training set D^adv.
L2: the laziness index κ, computed before training, predicts how many activation patterns flip.
L1 for parameters: each trained block of f (W, b) moved by the displacement that
``theory.lazy.predicted_displacement`` builds from the reported Λ, on the neurons none of whose patterns
on D flipped (there the frozen-pattern premise holds, and the identity is exact up to patterns that
flipped and flipped back). A block the code does not train (b_T = b_0) has error 1; one that moves
without a gradient (weight decay) is off by its drift. L1's bound on f's values cannot see either at
d ≫ 1: the bias carries the "+1" of (x_n·z + 1), a 1/(d + 1) share of the update.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from reporting.analysis import BLOCK_STATISTIC
from theory import lazy
from theory.tolerances import L1_BLOCK_REL_ERR_MAX, L1_REL_ERR_MAX, L2_FLIP_FACTOR, MIN_LAZY_ERROR_PAIRS

from .. import assertions
from ..assertions import tests_claim
from ..pairs import Pair, to_float64
from ..sequential import measured_in_batches
from ..session import current
from ..strategies import Setting


@dataclass(frozen=True)
class LazyErrors:
    """Per pair (aligned with ``seeds``): the relative errors of f and g to their linearisations on the
    test inputs inside L2, None where a pair has no such input or its error is undefined
    (``theory.lazy.lazy_error``: nothing predicted, nothing moved)."""

    f: list
    g: list
    inside: list        # per pair: L2 holds for f on every input
    kappa: list         # per pair: largest κ of f
    seeds: list
    W: list = ()        # per pair: L1's relative error of f's block W on its unflipped neurons (None: none)
    b: list = ()        # the same for the block b
    kept: list = ()     # per pair: the share of f's neurons with no flipped pattern on D

    def __add__(self, other: "LazyErrors") -> "LazyErrors":
        """Both batches' pairs, in the order trained."""
        return LazyErrors(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def _defined(errs: list) -> list:
    return [e for e in errs if e is not None]


def measure_lazy_errors(pairs: list[Pair]) -> LazyErrors:
    return report_lazy_errors(_measure_pairs(pairs))


def lazy_errors_in_batches(setting: Setting) -> LazyErrors:
    """The lazy errors of the setting's pairs, trained in batches while a mean error looks above
    L1_REL_ERR_MAX (``checks.sequential``)."""
    return report_lazy_errors(measured_in_batches(
        setting, _measure_pairs, lambda e: [(_defined(e.f), L1_REL_ERR_MAX), (_defined(e.g), L1_REL_ERR_MAX),
                                            (_defined(e.W), L1_BLOCK_REL_ERR_MAX),
                                            (_defined(e.b), L1_BLOCK_REL_ERR_MAX)]))


def _lazy_error(net, net0, train, gamma, Z):
    """L1's relative error of ``net`` (initially ``net0``) trained on ``train`` (with its Λ), on Z."""
    if not len(Z):
        return None
    lin = lazy.linearized_predictor(net0.W, net0.b, net0.a, gamma, train, Z)
    with torch.no_grad():
        actual, initial = (n(torch.as_tensor(Z)).double().numpy() for n in (net, net0))
    return lazy.lazy_error(actual, lin, initial)


def block_errors(net, net0, train, gamma) -> tuple:
    """L1 for parameters: per block (W, b), ‖Δ − Δ_lazy‖/‖Δ_lazy‖ (``theory.lazy.lazy_error``, capped at 1)
    over the neurons none of whose patterns on the training inputs differ between ``net0`` and ``net``,
    and the share of those neurons; (None, None, 0.0) where every neuron flipped somewhere."""
    X = torch.as_tensor(train.X)
    kept = ~(net0.patterns(X) != net.patterns(X)).any(0).numpy()
    if not kept.any():
        return None, None, 0.0
    dW, db = lazy.predicted_displacement(net0.W, net0.b, net0.a, gamma, train)
    W0, b0, W, b = (to_float64(v)[kept] for v in (net0.W, net0.b, net.W, net.b))
    return (lazy.lazy_error(W.ravel(), (W0 + dW[kept]).ravel(), W0.ravel()),
            lazy.lazy_error(b, b0 + db[kept], b0), float(kept.mean()))


def _measure_pairs(pairs: list[Pair]) -> LazyErrors:
    errs_f, errs_g, blocks = [], [], []
    for p in pairs:
        nz = len(p.Z)
        errs_f.append(_lazy_error(p.f_net, p.f0_net, p.training_set, p.gamma, p.Z[p.width_f.inside[-nz:]]))
        errs_g.append(_lazy_error(p.g_net, p.g0_net, p.adversarial_set, p.gamma, p.Z[p.width_g.inside[-nz:]]))
        blocks.append(block_errors(p.f_net, p.f0_net, p.training_set, p.gamma))
    W, b, kept = (list(v) for v in zip(*blocks)) if blocks else ([], [], [])
    return LazyErrors(errs_f, errs_g, [bool(p.width_f) for p in pairs], [p.kappa_f_max for p in pairs],
                      [p.seed for p in pairs], W, b, kept)


def report_lazy_errors(e: LazyErrors) -> LazyErrors:
    """Hypothesis' note and target for one example's lazy errors (once per example)."""
    def shown(errs):
        return [None if v is None else round(v, 3) for v in errs]

    assertions.explain(f"L1 relative errors f {shown(e.f)} g {shown(e.g)}; blocks W {shown(e.W)} b {shown(e.b)} "
                       f"on the unflipped neurons (shares {shown(e.kept)})")
    if _defined(e.f):
        assertions.steer(float(max(_defined(e.f))), "L1 worst relative error of f")
    return e


def _assert_errors(errs: list, e: LazyErrors, setting: Setting, what: str):
    __tracebackhide__ = True
    statistic = f"‖{what}_t − lin‖/‖lin − {what}_0‖ inside L2"
    coverage = float(np.mean(e.inside)) if e.inside else None
    kept = [(v, s) for v, s in zip(errs, e.seeds) if v is not None]
    values, seeds = [v for v, _ in kept], [s for _, s in kept]
    left = len(errs) - len(kept)
    why = (f"{left} of {len(errs)} pairs left out: no test input inside L2, or nothing predicted and nothing "
           "moved (L1 then holds trivially)")
    if len(values) < MIN_LAZY_ERROR_PAIRS:
        reason = "no coverage" if not values else "too few pairs with a test input inside L2"
        return assertions.observe(value=float(np.mean(values)) if values else None, statistic=statistic,
                                  setting=setting.describe(), seeds=seeds, bound=L1_REL_ERR_MAX,
                                  reason=f"{reason}; {why}" if left else reason, coverage=coverage,
                                  n_pairs=len(values))
    if left:
        assertions.observe(value=left / len(errs), statistic=f"share of pairs left out of: {statistic}",
                           setting=setting.describe(), seeds=[s for v, s in zip(errs, e.seeds) if v is None],
                           reason=why, coverage=coverage, n_pairs=len(errs))
    return assertions.assert_mean_at_most(values, L1_REL_ERR_MAX, setting=setting.describe(), seeds=seeds,
                                          statistic=statistic, coverage=coverage, kappa=e.kappa,
                                          power_target_key="lazy error")


@tests_claim("L1")
def f_tracks_linearization(e: LazyErrors, setting: Setting):
    """L1: inside L2, f_t matches f_0 plus the lazy update built from the recorded Λ, to a mean
    relative error ≤ L1_REL_ERR_MAX."""
    __tracebackhide__ = True
    return _assert_errors(e.f, e, setting, "f")


@tests_claim("L1")
def blocks_track_displacement(e: LazyErrors, setting: Setting):
    """L1 for parameters: on the neurons whose patterns on D did not flip, W_T − W_0 and b_T − b_0 match
    the displacement built from the recorded Λ, to a mean relative error ≤ L1_BLOCK_REL_ERR_MAX. A
    procedure that declares no bias gets the b block recorded as not checked, with the reason."""
    __tracebackhide__ = True
    coverage = float(np.mean(e.kept)) if e.kept else None
    for block, errs in (("W", e.W), ("b", e.b)):
        statistic = f"{BLOCK_STATISTIC}{block}): ‖Δ{block} − Δ{block}_lazy‖/‖Δ{block}_lazy‖ on f's unflipped neurons"
        kept = [(v, s) for v, s in zip(errs, e.seeds) if v is not None]
        values, seeds = [v for v, _ in kept], [s for _, s in kept]
        if block == "b" and not current().capabilities.bias:
            assertions.observe(value=None, statistic=statistic, setting=setting.describe(), seeds=list(e.seeds),
                               reason="not checked: the procedure declares no bias, so the kernel's \"+1\" term "
                                      "(x_n·z + 1) is absent from its setting")
        elif len(values) < MIN_LAZY_ERROR_PAIRS:
            assertions.observe(value=float(np.mean(values)) if values else None, statistic=statistic,
                               setting=setting.describe(), seeds=seeds, bound=L1_BLOCK_REL_ERR_MAX,
                               reason="too few pairs with a neuron whose patterns on D did not flip",
                               coverage=coverage, n_pairs=len(values))
        else:
            assertions.assert_mean_at_most(values, L1_BLOCK_REL_ERR_MAX, setting=setting.describe(), seeds=seeds,
                                           statistic=statistic, coverage=coverage, power_target_key="lazy error")


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
