"""R6: the run's own measurements (``run.measure``: accuracies, agreement, cosines) against their
definitions (THEORY.md §8).

``measure`` is the suite's code, shared by every procedure, so R1–R5 (which check what a procedure
reports) cannot see a bug in it, and every claim would then read the same wrong numbers. Each bug
below is planted in ``measure`` and passes R1–R5; R6 must fail naming the metric, and the unbroken
``measure`` passes R6 on settings that cover both losses, both scenarios and the controls.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import perturbation_learning.run as run
from checks import harness, session
from checks.strategies import Setting, pair_seeds
from perturbation_learning.config import Config
from perturbation_learning.procedure import Sample
from theory import conformance as C
from theory.tolerances import CONFORMANCE_CLAIMS

pytestmark = pytest.mark.usefixtures("one_thread")

#: Small lazy settings, two pairs each, where f is not perfect on the test inputs (so agreement and g's
#: test accuracy differ) and, under the controls, cosines take both signs.
BASE = Config(dataset="shifted-gauss", d=20, n_train=60, n_test=100, width=200, gamma=0.3, loss="identity", lr=0.1,
              momentum=0.0, epochs_f=20, epochs_g=20, eps=1.0, eps_mode="absolute", scenario="a", targets="random")
SETTINGS = {
    "gamma>0": BASE,
    "logistic, b": BASE.replace(loss="logistic", scenario="b", targets="flipped"),
    "shuffled": BASE.replace(attack="shuffled"),
    "random, b": BASE.replace(attack="random", scenario="b"),
}
METRICS = run.METRICS


def _check(setting: str, plant: Callable | None = None):
    """The harness's conformance records of ``setting`` (by claim) and its failure message (None: passed),
    with ``plant`` applied to a monkeypatch while it trains."""
    session.current().discard()
    message = None
    with pytest.MonkeyPatch.context() as mp:
        if plant is not None:
            plant(mp)
        try:
            harness.run_pairs(Setting(SETTINGS[setting], pair_seeds(7, 2)))
        except AssertionError as failure:
            message = str(failure)
    recs = {r["claim"]: r for r in session.current().pending() if r["claim"] in CONFORMANCE_CLAIMS}
    session.current().discard()
    return recs, message


def _wrap_measure(mp, change: Callable):
    """``run.measure`` replaced by ``change(original, config, sample, out)``."""
    original = run.measure
    mp.setattr(run, "measure", lambda config, sample, out: change(original, config, sample, out))


def _agreement_is_g_test_accuracy(mp):
    _wrap_measure(mp, lambda measure, c, s, o: dataclasses.replace(m := measure(c, s, o), agreement=m.acc_g_test))


def _agreement_on_training_inputs(mp):
    _wrap_measure(mp, lambda measure, c, s, o: dataclasses.replace(
        measure(c, s, o), agreement=measure(c, Sample(s.X, s.y, s.X, s.y), o).agreement))


def _cos_unsigned(mp):
    _wrap_measure(mp, lambda measure, c, s, o: dataclasses.replace(m := measure(c, s, o), cos_signed=m.cos_abs))


def _test_labels_negated(mp):
    _wrap_measure(mp, lambda measure, c, s, o: measure(c, Sample(s.X, s.y, s.Z, -s.yz), o))


@dataclass(frozen=True)
class Bug:
    name: str
    plant: Callable
    setting: str
    metrics: tuple   # the metrics it changes

    def __str__(self):
        return self.name


BUGS = (
    Bug("agreement is g's test accuracy", _agreement_is_g_test_accuracy, "gamma>0", ("agreement",)),
    Bug("agreement on the training inputs", _agreement_on_training_inputs, "gamma>0", ("agreement",)),
    Bug("cos_signed unsigned", _cos_unsigned, "shuffled", ("cos_signed",)),
    Bug("test labels negated", _test_labels_negated, "gamma>0", ("acc_f_test", "acc_g_test")),
)


def _ratios(record) -> dict:
    """R6's ratio |deviation|/tolerance per metric."""
    out = {}
    for part, ratio in record["violations"].items():
        metric = re.match(r"the reported (\w+) differs", part)
        out[metric.group(1)] = ratio
    return out


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_measure_conforms_with_every_metric_checked(setting):
    recs, message = _check(setting)
    assert message is None, message
    r6 = recs["R6"]
    assert r6["verdict"] == "pass" and not r6.get("unchecked")
    ratios = _ratios(r6)
    assert sorted(ratios) == sorted(METRICS) and max(ratios.values()) <= 1


@pytest.mark.parametrize("bug", BUGS, ids=str)
def test_planted_measurement_bug_fails_r6_alone(bug):
    recs, message = _check(bug.setting, bug.plant)
    assert message is not None, f"{bug} passed every conformance claim"
    lines = message.splitlines()
    # R1–R5 check the procedure's report, which the bug leaves as it was: only R6 sees it.
    assert [ln.split(" ")[0] for ln in lines] == ["R6"], message
    metric = re.match(r"R6 \(perturbation_learning\.run:perturbation_learning\): the reported (\w+) differs from "
                      r".+ by \S+ at seed \d+ \(tolerance \S+\)$", lines[0])
    assert metric and metric.group(1) in bug.metrics, lines[0]
    ratios = _ratios(recs["R6"])
    assert all(ratios[m] > 1 for m in bug.metrics), ratios
    assert all(ratios[m] <= 1 for m in METRICS if m not in bug.metrics), ratios


def test_sign_share_counts_rows_within_their_bound_either_way():
    """A row whose value is within its rounding bound of 0 may take either sign in the run's own
    evaluation; sgn(0) = −1 where the value is known exactly."""
    v, tol = np.array([1.0, -1.0, 1e-9, 0.0]), np.array([1e-6, 1e-6, 1e-6, 0.0])
    labels = np.array([1.0, 1.0, 1.0, -1.0])
    share, share_tol = C.sign_share(v, tol, labels)
    # Certain: row 0 agrees, row 1 does not, row 3 agrees (sgn 0 = −1); row 2 counts 0 or 1.
    assert share == pytest.approx(2 / 4 + 1 / 8) and share_tol == pytest.approx(1 / 8)
    share, share_tol = C.sign_share(v, tol, v, tol)   # agreement of a network with itself
    assert share - share_tol <= 1 <= share + share_tol


def test_cosine_means_read_a_vanishing_vector_as_0():
    r = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    u = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, -1.0]])
    (signed, absolute), tol = C.cosine_means(r, np.ones(3), u, C.unit_roundoff("float32"))
    assert signed == pytest.approx(0.0, abs=tol) and absolute == pytest.approx(2 / 3, abs=tol)
    assert 0 < tol < 1e-5


def test_r5_equality_is_not_checked_where_draws_can_coincide():
    """Inputs on a line (the subspace family at d < 20 has k = 1) rounded to float32 coincide by chance:
    a 1-D Gaussian's 500 test and 100 training inputs share a row in about 0.25% of draws, so R5's equality
    test would fail correct code now and then; it states those parts as not checked instead."""
    import numpy as np

    from theory.conformance import identical_rows, spans_one_dimension

    rng = np.random.default_rng(0)
    line = [rng.standard_normal((600, 1)).astype(np.float32) * np.ones((1, 17), np.float32) for _ in range(2000)]
    assert all(spans_one_dimension(X) for X in line[:20])
    assert sum(len(identical_rows(X[:500], X[500:])) > 0 for X in line) >= 1
    assert not spans_one_dimension(rng.standard_normal((100, 17)).astype(np.float32))
    assert not spans_one_dimension(rng.standard_normal((100, 2)))
