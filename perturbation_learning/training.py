"""Full-batch gradient descent on L = (1/N) Σ_n ℓ(−y_n f(x_n)), readout fixed (THEORY.md §1).

Gradient descent with step η (and optional heavy-ball momentum β) discretizes gradient flow. The
trainer records what the theory needs:

- ``t``: the integrated time. With momentum, gradient j moves the weights by η(1 − β^{T−j})/(1 − β)
  in total, so t = Σ_j η(1 − β^{T−j})/(1 − β) (≈ ηT/(1 − β)); with β = 0, t = ηT.
- ``lam``: Λ_n = Σ_j η(1 − β^{T−j})/(1 − β) · ℓ'(−y_n f_j(x_n)) / N, accumulated along the actual
  trajectory with the same weights, so W_T − W_0 = Σ_n Λ_n y_n a ⊙ s(x_n) x_n holds exactly whenever
  the patterns do not move (L1). For the identity loss Λ_n = t/N.
- the loss curve, the initial network, and the fraction of activation patterns on the training
  inputs that flipped.

Divergence (a non-finite loss or weights beyond ``max_weight``) marks the network invalid; it is
never silently counted as a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .network import TwoLayerNet, matmul_per_network, stack_networks
from .validation import check_lr, check_momentum, check_scalar, check_steps, check_training_set


@dataclass(frozen=True)
class Loss:
    """A differentiable non-decreasing ℓ with its derivative ℓ' (≥ 0)."""

    name: str
    value: Callable[[torch.Tensor], torch.Tensor]
    derivative: Callable[[torch.Tensor], torch.Tensor]


