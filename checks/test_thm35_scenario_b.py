"""Theorem 3.5, Scenario (b): g trained on x^adv_n = x_n + r_n (THEORY.md §5).

N_b is a random-label kernel regression on the natural data; with flipped targets it is ≈ −f̂ and
opposes the signal, so at small ε the conditions predict that g *disagrees* with f (P4).
Bodies: ``checks.properties.scenario``.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from .properties import scenario
from .axes import covering_axes, covering_theorem35
from .strategies import lazy_preset_setting, lazy_settings, seeds
from .test_thm34_scenario_a import ALL_SCENARIO_CLAIMS

#: P4's sharpest test (THEORY.md §5): Scenario (b), flipped targets, small ε.
FLIPPED_SMALL_EPS = dict(scenario="b", targets="flipped", eps=(0.3, 0.1))


@pytest.mark.claim(*ALL_SCENARIO_CLAIMS)
@given(setting=lazy_settings(scenario="b"))
@covering_axes(scenario="b")
@covering_theorem35()
def test_P1_scenario_b_g_agrees_with_f_where_conditions_hold(setting):
    scenario.check_perturbation_learning(setting)


@pytest.mark.claim(*ALL_SCENARIO_CLAIMS)
@given(setting=lazy_settings(**FLIPPED_SMALL_EPS))
@covering_axes(**FLIPPED_SMALL_EPS)
def test_P4_flipped_targets_small_eps_predict_and_show_disagreement(setting):
    """Flipped targets, small ε: N_b ≈ −f̂ dominates, C2 ∧ ¬C3 holds, and g learns the flipped
    labels: sgn g ≠ sgn f there except on a share ≤ 3δ."""
    scenario.check_perturbation_learning(setting)


@pytest.mark.claim(*ALL_SCENARIO_CLAIMS)
@given(seed=seeds())
def test_P4_flipped_preset_has_nontrivial_coverage(seed):
    setting = lazy_preset_setting(seed, scenario="b", targets="flipped", eps=0.3)
    obs = scenario.check_perturbation_learning(setting)
    scenario.flipped_preset_covers_p4(obs, setting)
