"""R7, g is fresh: its theory functions, and planted bugs that only R7 catches.

A g that starts from f's initial weights (the same seed drawn twice, in the project's trainer and in a
copy of ``examples/reference_torch.py``) passes R1–R6, since its report is consistent with itself; R7's
exact part fails it on every pair. A g warm-started from a briefly trained f shares no weight with f_0
up to rounding (γ > 0: every neuron moves) but computes nearly f_0's function: R7's test over pairs fails
it once enough pairs are pooled. The unbroken procedures pass both parts on the same settings.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

import perturbation_learning.run as run
from checks import conformance, harness, session
from checks.fresh import STATISTIC
from checks.strategies import Setting, pair_seeds
from perturbation_learning.config import Config
from perturbation_learning.network import draw_network
from theory import conformance as C
from theory.betting import betting_test

from tests.test_conformance_planted import REFERENCE, _reference_copy

pytestmark = pytest.mark.usefixtures("one_thread")

#: A small lazy setting at γ > 0 (every neuron of a trained f moves, so a warm start copies no weight).
BASE = Config(dataset="shifted-gauss", d=20, n_train=60, n_test=100, width=200, gamma=0.3, loss="identity", lr=0.1,
              momentum=0.0, epochs_f=20, epochs_g=20, eps=1.0, eps_mode="absolute", scenario="a", targets="random")
#: The reference's one line that draws g's initial weights, and the same seed drawn twice instead.
REFERENCE_LINE = ('                        init_g=initial_parameters(d, m, streams["g_init"], X.dtype),',
                  '                        init_g=initial_parameters(d, m, torch.Generator().manual_seed('
                  'streams["f_init"].initial_seed()), X.dtype),')


def _draw(d, m, gamma, seed):
    net = draw_network(d, m, gamma, torch.Generator().manual_seed(seed), None, torch.float64, torch.device("cpu"))
    return [t.numpy() for t in (net.W, net.b, net.a)]


def _values(params, gamma, Z):
    W, b, a = params
    H = Z @ W.T + b
    return np.maximum(H, gamma * H) @ a


# ------------------------------------------------------------------ the theory side


def test_fresh_statistic_is_odd_in_g0_and_reads_a_copy_as_one():
    rng = np.random.default_rng(0)
    f, g = rng.standard_normal(50), rng.standard_normal(50)
    assert C.fresh_statistic(f, f) == pytest.approx(1.0) and C.fresh_statistic(f, -f) == pytest.approx(0.0)
    assert C.fresh_statistic(f, 3 * f + 2) == pytest.approx(1.0)          # a correlation: scale and offset free
    assert C.fresh_statistic(f, g) + C.fresh_statistic(f, -g) == pytest.approx(1.0, abs=1e-15)  # ρ is odd in g_0
    assert C.fresh_statistic(f, np.full(50, 0.7)) == 0.5 == C.fresh_statistic(np.zeros(50), g)


@pytest.mark.parametrize("gamma, bias", [(0.0, True), (0.5, True), (0.0, False)])
def test_independent_draws_have_the_null_mean(gamma, bias):
    """E[(1 + ρ(f_0, g_0))/2] = 1/2 for independent draws, whatever γ and with or without bias: over 600
    independent pairs the mean lies within 4 standard errors of 1/2, and the betting test at the
    conformance level does not reject it."""
    d, m, n = 10, 100, 64
    values = []
    for s in range(600):
        Z = np.random.default_rng(10_000 + s).standard_normal((n, d)) + 0.3
        f0, g0 = _draw(d, m, gamma, 2 * s), _draw(d, m, gamma, 2 * s + 1)
        if not bias:
            f0[1][:], g0[1][:] = 0.0, 0.0
        values.append(C.fresh_statistic(_values(f0, gamma, Z), _values(g0, gamma, Z)))
    values = np.array(values)
    assert abs(values.mean() - C.FRESH_NULL_MEAN) < 4 * values.std() / np.sqrt(len(values))
    assert not betting_test(values, C.FRESH_NULL_MEAN, 2e-6).reject


def test_two_pairs_cannot_reject_at_the_run_level():
    """Why a setting's record over its two checked pairs is underpowered: even X = 1 twice stays far
    below 1/α; the pooled test over the run's pairs decides."""
    assert betting_test(np.ones(2), C.FRESH_NULL_MEAN, 2e-6).pvalue > 0.3
    assert betting_test(np.ones(40), C.FRESH_NULL_MEAN, 2e-6).reject


def test_copied_rows_finds_copies_in_any_order_and_dtype_and_nothing_in_fresh_draws():
    d, m = 20, 500
    W, b, _ = _draw(d, m, 0.0, 1)
    rows = np.column_stack([W, b])
    perm = np.random.default_rng(2).permutation(m)[:64]
    through_f32 = rows[perm].astype(np.float32).astype(np.float64)
    assert list(C.copied_rows(through_f32, rows)) == list(range(64))
    assert C.same_values(b[::-1].astype(np.float32), b) and not C.same_values(b[:-1], b)
    half = np.concatenate([rows[:32], np.column_stack(_draw(d, m, 0.0, 3)[:2])[:32]])
    assert list(C.copied_rows(half, rows)) == list(range(32))                 # a partial copy: each neuron
    W2, b2, _ = _draw(d, m, 0.0, 4)
    assert len(C.copied_rows(np.column_stack([W2, b2])[:64], rows)) == 0 and not C.same_values(b2, b)
    W1, b1, _ = _draw(1, m, 0.0, 5)                                          # d = 1: rows (w, b) of 2 entries
    W1g, b1g, _ = _draw(1, m, 0.0, 6)
    assert len(C.copied_rows(np.column_stack([W1g, b1g])[:64], np.column_stack([W1, b1]))) == 0
    assert len(C.copied_rows(rows[:64] * (1 + 1e-4), rows)) == 0          # beyond rounding: no copy


