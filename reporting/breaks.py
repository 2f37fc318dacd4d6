"""Where perturbation learning breaks: the report's account of the collapsed pairs (THEORY.md P5).

A pair collapses when its agreement falls below ``theory.tolerances.COLLAPSE_AGREEMENT``. The harness
notes each one (``checks.harness.note_collapses`` → ``meta["collapsed_pairs"]``); this module, pure
functions over those plain dicts and the run's records, counts each distinct pair once (a pair that
several checks trained is one pair), puts it in exactly one class and groups the classes by setting
as "k of n pairs". The classes come in the report's order: first what the theory must answer for, the
paper's own recipe (P3 outside L2) and the collapses inside L2 that the prediction missed, each with
the theory's explanation where one exists, else "unexplained"; then the unpredicted ones outside L2;
then the expected ones, each counted on its own line: predicted by P5, flipped targets where P4
predicts disagreement, g barely trained, and the controls (THEORY.md §6).

Fields a collapse note may lack (notes of older runs): shown as "unknown", never guessed.
"""

from __future__ import annotations

import json
from collections import Counter

from theory.prediction import p5_tolerance
from theory.tolerances import (CHECK_DELTA, COLLAPSE_AGREEMENT, F_FITS_D, G_BARELY_TRAINED_TIME,
                               HEADLINE_AGREEMENT, HEADLINE_PAIR_SHARE)

from .figures import setting_text

#: The paper's training recipe (THEORY.md §7: m = 100 and heavy-ball β = 0.9 in every setting of the
#: official scripts; ``checks.strategies.paper_like_settings`` at small sizes). The project's own
#: settings are wider (controls m = 400, lazy settings m ≥ 2000).
PAPER_MAX_WIDTH, PAPER_MOMENTUM = 100, 0.9
#: Perturbations that carry no signal by construction (THEORY.md §6).
CONTROL_ATTACKS = {"random": "random directions", "shuffled": "shuffled perturbations"}
UNKNOWN = "unknown"

PAPER, MISSED, OUTSIDE, NO_PREDICTION, PREDICTED, FLIPPED, G_STEP, CONTROL = (
    "paper", "missed", "outside", "no-prediction", "predicted", "flipped", "g-step", "control")
#: The classes in the report's order, with their titles.
CLASSES = {
    PAPER: "the paper's recipe (m ≤ 100, β = 0.9, outside L2)",
    MISSED: "inside L2, missed by the prediction",
    OUTSIDE: "outside L2 (or L2 unknown), not predicted",
    NO_PREDICTION: "no prediction recorded",
    PREDICTED: "predicted before g was trained (P5)",
    FLIPPED: "flipped targets where P4 predicts disagreement",
    G_STEP: f"g barely trained (t_g ≤ {G_BARELY_TRAINED_TIME:g})",
    CONTROL: "controls (THEORY.md §6)",
}
THRESHOLD_REASON = ("THEORY.md P5's cut between chance (a g of one class agrees with f on ≈ 1/2 of the inputs) "
                    "and learning (≥ 0.83 in the lazy prototypes)")
UNEXPLAINED = "unexplained"
#: The starts of P5's record statistics (``checks.properties.prediction``: its excess test, and the pairs
#: that test left out because C2 ∧ L2 covered ≤ 3δ of their inputs).
_P5_EXCESS, _P5_LEFT_OUT = "excess of |a_obs − a_pred|", "share of pairs left out of: excess"


def setting_key(setting: dict | None) -> str:
    return json.dumps(setting or {}, sort_keys=True, default=str)


def control_kind(setting: dict | None, check: str = "") -> str | None:
    """Which control a setting is (ε = 0, random or shuffled directions, untrained f), else None."""
    s = setting or {}
    if s.get("eps") == 0:
        return "ε = 0"
    if s.get("attack") in CONTROL_ATTACKS:
        return CONTROL_ATTACKS[s["attack"]]
    if s.get("t_f") == 0:
        return "untrained f (t_f = 0)"
    return "control check" if str(check).startswith("test_CTRL") else None


