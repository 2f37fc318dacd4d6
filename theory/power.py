"""Power of the tests in ``theory.stats`` and ``theory.betting``: ``detects``, the smallest true violation
that a test rejects with probability ≥ POWER (0.9) at its α and pair budget (STATISTICS.md).   [P1, D4, K3]

Models. Chernoff–KL: x̄ is normal with the stated per-pair spread (a closed form). Betting: simulated with
per-pair values drawn from a Beta with the stated mean and spread, the test's own bet and the same budget,
on common random numbers from ``POWER_SEED`` (deterministic; cached per (α, b, budget, spread)). A share
over a pair's covered inputs (``counts``) is simulated as a violation makes it (``share_model``): binomial
over those inputs. Every statistic's violation is heterogeneous between pairs: its between-pair spread is
at least the observed one and at least POWER_CVS × the violated mean (of the oriented variable: X for a
ceiling, 1 − X for a floor), and a mean counts as detected only when it is detected under every CV.
Clopper–Pearson on a count of pairs: exact binomial. A t-interval of a least-squares slope: the noncentral
t distribution.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
from scipy import optimize as _opt
from scipy import special as _sp
from scipy import stats as _st

from .betting import log_capital
from .stats import SIDES, check_alpha, check_open_unit, check_pair_count, check_unit_values, kl_bernoulli
from .tolerances import MIN_POWER_SPREAD, POWER, POWER_CVS, POWER_GRID_STEP, POWER_REPEATS, POWER_SEED
from .validation import check_array, check_choice, check_confidence, check_scalar

__all__ = ["beta_draws", "power_spread", "chernoff_threshold", "chernoff_detects", "betting_detects",
           "pooled_betting_detects", "share_counts", "share_model", "binomial_detects", "slope_detects", "slope_effect"]


def _spread(spread) -> float:
    return float(check_scalar(spread, "spread", min_val=0.0, max_val=0.5, note="per-pair standard deviation"))


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
    x = check_unit_values(values)
    bound = check_open_unit(bound, "bound", "null mean")
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
    n, alpha = check_pair_count(n), check_alpha(alpha)
    bound = check_open_unit(bound, "bound", "null mean")
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


def betting_detects(n, bound, alpha, spread, side="at most", counts=None) -> float:
    """Smallest true mean that the betting test with a budget of n pairs rejects with probability ≥ POWER.

    Simulated: per-pair values from a Beta with that mean and standard deviation ``spread``,
    POWER_REPEATS sequences of common random numbers (seed POWER_SEED), the test's own bet; the mean is
    searched on a grid of step POWER_GRID_STEP (finer for small bounds), and a mean counts when its
    estimated power exceeds POWER by 1.645 standard errors. ±inf when no mean in range is detected.
    ``counts``: per pair, the inputs a share was taken over: the violation model of ``share_model``.
    Cached: pass a spread rounded to a grid (``power_spread``) so that repeated calls hit the cache.
    """
    side = check_choice(side, "side", SIDES)
    n = check_pair_count(n)
    b = check_open_unit(bound, "bound", "null mean")
    shift = pooled_betting_detects([b] * n, _spread(spread), alpha, side, "shift", counts)
    if not math.isfinite(shift):
        return _unorient(math.inf, side)
    b = round(b if side == "at most" else 1 - b, 12)
    return _unorient(b + shift, side)


def share_counts(counts, n: int) -> np.ndarray:
    """Per-pair input counts for the power model, rounded down to two significant digits (fewer inputs:
    more binomial noise, so conservative; few distinct values keep the power cache small); 0 where a
    pair's value is not a share over inputs."""
    if counts is None:
        return np.zeros(n, dtype=np.int64)
    c = np.asarray(counts, dtype=float)
    if c.shape != (n,) or not np.isfinite(c).all() or (c < 0).any():
        raise ValueError(f"counts has shape {c.shape}, must hold one count >= 0 of inputs per pair ({n})")
    scale = 10.0 ** np.maximum(np.floor(np.log10(np.maximum(c, 1))) - 1, 0)
    return (np.floor(c / scale) * scale).astype(np.int64)


def pooled_betting_detects(bounds, spreads, alpha, side="at most", scale="shift", counts=None) -> float:
    """Power of one betting test over pairs pooled from several settings, pair i with null mean b_i and
    spread s_i (in the order the test takes them).

    scale "shift": the smallest Δ such that true means b_i + Δ ("at least": b_i − Δ) are rejected with
    probability ≥ POWER; "ratio": the smallest k such that true means k·b_i ("at least": 1 − k(1 − b_i))
    are. Same simulation model as ``betting_detects``; inf when none in range. ``counts``: per pair,
    the inputs its share was taken over (0 or None: not a share), which selects ``share_model``.
    """
    side = check_choice(side, "side", SIDES)
    scale = check_choice(scale, "scale", ("shift", "ratio"))
    alpha = check_alpha(alpha)
    b = np.asarray(check_array(np.asarray(bounds, dtype=float), "bounds", ndim=1), dtype=float)
    sp = np.broadcast_to(np.asarray(spreads, dtype=float), b.shape)
    if b.size == 0:
        raise ValueError("bounds is empty, must hold one null mean per pair")
    if ((b <= 0) | (b >= 1)).any():
        raise ValueError("bounds has entries outside (0, 1), must be null means")
    if ((sp < 0) | (sp > 0.5)).any():
        raise ValueError("spreads has entries outside [0, 0.5], must be per-pair standard deviations")
    ns = share_counts(counts, b.size)
    bo = b if side == "at most" else 1 - b
    runs, start = [], 0                      # runs of equal (bound, spread, inputs), in order: the cache key
    for i in range(1, b.size + 1):
        if i == b.size or (bo[i], sp[i], ns[i]) != (bo[start], sp[start], ns[start]):
            runs.append((round(float(bo[start]), 12), round(float(sp[start]), 12), int(ns[start]), i - start))
            start = i
    return _pooled_detects_upper(tuple(runs), alpha, scale)


