"""Unit tests of theory.conditions (C1–C3, P1, P2): ĝ = S + N, the bounds B_0, B_E, B_N and the masks."""

import math

import numpy as np
import pytest
import sympy as sp
import torch

from theory import formulas as F
from theory.claims import get_claim
from theory.conditions import (Conditions, ScenarioTerms, adversarial_inputs, bound_B0, bound_BE,
                               bound_BN_hoeffding, evaluate_conditions, label_cancellation,
                               predicted_g, scenario_terms, variance_E)
from theory.direction import predicted_direction, residual_bound
from theory.kernel import phi
from theory.model import leaky_derivative
from theory.lazy import kernel_predictor
from theory.params import Perturbation, TrainingSet, predicted_perturbation
from theory.stats import share_at_most


def init(d, m, rng):
    return rng.standard_normal((m, d)) / math.sqrt(d), rng.standard_normal(m), rng.standard_normal(m) / math.sqrt(m)


def setting(seed=0, N=40, d=6, t=3.0, gamma=0.0):
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    X = rng.standard_normal((N, d)) + 0.5 * y[:, None]
    lam = np.full(N, t / N)
    u = predicted_direction(TrainingSet(X, y, lam), gamma)
    Z = rng.standard_normal((25, d)) + 0.5 * np.where(np.arange(25) % 2 == 0, 1.0, -1.0)[:, None]
    y_adv = rng.permutation(y)
    return rng, X, y, lam, u, Z, y_adv


def pert(scenario, X, y, lam, r, y_adv, u, lam_g, eps):
    """The perturbation of f's training set (X, y, Λ) with r, y^adv, u, Λ' and ε."""
    return Perturbation(TrainingSet(X, y, lam), scenario, r, y_adv, u, lam_g, eps)


# --- the decomposition ----------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", ["a", "b"])
def test_C2_label_cancellation_symbolic(scenario):
    ident = label_cancellation(scenario)
    assert ident.holds and ident.assumption == sp.Eq(F.y_adv**2, 1)
    assert sp.expand(ident.lhs - ident.rhs) != 0            # it needs (y^adv)² = 1


