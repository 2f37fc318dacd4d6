"""What a procedure's declaration leaves unchecked reaches every view of the report: each skipped check with
its reason, and each part of a claim's statement the declared attacks never run (R2's PGD ball for a
procedure without PGD), in summary.md, records.md, report.html, the claim titles and results.json's
``meta.not_checked``; a run written before the plugin stored them gets them from its outcomes and its
declared capabilities. One light end-to-end run of the PGD check on ``examples/reference_torch.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from reporting import scope, writer

sys.path.insert(0, str(Path(__file__).parent))
from test_report import _meta, synthetic_records  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PGD_CHECK = "checks/test_attacks.py::test_R2_pgd_perturbations_stay_in_their_ball"
DECLARED = {"attacks": ["l2-one-step", "random", "shuffled"], "momentum": None, "bias": True}
REASON = "not checked: the procedure does not support attack '{}' (attacks: l2-one-step, random, shuffled)"
PART = "PGD: not checked, the procedure does not implement it"


def _outcomes(with_reason: bool = True) -> dict:
    out = {"checks/test_x.py::test_D1_synthetic": {"outcome": "passed", "claims": ["D1"], "longrepr": None}}
    for attack in ("pgd-l2", "pgd-linf"):
        out[f"{PGD_CHECK}[{attack}]"] = dict({"outcome": "skipped", "claims": ["P3"], "longrepr": None},
                                             **({"skipped": REASON.format(attack)} if with_reason else {}))
    return out


def _declared_meta(outcomes: dict) -> dict:
    """The metadata the plugin writes for a procedure that declares no PGD (``checks.plugin.run_metadata``)."""
    return dict(_meta(), run_id="t", capabilities=DECLARED,
                not_checked={"strata": {}, "claims": {}, "settings": [], "checks": scope.skipped_checks(outcomes),
                             "parts": scope.unchecked_parts(DECLARED)})


def _lines_naming(text: str, needle: str) -> list[str]:
    return [ln for ln in text.splitlines() if needle in ln]


def test_skipped_checks_and_unchecked_parts_reach_every_view(tmp_path):
    outcomes = _outcomes()
    run = writer.write_report_files(tmp_path, synthetic_records(), outcomes, _declared_meta(outcomes))
    summary, detail = (run / "summary.md").read_text(), (run / "records.md").read_text()
    html = (run / "report.html").read_text()
    # summary.md: one paragraph (it stays one page); records.md: a section, one item a line.
    (para,) = _lines_naming(summary, "**Not checked for this procedure.**")
    assert "## Not checked for this procedure" in detail and f"- R2: {PART}" in detail
    for attack in ("pgd-l2", "pgd-linf"):
        said = f"check {PGD_CHECK}[{attack}] (P3) skipped: the procedure does not support attack '{attack}'"
        assert said in para and any(ln.startswith(f"- {said}") for ln in detail.splitlines())
    assert f"; R2: {PART}" in para
    for text in (summary, detail):
        # R2's title says what is checked of it for this procedure, not "PGD inside its ε-ball" alone.
        (r2,) = [ln for ln in text.splitlines() if ln.startswith("| R2 |")]
        assert f"PGD inside its ε-ball; controls as documented (for this procedure: {PART})" in r2
    assert 'id="not-checked"' in html and html.count(f"{PGD_CHECK}[pgd-l2]") >= 2   # the section, Hypothesis' view
    assert f"(for this procedure: {PART})" in html
    # Hypothesis' view per check says why a check ran no example.
    assert "skipped: the procedure does not support attack &#39;pgd-linf&#39;" in html
    meta = json.loads((run / "results.json").read_text())["meta"]["not_checked"]
    assert set(meta["checks"]) == {f"{PGD_CHECK}[pgd-l2]", f"{PGD_CHECK}[pgd-linf]"}
    assert meta["checks"][f"{PGD_CHECK}[pgd-l2]"] == {"claims": ["P3"], "reason": REASON.format("pgd-l2")}
    assert meta["parts"] == {"R2": PART}


def test_a_run_written_before_gets_them_from_its_outcomes_and_capabilities():
    nc = scope.not_checked(dict(_meta(), capabilities=DECLARED), _outcomes(with_reason=False))
    assert set(nc["checks"]) == {f"{PGD_CHECK}[pgd-l2]", f"{PGD_CHECK}[pgd-linf]"}
    assert nc["checks"][f"{PGD_CHECK}[pgd-l2]"]["reason"] == "reason not recorded" and nc["parts"] == {"R2": PART}


def test_an_undeclared_procedure_has_nothing_unchecked_and_no_section(tmp_path):
    assert scope.unchecked_parts(None) == {} and scope.unchecked_parts({"attacks": None}) == {}
    only_l2 = scope.unchecked_parts({"attacks": ["l2-one-step", "pgd-l2", "random", "shuffled"]})
    assert only_l2 == {"R2": "pgd-linf: not checked, the procedure does not implement it"}
    no_controls = scope.unchecked_parts({"attacks": ["l2-one-step", "pgd-l2", "pgd-linf"]})["R2"]
    assert "the random-direction control: not checked" in no_controls and "the shuffled control" in no_controls
    outcomes = {"checks/test_x.py::test_D1_synthetic": {"outcome": "passed", "claims": ["D1"], "longrepr": None}}
    run = writer.write_report_files(tmp_path, synthetic_records(), outcomes, dict(_meta(), run_id="t"))
    assert "Not checked for this procedure" not in (run / "summary.md").read_text()
    assert "(for this procedure:" not in (run / "summary.md").read_text()


def test_a_check_run_on_a_procedure_without_pgd_states_both_skips(tmp_path):
    """End to end: the PGD check on examples/reference_torch.py (no PGD declared) skips both attacks at their
    first draw; results.json, summary.md and report.html name each with its reason and R2's unchecked part."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("HYPOTHESIS_PROFILE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:randomly", "checks/test_attacks.py",
         "--procedure", "examples.reference_torch:procedure", "--hypothesis-profile=ci-smoke",
         "--report-dir", str(tmp_path / "reports")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "2 skipped" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    latest = tmp_path / "reports" / "latest"
    nc = json.loads((latest / "results.json").read_text())["meta"]["not_checked"]
    for attack in ("pgd-l2", "pgd-linf"):
        assert f"support attack '{attack}'" in nc["checks"][f"{PGD_CHECK}[{attack}]"]["reason"]
    assert nc["parts"] == {"R2": PART}
    summary = (latest / "summary.md").read_text()
    assert len(_lines_naming(summary, f"{PGD_CHECK}[pgd-linf]")) == 1 and f"R2: {PART}" in summary
    assert f"(for this procedure: {PART})" in (latest / "report.html").read_text()
