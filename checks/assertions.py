"""Confidence-bound assertions: each records one :class:`reporting.records.Record`, fails only when the
data *reject* the claim at level α, and states its power.

A false failure (the claim true, the check red) has probability ≤ α per test; a test's α comes from the
process's share of the run's budget (:func:`next_level`, ``checks.session.Spending``; the split is in
``theory.tolerances``: RUN_BUDGET, POOLED_SHARE, SPENDING_TAIL). The claim and the check name come from the running
check (``checks.session``): a check with one claim marker needs nothing more; a property of a
multi-claim check is decorated with :func:`tests_claim`.

Power. Every statistical assertion records ``detects``, the smallest true violation its test rejects
with probability ≥ 0.9 (``theory.power``), and the violation its claim's power target asks for
(``theory.tolerances.POWER_TARGETS``). A test that is not rejected but cannot reach the target records
the verdict "underpowered", not "pass"; the claim-level pooled test at the end of the run
(``reporting.verdicts``) may still verify the claim.

Independence. Points that share one pair of random networks are not independent trials (THEORY.md
L2). So statistics are taken over *pairs*: each pair has its own data, initialisation and target
seeds, and contributes one number in [0, 1] (a share of points, an agreement). The betting test of
``theory.betting`` then holds whatever the within-pair correlation, and stays valid when more pairs are
trained after looking at the first ones.
"""

from __future__ import annotations

import functools

import numpy as np

from reporting.records import Record, finite
from theory.betting import betting_confidence_sequence, betting_test, can_reject
from theory.power import betting_detects, binomial_detects, power_spread
from theory.stats import binomial_tail_pvalue, clopper_pearson
from theory.tolerances import EVIDENCE_ALPHA, power_target

from .session import claim_scope, current, current_check, current_claim, emit


