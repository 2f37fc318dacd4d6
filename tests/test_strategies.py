"""The check strategies draw only valid settings, under every profile's size limits.

A drawn setting is valid when its Config builds, its data can be sampled at the drawn N (real data:
N within the train split of the class pair, d the data's own), and its pair seeds are distinct.
Nothing is trained: each draw is validated in about a millisecond, so ≥ 500 draws per strategy and
profile run in seconds.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import strategies
from checks.strategies import (PROFILE_LIMITS, Setting, SizeLimits, axis_examples, control_axis_examples,
                               control_settings, lazy_settings, paper_like_settings)
from perturbation_learning.config import Config, seed_streams
from perturbation_learning.data import family
from perturbation_learning.run import draw_data

#: Draws per strategy and profile; smoke-run limits (tiny sizes, checked again by every smoke
#: run in tests/test_profiles.py) get fewer.
DRAWS = 500
SMOKE_DRAWS = 100

#: Every setting strategy, with the keyword variants the checks use.
STRATEGIES = {
    "lazy_settings": lambda lim: lazy_settings(size_limits=lim),
    "lazy_settings(P3)": lambda lim: lazy_settings(targets="random", loss="identity", eps=3.0, pairs=32,
                                                   size_limits=lim),
    "lazy_settings(P4)": lambda lim: lazy_settings(scenario="b", targets="flipped", eps=(0.3, 0.1),
                                                   size_limits=lim),
    "paper_like_settings": lambda lim: paper_like_settings(size_limits=lim),
    "control_settings": lambda lim: control_settings(size_limits=lim, attack="random"),
    "control_settings(untrained)": lambda lim: control_settings(size_limits=lim, epochs_f=0),
}
#: Every profile's limits, and each one's smoke-run limits.
LIMITS = {**PROFILE_LIMITS, **{f"{p}-smoke": lim.tiny() for p, lim in PROFILE_LIMITS.items()}}

_DRAW_SETTINGS = dict(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))


def validate(setting: Setting, size_limits: SizeLimits) -> None:
    """Raise unless the setting could run: the Config builds, the data sample at N with the
    Config's d, the sizes respect the limits, and the pair seeds are distinct."""
    cfg = setting.config
    assert isinstance(cfg, Config)
    Config(**cfg.to_dict())  # re-validates every field
    assert len(set(setting.seeds)) == len(setting.seeds), f"pair seeds repeat: {setting.seeds}"
    assert cfg.d <= size_limits.max_d and cfg.n_train <= size_limits.max_n and cfg.width <= size_limits.max_m
    X, y, Z, yz = draw_data(cfg, seed_streams(setting.seeds[0]))
    assert X.shape == (cfg.n_train, cfg.d), (X.shape, setting.describe())
    assert Z.shape[1] == cfg.d and len(y) == len(X) and len(yz) == len(Z)


def draw_and_validate(strategy: st.SearchStrategy, size_limits: SizeLimits, draws: int = DRAWS) -> int:
    """Validate ``draws`` settings drawn from ``strategy``; returns how many were validated."""
    count = 0

    @settings(max_examples=draws, **_DRAW_SETTINGS)
    @given(strategy)
    def each(setting):
        nonlocal count
        validate(setting, size_limits)
        count += 1

    each()
    return count


@pytest.mark.parametrize("profile", sorted(LIMITS))
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_draws_only_valid_settings(name, profile):
    lim = LIMITS[profile]
    draws = SMOKE_DRAWS if profile.endswith(strategies.SMOKE_SUFFIX) else DRAWS
    assert draw_and_validate(STRATEGIES[name](lim), lim, draws) >= draws


@pytest.mark.parametrize("profile", sorted(LIMITS))
def test_explicit_examples_are_valid(profile):
    lim = LIMITS[profile]
    fixed_variants = [{}, dict(scenario="a"), dict(scenario="b", targets="flipped", eps=(0.3, 0.1)),
                      dict(targets="random", loss="identity", eps=3.0, pairs=32)]
    for fixed in fixed_variants:
        for s in axis_examples(size_limits=lim, **fixed):
            validate(s, lim)
    for s in control_axis_examples(size_limits=lim):
        validate(s, lim)


def test_real_data_draws_use_the_data_dimension_and_split():
    """The family's own limits reach the draws: digits at d = 64 and N up to its train split."""
    lim = PROFILE_LIMITS["paper"]
    split = family("digits").max_train((0, 1))
    seen = []

    @settings(max_examples=DRAWS, **_DRAW_SETTINGS)
    @given(lazy_settings(family="digits", size_limits=lim))
    def each(setting):
        assert setting.config.d == family("digits").fixed_d
        assert setting.config.n_train <= split
        seen.append(setting.config.n_train)

    each()
    assert max(seen) == split  # Hypothesis reaches the boundary, so the cap is what bounds N


def test_a_planted_strategy_bug_is_caught(monkeypatch):
    """N drawn above the digits train split (the cap ignored) makes the validity test fail."""
    monkeypatch.setattr(strategies, "train_split_size", lambda name, pair=strategies.CLASS_PAIR: None)
    lim = PROFILE_LIMITS["thorough"]
    with pytest.raises(ValueError, match=r"n == \d+, must be <= \d+ \(size of the train split of 'digits'"):
        draw_and_validate(STRATEGIES["lazy_settings"](lim), lim)


def test_a_planted_dimension_bug_is_caught(monkeypatch):
    """d drawn freely for real data (fixed_d ignored) makes the validity test fail."""
    original = strategies.family_dimensions

    def ignores_fixed_d(name, *, min_d, max_d):
        return original("gauss", min_d=min_d, max_d=max_d)

    monkeypatch.setattr(strategies, "family_dimensions", ignores_fixed_d)
    lim = PROFILE_LIMITS["ci"]
    with pytest.raises(AssertionError):
        draw_and_validate(STRATEGIES["control_settings"](lim), lim)