def _autograd_derivative(fn):
    def derivative(s: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            s = s.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(fn(s).sum(), s)
        return g.detach()
    return derivative


LOSSES = {
    "identity": Loss("identity", lambda s: s, torch.ones_like),
    "logistic": Loss("logistic", torch.nn.functional.softplus, torch.sigmoid),
}


def make_loss(loss) -> Loss:
    """A name in LOSSES, a Loss, or any callable ℓ (its derivative is taken by autograd)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss == {loss!r}, must be one of {sorted(LOSSES)} or a callable")
        return LOSSES[loss]
    if callable(loss):
        name = getattr(loss, "__name__", "custom")
        return Loss(name, loss, _autograd_derivative(loss))
    raise TypeError(f"loss must be a name, a Loss or a callable, got {type(loss).__name__}")


@dataclass
class TrainResult:
    net: TwoLayerNet          # trained network (batched like the input)
    net0: TwoLayerNet         # initial parameters, for f_0 and laziness diagnostics
    t: float                  # integrated gradient-flow time
    lam: torch.Tensor         # Λ_n, shape (…, N), float64
    loss_curve: np.ndarray    # (…, steps + 1): loss before each step and after the last
    flip_fraction: np.ndarray  # (…,) share of (n, k) activation patterns that flipped
    diverged: np.ndarray      # (…,) bool: non-finite loss or exploding weights
    steps_run: int = 0
    info: dict = field(default_factory=dict)

    @property
    def valid(self) -> np.ndarray:
        return ~self.diverged


def _per_network(fn: Callable, s: torch.Tensor, loss: Loss) -> torch.Tensor:
    """fn(s) for ℓ or ℓ', one network (row of s) at a time.

    Vectorised exp/log (softplus, sigmoid) round differently in the SIMD body and in the scalar
    tail of a buffer, so an element's bits would depend on where its network sits in a batch
    (measured); row by row, every network sees the positions of its single run. The identity loss
    computes nothing and needs no loop.
    """
    if s.ndim < 2 or loss is LOSSES["identity"]:
        return fn(s)
    rows = s.reshape(-1, s.shape[-1])
    return torch.stack([fn(row) for row in rows]).view(s.shape)


MAX_WEIGHT = 1e6  # |W| beyond this counts as divergence; lazy/rich runs of the presets stay below 1e2.
CHECK_EVERY = 50  # steps between divergence checks (each forces a host sync)


def train(net: TwoLayerNet, X: torch.Tensor, y: torch.Tensor, *, loss="identity", lr: float,
          steps: int, momentum: float = 0.0, max_weight: float = MAX_WEIGHT) -> TrainResult:
    """Train W and b of ``net`` (readout fixed) by full-batch GD for ``steps`` steps.

    ``X`` is (N, d) or (B, N, d); ``y`` is (N,) or (B, N) with entries ±1. A batched ``net``
    trains all its networks at once; each network's arithmetic is independent of the others.
    """
    if not isinstance(net, TwoLayerNet):
        raise TypeError(f"net must be a TwoLayerNet (see init_network), got {type(net).__name__}")
    check_training_set(X, y, net.dim, net.batch_shape)
    return gradient_descent(net, X, y, loss=make_loss(loss), lr=check_lr(lr), steps=check_steps(steps),
                            momentum=check_momentum(momentum),
                            max_weight=float(check_scalar(max_weight, "max_weight", min_val=0.0,
                                                          include_boundaries="neither")))


def gradient_descent(net: TwoLayerNet, X: torch.Tensor, y: torch.Tensor, *, loss: Loss, lr: float, steps: int,
                     momentum: float, max_weight: float = MAX_WEIGHT) -> TrainResult:
    """``train`` on checked arguments (the procedure's inner step)."""
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
        H = matmul_per_network(X, W.transpose(-1, -2)).add_(b.unsqueeze(-2))  # in place: one N×m pass less
        S = cur.slopes(H)
        f = H.mul_(S).mul_(a.unsqueeze(-2)).sum(-1)  # theory.model.readout(leaky_relu(H)), in place
        margin = -y * f
        curve[..., step] = _per_network(loss_fn.value, margin, loss_fn).mean(-1).to(torch.float64)
        if step == steps:
            break
        # c_n = ℓ'(−y_n f(x_n)) y_n / N; ∂L/∂w_k = −a_k Σ_n c_n s_k(x_n) x_n.
        lprime = _per_network(loss_fn.derivative, margin, loss_fn)
        coef = S.mul_((lprime * y / N).unsqueeze(-1)).mul_(a.unsqueeze(-2))  # (…, N, m), reuses S
        gW = -matmul_per_network(coef.transpose(-1, -2), X)                 # (…, m, d)
        gb = -coef.sum(-2)
        if beta:
            vW.mul_(beta).add_(gW)
            vb.mul_(beta).add_(gb)
            gW, gb = vW, vb
        W.sub_(lr * gW)
        b.sub_(lr * gb)
        # Accumulate t and Λ with the weights each gradient receives in the displacement.
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
    flip_fraction = flips.to(torch.float64).mean((-1, -2))
    return TrainResult(net=cur, net0=net0, t=t, lam=lam, loss_curve=curve.cpu().numpy(),
                       flip_fraction=flip_fraction.cpu().numpy(), diverged=diverged.cpu().numpy(),
                       steps_run=step)


#: Largest batch tensor (networks × N × m elements) trained in one program. A batch trains faster
#: than its networks one by one while its (B, N, m) intermediates stay in the cache, and slower once
#: they leave it; 2^19 floats (2 MiB) keeps one chunk cache-resident. benchmarks/results/results.md,
#: section (c), 1 thread: chunks run 1.19x (shifted-gauss-a), 1.48x (d=20, m=400) and 1.0x
#: (d=100, m=3000) faster than sequential runs; one unchunked batch 0.94x, 1.55x and 0.49x.
MAX_BATCH_ELEMENTS = 2**19


def train_in_chunks(net: TwoLayerNet, X: torch.Tensor, y: torch.Tensor, **kw) -> TrainResult:
    """``gradient_descent`` on a batch split into chunks of at most MAX_BATCH_ELEMENTS; each
    network's numbers are the same as in one program (no arithmetic mixes networks)."""
    B, N, m = net.W.shape[0], X.shape[-2], net.W.shape[-2]
    size = max(1, MAX_BATCH_ELEMENTS // (N * m))
    if B <= size:
        return gradient_descent(net, X, y, **kw)
    parts = [gradient_descent(net[i:i + size], X[i:i + size], y[i:i + size], **kw) for i in range(0, B, size)]

    def cat_nets(nets):
        return stack_networks([n[j] for n in nets for j in range(n.W.shape[0])])

    return TrainResult(net=cat_nets([p.net for p in parts]), net0=cat_nets([p.net0 for p in parts]),
                       t=parts[0].t, lam=torch.cat([p.lam for p in parts]),
                       loss_curve=np.concatenate([p.loss_curve for p in parts]),
                       flip_fraction=np.concatenate([p.flip_fraction for p in parts]),
                       diverged=np.concatenate([p.diverged for p in parts]),
                       steps_run=max(p.steps_run for p in parts))
