"""Where each claim holds, in the report's words: the scoped verdict ("verified on k of n strata"), the
run's outcome line, the stratum statuses as colours, numbers with their direction and enough digits
next to their bound, the settings each claim was asserted and observed on, and Hypothesis' view of
each check. Plain data in, strings and small dicts out (``reporting.markdown`` and ``reporting.html``
lay them out)."""

from __future__ import annotations

from theory.claims import CLAIMS

from .margins import AT_TOLERANCE, BY_CONSTRUCTION, CENTRE, CEILING, NOT_REJECTED, REJECTED, SHOWN, claim_order
from .records import finite, finite_list
from .verdicts import FAILED, NOT_CHECKED, NOT_VERIFIED, UNDERPOWERED, VERIFIED

#: CSS class (and colour) of a claim or stratum status: only a verified one is green, only a failed one
#: red; every other status (not covered, not checked, not verified, …) is amber: evidence missing there.
CSS_OK, CSS_WARN, CSS_BAD, CSS_NONE = "ok", "warn", "bad", "none"
CSS_COLORS = {CSS_OK: "#2ca02c", CSS_WARN: "#e8a33d", CSS_BAD: "#d62728", CSS_NONE: "#7f7f7f"}
OBSERVATION = "observation-only"
#: A value this close to its bound (relative) gets digits until the two differ.
NEAR_BOUND = 1e-3
#: CSS class of what a test shows about its bound (``margins.reading``): shown within it, only not rejected
#: (striped: not rejected is not within), rejected, or at its tolerance by construction.
READING_CSS = {SHOWN: "shown", NOT_REJECTED: "notrej", REJECTED: CSS_BAD, BY_CONSTRUCTION: CSS_NONE}


def status_class(status: str | None) -> str:
    """The colour class of a stratum's or claim's status."""
    status = status or ""
    if status == VERIFIED:
        return CSS_OK
    if status == FAILED:
        return CSS_BAD
    return CSS_NONE if status.startswith(OBSERVATION) or not status else CSS_WARN


def _verdict(row: dict) -> str:
    """The claim verdict of a claim-table row (``writer.claim_table``), without its reason."""
    v = row.get("claim_verdict")
    if v is not None:
        return v
    v = row.get("verdict") or ""
    for name in (VERIFIED, FAILED, UNDERPOWERED, NOT_VERIFIED):
        if v.startswith(name):
            return name
    return v


def stratum_reason(cell: dict) -> str:
    """Why a stratum is not verified, as ``reporting.verdicts`` left it."""
    if cell.get("reason"):
        return str(cell["reason"])
    if cell.get("uncovered") and cell.get("max_coverage") is not None:
        return f"the conditions cover ≤ {cell['max_coverage']:.2f} of the inputs"
    return "no asserted record" if not cell.get("records") else "underpowered"


def scope(row: dict | None) -> dict:
    """A claim's scoped verdict: {"text", "css", "verified", "strata", "others": [(stratum, status,
    reason)]}; ``row``: its claim-table row, None where no check exercised it."""
    if row is None:
        return {"text": "not exercised", "css": CSS_NONE, "verified": 0, "strata": 0, "others": []}
    verdict, strata = _verdict(row), row.get("strata") or {}
    k = sum(v.get("verdict") == VERIFIED for v in strata.values())
    others = [(s, v.get("verdict") or "", stratum_reason(v)) for s, v in strata.items() if v.get("verdict") != VERIFIED]
    on = f"on {k} of {len(strata)} strata" if strata else ""
    if verdict == VERIFIED:
        text, css = (f"verified {on}" if on else "verified (no stratum axis)"), CSS_OK if not others else CSS_WARN
    elif verdict == FAILED:
        text, css = f"failed (verified {on})" if on else "failed", CSS_BAD
    elif verdict.startswith(OBSERVATION):
        text, css = OBSERVATION, CSS_NONE
    else:
        text, css = f"{verdict or NOT_VERIFIED} (verified {on})" if on else verdict or NOT_VERIFIED, CSS_WARN
    return {"text": text, "css": css, "verified": k, "strata": len(strata), "others": others}


