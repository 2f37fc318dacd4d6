"""Theorem 3.5, Scenario (b): g trained on x^adv_n = x_n + r_n (THEORY.md §5).

N_b is a random-label kernel regression on the natural data; with flipped targets it is ≈ −f̂ and
opposes the signal, so at small ε the conditions predict that g *disagrees* with f (P4).
Bodies: ``checks.properties.scenario``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .properties import scenario
from .strategies import lazy_settings
from .test_thm34_scenario_a import ALL_SCENARIO_CLAIMS


@pytest.mark.claim(*ALL_SCENARIO_CLAIMS)
@given(data=st.data())
def test_P1_scenario_b_g_agrees_with_f_where_conditions_hold(data):
    scenario.check_perturbation_learning(data.draw(lazy_settings(scenario="b"), label="setting"))


@pytest.mark.claim(*ALL_SCENARIO_CLAIMS)
@given(data=st.data())
def test_P4_flipped_targets_small_eps_predict_and_show_disagreement(data):
    """Flipped targets, small ε: N_b ≈ −f̂ dominates, C2 ∧ ¬C3 holds, and g learns the flipped
    labels: sgn g ≠ sgn f there except on a share ≤ 3δ."""
    eps = data.draw(st.sampled_from([0.3, 0.1]), label="eps")
    scenario.check_perturbation_learning(data.draw(lazy_settings(scenario="b", targets="flipped", eps=eps),
                                                   label="setting"))
