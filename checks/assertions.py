"""Confidence-bound assertions and the per-example record every check leaves behind.

Every assertion on trained networks fails only when the data *reject* the claim at level α:
a false failure (the claim true, the check red) has probability ≤ α per assertion.

False-failure budget. ``RUN_BUDGET`` is the probability that a run whose claims are all true
reports any failure. It is split evenly (Bonferroni) over ``MAX_ASSERTIONS_PER_RUN`` statistical
assertions, which bounds what any profile makes (checks × examples × assertions per example; the
``paper`` profile stays under it too). A run that makes fewer assertions only spends less.

Independence. Points that share one pair of random networks are not independent trials
(THEORY.md L2). So statistics are taken over *pairs*: each pair has its own data, initialisation
and target seeds, and contributes one number in [0, 1] (a share of points, an agreement). For
independent X_i ∈ [0, 1] with mean μ, the Chernoff–Hoeffding bound in KL form
P(mean ≥ μ + t) ≤ exp(−B·KL(μ + t ‖ μ)) holds (Hoeffding 1963, Thm 1), whatever the within-pair
correlation: a [0, 1] variable is dominated in convex order by a Bernoulli of equal mean.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

RUN_BUDGET = 1e-3
MAX_ASSERTIONS_PER_RUN = 500  # the ci run makes ~100, thorough (12 examples per check) ~400
ALPHA = RUN_BUDGET / MAX_ASSERTIONS_PER_RUN  # 2e-6 per assertion

# Records of the current test, drained into report.user_properties by the plugin's
# pytest_runtest_makereport hookwrapper (a function-scoped fixture cannot be used under @given).
_BUFFER: list[dict] = []
_PAIRS_TRAINED = [0]


def _kl_bernoulli(p: float, q: float) -> float:
    p = min(max(p, 0.0), 1.0)
    q = min(max(q, 1e-300), 1 - 1e-16)
    out = 0.0
    if p > 0:
        out += p * math.log(p / q)
    if p < 1:
        out += (1 - p) * math.log((1 - p) / (1 - q))
    return out


def mean_upper_pvalue(values, mu_max: float) -> float:
    """p-value of H0: E[X] ≤ mu_max for independent X_i ∈ [0, 1] (Chernoff–Hoeffding, KL form)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    return 1.0 if m <= mu_max else math.exp(-len(x) * _kl_bernoulli(m, mu_max))


def mean_lower_pvalue(values, mu_min: float) -> float:
    """p-value of H0: E[X] ≥ mu_min for independent X_i ∈ [0, 1]."""
    return mean_upper_pvalue(1.0 - np.asarray(values, dtype=float), 1.0 - mu_min)


def mean_confidence_interval(values, alpha: float = ALPHA) -> tuple[float, float]:
    """Two-sided interval for E[X], X_i ∈ [0, 1] independent: the μ not rejected at α/2 each side."""
    x = np.asarray(values, dtype=float)
    m, n = float(x.mean()), len(x)
    c = math.log(2 / alpha) / n

    def solve(lo, hi, side):
        for _ in range(60):
            mid = (lo + hi) / 2
            if _kl_bernoulli(m, mid) > c:
                lo, hi = (mid, hi) if side == "lower" else (lo, mid)
            else:
                lo, hi = (lo, mid) if side == "lower" else (mid, hi)
        return (lo + hi) / 2

    return (solve(0.0, m, "lower") if m > 0 else 0.0, solve(m, 1.0, "upper") if m < 1 else 1.0)


