"""Margins to a bound, oriented so that a claim that holds always lies on the positive side.

A statistic meets its bound from one side: a ceiling (value ≤ bound: shares, errors, tolerances), a floor
(value ≥ bound: shares of pairs, coverage floors) or a centre (controls at chance, a rate whose interval
must contain it). The margin is the room left on the holding side, in the statistic's units; a negative
margin lies beyond the bound. An interval maps end by end; a centre's margin is minus the distance to it.

Margins of different claims share one axis in units of the violation the claim's power target asks to
detect (|target − bound| for a mean, the deviation for a slope); where that is zero (exact comparisons,
coverage floors, "the slope's interval lies below 0"), in units of the bound's size, else of 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from theory.claims import CLAIMS
from theory.tolerances import power_target

from .records import finite, finite_list

CEILING, FLOOR, CENTRE = "ceiling", "floor", "centre"
_KIND_OF_SIDE = {"at most": CEILING, "at least": FLOOR, "above": FLOOR, "both": CENTRE}


def claim_order(ids) -> list[str]:
    """Claim IDs in THEORY.md's order; unknown IDs last, alphabetically."""
    order = {c: i for i, c in enumerate(CLAIMS)}
    return sorted(ids, key=lambda c: (order.get(c, len(order)), c))


def bound_kind(rec: dict, known: dict | None = None) -> str | None:
    """Ceiling, floor or centre; None where the record does not say (an observation of a statistic that
    no asserted record of its claim states a side for)."""
    side = rec.get("side")
    if side in _KIND_OF_SIDE:
        return _KIND_OF_SIDE[side]
    if rec.get("test") is None:
        return (known or {}).get((rec["claim"], rec["statistic"]))
    if rec.get("test") == "t-interval" and (finite(rec.get("detects")) or 0.0) > 0:
        # A slope whose power target is a deviation either way (a rate): its interval must contain the bound.
        return CENTRE
    return CEILING  # exact comparisons, Hoeffding half-widths, a slope's interval below its bound


def known_kinds(records: list[dict]) -> dict:
    """(claim, statistic) → kind, from the records that state their side."""
    return {(r["claim"], r["statistic"]): k for r in records
            if r.get("test") is not None and (k := bound_kind(r)) is not None}


def _oriented(x: float, bound: float, kind: str) -> float:
    if kind == CEILING:
        return bound - x
    return x - bound if kind == FLOOR else -abs(x - bound)


def _oriented_interval(lo: float, hi: float, bound: float, kind: str) -> tuple[float, float]:
    if kind == CENTRE:
        return (-max(abs(lo - bound), abs(hi - bound)), -max(lo - bound, bound - hi, 0.0))
    ends = sorted((_oriented(lo, bound, kind), _oriented(hi, bound, kind)))
    return ends[0], ends[1]


