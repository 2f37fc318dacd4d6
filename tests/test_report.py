"""The check-run report: results.json, summary.md and records.md agree, the figures they link exist,
and an interrupted write never leaves half a results.json."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from checks import session
from perturbation_learning.files import atomic_write_text
from reporting import figures, writer
from reporting.analysis import analyse
from reporting.records import Record
from theory.claims import CLAIMS

ROOT = Path(__file__).resolve().parents[1]
VERDICTS = ("pass", "underpowered", "fail", "observed", "invalid")


def _record(claim, verdict, *, value=0.01, bound=0.05, statistic="share", measured=None, test="exact", **setting):
    return Record(claim=claim, check=f"test_{claim}_synthetic", setting=dict(setting), seeds=[1, 2],
                  statistic=statistic, value=value, bound=bound, verdict=verdict, inside=verdict != "observed",
                  coverage=0.5, ci=(0.0, 0.1), alpha=5e-7, n_pairs=2, test=None if verdict == "observed" else test,
                  **(measured or {})).to_jsonable()


def synthetic_records() -> list[dict]:
    recs = [_record("K1", "pass", value=1e-12, bound=1e-9, statistic="max |closed form − quadrature|")
            for _ in range(3)]
    recs.append(_record("K1", "fail", value=2e-9, bound=1e-9, statistic="max |closed form − quadrature|"))
    for d, v in ((50, 0.72), (200, 0.81)):
        recs.append(_record("D1", "pass", measured={"xi_ratio_max": v}, d=d, m=2000, gamma=0.0))
    recs.append(_record("D1", "observed", measured={"xi_ratio_max": 2.4}, d=100, m=100, gamma=0.0))
    recs.append(_record("D1", "invalid", value=None, bound=None, statistic="invalid run", measured={"reason": "x"}))
    recs.append(_record("L1", "pass", value=0.02, bound=0.25, statistic="‖f_t − lin‖/‖f_t − f_0‖ inside L2",
                        measured={"kappa": [0.05, 0.08]}))
    recs.append(_record("D4", "pass", value=-0.6, bound=0.0, statistic="log-log slope", test="t-interval",
                        measured={"slope": -0.6, "slope_ci": (-0.8, -0.4), "axis": "d", "detects": 0.0},
                        family="gauss"))
    recs.append(_record("C1", "observed", value=0.9, bound=None,
                        measured={"c2_margin": [0.5, 2.0], "agreement": [0.97, 1.0], "kappa": [0.1, 0.2]}))
    return recs


def _meta() -> dict:
    return {"started": 0.0, "finished": 1.0, "wall_seconds": 1.0, "profile": "ci", "hypothesis_seed": 7,
            "pairs_trained": 3, "workers": "1",
            "false_failure_budget": {"run": 1e-3, "per_assertion": 5e-7, "max_assertions": 2000},
            "versions": {"python": sys.version.split()[0]}, "machine": "test", "device": "cpu"}


def _outcomes() -> dict:
    return {"checks/test_x.py::test_K1_synthetic": {"outcome": "failed", "claims": ["K1"],
                                                    "longrepr": "AssertionError: K1 …"},
            "checks/test_x.py::test_D1_synthetic": {"outcome": "passed", "claims": ["D1"], "longrepr": None}}


def _summary_counts(summary: str) -> dict:
    """Per claim (records, pass, underpowered, fail, observed, invalid) from the claim-verdict table."""
    out = {}
    for line in summary.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 11 or cells[0] not in CLAIMS:
            continue
        # From the right (detects, target, verdict follow): a title may itself contain "|".
        counts = cells[-9:-3]
        if cells[-1] == "not exercised":  # a claim without records has empty counts
            assert cells[-9] == "0"
            continue
        if all(c.isdigit() for c in counts):
            out[cells[0]] = tuple(int(c) for c in counts)
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    records = synthetic_records()
    run_dir = writer.write_run_report(root, records, _outcomes(), _meta())
    return root, Path(run_dir), records


def test_report_files_exist_in_run_dir_and_latest(written):
    root, run_dir, _ = written
    for d in (run_dir, root / "latest"):
        assert (d / "results.json").is_file() and (d / "summary.md").is_file()
    assert (root / "latest" / "results.json").read_text() == (run_dir / "results.json").read_text()
    leftovers = [p.name for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.startswith((".latest", ".old"))]
    assert leftovers == []


def test_per_claim_counts_agree_between_json_summary_and_records(written):
    _, run_dir, records = written
    results = json.loads((run_dir / "results.json").read_text())
    in_summary = _summary_counts((run_dir / "summary.md").read_text())
    assert set(in_summary) == {r["claim"] for r in records} == set(results["claims"])
    for claim, row in results["claims"].items():
        expected = tuple([sum(r["claim"] == claim for r in records)]
                         + [sum(r["claim"] == claim and r["verdict"] == v for r in records) for v in VERDICTS])
        assert in_summary[claim] == expected
        assert (row["records"], *(row[v] for v in VERDICTS)) == expected
    assert results["claims"]["K1"]["verdict"] == "FAIL"
    assert len(results["records"]) == len(records)


def test_summary_and_records_link_existing_figures(written):
    _, run_dir, _ = written
    results = json.loads((run_dir / "results.json").read_text())
    emp = results["empirical"]
    assert emp["residual_D1"]["inside"]["C_xi"] == pytest.approx(0.81)
    assert emp["residual_D1"]["outside"]["C_xi"] == pytest.approx(2.4)  # the "observed" record
    assert emp["slopes"][0]["slope"] == pytest.approx(-0.6)
    assert {figures.FOREST, figures.EMPIRICAL_BOUNDS, "agreement_vs_kappa.png"} <= set(emp["figures"])
    assert "value_vs_bound.png" not in emp["figures"]       # replaced by the oriented forest plot
    links = set()
    for name in ("summary.md", "records.md"):
        links |= set(re.findall(r"\]\((figures/[^)]+\.png)\)", (run_dir / name).read_text()))
    assert sorted(links) == sorted(f"figures/{n}" for n in emp["figures"])
    for link in [*links, *emp["claim_figures"].values()]:
        assert (run_dir / link).read_bytes()[:4] == b"\x89PNG"
    assert set(emp["claim_figures"]) == {"K1", "L1", "D1", "D4"}   # the claims with a bound


def test_records_md_lists_every_record_and_the_summary_none(written):
    """Per-record detail lives in records.md (one row per record), not in summary.md."""
    _, run_dir, records = written
    detail = (run_dir / "records.md").read_text()
    summary = (run_dir / "summary.md").read_text()
    for r in records:
        assert f"| {r['check']} |" in detail
        assert f"| {r['check']} |" not in summary
    section = detail.split("## Records", 1)[1].split("## Failures", 1)[0]
    assert section.count("| test_K1_synthetic |") == 4


def test_empirical_analysis_of_records_without_measurements(tmp_path):
    """Records that measure nothing (every typed field None) give an analysis with no constants,
    slopes or agreement, and no figure but the forest plot; no records, no figure at all."""
    bare = [_record("K1", "pass"), _record("D1", "invalid", value=None, bound=None, measured={"reason": "x"})]
    a = analyse(bare)
    assert a.n_records == 2 and a.residual_D1 is None and a.lazy_error is None and a.slopes == []
    assert a.agreement_by_L2 is None and a.constants == []
    assert [r["claim"] for r in a.forest] == ["K1", "D1"] and a.to_json()["value_vs_bound_claims"] == ["K1"]
    json.dumps(a.to_json())
    assert figures.draw(analyse([]), tmp_path / "none") == {}
    assert not (tmp_path / "none").exists()


def test_record_fields_are_typed_and_json_clean():
    rec = Record(claim="D4", check="c", setting={}, seeds=[0], statistic="s", value=float("nan"), bound=0.0,
                 verdict="pass", inside=True, slope_ci=(-1.0, float("inf")))
    js = rec.to_jsonable()
    assert js["value"] is None and js["slope_ci"] == [-1.0, None] and js["detects"] is None
    assert "extra" not in js


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    atomic_write_text(target, json.dumps({"run": 1}))

    def crash(fd):  # the new text is already (partly) in the temporary file
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, json.dumps({"run": 2, "big": "x" * 100_000}))
    assert json.loads(target.read_text()) == {"run": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left either


def test_interrupted_report_leaves_no_results_json(tmp_path, monkeypatch):
    """json.dumps raising half-way (after the figures were drawn): no results.json in the run
    directory, and latest/ still holds the previous complete report."""
    root = tmp_path / "reports"
    first = writer.write_run_report(root, synthetic_records(), _outcomes(), _meta())
    before = (root / "latest" / "results.json").read_text()
    time.sleep(1.1)  # a new run id (timestamp + pid)

    def dumps(*args, **kwargs):
        raise RuntimeError("interrupted while serialising")

    monkeypatch.setattr(writer.json, "dumps", dumps)
    with pytest.raises(RuntimeError):
        writer.write_run_report(root, synthetic_records(), _outcomes(), _meta())
    runs = [p for p in root.iterdir() if p.is_dir() and p.name not in ("latest", Path(first).name)]
    assert len(runs) <= 1
    for run in runs:
        assert not (run / "results.json").exists() and not (run / "summary.md").exists()
    assert (root / "latest" / "results.json").read_text() == before
    json.loads(before)


def test_killed_writer_never_leaves_half_a_json(tmp_path):
    """A writer process killed (SIGKILL) between writing the temporary file and the rename leaves
    the previous complete results.json in place, at worst plus a hidden temporary file."""
    target = tmp_path / "results.json"
    atomic_write_text(target, json.dumps({"run": 1}))
    script = textwrap.dedent(f"""
        import json, os, sys, time
        from perturbation_learning.files import atomic_write_text
        real_fsync = os.fsync
        def slow_fsync(fd):
            real_fsync(fd)
            print("written", flush=True)
            time.sleep(60)
        os.fsync = slow_fsync
        atomic_write_text({str(target)!r}, json.dumps({{"run": 2, "big": "x" * 1_000_000}}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert proc.stdout.readline().strip() == "written"
        temps = [p for p in tmp_path.iterdir() if p.name != "results.json"]
        assert temps and temps[0].stat().st_size > 1_000_000  # the new text sits in the temp file
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert json.loads(target.read_text()) == {"run": 1}
    assert all(p.name.startswith(".results.json.") and p.name.endswith(".tmp")
               for p in tmp_path.iterdir() if p.name != "results.json")


def test_check_context_supplies_check_and_claim():
    """Inside a check the assertions take the check name and claim from the context: the only
    claim marker, or the property's scope; a scope outside the markers and an ambiguous claim fail."""
    from checks import assertions

    with session.checking("test_single", ("K1",)):
        rec = assertions.assert_exact(True, value=0.0, bound=1.0, statistic="s", setting={})
    assert (rec.claim, rec.check) == ("K1", "test_single")
    with session.checking("test_multi", ("P1", "P2")):
        with pytest.raises(ValueError, match="no claim scope"):
            assertions.observe(value=1.0, statistic="s", setting={}, seeds=[], reason="r")
        with pytest.raises(ValueError, match="not among"):
            with session.claim_scope("D1"):
                pass
        rec = assertions.tests_claim("P2")(
            lambda: assertions.observe(value=1.0, statistic="s", setting={}, seeds=[], reason="r"))()
    assert (rec.claim, rec.check) == ("P2", "test_multi")
    assert session.current_check() == session.DIRECT_CALL
    session.current().discard()
