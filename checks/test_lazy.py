"""L1–L2: the lazy regime (THEORY.md §3).

L1: f_t ≈ f_0 + Σ_n Λ_n y_n Φ_m(x_n, z)(x_n·z + 1), with Λ recorded along the actual trajectory.
L2: the laziness index κ, computed before training, predicts how many activation patterns flip.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import lazy

from . import assertions
from .harness import run_pairs
from .strategies import lazy_settings

#: L1 tolerance inside L2: the mean over pairs of ‖f_t − lin‖/‖f_t − f_0‖ on test inputs.
#: THEORY.md L1 measured 7.2% at m = 1000 and 2.4% at m = 4000 with ~3% of patterns flipped;
#: inside L2 at most ~5% flip (κ_max), so 25% leaves a factor ≥ 3 over the measured error and
#: still fails a network that is not linearised at all (relative error ≈ 1).
L1_REL_ERR_MAX = 0.25

#: L2: the measured flip share must not exceed this multiple of the predicted share atan(κ)/π
#: averaged over the training inputs. The prediction models the update Δ as independent of the
#: pre-activation; the factor allows for that approximation, not for a different order in κ.
L2_FLIP_FACTOR = 2.0


def _rel_error(actual, reference, initial):
    den = np.linalg.norm(actual - initial)
    return float(min(np.linalg.norm(actual - reference) / den, 1.0)) if den > 0 else 0.0


@pytest.mark.claim("L1", "P2")
@given(data=st.data())
def test_L1_network_tracks_its_linearization(data):
    """Inside L2, f_t and g_t match f_0 (g_0) plus the lazy update built from the recorded Λ (Λ'),
    to a relative error ≤ L1_REL_ERR_MAX (P2's first link, for g)."""
    setting = data.draw(lazy_settings(), label="setting")
    check = "test_L1_network_tracks_its_linearization"
    pairs = run_pairs(setting, check, ("L1", "P2"))
    errs_f, errs_g, inside = [], [], []
    for p in pairs:
        nz = len(p.Z)
        Z = p.Z[p.width_f.inside[-nz:]]
        if len(Z):
            f0, ft = p.f0_net(_t(Z)).numpy(), p.f(Z)
            lin = lazy.linearized_predictor(p.f0_net.W, p.f0_net.b, p.f0_net.a, p.gamma, p.X, p.y, p.lam_f, Z)
            errs_f.append(_rel_error(ft, lin, f0))
        Zg = p.Z[p.width_g.inside[-nz:]]
        if len(Zg):
            g0, gt = p.g0_net(_t(Zg)).numpy(), p.g(Zg)
            lin_g = lazy.linearized_predictor(p.g0_net.W, p.g0_net.b, p.g0_net.a, p.gamma, p.X_adv, p.y_adv,
                                              p.lam_g, Zg)
            errs_g.append(_rel_error(gt, lin_g, g0))
        inside.append(bool(p.width_f))
    assertions.explain(f"L1 relative errors f {np.round(errs_f, 3).tolist()} g {np.round(errs_g, 3).tolist()}")
    if errs_f:
        assertions.steer(float(max(errs_f)), "L1 worst relative error of f")
    desc = setting.describe()
    seeds = [p.seed for p in pairs]
    for claim, errs, what in (("L1", errs_f, "f"), ("P2", errs_g, "g")):
        if len(errs) >= 2:
            assertions.assert_mean_at_most(claim, check, errs, L1_REL_ERR_MAX, setting=desc, seeds=seeds,
                                           statistic=f"‖{what}_t − lin‖/‖{what}_t − {what}_0‖ inside L2",
                                           coverage=float(np.mean(inside)) if inside else None,
                                           extra={"kappa": [float(p.kappa_f.max()) for p in pairs]})


def _t(Z):
    import torch

    return torch.as_tensor(Z)


@pytest.mark.claim("L2")
@given(data=st.data())
def test_L2_flip_fraction_is_bounded_by_laziness_index(data):
    """The share of activation patterns of f that flip during training is at most L2_FLIP_FACTOR
    times the share atan(κ)/π predicted from κ before training."""
    setting = data.draw(lazy_settings(), label="setting")
    check = "test_L2_flip_fraction_is_bounded_by_laziness_index"
    setting = type(setting)(setting.config.replace(epochs_g=1), setting.seeds)  # only f matters here
    pairs = run_pairs(setting, check, ("L2",))
    if not pairs:
        return
    N = len(pairs[0].X)
    predicted = np.array([float(np.mean(lazy.predicted_flip_fraction(p.kappa_f[:N]))) for p in pairs])
    measured = np.array([p.flip_f for p in pairs])
    assertions.explain(f"L2 flips measured {np.round(measured, 4).tolist()} predicted {np.round(predicted, 4).tolist()}")
    assertions.steer(float(np.max(measured / np.maximum(predicted, 1e-12))), "L2 measured/predicted flips")
    bound = float(min(L2_FLIP_FACTOR * predicted.mean(), 1.0))
    assertions.assert_mean_at_most("L2", check, measured, bound, setting=setting.describe(),
                                   seeds=[p.seed for p in pairs], statistic="flip share of f's patterns",
                                   extra={"predicted_flip": float(predicted.mean()),
                                          "kappa": [float(p.kappa_f.max()) for p in pairs]})
