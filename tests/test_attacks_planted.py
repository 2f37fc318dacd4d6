"""A PGD-L2 that never projects r back onto its ε-ball fails R2 on the pairs of the PGD check's settings
(``checks/test_attacks.py``); the unbroken attack passes them."""

from __future__ import annotations

import pytest
import torch

import perturbation_learning.attacks as attacks
from checks import harness, session
from checks.strategies import PGD_STEPS, Setting, pair_seeds
from test_conformance_planted import BASE

pytestmark = pytest.mark.usefixtures("one_thread")

PGD = BASE.replace(attack="pgd-l2", pgd_steps=PGD_STEPS)


def _unprojected_pgd_l2(net, X, y_adv, eps, steps, alpha):
    """Normalised ascent steps on y^adv f, never projected: ‖r‖ reaches steps·α = 2.5ε."""
    ya = y_adv.to(X.dtype).unsqueeze(-1)
    r = torch.zeros_like(X)
    for _ in range(steps):
        r = r + alpha * ya * attacks._safe_unit(net.input_grad(X + r))
    return r


def _conformance(setting):
    session.current().discard()
    try:
        harness.run_pairs(setting)
        return [r for r in session.current().pending() if r["claim"] == "R2"]
    finally:
        session.current().discard()


def test_projected_pgd_l2_passes_r2():
    (r2,) = _conformance(Setting(PGD, pair_seeds(7, 2)))
    assert r2["verdict"] == "pass" and "pgd-l2 leaves the ε-ball" in r2["violations"]


def test_unprojected_pgd_l2_fails_r2(monkeypatch):
    monkeypatch.setattr(attacks, "_pgd_l2", _unprojected_pgd_l2)
    with pytest.raises(AssertionError, match=r"(?m)^R2 \(.*\): pgd-l2 leaves the ε-ball by \S+ at x #\d+"):
        _conformance(Setting(PGD, pair_seeds(7, 2)))
