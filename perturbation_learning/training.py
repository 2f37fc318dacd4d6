"""Full-batch gradient descent on L = (1/N) Σ_n ℓ(−y_n f(x_n)), readout fixed (THEORY.md §1).

Gradient descent with step η (and optional heavy-ball momentum β) discretizes gradient flow. The
trainer records what the theory needs:

- ``t``: the integrated time. With momentum, gradient j moves the weights by η(1 − β^{T−j})/(1 − β)
  in total, so t = Σ_j η(1 − β^{T−j})/(1 − β) (≈ ηT/(1 − β)); with β = 0, t = ηT.
- ``lam``: Λ_n = Σ_j η(1 − β^{T−j})/(1 − β) · ℓ'(−y_n f_j(x_n)) / N, accumulated along the actual
  trajectory with the same weights, so W_T − W_0 = Σ_n Λ_n y_n a ⊙ s(x_n) x_n holds exactly whenever
  the patterns do not move (L1). For the identity loss Λ_n = t/N.
- the loss curve, the per-sample losses ℓ(−y_n f_j(x_n)) before each step and after the last (from
  which Λ follows, THEORY.md R4), the initial network, and the fraction of activation patterns on
  the training inputs that flipped.

Divergence (a non-finite loss or weights beyond ``max_weight``) marks the network invalid; it is
never silently counted as a result.

Same seed, same bits (CPU): one network gets the same numbers alone and in a batch, and from run to
run. Its BLAS calls run one network at a time on operands that start on 64-byte boundaries (see
``network.matmul_per_network`` for why MKL needs both), every batch-wide operation is elementwise,
and ℓ, ℓ' run row by row (``_per_network``). Where MKL splits a sum across threads (a gradient
GEMM whose sum over N is long against its (d+1) × m output, e.g. N = 1000, m = d = 100), the bits
depend on the torch thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from theory.tolerances import MAX_WEIGHT

from .network import TwoLayerNet, stack_networks
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
    sample_losses: torch.Tensor | None = None  # (…, steps + 1, N) in the training dtype; None: not recorded

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


def _aligned_batch(batch: int, shape: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialised (batch, *shape) tensor whose per-network slices start on 64-byte boundaries
    (each slice padded to a multiple of 64 bytes; fresh storage is 64-byte aligned)."""
    per = math.prod(shape)
    align = max(1, 64 // dtype.itemsize)
    stride = -(-per // align) * align
    base = torch.empty(batch * stride, dtype=dtype, device=device)
    inner = [math.prod(shape[i + 1:]) for i in range(len(shape))]
    return base.as_strided((batch,) + tuple(shape), (stride,) + tuple(inner))


def gradient_descent(net: TwoLayerNet, X: torch.Tensor, y: torch.Tensor, *, loss: Loss, lr: float, steps: int,
                     momentum: float, max_weight: float = MAX_WEIGHT) -> TrainResult:
    """``train`` on checked arguments (the procedure's inner step).

    Per step and network: three BLAS calls, and four elementwise passes over the (N, m) activations
    besides the two GEMMs (φ in place, ⊙ a, the readout's row sums, the pattern in place):

    - the bias rides in the GEMMs: X̃ = [X, 1], W̃ = [W, b], H = X̃ W̃ᵀ, and one gradient GEMM gives
      ∂L/∂w_k and ∂L/∂b_k together. W̃ is stored transposed, (d+1, m), so that the gradient GEMM
      YᵀP reads the (N, m) pattern untransposed;
    - the scalings stay out of the (N, m) tensor: −∂L/∂w̃_k = a_k Σ_n s_k(x_n) c_n x̃_n with
      c_n = ℓ'(−y_n f(x_n)) y_n / N, so the gradient GEMM multiplies Y = c ⊙ X̃ (N × (d+1); constant
      for the identity loss) with the 0/1 pattern P = 1[h > 0]; s = γ + (1 − γ)P adds γ Σ_n Y_n,
      and η a_k scales the (d+1, m) result. As a is constant, the heavy-ball velocity is a ⊙ V with
      V ← βV + SᵀY;
    - the readout is an elementwise product and a row sum, not a matrix-vector product: MKL's gemv
      splits its sums by thread count (measured), the row sums do not;
    - every per-step tensor lives in a buffer allocated once (``_aligned_batch``), written in place.
    """
    beta = momentum
    gamma = float(net.gamma)  # the loop's φ and φ'; the networks returned keep net.gamma
    dtype, device = net.W.dtype, net.W.device
    X = X.to(dtype=dtype, device=device)
    y = y.to(dtype=dtype, device=device)
    batch_shape = net.batch_shape
    B = batch_shape[0] if batch_shape else 1
    N, d, m = X.shape[-2], net.dim, net.width

    def buf(*shape):
        return _aligned_batch(B, shape, dtype, device)

    WT, a = buf(d + 1, m), buf(m)                                 # W̃ᵀ = [W, b]ᵀ
    WT[:, :d] = net.W.reshape(B, m, d).transpose(-1, -2)
    WT[:, d] = net.b.reshape(B, m)
    a.copy_(net.a.reshape(B, m))
    sign_a = a.sign()
    shared_x = X.ndim == 2
    Xt = _aligned_batch(1 if shared_x else B, (N, d + 1), dtype, device)   # X̃ = [X, 1]
    Xt[..., :d] = X.reshape(-1, N, d)
    Xt[..., d] = 1.0
    yb = y.reshape(-1, N).expand(B, N)
    H, Y, G, V, f = buf(N, m), buf(N, d + 1), buf(d + 1, m), buf(d + 1, m), buf(N)
    V.zero_()
    step_scale = (lr * a).unsqueeze(-2)                           # η a_k, (B, 1, m)
    constant_lprime = loss is LOSSES["identity"]
    if constant_lprime:
        lprime = torch.ones(B, N, dtype=dtype, device=device)
        torch.mul(Xt, (yb / N).unsqueeze(-1), out=Y)
    # Per-network views, made once: the BLAS calls and the large elementwise passes run one network
    # at a time (its (N, m) slice stays in cache between them).
    views = [(Xt[0 if shared_x else i], WT[i], H[i], a[i], sign_a[i], f[i], Y[i].T, G[i]) for i in range(B)]
    net0 = TwoLayerNet(net.W.clone(), net.b.clone(), net.a, net.gamma)
    lam = torch.zeros(B, N, dtype=torch.float64, device=device)
    lam_velocity = torch.zeros_like(lam)
    curve = torch.empty(B, steps + 1, dtype=torch.float64, device=device)
    sample_losses = torch.empty(B, steps + 1, N, dtype=dtype, device=device)
    diverged = torch.zeros(B, dtype=torch.bool, device=device)
    t, t_velocity = 0.0, 0.0
    step = 0
    for step in range(steps + 1):
        for Xi, WTi, Hi, ai, _, fi, _, _ in views:
            torch.mm(Xi, WTi, out=Hi)                             # H = X̃ W̃ᵀ = X Wᵀ + b
            Hi.clamp_(min=0) if gamma == 0 else torch.nn.functional.leaky_relu_(Hi, gamma)
            torch.sum(Hi.mul_(ai), -1, out=fi)                    # f = φ(H) a; H now holds a ⊙ φ(H)
        margin = -yb * f
        losses = _per_network(loss.value, margin, loss)
        curve[:, step] = losses.mean(-1).to(torch.float64)
        sample_losses[:, step] = losses
        if step == steps:
            break
        if not constant_lprime:
            lprime = _per_network(loss.derivative, margin, loss)
            torch.mul(Xt, (lprime * yb / N).unsqueeze(-1), out=Y)   # Y = c ⊙ X̃
        for _, _, Hi, _, sign_ai, _, YTi, Gi in views:
            # P = 1[h > 0] in place: a_k φ(h) ≠ 0 for γ = 0, sign(a_k) a_k φ(h) > 0 for γ > 0. A
            # neuron with a_k = 0 gets P = 0; its step η a_k V_k is 0 either way.
            P = Hi.ne_(0) if gamma == 0 else Hi.mul_(sign_ai).gt_(0)
            torch.mm(YTi, P, out=Gi)                              # G = (PᵀY)ᵀ, (d+1, m)
        if gamma:
            G.mul_(1.0 - gamma).add_(Y.sum(-2).unsqueeze(-1), alpha=gamma)   # SᵀY = (1 − γ)PᵀY + γ 1ᵀY
        if beta:
            torch.add(G, V, alpha=beta, out=V)                    # V ← βV + SᵀY
        WT.addcmul_(V if beta else G, step_scale)                 # W̃_k ← W̃_k + η a_k V_k
        # Accumulate t and Λ with the weights each gradient receives in the displacement.
        t_velocity = beta * t_velocity + 1.0
        t += lr * t_velocity
        lam_velocity.mul_(beta).add_(lprime.to(torch.float64) / N)
        lam.add_(lr * lam_velocity)
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            W = WT[:, :d]
            bad = ~torch.isfinite(curve[:, step]) | (W.abs().amax((-1, -2)) > max_weight) \
                | ~torch.isfinite(W).all(-1).all(-1)
            diverged |= bad
            if bool(diverged.all()):
                curve[:, step + 1:] = float("nan")
                sample_losses[:, step + 1:] = float("nan")
                break
    diverged |= ~torch.isfinite(curve[:, min(step, steps)])
    cur = TwoLayerNet(WT[:, :d].transpose(-1, -2).reshape(batch_shape + (m, d)).contiguous(),
                      WT[:, d].reshape(batch_shape + (m,)).contiguous(), net.a, net.gamma)
    flips = (net0.preactivations(X) > 0) != (cur.preactivations(X) > 0)
    flip_fraction = flips.to(torch.float64).mean((-1, -2))
    if not batch_shape:
        lam, curve, diverged, sample_losses = lam[0], curve[0], diverged[0], sample_losses[0]
    return TrainResult(net=cur, net0=net0, t=t, lam=lam, loss_curve=curve.cpu().numpy(),
                       flip_fraction=flip_fraction.cpu().numpy(), diverged=diverged.cpu().numpy(),
                       steps_run=step, sample_losses=sample_losses.cpu())


#: Largest batch tensor (networks × N × m elements) trained in one program. A batch shares the
#: per-step small operations (loss, Λ, the update) across its networks, while its (B, N, m)
#: activations should stay in cache. benchmarks/results/results.md, section (e), 1 thread, 12 pairs:
#: chunks of 2^19 floats (2 MiB) run 1.02–1.23x faster than networks one at a time and 0.97–1.24x
#: faster than one unchunked batch, at the four check-suite sizes there.
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
                       steps_run=max(p.steps_run for p in parts),
                       sample_losses=torch.cat([p.sample_losses for p in parts]))
