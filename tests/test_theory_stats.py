"""Unit tests of theory.stats, theory.betting and theory.power: binomial intervals and tails, Holm,
Hoeffding, the Chernoff–KL and betting tests of bounded means (validity under the null, STATISTICS.md's
numbers) and their power (``detects``)."""

import math

import numpy as np
import pytest

from theory import direction
from theory.claims import get_claim
from theory import power, stats
from theory.betting import betting_confidence_sequence, betting_test, looks_violated
from theory.power import (beta_draws, betting_detects, binomial_detects, chernoff_detects, chernoff_threshold,
                          power_spread, slope_detects)
from theory.stats import (HolmResult, ShareTest, binomial_tail_pvalue, clopper_pearson, hoeffding_half_width, holm,
                          mean_confidence_interval, mean_lower_pvalue, mean_upper_pvalue, share_at_most,
                          wilson_interval)
from theory.tolerances import POWER, POWER_CVS


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(5, 10, 0.95)
    assert lo == pytest.approx(0.236593, abs=1e-6) and hi == pytest.approx(0.763407, abs=1e-6)
    lo, hi = wilson_interval(0, 20, 0.95)
    z2 = 1.959963984540054 ** 2
    assert lo == 0.0 and hi == pytest.approx(z2 / (20 + z2), abs=1e-12)          # k = 0: z²/(n + z²)
    assert wilson_interval(20, 20)[1] == 1.0


def test_clopper_pearson_known_values_and_edges():
    lo, hi = clopper_pearson(5, 10, 0.95)
    assert lo == pytest.approx(0.187086, abs=1e-6) and hi == pytest.approx(0.812914, abs=1e-6)
    lo, hi = clopper_pearson(0, 10, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10))
    assert clopper_pearson(10, 10, 0.95) == (pytest.approx(0.025 ** (1 / 10)), 1.0)


def test_intervals_cover_at_nominal_rate():
    rng = np.random.default_rng(0)
    p, n = 0.1, 200
    ks = rng.binomial(n, p, 4000)
    cp = {k: clopper_pearson(int(k), n, 0.9) for k in np.unique(ks)}
    cover_cp = np.mean([cp[k][0] <= p <= cp[k][1] for k in ks])
    assert cover_cp >= 0.9 - 0.015


