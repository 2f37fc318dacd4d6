"""The record every assertion leaves behind, the per-process record buffer and the check context.

A check's name and the claim IDs it tests come from the running test item (the plugin enters
:func:`checking` around each test call); a property function that tests one claim of a
multi-claim check enters :func:`claim_scope`. Assertions read both from here, so neither is
threaded through the assertion calls.

Records travel as JSON strings: the plugin drains the buffer into the test report, which
pytest-xdist carries from a worker to the controller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass

from perturbation_learning.files import json_clean
from theory.tolerances import CONFORMANCE_CLAIMS

VERDICTS = ("pass", "underpowered", "fail", "observed", "invalid")

#: Check name of records made outside a test item (scripts, tests that call a property directly).
DIRECT_CALL = "direct call"


@dataclass
class Record:
    """One example's outcome for one claim; one row of results.json.

    Bookkeeping: claim, check, setting, seeds, statistic, value, bound, verdict ("pass": not rejected
    by a test that reaches the claim's power target; "underpowered": not rejected, but the test could
    not have detected the target violation; "fail": rejected; "observed" outside the assumption, or
    with too little data, ``reason`` says which; "invalid" diverged training), inside (the theorem's
    assumption held), alpha, p_value, ci, successes, n_pairs, coverage, reason.
    Power: test (its name), side ("at most"/"at least"), detects (the smallest true violation it
    rejects with probability ≥ 0.9: a mean, or a slope deviation), target (the violation the claim's
    power target asks it to detect), power_target (the key of that target in
    ``theory.tolerances.POWER_TARGETS``, or "lazy error"/"coverage"), pair_values (the per-pair
    values, in test order, for the claim-level pooled test), pair_seeds (the seed of each of those
    values' network pair: pairs of one seed are one independent unit, ``reporting.verdicts.pair_units``),
    pair_counts (per pair, the number of inputs a share was taken over: its binomial noise in the power
    model, ``theory.power``), unchecked (conformance parts the
    procedure reported nothing for: "not checked (not reported)").
    Measured quantities, each None where the check does not measure it; lists are per pair:
    kappa (largest laziness index of f), agreement (sgn g = sgn f), c2_margin (median
    |ĝ| − B_0 − B_E over the covered inputs), slope / slope_ci / axis (log-log fits),
    xi_ratio_max (largest ‖ξ_n‖ over its scale, D1), predicted_flip (L2), violations (K2, per
    property), fooling_own / fooling_random (D5), acc_f / acc_g / flip_f (P3, per pair).
    """

    claim: str
    check: str
    setting: dict
    seeds: list
    statistic: str
    value: float | None
    bound: float | None
    verdict: str
    inside: bool | None
    coverage: float | None = None
    ci: tuple | None = None
    alpha: float | None = None
    n_pairs: int = 0
    p_value: float | None = None
    successes: int | None = None
    reason: str | None = None
    kappa: list | None = None
    agreement: list | None = None
    c2_margin: list | None = None
    slope: float | None = None
    slope_ci: tuple | None = None
    axis: str | None = None
    xi_ratio_max: float | None = None
    predicted_flip: float | None = None
    violations: dict | None = None
    fooling_own: list | None = None
    fooling_random: list | None = None
    acc_f: list | None = None
    acc_g: list | None = None
    flip_f: list | None = None
    test: str | None = None
    side: str | None = None
    detects: float | None = None
    target: float | None = None
    power_target: str | None = None
    pair_values: list | None = None
    pair_seeds: list | None = None
    pair_counts: list | None = None
    unchecked: list | None = None

    def to_jsonable(self) -> dict:
        return json_clean(dataclasses.asdict(self))


#: Fields that carry a measured quantity (the analysis summarises them); the rest is bookkeeping.
MEASURED_FIELDS = ("kappa", "agreement", "c2_margin", "slope", "slope_ci", "xi_ratio_max", "predicted_flip",
                   "violations", "fooling_own", "fooling_random", "acc_f", "acc_g", "flip_f")


@dataclass
class _Context:
    check: str = DIRECT_CALL
    claims: tuple = ()
    claim: str | None = None


_CONTEXT = _Context()
# Records of the current test, drained into the test report by the plugin's makereport
# hookwrapper (a function-scoped fixture cannot wrap the examples of a @given test).
_BUFFER: list[dict] = []
_PAIRS_TRAINED = [0]
_SECONDS: dict = {}


@contextlib.contextmanager
def checking(check: str, claims=()):
    """Records made inside carry ``check``; ``claims`` are the IDs the check may record."""
    global _CONTEXT
    saved = _CONTEXT
    _CONTEXT = _Context(check=check, claims=tuple(claims))
    try:
        yield
    finally:
        _CONTEXT = saved


@contextlib.contextmanager
def claim_scope(claim: str):
    """Records made inside are for ``claim`` (one property of a multi-claim check)."""
    # The conformance claims are checked on the pairs of every check that trains (checks.conformance).
    if _CONTEXT.claims and claim not in _CONTEXT.claims and claim not in CONFORMANCE_CLAIMS:
        raise ValueError(f"claim: {claim!r} is not among the check's claim markers {list(_CONTEXT.claims)}")
    saved = _CONTEXT.claim
    _CONTEXT.claim = claim
    try:
        yield
    finally:
        _CONTEXT.claim = saved


def current_check() -> str:
    return _CONTEXT.check


def current_claims() -> tuple:
    """The check's claim IDs (empty outside a test item)."""
    return _CONTEXT.claims


def current_claim() -> str:
    """The claim being tested: the property's scope, else the check's only claim marker."""
    if _CONTEXT.claim is not None:
        return _CONTEXT.claim
    if len(_CONTEXT.claims) == 1:
        return _CONTEXT.claims[0]
    raise ValueError(f"claim: no claim scope inside check {_CONTEXT.check!r} with claim markers "
                     f"{list(_CONTEXT.claims)}; decorate the property with checks.assertions.tests_claim")


def emit(rec: Record) -> Record:
    _BUFFER.append(rec.to_jsonable())
    return rec


def drain() -> list[str]:
    out = [json.dumps(r, sort_keys=True) for r in _BUFFER]
    _BUFFER.clear()
    return out


def pending() -> list[dict]:
    """Records not yet drained (tests that call a property directly read them here)."""
    return list(_BUFFER)


def discard() -> None:
    _BUFFER.clear()


# Pairs whose agreement collapsed, with their prediction (THEORY.md P5): the harness notes them, the
# plugin carries them to the controller like records, the summary lists them.
_COLLAPSES: list[dict] = []


def note_collapse(note: dict) -> None:
    """Note one collapsed pair (a JSON-able dict); the running check's name is added."""
    _COLLAPSES.append(json_clean(dict(note, check=_CONTEXT.check)))


def drain_collapses() -> list[str]:
    out = [json.dumps(n, sort_keys=True) for n in _COLLAPSES]
    _COLLAPSES.clear()
    return out


def count_pairs(n: int) -> None:
    """Count trained (f, g) network pairs for the run's total."""
    _PAIRS_TRAINED[0] += int(n)


def add_seconds(kind: str, seconds: float) -> None:
    """Count seconds spent in one part of the checks (e.g. "conformance") for the run's metadata."""
    _SECONDS[kind] = _SECONDS.get(kind, 0.0) + float(seconds)


def seconds_spent() -> dict:
    return dict(_SECONDS)


def pairs_trained() -> int:
    return _PAIRS_TRAINED[0]
