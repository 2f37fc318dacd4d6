"""A fused training loop, for measurement only: what ``training.train`` could cost with fewer passes.

``fused_train`` computes the same full-batch GD/momentum trajectory as ``training.train`` (same loss
curve, Λ, t, divergence checks every ``CHECK_EVERY`` steps, pattern flips at the end), with the
per-step work rearranged so that the (…, N, m) activation tensor is touched fewer times:

1. bias folded into the GEMMs: X̃ = [X, 1], W̃ = [W, b]; H = X̃ W̃ᵀ (no separate ``+ b`` pass, no
   second N×m allocation), and ∂/∂b comes out of the gradient GEMM as its last column (no
   ``coef.sum(-2)`` pass);
2. the scalings folded out of the N×m tensor: ∂L/∂w̃_k = −a_k Σ_n s_k(x_n) c_n x̃_n, so the gradient
   GEMM is Pᵀ (c ⊙ X̃) on the 0/1 pattern P = 1[H > 0] (a pass over N×(d+1), not two over N×m), and
   a_k multiplies the (m, d+1) result inside the momentum update (``addcmul_``); for γ > 0,
   S = γ + (1−γ)P gives Sᵀ Y = (1−γ) Pᵀ Y + γ 1ᵀY (a column sum of Y, O(N·d));
3. φ(H) in place (``clamp_``/``leaky_relu_``) feeds the readout, then ``gt_(0)`` turns it into P in
   place (φ(h) > 0 ⇔ h > 0 for γ ≥ 0, and h = 0 gives slope γ as in ``network.slopes``);
4. no ``neg``/``lr * g`` temporaries: ``add_(…, alpha=lr)``.

Passes over the (…, N, m) tensor per step: GEMM write, φ in place, readout read, gt_ in place, GEMM
read (5), against ~10 in ``training.train`` (GEMM write, + b, relu, sign_, mul_, readout, two mul_,
GEMM read, sum). The results agree with ``training.train`` to float32 rounding, not bit for bit.
"""

from __future__ import annotations

import torch

from perturbation_learning.network import TwoLayerNet, readout
from perturbation_learning.training import CHECK_EVERY, MAX_WEIGHT, TrainResult, make_loss


def fused_train(net: TwoLayerNet, X: torch.Tensor, y: torch.Tensor, *, loss="identity", lr: float,
                steps: int, momentum: float = 0.0, max_weight: float = MAX_WEIGHT) -> TrainResult:
    """Same contract as ``training.train`` (inputs assumed valid: no checks, bench use only)."""
    loss_fn = make_loss(loss)
    lr, beta, gamma = float(lr), float(momentum), float(net.gamma)
    dtype, device = net.W.dtype, net.W.device
    X = X.to(dtype=dtype, device=device)
    y = y.to(dtype=dtype, device=device)
    N, d = X.shape[-2], X.shape[-1]
    batch_shape = net.batch_shape
    a = net.a
    Wb = torch.cat([net.W, net.b.unsqueeze(-1)], -1)                  # (…, m, d+1)
    Xa = torch.cat([X, torch.ones(X.shape[:-1] + (1,), dtype=dtype, device=device)], -1)  # (…, N, d+1)
    net0 = TwoLayerNet(net.W.clone(), net.b.clone(), a, gamma)
    out_shape = torch.broadcast_shapes(batch_shape + (N,), y.shape)
    lam = torch.zeros(out_shape, dtype=torch.float64, device=device)
    lam_velocity = torch.zeros_like(lam)
    v = torch.zeros_like(Wb)                                          # velocity of −∇ (descent)
    curve = torch.empty(out_shape[:-1] + (steps + 1,), dtype=torch.float64, device=device)
    diverged = torch.zeros(out_shape[:-1], dtype=torch.bool, device=device)
    a_col = a.unsqueeze(-1)                                           # (…, m, 1)
    t, t_velocity = 0.0, 0.0
    step = 0
    for step in range(steps + 1):
        H = torch.matmul(Xa, Wb.transpose(-1, -2))                    # (…, N, m), bias included
        R = H.clamp_(min=0) if gamma == 0 else torch.nn.functional.leaky_relu_(H, gamma)
        f = readout(R, a)
        margin = -y * f
        curve[..., step] = loss_fn.value(margin).mean(-1).to(torch.float64)
        if step == steps:
            break
        lprime = loss_fn.derivative(margin)
        c = lprime * y / N                                            # (…, N)
        Y = Xa * c.unsqueeze(-1)                                      # (…, N, d+1)
        P = R.gt_(0)                                                  # 1[h > 0], in place
        G = torch.matmul(P.transpose(-1, -2), Y)                      # (…, m, d+1) = Pᵀ(c ⊙ X̃)
        if gamma:
            G.mul_(1.0 - gamma).add_(Y.sum(-2, keepdim=True), alpha=gamma)
        if beta:
            v.mul_(beta).addcmul_(a_col, G)                           # v ← βv − ∇
            Wb.add_(v, alpha=lr)
        else:
            Wb.addcmul_(a_col, G, value=lr)
        t_velocity = beta * t_velocity + 1.0
        t += lr * t_velocity
        lam_velocity.mul_(beta).add_(lprime.to(torch.float64) / N)
        lam.add_(lr * lam_velocity)
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            W = Wb[..., :d]
            bad = ~torch.isfinite(curve[..., step]) | (W.abs().amax((-1, -2)) > max_weight) \
                | ~torch.isfinite(W).all(-1).all(-1)
            diverged |= bad
            if bool(diverged.all()):
                curve[..., step + 1:] = float("nan")
                break
    diverged |= ~torch.isfinite(curve[..., min(step, steps)])
    cur = TwoLayerNet(Wb[..., :d].contiguous(), Wb[..., d].contiguous(), a, gamma)
    flips = (net0.preactivations(X) > 0) != (cur.preactivations(X) > 0)
    flip_fraction = flips.to(torch.float64).mean((-1, -2))
    return TrainResult(net=cur, net0=net0, t=t, lam=lam, loss_curve=curve.cpu().numpy(),
                       flip_fraction=flip_fraction.cpu().numpy(), diverged=diverged.cpu().numpy(),
                       steps_run=step)
