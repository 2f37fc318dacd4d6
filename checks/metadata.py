"""The check run's metadata for results.json (when, where, what: profile, seed, procedure, versions, device,
budget) and what the checked procedure's declaration leaves unchecked (``not_checked``)."""

from __future__ import annotations

import os
import platform
import time

from reporting.scope import skipped_checks, unchecked_parts
from theory.tolerances import POOLED_SHARE, RUN_BUDGET, SPENDING_TAIL


def run_metadata(config, session, started: float) -> dict:
    """The run's metadata for results.json: when, where, what (profile, seed, procedure, versions, device)."""
    import hypothesis
    import numpy
    import torch

    from perturbation_learning.procedure import DEFAULT_PROCEDURE

    from .harness import run_device

    name = session.procedure_name
    return {
        "started": started, "finished": time.time(), "wall_seconds": time.time() - started,
        "profile": hypothesis.settings.get_current_profile_name(),
        "hypothesis_seed": config.getoption("hypothesis_seed", None),
        "pairs_trained": session.gathered.pairs, "seconds_in": dict(session.gathered.seconds),
        "workers": str(getattr(config.option, "numprocesses", None) or 1),
        "false_failure_budget": {"run": RUN_BUDGET, "pooled_share": POOLED_SHARE,
                                 "per_assertion": session.levels.share * (1 - SPENDING_TAIL) / session.levels.horizon,
                                 "horizon": session.levels.horizon * session.levels.workers},
        "verdicts_asserted": session.asserts_verdicts,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": numpy.__version__, "hypothesis": hypothesis.__version__},
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "device": run_device(),
        "args": list(config.invocation_params.args),
        "procedure": name, "rerun_procedure": None if name == DEFAULT_PROCEDURE else name,
        "capabilities": session.capabilities.to_dict(),
        "not_checked": dict(not_checked_of(session), settings=list(session.not_run),
                            checks=skipped_checks(session.gathered.outcomes),
                            parts=unchecked_parts(session.capabilities.to_dict())),
        **git_revision(config.rootpath),
    }


def not_checked(capabilities, claims) -> dict:
    """What a procedure's declaration (a ``Capabilities``) leaves unchecked among ``claims``, as plain data
    for the run's metadata and ``reporting.verdicts``: {"strata": "axis=value" → why, "claims": claim → why}.
    A claim is unchecked where its control needs an attack the procedure lacks, or where it rests on the
    kernel of biased neurons and the network has none (``theory.strata.rests_on_bias``)."""
    from theory.strata import NO_BIAS, rests_on_bias

    from .properties.controls import CONTROLS

    out = {}
    for claim in claims:
        attack = CONTROLS.get(claim, {}).get("attack")
        if attack and capabilities.attacks is not None and attack not in capabilities.attacks:
            out[claim] = f"the procedure does not support attack {attack!r} (attacks: {', '.join(capabilities.attacks)})"
        elif not capabilities.bias and rests_on_bias(claim):
            out[claim] = NO_BIAS
    return {"strata": capabilities.excluded_strata(), "claims": out}


def not_checked_of(session) -> dict:
    """:func:`not_checked` for the procedure under check, among every registered claim."""
    from theory.claims import CLAIMS

    return not_checked(session.capabilities, sorted(CLAIMS))


def git_revision(root) -> dict:
    """The checkout's commit (or "unknown" outside git) and whether tracked files differ from it."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"git_revision": "unknown", "git_dirty": None}
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip() != ""
        return {"git_revision": head.stdout.strip(), "git_dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"git_revision": "unknown", "git_dirty": None}