# ------------------------------------------------------------------ planted bugs, through the harness


def _g_from_f_seed(mp):
    """The trainer draws g's initial weights from f's seed: g_0 = f_0."""
    original = run.init_networks

    def init(config, sample, streams, role):
        if role == "g_init":
            streams = [dict(st, g_init=torch.Generator().manual_seed(st["f_init"].initial_seed())) for st in streams]
        return original(config, sample, streams, role)

    mp.setattr(run, "init_networks", init)


def _g_warm_started(mp):
    """The trainer trains g from the trained f (the f object reused for g): g_0 = f_T."""
    original, trained = run.train_network, []

    def train(config, net, X, y, lr, steps):
        if len(trained) % 2:
            f_T = trained[-1].net
            net = dataclasses.replace(net, W=f_T.W.clone(), b=f_T.b.clone(), a=f_T.a.clone())
        result, seconds = original(config, net, X, y, lr, steps)
        trained.append(result)
        return result, seconds

    mp.setattr(run, "train_network", train)


def _r7(procedure, config, pairs):
    """R7's records of a setting through the harness (conformance included) and the failure, if any."""
    session.current().discard()
    message = None
    with session.current().checking_procedure(procedure):
        try:
            harness.run_pairs(Setting(config, pair_seeds(7, pairs)))
        except AssertionError as failure:
            message = str(failure)
    recs = [r for r in session.current().pending() if r["claim"] == "R7"]
    session.current().discard()
    return recs, message


def _exact(recs):
    return next(r for r in recs if r["test"] == "exact")


def _test(recs):
    return next(r for r in recs if r["statistic"] == STATISTIC)


@pytest.mark.parametrize("which", ["trainer", "reference copy"])
@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_g_from_f_initial_weights_fails_r7_and_the_unbroken_procedure_passes(tmp_path, which, gamma):
    config = BASE.replace(gamma=gamma)
    clean = None if which == "trainer" else _reference_copy(tmp_path, None).procedure
    recs, message = _r7(clean, config, 2)
    assert message is None, message
    assert _exact(recs)["verdict"] == "pass" and not _exact(recs).get("unchecked")
    assert _test(recs)["verdict"] == "underpowered" and 0 <= _test(recs)["value"] <= 1
    with pytest.MonkeyPatch.context() as mp:
        if which == "trainer":
            _g_from_f_seed(mp)
            broken = None
        else:
            broken = _reference_copy(tmp_path, REFERENCE_LINE).procedure
        recs, message = _r7(broken, config, 2)
    assert message is not None, "R7 passed a g that starts from f_0"
    lines = [ln for ln in message.splitlines() if ln.startswith("R")]
    assert [ln.split(" ")[0] for ln in lines] == ["R7"], message       # R1–R6 see nothing
    assert re.search(r"^R7 \((perturbation_learning\.run:perturbation_learning|reference_copy_\d+:procedure)\): "
                     r"a neuron \(w_k, b_k\) of g_0 is one of f_0's up to rounding: 64 offending, the first at "
                     r"neuron #0 of g_0 \(seed \d+\)$", lines[0]), lines[0]
    violations = _exact(recs)["violations"]
    assert len(violations) == 3 and all(v is None for v in violations.values())   # every part: a count, inf (null)
    assert _test(recs)["value"] == 1.0                                   # ρ = 1 on both pairs


def test_reference_line_is_present():
    assert REFERENCE.read_text().count(REFERENCE_LINE[0]) == 1


def test_warm_started_g_fails_r7s_test_over_pairs(monkeypatch):
    """g_0 = f_T after a short training of f (t_f = 0.5) shares no weight of f_0 up to rounding, so the
    exact part passes; its function is close to f_0's (mean X 0.89 measured), and over 40 pairs the
    betting test rejects (p ≈ 1e-8). The unbroken trainer passes the same 40 pairs. (After t_f = 2 the
    learned part dominates f_T: mean X 0.63, p = 0.002 over 40 pairs: more pairs are needed.)"""
    monkeypatch.setattr(conformance, "CONFORMANCE_PAIRS_PER_SETTING", 40)
    config = BASE.replace(epochs_f=5)
    recs, message = _r7(None, config, 40)
    assert message is None, message
    assert _test(recs)["verdict"] != "fail" and abs(_test(recs)["value"] - 0.5) < 0.1
    with pytest.MonkeyPatch.context() as mp:
        _g_warm_started(mp)
        recs, message = _r7(None, config, 40)
    assert message is not None and message.startswith("R7 (perturbation_learning.run:perturbation_learning): "
                                                       "f_0 and g_0 correlate more than independent draws"), message
    assert _exact(recs)["verdict"] == "pass" and _test(recs)["verdict"] == "fail" and _test(recs)["value"] > 0.8


def test_unreported_initial_weights_are_not_checked_never_passed(tmp_path):
    """A procedure whose W_0 of g is not reported (NaN): R7 is stated "not checked (not reported)" and has
    no asserted record (R1 fails on g_0's values, as it must)."""
    from perturbation_learning.procedure import seedwise

    module = _reference_copy(tmp_path, None)

    def without_w0(config, X, y, streams):
        out = module.reference_seed(config, X, y, streams)
        out.g.W0 = torch.full_like(out.g.W0, float("nan"))
        out.g.forward0 = None
        return out

    recs, message = _r7(seedwise(without_w0, name="without_w0"), BASE, 2)
    assert message is not None and message.startswith("R1 ")
    assert [(r["verdict"], r["reason"]) for r in recs] == [("observed", "not checked (not reported): W_0, b_0 of "
                                                                        "f_0 and g_0")]