def test_holm_known_example():
    res = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert isinstance(res, HolmResult)
    np.testing.assert_allclose(res.adjusted, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_array_equal(res.reject, [True, False, False, True])
    np.testing.assert_array_equal(holm([0.5, 0.9], 0.05).reject, [False, False])
    assert holm([0.9, 0.9, 0.9]).adjusted.max() == 1.0


def test_hoeffding_half_width_formula_claim_and_coverage():
    w = hoeffding_half_width(1000, 0.05, 0.0, 1.0)
    assert w == pytest.approx(math.sqrt(math.log(40) / 2000))
    gamma = 0.3
    assert hoeffding_half_width(500, 0.01, gamma**2, 1.0) == pytest.approx(
        get_claim("K3").evaluate(n=500, delta=0.01, gamma=gamma))
    rng = np.random.default_rng(1)
    means = rng.uniform(0, 1, (4000, 100)).mean(1)
    assert np.mean(np.abs(means - 0.5) > hoeffding_half_width(100, 0.05, 0, 1)) <= 0.05


def test_binomial_tail_pvalue():
    assert binomial_tail_pvalue(0, 10, 0.3) == 1.0
    assert binomial_tail_pvalue(10, 10, 0.5) == pytest.approx(0.5**10)
    assert binomial_tail_pvalue(2, 10, 0.5, "less") == pytest.approx(sum(math.comb(10, i) for i in range(3)) / 1024)
    with pytest.raises(ValueError, match="alternative == 'two', must be one of"):
        binomial_tail_pvalue(1, 10, 0.5, "two")


def test_P1_share_at_most():
    ok = share_at_most(3, 200, 0.15, confidence=0.95)
    assert isinstance(ok, ShareTest) and ok and ok.verdict == "consistent" and ok.share == 0.015
    bad = share_at_most(40, 200, 0.15, confidence=0.95)
    assert not bad and bad.verdict == "violated" and bad.pvalue < 0.05
    assert ok.upper == pytest.approx(clopper_pearson(3, 200, 0.90)[1])      # one-sided 95% = two-sided 90%
    assert share_at_most(0, 1, 0.0)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: wilson_interval(5, 0), ValueError, "n == 0, must be >= 1"),
    (lambda: clopper_pearson(5, 0), ValueError, "n == 0, must be >= 1"),
    (lambda: clopper_pearson(11, 10), ValueError, "k == 11, must be <= 10"),
    (lambda: clopper_pearson(1.5, 10), TypeError, "k must be an integer"),
    (lambda: clopper_pearson(1, 10, 1.2), ValueError, "confidence == 1.2, must be < 1"),
    (lambda: holm([0.1, 1.5]), ValueError, "pvalues has entries outside \\[0, 1\\]"),
    (lambda: holm([0.1, float("nan")]), ValueError, "Input pvalues contains NaN"),
    (lambda: holm([0.1], alpha=0.0), ValueError, "alpha == 0.0, must be > 0"),
    (lambda: hoeffding_half_width(0, 0.1, 0, 1), ValueError, "n == 0, must be >= 1"),
    (lambda: hoeffding_half_width(10, 1.0, 0, 1), ValueError, "delta == 1.0, must be < 1"),
    (lambda: hoeffding_half_width(10, 0.1, 1, 0), ValueError, "hi == 0.0, must be >= lo"),
    (lambda: share_at_most(1, 10, 1.5), ValueError, "p_max == 1.5, must be <= 1"),
    (lambda: betting_test([0.1, 1.2], 0.15, 0.05), ValueError, "values has entries outside \\[0, 1\\]"),
    (lambda: betting_test([], 0.15, 0.05), ValueError, "values is empty"),
    (lambda: betting_test([0.1], 0.0, 0.05), ValueError, "bound == 0.0, must be > 0"),
    (lambda: betting_test([0.1], 0.15, 0.05, side="below"), ValueError, "side == 'below', must be one of"),
    (lambda: betting_test([0.1], 0.15, 1.0), ValueError, "alpha == 1.0, must be < 1"),
    (lambda: looks_violated([0.1], 0.15, 0.05, side="over"), ValueError, "side == 'over', must be one of"),
    (lambda: betting_detects(0, 0.15, 0.05, 0.05), ValueError, "n == 0, must be >= 1"),
    (lambda: betting_detects(10, 0.15, 0.05, 0.7), ValueError, "spread == 0.7, must be <= 0.5"),
    (lambda: chernoff_detects(10, 0.15, 0.05, -0.1), ValueError, "spread == -0.1, must be >= 0"),
    (lambda: binomial_detects(10, 1.0, 0.05), ValueError, "p0 == 1.0, must be < 1"),
    (lambda: slope_detects([1.0, 2.0], 0.1, 0.95), ValueError, "x has 2 points, must have >= 3"),
    (lambda: slope_detects([1.0, 1.0, 1.0], 0.1, 0.95), ValueError, "x has a single distinct value"),
    (lambda: slope_detects([0.0, 1.0, 2.0], 0.1, 0.95), ValueError, "x has entries <= 0"),
])
def test_stats_reject_bad_inputs(call, exc, words):
    with pytest.raises(exc, match=words):
        call()



# --- Chernoff–KL ----------------------------------------------------------------------------------


def test_chernoff_threshold_reproduces_the_observed_means_needed_to_reject():
    """STATISTICS.md / the issue's table: P1 (b = 3δ = 0.15) at α = 2e-6 needs an observed mean above
    0.81 (12 pairs), 0.54 (32), 0.36 (100), and never rejects with 4 pairs."""
    assert chernoff_threshold(4, 0.15, 2e-6) == math.inf
    for n, needed in ((12, 0.81), (32, 0.54), (100, 0.36)):
        x = chernoff_threshold(n, 0.15, 2e-6)
        assert x == pytest.approx(needed, abs=0.006)
        assert mean_upper_pvalue([x + 1e-6] * n, 0.15) < 2e-6 < mean_upper_pvalue([x - 1e-6] * n, 0.15)
    assert chernoff_threshold(12, 0.85, 2e-6, side="at least") == pytest.approx(1 - chernoff_threshold(12, 0.15, 2e-6))


