"""The false-failure budget holds by construction (``reporting.budget``, ``theory.stats.spending_level``,
``checks.session.Spending``): whatever number of tests a profile makes, the levels spent sum to at most
RUN_BUDGET, and only tests made inside a check spend it."""

from __future__ import annotations

import pytest

from checks import assertions, session
from checks.session import Spending
from reporting.budget import budget_words, pooled_level, spent
from theory.stats import spending_level
from theory.tolerances import ALPHA, POOLED_SHARE, RUN_BUDGET, SPENDING_TAIL


def test_spending_levels_sum_to_at_most_the_share_whatever_the_count():
    share, horizon = 5e-4, 500
    levels = [spending_level(k, share, horizon, SPENDING_TAIL) for k in range(1, 200_001)]
    assert levels[0] == levels[horizon - 1] == pytest.approx(share * (1 - SPENDING_TAIL) / horizon)
    assert levels[horizon] < levels[horizon - 1] and sorted(levels, reverse=True) == levels
    assert sum(levels) <= share
    assert sum(levels) == pytest.approx(share, rel=1e-2)      # the tail telescopes to its share
    # The rule it replaces: a fixed level share/horizon, which a profile making 2× its horizon overspends.
    assert 2 * horizon * (share / horizon) > share


def test_a_process_share_keeps_the_flat_level_of_a_single_process():
    one, two = Spending.for_process(500, 1), Spending.for_process(500, 2)
    assert two.share == pytest.approx(one.share / 2) and two.horizon == 250
    assert two.share * (1 - SPENDING_TAIL) / two.horizon == pytest.approx(one.share * (1 - SPENDING_TAIL) / 500)
    assert one.share * (1 - SPENDING_TAIL) / 500 == pytest.approx(ALPHA)


def test_only_tests_inside_a_check_of_the_run_spend_the_budget():
    """A unit test that enters a check context of its own does not spend the run's budget: else the levels
    (and so the detects) of a run's checks would depend on the unit tests a worker ran before them."""
    levels = Spending.for_process(3, 1)
    with session.started(session.CheckSession(levels=levels)):
        assert assertions.next_level() == ALPHA and levels.made == 0          # a direct call
        with session.checking("test_x", ("P1",)):                           # a unit test's check
            assert assertions.next_level() == ALPHA and levels.made == 0
        with session.checking("test_x", ("P1",), in_run=True):
            first = [assertions.next_level() for _ in range(3)]
            beyond = assertions.next_level()
    assert levels.made == 4 and first == [pytest.approx(levels.share * (1 - SPENDING_TAIL) / 3)] * 3
    assert beyond == pytest.approx(levels.share * SPENDING_TAIL * 3 / (3 * 4)) and levels.spent <= levels.share


def test_a_run_spends_at_most_its_budget_however_many_tests_it_makes():
    """10 000 per-example tests (20× a horizon of 500) at the levels the rule hands out, and 300 pooled
    tests: the run's spent budget stays within RUN_BUDGET."""
    levels = Spending.for_process(500, 1)
    with session.started(session.CheckSession(levels=levels)), session.checking("test_x", ("P1",), in_run=True):
        records = [{"test": "betting", "alpha": assertions.next_level()} for _ in range(10_000)]
    b = spent(records, 300)
    assert b.tests == 10_300 and b.pooled_alpha == pytest.approx(POOLED_SHARE * RUN_BUDGET / 300)
    assert b.example_spent <= (1 - POOLED_SHARE) * RUN_BUDGET and b.spent <= RUN_BUDGET
    assert pooled_level(0) == POOLED_SHARE * RUN_BUDGET
    assert "held by construction: 10000 per-example tests" in budget_words(b.to_json())


def test_a_test_that_cannot_reject_spends_nothing():
    """Two pairs cannot make a betting test at α ≈ 1e-6 reject whatever their values (R7's per-batch
    records): such a record takes no level from the budget and the run's spent budget leaves it out; the
    extreme data are the most a test can gain, so random data never reject where they cannot."""
    import numpy as np

    from theory.betting import betting_test, can_reject

    assert not can_reject(2, 0.5, ALPHA) and can_reject(40, 0.5, ALPHA) and can_reject(40, 0.5, ALPHA, "at least")
    rng = np.random.default_rng(0)
    extreme = betting_test(np.ones(12), 0.3, 1e-3).max_log_capital
    assert all(betting_test(rng.random(12) ** 0.3, 0.3, 1e-3).max_log_capital <= extreme for _ in range(200))
    levels = Spending.for_process(500, 1)
    with session.started(session.CheckSession(levels=levels)), session.checking("test_x", ("P1",), in_run=True):
        two = assertions.assert_mean_at_most([1.0, 1.0], 0.5, setting={}, seeds=[1, 2], statistic="x")
        forty = assertions.assert_mean_at_most([0.5] * 40, 0.5, setting={}, seeds=list(range(40)), statistic="x")
    assert levels.made == 1 and two.verdict == "underpowered"
    b = spent([two.to_jsonable(), forty.to_jsonable()], 0)
    assert b.example_tests == 1 and b.example_spent == pytest.approx(forty.alpha)