def is_paper_recipe(setting: dict | None) -> bool:
    s = setting or {}
    return s.get("momentum") == PAPER_MOMENTUM and s.get("m") is not None and s["m"] <= PAPER_MAX_WIDTH


def distinct_pairs(collapses: list[dict]) -> list[dict]:
    """One note per (seed, setting), with the names of every check that trained it under ``checks``."""
    out: dict = {}
    for c in collapses:
        key = (c.get("seed"), setting_key(c.get("setting")))
        kept = out.setdefault(key, dict(c, checks=set()))
        kept["checks"].add(c.get("check") or UNKNOWN)
    return [dict(c, checks=sorted(c["checks"])) for c in out.values()]


def seed_evidence(records: list[dict]) -> dict:
    """(seed, setting key) → what the run's records say of that pair: f's accuracy on D and κ (P3's and
    the lazy checks' per-pair lists), P5's excess and whether P5 left the pair out for lack of coverage."""
    ev: dict = {}
    for r in records:
        key, seeds = setting_key(r.get("setting")), r.get("seeds") or []
        for field in ("acc_f", "kappa"):
            vals = r.get(field)
            if isinstance(vals, list) and len(vals) == len(seeds):
                for s, v in zip(seeds, vals):
                    ev.setdefault((s, key), {}).setdefault(field, v)
        if r.get("claim") != "P5":
            continue
        stat = str(r.get("statistic", ""))
        if stat.startswith(_P5_LEFT_OUT):
            for s in seeds:
                ev.setdefault((s, key), {})["p5_uncovered"] = True
        elif stat.startswith(_P5_EXCESS) and r.get("pair_values") and r.get("pair_seeds"):
            for s, v in zip(r["pair_seeds"], r["pair_values"]):
                ev.setdefault((s, key), {})["p5_excess"] = (v, r.get("bound"))
    return ev


def _predicted(c: dict) -> bool:
    return c.get("predicted") is not None and c["predicted"] < COLLAPSE_AGREEMENT


def classify(c: dict) -> str:
    """The one class of a distinct collapsed pair (its order of precedence is the code's)."""
    s = c.get("setting") or {}
    control = c["control"] if "control" in c else control_kind(s, " ".join(c.get("checks") or [c.get("check", "")]))
    if control:
        return CONTROL
    if is_paper_recipe(s):
        return PAPER
    t_g = c["t_g"] if c.get("t_g") is not None else s.get("t_g")
    if t_g is not None and t_g <= G_BARELY_TRAINED_TIME:
        return G_STEP
    if _predicted(c):
        return FLIPPED if s.get("targets") == "flipped" else PREDICTED
    if c.get("predicted") is None:
        return NO_PREDICTION
    return MISSED if c.get("inside_l2") is True else OUTSIDE


def explain_miss(c: dict, ev: dict | None = None) -> str:
    """The theory's explanation of a collapse inside L2 that P5 did not predict, else "unexplained"."""
    ev, s = ev or {}, c.get("setting") or {}
    gap = abs(c["agreement"] - c["predicted"])
    cov = c.get("c2_coverage")
    if cov is not None:
        # c of the run's prediction is taken at its δ ≥ CHECK_DELTA, so it is at least the checks' c: this
        # slack is at most the one P5's check allows.
        tol = p5_tolerance(cov, CHECK_DELTA)
        if gap <= tol:
            return (f"within P5's slack: |a_obs − a_pred| = {gap:.2f} ≤ 1 − c + 3δ = {tol:.2f} "
                    f"(C2 ∧ L2 hold on c = {cov:.0%} of the inputs)")
    elif ev.get("p5_uncovered"):
        return ("P5 predicts nothing here: C2 ∧ L2 hold on ≤ 3δ of the inputs (a weak f, small ε or short t_g "
                "leaves B_E above |ĝ|, THEORY.md §5)")
    elif "p5_excess" in ev:
        excess, bound = ev["p5_excess"]
        if bound is not None and excess <= bound:
            return (f"within P5's slack: |a_obs − a_pred| = {gap:.2f} ≤ 1 − c + 3δ (C2 ∧ L2 hold on too few "
                    "inputs to pin the agreement)")
    acc_f = c["acc_f_train"] if c.get("acc_f_train") is not None else ev.get("acc_f")
    if acc_f is not None and acc_f < F_FITS_D:
        return f"f does not fit D: accuracy {acc_f:.2f} < {F_FITS_D:g}, and P3 claims agreement only where it does"
    if s.get("scenario") == "b" and s.get("targets") == "flipped":
        return "S ≈ −N: in (b) flipped targets make the label term oppose the signal (THEORY.md §5)"
    return UNEXPLAINED


