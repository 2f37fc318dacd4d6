"""Targeted adversarial perturbations and their controls (THEORY.md §1, §6).

Every attack returns the perturbation r (same shape as X), never x + r; the scenario decides how it
is used. A target y^adv is reached by *increasing* y^adv f(x): for any non-decreasing ℓ,
−∇_x ℓ(−y^adv f(x)) is a positive multiple of y^adv ∇f(x), so the loss's ℓ' drops out after
normalisation.
"""

from __future__ import annotations

import torch

from theory.validation import check_choice, check_eps, check_generator, check_labels_pm1, check_positive_int
from .network import TwoLayerNet

ATTACKS = ("l2-one-step", "pgd-l2", "pgd-linf", "random", "shuffled")
TARGET_MODES = ("random", "flipped")


def _safe_unit(v: torch.Tensor) -> torch.Tensor:
    """v/‖v‖ row-wise, with 0 for a zero row (no NaN from a zero input gradient)."""
    norm = v.norm(dim=-1, keepdim=True)
    return torch.where(norm > 0, v / torch.where(norm > 0, norm, torch.ones_like(norm)), torch.zeros_like(v))


def draw_targets(y: torch.Tensor, mode: str, *, generator: torch.Generator) -> torch.Tensor:
    """y^adv: uniform random ±1 (the official code) or flipped, −y."""
    check_choice(mode, "target_mode", TARGET_MODES)
    check_labels_pm1(y.reshape(-1), "y")
    if mode == "flipped":
        return -y
    check_generator(generator)
    bits = torch.randint(0, 2, tuple(y.shape), generator=generator, device="cpu")
    return (2 * bits - 1).to(dtype=y.dtype, device=y.device)


def one_step_l2(net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float) -> torch.Tensor:
    """The paper's r_n = ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖."""
    eps = check_eps(eps)
    return eps * y_adv.to(X.dtype).unsqueeze(-1) * _safe_unit(net.input_grad(X))


def pgd_l2(net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float, *, steps: int = 10,
           step_size: float | None = None) -> torch.Tensor:
    """Targeted PGD in L2: normalised ascent steps on y^adv f, projected onto ‖r‖ ≤ ε.

    Default step size 2.5ε/steps (Madry et al.), so the ball's boundary is reachable.
    """
    eps = check_eps(eps)
    steps = check_positive_int(steps, "pgd_steps")
    alpha = 2.5 * eps / steps if step_size is None else check_eps(step_size)
    ya = y_adv.to(X.dtype).unsqueeze(-1)
    r = torch.zeros_like(X)
    for _ in range(steps):
        r = r + alpha * ya * _safe_unit(net.input_grad(X + r))
        norm = r.norm(dim=-1, keepdim=True)
        r = r * torch.clamp(eps / torch.where(norm > 0, norm, torch.ones_like(norm)), max=1.0)
    return r


def pgd_linf(net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float, *, steps: int = 10,
             step_size: float | None = None) -> torch.Tensor:
    """Targeted PGD in L∞: sign steps on y^adv f, each coordinate clamped to [−ε, ε]."""
    eps = check_eps(eps)
    steps = check_positive_int(steps, "pgd_steps")
    alpha = 2.5 * eps / steps if step_size is None else check_eps(step_size)
    ya = y_adv.to(X.dtype).unsqueeze(-1)
    r = torch.zeros_like(X)
    for _ in range(steps):
        r = torch.clamp(r + alpha * torch.sign(ya * net.input_grad(X + r)), -eps, eps)
    return r


def random_direction(X: torch.Tensor, eps: float, *, generator: torch.Generator) -> torch.Tensor:
    """Control: uniformly random directions with norm ε, independent of the network."""
    eps = check_eps(eps)
    check_generator(generator)
    g = torch.randn(tuple(X.shape), generator=generator, dtype=torch.float64).to(X)
    return eps * _safe_unit(g)


def shuffle_rows(r: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Control: perturbations permuted across samples (r_n paired with another sample's y^adv).

    A batch (B, N, d) gets one permutation per network.
    """
    check_generator(generator)
    N = r.shape[-2]
    if r.ndim == 2:
        return r[torch.randperm(N, generator=generator)]
    perms = torch.stack([torch.randperm(N, generator=generator) for _ in range(r.shape[0])])
    return torch.gather(r, -2, perms.to(r.device).unsqueeze(-1).expand_as(r))


def perturb(kind: str, net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float, *,
            generator: torch.Generator, pgd_steps: int = 10) -> torch.Tensor:
    """Dispatch on ``kind`` ∈ ATTACKS; ``generator`` feeds the random and shuffled controls."""
    check_choice(kind, "attack", ATTACKS)
    if kind == "l2-one-step":
        return one_step_l2(net, X, y_adv, eps)
    if kind == "pgd-l2":
        return pgd_l2(net, X, y_adv, eps, steps=pgd_steps)
    if kind == "pgd-linf":
        return pgd_linf(net, X, y_adv, eps, steps=pgd_steps)
    if kind == "random":
        return random_direction(X, eps, generator=generator)
    return shuffle_rows(one_step_l2(net, X, y_adv, eps), generator=generator)
