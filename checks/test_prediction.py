"""P5 (THEORY.md §5): each pair's agreement is predicted before g is trained.

Body: ``checks.properties.prediction``. Inside L2 the bound |a_obs − a_pred| ≤ (1 − c) + 3δ is asserted
over pairs, and pair by pair the agreements on the covered inputs alone are asserted to differ by a
mean ≤ 2δ, on drawn lazy settings with the axis-covering examples, and on THEORY.md's lazy preset
made lazy for g too (the size at which P1's coverage is non-trivial, ``test_thm34_scenario_a``) in
Scenario (a) with random targets and in Scenario (b) with flipped targets at small ε, where the
theory predicts that g disagrees with f. Outside L2, on the paper's recipe, the calibration over
pairs is recorded.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perturbation_learning.config import get_preset

from .harness import run_pairs, run_results
from .properties import prediction
from .axes import axis_examples, covering_axes, runnable_examples
from .strategies import Setting, lazy_settings, paper_like_settings

#: (scenario, targets, ε): agreement ≈ 1 predicted and observed, and ≈ 0 (P4's sharpest case).
LAZY_VARIANTS = (("a", "random", 3.0), ("b", "flipped", 0.3))
#: Pairs per inside-L2 example. Measured on the explicit examples (δ = 0.01, 12 pairs each): the excess
#: test detects 0.126 against its bound 3δ = 0.03 (target 0.13: pass); the pair-by-pair test, with the
#: binomial noise of ≈ 110–280 covered inputs per pair, detects 0.173–0.183 against 2δ = 0.02 (target
#: 0.12: underpowered per example), and pooled over the three explicit examples with coverage (36 pairs)
#: about 0.054 (``theory.power.betting_detects``, 200 inputs per pair). The covering corner in Scenario (b)
#: (``checks.axes``) has c ≤ 3δ in all its pairs (measured: 11 of 12 at 0, one at 0.007): they leave both
#: tests. The ci profile's three drawn examples add 36 pairs.
LAZY_PAIRS = 12
#: γ > 0, logistic loss and heavy-ball in Scenario (a) (the second covering corner moved to (a)): in
#: Scenario (b) with random targets at ε = 3 the covering corner's C2 covers no test input (measured
#: coverage 0.0), which would leave P5's γ > 0, logistic and β > 0 strata untested.
HEAVY_BALL_LOGISTIC_A = axis_examples(scenario="a", pairs=LAZY_PAIRS)[1]


def lazy_prediction_setting(seed: int, scenario: str, targets: str, eps: float, pairs: int = LAZY_PAIRS) -> Setting:
    """THEORY.md's lazy preset at ci size with g lazy too (ε·t' small): inside L2 for f and g."""
    cfg = get_preset("lazy-shifted-gauss-a").replace(n_train=150, n_test=300, width=3000, lr=0.1, epochs_f=20,
                                                      epochs_g=20, eps=eps, scenario=scenario, targets=targets)
    return Setting(cfg, tuple(seed * 1000 + i for i in range(pairs)))


@pytest.mark.claim("P5")
@given(setting=lazy_settings(pairs=LAZY_PAIRS))
@covering_axes(pairs=LAZY_PAIRS)
@runnable_examples(lazy_prediction_setting(1, *LAZY_VARIANTS[0]), lazy_prediction_setting(2, *LAZY_VARIANTS[1]),
                   HEAVY_BALL_LOGISTIC_A)
def test_P5_prediction_bounds_agreement_inside_lazy_regime(setting):
    measured = prediction.measure_prediction(run_pairs(setting))
    prediction.prediction_tracks_agreement(measured, setting)
    prediction.prediction_tracks_agreement_where_covered(measured, setting)


@pytest.mark.claim("P5")
@given(data=st.data())
def test_P5_paper_recipe_calibration_is_observed(data):
    """The paper's recipe lies outside L2: correlation, error and collapse table recorded, not asserted."""
    setting = data.draw(paper_like_settings(scenario="a"), label="setting")
    prediction.prediction_calibration_observed(run_results(setting), setting)
