"""The check strategies draw only valid settings, under every profile's size limits, and the
default run's explicit examples cover every axis of every claim.

A drawn setting is valid when its Config builds, its data can be sampled at the drawn N (real data:
N within the train split of the class pair, d the data's own), and its pair seeds are distinct.
Nothing is trained: each draw is validated in about a millisecond, so ≥ 500 draws per strategy and
profile run in seconds.
"""

from __future__ import annotations

import gzip
import importlib
import json
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import session, strategies, test_controls
from checks.axes import AXES, AXES_OUTSIDE_CLAIM, axis_examples, axis_values, control_axis_examples
from theory.strata import stratum
from checks.strategies import (PROFILE_LIMITS, Setting, SizeLimits, control_settings, lazy_settings,
                               paper_like_settings)
from perturbation_learning.config import Config, seed_streams
from perturbation_learning.data import family
from perturbation_learning.run import draw_data

#: Draws per strategy and profile; smoke-run limits (tiny sizes, checked again by every smoke
#: run in tests/test_profiles.py) and keyword variants get fewer.
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
    "control_settings": lambda lim: control_settings(size_limits=lim),
    "control_settings(untrained)": lambda lim: control_settings(size_limits=lim, epochs_f=0),
}
#: Keyword variants of a strategy pin axes only; their sizes come from the same code as the
#: strategy's own draws, so they get the smaller number of draws.
VARIANTS = {"lazy_settings(P3)", "lazy_settings(P4)", "control_settings(untrained)"}
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
    draws = SMOKE_DRAWS if profile.endswith(strategies.SMOKE_SUFFIX) or name in VARIANTS else DRAWS
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


# ------------------------------------------------------------------ axes covered by explicit examples

CHECKS_DIR = Path(__file__).resolve().parent.parent / "checks"


def check_functions():
    """(name, claim IDs, Hypothesis-wrapped function) of every check in checks/test_*.py."""
    for path in sorted(CHECKS_DIR.glob("test_*.py")):
        module = importlib.import_module(f"checks.{path.stem}")
        for name, fn in vars(module).items():
            if not (name.startswith("test_") and hasattr(fn, "hypothesis")):
                continue
            claims = set()
            for mark in getattr(fn, "pytestmark", []):
                if mark.name == "claim":
                    claims.update(mark.args)
                if mark.name == "parametrize":
                    claims.update(c for p in mark.args[1] for m in getattr(p, "marks", ()) if m.name == "claim"
                                  for c in m.args)
            yield name, claims, fn


def explicit_axis_values(fn) -> list[dict]:
    """The axis values of each explicit example of a check: from its setting, or from a ``gamma``
    argument (checks that take γ directly)."""
    out = []
    for ex in getattr(fn.hypothesis.inner_test, "hypothesis_explicit_examples", ()):
        setting = ex.kwargs.get("setting")
        if setting is not None:
            out.append(axis_values(setting.config))
        elif "gamma" in ex.kwargs:
            out.append({axis: stratum(axis, ex.kwargs) for axis in ("gamma", "momentum") if axis in ex.kwargs})
    return out


def covered_axes_per_claim() -> dict[str, dict[str, set]]:
    covered: dict[str, dict[str, set]] = {}
    for _, claims, fn in check_functions():
        for values in explicit_axis_values(fn):
            for claim in claims:
                for axis, value in values.items():
                    covered.setdefault(claim, {}).setdefault(axis, set()).add(value)
    return covered


def missing_axes(covered: dict[str, dict[str, set]], claims) -> dict[str, dict[str, list]]:
    """Per claim, the axis values that no explicit example covers (axes outside the claim excepted)."""
    missing = {}
    for claim in claims:
        for axis, values in AXES.items():
            if axis in AXES_OUTSIDE_CLAIM.get(claim, {}):
                continue
            lacking = sorted(set(values) - covered.get(claim, {}).get(axis, set()))
            if lacking:
                missing.setdefault(claim, {})[axis] = lacking
    return missing


def test_default_run_examples_cover_every_axis_of_every_claim():
    """In the ci profile (the default), each claim's checks carry explicit examples with γ = 0 and
    γ > 0, both losses, both scenarios, both target modes and β = 0 and β > 0, except the axes that
    ``theory.strata.AXES_OUTSIDE_CLAIM`` excludes with a reason."""
    assert settings.get_current_profile_name() in ("default", "ci")  # tests/ run with the default limits (ci)
    claims = {c for _, cs, _ in check_functions() for c in cs}
    covered = covered_axes_per_claim()
    assert not missing_axes(covered, claims), missing_axes(covered, claims)
    counts = {c: sum(len(v) for v in covered.get(c, {}).values()) for c in claims}
    assert all(n >= 2 for n in counts.values()), counts  # every claim has γ = 0 and γ > 0 at least