def test_chernoff_detects_matches_simulation():
    """The normal model of x̄ behind chernoff_detects agrees with simulated Beta pairs."""
    n, b, alpha, spread = 32, 0.15, 2e-6, 0.1
    d = chernoff_detects(n, b, alpha, spread)
    u = np.random.default_rng(3).random((2000, n))
    x = beta_draws(d, spread, u)
    power = np.mean([mean_upper_pvalue(r, b) < alpha for r in x])
    assert power == pytest.approx(POWER, abs=0.03)
    assert chernoff_detects(n, b, alpha, 0.0) == chernoff_threshold(n, b, alpha)


def test_chernoff_and_mean_interval_valid_under_non_identical_null():
    """Pairs with different means, all ≤ b (pooled examples): false rejections ≤ α."""
    rng = np.random.default_rng(4)
    b, alpha, reps, n = 0.3, 0.05, 4000, 20
    means = np.linspace(0.1, b, n)
    x = rng.binomial(1, means, size=(reps, n)).astype(float)       # Bernoulli: the worst case for Chernoff
    rate = np.mean([mean_upper_pvalue(r, b) < alpha for r in x])
    assert rate <= alpha
    covered = np.mean([lo <= means.mean() <= hi for lo, hi in (mean_confidence_interval(r, alpha) for r in x)])
    assert covered >= 1 - alpha
    assert mean_lower_pvalue([0.9] * 5, 0.5) == mean_upper_pvalue([0.1] * 5, 0.5)


# --- betting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bound, spread", [(0.15, 0.05), (0.15, None), (0.5, 0.2), (0.05, 0.03)])
def test_betting_false_rejection_rate_at_most_alpha(bound, spread):
    """At the boundary of the null (every mean = b) over 100 pairs, the test rejects at some t ≤ 100
    in at most α of 3000 sequences (plus 3 standard errors); spread None is Bernoulli, the worst case."""
    alpha, reps, n = 0.05, 3000, 100
    rng = np.random.default_rng(5)
    if spread is None:
        x = rng.binomial(1, bound, size=(reps, n)).astype(float)
    else:
        x = beta_draws(bound, spread, rng.random((reps, n)))
    rate = np.mean([betting_test(r, bound, alpha).reject for r in x])
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)
    y = 1 - x                                                         # the "at least" side, mirrored
    assert np.mean([betting_test(r, 1 - bound, alpha, side="at least").reject for r in y]) == rate


