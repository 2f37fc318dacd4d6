"""Confidence-bound assertions: each records one :class:`reporting.records.Record` and fails only
when the data *reject* the claim at level α.

A false failure (the claim true, the check red) has probability ≤ α per assertion; the run's
budget and its split are in ``theory.tolerances`` (RUN_BUDGET, ALPHA). The claim and the check
name come from the running check (``reporting.records``): a check with one claim marker needs
nothing more; a property of a multi-claim check is decorated with :func:`tests_claim`.

Independence. Points that share one pair of random networks are not independent trials
(THEORY.md L2). So statistics are taken over *pairs*: each pair has its own data, initialisation
and target seeds, and contributes one number in [0, 1] (a share of points, an agreement). The
Chernoff–Hoeffding tests of ``theory.stats`` then hold whatever the within-pair correlation.
"""

from __future__ import annotations

import functools

import numpy as np

from reporting.records import Record, claim_scope, current_check, current_claim, emit
from theory.stats import clopper_pearson, mean_confidence_interval, mean_lower_pvalue, mean_upper_pvalue
from theory.tolerances import ALPHA


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


def _new(statistic, value, bound, verdict, inside, setting, seeds, **fields) -> Record:
    return Record(claim=current_claim(), check=current_check(), setting=dict(setting), seeds=list(seeds or []),
                  statistic=statistic, value=value, bound=bound, verdict=verdict, inside=inside, **fields)


def _fail(rec: Record, message: str):
    __tracebackhide__ = True
    raise AssertionError(f"{rec.claim}: {message} [{', '.join(f'{k}={v}' for k, v in rec.setting.items())}]")


def _assert_mean(values, bound, side, *, setting, seeds, statistic, inside, alpha, **fields) -> Record:
    __tracebackhide__ = True
    values = np.asarray(values, dtype=float)
    p = mean_upper_pvalue(values, bound) if side == "at most" else mean_lower_pvalue(values, bound)
    verdict = "observed" if not inside else ("pass" if p >= alpha else "fail")
    rec = emit(_new(statistic, float(values.mean()), bound, verdict, inside, setting, seeds,
                    ci=mean_confidence_interval(values, alpha), alpha=alpha, n_pairs=len(values), p_value=p,
                    **fields))
    if verdict == "fail":
        relation = "exceeds" if side == "at most" else "is below"
        _fail(rec, f"mean {statistic}={values.mean():.4f} over {len(values)} pairs {relation} {bound:.4f} "
                   f"(p={p:.2e} < α={alpha:.1e})")
    return rec


def assert_mean_at_most(values, mu_max: float, *, setting: dict, seeds: list, statistic: str,
                        inside: bool = True, alpha: float = ALPHA, **fields) -> Record:
    """Claim: E[X] ≤ mu_max over independent pairs, X ∈ [0, 1]. Fails iff the Chernoff p-value < α.
    Outside the assumption (inside=False) the outcome is recorded as an observation only.
    ``fields``: further :class:`Record` fields (coverage, kappa, …)."""
    __tracebackhide__ = True
    return _assert_mean(values, mu_max, "at most", setting=setting, seeds=seeds, statistic=statistic,
                        inside=inside, alpha=alpha, **fields)


def assert_mean_at_least(values, mu_min: float, *, setting: dict, seeds: list, statistic: str,
                         inside: bool = True, alpha: float = ALPHA, **fields) -> Record:
    """Claim: E[X] ≥ mu_min over independent pairs, X ∈ [0, 1]. Fails iff the Chernoff p-value < α."""
    __tracebackhide__ = True
    return _assert_mean(values, mu_min, "at least", setting=setting, seeds=seeds, statistic=statistic,
                        inside=inside, alpha=alpha, **fields)


def assert_share_at_least(successes: int, n: int, p_min: float, *, setting: dict, seeds: list, statistic: str,
                          inside: bool = True, alpha: float = ALPHA, **fields) -> Record:
    """Claim: each independent pair succeeds with probability ≥ p_min. Fails iff the
    Clopper–Pearson upper bound (one-sided, level α) of the success share is below p_min."""
    __tracebackhide__ = True
    lo, hi = clopper_pearson(successes, n, 1 - 2 * alpha)
    verdict = "observed" if not inside else ("pass" if hi >= p_min else "fail")
    rec = emit(_new(statistic, successes / n if n else None, p_min, verdict, inside, setting, seeds,
                    ci=(lo, hi), alpha=alpha, n_pairs=n, successes=successes, **fields))
    if verdict == "fail":
        _fail(rec, f"{statistic}: {successes}/{n} pairs, upper bound {hi:.3f} < {p_min:.3f} (α={alpha:.1e})")
    return rec


def assert_binomial_consistent(successes: int, n: int, p0: float, *, setting: dict, seeds: list, statistic: str,
                               alpha: float = ALPHA, **fields) -> Record:
    """Claim: successes ~ Binomial(n, p0) (e.g. a sign test at p0 = 1/2). Fails iff p0 lies
    outside the two-sided Clopper–Pearson interval at level 1 − α."""
    __tracebackhide__ = True
    lo, hi = clopper_pearson(successes, n, 1 - alpha)
    verdict = "pass" if lo <= p0 <= hi else "fail"
    rec = emit(_new(statistic, successes / n if n else None, p0, verdict, True, setting, seeds, ci=(lo, hi),
                    alpha=alpha, n_pairs=n, successes=successes, **fields))
    if verdict == "fail":
        _fail(rec, f"{statistic}: {successes}/{n} pairs, interval [{lo:.3f}, {hi:.3f}] excludes {p0} "
                   f"(α={alpha:.1e})")
    return rec


def assert_exact(ok: bool, *, value, bound, statistic: str, setting: dict, seeds: list | None = None,
                 inside: bool = True, **fields) -> Record:
    """A deterministic claim (closed forms, identities, numerical tolerances): no statistics."""
    __tracebackhide__ = True
    verdict = "observed" if not inside else ("pass" if ok else "fail")
    rec = emit(_new(statistic, value, bound, verdict, inside, setting, seeds, **fields))
    if verdict == "fail":
        _fail(rec, f"{statistic}={value} violates bound {bound}")
    return rec


def observe(*, value, statistic: str, setting: dict, seeds: list, bound=None, **fields) -> Record:
    """Record an outcome outside the theorem's assumption: reported, never asserted."""
    return emit(_new(statistic, value, bound, "observed", False, setting, seeds, **fields))


def record_invalid(*, reason: str, setting: dict, seeds: list) -> Record:
    """A run whose training diverged: reported as invalid, never as a pass."""
    return emit(_new("invalid run", None, None, "invalid", None, setting, seeds, reason=reason))


def assert_share_of_pairs(values, multiple_of_delta: float, delta: float, *, setting: dict, seeds: list,
                          statistic: str, min_pairs: int, too_few: str = "too few covered pairs to assert",
                          **fields) -> Record:
    """A per-point bound that fails with probability ≤ multiple·δ: the mean over pairs of the share
    of points where it fails is at most multiple·δ. With fewer than ``min_pairs`` pairs that have
    points to count, the share is only recorded (the test would have no power)."""
    __tracebackhide__ = True
    bound = multiple_of_delta * delta
    if len(values) >= min_pairs:
        return assert_mean_at_most(values, bound, setting=setting, seeds=seeds, statistic=statistic, **fields)
    fields.setdefault("n_pairs", len(values))
    return observe(value=float(np.mean(values)) if len(values) else None,
                   statistic=f"{statistic} ({too_few})", setting=setting, seeds=seeds,
                   bound=bound, **fields)


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