def paper_recipe_lines(records: list[dict]) -> list[dict]:
    """P3's headline in each setting of the paper's recipe: pairs with agreement above HEADLINE_AGREEMENT,
    of the valid pairs, with the per-pair agreements where the record kept them."""
    rows: dict = {}
    for r in records:
        if (r.get("claim") == "P3" and r.get("inside") is False and is_paper_recipe(r.get("setting"))
                and str(r.get("statistic", "")).startswith("pairs with agreement")):
            n, share = r.get("n_pairs") or 0, r.get("value")
            rows.setdefault(setting_key(r["setting"]), {
                "setting": r["setting"], "setting_text": setting_text(r["setting"]), "n": n,
                "above": None if share is None else round(share * n), "agreement": r.get("agreement"),
                "held": share is not None and share >= HEADLINE_PAIR_SHARE})
    return list(rows.values())


def _span(values: list) -> str:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return UNKNOWN
    return f"{vals[0]:.3f}" if vals[0] == vals[-1] else f"{vals[0]:.3f}–{vals[-1]:.3f}"


def _l2_text(values: list) -> str:
    kinds = {"yes" if v is True else "no" if v is False else UNKNOWN for v in values}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _reason_kinds(pairs: list[dict]) -> str:
    """The prediction's reasons by kind (``theory.prediction.collapse_reason``: the text before its shares)."""
    kinds = Counter((p.get("reason") or ("not predicted" if p.get("predicted") is not None else UNKNOWN))
                    .split(" on ")[0] for p in pairs)
    return ", ".join(f"{k} ({n})" if len(kinds) > 1 else k for k, n in kinds.most_common())


def _why(cls: str, pairs: list[dict]) -> str:
    if cls == MISSED:
        return "; ".join(f"{n}× {e}" for e, n in Counter(p["explanation"] for p in pairs).most_common())
    if cls == CONTROL:
        return ", ".join(sorted({p["control_kind"] for p in pairs}))
    if cls == G_STEP:
        return "g ≈ g_0: its sign is unrelated to f, and ĝ's sign ignores g_0"
    return _reason_kinds(pairs)


def _batch_size(members: list[dict]) -> tuple[int | None, bool]:
    """n of one batch (one drawn setting): its valid pairs as noted, else the pairs drawn."""
    valid = [m["setting_pairs"] for m in members if m.get("setting_pairs") is not None]
    return (max(valid), False) if valid else ((members[0].get("setting") or {}).get("pairs"), True)


def _group(cls: str, members: list[dict]) -> dict:
    """One row: the batches of one setting (other seeds) in one class, k of n pairs over them."""
    batches: dict = {}
    for m in members:
        batches.setdefault(setting_key(m.get("setting")), []).append(m)
    sizes = [_batch_size(b) for b in batches.values()]
    s = members[0].get("setting") or {}
    kappa = {w: [m[w] for m in members if m.get(w) is not None] for w in ("kappa_f", "kappa_g")}
    return {"class": cls, "setting": s, "setting_text": setting_text(s), "batches": len(batches),
            "checks": sorted({c for m in members for c in m["checks"]}), "k": len(members),
            "n": None if any(n is None for n, _ in sizes) else sum(n for n, _ in sizes),
            "n_drawn": any(d for _, d in sizes), "predicted_k": sum(map(_predicted, members)),
            "agreement": _span([m.get("agreement") for m in members]),
            "predicted": _span([m.get("predicted") for m in members]),
            "kappa": " / ".join(f"{max(v):.3g}" if v else UNKNOWN for v in kappa.values()),
            "t_g": s.get("t_g", UNKNOWN),
            "inside_l2": _l2_text([m.get("inside_l2") for m in members]), "why": _why(cls, members),
            "explanations": Counter(m["explanation"] for m in members if m["explanation"])}


