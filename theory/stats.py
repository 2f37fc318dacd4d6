"""Statistics for the checks: exact binomial tests, Chernoff–KL and betting tests of bounded means, and
the power of each test.   [P1, K3, D4]

The checks assert statements of one form: over independent network pairs i = 1, 2, …, a per-pair
statistic X_i ∈ [0, 1] has mean ≤ b (or ≥ b, via 1 − X_i). A pass is worth what the test would have
caught, so every test here comes with its power: ``detects``, the smallest true violation that the test
rejects with probability ≥ ``POWER`` (0.9) at its α and pair budget (STATISTICS.md).

Tests
- Chernoff–Hoeffding in KL form (``mean_upper_pvalue``): rejects when n·KL(x̄ ‖ b) > log(1/α). Tight for
  Bernoulli variables, loose for per-pair shares whose variance is far below μ(1 − μ).
- Betting (``betting_test``; Waudby-Smith & Ramdas, JRSS-B 86(1), 2024, arXiv 2010.09686): the capital
  K_t = ∏_{i ≤ t} (1 + λ_i (X_i − b)) with the predictable plug-in bet λ_i (below) is a non-negative
  supermartingale under H0: E[X_i | X_1 … X_{i−1}] ≤ b, so P(∃ t: K_t ≥ 1/α) ≤ α (Ville). It may be
  evaluated after every batch of pairs and stopped at any time, with no correction for peeking; its
  p-value min(1, 1/max_t K_t) is valid at any stopping time. It adapts to the variance of X.
- Clopper–Pearson on a count of pairs (``clopper_pearson``, ``binomial_detects``).
- A t-interval of a fitted slope (``slope_detects``: power of the interval in ``direction.loglog_slope``).

Pooling independent, non-identically distributed pairs. Pairs from different examples of one claim
(different d, γ, loss, …) are independent but not identically distributed. Both tests above stay valid
for them under "E[X_i] ≤ b for every i": Hoeffding's bound (1963, Thm 1) uses only independence and the
range [0, 1] of each summand, and the capital is a supermartingale because each factor has conditional
mean 1 + λ_i (E[X_i] − b) ≤ 1, which needs only that X_i is independent of the past (so its conditional
mean is its mean ≤ b) and in [0, 1] (so the factor is ≥ 1 − c > 0). The order in which pooled pairs
enter the capital must not depend on their values (sort them by seed, for instance). A pooled test has
the most power against a bug that acts in every setting; per-setting tests keep power against a bug
that acts in one.

The predictable plug-in bet (stated once, used by the test and by its power simulation):
λ_t = min(c/b, √(2 log(1/α) / (σ̂²_{t−1} · t · log(1 + t)))), with c = ``BET_TRUNCATION`` and the running
mean and variance of the centred values D_i = X_i − b, each with one pseudo-observation at the null:
μ̂_t = Σ_{i≤t} D_i/(t + 1), σ̂²_t = (b(1 − b) + Σ_{i≤t} (D_i − μ̂_i)²)/(t + 1). The prior b(1 − b) is the
largest variance of a [0, 1] variable with mean b, so the first bet is cautious. The paper's prior
(mean 1/2, variance 1/4) keeps the bets small for a long time when b is small: measured at b = 0.006,
spread 0.003, 36 pairs, α = 2e-6, the smallest detected mean was 0.087 with it and 0.018 with this one.
Any prior fixed before the data keeps the test valid.

Power models. Chernoff–KL: x̄ is normal with the stated per-pair spread (a closed form). Betting:
simulated with per-pair values drawn from a Beta with the stated mean and spread, the same bet and the
same budget, on common random numbers from ``POWER_SEED`` (deterministic; cached per (α, b, budget,
spread)). Clopper–Pearson: exact binomial. Slope: the noncentral t distribution.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import optimize as _opt
from scipy import special as _sp
from scipy import stats as _st

from . import formulas
from .tolerances import (BET_TRUNCATION, MIN_POWER_SPREAD, POWER,
                         POWER_GRID_STEP, POWER_REPEATS, POWER_SEED)
from .validation import check_array, check_choice, check_confidence, check_delta, check_scalar

__all__ = ["wilson_interval", "clopper_pearson", "holm", "HolmResult", "hoeffding_half_width",
           "binomial_tail_pvalue", "share_at_most", "ShareTest", "kl_bernoulli", "mean_upper_pvalue", "mean_lower_pvalue",
           "mean_confidence_interval", "SIDES", "BettingTest", "betting_test", "betting_confidence_sequence",
           "sequential_decision", "chernoff_threshold", "chernoff_detects", "betting_detects",
           "binomial_detects", "slope_detects", "beta_draws", "power_spread", "pooled_betting_detects"]

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


# --- validation shared by the tests below -------------------------------------------------------


def _unit_values(values, name="values") -> np.ndarray:
    x = np.asarray(check_array(np.asarray(values, dtype=float), name, ndim=1), dtype=float)
    if x.size == 0:
        raise ValueError(f"{name} is empty, must hold at least one per-pair value")
    if ((x < 0) | (x > 1)).any():
        raise ValueError(f"{name} has entries outside [0, 1], must be per-pair shares")
    return x


def _open_unit(x, name: str, note: str) -> float:
    return float(check_scalar(x, name, min_val=0.0, max_val=1.0, include_boundaries="neither", note=note))


def _alpha(alpha) -> float:
    return _open_unit(alpha, "alpha", "level of the test")


def _budget(n, name="n") -> int:
    return int(check_scalar(n, name, numbers.Integral, min_val=1, note="number of pairs"))


def _spread(spread) -> float:
    return float(check_scalar(spread, "spread", min_val=0.0, max_val=0.5, note="per-pair standard deviation"))


# --- betting (Waudby-Smith & Ramdas 2024) -------------------------------------------------------


def _log_capital(x: np.ndarray, bound, alpha: float) -> np.ndarray:
    """log K_t for H0: E[X_t] ≤ b_t along the last axis of x (any leading shape); ``bound`` is a scalar or
    one b_t per pair (pooled settings). The bet is the predictable plug-in of the module docstring, on
    the centred values X_t − b_t."""
    n = x.shape[-1]
    t = np.arange(1, n + 1, dtype=float)
    b = np.broadcast_to(np.asarray(bound, dtype=float), (n,))
    dev = x - b
    prior_var = b[0] * (1 - b[0])
    mu_hat = np.cumsum(dev, axis=-1) / (t + 1)
    var_hat = (prior_var + np.cumsum((dev - mu_hat) ** 2, axis=-1)) / (t + 1)
    var_prev = np.concatenate([np.full(x.shape[:-1] + (1,), prior_var), var_hat[..., :-1]], axis=-1)
    lam = np.minimum(BET_TRUNCATION / b,
                     np.sqrt(2 * math.log(1 / alpha) / (np.maximum(var_prev, 1e-12) * t * np.log1p(t))))
    return np.cumsum(np.log1p(lam * dev), axis=-1)


def _oriented(x: np.ndarray, bound, side: str):
    """Map an "at least" test on (x, b) to the "at most" test on (1 − x, 1 − b)."""
    return (x, bound) if side == "at most" else (1.0 - x, 1.0 - np.asarray(bound, dtype=float))


def _bounds(bound, n: int):
    """A scalar null mean in (0, 1), or one per pair."""
    if np.ndim(bound) == 0:
        return _open_unit(bound, "bound", "null mean")
    b = np.asarray(check_array(np.asarray(bound, dtype=float), "bound", ndim=1), dtype=float)
    if b.size != n:
        raise ValueError(f"bound has {b.size} entries, must be a scalar or one per value ({n})")
    if ((b <= 0) | (b >= 1)).any():
        raise ValueError("bound has entries outside (0, 1), must be null means")
    return b


@dataclass(frozen=True)
class BettingTest:
    """One-sided betting test of a bounded mean."""

    side: str
    bound: float | np.ndarray    # one null mean, or one per pair (pooled settings)
    alpha: float
    n: int
    mean: float
    max_log_capital: float      # log max_{t ≤ n} K_t
    pvalue: float               # min(1, 1/max_t K_t), valid at any stopping time
    stopped_at: int | None      # first t with K_t ≥ 1/α, or None

    @property
    def reject(self) -> bool:
        return self.stopped_at is not None


def betting_test(values, bound, alpha, side="at most") -> BettingTest:
    """Betting test of H0: E[X_i | past] ≤ bound ("at most") or ≥ bound ("at least"), X_i ∈ [0, 1].

    ``bound`` may hold one null mean per pair, for pairs pooled from settings with different bounds: each
    factor 1 + λ_i (X_i − b_i) with λ_i < 1/b_i still has conditional mean ≤ 1.
    Rejects iff the capital reaches 1/α at some t ≤ n, which under H0 has probability ≤ α at every
    stopping time (Ville's inequality). The values must enter in an order fixed independently of them.

    Returns
    -------
    BettingTest (``reject``, ``pvalue``, ``stopped_at``).
    """
    side = check_choice(side, "side", SIDES)
    x = _unit_values(values)
    bound = _bounds(bound, x.size)
    alpha = _alpha(alpha)
    xo, bo = _oriented(x, bound, side)
    log_k = _log_capital(xo, bo, alpha)
    running = np.maximum.accumulate(log_k)
    top = float(max(running[-1], 0.0))
    hit = np.flatnonzero(log_k >= math.log(1 / alpha))
    return BettingTest(side=side, bound=bound, alpha=alpha, n=int(x.size), mean=float(x.mean()),
                       max_log_capital=top, pvalue=float(min(1.0, math.exp(-top))),
                       stopped_at=int(hit[0]) + 1 if hit.size else None)


def betting_confidence_sequence(values, alpha) -> tuple[float, float]:
    """Two-sided confidence sequence for E[X] at time n: the m ∈ [0, 1] that neither one-sided test at α/2
    has rejected at any t ≤ n. It covers the mean at every n simultaneously with probability ≥ 1 − α.

    Each factor 1 + λ(X − m) is non-increasing in m (the bet's cap c/m included), so the "at most"
    capital rejects an interval [0, lo) and the "at least" one an interval (hi, 1]; both ends are found
    by bisection and rounded outward. lo > hi (an empty set) is evidence that the pairs do not share one
    mean.
    """
    x = _unit_values(values)
    alpha = _alpha(alpha)
    level = math.log(2 / alpha)

    def rejected(m, side):
        xo, bo = _oriented(x, m, side)
        return bool(_log_capital(xo, bo, alpha / 2).max() >= level)

    def edge(side):
        # Bisection on [0, 1] for the point where rejection stops ("at most") or starts ("at least").
        rejected_end, kept_end = (0.0, 1.0) if side == "at most" else (1.0, 0.0)
        if not rejected(min(max(rejected_end, 1e-12), 1 - 1e-12), side):
            return rejected_end
        for _ in range(50):
            mid = (rejected_end + kept_end) / 2
            if rejected(mid, side):
                rejected_end = mid
            else:
                kept_end = mid
        return rejected_end

    return (edge("at most"), edge("at least"))


def sequential_decision(values, bound, alpha, budget, side="at most") -> str:
    """The decision after the pairs so far, for pairs trained in batches: "reject" once the capital has
    reached 1/α, "budget spent" when ``budget`` pairs have not rejected, else "continue"."""
    budget = _budget(budget, "budget")
    test = betting_test(values, bound, alpha, side)
    if test.reject:
        return "reject"
    return "budget spent" if test.n >= budget else "continue"


# --- power ------------------------------------------------------------------------------------


def beta_draws(mean: float, spread: float, uniforms: np.ndarray) -> np.ndarray:
    """Quantiles of the Beta with the given mean and standard deviation at ``uniforms``.

    The variance is capped at 0.999·mean(1 − mean), the largest a [0, 1] variable with that mean can
    have (a Bernoulli's); mean 0 or 1 (or spread 0) gives the constant. The quantile function is
    computed on a grid of ``_QUANTILE_GRID`` + 1 levels and interpolated linearly (exact at the grid; the
    inverse incomplete beta function is the cost of a power estimate otherwise).
    """
    if spread == 0 or mean <= 0 or mean >= 1:
        return np.full(uniforms.shape, float(min(max(mean, 0.0), 1.0)))
    var = min(spread ** 2, 0.999 * mean * (1 - mean))
    total = mean * (1 - mean) / var - 1
    levels = np.linspace(0.0, 1.0, _QUANTILE_GRID + 1)
    return np.interp(uniforms, levels, _sp.betaincinv(mean * total, (1 - mean) * total, levels))


_QUANTILE_GRID = 4096

#: A simulated power counts as ≥ POWER when its estimate exceeds POWER by 1.645 standard errors (the
#: one-sided 95% lower bound reaches POWER): without it the smallest grid mean whose estimate crosses
#: POWER is biased low, since the power rises from 0.2 to 0.98 within 0.03 of the mean (24 pairs).
_POWER_MARGIN = 1.645 * math.sqrt(POWER * (1 - POWER) / POWER_REPEATS)


def power_spread(values, bound) -> float:
    """The per-pair spread a power estimate assumes, from observed per-pair values: their standard deviation
    (ddof = 1), at least MIN_POWER_SPREAD or, for a null mean b with min(b, 1 − b) < 2·MIN_POWER_SPREAD,
    at least min(b, 1 − b)/2; rounded up to two significant digits (conservative, and few distinct values
    keep the power cache small)."""
    x = _unit_values(values)
    bound = _open_unit(bound, "bound", "null mean")
    sd = float(x.std(ddof=1)) if x.size > 1 else 0.0
    spread = max(sd, min(MIN_POWER_SPREAD, min(bound, 1 - bound) / 2))
    digits = 1 - math.floor(math.log10(spread))
    return min(0.5, math.ceil(spread * 10 ** digits - 1e-9) / 10 ** digits)


def _grid_step(bound: float) -> float:
    """Grid step of true means near ``bound``: POWER_GRID_STEP, finer for bounds below 20 steps."""
    return min(POWER_GRID_STEP, bound / 20)


def _smallest_detected(grid: np.ndarray, power_at, margin: float = 0.0) -> float:
    """Smallest grid mean with power ≥ POWER + margin, by bisection (power rises with the mean); inf if
    none."""
    target = POWER + margin
    if power_at(grid[-1]) < target:
        return math.inf
    lo, hi = -1, len(grid) - 1               # power(grid[hi]) ≥ POWER; lo is below the grid or fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power_at(grid[mid]) >= target:
            hi = mid
        else:
            lo = mid
    return float(grid[hi])


def _unorient(detect_upper: float, side: str) -> float:
    """A detected mean of the "at most" test on 1 − X, mapped back to X."""
    return detect_upper if side == "at most" else 1.0 - detect_upper


def chernoff_threshold(n, bound, alpha, side="at most") -> float:
    """The observed mean beyond which the Chernoff–KL test rejects: n·KL(x̄ ‖ b) = log(1/α).

    Returns inf ("at most") or −inf ("at least") when no observed mean can reject.
    """
    side = check_choice(side, "side", SIDES)
    n, alpha = _budget(n), _alpha(alpha)
    bound = _open_unit(bound, "bound", "null mean")
    b = bound if side == "at most" else 1 - bound
    level = math.log(1 / alpha) / n
    if kl_bernoulli(1.0, b) <= level:
        return math.inf if side == "at most" else -math.inf
    lo, hi = b, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if kl_bernoulli(mid, b) > level else (mid, hi)
    return _unorient(hi, side)


def chernoff_detects(n, bound, alpha, spread, side="at most") -> float:
    """Smallest true mean that the Chernoff–KL test over n pairs rejects with probability ≥ POWER.

    Model: x̄ is normal with standard deviation spread/√n, so the answer is the rejection threshold
    plus z_POWER·spread/√n (spread = 0 gives the threshold itself). ±inf when it exceeds the range.
    """
    side = check_choice(side, "side", SIDES)
    spread = _spread(spread)
    threshold = chernoff_threshold(n, bound, alpha, "at most" if side == "at most" else "at least")
    if not math.isfinite(threshold):
        return threshold
    shift = _st.norm.ppf(POWER) * spread / math.sqrt(n)
    out = threshold + shift if side == "at most" else threshold - shift
    if 0.0 <= out <= 1.0:
        return float(out)
    return math.inf if side == "at most" else -math.inf


def betting_detects(n, bound, alpha, spread, side="at most") -> float:
    """Smallest true mean that the betting test with a budget of n pairs rejects with probability ≥ POWER.

    Simulated: per-pair values from a Beta with that mean and standard deviation ``spread``,
    POWER_REPEATS sequences of common random numbers (seed POWER_SEED), the test's own bet; the mean is
    searched on a grid of step POWER_GRID_STEP (finer for small bounds), and a mean counts when its
    estimated power exceeds POWER by 1.645 standard errors. ±inf when no mean in range is detected.
    Cached: pass a spread rounded to a grid (``power_spread``) so that repeated calls hit the cache.
    """
    side = check_choice(side, "side", SIDES)
    n, alpha, spread = _budget(n), _alpha(alpha), _spread(spread)
    bound = _open_unit(bound, "bound", "null mean")
    b = round(bound if side == "at most" else 1 - bound, 12)
    shift = _pooled_detects_upper(((b, round(spread, 12), n),), alpha, "shift")
    return _unorient(b + shift, side) if math.isfinite(shift) else _unorient(math.inf, side)


def pooled_betting_detects(bounds, spreads, alpha, side="at most", scale="shift") -> float:
    """Power of one betting test over pairs pooled from several settings, pair i with null mean b_i and
    spread s_i (in the order the test takes them).

    scale "shift": the smallest Δ such that true means b_i + Δ ("at least": b_i − Δ) are rejected with
    probability ≥ POWER; "ratio": the smallest k such that true means k·b_i ("at least": 1 − k(1 − b_i))
    are. Same simulation model as ``betting_detects``; inf when none in range.
    """
    side = check_choice(side, "side", SIDES)
    scale = check_choice(scale, "scale", ("shift", "ratio"))
    alpha = _alpha(alpha)
    b = np.asarray(check_array(np.asarray(bounds, dtype=float), "bounds", ndim=1), dtype=float)
    sp = np.broadcast_to(np.asarray(spreads, dtype=float), b.shape)
    if b.size == 0:
        raise ValueError("bounds is empty, must hold one null mean per pair")
    if ((b <= 0) | (b >= 1)).any():
        raise ValueError("bounds has entries outside (0, 1), must be null means")
    if ((sp < 0) | (sp > 0.5)).any():
        raise ValueError("spreads has entries outside [0, 0.5], must be per-pair standard deviations")
    bo = b if side == "at most" else 1 - b
    runs, start = [], 0                      # runs of equal (bound, spread), in order: the cache key
    for i in range(1, b.size + 1):
        if i == b.size or (bo[i], sp[i]) != (bo[start], sp[start]):
            runs.append((round(float(bo[start]), 12), round(float(sp[start]), 12), i - start))
            start = i
    return _pooled_detects_upper(tuple(runs), alpha, scale)


@functools.lru_cache(maxsize=4096)
def _pooled_detects_upper(runs: tuple, alpha: float, scale: str) -> float:
    """Shift Δ or ratio k (see ``pooled_betting_detects``) for the "at most" test; ``runs`` lists
    (bound, spread, count) in order."""
    bounds = np.concatenate([np.full(c, b) for b, _, c in runs])
    n = bounds.size
    # Column-major draws: the first n rows are the same for every budget, so power rises with n exactly.
    uniforms = np.random.Generator(np.random.PCG64(POWER_SEED)).random((n, POWER_REPEATS)).T
    level = math.log(1 / alpha)
    b_min, b_max = float(bounds.min()), float(bounds.max())
    if scale == "shift":
        step = _grid_step(b_min)
        grid = step * np.arange(1, int(math.ceil((1 - b_min) / step)) + 1)
        means_of = lambda v: [min(b + v, 1.0) for b, _, _ in runs]      # noqa: E731
    else:
        step = POWER_GRID_STEP * 2
        grid = 1 + step * np.arange(1, int(math.ceil((1 / b_max - 1) / step)) + 1)
        grid = grid if grid.size else np.array([1 / b_max])
        means_of = lambda v: [min(b * v, 1.0) for b, _, _ in runs]      # noqa: E731

    def power_at(v):
        cols, start = [], 0
        for mean, (_, spread, c) in zip(means_of(v), runs):
            cols.append(beta_draws(mean, spread, uniforms[:, start:start + c]))
            start += c
        x = np.concatenate(cols, axis=1)
        return float((_log_capital(x, bounds, alpha).max(axis=-1) >= level).mean())

    return _smallest_detected(grid, power_at, _POWER_MARGIN)


def binomial_detects(n, p0, alpha, side="at least") -> float:
    """Power of the one-sided Clopper–Pearson test on k successes among n independent pairs.

    "at least": the claim "success probability ≥ p0" fails when the upper bound (level 1 − α) of the
    share is below p0; the answer is the largest true probability p with P(fail) ≥ POWER. "at most" is
    the mirror image. Exact: with k* the largest count that fails, P(K ≤ k*) = POWER at
    p = Beta⁻¹(1 − POWER; k* + 1, n − k*). ∓inf when no count fails.
    """
    side = check_choice(side, "side", SIDES)
    n, alpha = _budget(n), _alpha(alpha)
    p0 = _open_unit(p0, "p0", "null share")
    q = p0 if side == "at least" else 1 - p0
    ks = np.arange(n)
    upper = _st.beta.ppf(1 - alpha, ks + 1, n - ks)       # one-sided upper bound of k/n (k < n)
    failing = ks[upper < q]
    if failing.size == 0:
        return -math.inf if side == "at least" else math.inf
    k_star = int(failing.max())
    p = float(_st.beta.ppf(1 - POWER, k_star + 1, n - k_star))
    return p if side == "at least" else 1.0 - p


def slope_detects(x, resid_sd, confidence, log_x=True) -> float:
    """Effect size of a t-interval of a least-squares slope: the distance Δ of the true slope from a
    value v such that the interval (at ``confidence``, n − 2 degrees of freedom) excludes v with
    probability ≥ POWER, on the side of the true slope.

    Uses: K3's rate (fails when the interval excludes −1/2: Δ is the smallest deviation from the rate it
    detects); D4 (passes when the interval lies below 0: a true slope of −Δ is verified with
    probability ≥ POWER, and a slope ≥ 0 fails with probability ≥ 1 − (1 − confidence)/2).

    Parameters
    ----------
    x : the design, as passed to ``direction.loglog_slope`` (logs taken when ``log_x``); n ≥ 3.
    resid_sd : standard deviation of the residuals around the line (on the fitted scale).
    """
    x = np.asarray(check_array(np.asarray(x, dtype=float), "x", ndim=1), dtype=float)
    resid_sd = float(check_scalar(resid_sd, "resid_sd", min_val=0.0, note="residual standard deviation"))
    confidence = check_confidence(confidence)
    if x.size < 3:
        raise ValueError(f"x has {x.size} points, must have >= 3 for a slope with a confidence interval")
    if log_x:
        if (x <= 0).any():
            raise ValueError("x has entries <= 0, must be > 0 for a log-log slope")
        x = np.log(x)
    sxx = float(((x - x.mean()) ** 2).sum())
    if sxx <= 0:
        raise ValueError("x has a single distinct value, must have >= 2 for a slope")
    df = x.size - 2
    q = _st.t.ppf(0.5 + confidence / 2, df)
    # P(T > q) = POWER for T ~ noncentral t(df, nc); T's lower tail beyond −q is negligible here.
    nc = _opt.brentq(lambda c: _st.nct.sf(q, df, c) - POWER, 0.0, q + 50.0)
    return float(nc * resid_sd / math.sqrt(sxx))
