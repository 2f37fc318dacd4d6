"""The run's prediction of its own outcome, from everything but g (THEORY.md P5).

``predict_outcomes(config, sample, f, y_adv, eps, streams)`` evaluates ``theory.prediction.predict_outcome``
for every seed of a batch. Its arguments are the data, the trained f (its Λ and its sign on the
fresh inputs), the drawn targets, ε and the config: g is not among them, so the prediction is the
one that could have been made before g was trained, whichever procedure trained it. Λ' of g is the
value the config's training of g will integrate (``theory.prediction.predicted_loss_weights``:
exact for the identity loss, ℓ'(0)·t'/N for the logistic loss).

A seed whose f diverged gets no prediction (None): its Λ is not finite.
"""

from __future__ import annotations

import time

import torch

from .config import Config
from .training import TrainResult


def predict_outcomes(config: Config, sample, f: TrainResult, y_adv: torch.Tensor, eps: float,
                     streams: list[dict], *, u: torch.Tensor | None = None,
                     coverage: str = "inside-l2") -> tuple[list, float]:
    """Each seed's ``theory.prediction.Prediction`` (None where f diverged) and the seconds it took.

    ``sample`` holds X, y, Z stacked over seeds; ``streams[i]["predict"]`` seeds the Monte Carlo of
    the C2 coverage (evaluated only inside L2, see ``theory.prediction.predict_outcome``). ``u``:
    the predicted directions u_n (B, N, d) if the run has them already (``run.measure``), else
    computed here. ``coverage``: when to evaluate the C2 coverage (``theory.prediction.COVERAGE_MODES``).
    """
    # Imported here: theory.prediction pulls in scipy and sympy, which a CLI error path should not pay
    # for. Imported before the clock starts: seconds_predict is the prediction's own cost.
    from theory.direction import predicted_direction
    from theory.params import Perturbation, TrainingSet
    from theory.prediction import (LOSS_WEIGHT_RULES, integrated_time, predict_outcome,
                                   predicted_loss_weights)

    t0 = time.perf_counter()
    t_g = integrated_time(config.lr_g or config.lr, config.epochs_g, config.momentum)
    with torch.no_grad():
        f_Z = f.net(sample.Z)
    out = []
    for i, st in enumerate(streams):
        if f.diverged[i]:
            out.append(None)
            continue
        train = TrainingSet(sample.X[i].double(), sample.y[i].double(), f.lam[i]).on_cpu()
        lam_g = predicted_loss_weights(config.loss, t_g, train.n)
        u_i = predicted_direction(train, config.gamma) if u is None else u[i].double()
        pert = Perturbation.predicted(train, config.scenario, y_adv[i].double(), u_i, lam_g, eps)
        out.append(predict_outcome(pert, config.gamma, sample.Z[i].double(), f_Z[i].double(), width=config.width,
                                   generator=st["predict"], lam_g_rule=LOSS_WEIGHT_RULES[config.loss],
                                   coverage=coverage))
    return out, time.perf_counter() - t0


def predicted_columns(record: dict) -> dict:
    """``agreement_predicted`` and ``acc_g_train_predicted`` of a run's result dict (None where the run
    has no prediction), for tables that put them next to the observed columns."""
    pred = record.get("prediction")
    return {"agreement_predicted": None if pred is None else pred["agreement"],
            "acc_g_train_predicted": None if pred is None else pred["acc_g_train"]}
