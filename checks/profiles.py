"""Hypothesis profiles of the check run (``--hypothesis-profile=NAME``) and their smoke variants.

A profile sets how many examples each check draws; its size limits (d, N, m, pairs per example)
are ``checks.strategies.PROFILE_LIMITS``. Each profile ``NAME`` also has ``NAME-smoke``: one
generated example of every check at :meth:`~checks.strategies.SizeLimits.tiny` sizes, with no
explicit examples and no shrinking, which ``tests/test_profiles.py`` runs so that no profile can
rot unseen.
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, Phase, settings

from .strategies import PROFILE_LIMITS, SMOKE_SUFFIX

# derandomize=False: the run seed (--hypothesis-seed) decides the draws. Under a CI variable Hypothesis
# loads its own "ci" profile (derandomize=True) as the default a new profile inherits, which would
# draw other examples than the committed baseline's seed-0 run.
_COMMON = dict(deadline=None, print_blob=True, derandomize=False,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])

#: name → (what it is for, Hypothesis settings). Examples per check are the generated ones; every
#: check also runs its explicit examples (``checks.axes``).
PROFILES: dict[str, tuple[str, dict]] = {
    "ci": ("the default: bounded time, reproducible (run seed 0, no example database)",
           dict(max_examples=3, database=None)),
    "fast": ("repeated flake runs (tools.flake): fewer, smaller examples, fresh seeds",
             dict(max_examples=2, database=None)),
    "thorough": ("more and larger examples before a release", dict(max_examples=10)),
    "paper": ("sizes up to the paper's (d ≤ 784, m ≤ 8000); meant for a machine with a GPU",
              dict(max_examples=6)),
}
#: Per-example tests a profile is sized to make: the horizon over which the per-example budget is spent
#: at a flat level (``checks.session.Spending``, ``theory.stats.spending_level``); past it, levels
#: shrink and the run stays within its budget. Measured (per-example tests, pooled ones apart): ci 199
#: at seed 0; thorough made 691 tests in all at seed 0, about 450 of them per example.
TEST_HORIZONS = {"ci": 500, "fast": 500, "thorough": 1000, "paper": 1000}
if set(PROFILES) != set(PROFILE_LIMITS) or set(PROFILES) != set(TEST_HORIZONS):
    raise RuntimeError(f"profiles {sorted(PROFILES)} and size limits {sorted(PROFILE_LIMITS)} must name the same set")


def test_horizon(profile: str) -> int:
    """The per-example test horizon of ``profile`` (its smoke variant: the same; unknown: ci's)."""
    return TEST_HORIZONS.get(profile.removesuffix(SMOKE_SUFFIX), TEST_HORIZONS["ci"])


def register_profiles() -> None:
    """Register every profile and its smoke variant with Hypothesis."""
    for name, (_, kwargs) in PROFILES.items():
        settings.register_profile(name, **_COMMON, **kwargs)
        settings.register_profile(name + SMOKE_SUFFIX, settings.get_profile(name), max_examples=1,
                                  phases=(Phase.generate,), database=None)


@contextlib.contextmanager
def using_profile(name: str):
    """Hypothesis profile ``name`` (registered here if it is not yet) inside; the profile before it after."""
    register_profiles()
    before = settings.get_current_profile_name()
    settings.load_profile(name)
    try:
        yield
    finally:
        settings.load_profile(before)
