"""Targeted adversarial perturbations and their controls (THEORY.md §1, §6).

Every attack returns the perturbation r (same shape as X), never x + r; the scenario decides how it
is used. A target y^adv is reached by *increasing* y^adv f(x): for any non-decreasing ℓ,
−∇_x ℓ(−y^adv f(x)) is a positive multiple of y^adv ∇f(x), so the loss's ℓ' drops out after
normalisation.
"""

from __future__ import annotations

import torch

from theory.validation import (check_array, check_choice, check_eps, check_generator, check_labels_pm1,
                               check_positive_int, check_scalar)
from .network import TwoLayerNet

ATTACKS = ("l2-one-step", "pgd-l2", "pgd-linf", "random", "shuffled")
TARGET_MODES = ("random", "flipped")


def _safe_unit(v: torch.Tensor) -> torch.Tensor:
    """v/‖v‖ row-wise, with 0 for a zero row (no NaN from a zero input gradient)."""
    norm = v.norm(dim=-1, keepdim=True)
    return torch.where(norm > 0, v / torch.where(norm > 0, norm, torch.ones_like(norm)), torch.zeros_like(v))


def _check_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def _check_points(X, name: str = "X", *, allow_nan: bool = False) -> torch.Tensor:
    """X: a finite (N, d) or (B, N, d) tensor."""
    return check_array(_check_tensor(X, name), name, ndim=(2, 3), allow_nan=allow_nan)


def _check_attack_inputs(X, y_adv) -> None:
    """X finite (…, N, d); y_adv ±1 of shape (N,) or (B, N), broadcastable against X's (…, N)."""
    _check_points(X)
    _check_tensor(y_adv, "y_adv")
    N = X.shape[-2]
    ok = y_adv.ndim in (1, 2) and y_adv.shape[-1] == N
    if ok and y_adv.ndim == 2 and X.ndim == 3:
        ok = y_adv.shape[0] == X.shape[0]
    if not ok:
        raise ValueError(f"y_adv has shape {tuple(y_adv.shape)}, but X has shape {tuple(X.shape)}; "
                         f"y_adv must have shape (N,) or (B, N) with N == {N}")
    check_labels_pm1(y_adv.reshape(-1), "y_adv")


def _check_step_size(step_size, eps: float, steps: int) -> float:
    if step_size is None:
        return 2.5 * eps / steps
    return float(check_scalar(step_size, "step_size", min_val=0.0, include_boundaries="neither"))


def draw_targets(y: torch.Tensor, mode: str, *, generator: torch.Generator) -> torch.Tensor:
    """y^adv: uniform random ±1 (the official code) or flipped, −y."""
    check_choice(mode, "target_mode", TARGET_MODES)
    check_labels_pm1(_check_tensor(y, "y").reshape(-1), "y")
    if mode == "flipped":
        return -y
    check_generator(generator)
    bits = torch.randint(0, 2, tuple(y.shape), generator=generator, device="cpu")
    return (2 * bits - 1).to(dtype=y.dtype, device=y.device)


def one_step_l2(net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float) -> torch.Tensor:
    """The paper's r_n = ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖."""
    eps = check_eps(eps)
    _check_attack_inputs(X, y_adv)
    return eps * y_adv.to(X.dtype).unsqueeze(-1) * _safe_unit(net.input_grad(X))


def pgd_l2(net: TwoLayerNet, X: torch.Tensor, y_adv: torch.Tensor, eps: float, *, steps: int = 10,
           step_size: float | None = None) -> torch.Tensor:
    """Targeted PGD in L2: normalised ascent steps on y^adv f, projected onto ‖r‖ ≤ ε.

    Default step size 2.5ε/steps (Madry et al.), so the ball's boundary is reachable.
    """
    eps = check_eps(eps)
    steps = check_positive_int(steps, "pgd_steps")
    alpha = _check_step_size(step_size, eps, steps)
    _check_attack_inputs(X, y_adv)
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
    alpha = _check_step_size(step_size, eps, steps)
    _check_attack_inputs(X, y_adv)
    ya = y_adv.to(X.dtype).unsqueeze(-1)
    r = torch.zeros_like(X)
    for _ in range(steps):
        r = torch.clamp(r + alpha * torch.sign(ya * net.input_grad(X + r)), -eps, eps)
    return r


def random_direction(X: torch.Tensor, eps: float, *, generator: torch.Generator) -> torch.Tensor:
    """Control: uniformly random directions with norm ε, independent of the network."""
    eps = check_eps(eps)
    _check_points(X)
    check_generator(generator)
    g = torch.randn(tuple(X.shape), generator=generator, dtype=torch.float64).to(X)
    return eps * _safe_unit(g)


def shuffle_rows(r: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """Control: perturbations permuted across samples (r_n paired with another sample's y^adv).

    A batch (B, N, d) gets one permutation per network.
    """
    _check_points(r, "r", allow_nan=True)  # a diverged f's perturbations pass through unchanged
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