def tests_claim(claim: str):
    """Decorator: the property tests ``claim``; its assertions record under it."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            __tracebackhide__ = True
            with claim_scope(claim):
                return fn(*args, **kwargs)
        wrapper.claim = claim
        return wrapper
    return decorate


def next_level() -> float:
    """The level α of the test about to be made, drawn from this process's share of the run's budget."""
    return current().levels.take()


def _level(alpha, inside: bool = True) -> float:
    """``alpha`` if given; else the next test's level, counted against the budget only when the test is
    asserted (an observation outside the theory's assumptions fails nothing)."""
    if alpha is not None:
        return alpha
    return next_level() if inside else current().levels.peek()


def _new(statistic, value, bound, verdict, inside, setting, seeds, **fields) -> Record:
    return Record(claim=current_claim(), check=current_check(), setting=dict(setting), seeds=list(seeds or []),
                  statistic=statistic, value=value, bound=bound, verdict=verdict, inside=inside, **fields)


def _fail(rec: Record, message: str):
    __tracebackhide__ = True
    if not current().asserts_verdicts:
        return
    raise AssertionError(f"{rec.claim}: {message} [{', '.join(f'{k}={v}' for k, v in rec.setting.items())}]")


def _power_verdict(inside: bool, rejected: bool, key: str, detects, bound, side) -> tuple[str, dict]:
    """Verdict and power fields of a statistical record: "fail" when rejected, else "pass" only if the
    test reaches the power target of ``key``, else "underpowered"."""
    target = power_target(key)
    goal = target.target(bound, side)
    fields = dict(detects=finite(detects), target=finite(goal), power_target=key, side=side)
    if not inside:
        return "observed", fields
    if rejected:
        return "fail", fields
    if target.reached(finite(detects), bound, side):
        return "pass", fields
    shown = "never" if finite(detects) is None else f"{detects:.3g}"
    return "underpowered", dict(fields, reason=f"underpowered: detects {shown}, target {goal:.3g}")


def _pair_seeds(values: np.ndarray, seeds) -> list[int]:
    """The seed of each value's pair: pooled tests count the pairs of one seed as one unit
    (``reporting.verdicts.pair_units``), so a seed list that does not align with the values is an error."""
    seeds = list(seeds or [])
    if len(seeds) != len(values):
        raise ValueError(f"seeds has {len(seeds)} entries, must hold one seed per value ({len(values)}), in order")
    return [int(s) for s in seeds]


def _pair_counts(values: np.ndarray, counts) -> list[int] | None:
    """Per value, the inputs its share was taken over (None: the values are not shares)."""
    if counts is None:
        return None
    if len(counts) != len(values):
        raise ValueError(f"pair_counts has {len(counts)} entries, must hold one count per value ({len(values)})")
    return [int(c) for c in counts]


def _assert_mean(values, bound, side, *, setting, seeds, statistic, inside, alpha, power_target_key=None,
                 pair_counts=None, **fields) -> Record:
    __tracebackhide__ = True
    values = np.asarray(values, dtype=float)
    key = power_target_key or current_claim()
    pair_seeds, counts = _pair_seeds(values, seeds), _pair_counts(values, pair_counts)
    if not 0 < bound < 1:
        # A mean of [0, 1] values cannot break "≤ 1" or "≥ 0": nothing to test.
        return observe(value=float(values.mean()), statistic=statistic, setting=setting, seeds=seeds, bound=bound,
                       reason=f"bound {bound:g} outside (0, 1): the claim cannot be violated", n_pairs=len(values),
                       **fields)
    # A test that no data could make reject (too few pairs for 1/α) spends no budget.
    alpha = _level(alpha, inside and can_reject(len(values), bound, current().levels.peek(), side))
    test = betting_test(values, bound, alpha, side)
    detects = betting_detects(len(values), bound, alpha, power_spread(values, bound), side, counts)
    verdict, power = _power_verdict(inside, test.reject, key, detects, bound, side)
    rec = emit(_new(statistic, float(values.mean()), bound, verdict, inside, setting, seeds,
                    ci=betting_confidence_sequence(values, alpha), alpha=alpha, n_pairs=len(values),
                    p_value=test.pvalue, test="betting", pair_values=values.tolist(), pair_seeds=pair_seeds,
                    pair_counts=counts, **power, **fields))
    if verdict == "fail":
        relation = "exceeds" if side == "at most" else "is below"
        _fail(rec, f"mean {statistic}={values.mean():.4f} over {len(values)} pairs {relation} {bound:.4f} "
                   f"(betting p={test.pvalue:.2e} < α={alpha:.1e}, rejected after {test.stopped_at} pairs)")
    return rec


def assert_mean_at_most(values, mu_max: float, *, setting: dict, seeds: list, statistic: str,
                        inside: bool = True, alpha: float | None = None, power_target_key: str | None = None,
                        pair_counts=None, **fields) -> Record:
    """Claim: E[X] ≤ mu_max over independent pairs, X ∈ [0, 1]. Fails iff the betting test rejects at α.
    Outside the assumption (inside=False) the outcome is recorded as an observation only.
    ``seeds``: one per value, in order (its pair's). ``pair_counts``: per value, the inputs a share was
    taken over (the power model's binomial layer, ``theory.power.share_model``).
    ``power_target_key``: the power target (default: the claim's); ``fields``: further :class:`Record`
    fields (coverage, kappa, …)."""
    __tracebackhide__ = True
    return _assert_mean(values, mu_max, "at most", setting=setting, seeds=seeds, statistic=statistic,
                        inside=inside, alpha=alpha, power_target_key=power_target_key, pair_counts=pair_counts,
                        **fields)


def assert_mean_at_least(values, mu_min: float, *, setting: dict, seeds: list, statistic: str,
                         inside: bool = True, alpha: float | None = None, power_target_key: str | None = None,
                         pair_counts=None, **fields) -> Record:
    """Claim: E[X] ≥ mu_min over independent pairs, X ∈ [0, 1]. Fails iff the betting test rejects at α.
    ``seeds`` and ``pair_counts`` as for :func:`assert_mean_at_most`."""
    __tracebackhide__ = True
    return _assert_mean(values, mu_min, "at least", setting=setting, seeds=seeds, statistic=statistic,
                        inside=inside, alpha=alpha, power_target_key=power_target_key, pair_counts=pair_counts,
                        **fields)


def assert_coverage_above(values, floor: float, *, setting: dict, seeds: list, statistic: str,
                          alpha: float = EVIDENCE_ALPHA, **fields) -> Record:
    """A coverage floor: the mean coverage over pairs is shown to be *above* ``floor`` (the betting test
    rejects H0: mean ≤ floor at α = EVIDENCE_ALPHA). Fails when it is not shown, so a vacuous check
    (coverage at or below the floor) fails with probability ≥ 1 − α. A true coverage near the floor may
    fail too: floors are set well below the coverage the settings reach."""
    __tracebackhide__ = True
    values = np.asarray(values, dtype=float)
    test = betting_test(values, floor, alpha, "at most")
    verdict = "pass" if test.reject else "fail"
    rec = emit(_new(statistic, float(values.mean()), floor, verdict, True, setting, seeds,
                    ci=betting_confidence_sequence(values, alpha), alpha=alpha, n_pairs=len(values),
                    p_value=test.pvalue, test="betting (coverage above floor)", side="above", detects=floor,
                    target=floor, power_target="coverage", pair_values=values.tolist(),
                    pair_seeds=_pair_seeds(values, seeds), **fields))
    if verdict == "fail":
        _fail(rec, f"mean {statistic}={values.mean():.4f} over {len(values)} pairs not shown above the floor "
                   f"{floor:.3f} (betting p={test.pvalue:.2e} ≥ α={alpha:.1e}): the check would be vacuous")
    return rec


def assert_pairs_cover(obs, field: str, floor: float, *, setting: dict, statistic: str) -> Record:
    """The coverage ``field`` of per-pair observations (each with a ``seed``) shown above ``floor``."""
    __tracebackhide__ = True
    cov = np.array([getattr(o, field) for o in obs])
    return assert_coverage_above(cov, floor, setting=setting, seeds=[o.seed for o in obs], statistic=statistic,
                                 coverage=float(cov.mean()))


def assert_mean_at_chance(values, center: float, *, setting: dict, seeds: list, statistic: str,
                          alpha: float | None = None, **fields) -> Record:
    """Claim: E[X] = center (a control at chance). Two one-sided betting tests at α/2 each; fails iff
    either rejects. ``detects`` is the upper violation detected (the lower one mirrors it)."""
    __tracebackhide__ = True
    values, alpha = np.asarray(values, dtype=float), _level(alpha)
    pair_seeds = _pair_seeds(values, seeds)
    up, down = betting_test(values, center, alpha / 2, "at most"), betting_test(values, center, alpha / 2, "at least")
    p = min(1.0, 2 * min(up.pvalue, down.pvalue))
    detects = betting_detects(len(values), center, alpha / 2, power_spread(values, center), "at most")
    verdict, power = _power_verdict(True, up.reject or down.reject, current_claim(), detects, center, "at most")
    power["side"] = "both"
    rec = emit(_new(statistic, float(values.mean()), center, verdict, True, setting, seeds,
                    ci=betting_confidence_sequence(values, alpha), alpha=alpha, n_pairs=len(values), p_value=p,
                    test="betting, two-sided", pair_values=values.tolist(), pair_seeds=pair_seeds, **power,
                    **fields))
    if verdict == "fail":
        _fail(rec, f"mean {statistic}={values.mean():.4f} over {len(values)} pairs is not at {center:g} "
                   f"(betting p={p:.2e} < α={alpha:.1e})")
    return rec


def assert_share_at_least(outcomes, p_min: float, *, setting: dict, seeds: list, statistic: str,
                          inside: bool = True, alpha: float | None = None, **fields) -> Record:
    """Claim: each independent pair succeeds with probability ≥ p_min. Fails iff the
    Clopper–Pearson upper bound (one-sided, level α) of the success share is below p_min.
    ``outcomes``: per pair, whether it succeeded; ``seeds``: one per outcome, in order."""
    __tracebackhide__ = True
    outcomes, alpha = np.asarray(outcomes, dtype=bool), _level(alpha, inside)
    successes, n = int(outcomes.sum()), len(outcomes)
    pair_seeds = _pair_seeds(outcomes, seeds)
    lo, hi = clopper_pearson(successes, n, 1 - 2 * alpha)
    detects = binomial_detects(n, p_min, alpha, "at least")
    verdict, power = _power_verdict(inside, hi < p_min, current_claim(), detects, p_min, "at least")
    rec = emit(_new(statistic, successes / n if n else None, p_min, verdict, inside, setting, seeds,
                    ci=(lo, hi), alpha=alpha, n_pairs=n, successes=successes,
                    pair_values=outcomes.astype(float).tolist(), pair_seeds=pair_seeds,
                    p_value=binomial_tail_pvalue(successes, n, p_min, "less"), test="clopper-pearson",
                    **power, **fields))
    if verdict == "fail":
        _fail(rec, f"{statistic}: {successes}/{n} pairs, upper bound {hi:.3f} < {p_min:.3f} (α={alpha:.1e})")
    return rec


def assert_exact(ok: bool, *, value, bound, statistic: str, setting: dict, seeds: list | None = None,
                 inside: bool = True, detects: float | None = None, test: str = "exact", failing: str | None = None,
                 **fields) -> Record:
    """A deterministic claim (closed forms, identities, numerical tolerances), or a decision already
    taken by an interval or bound at level α (``test`` names it, ``alpha`` in ``fields``, drawn with
    :func:`next_level`). With ``detects`` (a slope's effect size) the claim's power target applies;
    without, every value beyond the bound fails: detects = bound. ``failing``: the number that failed,
    in words, where it is not ``value`` (an interval's end)."""
    __tracebackhide__ = True
    if detects is None:
        verdict = "observed" if not inside else ("pass" if ok else "fail")
        power = dict(detects=finite(bound) if isinstance(bound, (int, float)) else None, test=test)
    else:
        verdict, power = _power_verdict(inside, not ok, current_claim(), detects, bound, "at most")
        power = dict(power, test=test, side=None)
    rec = emit(_new(statistic, value, bound, verdict, inside, setting, seeds, **power, **fields))
    if verdict == "fail":
        _fail(rec, f"{statistic}: {failing}" if failing else f"{statistic}={value} violates bound {bound}")
    return rec


def record_conformance(parts, unchecked, *, procedure: str, setting: dict, seeds: list) -> tuple[Record, str | None]:
    """An exact conformance claim (R1–R7): ``parts`` (``checks.conformance.Part``) each with the
    ratio |deviation|/rounding tolerance of its worst input; "pass" iff every ratio is ≤ 1.
    ``unchecked``: parts not checked, each with why ("not reported" by the procedure, …): stated, never
    passed.
    Returns the record and, on a violation, the failure message naming the procedure, the quantity
    and the worst input."""
    worst = max(parts, key=lambda p: p.ratio)
    ok = worst.ratio <= 1.0
    reason = f"not checked: {'; '.join(unchecked)}" if unchecked else None
    rec = emit(_new("largest |deviation| / rounding tolerance", worst.ratio, 1.0, "pass" if ok else "fail", True,
                    setting, seeds, test="exact", detects=1.0, target=1.0, power_target=current_claim(),
                    n_pairs=len(seeds), violations={p.name: p.ratio for p in parts}, reason=reason,
                    unchecked=list(unchecked) or None))
    if ok:
        return rec, None
    return rec, f"{rec.claim} ({procedure}): {worst.describe()}"


def observe(*, value, statistic: str, setting: dict, seeds: list, reason: str, bound=None, **fields) -> Record:
    """Record an outcome that is reported, never asserted; ``reason`` says why ("observed (outside L2)",
    "no coverage", "too few pairs", …)."""
    return emit(_new(statistic, value, bound, "observed", False, setting, seeds, reason=reason, **fields))


def record_invalid(*, reason: str, setting: dict, seeds: list) -> Record:
    """A run whose training diverged: reported as invalid, never as a pass."""
    return emit(_new("invalid run", None, None, "invalid", None, setting, seeds, reason=reason))


def assert_share_of_pairs(values, multiple_of_delta: float, delta: float, *, setting: dict, seeds: list,
                          statistic: str, min_pairs: int, pair_counts=None, **fields) -> Record:
    """A per-point bound that fails with probability ≤ multiple·δ: the mean over pairs of the share
    of points where it fails is at most multiple·δ. With fewer than ``min_pairs`` pairs that have
    points to count, the share is only recorded, with the reason "no coverage" or "too few pairs".
    ``seeds`` and ``pair_counts`` (the points each share counts): one per value."""
    __tracebackhide__ = True
    bound = multiple_of_delta * delta
    if len(values) >= min_pairs:
        return assert_mean_at_most(values, bound, setting=setting, seeds=seeds, statistic=statistic,
                                   pair_counts=pair_counts, **fields)
    fields.setdefault("n_pairs", len(values))
    reason = "no coverage" if not len(values) else f"too few pairs with coverage ({len(values)} < {min_pairs})"
    return observe(value=float(np.mean(values)) if len(values) else None, statistic=statistic, setting=setting,
                   seeds=seeds, bound=bound, reason=reason, **fields)


# hypothesis.note / target / event inside a test only: nothing when a property runs from a script
# or from a test that calls it directly.

def explain(text: str) -> None:
    from hypothesis import note
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        note(text)


def steer(value: float, label: str) -> None:
    """hypothesis.target: search toward the smallest margin."""
    from hypothesis import target
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        target(float(value), label=label)


def tally(text: str) -> None:
    """hypothesis.event (shown by --hypothesis-show-statistics)."""
    from hypothesis import event
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        event(text)
