"""(e) Training time per network pair at the check-suite sizes: ``training.train`` against a baseline loop.

A pair is what a check trains per seed: f on (X, y) and g on (X + r, y_adv), same size and settings.
Each case trains the ``pairs`` f networks and then the ``pairs`` g networks the way the procedure does
(stacked, in chunks of at most ``training.MAX_BATCH_ELEMENTS`` activations), with

- ``baseline``: ``baseline_gradient_descent`` below, the direct transcription of the update (bias added
  after the GEMM, the slopes S as a tensor, the coefficients c_n a_k s_k formed in the (N, m) tensor,
  one ``network.matmul_per_network`` per product, fresh tensors every step): the training loop of
  ``perturbation_learning.training`` up to commit d02a90c;
- ``train``: ``training.gradient_descent``, the loop ``training.train`` runs;
- ``train_sequential`` / ``train_one_batch`` (identity-loss rows): the same networks one at a time,
  or all in one batch, for the chunk size.

Sides run interleaved in one process (round r: every case once), one torch thread; times are per
pair (f + g), the speed-up is the median of the per-round ratios baseline / train. The ``agreement``
table trains each setting once more with both loops in float32 and in float64 and reports the
largest difference relative to the quantity's largest magnitude (W, b, Λ, the loss curve; flip
fractions absolute), and whether ``train`` gives a network the same bits alone and in the batch.

    python benchmarks/train_pairs.py [--quick]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from perturbation_learning.network import TwoLayerNet, init_network, matmul_per_network
from perturbation_learning.training import (CHECK_EVERY, MAX_BATCH_ELEMENTS, TrainResult, _per_network,
                                            gradient_descent, make_loss)

from common import interleaved_timings, log, markdown_table, paired_ratio, pinned_threads

PAIRS = 12  # pairs per example in the ci Hypothesis profile (checks/strategies.py PROFILE_LIMITS)

#: (d, N, m, steps): the largest lazy-strategy size of the ci profile, two smaller ci sizes, and the
#: shifted-gauss-a preset's size (its paper-recipe runs take 300+ steps; per-step cost is stationary).
SIZES = {
    "ci-d100-N200-m3000": dict(d=100, N=200, m=3000, steps=20),
    "ci-d40-N100-m1000": dict(d=40, N=100, m=1000, steps=40),
    "ci-d20-N100-m400": dict(d=20, N=100, m=400, steps=100),
    "shifted-gauss-a": dict(d=100, N=1000, m=100, steps=100),
}
#: The two branches of the loop: identity loss, γ = 0 with momentum (the checks' common case), and
#: logistic loss, γ > 0 without momentum.
SETTINGS = {
    "identity-g0-mom0.9": dict(loss="identity", gamma=0.0, momentum=0.9, lr=0.05),
    "logistic-g0.3-mom0": dict(loss="logistic", gamma=0.3, momentum=0.0, lr=0.05),
}


def baseline_gradient_descent(net: TwoLayerNet, X: torch.Tensor, y: torch.Tensor, *, loss, lr: float,
                              steps: int, momentum: float, max_weight: float = 1e6) -> TrainResult:
    """The baseline: same contract as ``training.gradient_descent``, one tensor op per formula."""
    loss_fn, beta = loss, momentum
    W, b, a = net.W.clone(), net.b.clone(), net.a
    dtype, device = W.dtype, W.device
    X = X.to(dtype=dtype, device=device)
    y = y.to(dtype=dtype, device=device)
    N = X.shape[-2]
    batch_shape = net.batch_shape
    net0 = TwoLayerNet(W.clone(), b.clone(), a, net.gamma)
    out_shape = torch.broadcast_shapes(batch_shape + (N,), y.shape)
    lam = torch.zeros(out_shape, dtype=torch.float64, device=device)
    lam_velocity = torch.zeros_like(lam)
    vW, vb = torch.zeros_like(W), torch.zeros_like(b)
    curve = torch.empty(out_shape[:-1] + (steps + 1,), dtype=torch.float64, device=device)
    diverged = torch.zeros(out_shape[:-1], dtype=torch.bool, device=device)
    t, t_velocity = 0.0, 0.0
    cur = TwoLayerNet(W, b, a, net.gamma)
    step = 0
    for step in range(steps + 1):
        H = matmul_per_network(X, W.transpose(-1, -2)).add_(b.unsqueeze(-2))
        S = cur.slopes(H)
        f = H.mul_(S).mul_(a.unsqueeze(-2)).sum(-1)
        margin = -y * f
        curve[..., step] = _per_network(loss_fn.value, margin, loss_fn).mean(-1).to(torch.float64)
        if step == steps:
            break
        lprime = _per_network(loss_fn.derivative, margin, loss_fn)
        coef = S.mul_((lprime * y / N).unsqueeze(-1)).mul_(a.unsqueeze(-2))
        gW = -matmul_per_network(coef.transpose(-1, -2), X)
        gb = -coef.sum(-2)
        if beta:
            vW.mul_(beta).add_(gW)
            vb.mul_(beta).add_(gb)
            gW, gb = vW, vb
        W.sub_(lr * gW)
        b.sub_(lr * gb)
        t_velocity = beta * t_velocity + 1.0
        t += lr * t_velocity
        lam_velocity.mul_(beta).add_(lprime.to(torch.float64) / N)
        lam.add_(lr * lam_velocity)
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            bad = ~torch.isfinite(curve[..., step]) | (W.abs().amax((-1, -2)) > max_weight) \
                | ~torch.isfinite(W).all(-1).all(-1)
            diverged |= bad
            if bool(diverged.all()):
                curve[..., step + 1:] = float("nan")
                break
    diverged |= ~torch.isfinite(curve[..., min(step, steps)])
    flips = (net0.preactivations(X) > 0) != (cur.preactivations(X) > 0)
    return TrainResult(net=cur, net0=net0, t=t, lam=lam, loss_curve=curve.cpu().numpy(),
                       flip_fraction=flips.to(torch.float64).mean((-1, -2)).cpu().numpy(),
                       diverged=diverged.cpu().numpy(), steps_run=step)


def pair_problem(d, N, m, gamma, pairs=PAIRS, seed=0, dtype="float32"):
    """f and g networks (``pairs`` each) with their data: f on shifted-Gauss-like (X, y), g on
    X + small noise with random ±1 targets, as the attack step would hand it over."""
    g = torch.Generator().manual_seed(seed)
    tdtype = getattr(torch, dtype)
    nets = [init_network(d, m, gamma, generator=g, batch=pairs, dtype=dtype) for _ in range(2)]
    y = torch.where(torch.rand(pairs, N, generator=g) < 0.5, -1.0, 1.0)
    X = torch.randn(pairs, N, d, generator=g) + 0.3 * y.unsqueeze(-1)
    y_adv = torch.where(torch.rand(pairs, N, generator=g) < 0.5, -1.0, 1.0)
    X_adv = X + 0.1 * torch.randn(pairs, N, d, generator=g)
    return [(nets[0], X.to(tdtype), y.to(tdtype)), (nets[1], X_adv.to(tdtype), y_adv.to(tdtype))]


def train_pairs(loop, problem, chunk_elements=MAX_BATCH_ELEMENTS, **kw):
    """Train f then g of every pair with ``loop``, in chunks of at most ``chunk_elements`` (as
    ``training.train_in_chunks`` does); returns the TrainResults."""
    out = []
    for net, X, y in problem:
        B, N, m = net.W.shape[0], X.shape[-2], net.width
        size = max(1, chunk_elements // (N * m))
        out += [loop(net[i:i + size], X[i:i + size], y[i:i + size], **kw) for i in range(0, B, size)]
    return out


def _rel(new: torch.Tensor, old: torch.Tensor) -> float:
    new, old = torch.as_tensor(new).double(), torch.as_tensor(old).double()
    return float((new - old).abs().max() / old.abs().max().clamp_min(1e-300))


def agreement(size: dict, setting: dict, pairs: int) -> dict:
    """Both loops on the same pairs (float32 and float64); ``train`` alone vs in the batch."""
    row = {}
    kw = dict(loss=make_loss(setting["loss"]), lr=setting["lr"], steps=size["steps"], momentum=setting["momentum"])
    for dtype in ("float32", "float64"):
        net, X, y = pair_problem(size["d"], size["N"], size["m"], setting["gamma"], pairs, dtype=dtype)[0]
        new, old = gradient_descent(net, X, y, **kw), baseline_gradient_descent(net, X, y, **kw)
        row[f"{dtype}_rel_W"] = _rel(new.net.W, old.net.W)
        row[f"{dtype}_rel_b"] = _rel(new.net.b, old.net.b)
        row[f"{dtype}_rel_lam"] = _rel(new.lam, old.lam)
        row[f"{dtype}_rel_loss_curve"] = _rel(torch.from_numpy(new.loss_curve), torch.from_numpy(old.loss_curve))
        row[f"{dtype}_abs_flip_fraction"] = float(np.abs(new.flip_fraction - old.flip_fraction).max())
        row[f"{dtype}_same_t"] = new.t == old.t
        if dtype == "float32":
            alone = gradient_descent(net[pairs - 1:], X[pairs - 1:], y[pairs - 1:], **kw)
            row["alone_equals_batch_bitwise"] = bool(
                torch.equal(alone.net.W[0], new.net.W[-1]) and torch.equal(alone.net.b[0], new.net.b[-1])
                and torch.equal(alone.lam[0], new.lam[-1]) and np.array_equal(alone.loss_curve[0], new.loss_curve[-1]))
    return row


def run(*, quick: bool = False, repeats: int | None = None, pairs: int = PAIRS, sizes: dict | None = None) -> dict:
    sizes = sizes or SIZES
    repeats = repeats or (2 if quick else 5)
    rows, agree = [], []
    load_start = list(os.getloadavg())
    with pinned_threads(1):
        for size_name, size in sizes.items():
            steps = max(2, size["steps"] // 4) if quick else size["steps"]
            for set_name, setting in SETTINGS.items():
                problem = pair_problem(size["d"], size["N"], size["m"], setting["gamma"], pairs)
                kw = dict(loss=make_loss(setting["loss"]), lr=setting["lr"], steps=steps, momentum=setting["momentum"])
                cases = {"baseline": lambda: train_pairs(baseline_gradient_descent, problem, **kw),
                         "train": lambda: train_pairs(gradient_descent, problem, **kw)}
                if setting["loss"] == "identity":
                    cases["train_sequential"] = lambda: train_pairs(gradient_descent, problem, 1, **kw)
                    cases["train_one_batch"] = lambda: train_pairs(gradient_descent, problem, 2**62, **kw)
                log(f"pairs: {size_name} {set_name}")
                tm = interleaved_timings(cases, repeats=repeats, warmup=1)
                row = {"size": size_name, "setting": set_name, **{k: size[k] for k in ("d", "N", "m")}, "steps": steps}
                for name, timing in tm.items():
                    row[f"{name}_ms_per_pair"] = timing.median / pairs * 1e3
                row["speedup"] = paired_ratio(tm["baseline"], tm["train"])
                row["speedup_min"] = min(a / b for a, b in zip(tm["baseline"].samples, tm["train"].samples))
                row["speedup_max"] = max(a / b for a, b in zip(tm["baseline"].samples, tm["train"].samples))
                if "train_sequential" in tm:
                    row["chunked_vs_sequential"] = paired_ratio(tm["train_sequential"], tm["train"])
                    row["chunked_vs_one_batch"] = paired_ratio(tm["train_one_batch"], tm["train"])
                rows.append(row)
                agree.append({"size": size_name, "setting": set_name,
                              **agreement(dict(size, steps=steps), setting, min(pairs, 3))})
    return {"setting": {"pairs": pairs, "repeats": repeats, "threads": 1, "quick": quick,
                        "max_batch_elements": MAX_BATCH_ELEMENTS, "load_average_start": load_start,
                        "load_average_end": list(os.getloadavg())},
            "rows": rows, "agreement": agree,
            "speedup_range": [min(r["speedup"] for r in rows), max(r["speedup"] for r in rows)]}


def markdown(res: dict) -> str:
    s = res["setting"]
    lo, hi = res["speedup_range"]
    cols = ["size", "setting", "steps", "baseline_ms_per_pair", "train_ms_per_pair", "speedup", "speedup_min",
            "speedup_max", "train_sequential_ms_per_pair", "train_one_batch_ms_per_pair", "chunked_vs_sequential",
            "chunked_vs_one_batch"]
    acols = ["size", "setting", "float32_rel_W", "float32_rel_b", "float32_rel_lam", "float32_rel_loss_curve",
             "float32_abs_flip_fraction", "float64_rel_W", "float64_rel_lam", "float64_rel_loss_curve",
             "float64_same_t", "alone_equals_batch_bitwise"]
    return "\n".join([
        "### (e) training time per pair: `training.train` vs the baseline loop",
        f"{s['pairs']} pairs (f and g) per case, chunks of at most {s['max_batch_elements']} activations, "
        f"{s['threads']} thread, median of {s['repeats']} interleaved rounds; speed-up = median of per-round "
        f"ratios baseline / train: {lo:.2f}–{hi:.2f}x; load average {s['load_average_start']} at start, "
        f"{s['load_average_end']} at end.", "",
        markdown_table(res["rows"], cols), "",
        "Agreement of the two loops (3 pairs' f networks, same steps): largest difference relative to the "
        "largest magnitude; `alone_equals_batch_bitwise`: the last network trained alone by `train` has the "
        "bits it has in the batch.", "",
        markdown_table(res["agreement"], acols), ""])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2 rounds, a quarter of the steps")
    args = p.parse_args(argv)
    print(markdown(run(quick=args.quick)))


if __name__ == "__main__":
    main()
