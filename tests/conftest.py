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
    """The checks train without R1–R6 first (``CheckSession.without_conformance``): for planted bugs
    that must be shown failing another claim's own check, which the conformance checks would
    otherwise report first (``tests/test_conformance_planted.py`` shows those)."""
    from checks.session import current

    with current().without_conformance():
        yield