@pytest.mark.parametrize("scenario", ["a", "b"])
@pytest.mark.parametrize("eps", [0.0, 0.3, 5.0])
def test_C2_signal_plus_noise_is_the_lazy_update_of_g(scenario, eps):
    """With r̂_n = ε y^adv u_n/‖u_n‖ (ξ = 0): Σ Λ' y^adv Φ(x^adv, z)(x^adv·z + 1) = S + N exactly."""
    rng, X, y, lam, u, Z, y_adv = setting()
    lam_g = np.full(len(y), 10.0 / len(y))
    r = predicted_perturbation(u, y_adv, eps)
    x_adv = adversarial_inputs(scenario, X, r)
    direct = ((lam_g * y_adv)[:, None] * phi(x_adv, Z, 0.0) * (x_adv @ Z.T + 1)).sum(0)
    terms = scenario_terms(pert(scenario, X, y, lam, r, y_adv, u, lam_g, eps), 0.0, Z)
    assert isinstance(terms, ScenarioTerms)
    np.testing.assert_allclose(terms.signal + terms.noise, direct, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(predicted_g(pert(scenario, X, y, lam, r, y_adv, u, lam_g, eps), 0.0, Z), direct,
                               rtol=1e-10, atol=1e-12)


def test_C2_scenario_terms_match_explicit_sums():
    rng, X, y, lam, u, Z, y_adv = setting(gamma=0.2)
    lam_g = rng.uniform(0, 1, len(y))
    r = rng.standard_normal(X.shape)
    for scenario, x_adv in (("a", r), ("b", X + r)):
        terms = scenario_terms(pert(scenario, X, y, lam, r, y_adv, u, lam_g, 0.7), 0.2, Z)
        K = phi(x_adv, Z, 0.2)
        un = np.linalg.norm(u, axis=1)
        S = sum(0.7 * lam_g[n] * K[n] * (u[n] @ Z.T) / un[n] for n in range(len(y)))
        b = 1.0 if scenario == "a" else X @ Z.T + 1
        Nz = sum(lam_g[n] * y_adv[n] * K[n] * (b if scenario == "a" else b[n]) for n in range(len(y)))
        np.testing.assert_allclose(terms.signal, S, atol=1e-12)
        np.testing.assert_allclose(terms.noise, Nz, atol=1e-12)
        np.testing.assert_allclose(terms.coef, 0.7 * lam_g[:, None] * K / un[:, None], atol=1e-12)
        np.testing.assert_array_equal(terms.x_adv, x_adv)


def test_C2_flipped_targets_scenario_b_noise_is_minus_f_hat():
    """ε → 0, Λ' = Λ, y^adv = −y: N_b = −f̂ (the label noise opposes the signal)."""
    rng, X, y, lam, u, Z, _ = setting()
    terms = scenario_terms(pert("b", X, y, lam, np.zeros_like(X), -y, u, lam, 0.0), 0.0, Z)
    np.testing.assert_allclose(terms.noise, -kernel_predictor(TrainingSet(X, y, lam), Z, 0.0), atol=1e-12)
    assert np.all(terms.signal == 0)


def test_C2_untrained_f_has_no_signal():
    rng, X, y, lam, u, Z, y_adv = setting(t=0.0)
    assert np.all(u == 0)
    r = predicted_perturbation(u, y_adv, 1.0)
    assert np.all(r == 0)
    terms = scenario_terms(pert("a", X, y, lam, rng.standard_normal(X.shape), y_adv, u, lam + 0.1, 1.0), 0.0, Z)
    assert np.all(terms.signal == 0) and np.all(terms.coef == 0)


# --- bounds ------------------------------------------------------------------------------------------

def test_C2_bound_B0_formula_claim_and_coverage():
    rng = np.random.default_rng(1)
    d, m, gamma, delta = 10, 400, 0.3, 0.05
    Z = rng.standard_normal((3, d)) * 2
    B0 = bound_B0(Z, gamma, delta)
    want = math.sqrt(2 * math.log(2 / delta)) * np.sqrt((1 + gamma**2) / 2 * ((Z * Z).sum(1) / d + 1))
    np.testing.assert_allclose(B0, want, rtol=1e-12)
    np.testing.assert_allclose(B0, get_claim("C2").evaluate("B0", zz=(Z * Z).sum(1), d=d, gamma=gamma,
                                                             delta=delta), rtol=1e-12)
    assert isinstance(bound_B0(Z[0], gamma, delta), float)
    g0 = []
    for _ in range(400):
        W, b, a = init(d, m, rng)
        pre = Z @ W.T + b
        g0.append((np.maximum(pre, gamma * pre)) @ a)
    k = int((np.abs(np.array(g0)) > B0).sum())
    assert share_at_most(k, g0.__len__() * len(Z), delta, confidence=0.999), f"C2: |g_0| > B_0 in {k}"


def test_C2_variance_E_matches_simulation_over_readouts():
    """Var over f's initialization of Σ_n c_n(z) ∇f_0(x_n)·z ≈ V_E(z)."""
    rng, X, y, lam, u, Z, y_adv = setting(N=20, d=5)
    Z = Z[:4]
    r = predicted_perturbation(u, y_adv, 2.0)
    terms = scenario_terms(pert("a", X, y, lam, r, y_adv, u, np.full(len(y), 0.5), 2.0), 0.0, Z)
    V = variance_E(X, terms.coef, Z, 0.0, np.random.default_rng(2), n_neurons=100000)
    m, sims = 300, []
    for _ in range(1500):
        W, b, a = init(X.shape[1], m, rng)
        G = (leaky_derivative(X @ W.T + b, 0.0) * a) @ W                 # ∇f_0(x_n), (N, d)
        sims.append((terms.coef * (G @ Z.T)).sum(0))
    np.testing.assert_allclose(np.var(np.array(sims), axis=0), V, rtol=0.15)


def test_C2_bound_BE_formula_and_infinite_without_signal():
    rng, X, y, lam, u, Z, y_adv = setting()
    terms = scenario_terms(pert("a", X, y, lam, predicted_perturbation(u, y_adv, 1.0), y_adv, u, lam, 1.0), 0.0, Z)
    B = residual_bound(0.0, X.shape[1], 0.05)
    BE = bound_BE(X, terms.coef, terms.u_norm, Z, 0.0, 0.05, np.random.default_rng(3), xi_bound=B,
                  n_neurons=2000)
    V = variance_E(X, terms.coef, Z, 0.0, np.random.default_rng(3), n_neurons=2000)
    want = np.sqrt(2 * math.log(2 / 0.05) * V) * (1 + B / terms.u_norm.min())
    np.testing.assert_allclose(BE, want, rtol=1e-12)
    np.testing.assert_allclose(BE, get_claim("C2").evaluate("BE", V_E=V, B_xi=B, u_min=terms.u_norm.min(),
                                                             delta=0.05), rtol=1e-12)
    un = terms.u_norm.copy()
    un[0] = 0.0
    assert np.all(np.isinf(bound_BE(X, terms.coef, un, Z, 0.0, 0.05, np.random.default_rng(3),
                                    xi_bound=B, n_neurons=100)))


@pytest.mark.parametrize("scenario", ["a", "b"])
def test_C2_bound_BN_hoeffding_covers_random_targets(scenario):
    rng, X, y, lam, u, Z, _ = setting(N=30)
    v = u / np.linalg.norm(u, axis=1, keepdims=True)
    eps, delta = 1.5, 0.05
    lam_g = np.full(len(y), 1.0 / len(y))
    nb = bound_BN_hoeffding(scenario, X, v, eps, lam_g, 0.0, Z, delta)
    exceed = 0
    trials = 100
    for _ in range(trials):
        ya = rng.choice([-1.0, 1.0], len(y))
        noise = scenario_terms(pert(scenario, X, y, lam, eps * ya[:, None] * v, ya, u, lam_g, eps), 0.0, Z).noise
        exceed += int((np.abs(noise) > nb.bound).sum())
    assert share_at_most(exceed, trials * len(Z), delta, confidence=0.999)
    zero = bound_BN_hoeffding(scenario, X, v, 0.0, lam_g, 0.0, Z, delta)     # ε = 0: THEORY.md's form
    assert np.all(zero.offset == 0)
    b = 1.0 if scenario == "a" else X @ Z.T + 1
    spec = np.sqrt(2 * math.log(2 / delta) * ((lam_g[:, None] * phi(X * (scenario == "b"), Z, 0.0) * b) ** 2).sum(0))
    np.testing.assert_allclose(zero.bound, spec, rtol=1e-12)


# --- conditions ----------------------------------------------------------------------------------------

def test_C1_C2_C3_masks_follow_margins():
    rng, X, y, lam, u, Z, y_adv = setting(N=100, d=20, t=10.0)
    lam_g = np.full(len(y), 10.0 / len(y))
    r = predicted_perturbation(u, y_adv, 5.0)
    B = residual_bound(0.0, X.shape[1], 0.05)
    res = evaluate_conditions(pert("a", X, y, lam, r, y_adv, u, lam_g, 5.0), 0.0, Z, 0.05, np.random.default_rng(4),
                              xi_bound=B, n_neurons=2000)
    assert isinstance(res, Conditions)
    np.testing.assert_array_equal(res.C2, np.abs(res.g_hat) > res.B0 + res.BE)
    np.testing.assert_array_equal(res.C3, (np.sign(res.f_hat) == np.sign(res.g_hat)) & (np.abs(res.f_hat) > res.B0))
    np.testing.assert_array_equal(res.C1, np.full(len(Z), np.linalg.norm(u, axis=1).min() > B))
    np.testing.assert_array_equal(res.predicted_agree, res.C2 & res.C3)
    assert not np.any(res.predicted_agree & res.predicted_disagree)
    assert np.all(res.predicted_disagree <= (res.C2 & ~res.C3))
    np.testing.assert_allclose(res.g_hat, res.signal + res.noise)
    np.testing.assert_allclose(res.f_hat, kernel_predictor(TrainingSet(X, y, lam), Z, 0.0))
    cov = res.coverage()
    assert set(cov) == {"C1", "C2", "C3", "predicted_agree", "predicted_disagree"}
    assert cov["predicted_agree"] > 0.9, f"C2∧C3 coverage {cov} in an easy lazy setting"


def test_P4_flipped_targets_scenario_b_small_eps_predicts_disagreement():
    rng, X, y, lam, u, Z, _ = setting(N=100, d=20, t=10.0)
    lam_g = lam * 3
    r = predicted_perturbation(u, -y, 0.01)
    B = residual_bound(0.0, X.shape[1], 0.05)
    res = evaluate_conditions(pert("b", X, y, lam, r, -y, u, lam_g, 0.01), 0.0, Z, 0.05, np.random.default_rng(5),
                              xi_bound=B, n_neurons=2000)
    assert res.coverage()["predicted_disagree"] > 0.9 and not res.predicted_agree.any()


def test_CTRL_untrained_f_gives_no_prediction():
    rng, X, y, lam, u, Z, y_adv = setting(t=0.0)
    r = rng.standard_normal(X.shape)
    res = evaluate_conditions(pert("a", X, y, lam, r, y_adv, u, np.full(len(y), 0.1), 1.0), 0.0, Z, 0.05,
                              np.random.default_rng(6), xi_bound=0.7, n_neurons=100)
    assert not res.C2.any() and not res.C1.any() and not res.predicted_agree.any()


def test_conditions_accept_torch_and_reject_bad_inputs():
    rng, X, y, lam, u, Z, y_adv = setting()
    r = predicted_perturbation(u, y_adv, 1.0)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    np.testing.assert_allclose(predicted_g(pert("a", t(X), t(y), t(lam), t(r), t(y_adv), t(u), t(lam), 1.0), 0.0, t(Z)),
                               predicted_g(pert("a", X, y, lam, r, y_adv, u, lam, 1.0), 0.0, Z))
    with pytest.raises(ValueError, match="scenario == 'c', must be one of \\['a', 'b'\\]"):
        scenario_terms(pert("c", X, y, lam, r, y_adv, u, lam, 1.0), 0.0, Z)
    with pytest.raises(ValueError, match="y_adv must contain only labels -1 and \\+1"):
        scenario_terms(pert("a", X, y, lam, r, y_adv * 0, u, lam, 1.0), 0.0, Z)
    with pytest.raises(ValueError, match="lam_g has negative entries"):
        scenario_terms(pert("a", X, y, lam, r, y_adv, u, -lam, 1.0), 0.0, Z)
    with pytest.raises(ValueError, match="eps == -1.0, must be >= 0"):
        scenario_terms(pert("a", X, y, lam, r, y_adv, u, lam, -1.0), 0.0, Z)
    with pytest.raises(ValueError, match="Inconsistent numbers of samples"):
        scenario_terms(pert("a", X, y, lam, r[:-1], y_adv, u, lam, 1.0), 0.0, Z)
    with pytest.raises(ValueError, match="Z has dimension 3 but X has dimension 6"):
        scenario_terms(pert("a", X, y, lam, r, y_adv, u, lam, 1.0), 0.0, np.ones((2, 3)))
    with pytest.raises(ValueError, match="delta == 1.5, must be < 1"):
        bound_B0(Z, 0.0, 1.5)
    with pytest.raises(ValueError, match="coef has shape"):
        variance_E(X, np.ones((3, 3)), Z, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="xi_bound == -1.0, must be >= 0"):
        bound_BE(X, np.ones((len(X), len(Z))), np.ones(len(X)), Z, 0.0, 0.05, np.random.default_rng(0),
                 xi_bound=-1.0)
    with pytest.raises(TypeError, match="generator must be"):
        evaluate_conditions(pert("a", X, y, lam, r, y_adv, u, lam, 1.0), 0.0, Z, 0.05, None, xi_bound=0.7)
    with pytest.raises(TypeError, match="must be a theory.params.Perturbation"):
        scenario_terms((X, r, y_adv), 0.0, Z)
    with pytest.raises(TypeError, match="must be a theory.params.TrainingSet"):
        Perturbation((X, y, lam), "a", r, y_adv, u, lam, 1.0)
