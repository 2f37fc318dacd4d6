"""Claim-level verdicts at the end of a run: pooled tests, power targets and the false-failure budget.

Numbers only; the plugin calls :func:`conclude` on the controller and fails the run on its verdicts.

Pooled tests: ``reporting.pooling``.

Strata. A claim is verified only if it is verified on every stratum it covers (``theory.strata``: γ = 0 /
γ > 0, identity / logistic, Scenario (a) / (b), random / flipped targets, β = 0 / β > 0): a bug confined to
one stratum is diluted by the other strata's pairs in the test pooled over all of them. Per stratum, the
records whose setting lies in it are pooled (one more test per stratum and statistic, made only
where the stratum holds two or more records and not all of the claim's); the stratum is verified when
one of its records or its pooled test passes at its power target. A stratum without records is "not
verified"; an axis the claim does not range over is named, with the reason, in ``AXES_OUTSIDE_CLAIM``.
A stratum where the claim's conditions cover fewer than STRATUM_MIN_COVERAGE of the inputs in every record
holds no evidence: it is "not covered by the conditions" (stated next to the claim's verdict with its
largest coverage and the reason, neither verified nor failing the run) only where ``theory.strata``
states that the theorem's conditions cannot select an input there (P4 in Scenario (a) or with random
targets); anywhere else it is "not verified", and explicit examples must cover it (Theorem 3.5's
Scenario (b) example, ``checks.axes``). A stratum or a claim that the checked procedure's declaration
excludes (``not_checked``: plain data from the run's metadata, ``checks.axes.not_checked``) is "not
checked", with the reason: never verified, never failed, and stated next to the claim's verdict.

Claim verdicts: "failed" (a record or a pooled test rejected the claim), "verified at target power" (a
record or pooled test passed at its power target, and every stratum the claim covers is verified or not
covered), "not rejected, underpowered" (below), "observation-only: <reason>"
(``theory.tolerances.OBSERVATION_ONLY``), "not verified" (no asserted record, or a stratum without evidence). A
run with a failed claim fails; a run of the whole suite with a not-verified claim fails too.

False-failure budget (``reporting.budget``): POOLED_SHARE of RUN_BUDGET goes to the pooled tests, whose
number is known before any is made (Bonferroni over them); the rest to the per-example tests, which the
run's processes spend by a spending rule (``checks.session.Spending``). The budget holds by
construction, whatever number of tests a profile makes.

"Not rejected, underpowered": every stratum the claim covers holds records, none rejected the claim, but
some stratum's best test does not reach the claim's power target under heterogeneous violations
(``theory.power``). It is stated with the strata, their units and ``detects``, and fails no run: what
fails a run is a rejection, or (a whole-suite run) a claim or stratum without evidence (no asserted
record, or the conditions covering too few inputs).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from theory.strata import conditions_never_hold, covered_strata, not_checked_strata
from theory.tolerances import MIN_CELL_UNITS, OBSERVATION_ONLY, STRATUM_MIN_COVERAGE

from .budget import STATISTICAL, Budget, pooled_level, spent
from .budget import budget_line as budget_text
# Re-exported: the pooled tests' names and units are read by the comparison and the tests through here.
from .pooling import (POOLED_CHECK, STRATUM_CHECK, Units, cell_name, in_cell, is_asserted, pair_units,  # noqa: F401
                      per_example, pool, pool_groups, pooled_record_of, stratum_groups, stratum_pooled_record,
                      stratum_pools, units_of)
from .records import finite

VERIFIED, FAILED, NOT_VERIFIED = "verified at target power", "failed", "not verified"
#: Not rejected anywhere, evidence on every stratum, but short of the power target on some.
UNDERPOWERED = "not rejected, underpowered"
#: A stratum where the claim's conditions hold on too few inputs to test it (STRATUM_MIN_COVERAGE).
NOT_COVERED = "not covered by the conditions"
#: A stratum or claim outside what the checked procedure declares it implements.
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Conclusion:
    pooled: list            # pooled records (dicts, like Record.to_jsonable)
    claims: dict            # claim → {"verdict": str, "reason": str, "best_detects": …, "target": …,
                            #          "strata": {"axis=stratum": {"verdict", "records", "best_detects", "target",
                            #                              "max_coverage"}}}
    budget: Budget
    ok: bool

    @property
    def tests_made(self) -> int:
        return self.budget.tests

    @property
    def budget_spent(self) -> float:
        return self.budget.spent


def _unchecked_parts(records: list[dict]) -> str:
    """The parts of a claim that some records could not check, each with why (e.g. "not reported" by
    the procedure): stated next to the verdict, never passed silently."""
    counts: dict = defaultdict(int)
    for r in records:
        for part in r.get("unchecked") or ():
            counts[part] += 1
    return "; ".join(f"not checked in {k} of {len(records)} records: {part}"
                     for part, k in sorted(counts.items()))


def best_record(asserted: list[dict]) -> dict | None:
    """The most telling test among a claim's asserted records that did not fail: a statistical one
    before an exact comparison, pooled before per-example, then the most pairs."""
    return min((r for r in asserted if r.get("detects") is not None and r.get("verdict") != "fail"),
               key=lambda r: (r.get("test") in ("exact", "hoeffding"), r["check"] != POOLED_CHECK,
                              -(r["n_pairs"] or 0)), default=None)


def excludes(best: dict | None) -> str | None:
    """What a claim's verdict excludes, in words (STATISTICS.md, "What a verdict excludes"): the violation
    its most telling test would have caught with probability 0.9, and the end of its interval next to the
    bound."""
    if best is None or best.get("detects") is None:
        return None
    if best.get("test") in ("exact", "hoeffding") or best.get("side") is None:
        return f"every value of {best['statistic']} beyond its bound {best['bound']:.4g} fails"
    lo, hi = (best.get("ci") or (None, None))[:2]
    at_least = best["side"] == "at least"
    relation, end = ("≤", lo) if at_least else ("≥", hi)
    shown = "" if end is None else f"; {'lower' if at_least else 'upper'} end of its interval {end:.4g}"
    return (f"a mean {best['statistic']} {relation} {best['detects']:.4g} (bound {best['bound']:.4g}), however it "
            f"falls on the pairs (CV ≤ 3), would have been caught with probability 0.9 over {best['n_pairs']} "
            f"independent pairs{shown}")


def _covered_too_little(cell: list[dict]) -> bool:
    """Every record of the cell states a coverage of the claim's conditions, all below the floor."""
    covs = [r.get("coverage") for r in cell]
    return bool(cell) and all(c is not None and c < STRATUM_MIN_COVERAGE for c in covs)


