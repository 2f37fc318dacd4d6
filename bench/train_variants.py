"""A fused, buffered training loop, for measurement only: what ``training.train`` could cost.

``fused_train`` computes the same full-batch GD/momentum trajectory as ``training.train`` (loss
curve, Λ, t, divergence checks every ``CHECK_EVERY`` steps, pattern flips at the end), keeps its
one-GEMM-per-network rule on 64-byte-aligned operands (so a network gets the same bits alone and in
a batch), and rearranges the per-step work so that the (…, N, m) activation tensor is touched fewer
times and nothing large is allocated inside the loop:

1. bias folded into the GEMMs: X̃ = [X, 1], W̃ = [W, b]; H = X̃ W̃ᵀ (no ``+ b`` pass, no second N×m
   tensor), and ∂L/∂b is the last column of the gradient GEMM (no ``coef.sum(-2)`` pass);
2. scalings folded out of the N×m tensor: ∂L/∂w̃_k = −a_k Σ_n s_k(x_n) c_n x̃_n, so the gradient GEMM
   is Pᵀ(c ⊙ X̃) on the 0/1 pattern P = 1[H > 0] (one pass over N×(d+1) instead of two over N×m), and
   a_k scales the (m, d+1) result inside the momentum update; for γ > 0, S = γ + (1−γ)P gives
   SᵀY = (1−γ)PᵀY + γ·1ᵀY (a column sum of Y, O(N·d));
3. φ(H) in place (``clamp_``/``leaky_relu_``), the readout as one mv per network on it, then
   ``gt_(0)`` turns it into P in place (φ(h) > 0 ⇔ h > 0 for γ ≥ 0; h = 0 gets slope γ, as in
   ``network.slopes``);
4. every per-step tensor (H, Y, G, f) lives in a buffer allocated once, each network's slice padded
   to a multiple of 16 floats (64-byte aligned, so no per-step ``_aligned`` copies), written with
   ``out=``: no allocator churn (a 38 MB batched H per step otherwise goes through mmap/munmap and
   page faults on every allocation);
5. no ``neg``/``lr * g`` temporaries: ``add_(…, alpha=lr)``.

Passes over the (…, N, m) tensor per step: GEMM write, φ in place, readout read, ``gt_`` in place,
GEMM read (5), against ~10 in ``training.train`` (GEMM write, + b, relu, sign_, two mul_ and a sum
for the readout, two mul_, GEMM read, sum). Results agree with ``training.train`` to float32
rounding, not bit for bit (the sums are ordered differently).
"""

from __future__ import annotations

import math

import torch

from perturbation_learning.network import TwoLayerNet
from perturbation_learning.training import CHECK_EVERY, MAX_WEIGHT, TrainResult, make_loss

_ALIGN_FLOATS = 16  # 64 bytes of float32 (float64: 128 bytes, also aligned)