def test_betting_valid_for_pooled_non_identical_pairs():
    """Independent pairs whose means differ (all ≤ b), as when pooling examples of one claim."""
    alpha, reps, n, b = 0.05, 3000, 60, 0.2
    rng = np.random.default_rng(6)
    means = np.tile([0.02, 0.1, 0.2], n // 3)
    x = np.stack([beta_draws(m, 0.05, rng.random(reps)) for m in means], axis=1)
    assert np.mean([betting_test(r, b, alpha).reject for r in x]) <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


def test_betting_reproduces_statistics_table():
    """STATISTICS.md: Beta pairs with sd 0.05, b = 0.15, α = 2e-6, 200 sequences: median pairs to reject
    24 (true mean 0.30), 15 (0.45), 12 (0.60); no rejection at 0.02 or 0.15."""
    u = np.random.default_rng(1).random((200, 200))
    medians = {}
    for mean in (0.02, 0.15, 0.30, 0.45, 0.60):
        stops = [betting_test(r, 0.15, 2e-6).stopped_at for r in beta_draws(mean, 0.05, u)]
        hits = [s for s in stops if s is not None]
        medians[mean] = np.median(hits) if len(hits) == len(stops) else None
        if mean <= 0.15:
            assert not hits
    assert abs(medians[0.30] - 24) <= 2 and abs(medians[0.45] - 15) <= 2 and abs(medians[0.60] - 12) <= 2


def test_betting_pvalue_is_the_inverse_running_maximum_of_capital():
    rng = np.random.default_rng(7)
    x = beta_draws(0.3, 0.05, rng.random(40))
    t = betting_test(x, 0.15, 2e-6)
    assert t.reject and t.pvalue <= 2e-6 and 1 <= t.stopped_at <= 40
    assert betting_test(x[: t.stopped_at - 1], 0.15, 2e-6).reject is False or t.stopped_at == 1
    low = betting_test(np.zeros(10), 0.15, 2e-6)
    assert low.pvalue == 1.0 and not low.reject and low.stopped_at is None


def test_batches_decide_once_and_for_all():
    """Pairs in batches of 8: a violation looks violated until the capital rejects, and stays rejected
    (the running maximum); shares below the bound never look violated."""
    rng = np.random.default_rng(8)
    bad = beta_draws(0.45, 0.05, rng.random(64))
    rejected = [betting_test(bad[:k], 0.15, 2e-6).reject for k in range(8, 65, 8)]
    assert not rejected[0] and rejected[-1]
    first = rejected.index(True)
    assert all(rejected[first:]) and not any(rejected[:first])
    assert looks_violated(bad[:8], 0.15, 2e-6) and not looks_violated(bad, 0.15, 2e-6)
    good = beta_draws(0.05, 0.03, rng.random(64))
    assert not looks_violated(good, 0.15, 2e-6) and not betting_test(good, 0.15, 2e-6).reject


def test_betting_confidence_sequence_covers_and_is_narrower_than_chernoff():
    """Coverage ≥ 1 − α over 1000 sequences of 40 pairs, and narrower than the KL interval when the
    per-pair spread is small."""
    alpha, mean = 0.1, 0.2
    u = np.random.default_rng(9).random((1000, 40))
    x = beta_draws(mean, 0.05, u)
    cs = [betting_confidence_sequence(r, alpha) for r in x[:300]]
    assert np.mean([lo <= mean <= hi for lo, hi in cs]) >= 1 - alpha - 0.03
    kl = [mean_confidence_interval(r, alpha) for r in x[:300]]
    assert np.median([hi - lo for lo, hi in cs]) < 0.6 * np.median([hi - lo for lo, hi in kl])
    lo, hi = betting_confidence_sequence(np.zeros(10), 0.05)
    assert lo == 0.0 and 0 < hi < 0.5


# --- power ------------------------------------------------------------------------------------


def test_betting_detects_is_monotone_in_budget():
    prev = math.inf
    for n in (8, 12, 16, 24, 32, 48, 64):
        d = betting_detects(n, 0.15, 2e-6, 0.05)
        assert d <= prev
        prev = d
    assert betting_detects(4, 0.15, 2e-6, 0.05) == math.inf                 # 4 pairs can never reach 1/α
    # The "at least" side mirrors the "at most" side.
    mirrored = betting_detects(32, 0.85, 2e-6, 0.05, side="at least")
    assert mirrored == pytest.approx(1 - betting_detects(32, 0.15, 2e-6, 0.05))


def test_detects_holds_under_heterogeneous_violations(monkeypatch):
    """``detects`` is the larger of the violations detected under CV 1 and CV 3 alternatives: a model
    capped at CV 0.5 (the old one) states a smaller, optimistic number; an observed spread above CV × mean
    costs power too."""
    from theory import power

    honest = betting_detects(48, 0.03, 2e-6, 0.015, counts=[200] * 48)
    power._pooled_detects_upper.cache_clear()
    monkeypatch.setattr(power, "POWER_CVS", (0.5,))
    optimistic = betting_detects(48, 0.03, 2e-6, 0.015, counts=[200] * 48)
    power._pooled_detects_upper.cache_clear()
    assert optimistic < honest / 2


def test_betting_detects_has_the_stated_power():
    """An independent simulation (fresh seed) at the detected mean rejects in ≈ POWER of the sequences under
    every alternative of the model (per-pair values from a Beta of CV 1 and of CV 3), and two grid steps
    lower (the grid step is 0.005) the weaker alternative rejects in fewer than POWER."""
    n, b, alpha, spread = 48, 0.15, 2e-6, 0.05
    d = betting_detects(n, b, alpha, spread)
    u = np.random.default_rng(10).random((1000, n))

    def power_at(mean, cv):
        law = power.share_model(mean, spread, 0, cv)[0]
        return np.mean([betting_test(r, b, alpha).reject for r in beta_draws(mean, min(law, 0.5), u)])

    for cv in POWER_CVS:
        assert power_at(d, cv) >= POWER - 3 * math.sqrt(POWER * (1 - POWER) / 1000)
    assert min(power_at(d - 0.01, cv) for cv in POWER_CVS) < POWER


def test_binomial_detects_is_exact():
    """At the returned p the Clopper–Pearson test fails with probability exactly POWER."""
    n, p0, alpha = 32, 0.9, 2e-6
    p = binomial_detects(n, p0, alpha)
    ks = np.arange(n + 1)
    fails = np.array([clopper_pearson(int(k), n, 1 - 2 * alpha)[1] < p0 for k in ks])
    assert power._st.binom.pmf(ks[fails], n, p).sum() == pytest.approx(POWER, abs=1e-9)
    assert binomial_detects(12, p0, alpha) <= p <= binomial_detects(100, p0, alpha)
    assert binomial_detects(3, 0.9, 2e-6) == -math.inf
    assert binomial_detects(32, 0.1, alpha, side="at most") == pytest.approx(1 - p)


def test_slope_detects_matches_simulation():
    """Simulated least-squares fits with the D4 design: an effect of slope_detects is found ≈ 90% of the time."""
    x = np.repeat([0.5, 0.75, 1.0, 1.5, 2.0, 3.0], 6)
    sd, conf = 0.2, 0.99
    delta = slope_detects(x, sd, conf)
    rng = np.random.default_rng(11)
    lx = np.log(x)
    hits = 0
    for _ in range(2000):
        y = np.exp(-delta * lx + sd * rng.standard_normal(x.size))
        hits += direction.loglog_slope(x, y, conf).ci_high < 0
    assert hits / 2000 == pytest.approx(POWER, abs=0.03)
    assert slope_detects(np.tile(x, 2), sd, conf) < delta                  # more points, smaller effect


def test_power_spread_is_floored_and_rounded_up():
    assert power_spread([0.1, 0.1, 0.1], 0.15) == 0.05
    assert power_spread([0.001, 0.001], 0.006) == 0.003                     # small bound: floor b/2
    assert power_spread([0.0, 0.2], 0.15) == pytest.approx(0.15)             # sd 0.1414 rounded up
    assert power_spread([0.0, 1.0], 0.15) == 0.5


def test_betting_with_one_bound_per_pair():
    """Pooled settings with different bounds: a constant array is the scalar test; under the null
    (each pair at its own bound) false rejections stay ≤ α; pooled power agrees with the scalar one."""
    rng = np.random.default_rng(12)
    x = beta_draws(0.3, 0.05, rng.random(30))
    pooled, single = betting_test(x, np.full(30, 0.15), 2e-6), betting_test(x, 0.15, 2e-6)
    assert (pooled.max_log_capital, pooled.stopped_at) == (single.max_log_capital, single.stopped_at)
    alpha, reps = 0.05, 3000
    bounds = np.tile([0.01, 0.05, 0.3], 20)
    null = np.stack([beta_draws(b, min(0.05, b / 2), rng.random(reps)) for b in bounds], axis=1)
    rate = np.mean([betting_test(r, bounds, alpha).reject for r in null])
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)
    assert power.pooled_betting_detects([0.15] * 24, 0.05, 2e-6) == pytest.approx(
        betting_detects(24, 0.15, 2e-6, 0.05) - 0.15)
    k = power.pooled_betting_detects([0.006] * 24 + [0.05] * 24, [0.003] * 24 + [0.025] * 24, 2e-5, scale="ratio")
    assert 1 < k < power.pooled_betting_detects([0.006] * 24, [0.003] * 24, 2e-5, scale="ratio")
    with pytest.raises(ValueError, match="bound has 2 entries, must be a scalar or one per value"):
        betting_test([0.1, 0.2, 0.3], [0.1, 0.2], 0.05)


