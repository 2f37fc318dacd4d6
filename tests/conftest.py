"""Fixtures shared by the tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch intra-op thread for a module's tests, restored afterwards: the problems here are
    small, and a second thread that waits for a core held by another process makes them many times
    slower. Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def claims_alone():
    """The checks train without R1–R7 first (``CheckSession.without_conformance``): for planted bugs
    that must be shown failing another claim's own check, which the conformance checks would
    otherwise report first (``tests/test_conformance_planted.py`` shows those)."""
    from checks.session import current

    with current().without_conformance():
        yield


@pytest.fixture
def reachable_targets(monkeypatch):
    """Share targets the synthetic sizes here can reach under heterogeneous violations (CV 1 and CV 3,
    ``theory.power``): these tests are about how records become verdicts, not about the targets'
    sizes (``tests/test_theory_stats.py``, ``benchmarks/power_heterogeneity.py``). 144 pairs at bound 0.15
    detect about 0.4 and 72 pairs about 0.47 at the pooled level; 12 pairs about 0.8 at a per-example one."""
    from theory import tolerances
    from theory.tolerances import PowerTarget

    share = PowerTarget("margin", 0.40, "synthetic: what 72–144 pairs reach")
    for claim in ("P1", "P3", "P4"):
        monkeypatch.setitem(tolerances.POWER_TARGETS, claim, share)