def aligned_batch(batch: int, shape: tuple, dtype, device) -> torch.Tensor:
    """An uninitialised (batch, *shape) tensor whose per-item slices start on 64-byte boundaries."""
    per = math.prod(shape)
    stride = -(-per // _ALIGN_FLOATS) * _ALIGN_FLOATS
    base = torch.empty(batch * stride, dtype=dtype, device=device)  # fresh storage is 64-byte aligned
    inner = [math.prod(shape[i + 1:]) for i in range(len(shape))]
    return base.as_strided((batch,) + tuple(shape), (stride,) + tuple(inner))


def fused_train(net: TwoLayerNet, X: torch.Tensor, y: torch.Tensor, *, loss="identity", lr: float,
                steps: int, momentum: float = 0.0, max_weight: float = MAX_WEIGHT) -> TrainResult:
    """Same contract as ``training.train`` (inputs assumed valid: no checks, bench use only)."""
    loss_fn = make_loss(loss)
    lr, beta, gamma = float(lr), float(momentum), float(net.gamma)
    dtype, device = net.W.dtype, net.W.device
    X = X.to(dtype=dtype, device=device)
    y = y.to(dtype=dtype, device=device)
    batched = bool(net.batch_shape)
    B = net.batch_shape[0] if batched else 1
    N, d = X.shape[-2], X.shape[-1]
    m = net.W.shape[-2]
    shared_x = X.ndim == 2

    def buf(*shape):
        return aligned_batch(B, shape, dtype, device)

    W, b, a = buf(m, d), buf(m), buf(m)
    W.copy_(net.W.reshape(B, m, d))
    b.copy_(net.b.reshape(B, m))
    a.copy_(net.a.reshape(B, m))
    Xb = aligned_batch(1 if shared_x else B, (N, d), dtype, device)
    Xb.copy_(X.reshape(-1, N, d))
    yb = y.reshape(-1, N).expand(B, N)
    H, Y, G, gb, f, c = buf(N, m), buf(N, d), buf(m, d), buf(m), buf(N), buf(N)
    vW, vb = torch.zeros_like(W), torch.zeros_like(b)                # velocity of −∇ (descent)
    a_col = a.unsqueeze(-1)
    net0 = TwoLayerNet(net.W.clone(), net.b.clone(), net.a, gamma)
    lam = torch.zeros(B, N, dtype=torch.float64, device=device)
    lam_velocity = torch.zeros_like(lam)
    curve = torch.empty(B, steps + 1, dtype=torch.float64, device=device)
    diverged = torch.zeros(B, dtype=torch.bool, device=device)
    t, t_velocity = 0.0, 0.0
    step = 0
    for step in range(steps + 1):
        for i in range(B):
            torch.addmm(b[i], Xb[0 if shared_x else i], W[i].T, out=H[i])  # H = X Wᵀ + b in one call
        R = H.clamp_(min=0) if gamma == 0 else torch.nn.functional.leaky_relu_(H, gamma)
        for i in range(B):
            torch.mv(R[i], a[i], out=f[i])                            # f = φ(H) a
        margin = -yb * f
        curve[:, step] = loss_fn.value(margin).mean(-1).to(torch.float64)
        if step == steps:
            break
        lprime = loss_fn.derivative(margin)
        torch.mul(lprime * yb, 1.0 / N, out=c)                        # c_n = ℓ' y_n / N
        torch.mul(Xb, c.unsqueeze(-1), out=Y)                         # Y = c ⊙ X
        P = R.gt_(0)                                                  # 1[h > 0], in place
        for i in range(B):
            torch.mm(P[i].T, Y[i], out=G[i])                          # Pᵀ (c ⊙ X)
            torch.mv(P[i].T, c[i], out=gb[i])                         # Pᵀ c
        if gamma:
            G.mul_(1.0 - gamma).add_(Y.sum(-2, keepdim=True), alpha=gamma)
            gb.mul_(1.0 - gamma).add_(c.sum(-1, keepdim=True), alpha=gamma)
        if beta:
            vW.mul_(beta).addcmul_(a_col, G)                          # v ← βv − ∇
            vb.mul_(beta).addcmul_(a, gb)
            W.add_(vW, alpha=lr)
            b.add_(vb, alpha=lr)
        else:
            W.addcmul_(a_col, G, value=lr)
            b.addcmul_(a, gb, value=lr)
        t_velocity = beta * t_velocity + 1.0
        t += lr * t_velocity
        lam_velocity.mul_(beta).add_(lprime.to(torch.float64) / N)
        lam.add_(lr * lam_velocity)
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            bad = ~torch.isfinite(curve[:, step]) | (W.abs().amax((-1, -2)) > max_weight) \
                | ~torch.isfinite(W).all(-1).all(-1)
            diverged |= bad
            if bool(diverged.all()):
                curve[:, step + 1:] = float("nan")
                break
    diverged |= ~torch.isfinite(curve[:, min(step, steps)])
    shape = net.batch_shape
    cur = TwoLayerNet(W.contiguous().reshape(shape + (m, d)), b.contiguous().reshape(shape + (m,)), net.a, gamma)
    flips = (net0.preactivations(X) > 0) != (cur.preactivations(X) > 0)
    flip_fraction = flips.to(torch.float64).mean((-1, -2))
    if not batched:
        lam, curve, diverged = lam[0], curve[0], diverged[0]
    return TrainResult(net=cur, net0=net0, t=t, lam=lam, loss_curve=curve.cpu().numpy(),
                       flip_fraction=flip_fraction.cpu().numpy(), diverged=diverged.cpu().numpy(),
                       steps_run=step)
