"""L1 for parameters (``checks.properties.lazy.blocks_track_displacement``): a trainer whose bias never
moves, or whose W decays each step without a gradient, fails L1's block statistic; the unbroken trainer
and reference pass it. Both bugs are self-consistent reports, so R1–R7 pass them (the harness runs them
first), and L1's bound on f's values does not see a frozen bias at d ≫ 1.

The bugs are one-line changes of ``examples/reference_torch.py``'s optimizer (reusing the reference copies
of tests/test_conformance_planted.py); a procedure that declares no bias gets the b block recorded as not
checked, with the reason.
"""

from __future__ import annotations

import re

import pytest

import perturbation_learning.procedure as procedure_module
from checks import harness, session
from checks.properties import lazy
from checks.strategies import Setting, pair_seeds
from perturbation_learning.run import perturbation_learning
from test_conformance_planted import BASE, _reference_copy

pytestmark = pytest.mark.usefixtures("one_thread")

SGD = "    opt = torch.optim.SGD(net.first.parameters(), lr=lr, momentum=momentum)"
BUGS = {
    "frozen bias": (SGD, "    opt = torch.optim.SGD([net.first.weight], lr=lr, momentum=momentum)"),
    "W decayed": (SGD, "    opt = torch.optim.SGD([{'params': [net.first.weight], 'weight_decay': 0.05}, "
                       "{'params': [net.first.bias]}], lr=lr, momentum=momentum)"),
    # Steps 10% longer than the configured η that t and Λ are booked at: a self-consistent report (R4
    # rebuilds t from the configured η), so only the displacement against Λ can see it.
    "update scale ×1.1": (SGD, "    opt = torch.optim.SGD(net.first.parameters(), lr=1.1 * lr, momentum=momentum)"),
}
#: A lazy identity-loss setting at d = 20 (small, so the reference trains in seconds), 8 pairs.
SETTING = Setting(BASE.replace(gamma=0.0), pair_seeds(11, 8))


#: A 10% scale error puts every pair's block error at 0.1 against the bound 0.05: the betting test's
#: capital grows by at most log(1 + 0.75·0.05/0.05) per pair, so rejecting at α ≈ 1e-6 takes 28 pairs
#: (24 give p = 1.5e-6); a check run pools L1's 100+ pairs into one test.
SCALE_SETTING = Setting(BASE.replace(gamma=0.0), pair_seeds(11, 32))


def _block_records(procedure, setting=SETTING):
    """L1's block records of ``procedure`` on ``setting`` (R1–R7 run first and must pass)."""
    session.current().discard()
    try:
        with session.current().checking_procedure(procedure), session.checking("block displacement", ("L1",)):
            lazy.blocks_track_displacement(lazy.measure_lazy_errors(harness.run_pairs(setting)), setting)
    finally:
        recs = [r for r in session.current().pending() if "(block " in r["statistic"]]
        session.current().discard()
    return recs


@pytest.mark.parametrize("which", ["trainer", "reference"])
def test_unbroken_blocks_track_their_displacement(tmp_path, which):
    procedure = None if which == "trainer" else _reference_copy(tmp_path, None).procedure
    recs = _block_records(procedure)
    assert [r["statistic"][:13] for r in recs] == ["L1 (block W):", "L1 (block b):"]
    assert all(r["verdict"] in ("pass", "underpowered") and r["inside"] for r in recs), recs


@pytest.mark.parametrize("bug, block", [("frozen bias", "b"), ("W decayed", "W"), ("update scale ×1.1", "W")])
def test_untrained_or_decayed_block_fails_l1(tmp_path, bug, block):
    procedure = _reference_copy(tmp_path, BUGS[bug]).procedure
    with pytest.raises(AssertionError, match=rf"^L1: mean L1 \(block {block}\)"):
        _block_records(procedure, SCALE_SETTING if "scale" in bug else SETTING)


def test_a_procedure_without_bias_gets_the_b_block_not_checked():
    """The harness skips such a procedure's settings altogether (checks.harness); the property, called on
    pairs all the same, states the b block as not checked with the reason, never as a pass."""
    no_bias = procedure_module.declare(lambda config, sample, streams: perturbation_learning(config, sample, streams),
                                       bias=False)
    session.current().discard()
    try:
        errors = lazy.measure_lazy_errors(harness.run_pairs(SETTING))
        with session.current().checking_procedure(no_bias), session.checking("block displacement", ("L1",)):
            lazy.blocks_track_displacement(errors, SETTING)
        (b,) = [r for r in session.current().pending() if r["statistic"].startswith("L1 (block b)")]
    finally:
        session.current().discard()
    assert b["verdict"] == "observed" and re.search(r"declares no bias.*\"\+1\" term", b["reason"])


def test_block_records_are_no_points_of_the_lazy_error_against_kappa():
    """C_L and the lazy-error figure read f's and g's lazy errors only: a block record, even one a written
    run gave a κ, is not among their points."""
    from reporting.analysis import BLOCK_STATISTIC, lazy_error_points

    f_error = {"claim": "L1", "statistic": "‖f_t − lin‖/‖lin − f_0‖ inside L2", "kappa": [0.2], "value": 0.04}
    block = dict(f_error, statistic=f"{BLOCK_STATISTIC}b): ‖Δb − Δb_lazy‖/‖Δb_lazy‖", value=0.9)
    assert lazy_error_points([f_error, block]) == [{"claim": "L1", "kappa": 0.2, "error": 0.04}]
