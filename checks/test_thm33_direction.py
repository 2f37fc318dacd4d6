"""Theorem 3.3 (THEORY.md §4): r_n ∥ y^adv_n (u_n + ξ_n), u_n = Σ_k Λ_k y_k Φ(x_k, x_n) x_k.

Per pair, shares over the training points are taken where L2 holds for f (κ_f(x_n) ≤ κ_max) and,
for D2/D3, where C1 holds (‖u_n‖ > B_ξ); each per-point bound fails with probability ≤ δ over the
initialisation, so every share has expectation ≤ δ and is tested over pairs (``assertions``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from perturbation_learning.attacks import one_step_l2
from perturbation_learning.network import init_network
from perturbation_learning.training import train
from theory import direction

from . import assertions
from .harness import DELTA, Pair, run_pairs
from .scenario import MIN_PAIRS
from .strategies import Setting, lazy_settings, seeds


def _f_only(setting: Setting) -> Setting:
    """Theorem 3.3 is about f: train g for one step only."""
    return Setting(setting.config.replace(epochs_g=1), setting.seeds)


def _assert_shares(claim: str, check: str, shares: list, multiple: float, setting: Setting, seeds, statistic,
                   coverage, extra=None) -> None:
    if len(shares) >= MIN_PAIRS:
        assertions.assert_mean_at_most(claim, check, shares, multiple * DELTA, setting=setting.describe(),
                                       seeds=seeds, statistic=statistic, coverage=coverage, extra=extra)
    else:
        assertions.observe(claim, check, value=float(np.mean(shares)) if shares else None,
                           statistic=statistic + " (too few pairs inside L2 ∧ C1)", setting=setting.describe(),
                           seeds=seeds, bound=multiple * DELTA, coverage=coverage, n_pairs=len(shares),
                           extra=extra)


def _inside_train(p: Pair) -> np.ndarray:
    return p.width_f.inside[: len(p.X)]


@pytest.mark.claim("D1", "D2", "D3", "C1")
@given(data=st.data())
def test_D1_D2_D3_perturbation_follows_predicted_direction(data):
    """‖ξ_n‖ ≤ B_ξ (D1); cos(r_n, y^adv_n u_n) ≥ √(1 − B_ξ²/‖u_n‖²) where C1 holds (D2); and the
    alignment is with +y^adv_n u_n (D3); each except on a share ≤ δ of the points."""
    check_direction(_f_only(data.draw(lazy_settings(), label="setting")),
                    "test_D1_D2_D3_perturbation_follows_predicted_direction")


def check_direction(setting: Setting, check: str) -> None:
    """Body of the D1–D3 check, callable on a fixed setting (planted-bug tests use it)."""
    pairs = run_pairs(setting, check, ("D1", "D2", "D3"))
    d1, d2, d3, cov, ratios, seeds_, shortfalls = [], [], [], [], [], [], []
    for p in pairs:
        inside = _inside_train(p)
        xi = np.linalg.norm(p.xi, axis=1)
        u_norm = np.linalg.norm(p.u, axis=1)
        c1 = inside & (u_norm > p.xi_bound)
        cos = direction.signed_cosine(p.r, p.y_adv, p.u)
        bound = direction.angle_bound(p.xi_bound, u_norm)
        ratios.append(float(xi.max() / np.sqrt((1 + p.gamma**2) / 2)))
        if inside.any():
            d1.append(float((xi[inside] > p.xi_bound).mean()))
        if c1.any():
            d2.append(float((cos[c1] < bound.cos[c1]).mean()))
            d3.append(float((cos[c1] <= 0).mean()))
            shortfalls.append(float(-np.min(cos[c1] - bound.cos[c1])))
        cov.append(float(c1.mean()))
        seeds_.append(p.seed)
    if shortfalls:
        assertions.steer(max(shortfalls), "D2 worst cos shortfall")
    assertions.explain(f"D1 max ‖ξ‖/σ per pair {np.round(ratios, 3).tolist()}; C1 coverage {np.round(cov, 3).tolist()}")
    extra = {"xi_norm_ratio_max": float(max(ratios)) if ratios else None}
    coverage = float(np.mean(cov)) if cov else None
    _assert_shares("D1", check, d1, 1, setting, seeds_, "share of n with ‖ξ_n‖ > B_ξ", coverage, extra)
    _assert_shares("D2", check, d2, 1, setting, seeds_, "share of n with cos below the D2 bound", coverage)
    _assert_shares("D3", check, d3, 1, setting, seeds_, "share of n with cos(r_n, y^adv u_n) ≤ 0", coverage)
    assertions.observe("C1", check, value=coverage, statistic="share of n with L2 ∧ ‖u_n‖ > B_ξ",
                       setting=setting.describe(), seeds=seeds_, coverage=coverage, n_pairs=len(cov))


@pytest.mark.claim("D4")
@given(seed=seeds(), family=st.sampled_from(["gauss", "shifted-gauss"]))
def test_D4_one_minus_cos_falls_with_time_and_dimension(seed, family):
    """While f stays lazy, 1 − cos(r_n, y^adv_n u_n) falls with the training time t: the log-log
    slope's confidence interval (level 1 − α) lies below 0. The slope in d is fitted and reported."""
    check = "test_D4_one_minus_cos_falls_with_time_and_dimension"
    base = lazy_settings_base(family)
    # Six values × six pairs give the slope's t-interval 34 degrees of freedom, narrow enough at
    # level 1 − α to tell a falling 1 − cos (measured slope ≈ −0.5 in t) from a flat one.
    seeds_ = tuple(seed * 1000 + i for i in range(6))
    for axis, values in (("t", (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)), ("d", (20, 30, 45, 65, 90, 130))):
        xs, ys = [], []
        for v in values:
            cfg = base.replace(epochs_f=int(round(v / 0.1))) if axis == "t" else base.replace(d=v)
            for p in run_pairs(Setting(cfg, seeds_), check, ("D4",)):
                cos = direction.signed_cosine(p.r, p.y_adv, p.u)
                xs.append(float(v))
                ys.append(float(np.nanmean(1 - cos)))
        if len(set(xs)) < 2:
            continue
        fit = direction.loglog_slope(np.array(xs), np.maximum(np.array(ys), 1e-12), confidence=1 - assertions.ALPHA)
        assertions.explain(f"D4 slope in {axis}: {fit}")
        desc = {"family": family, "axis": axis, "values": list(values)}
        extra = {"loglog_slope": fit.slope, "slope_ci": list(fit.ci), "axis": axis}
        statistic = f"log-log slope of 1 − cos in {axis}"
        if axis == "t":
            assertions.assert_exact("D4", check, fit.ci_high < 0, value=fit.slope, bound=0.0,
                                    statistic=statistic + " (CI upper < 0)", setting=desc, seeds=list(seeds_),
                                    extra=extra)
        else:
            # The d-slope is weak at these sizes (measured −0.17 to −0.5 with wide intervals; THEORY.md's
            # prototype −0.6 at larger d): reported with its interval, as D4 asks, not asserted.
            assertions.observe("D4", check, value=fit.slope, bound=0.0, statistic=statistic, setting=desc,
                               seeds=list(seeds_), n_pairs=len(xs), extra=extra)