#: The outcome line's categories. "Verified on every supported stratum": the only strata not verified are
#: those the procedure's declaration excludes ("not checked"); listed only when a claim falls in it.
SUPPORTED = "verified on every supported stratum"
OUTCOMES = ("verified on every stratum", SUPPORTED, "verified on some strata", "failed", UNDERPOWERED,
            "not verified", OBSERVATION, "not exercised")


def outcome_counts(table: dict) -> dict:
    """Claims per outcome (OUTCOMES), over every registered claim and any other in ``table``."""
    counts = {o: [] for o in OUTCOMES}
    for cid in list(CLAIMS) + [c for c in table if c not in CLAIMS]:
        s, row = scope(table.get(cid)), table.get(cid)
        verdict = _verdict(row) if row else ""
        only_unsupported = all(status == NOT_CHECKED for _, status, _ in s["others"])
        key = ("not exercised" if row is None else "failed" if verdict == FAILED else
               OBSERVATION if verdict.startswith(OBSERVATION) else
               ("verified on every stratum" if not s["others"] else SUPPORTED if only_unsupported
                else "verified on some strata") if verdict == VERIFIED else
               UNDERPOWERED if verdict == UNDERPOWERED else "not verified")
        counts[key].append(cid)
    return counts


def outcome_line(table: dict) -> str:
    """One line, like pytest's: "28 claims: 26 verified on every stratum, 1 verified on some strata (P4),
    0 failed, …"."""
    counts = outcome_counts(table)
    parts = [f"{len(ids)} {name}" + (f" ({', '.join(ids)})" if ids and name not in OUTCOMES[:2] else "")
             for name, ids in counts.items() if ids or name != SUPPORTED]
    return f"{sum(map(len, counts.values()))} claims: " + ", ".join(parts)


def near_bound(value, bound, digits: int = 4) -> str:
    """``value`` with ``digits`` significant digits, more where it lies within NEAR_BOUND (relative) of
    ``bound``: until the two differ, and one more."""
    v, b = finite(value), finite(bound)
    if v is None:
        return "" if value is None else str(value)
    text = f"{v:.{digits}g}"
    if b is None or v == b or abs(v - b) > NEAR_BOUND * max(abs(b), 1e-300):
        return text
    for k in range(digits, 17):
        if f"{v:.{k}g}" != f"{b:.{k}g}":
            return f"{v:.{k + 1}g}"     # one digit past the first that differs: the gap itself reads
    return f"{v:.17g}"


def reading_words(row: dict | None, detects: str | None = None, claim: bool = True) -> str:
    """What the test of a forest or least-room row (``reporting.margins``) shows about its bound, in words,
    with its interval's end against the bound: "shown within the bound (interval end 0.9389 ≥ 0.9)", "not
    rejected (interval end 0.05188 > 0.01)" and, given ``detects`` ("≥ 0.0145"), "; detects ≥ 0.0145 with
    probability 0.9"; "" for a row that shows nothing (an observation, no bound). An exact comparison of a
    claim (``claim``) holds every value it compared to the bound; of one record (a least-room row), its value."""
    r = row or {}
    what, bound, end = r.get("reading"), r.get("bound"), r.get("end")
    if not what:
        return ""
    if what == BY_CONSTRUCTION:
        return f"{what} ({r.get('at_tolerance_reason') or AT_TOLERANCE.get(r.get('claim'), '')})"
    b, interval = near_bound(bound, None), r.get("interval")
    inside, beyond = ("≤", ">") if r.get("kind") == CEILING else ("≥", "<")
    if r.get("kind") == CENTRE:
        lo, hi = (interval or (r.get("value"), r.get("value")))[:2]
        text = f"{what} (an equality: interval [{near_bound(lo, bound)}, {near_bound(hi, bound)}] around {b})"
    elif interval is None and claim and what == SHOWN:
        text = f"{what} (exact comparison: every value {inside} {b})"
    elif interval is None:
        text = f"{what} (exact: {near_bound(r.get('value'), bound)} {inside if what == SHOWN else beyond} {b})"
    else:
        text = f"{what} (interval end {near_bound(end, bound)} {inside if what == SHOWN else beyond} {b})"
    return text + (f"; detects {detects} with probability 0.9" if detects and what == NOT_REJECTED else "")


