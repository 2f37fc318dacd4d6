"""Run a drawn setting's network pairs and hand each pair's theory quantities to the checks.

``run_pairs(setting)`` trains every pair of the setting in one batched program (or, under the ``paper``
profile or ``--executor``, one Dask task per pair: ``checks.remote``), drops pairs whose
training diverged (recording them as invalid), and returns one :class:`Pair` per valid pair.
Theory quantities are computed on demand from ``theory/``; nothing here re-derives the math.

The pairs come from the checked procedure (``perturbation_learning.procedure``): the project's
batched trainer by default, another implementation with ``pytest checks/ --procedure module:object``
(``use_procedure``). f and g are then that implementation's own functions, ∇f its autograd.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass

import numpy as np
import torch

from perturbation_learning.config import Config, seed_streams
from perturbation_learning.procedure import Sample, as_dtype, load_procedure, procedure_name
from perturbation_learning.run import RunResult, run_batch
from perturbation_learning.validation import DTYPES
from reporting.records import add_seconds, claim_scope, count_pairs, current_claims, note_collapse
from theory import conditions, direction, formulas, lazy
from theory.prediction import COLLAPSE_AGREEMENT
from theory.tolerances import CHECK_DELTA

from . import assertions, conformance, remote
from .strategies import Setting

#: δ of every per-point bound in the checks (B_0, B_E, B_ξ). P1 then allows a share 3δ.
DELTA = CHECK_DELTA
#: The run's prediction skips its C2 coverage here: the checks compute C2 per pair themselves
#: (``Pair.conditions``), and the coverage's Monte Carlo would add ≈ 50% to a lazy check pair's run
#: (0.105 s against 0.214 s per pair at N = 150, m = 3000; 0.019 s without it).
PREDICT_COVERAGE = "never"

_CHECKED = {"procedure": load_procedure(None), "conformance": True}


@contextlib.contextmanager
def without_conformance():
    """Train without checking R1–R6 first: for tests that show another claim's check failing on a
    planted bug that the conformance checks would report before it."""
    saved = _CHECKED["conformance"]
    _CHECKED["conformance"] = False
    try:
        yield
    finally:
        _CHECKED["conformance"] = saved


def use_procedure(procedure) -> None:
    """Check ``procedure`` (a callable or a 'module:object' string) from now on."""
    _CHECKED["procedure"] = load_procedure(procedure) if isinstance(procedure, str) or procedure is None \
        else procedure


def checked_procedure():
    """The procedure the checks run."""
    return _CHECKED["procedure"]


def checked_procedure_name() -> str:
    return procedure_name(_CHECKED["procedure"])


def run_device() -> str:
    """Where the checks train: ``cuda`` under the ``paper`` profile (and its smoke variant) when a GPU
    is present, float32 at the paper's sizes; else ``cpu`` (the other profiles are sized for CPUs,
    where a run is bit-reproducible)."""
    return "cuda" if remote.in_paper_profile() and torch.cuda.is_available() else "cpu"


def _on_run_device(config: Config) -> Config:
    return config.replace(device=run_device()) if config.device == "cpu" else config


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


@dataclass
class Pair:
    """One trained (f, g) pair with its data; theory quantities are cached properties."""

    config: Config
    seed: int
    X: np.ndarray
    y: np.ndarray
    Z: np.ndarray
    yz: np.ndarray
    y_adv: np.ndarray
    r: np.ndarray
    X_adv: np.ndarray
    u: np.ndarray
    lam_f: np.ndarray
    lam_g: np.ndarray
    f_net: object
    g_net: object
    f0_net: object
    g0_net: object
    flip_f: float
    flip_g: float
    eps: float
    prediction: dict | None = None    # the run's prediction of this pair before g (THEORY.md P5)

    @property
    def gamma(self) -> float:
        return self.config.gamma

    def f(self, Z=None) -> np.ndarray:
        return _np(self.f_net(torch.as_tensor(self.Z if Z is None else Z)))

    def g(self, Z=None) -> np.ndarray:
        return _np(self.g_net(torch.as_tensor(self.Z if Z is None else Z)))

    @functools.cached_property
    def grad_f(self) -> np.ndarray:
        return _np(self.f_net.input_grad(torch.as_tensor(self.X)))

    @functools.cached_property
    def xi(self) -> np.ndarray:
        return direction.residual_xi(self.grad_f, self.u)

    @functools.cached_property
    def kappa_f(self) -> np.ndarray:
        """Laziness index of f on the training inputs and the test inputs."""
        XZ = np.concatenate([self.X, self.Z])
        return lazy.laziness_index(self.X, self.y, self.lam_f, XZ, self.gamma, self.config.width)

    @functools.cached_property
    def kappa_g(self) -> np.ndarray:
        XZ = np.concatenate([self.X_adv, self.Z])
        return lazy.laziness_index(self.X_adv, self.y_adv, self.lam_g, XZ, self.gamma, self.config.width)

    @functools.cached_property
    def width_f(self):
        return lazy.width_assumption(self.kappa_f)

    @functools.cached_property
    def width_g(self):
        return lazy.width_assumption(self.kappa_g)

    @property
    def inside_l2(self) -> bool:
        """L2 for f and for g (THEORY.md P1)."""
        return bool(self.width_f) and bool(self.width_g)

    @property
    def xi_ratio_max(self) -> float:
        """Largest ‖ξ_n‖ in units of its scale √E‖∇f_0‖² (the Õ(1) constant of D1)."""
        return float(np.linalg.norm(self.xi, axis=1).max() / np.sqrt(formulas.grad0_sq_mean(self.gamma)))

    @functools.cached_property
    def xi_bound(self) -> float:
        """B_ξ at δ for this width, including the finite-width term at its largest over n."""
        fw = direction.finite_width_residual_rms(self.X, self.y, self.lam_f, self.gamma, self.config.width,
                                                 np.random.default_rng(self.seed))
        return float(direction.residual_bound(self.gamma, self.X.shape[1], DELTA, m=self.config.width,
                                              finite_width_rms=float(fw.max())))

    @functools.cached_property
    def conditions(self) -> "conditions.Conditions":
        """C1–C3 on the test inputs, from the data, targets, Λ, Λ', ε and γ only: r is the theory's
        r̂_n = ε y^adv_n u_n/‖u_n‖, not the network's perturbation."""
        r_hat = conditions.predicted_perturbation(self.u, self.y_adv, self.eps)
        return conditions.evaluate_conditions(
            self.config.scenario, self.X, self.y, self.lam_f, r_hat, self.y_adv, self.u, self.lam_g, self.gamma,
            self.eps, self.Z, DELTA, np.random.default_rng(self.seed + 1), xi_bound=self.xi_bound)

    @property
    def inside_test(self) -> np.ndarray:
        """Per test input: L2 holds for f and for g."""
        nz = len(self.Z)
        return self.width_f.inside[-nz:] & self.width_g.inside[-nz:]

    @property
    def kappa_f_max(self) -> float:
        """Largest laziness index of f over the training and test inputs."""
        return float(self.kappa_f.max())


