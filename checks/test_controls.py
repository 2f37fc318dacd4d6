"""Negative controls (THEORY.md §6): with the information removed, the effect must vanish.

Each control replaces one ingredient of perturbation learning and asserts that g is at chance:
its mean agreement with f over independent pairs lies in [CHANCE_LOW, CHANCE_HIGH]. Each pair is an
independent trial (own data, initialisations, targets); per-pair agreement is a share in [0, 1],
so the Chernoff–Hoeffding bound of ``assertions`` applies. A control fails only if the data reject
"mean agreement within the chance band" at level α; a planted-bug test in tests/ shows that the
real perturbations (agreement ≈ 1 in these lazy settings) do make it fail.

Targets are random: with flipped targets, g in Scenario (b) at ε = 0 learns −y, which is not chance.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, note, target
from hypothesis import strategies as st

from . import assertions
from .harness import run_results
from .strategies import Setting, control_settings

#: The chance band for a control's mean agreement. Under every control g is independent of f
#: (or, for ε = 0 in Scenario (a), constant), so E[agreement] = 1/2 by the symmetry a ↦ −a of g's
#: readout; the band leaves room for the Chernoff test's finite-sample slack only.
CHANCE_LOW, CHANCE_HIGH = 0.35, 0.65

CONTROLS = {
    "CTRL-eps0": dict(eps=0.0),
    "CTRL-random": dict(attack="random"),
    "CTRL-shuffle": dict(attack="shuffled"),
}


def assert_at_chance(claim: str, check: str, setting: Setting, results: list[dict], statistic: str,
                     key: str) -> None:
    if not results:
        return
    values = np.array([r[key] for r in results])
    seeds = [r["config"]["seed"] for r in results]
    note(f"{claim}: {statistic} per pair {np.round(values, 3).tolist()}")
    target(float(abs(values.mean() - 0.5)), label=f"{claim} distance from chance")
    desc = setting.describe()
    assertions.assert_mean_at_most(claim, check, values, CHANCE_HIGH, setting=desc, seeds=seeds,
                                   statistic=statistic)
    assertions.assert_mean_at_least(claim, check, values, CHANCE_LOW, setting=desc, seeds=seeds,
                                    statistic=statistic)


@pytest.mark.parametrize("claim", [pytest.param(c, marks=pytest.mark.claim(c)) for c in sorted(CONTROLS)])
@given(data=st.data())
def test_CTRL_perturbation_controls_put_g_at_chance(claim, data):
    """With ε = 0, random directions, or perturbations shuffled across samples, g agrees with f
    only at chance level."""
    setting = data.draw(control_settings(**CONTROLS[claim]), label="setting")
    event(f"{claim} scenario={setting.config.scenario}")
    check = "test_CTRL_perturbation_controls_put_g_at_chance"
    assert_at_chance(claim, check, setting, run_results(setting, check, (claim,)), "agreement", "agreement")


@pytest.mark.claim("CTRL-untrained")
@given(data=st.data())
def test_CTRL_untrained_f_gives_g_no_data(data):
    """With an untrained f (t = 0, so u_n = 0), the perturbations carry no information about D:
    g classifies D at chance.

    Agreement with f is not at chance here and is only recorded: f = f_0, and r_n ∝ ∇f_0(x_n)
    carries f_0's own linear part, which g learns. The claim is about the data, so the check asserts
    g's accuracy on D.
    """
    setting = data.draw(control_settings(epochs_f=0), label="setting")
    results = run_results(setting, "test_CTRL_untrained_f_gives_g_no_data", ("CTRL-untrained",))
    if results:
        agreement = np.array([r["agreement"] for r in results])
        assertions.observe("CTRL-untrained", "test_CTRL_untrained_f_gives_g_no_data", value=float(agreement.mean()),
                           statistic="agreement with f_0 (not asserted)", setting=setting.describe(),
                           seeds=[r["config"]["seed"] for r in results], n_pairs=len(results))
    assert_at_chance("CTRL-untrained", "test_CTRL_untrained_f_gives_g_no_data", setting, results,
                     "acc_g_train", "acc_g_train")
