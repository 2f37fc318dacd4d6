"""The live state of one check run in this process: one :class:`CheckSession`, and the running check.

The session holds the procedure under check, where its pairs train (``checks.remote.Executor``), whether
R1–R7 run first, the records and collapse notes the assertions leave before the plugin drains them into
the test report, and the counters of the run's metadata (pairs trained, seconds per part). On the
controller it also gathers what the workers' reports carry (:class:`Gathered`). ``checks.plugin`` makes
one per pytest session (:func:`begin`, :func:`end`); a script or a test that calls a property directly gets a
default one (:func:`current`).

The running check (its name and claim markers, and the claim a property of a multi-claim check tests)
is a :class:`CheckContext` in a ``contextvars.ContextVar``: the plugin enters :func:`checking` around
each test call and a property enters :func:`claim_scope`, so the assertions read both without being
told, and every exit restores exactly what its entry replaced.
"""

from __future__ import annotations

import contextlib
import json
from contextvars import ContextVar
from dataclasses import dataclass, field

from perturbation_learning.files import json_clean
from perturbation_learning.procedure import Capabilities, Procedure, capabilities_of, load_procedure, procedure_name
from theory.stats import spending_level
from theory.tolerances import ALPHA, CONFORMANCE_CLAIMS, POOLED_SHARE, RUN_BUDGET, SPENDING_TAIL

from .remote import Executor

#: Check name of records made outside a test item (scripts, tests that call a property directly).
DIRECT_CALL = "direct call"


@dataclass(frozen=True)
class CheckContext:
    """The running check: its name, its claim markers, and the claim a property scopes records to."""

    check: str = DIRECT_CALL
    claims: tuple = ()
    claim: str | None = None
    in_run: bool = False    # a check item of the run (the plugin's), whose tests spend the run's budget


@dataclass
class Gathered:
    """What the controller gathers from every test report and worker: the records, the checks'
    outcomes by node id, the collapse notes, the pairs trained and the seconds per part."""

    records: list = field(default_factory=list)
    outcomes: dict = field(default_factory=dict)
    collapses: list = field(default_factory=list)
    hypothesis: dict = field(default_factory=dict)   # per test node: Hypothesis' statistics and pairs
    pairs: int = 0
    seconds: dict = field(default_factory=dict)

    def add_counts(self, pairs: int, seconds: dict) -> None:
        """Add one process's pairs and seconds (summed over workers: CPU seconds of the run)."""
        self.pairs += int(pairs)
        for kind, secs in seconds.items():
            self.seconds[kind] = self.seconds.get(kind, 0.0) + float(secs)


