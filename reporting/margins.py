"""Margins to a bound, oriented so that a claim that holds always lies on the positive side.

A statistic meets its bound from one side: a ceiling (value ≤ bound: shares, errors, tolerances), a floor
(value ≥ bound: shares of pairs, coverage floors) or a centre (controls at chance, a rate whose interval
must contain it). The margin is the room left on the holding side, in the statistic's units; a negative
margin lies beyond the bound. An interval maps end by end; a centre's margin is minus the distance to it.

Margins of different claims share one axis in units of the violation the claim's power target asks to
detect (|target − bound| for a mean, the deviation for a slope); where that is zero (exact comparisons,
coverage floors, "the slope's interval lies below 0"), in units of the bound's size, else of 1.

A test that does not reject says "not rejected, with the stated power", not "within the bound": a mean of
0.002 under a bound of 0.01 whose interval at the test's level reaches 0.05 is not shown within it. So the
room a report reads (``room``: least room, the forest plot's marker) is the margin of the interval's end on
the violating side (a ceiling's upper end, a floor's lower end; a record without an interval, an exact
comparison of its worst value, its value), and each record reads "shown within the bound" only where that
end lies inside it (``reading``). ``margin`` stays the observed value's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from theory.claims import CLAIMS
from theory.tolerances import power_target

from .records import finite, finite_list

CEILING, FLOOR, CENTRE = "ceiling", "floor", "centre"
#: What a held record shows about its bound: its interval's end lies inside it; the test did not reject but
#: the interval reaches beyond (an equality is never shown, only not rejected); it rejected; or its ratio
#: sits at its tolerance by construction (``at_tolerance``).
SHOWN, NOT_REJECTED, REJECTED, BY_CONSTRUCTION = ("shown within the bound", "not rejected", "rejected",
                                                  "at its tolerance by construction")
#: Exact comparisons whose largest |deviation|/tolerance sits at 1 by construction, with why. R6's share of
#: rows with sgn f = y: a row within its rounding bound of 0 may count either way, so its tolerance is half the
#: share of such rows plus a rounding γ (``theory.conformance.sign_share``) and a correct report, which counts
#: each such row one way, lies exactly half that share from the midpoint: ratio 1 − γ/(half + γ), about
#: 1 − 4·10⁻¹³ (within about 2N(N + 3)u₆₄ of 1 for N test rows), not a near miss.
AT_TOLERANCE = {"R6": "a value within rounding of 0 counts either way"}
#: How far below its tolerance (relative) such a ratio may lie and still read "by construction": 2N(N + 3)u₆₄
#: stays below it up to N ≈ 6·10⁴ test rows.
AT_TOLERANCE_GAP = 1e-6
#: Verdicts of records held to their bound (an observation outside the assumption is not).
HELD = ("pass", "underpowered", "fail")
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


def at_tolerance(rec: dict) -> str | None:
    """Why ``rec``'s value sits at its bound by construction (``AT_TOLERANCE``), or None: an exact comparison
    of its claim within AT_TOLERANCE_GAP below its bound, whose worst part (where the record names its parts)
    is a share."""
    why = AT_TOLERANCE.get(rec.get("claim"))
    value, bound = finite(rec.get("value")), finite(rec.get("bound"))
    if why is None or rec.get("test") != "exact" or value is None or bound is None or value > bound:
        return None
    parts = rec.get("violations")
    if isinstance(parts, dict) and parts and "share" not in str(max(parts, key=lambda k: finite(parts[k]) or 0)):
        return None
    return why if bound - value <= AT_TOLERANCE_GAP * abs(bound) else None


def _deviation_rule(rec: dict) -> bool:
    """``detects`` and ``target`` are slope deviations (power rule "effect"), not means."""
    try:
        return power_target(rec["power_target"]).rule == "effect"
    except (KeyError, TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Margin:
    """A record's margins, in the statistic's units; ``unit`` scales them onto the shared axis. ``room``: the
    margin of the interval's end on the violating side (the value's without an interval); ``end``: that
    end (a centre's: the end farther from the point), ``interval`` the interval, in the statistic's units."""

    kind: str
    value: float
    ci: tuple | None
    detects: float | None
    target: float | None
    unit: float
    room: float = 0.0
    end: float | None = None
    interval: tuple | None = None

    def scaled(self) -> dict:
        """Every margin in units of ``unit`` (JSON-able), with the interval's end and the interval."""
        def s(x):
            return None if x is None else x / self.unit
        return {"kind": self.kind, "unit": self.unit, "margin": s(self.value),
                "margin_ci": None if self.ci is None else [s(self.ci[0]), s(self.ci[1])],
                "detects_margin": s(self.detects), "target_margin": s(self.target), "room": s(self.room),
                "end": self.end, "interval": None if self.interval is None else list(self.interval)}


def margin(rec: dict, known: dict | None = None) -> Margin | None:
    """The record's oriented margins; None without a value, a bound or a kind."""
    value, bound = finite(rec.get("value")), finite(rec.get("bound"))
    kind = bound_kind(rec, known)
    if value is None or bound is None or kind is None:
        return None
    ends = finite_list(rec.get("ci") or rec.get("slope_ci"))
    ci = _oriented_interval(ends[0], ends[1], bound, kind) if len(ends) == 2 else None
    interval = (min(ends), max(ends)) if len(ends) == 2 else None
    if interval is None:
        end = value
    elif kind == CENTRE:
        end = max(interval, key=lambda e: abs(e - bound))
    else:
        end = interval[1] if kind == CEILING else interval[0]
    detects, target = finite(rec.get("detects")), finite(rec.get("target"))
    if _deviation_rule(rec):
        detects = None if detects is None else -abs(detects)
        target = None if target is None else -abs(target)
    else:
        detects = None if detects is None else _oriented(detects, bound, kind)
        target = None if target is None else _oriented(target, bound, kind)
    unit = abs(target) if target else abs(bound) or 1.0
    room = _oriented(value, bound, kind) if ci is None else ci[0]
    if _shown_by_rejection(rec):
        # A coverage floor passes only by rejecting "mean ≤ floor" one-sided at α: its one-sided interval lies
        # above the floor, though the two-sided one the record carries (α/2 a side) may reach just below.
        room = max(room, 0.0)
    return Margin(kind=kind, value=_oriented(value, bound, kind), ci=ci, detects=detects, target=target,
                  unit=unit, room=room, end=end, interval=interval)


def _shown_by_rejection(rec: dict) -> bool:
    return rec.get("side") == "above" and rec.get("verdict") == "pass"


def reading(rec: dict, m: Margin | None) -> str | None:
    """What a held record shows about its bound (SHOWN, NOT_REJECTED, REJECTED, BY_CONSTRUCTION); None for
    a record not held to its bound or without a margin."""
    if m is None or rec.get("verdict") not in HELD:
        return None
    if rec["verdict"] == "fail":
        return REJECTED
    if at_tolerance(rec):
        return BY_CONSTRUCTION
    if _shown_by_rejection(rec):
        return SHOWN
    return NOT_REJECTED if m.kind == CENTRE or m.room < 0 else SHOWN


def least_room(records: list[dict], verdicts=HELD) -> list[dict]:
    """Per (claim, statistic): the record whose bound has the least room (smallest scaled ``room``: its
    interval's end, not its value), with its setting, value, end, reading and bound, over the records with
    one of ``verdicts`` that have a margin. Records at their tolerance by construction (``at_tolerance``) are
    no near misses: they are counted (``at_tolerance``, with ``at_tolerance_reason``) and the row is the
    least room of the others, or one of them where there are no others."""
    known = known_kinds(records)
    best: dict = {}
    counts: dict = {}
    built: dict = {}
    for r in records:
        m = margin(r, known)
        if m is None or r.get("verdict") not in verdicts:
            continue
        key = (r["claim"], r["statistic"])
        counts[key] = counts.get(key, 0) + 1
        why = at_tolerance(r)
        if why:
            built[key] = (built.get(key, (0, why))[0] + 1, why)
        room = m.room / m.unit
        # A record at its tolerance by construction is a row only while no other record is.
        rank = (bool(why), room)
        if key not in best or rank < best[key]["_rank"]:
            best[key] = {"claim": r["claim"], "statistic": r["statistic"], "room": room, "margin": m.value / m.unit,
                         "unit": m.unit, "kind": m.kind, "value": r["value"], "end": m.end, "bound": r["bound"],
                         "reading": reading(r, m), "verdict": r["verdict"], "check": r["check"],
                         "setting": r["setting"], "_rank": rank}
    order = {c: i for i, c in enumerate(claim_order({c for c, _ in best}))}
    rows = []
    for key, row in best.items():
        row = {k: v for k, v in row.items() if k != "_rank"}
        row.update(records=counts[key], at_tolerance=built.get(key, (0, None))[0],
                   at_tolerance_reason=built.get(key, (0, None))[1])
        rows.append(row)
    return sorted(rows, key=lambda row: (order[row["claim"]], row["room"] if math.isfinite(row["room"]) else 0))


def test_in_words(rec: dict) -> str | None:
    """A slope's interval test in words ("slope CI < 0", "slope CI ∋ -0.5"): its ``detects`` is a deviation
    (0 for a one-sided interval test), which as a bare number reads like a claim that detects nothing."""
    if rec.get("test") != "t-interval" or finite(rec.get("bound")) is None:
        return None
    sign = "∋" if bound_kind(rec) == CENTRE else "<"
    return f"slope CI {sign} {rec['bound']:g}"


def _claim_records(records: list[dict], claim: str):
    # Imported here: verdicts decides which records a claim's verdict reads (one place for that rule).
    from .pooling import is_asserted

    mine = [r for r in records if r.get("claim") == claim]
    return mine, [r for r in mine if is_asserted(r) and r.get("power_target") != "coverage"]


def _room(rec: dict, known: dict) -> float | None:
    m = margin(rec, known)
    return None if m is None else m.room / m.unit


def forest_row(records: list[dict], claim: str, verdict: dict | None, known: dict | None = None) -> dict:
    """One claim's row of "claims at a glance": the record its verdict rests on (a failing record with the
    least room where the claim failed; else the verdict's best test, ``verdicts.best_record``) with its
    oriented, scaled margins, its room (its interval's end) and what it shows (``reading``), and the least
    room over the claim's per-example records (those at their tolerance by construction left out)."""
    from .verdicts import POOLED_CHECK, STRATUM_CHECK, best_record

    known = known_kinds(records) if known is None else known
    mine, asserted = _claim_records(records, claim)
    failing = [r for r in asserted if r["verdict"] == "fail" and _room(r, known) is not None]
    rec = (min(failing, key=lambda r: _room(r, known)) if failing else best_record(asserted)
           or min((r for r in mine if _room(r, known) is not None), key=lambda r: _room(r, known), default=None))
    examples = [s for r in mine if r.get("check") not in (POOLED_CHECK, STRATUM_CHECK) and r["verdict"] in HELD
                and not at_tolerance(r) and (s := _room(r, known)) is not None]
    row = {"claim": claim, "claim_verdict": (verdict or {}).get("verdict", ""), "records": len(mine),
           "least_example_room": min(examples) if examples else None}
    if rec is None:
        return row
    m = margin(rec, known)
    row.update({k: rec.get(k) for k in ("statistic", "check", "verdict", "value", "bound", "ci", "detects",
                                         "target", "n_pairs", "test")})
    row["words"] = test_in_words(rec)
    if m is not None:
        row.update(m.scaled(), reading=reading(rec, m))
    return row


def forest_rows(records: list[dict], verdicts: dict | None) -> list[dict]:
    """``forest_row`` of every claim with records or a verdict, in THEORY.md's order."""
    known = known_kinds(records)
    ids = claim_order({r["claim"] for r in records} | set(verdicts or {}))
    return [forest_row(records, c, (verdicts or {}).get(c), known) for c in ids]
