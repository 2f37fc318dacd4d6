"""Theorem 3.3 (THEORY.md §4): the direction of a perturbation. Bodies: ``checks.properties.direction``."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from .properties import direction as props
from .axes import EXAMPLE_GAMMA, EXAMPLE_MOMENTUM, covering_axes
from .strategies import MOMENTA, lazy_preset_setting, lazy_settings, leaky_slopes, seeds


@pytest.mark.claim("D1", "D2", "D3", "C1")
@given(setting=lazy_settings())
@covering_axes()
def test_D1_D2_D3_perturbation_follows_predicted_direction(setting):
    props.check_direction(setting)


@pytest.mark.claim("D1", "D2", "D3", "C1")
@given(seed=seeds())
def test_D2_D3_lazy_preset_has_nontrivial_coverage(seed):
    setting = lazy_preset_setting(seed)
    obs = props.check_direction(setting)
    props.lazy_preset_covers_d2(obs, setting)
    props.lazy_preset_covers_d3(obs, setting)


@pytest.mark.claim("D4")
@given(seed=seeds(), family=st.sampled_from(["gauss", "shifted-gauss"]), gamma=leaky_slopes(max_gamma=0.5),
       momentum=st.sampled_from(MOMENTA))
@example(seed=1, family="shifted-gauss", gamma=0.0, momentum=0.0)
@example(seed=1, family="shifted-gauss", gamma=EXAMPLE_GAMMA, momentum=EXAMPLE_MOMENTUM)
def test_D4_one_minus_cos_falls_with_time_and_dimension(seed, family, gamma, momentum):
    props.one_minus_cos_falls(seed, family, gamma, momentum)


@pytest.mark.claim("D5")
@given(setting=lazy_settings(loss="identity"))
@covering_axes(loss="identity")
def test_D5_perturbations_transfer_between_independent_networks(setting):
    props.perturbations_transfer(setting)
