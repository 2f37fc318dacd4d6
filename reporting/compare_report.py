"""Write a comparison (``reporting.compare``): compare.md, compare.json and compare.png, and the
claim-change table the plugin prints."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

from perturbation_learning.files import atomic_write_bytes, atomic_write_text, figure_png_bytes, json_clean

from .compare import JUDGED, STATUSES


def headline(q: dict) -> str:
    """One quantity's move, e.g. 'coverage 0.431 → 0.203 (Δ −0.228, n 14, p_adj 1e-04, tol 0.02)'."""
    if q["kind"] == "verdict":
        return f"{q['name']} {q['a']} → {q['b']}"            # "verdict" or "verdict [stratum]"
    return (f"{q['name']} {q['a']:.4g} → {q['b']:.4g} (Δ {q['diff']:+.3g}, n {q['n']}, "
            f"{p_shown(q)}, tol {q['tolerance']:.2g})")


def p_shown(q: dict) -> str:
    if q.get("judged") == "few units":
        return f"{q['moved']} of {q['n']} units moved: {JUDGED['few units']}"
    return JUDGED[q["judged"]] if q["adjusted"] is None else f"p_adj {q['adjusted']:.2g}"


def most_telling(claim_row: dict) -> list[dict]:
    """The rows that decided a claim's status: its regressions, else its improvements, else the largest move."""
    rows = claim_row.get("moves", []) + claim_row.get("quantities", [])
    for status in ("regressed", "improved"):
        hit = [r for r in rows if r["status"] == status]
        if hit:
            return hit
    moved = [r for r in claim_row.get("quantities", []) if r["diff"] != 0 and math.isfinite(r["diff"])]
    return sorted(moved, key=lambda r: (r["adjusted"] is None, r["adjusted"] or 0))[:1]


def _verdict_cell(row: dict) -> str:
    va, vb = (row.get("verdict") or [None, None])
    short = [(v or "–").split(" (")[0] for v in (va, vb)]
    return short[0] if short[0] == short[1] else f"{short[0]} → {short[1]}"


def table_rows(comparison: dict) -> list[tuple[str, str, str, str]]:
    """(claim, status, verdict, what moved) per claim."""
    out = []
    for claim, row in comparison["claims"].items():
        if row["status"] in ("new", "gone"):
            out.append((claim, row["status"], "–", f"claim only in {'b' if row['status'] == 'new' else 'a'}"))
            continue
        moved = "; ".join(headline(q) for q in most_telling(row)) or "no difference"
        rec = row["records"]
        if rec["new"] or rec["gone"]:
            moved += f" [records: {rec['matched']} matched, {rec['new']} new, {rec['gone']} gone]"
        out.append((claim, row["status"], _verdict_cell(row), moved))
    return out


def summary_line(comparison: dict) -> str:
    c, r = comparison["counts"], comparison["records"]
    return (", ".join(f"{s} {c[s]}" for s in STATUSES if c[s]) +
            f"; records {r['matched']} matched, {r['new']} new, {r['gone']} gone; {comparison['tests']} tests "
            f"({comparison['resamples']} swap patterns), Holm at family-wise α = {comparison['alpha']:g}; "
            f"{comparison['tolerance_only']} with too few units judged by their tolerance alone; "
            f"{comparison['statistic_differences']} statistic differences")


def terminal_lines(comparison: dict) -> list[str]:
    lines = [f"baseline {comparison['a']['source']} ({_who(comparison['a'])})",
             f"run      {comparison['b']['source'] or 'this run'} ({_who(comparison['b'])})"]
    for claim, status, verdict, moved in table_rows(comparison):
        lines.append(f"{claim:6s} {status:10s} {verdict:32s} {moved}")
    lines.append(summary_line(comparison))
    return lines


def _who(d: dict) -> str:
    rev = str(d.get("git_revision"))[:12]
    return f"rev {rev}, {d.get('procedure')}, profile {d.get('profile')}, seed {d.get('seed')}"


