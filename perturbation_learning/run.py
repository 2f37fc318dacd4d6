"""One run of perturbation learning, as four steps: load, the procedure (train f, perturb, train g),
measure, report (THEORY.md §1, §7).

train f on D → craft r_n toward y^adv_n → build D^adv (Scenario (a): r_n; (b): x_n + r_n) → train a
fresh g on D^adv → measure f and g on D and on fresh samples.

``run_batch(config, seeds)`` runs many seeds as one tensor program (networks stacked on a leading
axis) and returns a :class:`RunResult`; each seed's numbers are identical to
``run_experiment(config with that seed)``: every seed draws from its own generators and no
arithmetic mixes networks.

The procedure is any callable ``(config, sample, streams) -> ProcedureOutput`` (the
``procedure.Procedure`` protocol): it returns the trained f and g with their initial networks, t, Λ,
flip fractions and divergence flags (``TrainResult``), the targets y^adv, the perturbations r and the
inputs x^adv. ``measure`` computes everything else from those tensors, so another implementation of
the procedure is measured exactly as this one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import torch

from theory.model import scenario_inputs, sign_pm1
from . import attacks
from .config import Config, seed_streams
from .data import NpzDistribution, make_distribution
from .files import json_clean
from .network import TwoLayerNet, draw_network, stack_networks
from .predict import predict_outcomes
from .procedure import Procedure, ProcedureOutput, Sample, procedure_name
from .training import LOSSES, TrainResult, train_in_chunks
from .validation import DTYPES, check_choice, check_seeds, resolve_device

#: Per-seed metrics that an invalid (diverged) run reports as null.
METRICS = ("acc_f_train", "acc_g_train", "acc_f_test", "acc_g_test", "agreement", "cos_signed", "cos_abs")
#: Wall-clock fields of a result dict: the only ones that differ between two runs of one seed.
TIMING_FIELDS = ("seconds_f", "seconds_g", "seconds_predict")


@dataclass
class Measures:
    """Per-seed numbers (numpy arrays over the seed axis) and the predicted directions u_n."""

    u: torch.Tensor
    acc_f_train: np.ndarray
    acc_g_train: np.ndarray
    acc_f_test: np.ndarray
    acc_g_test: np.ndarray
    agreement: np.ndarray
    cos_signed: np.ndarray
    cos_abs: np.ndarray


@dataclass
class RunResult:
    """Everything a batched run produced, kept in memory; ``records`` are the per-seed result dicts."""

    config: Config
    seeds: list[int]
    sample: Sample
    out: ProcedureOutput
    measures: Measures
    procedure: str = "perturbation_learning.run:perturbation_learning"  # 'module:object' that produced out
    predictions: list | None = None      # theory.prediction.Prediction per seed (None: not predicted)
    seconds_predict: float | None = None

    X = property(lambda self: self.sample.X)
    y = property(lambda self: self.sample.y)
    Z = property(lambda self: self.sample.Z)
    yz = property(lambda self: self.sample.yz)
    f = property(lambda self: self.out.f)
    g = property(lambda self: self.out.g)
    y_adv = property(lambda self: self.out.y_adv)
    r = property(lambda self: self.out.r)
    X_adv = property(lambda self: self.out.X_adv)
    eps = property(lambda self: self.out.eps)
    u = property(lambda self: self.measures.u)

    @property
    def records(self) -> list[dict]:
        """One result dict per seed (what ``run`` prints as JSON)."""
        return [self.record(i) for i in range(len(self.seeds))]

    def record(self, i: int) -> dict:
        f, g, m, n = self.out.f, self.out.g, self.measures, len(self.seeds)
        invalid = [name for name, tr in (("f", f), ("g", g)) if tr.diverged[i]]
        res = {
            "config": self.config.replace(seed=self.seeds[i]).to_dict(),
            "status": "ok" if not invalid else "invalid: training diverged for " + " and ".join(invalid),
            "eps_effective": self.out.eps,
            **{k: float(getattr(m, k)[i]) for k in METRICS},
            "t_f": f.t,
            "t_g": g.t,
            "flip_fraction_f": float(f.flip_fraction[i]),
            "flip_fraction_g": float(g.flip_fraction[i]),
            "final_loss_f": float(f.loss_curve[i, -1]),
            "final_loss_g": float(g.loss_curve[i, -1]),
            "seconds_f": self.out.seconds_f / n,
            "seconds_g": self.out.seconds_g / n,
            "prediction": None if self.predictions is None or self.predictions[i] is None
            else self.predictions[i].to_dict(),
            "seconds_predict": None if self.seconds_predict is None else self.seconds_predict / n,
        }
        if invalid:  # an invalid run reports no metrics at all, so it cannot be read as a pass
            res.update(dict.fromkeys(METRICS))
        return res


# ---------------------------------------------------------------- load

def draw_data(config: Config, streams: dict):
    """Draw D and the fresh test samples for one seed, as float64 numpy arrays."""
    if config.data:
        dist = NpzDistribution(config.data)
    else:
        dist = make_distribution(config.dataset, d=None if config.real else config.d, rng=streams["structure"],
                                 data_dir=config.data_dir or None, pair=config.class_pair())
    X, y = dist.sample(config.n_train or None, streams["train"], split="train")
    # Real data and files: the whole held-out split (n_test is ignored); synthetic: n_test fresh draws.
    Z, yz = dist.sample(None if config.real else config.n_test, streams["test"], split="test")
    return X, y, Z, yz


def load(config: Config, streams: list[dict]) -> Sample:
    """Every seed's data, stacked, in the config's dtype and device."""
    dtype, device = DTYPES[config.dtype], resolve_device(config.device)
    loaded = [draw_data(config, st) for st in streams]

    def stacked(i):
        return torch.as_tensor(np.stack([ld[i] for ld in loaded]), dtype=dtype, device=device)

    return Sample(stacked(0), stacked(1), stacked(2), stacked(3))


# ---------------------------------------------------------------- the procedure

def init_networks(config: Config, sample: Sample, streams: list[dict], role: str) -> TwoLayerNet:
    """One fresh network per seed, from that seed's generator ``role``, stacked."""
    return stack_networks([draw_network(sample.d, config.width, config.gamma, st[role], None,
                                        sample.X.dtype, sample.X.device) for st in streams])


