"""Make the planted-δ fixtures of tests/test_compare_drifts.py by the real mechanism.

    cd <checkout> && PYTHONPATH=tests/data PLANT_DELTA=0.02 python -m pytest -n 2 -p delta_plugin \\
        checks/test_thm34_scenario_a.py --report-dir /tmp/delta02
    python tests/data/make_drift_fixtures.py <a full ci run at seed 0>/ /tmp/delta02/latest/

The δ = 0.01 side is the full run's records of the same checks (Hypothesis draws each check's examples
from the run seed and the check alone, so they are the records a run of those checks alone makes),
concluded again as a run of those checks would (``reporting.verdicts.conclude``). Both sides are slimmed
and gzipped like the baseline (``reporting.compare_report.write_baseline``): tests/data/delta_0.01.json.gz
and delta_0.02.json.gz.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from perturbation_learning.files import json_clean  # noqa: E402
from reporting.compare import load_run  # noqa: E402
from reporting.compare_report import write_baseline  # noqa: E402
from reporting.verdicts import conclude  # noqa: E402
from reporting.writer import claim_table  # noqa: E402

HERE = Path(__file__).resolve().parent


def subset_like(full: dict, subset: dict) -> dict:
    files = {r["nodeid"].split("::")[0] for r in subset["records"] if r.get("nodeid")}
    records = [r for r in full["records"] if (r.get("nodeid") or "").split("::")[0] in files]
    conclusion = conclude(sorted(subset["claims"]), records, require_verified=False)
    records = records + conclusion.pooled
    return dict(full, records=records, claims=claim_table(records, conclusion.claims))


def main(full_path, subset_path) -> None:
    full, subset = load_run(full_path, "full run"), load_run(subset_path, "δ = 0.02 run")
    for name, doc in (("delta_0.01.json.gz", subset_like(full, subset)), ("delta_0.02.json.gz", subset)):
        with tempfile.TemporaryDirectory() as tmp:
            full_doc = Path(tmp) / "results.json"
            full_doc.write_text(json.dumps(json_clean({k: v for k, v in doc.items() if k != "source"})))
            out = write_baseline(full_doc, HERE / name)
        print(out, out.stat().st_size, "bytes")


if __name__ == "__main__":
    main(*sys.argv[1:3])
