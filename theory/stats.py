"""Statistics for the checks: exact binomial intervals and tests, Holm's step-down, Hoeffding, and the
Chernoff–KL test of a bounded mean.   [P1, K3]

The checks assert statements of one form: over independent network pairs i = 1, 2, …, a per-pair
statistic X_i ∈ [0, 1] has mean ≤ b (or ≥ b, via 1 − X_i). The tests of such means are here (Chernoff–KL)
and in ``theory.betting`` (a variance-adaptive, anytime-valid test); their power, ``detects``, is in
``theory.power``.

Chernoff–Hoeffding in KL form (``mean_upper_pvalue``) rejects when n·KL(x̄ ‖ b) > log(1/α). It is tight for
Bernoulli variables, loose for per-pair shares whose variance is far below μ(1 − μ) (STATISTICS.md).
Pooling: Hoeffding's bound (1963, Thm 1) uses only the independence and the range [0, 1] of the summands,
so it holds for independent, non-identically distributed pairs pooled from several settings of one
claim, under "E[X_i] ≤ b for every i".

P1 asserts that the share of wrong predictions among the inputs where the conditions hold is at most
about 3δ; ``share_at_most`` is the exact binomial version of that test for points of one pair.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from . import formulas
from .validation import check_array, check_confidence, check_delta, check_scalar

__all__ = ["wilson_interval", "clopper_pearson", "holm", "HolmResult", "hoeffding_half_width", "spending_level",
           "binomial_tail_pvalue", "share_at_most", "ShareTest", "kl_bernoulli", "mean_upper_pvalue",
           "mean_lower_pvalue", "mean_confidence_interval", "SIDES", "check_unit_values", "check_open_unit",
           "check_alpha", "check_pair_count", "PairedComparison", "paired_permutation_test", "PAIRED_STATISTICS"]

#: "at most": H0 E[X] ≤ b, a violation is a larger mean; "at least": H0 E[X] ≥ b, a violation is smaller.
SIDES = ("at most", "at least")


def _counts(k, n):
    n = int(check_scalar(n, "n", numbers.Integral, min_val=1, note="number of trials"))
    k = int(check_scalar(k, "k", numbers.Integral, min_val=0, max_val=n, note="successes, 0 <= k <= n"))
    return k, n


def wilson_interval(k, n, confidence=0.95):
    """Wilson score interval for a binomial proportion k/n.

    (p̂ + z²/(2n) ± z√(p̂(1−p̂)/n + z²/(4n²))) / (1 + z²/n), z the two-sided normal quantile.

    Returns
    -------
    (low, high) floats in [0, 1].
    """
    k, n = _counts(k, n)
    confidence = check_confidence(confidence)
    z = _st.norm.ppf(0.5 + confidence / 2)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def clopper_pearson(k, n, confidence=0.95):
    """Exact (Clopper–Pearson) two-sided interval for a binomial proportion, from Beta quantiles.

    Returns
    -------
    (low, high); low = 0 when k = 0, high = 1 when k = n.
    """
    k, n = _counts(k, n)
    confidence = check_confidence(confidence)
    alpha = 1 - confidence
    low = 0.0 if k == 0 else float(_st.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(_st.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return (low, high)


@dataclass(frozen=True)
class HolmResult:
    reject: np.ndarray      # bool per hypothesis
    adjusted: np.ndarray    # Holm-adjusted p-values (monotone, ≤ 1)


def holm(pvalues, alpha=0.05):
    """Holm's step-down procedure: controls the family-wise error rate at α.

    Sorted p_(1) ≤ … ≤ p_(k): reject H_(i) while p_(i) ≤ α/(k − i + 1); adjusted p-values are
    max_{j ≤ i} min(1, (k − j + 1) p_(j)), in the original order.

    Returns
    -------
    HolmResult(reject, adjusted).
    """
    p = np.asarray(check_array(np.asarray(pvalues, dtype=float), "pvalues", ndim=1), dtype=float)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("pvalues has entries outside [0, 1], must be probabilities")
    alpha = float(check_scalar(alpha, "alpha", min_val=0.0, max_val=1.0, include_boundaries="neither",
                               note="family-wise error rate"))
    k = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (k - np.arange(k)) * p[order])
    adj_sorted = np.maximum.accumulate(scaled)
    adjusted = np.empty(k)
    adjusted[order] = adj_sorted
    return HolmResult(reject=adjusted <= alpha, adjusted=adjusted)


def spending_level(k, share, horizon, tail):
    """Level of the k-th test (k = 1, 2, …) drawn from a false-failure ``share`` by a spending rule whose
    levels sum to at most ``share`` however many tests are made: the first ``horizon`` tests (H) get
    share·(1 − tail)/H each (Bonferroni over the tests a profile is sized to make); test H + j gets
    share·tail·H/((H + j − 1)(H + j)), which falls from about share·tail/H and sums to share·tail
    (Σ_j [1/(H + j − 1) − 1/(H + j)] = 1/H). The union bound then keeps the chance of any false rejection
    below ``share`` whatever the count, as long as k is fixed before the test's data are seen (the order
    tests are made in)."""
    k = int(check_scalar(k, "k", numbers.Integral, min_val=1, note="index of the test, from 1"))
    share = float(check_scalar(share, "share", min_val=0.0, max_val=1.0, note="false-failure budget"))
    horizon = int(check_scalar(horizon, "horizon", numbers.Integral, min_val=1, note="tests at the flat level"))
    tail = float(check_scalar(tail, "tail", min_val=0.0, max_val=1.0, note="share kept for tests past the horizon"))
    if k <= horizon:
        return share * (1 - tail) / horizon
    j = k - horizon
    return share * tail * horizon / ((horizon + j - 1) * (horizon + j))


def hoeffding_half_width(n, delta, lo, hi):
    """(hi − lo)·√(log(2/δ)/(2n)): |mean − E| ≤ this w.p. ≥ 1 − δ for n i.i.d. summands in [lo, hi].   [K3]

    Lambdified from ``formulas.HOEFFDING`` (the same expression as the K3 claim).
    """
    n = int(check_scalar(n, "n", numbers.Integral, min_val=1, note="number of summands"))
    delta = check_delta(delta)
    lo = float(check_scalar(lo, "lo"))
    hi = float(check_scalar(hi, "hi"))
    if hi < lo:
        raise ValueError(f"hi == {hi}, must be >= lo == {lo}")
    return float(formulas.hoeffding(n, delta, lo, hi))


def binomial_tail_pvalue(k, n, p0, alternative="greater"):
    """One-sided binomial p-value: P(X ≥ k) ("greater") or P(X ≤ k) ("less") for X ~ Bin(n, p0)."""
    k, n = _counts(k, n)
    p0 = float(check_scalar(p0, "p0", min_val=0.0, max_val=1.0, note="null proportion"))
    if alternative == "greater":
        return float(_st.binom.sf(k - 1, n, p0))
    if alternative == "less":
        return float(_st.binom.cdf(k, n, p0))
    raise ValueError(f"alternative == {alternative!r}, must be one of ['greater', 'less']")


@dataclass(frozen=True)
class ShareTest:
    """Test of "share ≤ p_max" from k events in n trials."""

    k: int
    n: int
    p_max: float
    share: float
    pvalue: float          # P(X ≥ k | p = p_max)
    upper: float           # one-sided Clopper–Pearson upper bound at ``confidence``
    confidence: float
    verdict: str           # "consistent" or "violated"

    def __bool__(self) -> bool:
        return self.verdict == "consistent"


def share_at_most(k, n, p_max, confidence=0.95):
    """Is the share of events ≤ p_max?  "violated" iff P(X ≥ k | Bin(n, p_max)) < 1 − confidence.   [P1]

    E.g. P1: k wrong predictions among the n test inputs where L2, C2, C3 hold, p_max = 3δ.
    Also reports the one-sided Clopper–Pearson upper bound on the share.

    Returns
    -------
    ShareTest (truthy when consistent).
    """
    k, n = _counts(k, n)
    p_max = float(check_scalar(p_max, "p_max", min_val=0.0, max_val=1.0, note="tolerated share"))
    confidence = check_confidence(confidence)
    pval = binomial_tail_pvalue(k, n, p_max, "greater")
    upper = 1.0 if k == n else float(_st.beta.ppf(confidence, k + 1, n - k))
    return ShareTest(k=k, n=n, p_max=p_max, share=k / n, pvalue=pval, upper=upper,
                     confidence=confidence, verdict="violated" if pval < 1 - confidence else "consistent")


# --- Chernoff–Hoeffding (KL form) for means of independent [0, 1] variables ------------------


def kl_bernoulli(p: float, q: float) -> float:
    """KL(Bernoulli(p) ‖ Bernoulli(q)), with p clipped to [0, 1] and q kept inside (0, 1)."""
    p = min(max(p, 0.0), 1.0)
    q = min(max(q, 1e-300), 1 - 1e-16)
    out = 0.0
    if p > 0:
        out += p * math.log(p / q)
    if p < 1:
        out += (1 - p) * math.log((1 - p) / (1 - q))
    return out


def mean_upper_pvalue(values, mu_max: float) -> float:
    """p-value of H0: E[X] ≤ mu_max for independent X_i ∈ [0, 1] (Chernoff–Hoeffding, KL form).

    exp(−n·KL(x̄ ‖ mu_max)) when x̄ > mu_max, else 1. Valid for independent, not necessarily identically
    distributed X_i with every E[X_i] ≤ mu_max (Hoeffding 1963, Thm 1 uses only independence and range).
    """
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    return 1.0 if m <= mu_max else math.exp(-len(x) * kl_bernoulli(m, mu_max))


def mean_lower_pvalue(values, mu_min: float) -> float:
    """p-value of H0: E[X] ≥ mu_min for independent X_i ∈ [0, 1] (the upper test on 1 − X)."""
    return mean_upper_pvalue(1.0 - np.asarray(values, dtype=float), 1.0 - mu_min)


def mean_confidence_interval(values, alpha: float) -> tuple[float, float]:
    """Two-sided interval for E[X], X_i ∈ [0, 1] independent: the μ not rejected at α/2 each side."""
    x = np.asarray(values, dtype=float)
    m, n = float(x.mean()), len(x)
    c = math.log(2 / alpha) / n

    def solve(lo, hi, side):
        for _ in range(60):
            mid = (lo + hi) / 2
            if kl_bernoulli(m, mid) > c:
                lo, hi = (mid, hi) if side == "lower" else (lo, mid)
            else:
                lo, hi = (lo, mid) if side == "lower" else (mid, hi)
        return (lo + hi) / 2

    return (solve(0.0, m, "lower") if m > 0 else 0.0, solve(m, 1.0, "upper") if m < 1 else 1.0)


# --- two-sample comparison of two runs on the same pairs ------------------------------------------

#: Statistics of a sample the paired permutation test compares: the mean (pooled shares, coverage,
#: slopes) and the maximum (fitted constants such as C_ξ, a largest ratio).
PAIRED_STATISTICS = ("mean", "max")


@dataclass(frozen=True)
class PairedComparison:
    """Difference T = s(b) − s(a) of a statistic s over n paired units, with its permutation p-value."""

    statistic: str
    n: int
    a: float                # s(a)
    b: float                # s(b)
    diff: float             # s(b) − s(a)
    pvalue: float           # two-sided: P(|T*| ≥ |T|) under random swaps within pairs
    null_low: float         # 2.5% and 97.5% quantiles of T* (the spread a no-change would show)
    null_high: float
    exact: bool             # every one of the 2^n swap patterns enumerated


def paired_permutation_test(a, b, statistic="mean", n_resamples=10000, seed=0) -> PairedComparison:
    """Paired permutation (sign-flip) test of H0: a_i and b_i are exchangeable within every pair i.

    H0 holds when the two runs drew unit i from one law: the same setting and seeds under the same code,
    or two implementations of one procedure. Each of the 2^n patterns of swapping a_i ↔ b_i is then
    equally likely, so P(|T*| ≥ |T|) over the patterns is an exact p-value, whatever the law of the units
    and however unequal the laws of different units (pairs pooled from settings of different d, γ, …).
    The patterns are enumerated when 2^n ≤ n_resamples; otherwise n_resamples random patterns drawn from
    ``seed`` give the valid Monte Carlo p-value (1 + #{|T*| ≥ |T|})/(1 + n_resamples) (Phipson & Smyth 2010).
    Units with a_i = b_i contribute nothing: equal runs give T = 0 and p = 1.

    Returns
    -------
    PairedComparison.
    """
    x = np.asarray(check_array(np.asarray(a, dtype=float), "a", ndim=1), dtype=float)
    y = np.asarray(check_array(np.asarray(b, dtype=float), "b", ndim=1), dtype=float)
    if x.size == 0 or x.size != y.size:
        raise ValueError(f"a and b have {x.size} and {y.size} entries, must be paired and non-empty")
    if statistic not in PAIRED_STATISTICS:
        raise ValueError(f"statistic == {statistic!r}, must be one of {list(PAIRED_STATISTICS)}")
    n_resamples = int(check_scalar(n_resamples, "n_resamples", numbers.Integral, min_val=1))
    n = x.size
    exact = n <= 30 and 2 ** n <= n_resamples
    reduce = np.mean if statistic == "mean" else np.max
    observed = float(reduce(y) - reduce(x))
    rng = np.random.default_rng(seed)
    chunks = []
    total = 2 ** n if exact else n_resamples
    for start in range(0, total, 1024):     # bounded memory for thousands of units
        rows = min(1024, total - start)
        swap = ((np.arange(start, start + rows)[:, None] >> np.arange(n)) & 1).astype(bool) if exact \
            else rng.random((rows, n)) < 0.5
        if statistic == "mean":
            chunks.append(np.where(swap, -1.0, 1.0) @ (y - x) / n)
        else:
            chunks.append(reduce(np.where(swap, x, y), axis=1) - reduce(np.where(swap, y, x), axis=1))
    null = np.concatenate(chunks)
    # A relative slack so that rounding in the resampled sums does not count a tie as smaller.
    hits = int((np.abs(null) >= abs(observed) * (1 - 1e-9) - 1e-15).sum())
    pvalue = hits / len(null) if exact else (1 + hits) / (1 + len(null))
    low, high = np.quantile(null, [0.025, 0.975])
    return PairedComparison(statistic=statistic, n=n, a=float(reduce(x)), b=float(reduce(y)), diff=observed,
                            pvalue=float(min(1.0, pvalue)), null_low=float(low), null_high=float(high),
                            exact=bool(exact))


# --- validation shared with theory.betting and theory.power ------------------------------------


def check_unit_values(values, name="values") -> np.ndarray:
    """Per-pair values: a non-empty 1-D array in [0, 1]."""
    x = np.asarray(check_array(np.asarray(values, dtype=float), name, ndim=1), dtype=float)
    if x.size == 0:
        raise ValueError(f"{name} is empty, must hold at least one per-pair value")
    if ((x < 0) | (x > 1)).any():
        raise ValueError(f"{name} has entries outside [0, 1], must be per-pair shares")
    return x


def check_open_unit(x, name: str, note: str) -> float:
    """A scalar in the open interval (0, 1)."""
    return float(check_scalar(x, name, min_val=0.0, max_val=1.0, include_boundaries="neither", note=note))


def check_alpha(alpha) -> float:
    """A test level α in (0, 1)."""
    return check_open_unit(alpha, "alpha", "level of the test")


def check_pair_count(n, name="n") -> int:
    """A number of pairs ≥ 1."""
    return int(check_scalar(n, name, numbers.Integral, min_val=1, note="number of pairs"))