# --- power targets --------------------------------------------------------------------------------


def test_every_claim_has_a_power_target_or_is_observation_only():
    from theory.claims import CLAIMS
    from theory.tolerances import OBSERVATION_ONLY, POWER_TARGETS

    assert set(POWER_TARGETS) | set(OBSERVATION_ONLY) == set(CLAIMS)
    assert not set(POWER_TARGETS) & set(OBSERVATION_ONLY)
    assert all(t.reason for t in POWER_TARGETS.values()) and all(OBSERVATION_ONLY.values())


def test_power_target_rules():
    from theory.tolerances import POWER_TARGETS as T
    from theory.tolerances import PowerTarget

    assert T["P1"].target(0.15) == pytest.approx(0.25) and T["P1"].reached(0.25, 0.15)
    assert not T["P1"].reached(0.26, 0.15) and not T["P1"].reached(None, 0.15)
    assert T["L1"].target(0.25) == 0.5 and T["L1"].reached(0.5, 0.25) and not T["L1"].reached(0.51, 0.25)
    assert T["P3"].target(0.9, "at least") == pytest.approx(0.6) and not T["P3"].reached(0.5, 0.9, "at least")
    assert T["K3"].reached(0.2, -0.5) and not T["K3"].reached(0.3, -0.5)
    assert T["K1"].reached(None, 1e-8)
    with pytest.raises(ValueError, match="rule == 'ratio', must be one of"):
        PowerTarget("ratio", 2.0, "x")