_BATCH_KEYS = ("first_seed", "pairs")


def where_it_breaks(collapses: list[dict], records: list[dict] | None = None) -> dict:
    """The section's content: ``total`` distinct collapsed pairs (``notes``: as noted, duplicates
    included), ``counts`` per class, ``groups`` (class, setting: k of n pairs over its batches,
    agreement, prediction, κ, t_g, inside L2, why) in the report's order, ``paper`` (P3's headline per
    setting of the paper's recipe), the controls by kind and the unexplained misses."""
    records = records or []
    ev = seed_evidence(records)
    pairs = distinct_pairs(collapses)
    rows: dict = {}
    for p in pairs:
        cls = classify(p)
        p["control_kind"] = control_kind(p.get("setting"), " ".join(p["checks"])) if cls == CONTROL else None
        key = setting_key(p.get("setting"))
        p["explanation"] = explain_miss(p, ev.get((p.get("seed"), key))) if cls == MISSED else None
        visible = {k: v for k, v in (p.get("setting") or {}).items() if k not in _BATCH_KEYS}
        rows.setdefault((cls, setting_key(visible)), []).append(p)
    order = list(CLASSES)
    out = sorted((_group(cls, members) for (cls, _), members in rows.items()),
                 key=lambda g: (order.index(g["class"]), -g["k"]))
    counts = {cls: sum(g["k"] for g in out if g["class"] == cls) for cls in CLASSES}
    return {"total": len(pairs), "notes": len(collapses), "counts": counts, "groups": out,
            "paper": paper_recipe_lines(records),
            "controls": dict(Counter(p["control_kind"] for p in pairs if p["control_kind"])),
            "unexplained": sum(g["explanations"].get(UNEXPLAINED, 0) for g in out)}


