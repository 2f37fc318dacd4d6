"""The check session (``checks.session``): the running check's context nests and restores, records and
collapse notes buffer until drained, the counters add up, and a session can be swapped and restored."""

from __future__ import annotations

import json

import pytest

from checks import session
from checks.session import CheckSession, Gathered
from reporting.records import Record


def _record(value: float) -> Record:
    return Record(claim=session.current_claim(), check=session.current_check(), setting={"d": 3}, seeds=[0],
                  statistic="share", value=value, bound=0.1, verdict="pass", inside=True)


def test_the_context_nests_and_restores():
    assert session.current_check() == session.DIRECT_CALL and session.current_claims() == ()
    with session.checking("test_outer", ("P1", "P2")):
        with pytest.raises(ValueError, match="no claim scope"):
            session.current_claim()
        with session.claim_scope("P2"):
            assert session.current_claim() == "P2"
            with session.checking("test_inner", ("K1",)):
                assert (session.current_check(), session.current_claim()) == ("test_inner", "K1")
            assert (session.current_check(), session.current_claim()) == ("test_outer", "P2")
        with session.claim_scope("R3"):          # conformance claims are recorded by every check that trains
            assert session.current_claim() == "R3"
        with pytest.raises(ValueError, match="'D1' is not among the check's claim markers"):
            with session.claim_scope("D1"):
                pass
    assert session.current_check() == session.DIRECT_CALL


def test_records_and_collapses_buffer_until_drained():
    run = CheckSession()
    with session.started(run), session.checking("test_x", ("K1",)):
        session.emit(_record(0.01))
        run.note_collapse({"seed": 3, "agreement": 0.5})
        assert [r["value"] for r in run.pending()] == [0.01]
        (carried,) = [json.loads(s) for s in run.drain()]
        assert carried["check"] == "test_x" and run.pending() == []
        assert [json.loads(s) for s in run.drain_collapses()] == [{"seed": 3, "agreement": 0.5, "check": "test_x"}]
        assert run.drain_collapses() == []


def test_a_session_is_swapped_and_restored():
    before = session.current()
    mine = CheckSession()
    with session.started(mine):
        assert session.current() is mine
        session.current().count_pairs(3)
        session.current().add_seconds("conformance", 1.5)
    assert session.current() is before and (mine.pairs_trained, mine.seconds) == (3, {"conformance": 1.5})


def test_procedure_and_conformance_switches_restore():
    run = CheckSession()
    default = run.procedure_name
    with run.checking_procedure("examples.reference_torch:procedure"):
        assert run.procedure_name == "examples.reference_torch:procedure"
    assert run.procedure_name == default
    with run.without_conformance():
        assert not run.conformance
    assert run.conformance


def test_the_controller_sums_the_workers_counts():
    gathered = Gathered()
    gathered.add_counts(4, {"conformance": 1.0})
    gathered.add_counts("6", {"conformance": 0.5, "other": 2})
    assert gathered.pairs == 10 and gathered.seconds == {"conformance": 1.5, "other": 2.0}
