"""Targeted adversarial perturbations and their controls (THEORY.md §1, §6).

Every attack returns the perturbation r (same shape as X), never x + r; the scenario decides how it
is used. A target y^adv is reached by *increasing* y^adv f(x): for any non-decreasing ℓ,
−∇_x ℓ(−y^adv f(x)) is a positive multiple of y^adv ∇f(x), so the loss's ℓ' drops out after
normalisation.
"""

from __future__ import annotations

import torch

from .network import TwoLayerNet
from .validation import (check_choice, check_eps, check_labels_pm1, check_points, check_positive_int,
                         check_step_size, check_targets, check_tensor, check_torch_generator)

ATTACKS = ("l2-one-step", "pgd-l2", "pgd-linf", "random", "shuffled")
TARGET_MODES = ("random", "flipped")


def _safe_unit(v: torch.Tensor) -> torch.Tensor:
    """v/‖v‖ row-wise, with 0 for a zero row (no NaN from a zero input gradient)."""
    norm = v.norm(dim=-1, keepdim=True)
    return torch.where(norm > 0, v / torch.where(norm > 0, norm, torch.ones_like(norm)), torch.zeros_like(v))


def draw_targets(y: torch.Tensor, mode: str, *, generator: torch.Generator) -> torch.Tensor:
    """y^adv: uniform random ±1 (the official code) or flipped, −y."""
    check_choice(mode, "target_mode", TARGET_MODES)
    check_labels_pm1(check_tensor(y, "y").reshape(-1), "y")
    if mode == "random":
        check_torch_generator(generator)
    return targets(y, mode, generator)


def targets(y: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """``draw_targets`` on checked arguments (the procedure's inner step)."""
    if mode == "flipped":
        return -y
    bits = torch.randint(0, 2, tuple(y.shape), generator=generator, device="cpu")
    return (2 * bits - 1).to(dtype=y.dtype, device=y.device)


def one_step_l2(net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float) -> torch.Tensor:
    """The paper's r_n = ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖."""
    eps = check_eps(eps)
    check_targets(X, y_adv)
    return _one_step_l2(net, X, y_adv, eps)


def pgd_l2(net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float, *, steps: int = 10,
           step_size: float | None = None) -> torch.Tensor:
    """Targeted PGD in L2: normalised ascent steps on y^adv f, projected onto ‖r‖ ≤ ε.

    Default step size 2.5ε/steps (Madry et al.), so the ball's boundary is reachable.
    """
    eps = check_eps(eps)
    steps = check_positive_int(steps, "pgd_steps")
    alpha = check_step_size(step_size, eps, steps)
    check_targets(X, y_adv)
    return _pgd_l2(net, X, y_adv, eps, steps, alpha)


def pgd_linf(net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float, *, steps: int = 10,
             step_size: float | None = None) -> torch.Tensor:
    """Targeted PGD in L∞: sign steps on y^adv f, each coordinate clamped to [−ε, ε]."""
    eps = check_eps(eps)
    steps = check_positive_int(steps, "pgd_steps")
    alpha = check_step_size(step_size, eps, steps)
    check_targets(X, y_adv)
    return _pgd_linf(net, X, y_adv, eps, steps, alpha)


def random_direction(X: torch.Tensor, eps: float, *, generator: torch.Generator) -> torch.Tensor:
    """Control: uniformly random directions with norm ε, independent of the network."""
    eps = check_eps(eps)
    check_points(X)
    return _random_direction(X, eps, check_torch_generator(generator))


def shuffle_rows(r: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Control: perturbations permuted across samples (r_n paired with another sample's y^adv).

    A batch (B, N, d) gets one permutation per network.
    """
    check_points(r, "r", allow_nan=True)  # a diverged f's perturbations pass through unchanged
    return _shuffle_rows(r, check_torch_generator(generator))


def perturb(kind: str, net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float, *,
            generator: torch.Generator, pgd_steps: int = 10) -> torch.Tensor:
    """Dispatch on ``kind`` ∈ ATTACKS; ``generator`` feeds the random and shuffled controls."""
    check_choice(kind, "attack", ATTACKS)
    eps = check_eps(eps)
    pgd_steps = check_positive_int(pgd_steps, "pgd_steps")
    check_targets(X, y_adv)
    check_torch_generator(generator)
    return craft(kind, net, X, y_adv, eps, generator, pgd_steps)


def craft(kind: str, net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float,
          generator: torch.Generator, pgd_steps: int) -> torch.Tensor:
    """``perturb`` on checked arguments (the procedure's inner step)."""
    if kind == "l2-one-step":
        return _one_step_l2(net, X, y_adv, eps)
    if kind in ("pgd-l2", "pgd-linf"):
        pgd = _pgd_l2 if kind == "pgd-l2" else _pgd_linf
        return pgd(net, X, y_adv, eps, pgd_steps, 2.5 * eps / pgd_steps)
    if kind == "random":
        return _random_direction(X, eps, generator)
    return _shuffle_rows(_one_step_l2(net, X, y_adv, eps), generator)


def _one_step_l2(net, X, y_adv, eps):
    return eps * y_adv.to(X.dtype).unsqueeze(-1) * _safe_unit(net.input_grad(X))


def _pgd_l2(net, X, y_adv, eps, steps, alpha):
    ya = y_adv.to(X.dtype).unsqueeze(-1)
    r = torch.zeros_like(X)
    for _ in range(steps):
        r = r + alpha * ya * _safe_unit(net.input_grad(X + r))
        norm = r.norm(dim=-1, keepdim=True)
        r = r * torch.clamp(eps / torch.where(norm > 0, norm, torch.ones_like(norm)), max=1.0)
    return r


def _pgd_linf(net, X, y_adv, eps, steps, alpha):
    ya = y_adv.to(X.dtype).unsqueeze(-1)
    r = torch.zeros_like(X)
    for _ in range(steps):  # torch.sign: a zero gradient coordinate takes no step
        r = torch.clamp(r + alpha * torch.sign(ya * net.input_grad(X + r)), -eps, eps)
    return r


def _random_direction(X, eps, generator):
    g = torch.randn(tuple(X.shape), generator=generator, dtype=torch.float64).to(X)
    return eps * _safe_unit(g)


def _shuffle_rows(r, generator):
    N = r.shape[-2]
    if r.ndim == 2:
        return r[torch.randperm(N, generator=generator)]
    perms = torch.stack([torch.randperm(N, generator=generator) for _ in range(r.shape[0])])
    return torch.gather(r, -2, perms.to(r.device).unsqueeze(-1).expand_as(r))
