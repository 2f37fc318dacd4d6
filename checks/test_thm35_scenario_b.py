"""Theorem 3.5, Scenario (b): g trained on x^adv_n = x_n + r_n (THEORY.md §5).

N_b is a random-label kernel regression on the natural data; with flipped targets it is ≈ −f̂ and
opposes the signal, so at small ε the conditions predict that g *disagrees* with f (P4).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .scenario import check_perturbation_learning
from .strategies import lazy_settings


@pytest.mark.claim("P1", "P2", "P4", "C1", "C2", "C3")
@given(data=st.data())
def test_P1_scenario_b_g_agrees_with_f_where_conditions_hold(data):
    """Scenario (b): where L2, C2 and C3 hold, sgn g = sgn f except on a share ≤ 3δ; the chain holds
    link by link; where C2 holds and C3 fails, g disagrees with f."""
    setting = data.draw(lazy_settings(scenario="b"), label="setting")
    check_perturbation_learning(setting, "test_P1_scenario_b_g_agrees_with_f_where_conditions_hold")


@pytest.mark.claim("P4", "P2", "C2", "C3")
@given(data=st.data())
def test_P4_flipped_targets_small_eps_predict_and_show_disagreement(data):
    """Scenario (b), flipped targets, small ε: N_b ≈ −f̂ dominates, C2 ∧ ¬C3 holds, and g learns
    the flipped labels: sgn g ≠ sgn f there except on a share ≤ 3δ."""
    eps = data.draw(st.sampled_from([0.3, 0.1]), label="eps")
    setting = data.draw(lazy_settings(scenario="b", targets="flipped", eps=eps), label="setting")
    check_perturbation_learning(setting, "test_P4_flipped_targets_small_eps_predict_and_show_disagreement")
