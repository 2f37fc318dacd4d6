"""L1–L2: the lazy regime (THEORY.md §3). Bodies: ``checks.properties.lazy``."""

from __future__ import annotations

import pytest
from hypothesis import given

from .harness import run_pairs
from .properties import lazy as props
from .properties.direction import f_only
from .axes import covering_axes
from .strategies import lazy_settings


@pytest.mark.claim("L1", "P2")
@given(setting=lazy_settings())
@covering_axes()
def test_L1_network_tracks_its_linearization(setting):
    errors = props.lazy_errors_in_batches(setting)
    props.f_tracks_linearization(errors, setting)
    props.g_tracks_linearization(errors, setting)


@pytest.mark.claim("L2")
@given(setting=lazy_settings())
@covering_axes()
def test_L2_flip_fraction_is_bounded_by_laziness_index(setting):
    setting = f_only(setting)  # only f matters here
    props.flips_bounded_by_laziness(run_pairs(setting), setting)
