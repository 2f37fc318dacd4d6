"""Learning-rate schedules: the per-step weights w_j = Σ_{k≥j} η_k β^{k−j} (torch's heavy-ball), the time
t they integrate, Λ from the per-sample losses, and R4 on a procedure that reports its step sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from theory import conformance as C
from theory.prediction import integrated_time


@pytest.mark.parametrize("lr,steps,beta", [(0.1, 0, 0.0), (0.1, 20, 0.0), (0.1, 7, 0.9), (0.05, 60, 0.5)])
def test_constant_schedule_equals_the_constant_formula(lr, steps, beta):
    rates = np.full(steps, lr)
    np.testing.assert_allclose(C.step_weights(rates, steps, beta), C.step_weights(lr, steps, beta), rtol=1e-13)
    assert integrated_time(rates, steps, beta) == pytest.approx(integrated_time(lr, steps, beta), rel=1e-13)


def test_schedule_weights_are_the_displacement_of_torch_sgd():
    """Run torch's SGD on a linear loss (constant gradient per step, one step at a time): θ_T − θ_0 =
    −Σ_j w_j g_j, with w_j from the η_k actually used."""
    rng = np.random.default_rng(0)
    steps, beta = 12, 0.9
    rates = rng.choice([0.1, 0.01, 0.3], size=steps)
    grads = rng.standard_normal(steps)
    theta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=float(rates[0]), momentum=beta)
    for j in range(steps):
        opt.param_groups[0]["lr"] = float(rates[j])
        opt.zero_grad()
        (theta * float(grads[j])).sum().backward()
        opt.step()
    expected = -(C.step_weights(rates, steps, beta) * grads).sum()
    assert float(theta.detach()) == pytest.approx(expected, rel=1e-12)
    # the constant-η formula at the first step size is not it: the schedule matters
    assert abs(-(C.step_weights(rates[0], steps, beta) * grads).sum() - expected) > 1e-3


def test_schedule_of_wrong_length_is_refused():
    with pytest.raises(ValueError, match="lr has shape"):
        C.step_weights(np.full(3, 0.1), 4, 0.9)


def test_loss_weights_from_losses_follow_the_schedule():
    """Λ from recorded logistic losses with a falling schedule equals Σ_j w_j sigmoid(s_j)/N."""
    rng = np.random.default_rng(1)
    steps, n, beta = 8, 5, 0.9
    margins = rng.standard_normal((steps + 1, n))
    rates = 0.1 * 0.5 ** np.arange(steps)
    lam, tol = C.loss_weights_from_losses("logistic", np.logaddexp(margins, 0), rates, beta, 2.0**-53)
    expected = C.step_weights(rates, steps, beta) @ (1 / (1 + np.exp(-margins[:-1]))) / n
    np.testing.assert_allclose(lam, expected, rtol=1e-12)
    assert np.all(tol > 0)


def _research_run(procedure, cfg, seeds=(0,)):
    from perturbation_learning.run import run_batch

    return run_batch(cfg, list(seeds), procedure=procedure)


def _config(**changes):
    from checks.strategies import lazy_config

    cfg = lazy_config(family_name="shifted-gauss", d=8, n=30, m=120, t_f=2.0, t_g=2.0, gamma=0.0, loss="logistic",
                      eps=1.0, scenario="a", targets="random", momentum=0.9)
    return cfg.replace(**changes)


def test_R4_checks_t_against_the_reported_schedule():
    """The research example with a scheduler that reduces at every step (patience 0): its t is far
    from the constant-η formula, and R4 passes against its reported step sizes."""
    from checks import conformance
    from checks.strategies import Setting
    from examples.research_style import make_procedure

    cfg = _config(epochs_f=25, epochs_g=25)
    data = _research_run(make_procedure(patience=0, threshold=1.0), cfg)
    rates = data.f.info["learning_rates_per_seed"][0]
    assert rates[0] == 0.1 and rates[-1] < 0.01          # the schedule was exercised
    assert abs(data.f.t - integrated_time(cfg.lr, cfg.epochs_f, 0.9)) > 1.0
    records = conformance.check_runs(Setting(cfg, (0,)), [(data, 0)], "research")
    assert records["R4"].verdict == "pass"
    assert any("reported learning rates" in part for part in records["R4"].violations)


def test_R4_fails_a_t_summed_at_the_constant_rate_under_a_schedule():
    """Planted bug: the procedure reports its falling step sizes but t from the constant η (what the
    paper's code implies): R4 fails and names the integrated time."""
    from checks import conformance
    from checks.strategies import Setting
    from examples.research_style import make_procedure

    cfg = _config(epochs_f=25, epochs_g=25)
    data = _research_run(make_procedure(patience=0, threshold=1.0), cfg)
    data.f.info["t_per_seed"] = [integrated_time(cfg.lr, cfg.epochs_f, 0.9)]
    with pytest.raises(AssertionError, match="R4.*integrated time of f"):
        conformance.check_runs(Setting(cfg, (0,)), [(data, 0)], "research")


def test_R4_counts_a_schedule_of_the_wrong_length():
    from checks import conformance
    from checks.strategies import Setting
    from examples.research_style import procedure

    cfg = _config()
    data = _research_run(procedure, cfg)
    data.g.info["learning_rates_per_seed"] = [data.g.info["learning_rates_per_seed"][0][:-1]]
    with pytest.raises(AssertionError, match="g reports .* learning rates for T"):
        conformance.check_runs(Setting(cfg, (0,)), [(data, 0)], "research")