def readings(forest: list[dict]) -> dict:
    """Claims by what the test their verdict rests on shows: {SHOWN: [ids], NOT_REJECTED: [...], …}."""
    out: dict = {}
    for row in forest:
        if row.get("reading"):
            out.setdefault(row["reading"], []).append(row["claim"])
    return out


def directed(value, side: str | None, test: str | None, bound=None) -> str:
    """A ``detects`` or ``target`` mean with the direction of the violation it stands for: "≥ x" for a
    ceiling (violations lie above), "≤ x" for a floor; an exact comparison fails on any value beyond."""
    v = finite(value)
    if v is None:
        return "" if value is None else str(value)
    if test in ("exact", "hoeffding"):
        return f"any > {near_bound(bound if finite(bound) is not None else v, None)}"
    return f"{'≤' if side == 'at least' else '≥'} {v:.4g}"


# The settings a claim's domain table reports, as (key in the setting, column name).
DOMAIN_KEYS = (("d", "d"), ("N", "N"), ("m", "m"), ("t_f", "t_f"), ("t_g", "t_g"), ("eps", "ε"))


def _span(xs: list[float]) -> str:
    if not xs:
        return "n/a"
    lo, hi = min(xs), max(xs)
    return f"{lo:.4g}" if lo == hi else f"{lo:.4g}–{hi:.4g}"


def domain(records: list[dict]) -> dict:
    """Per claim, over its asserted and its observed per-example records: how many, and the range of each
    DOMAIN_KEYS setting and of κ (the records' ``kappa``), "n/a" where no record carries it."""
    from .pooling import POOLED_CHECK, STRATUM_CHECK, is_asserted

    groups: dict = {}
    for r in records:
        if r.get("check") in (POOLED_CHECK, STRATUM_CHECK):
            continue
        kind = "asserted" if is_asserted(r) else "observed" if r.get("verdict") == "observed" else None
        if kind:
            groups.setdefault(r["claim"], {"asserted": [], "observed": []})[kind].append(r)
    out = {}
    for claim in claim_order(groups):
        out[claim] = {}
        for kind, recs in groups[claim].items():
            row = {"records": len(recs)}
            for key, name in DOMAIN_KEYS:
                row[name] = _span([x for r in recs if (x := finite((r.get("setting") or {}).get(key))) is not None])
            row["κ"] = _span([x for r in recs for x in finite_list(r.get("kappa"))])
            out[claim][kind] = row
    return out


DOMAIN_COLUMNS = ("records", *(name for _, name in DOMAIN_KEYS), "κ")
#: The settings figure (``reporting.figures.DOMAIN``).
DOMAIN_FIGURE = "settings_checked.png"


def domain_lines(dom: dict, claims=None) -> list[str]:
    """The Markdown domain table: one row per kind (asserted, observed) and set of ranges, naming the claims
    that share it (the conformance claims R1–R7 are checked on the same pairs)."""
    rows: dict = {}
    for claim, kinds in dom.items():
        for kind, row in kinds.items():
            if row["records"] and (claims is None or claim in claims):
                rows.setdefault((kind, *(str(row[c]) for c in DOMAIN_COLUMNS)), []).append(claim)
    md = ["| claims | records held to the bound / observed | " + " | ".join(DOMAIN_COLUMNS) + " |",
          "|---|---|" + "---|" * len(DOMAIN_COLUMNS)]
    md += [f"| {', '.join(ids)} | " + " | ".join(key) + " |" for key, ids in rows.items()]
    return md + [""]


