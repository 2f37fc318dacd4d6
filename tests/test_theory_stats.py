"""Unit tests of theory.stats: binomial intervals and tails, Holm, Hoeffding."""

import math

import numpy as np
import pytest

from theory.claims import get_claim
from theory.stats import (HolmResult, ShareTest, binomial_tail_pvalue, clopper_pearson, hoeffding_half_width,
                          holm, share_at_most, wilson_interval)


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
    wi = {k: wilson_interval(int(k), n, 0.9) for k in np.unique(ks)}
    cover_cp = np.mean([cp[k][0] <= p <= cp[k][1] for k in ks])
    cover_w = np.mean([wi[k][0] <= p <= wi[k][1] for k in ks])
    assert cover_cp >= 0.9 - 0.015 and 0.87 <= cover_w <= 0.93


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
    (lambda: wilson_interval(11, 10), ValueError, "k == 11, must be <= 10"),
    (lambda: wilson_interval(1.5, 10), TypeError, "k must be an integer"),
    (lambda: clopper_pearson(1, 10, 1.2), ValueError, "confidence == 1.2, must be < 1"),
    (lambda: holm([0.1, 1.5]), ValueError, "pvalues has entries outside \\[0, 1\\]"),
    (lambda: holm([0.1, float("nan")]), ValueError, "Input pvalues contains NaN"),
    (lambda: holm([0.1], alpha=0.0), ValueError, "alpha == 0.0, must be > 0"),
    (lambda: hoeffding_half_width(0, 0.1, 0, 1), ValueError, "n == 0, must be >= 1"),
    (lambda: hoeffding_half_width(10, 1.0, 0, 1), ValueError, "delta == 1.0, must be < 1"),
    (lambda: hoeffding_half_width(10, 0.1, 1, 0), ValueError, "hi == 0.0, must be >= lo"),
    (lambda: share_at_most(1, 10, 1.5), ValueError, "p_max == 1.5, must be <= 1"),
])
def test_stats_reject_bad_inputs(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