def strata_verdicts(claim: str, asserted: list[dict], mine: list[dict] = (), excluded: dict | None = None) -> dict:
    """Per covered stratum of ``claim``: its verdict from the asserted records in it (the claim-wide
    pooled records count in a stratum that holds every per-example record). ``mine``: all the claim's
    records, observed ones included, for the coverage of a stratum that none passes. ``excluded``: the
    cells the procedure's declaration leaves unchecked → why."""
    examples = per_example(asserted)
    out = {}
    for axis, value in covered_strata(claim):
        cell = [r for r in asserted if in_cell(r, axis, value)]
        n_records = len(per_example(cell))
        if n_records and n_records == len(examples):
            cell += [r for r in asserted if r.get("check") == POOLED_CHECK]
        tried = [r for r in per_example(mine) if in_cell(r, axis, value) and r.get("power_target") != "coverage"]
        vacuous = _covered_too_little(tried)
        never = conditions_never_hold(claim, axis, value)
        unchecked = (excluded or {}).get(cell_name(axis, value))
        # A stratum whose conditions cover too few inputs in every record holds no evidence, whatever its
        # tests say: a pass there is a pass on almost nothing.
        verdict = (NOT_CHECKED if unchecked else FAILED if any(r["verdict"] == "fail" for r in cell) else
                   (NOT_COVERED if never else NOT_VERIFIED) if vacuous else
                   VERIFIED if any(r["verdict"] == "pass" for r in cell) else
                   UNDERPOWERED if cell else NOT_VERIFIED)
        covs = [r["coverage"] for r in tried if r.get("coverage") is not None]
        # The cell shows the test its verdict rests on: a verified cell the passing test (its detects is
        # within the target), any other the most telling one.
        best = best_record([r for r in cell if r["verdict"] == "pass"] if verdict == VERIFIED else cell)
        units = best and best.get("n_pairs")
        out[cell_name(axis, value)] = {"verdict": verdict, "records": n_records,
                                        "best_detects": best and best.get("detects"),
                                        "target": best and best.get("target"),
                                        "units": units, "test": best and best.get("check"),
                                        "few_units": bool(verdict == VERIFIED and best.get("test") in STATISTICAL
                                                          and (units or 0) < MIN_CELL_UNITS),
                                        "max_coverage": max(covs) if covs else None,
                                        "uncovered": vacuous,
                                        "reason": unchecked or (never if verdict == NOT_COVERED else None)}
    return out


def _why_unverified(v: dict) -> str:
    if v.get("uncovered"):
        return f"the conditions cover ≤ {v['max_coverage']:.2f} of the inputs, < {STRATUM_MIN_COVERAGE:g}"
    return "no record" if v["records"] == 0 else "underpowered"


def _unverified_strata(strata: dict) -> str:
    cells = [f"{cell} ({_why_unverified(v)})" for cell, v in strata.items() if v["verdict"] == NOT_VERIFIED]
    return "not verified on the strata " + ", ".join(cells) if cells else ""


def _underpowered_strata(strata: dict) -> str:
    """The strata short of the power target, those resting on the same test named together."""
    tests: dict = defaultdict(list)
    for cell, v in strata.items():
        if v["verdict"] == UNDERPOWERED:
            tests[f"detects {_num(v['best_detects'])}, target {_num(v['target'])}, {v['units']} units"].append(cell)
    return "not rejected but short of the power target on the strata " + "; ".join(
        f"{', '.join(cells)} ({test})" for test, cells in tests.items()) if tests else ""


