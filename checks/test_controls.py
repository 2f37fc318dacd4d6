"""Negative controls (THEORY.md §6): with the information removed, g is at chance.
Bodies: ``checks.properties.controls``."""

from __future__ import annotations

import pytest
from hypothesis import event, given

from .harness import run_results
from .properties.controls import CONTROLS, accuracy_at_chance, agreement_at_chance
from .axes import covering_control_axes
from .strategies import control_settings, salted_for_item


@pytest.mark.parametrize("claim", [pytest.param(c, marks=pytest.mark.claim(c)) for c in sorted(CONTROLS)])
@given(setting=control_settings())
@covering_control_axes()
def test_CTRL_perturbation_controls_put_g_at_chance(claim, setting):
    """With ε = 0, random directions, or perturbations shuffled across samples, g agrees with f
    only at chance level."""
    # Each control trains its own pairs: the three items draw the same settings, and would otherwise
    # train one set of networks for three claims.
    setting = salted_for_item(setting.with_config(**CONTROLS[claim]), claim)
    event(f"{claim} scenario={setting.config.scenario}")
    agreement_at_chance(setting, run_results(setting))


@pytest.mark.claim("CTRL-untrained")
@given(setting=control_settings())
@covering_control_axes()
def test_CTRL_untrained_f_gives_g_no_data(setting):
    """With an untrained f (t = 0, so u_n = 0), the perturbations carry no information about D:
    g classifies D at chance."""
    setting = setting.with_config(epochs_f=0)
    accuracy_at_chance(setting, run_results(setting))
