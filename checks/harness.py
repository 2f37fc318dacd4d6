"""Run a drawn setting's network pairs and hand each pair's theory quantities to the checks.

``run_pairs(setting)`` trains every pair of the setting in one batched program (or, under the ``paper``
profile or ``--executor``, one Dask task per pair: ``checks.remote``), drops pairs whose
training diverged (recording them as invalid), and returns one ``checks.pairs.Pair`` per valid pair.
Theory quantities are computed on demand from ``theory/``; nothing here re-derives the math.

The pairs come from the checked procedure (``perturbation_learning.procedure``): the project's
batched trainer by default, another implementation with ``pytest checks/ --procedure module:object``
(the session's procedure, ``checks.session``). f and g are then that implementation's own functions,
∇f its autograd.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from perturbation_learning.config import Config, seed_streams
from perturbation_learning.procedure import Sample
from perturbation_learning.run import RunResult, run_batch
from perturbation_learning.validation import DTYPES
from theory.tolerances import CHECK_PREDICT_COVERAGE, COLLAPSE_AGREEMENT

from . import assertions, conformance, remote
from .pairs import Pair, double, to_float64
from .session import claim_scope, current, current_claims
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
    prediction (THEORY.md P5): the summary says, for each, what was predicted and why."""
    for res in results:
        if res["status"] == "ok" and res["agreement"] < COLLAPSE_AGREEMENT:
            pred = res.get("prediction") or {}
            current().note_collapse({"setting": setting.describe(), "seed": res["config"]["seed"],
                                     "agreement": res["agreement"], "predicted": pred.get("agreement"),
                                     "reason": pred.get("reason"),
                                     "inside_l2": (pred.get("inside") or {}).get("l2")})


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


def _train(setting: Setting) -> list[tuple[RunResult, int]]:
    """(run, index in it) per seed: one batched run in this process, or one run per seed through the
    Dask executor (``checks.remote``: the ``paper`` profile or ``--executor``); the same numbers.
    Every run's report is checked against itself first (R1–R6, ``checks.conformance``)."""
    session = current()
    args = (_on_run_device(setting.config), list(setting.seeds))
    kw = dict(procedure=session.procedure, predict_coverage=CHECK_PREDICT_COVERAGE)
    if session.executor.active():
        runs = [(data, 0) for data in session.executor.run_seeds(*args, **kw)]
    else:
        data = run_batch(*args, **kw)
        runs = [(data, i) for i in range(len(setting.seeds))]
    if session.conformance:  # R1–R6 on these very pairs, before any claim reads them (THEORY.md §8)
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
