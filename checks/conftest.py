"""Configure the check run: Hypothesis profiles, the run seed, one torch thread per worker.

The claim plugin (``checks.plugin``: the session, the procedure under check, where the pairs train,
the report) comes through the pytest11 entry point of the installed package.
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import core, settings

from .profiles import register_profiles

# Profiles and what each is for: checks/profiles.py; their size limits: checks/strategies.py.
register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# One intra-op thread per xdist worker: `-n auto` starts a worker per core, more threads would oversubscribe.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


DEFAULT_RUN_SEED = 0


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """Without --hypothesis-seed, every run uses seed 0: the default run is reproducible, and
    ``--hypothesis-seed=N`` explores other examples (xdist workers get the same command line)."""
    if core.global_force_seed is None:
        core.global_force_seed = DEFAULT_RUN_SEED
        config.option.hypothesis_seed = DEFAULT_RUN_SEED


def pytest_report_header(config):
    from theory.tolerances import POOLED_SHARE, RUN_BUDGET

    from .profiles import test_horizon
    from .session import current

    profile = settings.get_current_profile_name()
    return [f"hypothesis profile: {profile}, run seed {core.global_force_seed}; "
            f"false-failure budget {RUN_BUDGET:g}/run ({1 - POOLED_SHARE:g} to per-example tests, spent over a "
            f"horizon of {test_horizon(profile)}; {POOLED_SHARE:g} to the pooled tests); "
            f"torch {torch.__version__} threads={torch.get_num_threads()}; "
            f"pairs train on: {current().executor.where()}"]