def hypothesis_rows(outcomes: dict, meta: dict, records: list[dict]) -> list[dict]:
    """Per check (test node): Hypothesis' view as ``--hypothesis-show-statistics`` gives it (examples per
    phase, invalid draws; gathered by ``checks.plugin`` into ``meta["hypothesis"]``), the pairs it trained,
    the pairs of its records that diverged ("invalid" records) and its wall time."""
    stats = meta.get("hypothesis") or {}
    diverged: dict = {}
    for r in records:
        if r.get("verdict") == "invalid" and r.get("nodeid"):
            diverged[r["nodeid"]] = diverged.get(r["nodeid"], 0) + max(1, r.get("n_pairs") or 0)
    rows = []
    for nodeid in list(outcomes) + [n for n in stats if n not in outcomes]:
        s, o = stats.get(nodeid) or {}, outcomes.get(nodeid) or {}
        none = 0 if s else None                  # a phase Hypothesis did not run made no example
        rows.append({"check": nodeid, "explicit": s.get("explicit", none), "drawn": s.get("generate", none),
                     "reused": s.get("reuse", none), "shrinks": s.get("shrink", none), "invalid": s.get("invalid"),
                     "pairs": s.get("pairs"), "diverged": diverged.get(nodeid, 0),
                     "seconds": o.get("duration", s.get("seconds")),
                     "stopped": s.get("stopped") or (f"skipped: {reason_text(o['skipped'])}" if o.get("skipped") else "")})
    return rows


HYPOTHESIS_COLUMNS = ("check", "explicit", "drawn", "reused", "shrinks", "invalid draws", "pairs", "diverged pairs",
                      "wall s", "stopped because")


def _n(v) -> str:
    return "–" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))


def hypothesis_cells(row: dict) -> list[str]:
    return [row["check"], *(_n(row[k]) for k in ("explicit", "drawn", "reused", "shrinks", "invalid", "pairs",
                                                  "diverged", "seconds")), row["stopped"]]


def hypothesis_total(rows: list[dict]) -> str:
    """One line: the examples, invalid draws, pairs and wall time summed over the checks."""
    def total(key):
        xs = [r[key] for r in rows if r[key] is not None]
        return sum(xs) if xs else None
    if not rows:
        return "Hypothesis: this run's results.json holds no per-check outcomes."
    if total("explicit") is None and total("drawn") is None:
        return (f"Hypothesis: {len(rows)} checks; examples per check not recorded in this run; "
                f"{total('diverged') or 0} diverged pairs; {_n(total('seconds'))} s in the checks.")
    return (f"Hypothesis: {len(rows)} checks ran {_n(total('explicit'))} explicit and {_n(total('drawn'))} drawn "
            f"examples ({_n(total('reused'))} reused, {_n(total('shrinks'))} shrinks), {_n(total('invalid'))} "
            f"invalid draws; {_n(total('pairs'))} pairs trained, {total('diverged') or 0} diverged; "
            f"{_n(total('seconds'))} s in the checks.")


def hypothesis_lines(rows: list[dict]) -> list[str]:
    md = ["## Hypothesis' view per check", "", hypothesis_total(rows), "",
          "| " + " | ".join(HYPOTHESIS_COLUMNS) + " |", "|---|" + "--:|" * (len(HYPOTHESIS_COLUMNS) - 2) + "---|"]
    md += ["| " + " | ".join(c.replace("|", "\\|") for c in hypothesis_cells(r)) + " |" for r in rows]
    return md + [""]


def domain_section(a, drawn: dict, kinds=("asserted", "observed")) -> list[str]:
    """Where each claim was held to its bound (asserted) and where only observed: the ranges of the
    settings and of κ over its records."""
    dom = {c: {k: v for k, v in rows.items() if k in kinds} for c, rows in a.domain.items()}
    if not dom:
        return []
    more = "" if "observed" in kinds else " The observed records' ranges: records.md."
    return ["## Where each claim was checked", "",
            "Ranges over the claim's records held to its bound (asserted) and over those only observed (outside "
            f"the assumption): dimension d, samples N, width m, training times t_f, t_g, ε, laziness κ (n/a: no "
            f"record carries it).{more}", "", *domain_lines(dom), *([f"![settings checked]({drawn[DOMAIN_FIGURE]})", ""] if DOMAIN_FIGURE in drawn else [])]


#: Parts of a claim's statement that only some attacks exercise (THEORY.md §8: R2 states the PGD ball and the
#: controls), as (the attacks, the part as the title names it); a procedure that declares none of a part's
#: attacks never runs it, so that part is not checked.
ATTACK_PARTS = {"R2": ((("pgd-l2", "pgd-linf"), "PGD"), (("random",), "the random-direction control"),
                       (("shuffled",), "the shuffled control"))}


