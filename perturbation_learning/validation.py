"""The procedure's input checks, in one place.

Every public entry point of the procedure (``init_network``, ``train``, the attacks,
``make_distribution``, ``Config``, ``run_batch``) checks its arguments here, once; the inner steps
they call trust their typed inputs. Each checker returns its value, and its message names the
parameter and the allowed range. A wrong type raises ``TypeError``, a wrong value ``ValueError``;
the CLI turns both into exit code 2. The scalar checks are the theory's (``theory.validation``).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from theory.validation import (check_array, check_choice, check_eps, check_gamma, check_labels_pm1,
                               check_positive_int, check_scalar)

#: The dtypes a run may use, by Config name.
DTYPES = {"float32": torch.float32, "float64": torch.float64}

__all__ = ["DTYPES", "resolve_device", "resolve_dtype", "check_array", "check_choice", "check_eps", "check_gamma", "check_labels_pm1",
           "check_positive_int", "check_scalar", "check_tensor", "check_points", "check_targets",
           "check_training_set", "check_torch_generator", "check_numpy_generator", "check_class_pair",
           "parse_class_pair", "check_seeds", "check_lr", "check_momentum", "check_steps",
           "check_step_size"]


def check_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_points(X, name: str = "X", *, allow_nan: bool = False) -> torch.Tensor:
    """A finite (N, d) or (B, N, d) tensor."""
    return check_array(check_tensor(X, name), name, ndim=(2, 3), allow_nan=allow_nan)


def check_targets(X, y_adv) -> None:
    """X finite (…, N, d); y_adv ±1 of shape (N,) or (B, N), matching X's (…, N)."""
    check_points(X)
    check_tensor(y_adv, "y_adv")
    N = X.shape[-2]
    ok = y_adv.ndim in (1, 2) and y_adv.shape[-1] == N
    if ok and y_adv.ndim == 2 and X.ndim == 3:
        ok = y_adv.shape[0] == X.shape[0]
    if not ok:
        raise ValueError(f"y_adv has shape {tuple(y_adv.shape)}, but X has shape {tuple(X.shape)}; "
                         f"y_adv must have shape (N,) or (B, N) with N == {N}")
    check_labels_pm1(y_adv.reshape(-1), "y_adv")


def check_training_set(X, y, d: int, batch_shape: tuple) -> None:
    """X (N, d) or (B, N, d) finite, N ≥ 1, d the network's; y ±1 of shape X.shape[:-1]; the batch
    axis of X (if any) that of the networks."""
    for name, arr in (("X", X), ("y", y)):
        check_tensor(arr, name)
    check_array(X, "X", ndim=(2, 3))
    if X.shape[-1] != d:
        raise ValueError(f"X has dimension {X.shape[-1]}, but the network expects d == {d}")
    if X.shape[-2] == 0:
        raise ValueError(f"X has shape {tuple(X.shape)}: N == 0 samples, must be >= 1")
    check_array(y, "y", ndim=(1, 2))
    check_labels_pm1(y.reshape(-1), "y")
    if X.shape[:-1] != y.shape:
        raise ValueError(f"X has shape {tuple(X.shape)} but y has shape {tuple(y.shape)}; "
                         "they must agree on the batch and sample axes")
    if X.ndim == 3 and X.shape[0] != (batch_shape[0] if batch_shape else None):
        raise ValueError(f"X has batch size {X.shape[0]} but the network batch shape is {batch_shape}")


def check_torch_generator(gen, name: str = "generator") -> torch.Generator:
    """An explicit torch.Generator; global random state is never used."""
    if not isinstance(gen, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator (e.g. torch.Generator().manual_seed(seed)), got "
                        f"{type(gen).__name__}; global random state is not used")
    return gen


def check_numpy_generator(gen, name: str = "rng") -> np.random.Generator:
    """An explicit ``numpy.random.Generator`` (for numpy-side sampling); global state is never used."""
    if not isinstance(gen, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
                        f"got {type(gen).__name__}; global random state is not used")
    return gen


def check_class_pair(pair) -> tuple[int, int]:
    """Two different class labels in 0..9, as a tuple or list: ``pair[0]`` → y = −1, ``pair[1]`` → +1."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"pair must be a tuple of two class labels, got {pair!r}")
    for c in pair:
        check_scalar(c, "pair", numbers.Integral, min_val=0, max_val=9, note="class labels 0..9")
    a, b = int(pair[0]), int(pair[1])
    if a == b:
        raise ValueError(f"pair == {(a, b)}, the two classes must differ")
    return a, b


def parse_class_pair(text) -> tuple[int, int]:
    """The class pair of a config string ``"A,B"``, checked by ``check_class_pair``."""
    try:
        a, b = (int(s) for s in str(text).split(","))
    except ValueError:
        raise ValueError(f"pair == {text!r}, must be two class indices 'A,B'") from None
    try:
        return check_class_pair((a, b))
    except ValueError:
        raise ValueError(f"pair == {text!r}, must be two different class indices 'A,B' in 0..9") from None


def check_seeds(seeds) -> list[int]:
    """A non-empty list of integer seeds >= 0."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__"):
        raise TypeError(f"seeds must be a list of integers, got {type(seeds).__name__}")
    if len(seeds) == 0:
        raise ValueError("seeds must be a non-empty list")
    for s in seeds:
        check_scalar(s, "seed", int, min_val=0)
    return list(seeds)


def check_lr(lr, name: str = "lr") -> float:
    """A gradient-descent step η > 0."""
    return float(check_scalar(lr, name, min_val=0.0, include_boundaries="neither"))


def check_momentum(momentum) -> float:
    """Heavy-ball momentum β ∈ [0, 1)."""
    return float(check_scalar(momentum, "momentum", min_val=0.0, max_val=1.0, include_boundaries="left"))


def check_steps(steps, name: str = "steps") -> int:
    """A number of gradient steps >= 0."""
    return int(check_scalar(steps, name, (int, np.integer), min_val=0))


def check_step_size(step_size, eps: float, steps: int) -> float:
    """PGD step size > 0; None gives 2.5ε/steps (Madry et al.), so the ball's boundary is reachable."""
    if step_size is None:
        return 2.5 * eps / steps
    return float(check_scalar(step_size, "step_size", min_val=0.0, include_boundaries="neither"))


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """'cpu', 'cuda' or 'auto' (CUDA when present, else CPU)."""
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device == {str(device)!r}, must be 'cpu', 'cuda' or 'auto'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device == {str(device)!r}, but CUDA is not available; use 'cpu' or 'auto'")
    return dev


def resolve_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype == {dtype}, must be torch.float32 or torch.float64")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype == {dtype!r}, must be one of {sorted(DTYPES)}")
    return DTYPES[dtype]