def lazy_settings_base(family: str):
    from perturbation_learning.experiment import Config

    return Config(dataset=family, d=50, n_train=100, n_test=100, width=2000, gamma=0.0, loss="identity", lr=0.1,
                  momentum=0.0, epochs_f=10, epochs_g=1, eps=1.0, eps_mode="absolute", scenario="a")


@pytest.mark.claim("D5")
@given(data=st.data())
def test_D5_perturbations_transfer_between_independent_networks(data):
    """Two networks trained on the same data from independent initialisations give perturbations
    within the D5 angle bound of each other, except on a share ≤ 2δ of the points (each network's
    B_ξ fails with probability ≤ δ); f's perturbations fool f' more often than random directions."""
    setting = _f_only(data.draw(lazy_settings(loss="identity"), label="setting"))
    check = "test_D5_perturbations_transfer_between_independent_networks"
    cfg = setting.config
    shares, fool_own, fool_random, seeds_ = [], [], [], []
    for p in run_pairs(setting, check, ("D5",)):
        gen = torch.Generator().manual_seed(p.seed + 7919)
        other = init_network(p.X.shape[1], cfg.width, cfg.gamma, generator=gen, dtype="float64")
        X, y = torch.as_tensor(p.X), torch.as_tensor(p.y)
        f2 = train(other, X, y, loss=cfg.loss, lr=cfg.lr, steps=cfg.epochs_f, momentum=cfg.momentum)
        if f2.diverged.any():
            continue
        assertions.count_pairs(1)
        ya = torch.as_tensor(p.y_adv)
        r2 = one_step_l2(f2.net, X, ya, p.eps).numpy()
        u_norm = np.linalg.norm(p.u, axis=1)
        bound = direction.transfer_angle_bound(p.xi_bound, u_norm)
        inside = _inside_train(p) & bound.valid
        cos = (p.r * r2).sum(1) / np.maximum(np.linalg.norm(p.r, axis=1) * np.linalg.norm(r2, axis=1), 1e-300)
        if inside.any():
            shares.append(float((cos[inside] < bound.cos[inside]).mean()))
        fooled = np.sign(f2.net(X + torch.as_tensor(p.r)).numpy()) == p.y_adv
        rnd = torch.randn(X.shape, generator=gen, dtype=torch.float64)
        rnd = p.eps * rnd / rnd.norm(dim=1, keepdim=True)
        fooled_rnd = np.sign(f2.net(X + rnd).numpy()) == p.y_adv
        fool_own.append(float(fooled.mean()))
        fool_random.append(float(fooled_rnd.mean()))
        seeds_.append(p.seed)
    _assert_shares("D5", check, shares, 2, setting, seeds_, "share of n with cos(r_n, r'_n) below the D5 bound",
                   None, {"fooling_by_f_perturbations": fool_own, "fooling_by_random": fool_random})
    if fool_own:
        assertions.observe("D5", check, value=float(np.mean(fool_own)), bound=float(np.mean(fool_random)),
                           statistic="fooling rate on f' by f's perturbations (bound: by random directions)",
                           setting=setting.describe(), seeds=seeds_, n_pairs=len(fool_own))