def _num(x) -> str:
    return "never" if finite(x) is None else f"{x:.3g}"


def _uncovered_strata(strata: dict) -> str:
    cells = [f"{cell} (coverage ≤ {v['max_coverage']:.2f}: {v['reason']})" for cell, v in strata.items()
             if v["verdict"] == NOT_COVERED]
    return ("not covered: the theory's conditions cannot select an input on the strata " + "; ".join(cells)
            if cells else "")


def claim_verdicts(claims, records: list[dict], not_checked: dict | None = None) -> dict:
    """Verdict of every claim ID in ``claims`` from its records (pooled ones included); ``not_checked``:
    {"strata": cell → why, "claims": claim → why} of the procedure's declaration."""
    out, not_checked = {}, not_checked or {}
    for claim in claims:
        if claim in (not_checked.get("claims") or {}):
            out[claim] = {"verdict": NOT_CHECKED, "reason": not_checked["claims"][claim], "records": 0,
                          "asserted": 0, "best_detects": None, "target": None, "excludes": None, "strata": {}}
            continue
        mine = [r for r in records if r.get("claim") == claim]
        # A coverage shown above its floor is a premise of the claim's check, not a test of the claim.
        asserted = [r for r in mine if is_asserted(r) and r.get("power_target") != "coverage"]
        best = best_record(asserted)
        strata = strata_verdicts(claim, asserted, mine, not_checked_strata(claim, not_checked.get("strata"))) \
            if asserted else {}
        info = {"records": len(mine), "asserted": len(asserted),
                "best_detects": best and best.get("detects"), "target": best and best.get("target"),
                "excludes": excludes(best), "strata": strata}
        unverified, short = _unverified_strata(strata), _underpowered_strata(strata)
        unchecked = "; ".join(f"{c} ({v['reason']})" for c, v in strata.items() if v["verdict"] == NOT_CHECKED)
        unchecked = unchecked and "not checked on the strata " + unchecked
        if any(r["verdict"] == "fail" for r in mine if is_asserted(r)):
            failed = [c for c, v in strata.items() if v["verdict"] == FAILED]
            out[claim] = dict(info, verdict=FAILED, reason="a test rejected the claim"
                              + (f" (strata {', '.join(failed)})" if failed else ""))
        elif any(r["verdict"] == "pass" for r in asserted) and not unverified and not short:
            out[claim] = dict(info, verdict=VERIFIED, reason="; ".join(
                part for part in (_uncovered_strata(strata), unchecked, _unchecked_parts(asserted)) if part))
        elif claim in OBSERVATION_ONLY:
            out[claim] = dict(info, verdict=f"observation-only: {OBSERVATION_ONLY[claim]}", reason="")
        elif asserted and not unverified:
            out[claim] = dict(info, verdict=UNDERPOWERED, reason="; ".join(part for part in (
                short or f"short of the power target in all {len(asserted)} asserted records (pooled included)",
                _uncovered_strata(strata), unchecked, _unchecked_parts(asserted)) if part))
        else:
            why = "no asserted record" if not asserted else unverified or \
                f"underpowered in all {len(asserted)} asserted records (pooled included)"
            # Parts not checked are stated whatever the verdict: never hidden behind another reason.
            out[claim] = dict(info, verdict=NOT_VERIFIED,
                              reason="; ".join(part for part in (why, unchecked, _unchecked_parts(asserted)) if part))
    return out


def conclude(claims, records: list[dict], require_verified: bool = True, not_checked: dict | None = None) -> Conclusion:
    """Pooled records, claim verdicts and the budget; ``ok`` is False when a claim failed or (with
    ``require_verified``) when a claim or a stratum holds no evidence ("not verified"); a claim short of
    its power target fails nothing. ``not_checked``: what the procedure's declaration excludes
    (``claim_verdicts``): not checked, which fails nothing. The pooled tests are counted before any is
    made, and each gets POOLED_SHARE·RUN_BUDGET over their number (``reporting.budget``)."""
    jobs = [(*g, None) for g in pool_groups(records)] + stratum_groups(claims, records)
    alpha = pooled_level(len(jobs))
    pooled = [pooled_record_of(c, t, g, alpha) if names is None else stratum_pooled_record(c, t, g, names, alpha)
              for c, t, g, names in jobs]
    verdicts = claim_verdicts(claims, list(records) + pooled, not_checked)
    bad = (FAILED, NOT_VERIFIED) if require_verified else (FAILED,)
    ok = all(v["verdict"] not in bad for v in verdicts.values())
    return Conclusion(pooled=pooled, claims=verdicts, budget=spent([r for r in records if is_asserted(r)], len(jobs)),
                      ok=ok)


def count_tests(records: list[dict]) -> int:
    """Statistical tests at a level of the budget among the records (per-example and pooled)."""
    return sum(1 for r in records if is_asserted(r) and (r.get("test") in STATISTICAL or
                                                        str(r.get("test", "")).endswith("pooled")))


def budget_line(c: Conclusion) -> str:
    return budget_text(c.budget)