def unchecked_parts(capabilities: dict | None) -> dict:
    """claim → the parts of its statement the declared attacks (``capabilities["attacks"]``, None: all) leave
    unchecked, in words: {"R2": "PGD: not checked, the procedure does not implement it"}."""
    attacks = (capabilities or {}).get("attacks")
    out = {}
    for claim, parts in ({} if attacks is None else ATTACK_PARTS).items():
        texts = []
        for names, part in parts:
            missing = [a for a in names if a not in attacks]
            if missing:
                what = part if len(missing) == len(names) else ", ".join(missing)
                texts.append(f"{what}: not checked, the procedure does not implement it")
        if texts:
            out[claim] = "; ".join(texts)
    return out


def skip_reason(longrepr) -> str:
    """A pytest skip's reason, from its report's longrepr ((path, line, "Skipped: …"))."""
    return str(longrepr[-1] if isinstance(longrepr, (tuple, list)) else longrepr).removeprefix("Skipped: ")


def skipped_checks(outcomes: dict) -> dict:
    """The checks pytest skipped: nodeid → {"claims", "reason"} (the plugin stores a skip's reason in its
    outcome, ``"skipped"``)."""
    return {k: {"claims": list(o.get("claims") or []), "reason": o.get("skipped") or "reason not recorded"}
            for k, o in outcomes.items() if o.get("outcome") == "skipped"}


def not_checked(meta: dict, outcomes: dict | None = None) -> dict:
    """What the run did not check of the procedure, each with its reason: results.json's meta.not_checked
    (checks skipped, parts of claims, claims, strata, settings mapped or skipped); a run written before it
    named checks and parts gets them from its outcomes and its declared capabilities."""
    nc = meta.get("not_checked") or {}
    checks = nc.get("checks") if nc.get("checks") is not None else skipped_checks(outcomes or {})
    parts = nc.get("parts") if nc.get("parts") is not None else unchecked_parts(meta.get("capabilities"))
    return {"checks": checks, "parts": parts, "claims": nc.get("claims") or {}, "strata": nc.get("strata") or {},
            "settings": nc.get("settings") or []}


def claim_title(cid: str, parts: dict) -> str:
    """A claim's title, with what of it is not checked for this procedure (``not_checked(...)["parts"]``)."""
    title = CLAIMS[cid].title if cid in CLAIMS else cid
    return f"{title} (for this procedure: {parts[cid]})" if cid in parts else title


def reason_text(text: str) -> str:
    """A skip's reason without pytest's "Skipped: " and the harness's "not checked: " (said around it)."""
    return str(text).removeprefix("Skipped: ").removeprefix("not checked: ")


def not_checked_items(nc: dict, full: bool = False) -> list[str]:
    """What ``not_checked(...)`` holds, one plain sentence each: every skipped check, part of a claim and claim
    with its reason, and the explicit settings mapped or skipped (counted; ``full``: each)."""
    items = [f"check {k} ({', '.join(v['claims']) or 'no claim marker'}) skipped: {reason_text(v['reason'])}"
             for k, v in nc["checks"].items()]
    items += [f"{claim}: {text}" for claim, text in nc["parts"].items()]
    items += [f"{claim}: not checked: {why}" for claim, why in nc["claims"].items()]
    settings = nc["settings"]
    if settings and full:
        items += [f"a setting of {n.get('check', '')} {n.get('action', '')}: {n.get('reason', '')}" for n in settings]
    elif settings:
        mapped = sum(str(n.get("action", "")).startswith("mapped") for n in settings)
        items.append(f"explicit examples: {mapped} mapped to a supported setting, {len(settings) - mapped} skipped "
                     "(each with its reason: records.md)")
    return items


def not_checked_lines(nc: dict, full: bool = False) -> list[str]:
    """The report's "Not checked for this procedure" (``not_checked_items``; none where all was checked): one
    paragraph in summary.md, which stays one page; a section with one item a line in records.md (``full``)."""
    items = not_checked_items(nc, full)
    if not items:
        return []
    lead = ("What the procedure's declaration left unchecked (results.json `meta.not_checked`), with the reasons: "
            "never verified, never failed")
    if not full:
        return [f"**Not checked for this procedure.** {lead}: " + "; ".join(items) + ".", ""]
    return ["## Not checked for this procedure", "", lead + ".", "", *(f"- {item}" for item in items), ""]
