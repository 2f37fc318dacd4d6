"""pytest plugin: claim markers, per-example records, and the run report (reports/<run-id>/).

Flow (after Hypothesis' and pytest-xdist's plugins):
- around each test call, ``pytest_runtest_call`` enters ``records.checking`` with the test's name
  and its ``claim`` markers, so assertions know their check and claim without being told;
- assertions append records to the per-process buffer (``reporting.records``); a
  ``pytest_runtest_makereport`` hookwrapper drains it into ``report.user_properties`` as JSON
  strings, which xdist carries from the workers to the controller;
- the controller gathers them in ``pytest_runtest_logreport`` and writes the report once, in
  ``pytest_sessionfinish``; workers write nothing. Pair counts travel via ``config.workeroutput``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from pathlib import Path

import pytest

from theory.tolerances import ALPHA, CONFORMANCE_CLAIMS, MAX_ASSERTIONS_PER_RUN, RUN_BUDGET

from . import records

RECORD_KEY = "claim_record"
CLAIMS_KEY = "claims"
COLLAPSE_KEY = "collapsed_pair"
OPTION_REPORT_DIR = "--report-dir"
OPTION_NO_REPORT = "--no-report"
OPTION_PROCEDURE = "--procedure"
OPTION_BASELINE = "--claims-baseline"
OPTION_BASELINE_STRICT = "--claims-baseline-strict"
OPTION_BASELINE_UPDATE = "--claims-baseline-update"
#: Where --claims-baseline-update writes without --claims-baseline, relative to the rootdir.
DEFAULT_BASELINE = Path("reports") / "baseline"
_STATE: dict = {"records": [], "outcomes": {}, "pairs": 0, "started": None, "collapses": []}


def pytest_addoption(parser):
    group = parser.getgroup("claims", "perturbation-learning claim reports")
    group.addoption(OPTION_REPORT_DIR, default="reports", help="where reports/<run-id>/ and latest/ go")
    group.addoption(OPTION_NO_REPORT, action="store_true", help="write no report files")
    group.addoption(OPTION_PROCEDURE, default=None, metavar="MODULE:OBJECT",
                    help="the procedure to check (perturbation_learning.procedure.Procedure); default: the "
                         "project's batched trainer, perturbation_learning.run:perturbation_learning")
    group.addoption(OPTION_BASELINE, default=None, metavar="PATH",
                    help="compare the run claim by claim with a baseline run (its results.json or reports/<run>/); "
                         "the claim-change table goes into compare.md/json/png of the run and the terminal")
    group.addoption(OPTION_BASELINE_STRICT, action="store_true",
                    help="fail the run when a claim regressed against the baseline (default: report only)")
    group.addoption(OPTION_BASELINE_UPDATE, action="store_true",
                    help=f"write this run as the baseline (to --claims-baseline PATH, else {DEFAULT_BASELINE}/)")


def checked_procedure(config) -> str:
    """'module:object' of the procedure under check; a UsageError if it cannot be loaded."""
    from perturbation_learning.procedure import load_procedure, procedure_name

    try:
        return procedure_name(load_procedure(config.getoption(OPTION_PROCEDURE)))
    except (ValueError, TypeError) as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(*ids): the THEORY.md claim IDs a check tests")
    _STATE["started"] = time.time()
    _STATE["procedure"] = checked_procedure(config)
    if not hasattr(config, "workerinput"):
        _STATE["baseline"] = _load_baseline(config)


def _load_baseline(config):
    """The baseline document, read before any check trains; a UsageError (one line) when it is bad."""
    path = config.getoption(OPTION_BASELINE)
    if path is None or config.getoption(OPTION_BASELINE_UPDATE):
        return None
    from .compare import load_run

    try:
        return load_run(path, OPTION_BASELINE)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config):
    return [f"procedure checked: {_STATE['procedure']}"]


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    claims = claim_ids_of(item)
    if not claims:
        yield
        return
    with records.checking(check_name_of(item), claims):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when == "call" or (call.when == "teardown" and records.pending()):
        for rec in records.drain():
            report.user_properties.append((RECORD_KEY, rec))
        for note in records.drain_collapses():
            report.user_properties.append((COLLAPSE_KEY, note))
    if call.when in ("call", "teardown"):
        report.user_properties.append((CLAIMS_KEY, ",".join(claim_ids_of(item))))


def pytest_runtest_logreport(report):
    claims = dict(report.user_properties).get(CLAIMS_KEY, "")
    # Records of unit tests that call a property directly (planted bugs) never enter the run's
    # records: their deliberate failures would otherwise fail the pooled claim verdicts.
    if not claims:
        return
    if report.when == "call" or report.user_properties:
        for key, value in report.user_properties:
            if key == RECORD_KEY:
                rec = json.loads(value)
                rec["nodeid"] = report.nodeid
                _STATE["records"].append(rec)
            elif key == COLLAPSE_KEY:
                _STATE["collapses"].append(dict(json.loads(value), nodeid=report.nodeid))
    # Only checks (tests with claim markers) make a run a check run: the plugin is installed for
    # every pytest session (entry point), and a unit-test run writes no report.
    if report.when == "call" and claims:
        _STATE["outcomes"][report.nodeid] = {
            "outcome": report.outcome, "claims": [c for c in claims.split(",") if c],
            "duration": report.duration,
            "longrepr": str(report.longrepr)[-4000:] if report.failed else None,
        }


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if hasattr(config, "workerinput"):  # xdist worker: hand the pair count to the controller
        config.workeroutput["pairs_trained"] = records.pairs_trained()
        config.workeroutput["seconds"] = records.seconds_spent()
        return
    _STATE["pairs"] += records.pairs_trained()
    _add_seconds(records.seconds_spent())
    if not _STATE["outcomes"]:
        return
    conclusion = conclude_claims(require_verified=selects_whole_suite(config))
    if not conclusion.ok and session.exitstatus == 0:
        session.exitstatus = exitstatus = pytest.ExitCode.TESTS_FAILED
    if config.getoption(OPTION_NO_REPORT):
        if _STATE.get("baseline") is not None or config.getoption(OPTION_BASELINE_UPDATE):
            _STATE["comparison_error"] = f"{OPTION_NO_REPORT}: no results.json to compare or to keep"
        return
    from .writer import write_run_report

    meta = run_metadata(config)
    meta["exitstatus"] = int(exitstatus)
    meta["collapsed_pairs"] = _STATE["collapses"]
    meta["false_failure_budget"].update(tests_made=conclusion.tests_made, spent=conclusion.budget_spent)
    path = write_run_report(Path(config.getoption(OPTION_REPORT_DIR)), _STATE["records"], _STATE["outcomes"], meta,
                            conclusion.claims)
    session.config._claims_report_path = path
    if config.getoption(OPTION_BASELINE_UPDATE):
        _write_baseline(config, path)
    elif _STATE.get("baseline") is not None and _compare_with_baseline(config, root=path.parent, run_dir=path):
        if config.getoption(OPTION_BASELINE_STRICT) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _write_baseline(config, run_dir: Path) -> None:
    from .compare_report import write_baseline

    target = Path(config.getoption(OPTION_BASELINE) or config.rootpath / DEFAULT_BASELINE)
    _STATE["baseline_written"] = write_baseline(run_dir / "results.json", target)


def _compare_with_baseline(config, root: Path, run_dir: Path) -> bool:
    """Compare the written run with the baseline, write compare.* into the run (and latest/); True when a
    claim regressed. A baseline that cannot be compared (another profile) is reported, never silently
    passed; under --claims-baseline-strict it fails the run."""
    from .compare import compare_runs, load_run
    from .compare_report import write_comparison

    try:
        comparison = compare_runs(_STATE["baseline"], load_run(run_dir, "this run"))
    except ValueError as exc:
        _STATE["comparison_error"] = str(exc)
        return True
    for out in (run_dir, root / "latest"):
        write_comparison(comparison, out)
    _STATE["comparison"] = comparison
    return comparison["regressed"]


def conclude_claims(require_verified: bool):
    """Claim-level verdicts over the claims the run's checks named (``reporting.verdicts``); the pooled
    records join the run's records. A failed claim fails the run; a not-verified one fails a run of the
    whole suite (``require_verified``), not a run of a few checks."""
    from .verdicts import conclude

    named = {c for o in _STATE["outcomes"].values() for c in o["claims"]}
    # The conformance claims have no marker: every check that trains records them. A whole-suite run
    # without any of their records concludes them "not verified".
    named |= {r["claim"] for r in _STATE["records"] if r["claim"] in CONFORMANCE_CLAIMS}
    if require_verified:
        named |= set(CONFORMANCE_CLAIMS)
    named = sorted(named)
    conclusion = conclude(named, _STATE["records"], require_verified=require_verified)
    _STATE["records"].extend(conclusion.pooled)
    _STATE["conclusion"] = conclusion
    return conclusion


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent under -p no:xdist
def pytest_testnodedown(node, error):
    _STATE["pairs"] += int(getattr(node, "workeroutput", {}).get("pairs_trained", 0))
    _add_seconds(getattr(node, "workeroutput", {}).get("seconds", {}))


def _add_seconds(spent: dict) -> None:
    """Seconds spent per part of the checks (summed over workers: CPU seconds of the run)."""
    total = _STATE.setdefault("seconds", {})
    for kind, secs in spent.items():
        total[kind] = total.get(kind, 0.0) + float(secs)


def run_metadata(config) -> dict:
    import hypothesis
    import numpy
    import torch

    return {
        "started": _STATE["started"], "finished": time.time(),
        "wall_seconds": time.time() - (_STATE["started"] or time.time()),
        "profile": hypothesis.settings._current_profile, "hypothesis_seed": config.getoption("hypothesis_seed", None),
        "pairs_trained": _STATE["pairs"], "seconds_in": dict(_STATE.get("seconds", {})), "workers": str(getattr(config.option, "numprocesses", None) or 1),
        "false_failure_budget": {"run": RUN_BUDGET, "per_assertion": ALPHA, "max_assertions": MAX_ASSERTIONS_PER_RUN},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "numpy": numpy.__version__, "hypothesis": hypothesis.__version__},
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "device": "cpu",
        "args": list(config.invocation_params.args),
        "procedure": _STATE["procedure"], **git_revision(config.rootpath),
    }


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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    per_claim = Counter(r["claim"] for r in _STATE["records"])
    verdicts = Counter((r["claim"], r["verdict"]) for r in _STATE["records"])
    if not per_claim:
        return
    tr = terminalreporter
    tr.section("claims exercised")
    for claim in sorted(per_claim):
        detail = ", ".join(f"{v}={verdicts[(claim, v)]}" for v in records.VERDICTS if verdicts[(claim, v)])
        tr.write_line(f"{claim:16s} {per_claim[claim]:4d} records  ({detail})")
    conclusion = _STATE.get("conclusion")
    if conclusion is not None:
        from .verdicts import budget_line

        tr.section("claim verdicts (pooled over examples, at target power)")
        for claim, v in conclusion.claims.items():
            power = "" if v.get("best_detects") is None else f"  detects {v['best_detects']:.3g}" + (
                "" if v.get("target") is None else f" (target {v['target']:.3g})")
            reason = f" — {v['reason']}" if v.get("reason") else ""
            tr.write_line(f"{claim:16s} {v['verdict']}{reason}{power}")
        tr.write_line(budget_line(conclusion))
    tr.write_line(f"network pairs trained: {_STATE['pairs']}")
    if _STATE.get("seconds", {}).get("conformance"):
        tr.write_line(f"R1–R6 conformance checks: {_STATE['seconds']['conformance']:.1f} s (summed over workers)")
    tr.write_line(f"procedure checked: {_STATE['procedure']}")
    path = getattr(config, "_claims_report_path", None)
    if path:
        tr.write_line(f"report: {path}/summary.md")
    _baseline_summary(tr, path)


def _baseline_summary(tr, path) -> None:
    if _STATE.get("baseline_written"):
        tr.write_line(f"baseline written: {_STATE['baseline_written']}")
    if _STATE.get("comparison_error"):
        tr.section("claim changes against the baseline")
        tr.write_line(f"not compared: {_STATE['comparison_error']}")
    elif _STATE.get("comparison"):
        from .compare_report import terminal_lines

        tr.section("claim changes against the baseline")
        for line in terminal_lines(_STATE["comparison"]):
            tr.write_line(line)
        tr.write_line(f"comparison: {path}/compare.md")