def markdown(comparison: dict, figure: str | None = None) -> str:
    a, b = comparison["a"], comparison["b"]
    lines = ["# Claim comparison", "", "| | baseline (a) | run (b) |", "|---|---|---|"]
    for key in ("source", "run_id", "git_revision", "procedure", "profile", "seed", "versions"):
        lines.append(f"| {key} | {_cell(a.get(key))} | {_cell(b.get(key))} |")
    lines += ["", summary_line(comparison), "",
              "Each quantity is compared on the records of both runs with the same check, setting and seeds, by a "
              "paired permutation test over its units (one per network pair: a seed's pairs, or records sharing "
              "seeds, are one unit); p-values are Holm-adjusted over the comparison's tests. A bound, a formula "
              "of the setting, and a quantity whose units cannot give a p-value below Holm's first threshold "
              "α/k are judged by their tolerance alone. A move within its tolerance is unchanged even when "
              "significant: "
              + ", ".join(f"{k} max({abs_:g}, {rel:g}×|a|)" for k, (abs_, rel) in comparison["tolerances"].items())
              + ".", "", "| claim | status | verdict | what moved |", "|---|---|---|---|"]
    lines += [f"| {c} | {s} | {v} | {m} |" for c, s, v, m in table_rows(comparison)]
    lines += ["", "## Every compared quantity", "",
              "| claim | quantity | units | a | b | Δ | null 95% | p (Holm) | tolerance | status |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for claim, row in comparison["claims"].items():
        for q in row["quantities"]:
            null = "–" if q["null"] is None else f"[{q['null'][0]:+.2g}, {q['null'][1]:+.2g}]"
            lines.append(f"| {claim} | {q['name']} | {q['n']} | {q['a']:.4g} | {q['b']:.4g} | {q['diff']:+.3g} | "
                         f"{null} | {p_shown(q)} | {q['tolerance']:.2g} | {q['status']} |")
    if figure:
        lines += ["", "## Pooled intervals, side by side", "", f"![pooled intervals]({figure})"]
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {x}" for k, x in sorted(v.items()))
    return "–" if v is None else str(v)


def draw(comparison: dict):
    """Per claim and pooled statistic, the two runs' intervals side by side with the bound; None when
    neither run has pooled records."""
    panels = [(claim, p) for claim, row in comparison["claims"].items() for p in row.get("pooled", [])]
    if not panels:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, (claim, p) in zip(axes.flat, panels):
        for x, name, colour in ((0, "a", "tab:blue"), (1, "b", "tab:orange")):
            v = p.get(name)
            if not v or v["value"] is None:
                continue
            # The interval and the point apart: a betting confidence sequence (an intersection over time)
            # need not contain the final pooled mean.
            if v["ci"]:
                ax.vlines(x, v["ci"][0], v["ci"][1], colors=colour, linewidth=2)
            ax.plot([x], [v["value"]], "o", color=colour)
            if v["bound"] is not None:
                ax.hlines(v["bound"], x - 0.3, x + 0.3, colors="k", linestyles="dashed", linewidth=1)
        ax.set_xticks([0, 1], ["a", "b"])
        ax.set_xlim(-0.6, 1.6)
        status = comparison["claims"][claim]["status"]
        ax.set_title(f"{claim} [{status}]\n{p['statistic'][:40]}", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def write_comparison(comparison: dict, out_dir) -> Path:
    """compare.json, compare.md and compare.png into ``out_dir``; returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = draw(comparison)
    figure = None
    if fig is not None:
        import matplotlib.pyplot as plt

        atomic_write_bytes(out / "compare.png", figure_png_bytes(fig))
        plt.close(fig)
        figure = "compare.png"
    atomic_write_text(out / "compare.json", json.dumps(json_clean(comparison), indent=1, sort_keys=True))
    atomic_write_text(out / "compare.md", markdown(comparison, figure))
    return out


#: Record fields a comparison reads; the baseline keeps only these (the rest is per-pair detail for
#: the analysis figures, most of a results.json's size).
BASELINE_FIELDS = ("claim", "check", "statistic", "setting", "seeds", "value", "bound", "verdict", "inside", "coverage",
                   "side", "detects", "target", "n_pairs", "pair_values", "pair_seeds", "pair_counts", "ci", "test",
                   "xi_ratio_max", "kappa", "predicted_flip", "slope", "slope_ci", "axis", "reason", "power_target")


def slim_results(doc: dict) -> dict:
    """A results.json reduced to what ``reporting.compare`` reads: every record with BASELINE_FIELDS (κ as
    its largest value, the only one C_L reads), the claim table and the metadata."""
    def slim(r):
        out = {k: r.get(k) for k in BASELINE_FIELDS}
        kappa = [k for k in (r.get("kappa") or []) if k is not None]
        out["kappa"] = [max(kappa)] if kappa else None
        return out
    return {"format_version": doc["format_version"], "meta": doc.get("meta"), "claims": doc.get("claims"),
            "records": [slim(r) for r in doc["records"]]}


def write_baseline(results_path, target) -> Path:
    """Write the slimmed results.json of ``results_path`` as the baseline ``target`` (a folder: its
    results.json.gz; or a .json or .json.gz file); returns the file written."""
    from .compare import load_run

    doc = load_run(results_path, "run")
    target = Path(target)
    out = target if target.suffix in (".json", ".gz") else target / "results.json.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_clean(slim_results(doc)), sort_keys=True, separators=(",", ":")) + "\n"
    # mtime=0: the same run gives the same bytes, so a regenerated baseline diffs only where results moved.
    if out.suffix == ".gz":
        atomic_write_bytes(out, gzip.compress(text.encode(), mtime=0))
    else:
        atomic_write_text(out, text)
    return out
