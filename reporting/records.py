"""The record every assertion leaves behind (one row of results.json), and the layout of results.json.

The checks make records (``checks.assertions``) and buffer them in their session (``checks.session``);
the plugin carries them as JSON strings in the test reports, which pytest-xdist carries from a worker
to the controller, and the report reads them as plain dicts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from perturbation_learning.files import json_clean

# The layout of results.json; a reader of another version (``reporting.compare``) refuses it.
FORMAT_VERSION = 3

VERDICTS = ("pass", "underpowered", "fail", "observed", "invalid")


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


def finite(v) -> float | None:
    """A record's number as a finite float, or None (JSON has no NaN: a missing or non-finite value)."""
    if v is None or isinstance(v, bool):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def finite_list(v) -> list[float]:
    """The finite numbers of a number, a (nested) list or a dict of numbers."""
    if isinstance(v, dict):
        v = list(v.values())
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in finite_list(item)]
    x = finite(v)
    return [] if x is None else [x]