@dataclass
class Record:
    """One example's outcome for one claim; serialised into results.json."""

    claim: str
    check: str
    setting: dict
    seeds: list
    statistic: str
    value: float | None
    bound: float | None
    verdict: str          # "pass", "fail", "observed" (outside the assumption), "invalid"
    inside: bool | None   # inside the theorem's assumption (L2) and conditions
    coverage: float | None = None
    ci: tuple | None = None
    alpha: float | None = None
    n_pairs: int = 0
    extra: dict = field(default_factory=dict)

    def to_jsonable(self) -> dict:
        def clean(v):
            if isinstance(v, (np.floating, float)):
                v = float(v)
                return v if math.isfinite(v) else None
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, np.bool_):
                return bool(v)
            if isinstance(v, dict):
                return {str(k): clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v
        return clean(self.__dict__)


def record(rec: Record) -> Record:
    _BUFFER.append(rec.to_jsonable())
    return rec


def count_pairs(n: int) -> None:
    """Count trained (f, g) network pairs for the run's total."""
    _PAIRS_TRAINED[0] += int(n)


def drain() -> list[str]:
    out = [json.dumps(r, sort_keys=True) for r in _BUFFER]
    _BUFFER.clear()
    return out


def explain(text: str) -> None:
    """hypothesis.note inside a test; nothing when a check body runs from a script or a
    planted-bug test."""
    from hypothesis import note
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        note(text)


def steer(value: float, label: str) -> None:
    """hypothesis.target (counterexample search toward the smallest margin), inside a test only."""
    from hypothesis import target
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        target(float(value), label=label)


def tally(text: str) -> None:
    """hypothesis.event (shown by --hypothesis-show-statistics), inside a test only."""
    from hypothesis import event
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        event(text)


def _fail(claim: str, message: str, setting: dict):
    __tracebackhide__ = True
    raise AssertionError(f"{claim}: {message} [{_fmt(setting)}]")


def _fmt(setting: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items())


def _assert_mean(claim, check, values, bound, side, *, setting, seeds, statistic, inside, coverage, alpha,
                 extra) -> Record:
    __tracebackhide__ = True
    values = np.asarray(values, dtype=float)
    p = mean_upper_pvalue(values, bound) if side == "at most" else mean_lower_pvalue(values, bound)
    verdict = "observed" if not inside else ("pass" if p >= alpha else "fail")
    rec = record(Record(claim, check, setting, list(seeds), statistic, float(values.mean()), bound, verdict,
                        inside, coverage, mean_confidence_interval(values, alpha), alpha, len(values),
                        dict(extra or {}, p_value=p)))
    if verdict == "fail":
        relation = "exceeds" if side == "at most" else "is below"
        _fail(claim, f"mean {statistic}={values.mean():.4f} over {len(values)} pairs {relation} {bound:.4f} "
                     f"(p={p:.2e} < α={alpha:.1e})", setting)
    return rec


def assert_mean_at_most(claim: str, check: str, values, mu_max: float, *, setting: dict, seeds: list,
                        statistic: str, inside: bool = True, coverage=None, alpha: float = ALPHA,
                        extra: dict | None = None) -> Record:
    """Claim: E[X] ≤ mu_max over independent pairs. Fails iff the Chernoff p-value < α.
    Outside the assumption (inside=False) the outcome is recorded as an observation only."""
    __tracebackhide__ = True
    return _assert_mean(claim, check, values, mu_max, "at most", setting=setting, seeds=seeds,
                        statistic=statistic, inside=inside, coverage=coverage, alpha=alpha, extra=extra)


def assert_mean_at_least(claim: str, check: str, values, mu_min: float, *, setting: dict, seeds: list,
                         statistic: str, inside: bool = True, coverage=None, alpha: float = ALPHA,
                         extra: dict | None = None) -> Record:
    """Claim: E[X] ≥ mu_min over independent pairs. Fails iff the Chernoff p-value < α."""
    __tracebackhide__ = True
    return _assert_mean(claim, check, values, mu_min, "at least", setting=setting, seeds=seeds,
                        statistic=statistic, inside=inside, coverage=coverage, alpha=alpha, extra=extra)


def assert_share_at_least(claim: str, check: str, successes: int, n: int, p_min: float, *, setting: dict,
                          seeds: list, statistic: str, inside: bool = True, coverage=None, alpha: float = ALPHA,
                          extra: dict | None = None) -> Record:
    """Claim: each independent pair succeeds with probability ≥ p_min. Fails iff the
    Clopper–Pearson upper bound (one-sided, level α) of the success share is below p_min."""
    __tracebackhide__ = True
    from theory.stats import clopper_pearson

    lo, hi = clopper_pearson(successes, n, 1 - 2 * alpha)
    verdict = "observed" if not inside else ("pass" if hi >= p_min else "fail")
    rec = record(Record(claim, check, setting, list(seeds), statistic, successes / n if n else None, p_min,
                        verdict, inside, coverage, (lo, hi), alpha, n, dict(extra or {}, successes=successes)))
    if verdict == "fail":
        _fail(claim, f"{statistic}: {successes}/{n} pairs, upper bound {hi:.3f} < {p_min:.3f} (α={alpha:.1e})",
              setting)
    return rec


def assert_binomial_consistent(claim: str, check: str, successes: int, n: int, p0: float, *, setting: dict,
                               seeds: list, statistic: str, alpha: float = ALPHA,
                               extra: dict | None = None) -> Record:
    """Claim: successes ~ Binomial(n, p0) (e.g. a sign test at p0 = 1/2). Fails iff p0 lies
    outside the two-sided Clopper–Pearson interval at level 1 − α."""
    __tracebackhide__ = True
    from theory.stats import clopper_pearson

    lo, hi = clopper_pearson(successes, n, 1 - alpha)
    verdict = "pass" if lo <= p0 <= hi else "fail"
    rec = record(Record(claim, check, setting, list(seeds), statistic, successes / n if n else None, p0,
                        verdict, True, None, (lo, hi), alpha, n, dict(extra or {}, successes=successes)))
    if verdict == "fail":
        _fail(claim, f"{statistic}: {successes}/{n} pairs, interval [{lo:.3f}, {hi:.3f}] excludes {p0} "
                     f"(α={alpha:.1e})", setting)
    return rec


def assert_exact(claim: str, check: str, ok: bool, *, value, bound, statistic: str, setting: dict,
                 seeds: list | None = None, inside: bool = True, extra: dict | None = None) -> Record:
    """A deterministic claim (closed forms, identities, numerical tolerances): no statistics."""
    __tracebackhide__ = True
    verdict = "observed" if not inside else ("pass" if ok else "fail")
    rec = record(Record(claim, check, setting, list(seeds or []), statistic, value, bound, verdict, inside,
                        extra=dict(extra or {})))
    if verdict == "fail":
        _fail(claim, f"{statistic}={value} violates bound {bound}", setting)
    return rec


def observe(claim: str, check: str, *, value, statistic: str, setting: dict, seeds: list,
            bound=None, coverage=None, n_pairs: int = 0, extra: dict | None = None) -> Record:
    """Record an outcome outside the theorem's assumption: reported, never asserted."""
    return record(Record(claim, check, setting, list(seeds), statistic, value, bound, "observed", False,
                         coverage, None, None, n_pairs, dict(extra or {})))


def record_invalid(claim: str, check: str, *, reason: str, setting: dict, seeds: list) -> Record:
    """A run whose training diverged: reported as invalid, never as a pass."""
    return record(Record(claim, check, setting, list(seeds), "invalid run", None, None, "invalid", None,
                         extra={"reason": reason}))
