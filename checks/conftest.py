"""Configure the check run: Hypothesis profiles, the procedure under check, one torch thread per worker."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, core, settings

# The claim plugin (reporting.plugin) comes through the pytest11 entry point of the installed package.

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
# ci: bounded time, seeded (derandomize) so a CI run is reproducible; `fast` for the flake tool;
# thorough: more and larger examples; paper: the paper's sizes, meant for a GPU machine.
settings.register_profile("ci", max_examples=3, database=None, **_COMMON)
settings.register_profile("fast", max_examples=2, derandomize=False, database=None, **_COMMON)
settings.register_profile("thorough", max_examples=12, **_COMMON)
settings.register_profile("paper", max_examples=6, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Two xdist workers on two cores: one intra-op thread each avoids oversubscription.
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
    # The procedure under check: --procedure module:object (the plugin's option), else the project's.
    from .harness import use_procedure

    use_procedure(config.getoption("procedure"))


def pytest_report_header(config):
    from theory.tolerances import ALPHA, RUN_BUDGET

    return [f"hypothesis profile: {settings._current_profile}, run seed {core.global_force_seed}; "
            f"false-failure budget {RUN_BUDGET:g}/run, "
            f"α={ALPHA:.1e}/assertion; torch {torch.__version__} threads={torch.get_num_threads()}"]
