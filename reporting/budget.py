"""The run's false-failure budget: how it is split, and what a run spent of it.

RUN_BUDGET bounds the chance that a run whose claims all hold reports any failure. POOLED_SHARE of it goes
to the pooled tests of the controller: their number k is known before any is made, so each runs at
POOLED_SHARE·RUN_BUDGET / k (Bonferroni). The rest goes to the per-example tests, made by the run's
processes as the checks draw examples: each process spends its share by ``theory.stats.spending_level``
(``checks.session.Spending``), and every test's level is stored on its record. The sum of the levels
spent is therefore at most RUN_BUDGET by construction, whatever number of tests a profile makes; the
run's metadata states the sum.
"""

from __future__ import annotations

from dataclasses import dataclass

from theory.betting import can_reject
from theory.tolerances import ALPHA, POOLED_SHARE, RUN_BUDGET

#: Record tests that are statistical tests at a level α of the budget. A coverage shown above its floor
#: (EVIDENCE_ALPHA) bounds the chance that a vacuous check passes, not a false failure, and is not counted.
STATISTICAL = {"betting", "betting, two-sided", "clopper-pearson", "t-interval", "hoeffding"}


@dataclass(frozen=True)
class Budget:
    """Per-example tests made and the sum of their levels; pooled tests made and their common level."""

    example_tests: int
    example_spent: float
    pooled_tests: int
    pooled_alpha: float

    @property
    def tests(self) -> int:
        return self.example_tests + self.pooled_tests

    @property
    def spent(self) -> float:
        return self.example_spent + self.pooled_tests * self.pooled_alpha

    def to_json(self) -> dict:
        return {"run": RUN_BUDGET, "pooled_share": POOLED_SHARE, "tests_made": self.tests, "spent": self.spent,
                "example_tests": self.example_tests, "example_spent": self.example_spent,
                "pooled_tests": self.pooled_tests, "pooled_alpha": self.pooled_alpha}


def pooled_level(n_tests: int) -> float:
    """The level of each of ``n_tests`` pooled tests: POOLED_SHARE·RUN_BUDGET split evenly."""
    return POOLED_SHARE * RUN_BUDGET / max(int(n_tests), 1)


def spends(rec: dict) -> bool:
    """A per-example test spends its level unless no data could have made it reject (a betting test on
    too few pairs: ``theory.betting.can_reject``)."""
    if rec.get("test") not in STATISTICAL:
        return False
    if rec.get("test") != "betting" or not rec.get("pair_values") or not 0 < (rec.get("bound") or 0) < 1:
        return True
    return can_reject(len(rec["pair_values"]), rec["bound"], rec.get("alpha") or ALPHA, rec.get("side") or "at most")


def spent(example_records: list[dict], pooled_tests: int) -> Budget:
    """The budget a run spent: the stated levels of its per-example tests (asserted records, a test of
    ``STATISTICAL`` that could reject; a record without a level counts at ALPHA) and its pooled tests."""
    tests = [r for r in example_records if spends(r)]
    return Budget(len(tests), float(sum(r.get("alpha") or ALPHA for r in tests)), int(pooled_tests),
                  pooled_level(pooled_tests))


def budget_line(budget: Budget) -> str:
    """One line for the terminal."""
    return "false-failure budget " + budget_words(dict(budget.to_json(), per_assertion=None))


def budget_words(b: dict) -> str:
    """The budget of a run's metadata (``meta.false_failure_budget``) in words; a run written before the
    budget was split states its Bonferroni count."""
    if "example_tests" not in b:
        return (f"{b['run']:.0e} per run, α = {b['per_assertion']:.1e} per test (Bonferroni over at most "
                f"{b.get('max_assertions', '?')} tests); {b.get('tests_made', '?')} tests made, "
                f"{b.get('spent', float('nan')):.2e} spent")
    run, share = b["run"], b.get("pooled_share", POOLED_SHARE)
    flat = f", α = {b['per_assertion']:.1e} each over a horizon of {b['horizon']}" if b.get("per_assertion") else ""
    return (f"{run:g} per run, held by construction: {b['example_tests']} per-example tests spent "
            f"{b['example_spent']:.2e} of {(1 - share) * run:g} (spending rule{flat}); {b['pooled_tests']} "
            f"pooled tests at α = {b['pooled_alpha']:.1e} spent {b['pooled_tests'] * b['pooled_alpha']:.2e} of "
            f"{share * run:g}; {b['spent']:.2e} in all")
