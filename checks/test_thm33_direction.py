"""Theorem 3.3 (THEORY.md §4): the direction of a perturbation. Bodies: ``checks.properties.direction``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .properties import direction as props
from .strategies import lazy_settings, seeds


@pytest.mark.claim("D1", "D2", "D3", "C1")
@given(data=st.data())
def test_D1_D2_D3_perturbation_follows_predicted_direction(data):
    props.check_direction(data.draw(lazy_settings(), label="setting"))


@pytest.mark.claim("D4")
@given(seed=seeds(), family=st.sampled_from(["gauss", "shifted-gauss"]))
def test_D4_one_minus_cos_falls_with_time_and_dimension(seed, family):
    props.one_minus_cos_falls(seed, family)


@pytest.mark.claim("D5")
@given(data=st.data())
def test_D5_perturbations_transfer_between_independent_networks(data):
    props.perturbations_transfer(data.draw(lazy_settings(loss="identity"), label="setting"))