def run_results(setting: Setting, claims=None) -> list[dict]:
    """Result dicts of the setting's valid pairs (no theory quantities); diverged pairs are
    recorded as invalid for each of ``claims`` (default: the running check's) and left out."""
    results = [data.record(i) for data, i in _train(setting)]
    count_pairs(len(setting.seeds))
    note_collapses(results, setting)
    return [res for res in results if _valid(res, setting, claims)]


def note_collapses(results: list[dict], setting: Setting) -> None:
    """Every valid pair whose agreement fell below COLLAPSE_AGREEMENT goes to the run report with its
    prediction (THEORY.md P5): the summary says, for each, what was predicted and why."""
    for res in results:
        if res["status"] == "ok" and res["agreement"] < COLLAPSE_AGREEMENT:
            pred = res.get("prediction") or {}
            note_collapse({"setting": setting.describe(), "seed": res["config"]["seed"],
                           "agreement": res["agreement"], "predicted": pred.get("agreement"),
                           "reason": pred.get("reason"), "inside_l2": (pred.get("inside") or {}).get("l2")})


def _valid(res: dict, setting: Setting, claims) -> bool:
    if res["status"] == "ok":
        return True
    for claim in current_claims() if claims is None else claims:
        with claim_scope(claim):
            assertions.record_invalid(reason=res["status"], setting=setting.describe(),
                                      seeds=[res["config"]["seed"]])
    return False


