"""Run a drawn setting's network pairs and hand each pair's theory quantities to the checks.

``run_pairs(setting)`` trains every pair of the setting in one batched program (or, under the ``paper``
profile or ``--executor``, one Dask task per pair: ``checks.remote``), drops pairs whose
training diverged (recording them as invalid), and returns one ``checks.pairs.Pair`` per valid pair.
Theory quantities are computed on demand from ``theory/``; nothing here re-derives the math.

The pairs come from the checked procedure (``perturbation_learning.procedure``): the project's
batched trainer by default, another implementation with ``pytest checks/ --procedure module:object``
(the session's procedure, ``checks.session``). f and g are then that implementation's own functions,
∇f its autograd. A setting that procedure does not implement (its declared ``Capabilities``) is not
trained: a Hypothesis example is rejected (a drawn one is redrawn), stated with the reason, and a check
with no supported example is skipped (:func:`require_supported`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import reject

from perturbation_learning.config import Config, seed_streams
from perturbation_learning.procedure import Sample
from perturbation_learning.run import RunResult, run_batch
from perturbation_learning.validation import DTYPES
from reporting.breaks import control_kind
from theory.strata import NO_BIAS, rests_on_bias
from theory.tolerances import CHECK_PREDICT_COVERAGE, COLLAPSE_AGREEMENT

from . import assertions, conformance, remote
from .pairs import Pair, double, to_float64
from .session import DIRECT_CALL, claim_scope, current, current_check, current_claims
from .strategies import Setting


def run_device() -> str:
    """Where the checks train: ``cuda`` under the ``paper`` profile (and its smoke variant) when a GPU
    is present, float32 at the paper's sizes; else ``cpu`` (the other profiles are sized for CPUs,
    where a run is bit-reproducible)."""
    return "cuda" if remote.in_paper_profile() and torch.cuda.is_available() else "cpu"


def _on_run_device(config: Config) -> Config:
    return config.replace(device=run_device()) if config.device == "cpu" else config


def run_results(setting: Setting, claims=None) -> list[dict]:
    """Result dicts of the setting's valid pairs (no theory quantities); diverged pairs are
    recorded as invalid for each of ``claims`` (default: the running check's) and left out."""
    results = [data.record(i) for data, i in _train(setting)]
    current().count_pairs(len(setting.seeds))
    note_collapses(results, setting)
    return [res for res in results if _valid(res, setting, claims)]


def note_collapses(results: list[dict], setting: Setting) -> None:
    """Every valid pair whose agreement fell below COLLAPSE_AGREEMENT goes to the run report with its
    prediction (THEORY.md P5) and what ``reporting.breaks`` groups it by: ``setting_pairs``, the valid
    pairs of its setting (so that the report can say "k of n"), the control it is (or None), g's time,
    κ of f and g and the C2 coverage where the prediction computed them, f's and g's accuracy on D."""
    valid = [res for res in results if res["status"] == "ok"]
    described = setting.describe()
    for res in valid:
        if res["agreement"] < COLLAPSE_AGREEMENT:
            pred = res.get("prediction") or {}
            inside = pred.get("inside") or {}
            current().note_collapse({
                "setting": described, "seed": res["config"]["seed"], "agreement": res["agreement"],
                "predicted": pred.get("agreement"), "reason": pred.get("reason"), "inside_l2": inside.get("l2"),
                "setting_pairs": len(valid), "control": control_kind(described), "t_g": res.get("t_g"),
                "kappa_f": inside.get("kappa_f_max"), "kappa_g": inside.get("kappa_g_max"),
                "c2_coverage": inside.get("c2_l2_coverage"), "acc_f_train": res.get("acc_f_train"),
                "acc_g_train": res.get("acc_g_train")})


def _valid(res: dict, setting: Setting, claims) -> bool:
    if res["status"] == "ok":
        return True
    for claim in current_claims() if claims is None else claims:
        with claim_scope(claim):
            assertions.record_invalid(reason=res["status"], setting=setting.describe(),
                                      seeds=[res["config"]["seed"]])
    return False


def run_pairs(setting: Setting, claims=None) -> list[Pair]:
    """Train the setting's pairs (one batched call, or one executor task per seed: ``_train``). Diverged
    pairs are recorded as invalid runs for each of ``claims`` (default: the running check's) and left out
    of every statistic."""
    runs = _train(setting)
    results = [data.record(i) for data, i in runs]
    current().count_pairs(len(setting.seeds))
    note_collapses(results, setting)
    return [Pair.from_run(data, i, setting.config) for res, (data, i) in zip(results, runs)
            if _valid(res, setting, claims)]


def require_supported(setting: Setting) -> None:
    """Return if the procedure under check implements ``setting`` and the running check's claims; else
    skip a check whose every claim rests on biases the network lacks, or state the setting
    (``CheckSession.note_not_run``) and reject the example (``hypothesis.reject``; a check none of whose
    examples is supported, e.g. a control whose attack is not declared, is then skipped by the plugin with
    the reason), or raise ValueError outside a check."""
    session, claims = current(), current_claims()
    if claims and not session.capabilities.bias and all(rests_on_bias(c) for c in claims):
        pytest.skip(f"not checked: {NO_BIAS}")
    why = session.capabilities.why_not(setting.config)
    if why is None:
        return
    if current_check() == DIRECT_CALL:
        raise ValueError(f"setting: {why}")
    session.note_not_run({"check": current_check(), "setting": setting.describe(), "reason": why,
                          "action": "skipped"})
    reject()


def _train(setting: Setting) -> list[tuple[RunResult, int]]:
    """(run, index in it) per seed: one batched run in this process, or one run per seed through the
    Dask executor (``checks.remote``: the ``paper`` profile or ``--executor``); the same numbers.
    Every run's report is checked against itself first (R1–R7, ``checks.conformance``)."""
    require_supported(setting)
    session = current()
    args = (_on_run_device(setting.config), list(setting.seeds))
    kw = dict(procedure=session.procedure, predict_coverage=CHECK_PREDICT_COVERAGE)
    if session.executor.active():
        runs = [(data, 0) for data in session.executor.run_seeds(*args, **kw)]
    else:
        data = run_batch(*args, **kw)
        runs = [(data, i) for i in range(len(setting.seeds))]
    if session.conformance:  # R1–R7 on these very pairs, before any claim reads them (THEORY.md §8)
        started = time.perf_counter()
        try:
            conformance.check_runs(setting, runs, session.procedure_name)
        finally:
            session.add_seconds("conformance", time.perf_counter() - started)
    return runs


@dataclass
class RetrainedF:
    """f' of a pair: the checked procedure's f from another initialisation, on the same data."""

    net: object
    r: np.ndarray       # its perturbations toward the pair's y^adv
    diverged: bool


def retrain_f(p: Pair, init: torch.Generator) -> RetrainedF:
    """Run the checked procedure on ``p``'s data with the seed streams of ``p`` except f's
    initialisation, which is drawn from ``init``; g is trained for one step only."""
    session = current()
    cfg = p.config.replace(epochs_g=1)
    dtype = DTYPES[cfg.dtype]
    sample = Sample(*(torch.as_tensor(a, dtype=dtype).unsqueeze(0) for a in (p.X, p.y, p.Z, p.yz)))
    streams = seed_streams(p.seed)
    streams["f_init"] = init
    out = session.procedure(cfg, sample, [streams])
    if not np.array_equal(to_float64(out.y_adv[0]), p.y_adv):
        raise ValueError(f"procedure {session.procedure_name} drew other targets y_adv from the same 'targets' "
                         "stream; a procedure must be deterministic in its seed streams")
    return RetrainedF(net=double(out.f.net[0]), r=to_float64(out.r[0]), diverged=bool(out.f.diverged[0]))
