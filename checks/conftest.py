"""Configure the check run: Hypothesis profiles, the procedure under check, where the pairs train
(``--executor``), one torch thread per worker."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import core, settings

from .profiles import register_profiles

# The claim plugin (reporting.plugin) comes through the pytest11 entry point of the installed package.

# Profiles and what each is for: checks/profiles.py; their size limits: checks/strategies.py.
register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# One intra-op thread per xdist worker: `-n auto` starts a worker per core, more threads would oversubscribe.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


DEFAULT_RUN_SEED = 0


def pytest_addoption(parser):
    parser.addoption("--executor", default=None, metavar="serial|local|ADDRESS",
                     help="where the checks train their pairs: in this process, an embedded Dask cluster or an "
                          "existing one (tcp://HOST:8786); default: the paper profile uses Dask, the others "
                          "run in-process (checks/remote.py)")


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
    from .remote import use_executor

    use_executor(config.getoption("executor", default=None))


def pytest_unconfigure(config):
    from .remote import close

    close()


def pytest_report_header(config):
    from theory.tolerances import ALPHA, RUN_BUDGET

    from .remote import executor

    return [f"hypothesis profile: {settings._current_profile}, run seed {core.global_force_seed}; "
            f"false-failure budget {RUN_BUDGET:g}/run, "
            f"α={ALPHA:.1e}/assertion; torch {torch.__version__} threads={torch.get_num_threads()}; "
            f"pairs train on: {executor()}"]