def share_model(mean: float, spread: float, inputs: int, cv: float = POWER_CVS[-1]) -> tuple[float, int]:
    """The between-pair spread and the binomial layer of a violation of true mean ``mean``
    (STATISTICS.md, "Power of a sequential test with a budget").

    The violated mean varies between pairs: a Beta with mean ``mean`` and spread max(observed spread,
    cv·mean), since a passing run's spread (often all shares 0) says nothing about a violation's, and real
    runs show per-pair coefficients of variation of 0.5 to 5.6 (``benchmarks/power_heterogeneity.py``).
    A share (``inputs`` > 0) is then Binomial(n_i, p_i)/n_i over a pair's n_i covered inputs; any other
    statistic (``inputs`` 0) is the Beta draw itself.
    """
    return max(spread, cv * mean), max(int(inputs), 0)


@functools.lru_cache(maxsize=4096)
def _pooled_detects_upper(runs: tuple, alpha: float, scale: str) -> float:
    """Shift Δ or ratio k (see ``pooled_betting_detects``) for the "at most" test; ``runs`` lists
    (bound, spread, inputs, count) in order."""
    bounds = np.concatenate([np.full(c, b) for b, _, _, c in runs])
    n = bounds.size
    # Column-major draws: the first n rows are the same for every budget, so power rises with n exactly.
    uniforms = np.random.Generator(np.random.PCG64(POWER_SEED)).random((n, POWER_REPEATS)).T
    level = math.log(1 / alpha)
    b_min, b_max = float(bounds.min()), float(bounds.max())
    if scale == "shift":
        step = _grid_step(b_min)
        grid = step * np.arange(1, int(math.ceil((1 - b_min) / step)) + 1)
        means_of = lambda v: [min(b + v, 1.0) for b, _, _, _ in runs]      # noqa: E731
    else:
        step = POWER_GRID_STEP * 2
        grid = 1 + step * np.arange(1, int(math.ceil((1 / b_max - 1) / step)) + 1)
        grid = grid if grid.size else np.array([1 / b_max])
        means_of = lambda v: [min(b * v, 1.0) for b, _, _, _ in runs]      # noqa: E731

    inputs = np.concatenate([np.full(c, n_in) for _, _, n_in, c in runs])
    shares = inputs > 0

    law_of = np.concatenate([np.full(c, k) for k, (_, _, _, c) in enumerate(runs)])

    def power_under(v, cv):
        means = means_of(v)
        laws = [(mean, min(share_model(mean, spread, n_in, cv)[0], 0.5))
                for mean, (_, spread, n_in, _) in zip(means, runs)]
        x = np.empty_like(uniforms)
        for law in set(laws):                                  # one quantile table per distinct law
            cols = np.isin(law_of, [k for k, other in enumerate(laws) if other == law])
            x[:, cols] = beta_draws(*law, uniforms[:, cols])
        if shares.any():
            # A fresh generator per evaluation: every mean sees the same binomial stream.
            draws = np.random.Generator(np.random.PCG64(POWER_SEED + 1)).binomial(inputs[shares], x[:, shares])
            x[:, shares] = draws / inputs[shares]
        return float((log_capital(x, bounds, alpha).max(axis=-1) >= level).mean())

    def power_at(v):
        # Detected only if detected under every alternative: the least power over the CVs (the larger CV,
        # usually the weaker, first; stop once one falls short).
        worst = 1.0
        for cv in sorted(POWER_CVS, reverse=True):
            worst = min(worst, power_under(v, cv))
            if worst < POWER + _POWER_MARGIN:
                break
        return worst

    return _smallest_detected(grid, power_at, _POWER_MARGIN)


def binomial_detects(n, p0, alpha, side="at least") -> float:
    """Power of the one-sided Clopper–Pearson test on k successes among n independent pairs.

    "at least": the claim "success probability ≥ p0" fails when the upper bound (level 1 − α) of the
    share is below p0; the answer is the largest true probability p with P(fail) ≥ POWER. "at most" is
    the mirror image. Exact: with k* the largest count that fails, P(K ≤ k*) = POWER at
    p = Beta⁻¹(1 − POWER; k* + 1, n − k*). ∓inf when no count fails.
    """
    side = check_choice(side, "side", SIDES)
    n, alpha = check_pair_count(n), check_alpha(alpha)
    p0 = check_open_unit(p0, "p0", "null share")
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
    return slope_effect(resid_sd / math.sqrt(sxx), x.size, confidence)


def slope_effect(stderr, n, confidence) -> float:
    """``slope_detects`` from a fit's standard error and number of points (``direction.SlopeFit``)."""
    stderr = float(check_scalar(stderr, "stderr", min_val=0.0, note="standard error of the slope"))
    n = int(check_scalar(n, "n", numbers.Integral, min_val=3, note="points of the fit"))
    confidence = check_confidence(confidence)
    df = n - 2
    q = _st.t.ppf(0.5 + confidence / 2, df)
    # P(T > q) = POWER for T ~ noncentral t(df, nc); T's lower tail beyond −q is negligible here.
    nc = _opt.brentq(lambda c: _st.nct.sf(q, df, c) - POWER, 0.0, q + 50.0)
    return float(nc * stderr)