def test_power_target_reasons_state_measured_costs():
    """The reasons quote what the targets cost (``theory.tolerances``): P3 at a pair share of 0.8 needs
    ≈ 420 pairs (Clopper–Pearson, α = 2e-6); under heterogeneous violations (CV 1 and CV 3) a control at
    chance + 0.20 needs about 376 pooled pairs (α = 5e-7 per side), a share claim at bound 0.03 + 0.10
    about 500 pairs (α = 1e-6), and L1's factor 2 at bound 0.25 more than 108 pairs."""
    assert binomial_detects(400, 0.9, 2e-6) < 0.8 <= binomial_detects(440, 0.9, 2e-6)
    assert power.pooled_betting_detects([0.5] * 200, 0.1, 5e-7) > 0.2 >= power.pooled_betting_detects(
        [0.5] * 376, 0.1, 5e-7)
    assert power.pooled_betting_detects([0.03] * 300, 0.015, 1e-6, counts=[200] * 300) > 0.13
    assert power.pooled_betting_detects([0.03] * 500, 0.015, 1e-6, counts=[200] * 500) < 0.105
    assert power.pooled_betting_detects([0.25] * 108, 0.05, 1e-6, scale="ratio") > 2.0


def test_share_power_model_is_binomial_with_a_between_pair_spread():
    """At P1's bound 0.03, a share over ~200 covered inputs whose true mean varies between pairs (CV 1 and
    CV 3; at CV 3 about a tenth of the pairs carry a violation of mean 0.1) needs many more pairs than a
    homogeneous one: 12 pairs detect only a mean share of about 0.8, 24 pairs about 0.6, and it takes over
    a hundred pairs to come below 0.3."""
    twelve = betting_detects(12, 0.03, 2e-6, 0.015, counts=[200] * 12)
    twentyfour = betting_detects(24, 0.03, 2e-6, 0.015, counts=[200] * 24)
    assert twelve > 0.75 and 0.5 < twentyfour < twelve
    assert betting_detects(140, 0.03, 2e-6, 0.015, counts=[200] * 140) < 0.3
    # Fewer inputs per pair: more binomial noise, never more power.
    assert betting_detects(24, 0.03, 2e-6, 0.015, counts=[20] * 24) >= twentyfour
    assert power.share_counts([0, 7, 123, 4567], 4).tolist() == [0, 7, 120, 4500]    # rounded down
    with pytest.raises(ValueError, match="one count >= 0 of inputs per pair"):
        power.share_counts([1, 2], 3)