def train_network(config: Config, net: TwoLayerNet, X: torch.Tensor, y: torch.Tensor, lr: float,
                  steps: int) -> tuple[TrainResult, float]:
    """Gradient descent on (X, y) with the config's loss and momentum; returns the result and its seconds."""
    t0 = time.perf_counter()
    result = train_in_chunks(net, X, y, loss=LOSSES[config.loss], lr=float(lr), steps=steps,
                             momentum=float(config.momentum))
    return result, time.perf_counter() - t0


def perturb(config: Config, f: TrainResult, X: torch.Tensor, y: torch.Tensor, streams: list[dict],
            eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each seed's targets y^adv and perturbations r of its trained f."""
    y_adv = torch.stack([attacks.targets(y[i], config.targets, st["targets"]) for i, st in enumerate(streams)])
    r = torch.stack([attacks.craft(config.attack, f.net[i], X[i], y_adv[i], eps, st["control"], config.pgd_steps)
                     for i, st in enumerate(streams)])
    return y_adv, r


def perturbation_learning(config: Config, sample: Sample, streams: list[dict]) -> ProcedureOutput:
    """The procedure of the paper: train f on D, perturb toward y^adv, train a fresh g on D^adv."""
    eps = config.effective_eps(sample.d)
    f, seconds_f = train_network(config, init_networks(config, sample, streams, "f_init"), sample.X, sample.y,
                                 config.lr, config.epochs_f)
    y_adv, r = perturb(config, f, sample.X, sample.y, streams, eps)
    X_adv = scenario_inputs(config.scenario, sample.X, r)
    g, seconds_g = train_network(config, init_networks(config, sample, streams, "g_init"), X_adv, y_adv,
                                 config.lr_g or config.lr, config.epochs_g)
    return ProcedureOutput(f=f, g=g, y_adv=y_adv, r=r, X_adv=X_adv, eps=eps, seconds_f=seconds_f,
                           seconds_g=seconds_g)


# ---------------------------------------------------------------- measure

def _accuracy(pred: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    return (sign_pm1(pred) == y.to(pred.dtype)).to(torch.float64).mean(-1).cpu().numpy()


def measure(config: Config, sample: Sample, out: ProcedureOutput) -> Measures:
    """Accuracies, agreement and the cosine of r_n with the predicted direction, per seed, from the
    procedure's tensors alone."""
    # Imported here: theory.direction pulls in scipy.stats and sympy, which a CLI error path should
    # not pay for.
    from theory.direction import predicted_direction, signed_cosine
    from theory.params import TrainingSet

    X, y, f, g, n = sample.X, sample.y, out.f, out.g, sample.X.shape[0]
    # Predicted direction u_n (Theorem 3.3), from the data and the recorded Λ of f: float64 on the
    # CPU; on an accelerator the kernel runs there, in the run's dtype (float32 by default).
    prec = torch.float64 if X.device.type == "cpu" else X.dtype
    u = torch.stack([torch.as_tensor(predicted_direction(TrainingSet(X[i].to(prec), y[i].to(prec), f.lam[i]),
                                                         config.gamma)) for i in range(n)]).to(X)
    # cos(r_n, y^adv_n u_n) keeps the sign (D3); 0 where r_n or u_n vanishes (ε = 0, t = 0).
    cos = torch.as_tensor(np.nan_to_num(np.stack([signed_cosine(out.r[i].double(), out.y_adv[i].double(),
                                                                u[i].double()) for i in range(n)]), nan=0.0))
    with torch.no_grad():
        fX, gX, fZ, gZ = f.net(X), g.net(X), f.net(sample.Z), g.net(sample.Z)
    return Measures(u=u, acc_f_train=_accuracy(fX, y), acc_g_train=_accuracy(gX, y),
                    acc_f_test=_accuracy(fZ, sample.yz), acc_g_test=_accuracy(gZ, sample.yz),
                    agreement=(sign_pm1(fZ) == sign_pm1(gZ)).to(torch.float64).mean(-1).cpu().numpy(),
                    cos_signed=cos.double().mean(-1).cpu().numpy(), cos_abs=cos.double().abs().mean(-1).cpu().numpy())


# ---------------------------------------------------------------- entry points

def run_batch(config: Config, seeds: list[int], *, procedure: Procedure = perturbation_learning,
              predict: bool = True, predict_coverage: str = "inside-l2") -> RunResult:
    """Run ``config`` for every seed as one batched program: load, the procedure, predict, measure.

    ``predict``: each seed's outcome predicted from the data, f, y^adv and ε, without g
    (``predict.predict_outcomes``, THEORY.md P5); False skips it (records then carry null).
    ``predict_coverage``: when the prediction evaluates its C2 coverage (its costly part;
    ``theory.prediction.COVERAGE_MODES``).
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a Config, got {type(config).__name__}")
    seeds = check_seeds(seeds)
    if predict:  # checked before anything trains
        from theory.prediction import COVERAGE_MODES

        check_choice(predict_coverage, "predict_coverage", COVERAGE_MODES)
    if not callable(procedure):
        raise TypeError(f"procedure must be callable (config, sample, streams), got {type(procedure).__name__}")
    streams = [seed_streams(s) for s in seeds]
    sample = load(config, streams)
    out = procedure(config, sample, streams)
    measures = measure(config, sample, out)
    predictions, seconds_predict = (predict_outcomes(config, sample, out.f, out.y_adv, out.eps, streams,
                                                     u=measures.u, coverage=predict_coverage)
                                    if predict else (None, None))
    return RunResult(config=config, seeds=seeds, sample=sample, out=out, measures=measures,
                     procedure=procedure_name(procedure), predictions=predictions, seconds_predict=seconds_predict)


def run_experiment(config: Config, *, predict: bool = True) -> dict:
    """Run one seed (``config.seed``) and return its result dict."""
    return run_batch(config, [config.seed], predict=predict).record(0)


def to_json(result: dict, *, timings: bool = True) -> str:
    """One JSON object; non-finite floats become null. ``timings=False`` nulls the wall-clock
    fields, so two runs of one seed serialise byte-identically."""
    out = json_clean(dict(result))
    if not timings:
        out.update(dict.fromkeys(TIMING_FIELDS))
    return json.dumps(out, sort_keys=True)