def _n_text(g: dict) -> str:
    n = UNKNOWN if g["n"] is None else f"{g['n']}{' drawn' if g['n_drawn'] else ''}"
    return f"{g['k']} of {n}" + (f" ({g['batches']} batches)" if g["batches"] > 1 else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def paper_text(b: dict) -> str:
    """P3's headline over the paper's recipe and its collapses, in one sentence."""
    lines, k = b["paper"], b["counts"][PAPER]
    predicted = sum(g["predicted_k"] for g in b["groups"] if g["class"] == PAPER)
    collapsed = (f"{_plural(k, 'pair')} collapsed, {predicted} of them predicted by P5 (its mechanism: at small ε "
                 "the label term Σ Λ'_n y^adv_n outweighs the signal, THEORY.md P5)" if k else "no pair collapsed")
    if not lines:
        return f"P3's headline not measured in this run; {collapsed}."
    sizes = {r["n"] for r in lines}
    above = (", ".join(str(r["above"]) for r in lines) + f" of {sizes.pop()}" if len(sizes) == 1
             else ", ".join(f"{r['above']} of {r['n']}" for r in lines))
    held = sum(r["held"] for r in lines)
    return (f"P3's headline (agreement > {HEADLINE_AGREEMENT:g} in ≥ {HEADLINE_PAIR_SHARE:.0%} of pairs) held in "
            f"{held} of {_plural(len(lines), 'setting')}: {above} pairs above {HEADLINE_AGREEMENT:g}; {collapsed}.")


def summary_items(b: dict) -> list[tuple[str, str]]:
    """(label, text) lines of the compact account, in the report's order."""
    c, n_set = b["counts"], Counter(g["class"] for g in b["groups"])
    kinds = Counter()
    for g in b["groups"]:
        for e, n in g["explanations"].items():
            if e != UNEXPLAINED:
                kinds[e.split(":")[0]] += n
    how = ", ".join(f"{k}: {n}" for k, n in kinds.most_common())
    items = [("The paper's recipe", paper_text(b)),
             ("Missed inside L2", f"{_plural(c[MISSED], 'pair')} in {_plural(n_set[MISSED], 'setting')}: "
              f"{c[MISSED] - b['unexplained']} explained by the theory{f' ({how})' if how else ''}, "
              f"{b['unexplained']} {UNEXPLAINED}." if c[MISSED] else "none.")]
    if c[OUTSIDE] or c[NO_PREDICTION]:
        items.append(("Not predicted elsewhere", f"{c[OUTSIDE]} outside L2 (or L2 unknown), "
                                                 f"{c[NO_PREDICTION]} with no prediction recorded."))
    controls = ", ".join(f"{kind}: {n}" for kind, n in sorted(b["controls"].items()))
    items.append(("Expected", f"{c[FLIPPED]} flipped targets where P4 predicts disagreement; {c[PREDICTED]} "
                  f"other collapses predicted by P5; {c[G_STEP]} with g barely trained (t_g ≤ "
                  f"{G_BARELY_TRAINED_TIME:g}); {c[CONTROL]} controls" + (f" ({controls})." if controls else ".")))
    return items


def intro_text(b: dict, pairs_trained=None) -> str:
    dup = b["notes"] - b["total"]
    of = f" of {pairs_trained} trained" if pairs_trained is not None else ""
    return (f"{b['total']} distinct network pairs{of} collapsed (agreement < {COLLAPSE_AGREEMENT}: {THRESHOLD_REASON})"
            + (f"; {_plural(dup, 'note')} repeated a pair already noted (by another check, or a replayed "
               "example): each pair counts once." if dup else "."))


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def summary_lines(b: dict, pairs_trained=None) -> list[str]:
    """summary.md's compact section."""
    md = ["## Where it breaks", "", intro_text(b, pairs_trained), ""]
    md += [f"- **{label}**: {text}" for label, text in summary_items(b)]
    return md + ["", "Per setting (k of n pairs, κ, t_g, inside L2, the prediction): records.md, "
                 "\"Where it breaks\".", ""]


GROUP_COLUMNS = ("class", "setting", "checks", "collapsed", "agreement", "predicted", "κ_f / κ_g max", "t_g",
                 "inside L2", "why")


def group_cells(g: dict) -> list[str]:
    return [CLASSES[g["class"]], g["setting_text"], ", ".join(g["checks"]), _n_text(g), g["agreement"],
            g["predicted"], g["kappa"], str(g["t_g"]), g["inside_l2"], g["why"]]


def records_lines(b: dict, pairs_trained=None) -> list[str]:
    """records.md's full section: the compact account, P3 over the paper's recipe, every group."""
    md = ["## Where it breaks", "", intro_text(b, pairs_trained), ""]
    md += [f"- **{label}**: {text}" for label, text in summary_items(b)] + [""]
    if b["paper"]:
        md += ["P3 over the paper's recipe, per setting:", "", "| setting | pairs above | agreement per pair |",
               "|---|---|---|"]
        for r in b["paper"]:
            ag = ", ".join(f"{a:.2f}" for a in r["agreement"]) if r["agreement"] else UNKNOWN
            md.append(f"| {_cell(r['setting_text'])} | {r['above']} of {r['n']} | {ag} |")
        md.append("")
    if not b["groups"]:
        return md + ["No pair collapsed.", ""]
    md += ["`collapsed`: k of the n valid pairs of the setting's batches that had a collapse (\"drawn\": the run "
           "did not record how many were valid, n counts the drawn pairs); "
           "`predicted`: the agreement predicted before g was trained; `why`: the theory's explanation, the "
           "prediction's reason, or the control.", "",
           "| " + " | ".join(GROUP_COLUMNS) + " |", "|" + "---|" * len(GROUP_COLUMNS)]
    md += ["| " + " | ".join(_cell(v) for v in group_cells(g)) + " |" for g in b["groups"]]
    return md + [f"| total | | | {sum(g['k'] for g in b['groups'])} | | | | | | |", ""]