@dataclass
class Spending:
    """This process's share of the per-example false-failure budget, spent test by test
    (``theory.stats.spending_level``): ``share`` = (1 − POOLED_SHARE)·RUN_BUDGET / W for W processes,
    flat over ``horizon`` tests (a profile's, ``checks.profiles.TEST_HORIZONS``, over W), so the W
    processes together spend at most (1 − POOLED_SHARE)·RUN_BUDGET however many tests they make. Only
    tests made inside a check item of the run count; a direct call or a unit test gets ALPHA."""

    share: float = (1 - POOLED_SHARE) * RUN_BUDGET
    horizon: int = 500
    workers: int = 1
    made: int = 0
    spent: float = 0.0

    @classmethod
    def for_process(cls, horizon: int, workers: int) -> "Spending":
        """One of ``workers`` processes' share of a profile's ``horizon`` (the same flat level for any W)."""
        workers = max(int(workers), 1)
        return cls(share=(1 - POOLED_SHARE) * RUN_BUDGET / workers, horizon=-(-int(horizon) // workers),
                   workers=workers)

    def peek(self) -> float:
        """The level the next test will get (for power estimates that decide a sample size)."""
        return spending_level(self.made + 1, self.share, self.horizon, SPENDING_TAIL) if _CONTEXT.get().in_run \
            else ALPHA

    def take(self) -> float:
        """The level of the test about to be made; counts it."""
        level = self.peek()
        if _CONTEXT.get().in_run:
            self.made += 1
            self.spent += level
        return level


@dataclass
class CheckSession:
    """One check run's state in this process (see the module docstring)."""

    procedure: Procedure = field(default_factory=lambda: load_procedure(None))
    executor: Executor = field(default_factory=Executor)
    conformance: bool = True
    buffer: list = field(default_factory=list)       # this test's records, as JSON-ready dicts
    collapses: list = field(default_factory=list)    # this test's collapse notes (THEORY.md P5)
    pairs_trained: int = 0
    seconds: dict = field(default_factory=dict)
    gathered: Gathered = field(default_factory=Gathered)
    not_run: list = field(default_factory=list)      # settings mapped or skipped for the procedure's declaration
    levels: Spending = field(default_factory=Spending)
    #: False in a smoke run: its tiny sizes lie outside the theory's regime, so a rejection is recorded,
    #: not raised (every check still runs; the run says its verdicts are not asserted).
    asserts_verdicts: bool = True

    @property
    def procedure_name(self) -> str:
        """'module:object' of the procedure under check."""
        return procedure_name(self.procedure)

    @property
    def capabilities(self) -> Capabilities:
        """What the procedure under check declares it implements (``perturbation_learning.capabilities``)."""
        return capabilities_of(self.procedure)

    def note_not_run(self, note: dict) -> None:
        """State one setting that was mapped or skipped because the procedure does not support it (a
        JSON-able dict: check, setting, reason, action); each once."""
        note = json_clean(note)
        if note not in self.not_run:
            self.not_run.append(note)

    def runnable(self, setting, check: str | None = None):
        """``setting`` (a ``checks.strategies.Setting``) as the procedure can run it: itself when supported,
        else mapped where the claim allows it (``Capabilities.map``: a fixed β at the same t), else None;
        a mapped or skipped one is stated (:meth:`note_not_run`) with the reason."""
        why = self.capabilities.why_not(setting.config)
        if why is None:
            return setting
        mapped = self.capabilities.map(setting.config)
        old, new = setting.config.to_dict(), None if mapped is None else mapped.to_dict()
        action = "skipped" if mapped is None else "mapped: " + ", ".join(
            f"{k} {old[k]} → {new[k]}" for k in old if old[k] != new[k])
        self.note_not_run({"check": check or current_check(), "setting": setting.describe(), "reason": why,
                           "action": action})
        return None if mapped is None else type(setting)(mapped, setting.seeds)

    def use_procedure(self, procedure) -> None:
        """Check ``procedure`` (a callable, or a 'module:object' string; None: the project's) from now on."""
        self.procedure = load_procedure(procedure) if isinstance(procedure, str) or procedure is None \
            else procedure

    @contextlib.contextmanager
    def checking_procedure(self, procedure):
        """Check ``procedure`` inside, then the one checked before."""
        saved = self.procedure
        self.use_procedure(procedure)
        try:
            yield self
        finally:
            self.procedure = saved

    @contextlib.contextmanager
    def without_conformance(self):
        """Train without checking R1–R7 first: for tests that show another claim's check failing on a
        planted bug that the conformance checks would report before it."""
        saved, self.conformance = self.conformance, False
        try:
            yield self
        finally:
            self.conformance = saved

    def emit(self, rec):
        """Buffer one record (a ``reporting.records.Record``) until the plugin drains it."""
        self.buffer.append(rec.to_jsonable())
        return rec

    def drain(self) -> list[str]:
        """The buffered records as JSON strings (what a test report carries), emptying the buffer."""
        out = [json.dumps(r, sort_keys=True) for r in self.buffer]
        self.buffer.clear()
        return out

    def pending(self) -> list[dict]:
        """Records not yet drained (tests that call a property directly read them here)."""
        return list(self.buffer)

    def discard(self) -> None:
        self.buffer.clear()

    def note_collapse(self, note: dict) -> None:
        """Note one collapsed pair (a JSON-able dict); the running check's name is added."""
        self.collapses.append(json_clean(dict(note, check=current_check())))

    def drain_collapses(self) -> list[str]:
        out = [json.dumps(n, sort_keys=True) for n in self.collapses]
        self.collapses.clear()
        return out

    def count_pairs(self, n: int) -> None:
        """Count trained (f, g) network pairs for the run's total."""
        self.pairs_trained += int(n)

    def add_seconds(self, kind: str, seconds: float) -> None:
        """Count seconds spent in one part of the checks (e.g. "conformance") for the run's metadata."""
        self.seconds[kind] = self.seconds.get(kind, 0.0) + float(seconds)

    def close(self) -> None:
        """Close the executor's client (and its embedded cluster) if one is open."""
        self.executor.close()


# The session of this process. A ContextVar rather than a plain global so that `begin` hands back a
# token and a test can run inside a session of its own (`started`) and restore the one it replaced.
_SESSION: ContextVar[CheckSession | None] = ContextVar("check_session", default=None)
# The running check. Read by every assertion, which is called deep inside properties that scripts
# call too, and under Hypothesis' @given, which rejects function-scoped fixtures: so it is not
# threaded through the calls; a ContextVar restores the outer check on every exit.
_CONTEXT: ContextVar[CheckContext] = ContextVar("check_context", default=CheckContext())


def current() -> CheckSession:
    """This process's session; a default one (the project's procedure) outside a pytest run."""
    session = _SESSION.get()
    if session is None:
        session = CheckSession()
        _SESSION.set(session)
    return session


def begin(session: CheckSession):
    """Make ``session`` this process's session; returns the token that :func:`end` takes."""
    return _SESSION.set(session)


def end(token) -> None:
    """Restore the session that :func:`begin` (whose token this is) replaced."""
    _SESSION.reset(token)


@contextlib.contextmanager
def started(session: CheckSession):
    """``session`` is this process's session inside; the one before it after."""
    token = begin(session)
    try:
        yield session
    finally:
        end(token)


@contextlib.contextmanager
def checking(check: str, claims=(), in_run: bool = False):
    """Records made inside carry ``check``; ``claims`` are the IDs the check may record. ``in_run``: a
    check item of the run, whose tests spend the run's budget (``Spending``); a unit test's check does not,
    so the levels a run's checks get never depend on which unit tests ran before them in a process."""
    token = _CONTEXT.set(CheckContext(check=check, claims=tuple(claims), in_run=in_run))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


@contextlib.contextmanager
def claim_scope(claim: str):
    """Records made inside are for ``claim`` (one property of a multi-claim check)."""
    context = _CONTEXT.get()
    # The conformance claims are checked on the pairs of every check that trains (checks.conformance).
    if context.claims and claim not in context.claims and claim not in CONFORMANCE_CLAIMS:
        raise ValueError(f"claim: {claim!r} is not among the check's claim markers {list(context.claims)}")
    token = _CONTEXT.set(CheckContext(check=context.check, claims=context.claims, claim=claim, in_run=context.in_run))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_check() -> str:
    return _CONTEXT.get().check


def current_claims() -> tuple:
    """The check's claim IDs (empty outside a test item)."""
    return _CONTEXT.get().claims


def current_claim() -> str:
    """The claim being tested: the property's scope, else the check's only claim marker."""
    context = _CONTEXT.get()
    if context.claim is not None:
        return context.claim
    if len(context.claims) == 1:
        return context.claims[0]
    raise ValueError(f"claim: no claim scope inside check {context.check!r} with claim markers "
                     f"{list(context.claims)}; decorate the property with checks.assertions.tests_claim")


def emit(rec):
    """Buffer one record in this process's session."""
    return current().emit(rec)
