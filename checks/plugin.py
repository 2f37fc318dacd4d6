"""pytest plugin of the check run: claim markers, the session, per-example records, and the run report.

Flow (after Hypothesis' and pytest-xdist's plugins):
- ``pytest_configure`` makes the process's :class:`checks.session.CheckSession` (the procedure of
  ``--procedure``, the executor of ``--executor``) and registers a :class:`ClaimRun` bound to it;
- around each test call, ``pytest_runtest_call`` enters ``session.checking`` with the test's name and
  its ``claim`` markers, so assertions know their check and claim without being told;
- assertions buffer records in the session; a ``pytest_runtest_makereport`` hookwrapper drains them
  into ``report.user_properties`` as JSON strings, which xdist carries from the workers to the controller;
- the controller gathers them in ``pytest_runtest_logreport``, concludes every claim and hands the
  records, outcomes and metadata to ``reporting.run_report`` once, in ``pytest_sessionfinish``; workers
  write nothing. Pair counts travel via ``config.workeroutput``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from reporting.records import VERDICTS
from reporting.run_report import RunReport, add_report_options
from reporting.scope import skip_reason
from theory.tolerances import CONFORMANCE_CLAIMS

from .metadata import not_checked, not_checked_of, run_metadata  # noqa: F401  (not_checked: read by the tests)

RECORD_KEY = "claim_record"
CLAIMS_KEY = "claims"
COLLAPSE_KEY = "collapsed_pair"
HYPOTHESIS_KEY = "hypothesis_view"
_PAIRS_AT_START = pytest.StashKey[int]()
_NOT_RUN_AT_START = pytest.StashKey[int]()  # the settings stated as not run before the test's call
OPTION_PROCEDURE = "--procedure"
OPTION_EXECUTOR = "--executor"
#: The name the run's :class:`ClaimRun` is registered under with pytest's plugin manager.
CLAIM_RUN = "claim-run"


def pytest_addoption(parser):
    group = parser.getgroup("claims", "perturbation-learning claim reports")
    add_report_options(group)
    group.addoption(OPTION_PROCEDURE, default=None, metavar="MODULE:OBJECT",
                    help="the procedure to check (perturbation_learning.procedure.Procedure); default: the "
                         "project's batched trainer, perturbation_learning.run:perturbation_learning")
    group.addoption(OPTION_EXECUTOR, default=None, metavar="serial|local|ADDRESS",
                    help="where the checks train their pairs: in this process, an embedded Dask cluster or an "
                         "existing one (tcp://HOST:8786); default: the paper profile uses Dask, the others "
                         "run in-process (checks/remote.py)")


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(*ids): the THEORY.md claim IDs a check tests")
    from .session import CheckSession

    session = CheckSession(procedure=_load_procedure(config))
    try:
        session.executor.use(config.getoption(OPTION_EXECUTOR))
    except (ValueError, TypeError) as exc:
        raise pytest.UsageError(f"{OPTION_EXECUTOR}: {exc}") from None
    config.pluginmanager.register(ClaimRun(config, session), CLAIM_RUN)


def _load_procedure(config):
    """The procedure of ``--procedure``; a UsageError (one line) if it cannot be loaded."""
    from perturbation_learning.procedure import load_procedure

    try:
        return load_procedure(config.getoption(OPTION_PROCEDURE))
    except (ValueError, TypeError) as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_unconfigure(config):
    run = config.pluginmanager.get_plugin(CLAIM_RUN)
    if run is not None:
        run.close()
        config.pluginmanager.unregister(run, CLAIM_RUN)


def claim_ids_of(item) -> list[str]:
    return [i for m in item.iter_markers("claim") for i in m.args]


def check_name_of(item) -> str:
    """The check's name: the test function's name (without parameters)."""
    return getattr(item, "originalname", None) or item.name


def selects_whole_suite(config) -> bool:
    """The run selects the whole check suite (checks/, no -k, -m or node ids)."""
    return not config.getoption("keyword") and not config.getoption("markexpr") and \
        all("::" not in a for a in config.args) and any(Path(a).name == "checks" or a.rstrip("/").endswith("checks")
                                                       for a in config.args)


def pytest_collection_modifyitems(session, config, items):
    """Every registered claim needs a check; fail collection otherwise."""
    from theory.claims import CLAIMS

    named = {cid for item in items for cid in claim_ids_of(item)}
    unknown = named - set(CLAIMS)
    if unknown:
        raise pytest.UsageError(f"checks name unknown claim IDs {sorted(unknown)}")
    missing = set(CLAIMS) - named - set(CONFORMANCE_CLAIMS)  # checked on every check's pairs
    if selects_whole_suite(config) and named and missing:  # a directory with no claim markers is no check suite
        raise pytest.UsageError(f"claims without a check: {sorted(missing)}")


class ClaimRun:
    """The hooks of one check run, bound to its session (a worker's or the controller's) and, on the
    controller, to its report."""

    def __init__(self, config, session):
        from . import session as sessions

        self.config, self.session = config, session
        self.started = time.time()
        self.is_worker = hasattr(config, "workerinput")
        self.report = None if self.is_worker else RunReport(config)
        self.conclusion = None
        self._token = sessions.begin(session)

    def close(self) -> None:
        from . import session as sessions

        self.session.close()
        sessions.end(self._token)

    def pytest_sessionstart(self, session):
        """The process's share of the per-example budget and whether verdicts are asserted, once the
        Hypothesis profile is loaded."""
        import hypothesis

        from .profiles import test_horizon
        from .session import Spending
        from .strategies import is_smoke_run

        profile = hypothesis.settings.get_current_profile_name()
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) if self.is_worker else 1
        self.session.levels = Spending.for_process(test_horizon(profile), workers)
        self.session.asserts_verdicts = not is_smoke_run(profile)

    def pytest_report_header(self, config):
        return [f"procedure checked: {self.session.procedure_name}", *declaration_lines(self.session)]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        from .session import checking

        claims = claim_ids_of(item)
        if not claims:
            yield
            return
        item.stash[_PAIRS_AT_START] = self.session.pairs_trained
        item.stash[_NOT_RUN_AT_START] = len(self.session.not_run)
        with checking(check_name_of(item), claims, in_run=True):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        _skip_if_unsupported(report, item, call, self.session)
        if call.when == "call" or (call.when == "teardown" and self.session.pending()):
            for rec in self.session.drain():
                report.user_properties.append((RECORD_KEY, rec))
            for note in self.session.drain_collapses():
                report.user_properties.append((COLLAPSE_KEY, note))
        if call.when == "call" and _PAIRS_AT_START in item.stash:
            view = dict(hypothesis_view(getattr(item, "hypothesis_statistics", None)),
                        pairs=self.session.pairs_trained - item.stash[_PAIRS_AT_START])
            inner = getattr(getattr(getattr(item, "obj", None), "hypothesis", None), "inner_test", None)
            if inner is not None:   # Hypothesis' statistics leave out the explicit phase: its @example count
                view["explicit"] = len(getattr(inner, "hypothesis_explicit_examples", ()))
            report.user_properties.append((HYPOTHESIS_KEY, json.dumps(view)))
        if call.when in ("call", "teardown"):
            report.user_properties.append((CLAIMS_KEY, ",".join(claim_ids_of(item))))

    def pytest_runtest_logreport(self, report):
        claims = dict(report.user_properties).get(CLAIMS_KEY, "")
        # Records of unit tests that call a property directly (planted bugs) never enter the run's
        # records: their deliberate failures would otherwise fail the pooled claim verdicts. Only checks
        # (tests with claim markers) make a run a check run: the plugin is installed for every pytest
        # session (entry point), and a unit-test run writes no report.
        if not claims:
            return
        gathered = self.session.gathered
        for key, value in report.user_properties:
            if key == RECORD_KEY:
                gathered.records.append(dict(json.loads(value), nodeid=report.nodeid))
            elif key == COLLAPSE_KEY:
                gathered.collapses.append(dict(json.loads(value), nodeid=report.nodeid))
            elif key == HYPOTHESIS_KEY:
                gathered.hypothesis[report.nodeid] = json.loads(value)
        if report.when == "call":
            gathered.outcomes[report.nodeid] = {
                "outcome": report.outcome, "claims": [c for c in claims.split(",") if c],
                "duration": report.duration,
                "longrepr": str(report.longrepr)[-4000:] if report.failed else None,
                **({"skipped": skip_reason(report.longrepr)} if report.skipped else {}),  # for meta.not_checked
            }

    @pytest.hookimpl(optionalhook=True)  # an xdist hook: absent under -p no:xdist
    def pytest_testnodedown(self, node, error):
        out = getattr(node, "workeroutput", {})
        self.session.gathered.add_counts(out.get("pairs_trained", 0), out.get("seconds", {}))
        for note in out.get("not_run", ()):
            self.session.note_not_run(note)

    def pytest_sessionfinish(self, session, exitstatus):
        config, gathered = session.config, self.session.gathered
        if self.is_worker:  # hand the pair count to the controller
            config.workeroutput["pairs_trained"] = self.session.pairs_trained
            config.workeroutput["seconds"] = dict(self.session.seconds)
            config.workeroutput["not_run"] = list(self.session.not_run)
            return
        gathered.add_counts(self.session.pairs_trained, self.session.seconds)
        if not gathered.outcomes:
            return
        conclusion = self.conclude_claims(require_verified=selects_whole_suite(config))
        # A smoke run shows that every check runs; its verdicts are recorded, never asserted.
        if not conclusion.ok and session.exitstatus == 0 and self.session.asserts_verdicts:
            session.exitstatus = exitstatus = pytest.ExitCode.TESTS_FAILED
        meta = run_metadata(config, self.session, self.started)
        meta["exitstatus"] = int(exitstatus)
        meta["collapsed_pairs"] = gathered.collapses
        meta["hypothesis"] = gathered.hypothesis
        meta["false_failure_budget"].update(conclusion.budget.to_json())
        if self.report.write(gathered.records, gathered.outcomes, meta, conclusion.claims) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def conclude_claims(self, require_verified: bool):
        """Claim-level verdicts over the claims the run's checks named (``reporting.verdicts``); the pooled
        records join the run's records. A failed claim fails the run; a not-verified one fails a run of
        the whole suite (``require_verified``), not a run of a few checks."""
        from reporting.verdicts import conclude

        gathered = self.session.gathered
        named = {c for o in gathered.outcomes.values() for c in o["claims"]}
        # The conformance claims have no marker: every check that trains records them. A whole-suite run
        # without any of their records concludes them "not verified".
        named |= {r["claim"] for r in gathered.records if r["claim"] in CONFORMANCE_CLAIMS}
        if require_verified:
            named |= set(CONFORMANCE_CLAIMS)
        conclusion = conclude(sorted(named), gathered.records, require_verified=require_verified,
                              not_checked=not_checked_of(self.session))
        gathered.records.extend(conclusion.pooled)
        self.conclusion = conclusion
        return conclusion

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if self.is_worker:
            return
        records = self.session.gathered.records
        per_claim = Counter(r["claim"] for r in records)
        verdicts = Counter((r["claim"], r["verdict"]) for r in records)
        if not per_claim:
            return
        tr = terminalreporter
        tr.section("claims exercised")
        for claim in sorted(per_claim):
            detail = ", ".join(f"{v}={verdicts[(claim, v)]}" for v in VERDICTS if verdicts[(claim, v)])
            tr.write_line(f"{claim:16s} {per_claim[claim]:4d} records  ({detail})")
        if self.conclusion is not None:
            from reporting.verdicts import budget_line

            tr.section("claim verdicts (pooled over examples, at target power)")
            for claim, v in self.conclusion.claims.items():
                power = "" if v.get("best_detects") is None else f"  detects {v['best_detects']:.3g}" + (
                    "" if v.get("target") is None else f" (target {v['target']:.3g})")
                reason = f" — {v['reason']}" if v.get("reason") else ""
                tr.write_line(f"{claim:16s} {v['verdict']}{reason}{power}")
            tr.write_line(budget_line(self.conclusion))
        seconds = self.session.gathered.seconds
        tr.write_line(f"network pairs trained: {self.session.gathered.pairs}")
        if seconds.get("conformance"):
            tr.write_line(f"R1–R7 conformance checks: {seconds['conformance']:.1f} s (summed over workers)")
        tr.write_line(f"procedure checked: {self.session.procedure_name}")
        self.report.summarise(tr)


_PHASE = re.compile(r"^\s*- during (\w+) phase \(([\d.]+) seconds\)")
_CASES = re.compile(r"^\s*- (\d+) passing, (\d+) failing, and (\d+) invalid test cases")
_STOPPED = re.compile(r"^\s*- Stopped because (.*)$")


def hypothesis_view(text: str | None) -> dict:
    """Hypothesis' statistics of one test (the text ``--hypothesis-show-statistics`` prints, which its
    pytest plugin leaves on the item): test cases per phase (reuse, generate, shrink, …),
    invalid draws over all phases, seconds and why it stopped. {} without statistics."""
    out: dict = {}
    phase = None
    for line in (text or "").splitlines():
        if m := _PHASE.match(line):
            phase = m.group(1)
            out["seconds"] = out.get("seconds", 0.0) + float(m.group(2))
        elif (m := _CASES.match(line)) and phase:
            valid, failing, invalid = (int(x) for x in m.groups())
            out[phase] = out.get(phase, 0) + valid + failing + invalid
            out["invalid"] = out.get("invalid", 0) + invalid
        elif m := _STOPPED.match(line):
            out["stopped"] = m.group(1).strip()
    if out:
        out.setdefault("invalid", 0)
    return out


def declaration_lines(session) -> list[str]:
    """The header's statement of what the run checks of the procedure and what not, with the reasons."""
    caps = session.capabilities
    if not caps.declared:
        return ["declared capabilities: none (held to every setting)"]
    nc = not_checked_of(session)
    return [f"declared capabilities: {caps.describe()}"] + \
        [f"not checked: stratum {cell}: {why}" for cell, why in nc["strata"].items()] + \
        [f"not checked: claim {claim}: {why}" for claim, why in nc["claims"].items()] + \
        [f"not run: settings with {field} {', '.join(values)} (skipped, stated in results.json meta.not_checked)"
         for field, values in caps.excluded_values().items() if values]


def _skip_if_unsupported(report, item, call, session) -> None:
    """A check whose every example the procedure's declaration rules out (Hypothesis: Unsatisfiable) is
    skipped with the reason the harness stated, not failed."""
    from hypothesis.errors import Unsatisfiable

    if call.when != "call" or call.excinfo is None or not call.excinfo.errisinstance(Unsatisfiable):
        return
    reasons = sorted({n["reason"] for n in session.not_run[item.stash.get(_NOT_RUN_AT_START, 0):]})
    if reasons:
        report.outcome, report.longrepr = "skipped", (str(item.path), item.location[1] or 0,
                                                      "Skipped: not checked: " + "; ".join(reasons))