def run_pairs(setting: Setting, claims=None) -> list[Pair]:
    """Train the setting's pairs (one batched call, or one executor task per seed: ``_train``). Diverged pairs are recorded as invalid runs
    for each of ``claims`` (default: the running check's) and left out of every statistic."""
    runs = _train(setting)
    results = [data.record(i) for data, i in runs]
    count_pairs(len(setting.seeds))
    note_collapses(results, setting)
    pairs = []
    for seed, res, (data, i) in zip(setting.seeds, results, runs):
        if _valid(res, setting, claims):
            pairs.append(_pair(setting.config, seed, data, i))
    return pairs


def _train(setting: Setting) -> list[tuple[RunResult, int]]:
    """(run, index in it) per seed: one batched run in this process, or one run per seed through the
    Dask executor (``checks.remote``: the ``paper`` profile or ``--executor``); the same numbers.
    Every run's report is checked against itself first (R1–R6, ``checks.conformance``)."""
    args = (_on_run_device(setting.config), list(setting.seeds))
    kw = dict(procedure=checked_procedure(), predict_coverage=PREDICT_COVERAGE)
    if remote.active():
        runs = [(data, 0) for data in remote.run_seeds(*args, **kw)]
    else:
        data = run_batch(*args, **kw)
        runs = [(data, i) for i in range(len(setting.seeds))]
    if _CHECKED["conformance"]:  # R1–R6 on these very pairs, before any claim reads them (THEORY.md §8)
        started = time.perf_counter()
        try:
            conformance.check_runs(setting, runs, checked_procedure_name())
        finally:
            add_seconds("conformance", time.perf_counter() - started)
    return runs


def _pair(config: Config, seed: int, data: RunResult, i: int) -> Pair:
    return Pair(config=config.replace(seed=seed), seed=seed, X=_np(data.X[i]), y=_np(data.y[i]),
                Z=_np(data.Z[i]), yz=_np(data.yz[i]), y_adv=_np(data.y_adv[i]), r=_np(data.r[i]),
                X_adv=_np(data.X_adv[i]), u=_np(data.u[i]), lam_f=_np(data.f.lam[i]), lam_g=_np(data.g.lam[i]),
                f_net=_double(data.f.net[i]), g_net=_double(data.g.net[i]), f0_net=_double(data.f.net0[i]),
                g0_net=_double(data.g.net0[i]), flip_f=float(data.f.flip_fraction[i]),
                flip_g=float(data.g.flip_fraction[i]), eps=data.eps, prediction=data.record(i)["prediction"])


def _double(net):
    """Parameters in float64; an implementation's own f stays its own (``procedure.FunctionNet``)."""
    return as_dtype(net, torch.float64)


@dataclass
class RetrainedF:
    """f' of a pair: the checked procedure's f from another initialisation, on the same data."""

    net: object
    r: np.ndarray       # its perturbations toward the pair's y^adv
    diverged: bool


def retrain_f(p: Pair, init: torch.Generator) -> RetrainedF:
    """Run the checked procedure on ``p``'s data with the seed streams of ``p`` except f's
    initialisation, which is drawn from ``init``; g is trained for one step only."""
    cfg = p.config.replace(epochs_g=1)
    dtype = DTYPES[cfg.dtype]
    sample = Sample(*(torch.as_tensor(a, dtype=dtype).unsqueeze(0) for a in (p.X, p.y, p.Z, p.yz)))
    streams = seed_streams(p.seed)
    streams["f_init"] = init
    out = checked_procedure()(cfg, sample, [streams])
    if not np.array_equal(_np(out.y_adv[0]), p.y_adv):
        raise ValueError(f"procedure {checked_procedure_name()} drew other targets y_adv from the same 'targets' "
                         "stream; a procedure must be deterministic in its seed streams")
    return RetrainedF(net=_double(out.f.net[0]), r=_np(out.r[0]), diverged=bool(out.f.diverged[0]))