def _deviation_rule(rec: dict) -> bool:
    """``detects`` and ``target`` are slope deviations (power rule "effect"), not means."""
    try:
        return power_target(rec["power_target"]).rule == "effect"
    except (KeyError, TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Margin:
    """A record's margins, in the statistic's units; ``unit`` scales them onto the shared axis."""

    kind: str
    value: float
    ci: tuple | None
    detects: float | None
    target: float | None
    unit: float

    def scaled(self) -> dict:
        """Every margin in units of ``unit`` (JSON-able)."""
        def s(x):
            return None if x is None else x / self.unit
        return {"kind": self.kind, "unit": self.unit, "margin": s(self.value),
                "margin_ci": None if self.ci is None else [s(self.ci[0]), s(self.ci[1])],
                "detects_margin": s(self.detects), "target_margin": s(self.target)}


def margin(rec: dict, known: dict | None = None) -> Margin | None:
    """The record's oriented margins; None without a value, a bound or a kind."""
    value, bound = finite(rec.get("value")), finite(rec.get("bound"))
    kind = bound_kind(rec, known)
    if value is None or bound is None or kind is None:
        return None
    ends = finite_list(rec.get("ci") or rec.get("slope_ci"))
    ci = _oriented_interval(ends[0], ends[1], bound, kind) if len(ends) == 2 else None
    detects, target = finite(rec.get("detects")), finite(rec.get("target"))
    if _deviation_rule(rec):
        detects = None if detects is None else -abs(detects)
        target = None if target is None else -abs(target)
    else:
        detects = None if detects is None else _oriented(detects, bound, kind)
        target = None if target is None else _oriented(target, bound, kind)
    unit = abs(target) if target else abs(bound) or 1.0
    return Margin(kind=kind, value=_oriented(value, bound, kind), ci=ci, detects=detects, target=target,
                  unit=unit)


#: Verdicts of records held to their bound (an observation outside the assumption is not).
HELD = ("pass", "underpowered", "fail")


def least_room(records: list[dict], verdicts=HELD) -> list[dict]:
    """Per (claim, statistic): the record whose bound has the least room (smallest scaled margin), with
    its setting, value and bound, over the records with one of ``verdicts`` that have a margin."""
    known = known_kinds(records)
    best: dict = {}
    counts: dict = {}
    for r in records:
        m = margin(r, known)
        if m is None or r.get("verdict") not in verdicts:
            continue
        key = (r["claim"], r["statistic"])
        counts[key] = counts.get(key, 0) + 1
        scaled = m.value / m.unit
        if key not in best or scaled < best[key]["margin"]:
            best[key] = {"claim": r["claim"], "statistic": r["statistic"], "margin": scaled, "unit": m.unit,
                         "kind": m.kind, "value": r["value"], "bound": r["bound"], "verdict": r["verdict"],
                         "check": r["check"], "setting": r["setting"]}
    order = {c: i for i, c in enumerate(claim_order({c for c, _ in best}))}
    rows = [dict(row, records=counts[key]) for key, row in best.items()]
    return sorted(rows, key=lambda row: (order[row["claim"]], row["margin"] if math.isfinite(row["margin"]) else 0))


def test_in_words(rec: dict) -> str | None:
    """A slope's interval test in words ("slope CI < 0", "slope CI ∋ -0.5"): its ``detects`` is a deviation
    (0 for a one-sided interval test), which as a bare number reads like a claim that detects nothing."""
    if rec.get("test") != "t-interval" or finite(rec.get("bound")) is None:
        return None
    sign = "∋" if bound_kind(rec) == CENTRE else "<"
    return f"slope CI {sign} {rec['bound']:g}"


def _claim_records(records: list[dict], claim: str):
    # Imported here: verdicts decides which records a claim's verdict reads (one place for that rule).
    from .verdicts import _asserted

    mine = [r for r in records if r.get("claim") == claim]
    return mine, [r for r in mine if _asserted(r) and r.get("power_target") != "coverage"]


def _scaled(rec: dict, known: dict) -> float | None:
    m = margin(rec, known)
    return None if m is None else m.value / m.unit


def forest_row(records: list[dict], claim: str, verdict: dict | None, known: dict | None = None) -> dict:
    """One claim's row of "claims at a glance": the record its verdict rests on (a failing record with the
    least room where the claim failed; else the verdict's best test, ``verdicts.best_record``) with its
    oriented, scaled margins, and the least room over the claim's per-example records."""
    from .verdicts import POOLED_CHECK, STRATUM_CHECK, best_record

    known = known_kinds(records) if known is None else known
    mine, asserted = _claim_records(records, claim)
    failing = [r for r in asserted if r["verdict"] == "fail" and _scaled(r, known) is not None]
    rec = (min(failing, key=lambda r: _scaled(r, known)) if failing else best_record(asserted)
           or min((r for r in mine if _scaled(r, known) is not None), key=lambda r: _scaled(r, known), default=None))
    examples = [s for r in mine if r.get("check") not in (POOLED_CHECK, STRATUM_CHECK) and r["verdict"] in HELD
                and (s := _scaled(r, known)) is not None]
    row = {"claim": claim, "claim_verdict": (verdict or {}).get("verdict", ""), "records": len(mine),
           "least_example_margin": min(examples) if examples else None}
    if rec is None:
        return row
    m = margin(rec, known)
    row.update({k: rec.get(k) for k in ("statistic", "check", "verdict", "value", "bound", "ci", "detects",
                                         "target", "n_pairs", "test")})
    row["words"] = test_in_words(rec)
    if m is not None:
        row.update(m.scaled())
    return row


def forest_rows(records: list[dict], verdicts: dict | None) -> list[dict]:
    """``forest_row`` of every claim with records or a verdict, in THEORY.md's order."""
    known = known_kinds(records)
    ids = claim_order({r["claim"] for r in records} | set(verdicts or {}))
    return [forest_row(records, c, (verdicts or {}).get(c), known) for c in ids]


def record_margins(records: list[dict]) -> dict:
    """claim → the scaled margins of its records that have one: check, verdict, margin, margin_ci, pooled."""
    from .verdicts import POOLED_CHECK, STRATUM_CHECK

    known = known_kinds(records)
    out: dict = {}
    for r in records:
        m = margin(r, known)
        if m is not None:
            s = m.scaled()
            out.setdefault(r["claim"], []).append(
                {"check": r["check"], "verdict": r["verdict"], "margin": s["margin"], "margin_ci": s["margin_ci"],
                 "pooled": r["check"] in (POOLED_CHECK, STRATUM_CHECK)})
    return {c: out[c] for c in claim_order(out)}
