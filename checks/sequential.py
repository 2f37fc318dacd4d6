"""Sequential batches of pairs: more pairs for a setting whose share statistic looks violated.

The betting test of ``theory.betting`` is anytime-valid: training another batch after looking at the
first and testing all pairs together keeps its level, with no correction for peeking. After each batch,
a statistic looks violated when its observed mean is beyond its bound and the test has not rejected
(``theory.betting.looks_violated``); while one does and fewer than SEQUENTIAL_MAX_BATCHES batches have
run, one more batch of the same size is trained with new seeds. A clean run trains one batch, as
before; a violation near the bound gets up to SEQUENTIAL_MAX_BATCHES times the pairs.

Tests of a mean near 1/2 (the controls) gain little per pair (the bet is at most 0.75/b), so there a
batch is added while the test is neither rejected nor able to detect its power target (``underpowered``).
"""

from __future__ import annotations

from typing import Callable

from theory.betting import betting_test, looks_violated
from theory.power import betting_detects, power_spread
from theory.tolerances import ALPHA, SEQUENTIAL_MAX_BATCHES

from .harness import run_pairs, run_results
from .strategies import Setting

#: The k-th extra batch of a setting uses its seeds plus k·BATCH_SEED_STRIDE: above every seed the
#: strategies draw (base·1000 + i with base < 2**31), so no pair is trained twice.
BATCH_SEED_STRIDE = 2**42


def batch(setting: Setting, k: int) -> Setting:
    """The setting's k-th batch of pairs (k = 0: its own seeds)."""
    return Setting(setting.config, tuple(s + k * BATCH_SEED_STRIDE for s in setting.seeds))


def measured_in_batches(setting: Setting, measure: Callable, statistics: Callable, first=None):
    """``measure`` the setting's pairs, batch after batch, while some (values, bound) of
    ``statistics(observations)`` looks violated; returns all observations in the order trained (joined
    with ``+``). ``first``: the first batch's observations, when already measured."""
    obs = measure(run_pairs(setting)) if first is None else first
    for k in range(1, SEQUENTIAL_MAX_BATCHES):
        if not any(len(v) and looks_violated(v, bound, ALPHA) for v, bound in statistics(obs)):
            break
        obs = obs + measure(run_pairs(batch(setting, k)))
    return obs


def underpowered(values, bound: float, alpha: float, side: str, goal: float) -> bool:
    """The betting test of ``values`` against ``bound`` neither rejects nor detects the true mean ``goal``."""
    test = betting_test(values, bound, alpha, side)
    detects = betting_detects(len(values), bound, alpha, power_spread(values, bound), side)
    reached = detects <= goal if side == "at most" else detects >= goal
    return not test.reject and not reached


def results_in_batches(setting: Setting, results: list[dict], more: Callable[[list[dict]], bool]) -> list[dict]:
    """Extend a setting's trained ``results`` (``run_results``) batch after batch while ``more(results)``."""
    for k in range(1, SEQUENTIAL_MAX_BATCHES):
        if not results or not more(results):
            break
        results = results + run_results(batch(setting, k))
    return results