def test_axis_count_fails_when_a_check_loses_its_examples():
    """Dropping the explicit examples of the Scenario (b) checks leaves P1 without Scenario (b)."""
    covered: dict[str, dict[str, set]] = {}
    for name, claims, fn in check_functions():
        if "scenario_b" in name or "flipped_targets" in name:
            continue
        for values in explicit_axis_values(fn):
            for claim in claims:
                for axis, value in values.items():
                    covered.setdefault(claim, {}).setdefault(axis, set()).add(value)
    assert missing_axes(covered, ["P1"]) == {"P1": {"scenario": ["b"]}}


def test_axes_outside_a_claim_are_known_claims_and_axes_with_reasons():
    from theory.claims import CLAIMS

    for claim, axes in AXES_OUTSIDE_CLAIM.items():
        assert claim in CLAIMS
        assert set(axes) <= set(AXES) and all(len(reason) > 20 for reason in axes.values())


def test_strata_name_the_procedure_choices():
    """theory.strata names the strata without importing the procedure: its names are the procedure's."""
    from perturbation_learning.attacks import TARGET_MODES
    from perturbation_learning.training import LOSSES
    from theory.model import SCENARIOS

    assert AXES["loss"] == tuple(LOSSES) and AXES["targets"] == tuple(TARGET_MODES)
    assert AXES["scenario"] == tuple(SCENARIOS)
    assert stratum("momentum", {"momentum": 0.9}) == ">0" and stratum("gamma", {"gamma": 0.0}) == "0"
    assert stratum("loss", {"gamma": 0.3}) is None


# ------------------------------------------------------------------ seeds of a parametrized check's items

CONTROL_CHECK = test_controls.test_CTRL_perturbation_controls_put_g_at_chance


def control_item_seeds(claim: str, monkeypatch) -> set[int]:
    """The pair seeds the item ``claim`` of the control check trains on its explicit examples and three
    derandomized draws (its body run with training stubbed out)."""
    seen: set[int] = set()
    monkeypatch.setattr(test_controls, "run_results", lambda setting: seen.update(setting.seeds) or [])
    monkeypatch.setattr(test_controls, "agreement_at_chance", lambda setting, results: None)
    inner = CONTROL_CHECK.hypothesis.inner_test
    examples = [ex.kwargs["setting"] for ex in inner.hypothesis_explicit_examples]

    @settings(max_examples=3, **_DRAW_SETTINGS)
    @given(control_settings())
    def each(setting):
        for s in (setting, *examples):
            inner(claim=claim, setting=s)

    with session.checking(CONTROL_CHECK.__name__, (claim,)):
        each()
    return seen


def test_the_items_of_a_parametrized_check_train_disjoint_pairs(monkeypatch):
    """The controls share one check, one Hypothesis seed and one set of explicit examples; each item
    (claim) still trains its own pairs. Without the item's salt they train the same ones."""
    seeds = {claim: control_item_seeds(claim, monkeypatch) for claim in sorted(test_controls.CONTROLS)}
    assert all(len(s) >= 3 * 24 for s in seeds.values())
    claims = sorted(seeds)
    assert all(not seeds[a] & seeds[b] for i, a in enumerate(claims) for b in claims[i + 1:])
    monkeypatch.setattr(test_controls, "salted_for_item", lambda setting, item, check=None: setting)
    assert control_item_seeds(claims[0], monkeypatch) == control_item_seeds(claims[1], monkeypatch)


def test_every_check_and_item_has_its_own_salt():
    keys = [(name, None) for name, _, _ in check_functions()]
    keys += [(CONTROL_CHECK.__name__, claim) for claim in test_controls.CONTROLS]
    salts = [strategies.check_salt(*key) for key in keys]
    assert len(set(salts)) == len(salts) and strategies.check_salt(session.DIRECT_CALL, "CTRL-eps0") == 0


def test_unparametrized_checks_keep_the_committed_baseline_seeds():
    """Item salts move no other check's pairs: every explicit example of an unparametrized check starts
    at a first seed that the committed baseline's run trained for that check."""
    baseline = json.loads(gzip.decompress((CHECKS_DIR.parent / "reports/baseline/results.json.gz").read_bytes()))
    first_seeds = defaultdict(set)
    for rec in baseline["records"]:
        first_seeds[rec["check"]].add((rec.get("setting") or {}).get("first_seed"))
    compared = 0
    for name, _, fn in check_functions():
        if any(mark.name == "parametrize" for mark in getattr(fn, "pytestmark", [])):
            continue
        for ex in getattr(fn.hypothesis.inner_test, "hypothesis_explicit_examples", ()):
            if "setting" in ex.kwargs:
                assert ex.kwargs["setting"].seeds[0] in first_seeds[name], name
                compared += 1
    assert compared >= 20
