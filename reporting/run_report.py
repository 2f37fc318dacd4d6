"""The report side of the check run: its command-line options, the files it writes and the baseline it
compares with.

``checks.plugin`` runs the checks and hands this module plain data once, on the controller: the records,
the checks' outcomes, the run's metadata and the claim verdicts (:meth:`RunReport.write`). Nothing here
knows the procedure under check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

OPTION_REPORT_DIR = "--report-dir"
OPTION_NO_REPORT = "--no-report"
OPTION_BASELINE = "--claims-baseline"
OPTION_BASELINE_STRICT = "--claims-baseline-strict"
OPTION_BASELINE_UPDATE = "--claims-baseline-update"
#: Where --claims-baseline-update writes without --claims-baseline, relative to the rootdir.
DEFAULT_BASELINE = Path("reports") / "baseline"
BASELINE_SECTION = "claim changes against the baseline"


def add_report_options(group) -> None:
    """The report's options, in the plugin's option group."""
    group.addoption(OPTION_REPORT_DIR, default="reports", help="where reports/<run-id>/ and latest/ go")
    group.addoption(OPTION_NO_REPORT, action="store_true", help="write no report files")
    group.addoption(OPTION_BASELINE, default=None, metavar="PATH",
                    help="compare the run claim by claim with a baseline run (its results.json or reports/<run>/); "
                         "the claim-change table goes into compare.md/json/png of the run and the terminal")
    group.addoption(OPTION_BASELINE_STRICT, action="store_true",
                    help="fail the run when a claim regressed against the baseline (default: report only)")
    group.addoption(OPTION_BASELINE_UPDATE, action="store_true",
                    help=f"write this run as the baseline (to --claims-baseline PATH, else {DEFAULT_BASELINE}/)")


def load_baseline(config):
    """The baseline document, read before any check trains; a UsageError (one line) when it is bad."""
    path = config.getoption(OPTION_BASELINE)
    if path is None or config.getoption(OPTION_BASELINE_UPDATE):
        return None
    from .compare import load_run

    try:
        return load_run(path, OPTION_BASELINE)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


class RunReport:
    """The run report of one check run, on the controller: the baseline loaded at configure time, then
    what :meth:`write` wrote and what the comparison with the baseline found."""

    def __init__(self, config):
        self.config = config
        self.baseline = load_baseline(config)
        self.path: Path | None = None
        self.baseline_written: Path | None = None
        self.comparison: dict | None = None
        self.comparison_error: str | None = None

    def write(self, records: list[dict], outcomes: dict, meta: dict, verdicts: dict) -> bool:
        """Write reports/<run-id>/ (and latest/), then the baseline or the comparison with it. True when
        the run must fail: a claim regressed against the baseline under --claims-baseline-strict."""
        config = self.config
        if config.getoption(OPTION_NO_REPORT):
            if self.baseline is not None or config.getoption(OPTION_BASELINE_UPDATE):
                self.comparison_error = f"{OPTION_NO_REPORT}: no results.json to compare or to keep"
            return False
        from .writer import write_run_report

        self.path = write_run_report(Path(config.getoption(OPTION_REPORT_DIR)), records, outcomes, meta, verdicts)
        if config.getoption(OPTION_BASELINE_UPDATE):
            from .compare_report import write_baseline

            target = Path(config.getoption(OPTION_BASELINE) or config.rootpath / DEFAULT_BASELINE)
            self.baseline_written = write_baseline(self.path / "results.json", target)
            return False
        if self.baseline is None:
            return False
        return self._compare() and bool(config.getoption(OPTION_BASELINE_STRICT))

    def _compare(self) -> bool:
        """Compare the written run with the baseline, write compare.* into the run (and latest/); True when
        a claim regressed. A baseline that cannot be compared (another profile) is reported, never
        silently passed; under --claims-baseline-strict it fails the run."""
        from .compare import compare_runs, load_run
        from .compare_report import write_comparison

        try:
            comparison = compare_runs(self.baseline, load_run(self.path, "this run"))
        except ValueError as exc:
            self.comparison_error = str(exc)
            return True
        for out in (self.path, self.path.parent / "latest"):
            write_comparison(comparison, out)
        self.comparison = comparison
        return comparison["regressed"]

    def summarise(self, tr) -> None:
        """The report's lines of the terminal summary (``tr``: pytest's terminal reporter)."""
        if self.path:
            tr.write_line(f"report: {self.path}/summary.md")
        if self.baseline_written:
            tr.write_line(f"baseline written: {self.baseline_written}")
        if self.comparison_error:
            tr.section(BASELINE_SECTION)
            tr.write_line(f"not compared: {self.comparison_error}")
        elif self.comparison:
            from .compare_report import terminal_lines

            tr.section(BASELINE_SECTION)
            for line in terminal_lines(self.comparison):
                tr.write_line(line)
            tr.write_line(f"comparison: {self.path}/compare.md")
