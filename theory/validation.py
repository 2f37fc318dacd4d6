"""The theory's argument checks (after scikit-learn's ``utils/validation.py``).

Each checker validates and *returns* its value, and its messages name the parameter and the
allowed range: ``"gamma == 1.0, must be < 1 (leaky slope)"``. A wrong type raises ``TypeError``, a
wrong value ``ValueError``. Theory functions take numpy arrays or torch tensors, so the array
checks accept both. The procedure's own checks (torch generators, devices, batched tensors) are in
``perturbation_learning.validation``, which builds on the scalar checks here.
"""

from __future__ import annotations

import numbers
import math
from typing import Any

import numpy as np

from ._backend import to_numpy64

try:  # torch is a dependency of the package, but theory/ stays importable without it.
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _is_tensor(x: Any) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def check_scalar(
    x: Any,
    name: str,
    target_type: type | tuple = numbers.Real,
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_boundaries: str = "both",
    note: str = "",
):
    """Validate a scalar's type and range and return it.

    Parameters
    ----------
    x : the value.
    name : the parameter name quoted in messages.
    target_type : accepted type(s); ``bool`` is never accepted as a number.
    min_val, max_val : optional bounds.
    include_boundaries : "both", "left", "right" or "neither".
    note : short reason shown in parentheses, e.g. "leaky slope".
    """
    if isinstance(x, bool) or not isinstance(x, target_type):
        raise TypeError(f"{name} must be {_type_name(target_type)}, got {type(x).__name__} {x!r}")
    if isinstance(x, numbers.Real) and not math.isfinite(float(x)):
        raise ValueError(f"{name} == {x}, must be finite")
    suffix = f" ({note})" if note else ""
    left_closed = include_boundaries in ("both", "left")
    right_closed = include_boundaries in ("both", "right")
    if min_val is not None:
        if (left_closed and x < min_val) or (not left_closed and x <= min_val):
            op = ">=" if left_closed else ">"
            raise ValueError(f"{name} == {x}, must be {op} {min_val}{suffix}")
    if max_val is not None:
        if (right_closed and x > max_val) or (not right_closed and x >= max_val):
            op = "<=" if right_closed else "<"
            raise ValueError(f"{name} == {x}, must be {op} {max_val}{suffix}")
    return x


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(s) for s in t)
    if t is numbers.Real:
        return "a real number"
    if t is numbers.Integral:
        return "an integer"
    return t.__name__


def check_gamma(gamma) -> float:
    """γ ∈ [0, 1), the leaky-ReLU slope."""
    return float(check_scalar(gamma, "gamma", min_val=0.0, max_val=1.0,
                              include_boundaries="left", note="leaky slope"))


def check_delta(delta) -> float:
    """δ ∈ (0, 1), a failure probability."""
    return float(check_scalar(delta, "delta", min_val=0.0, max_val=1.0,
                              include_boundaries="neither", note="failure probability"))


def check_eps(eps) -> float:
    """ε ≥ 0, the perturbation norm."""
    return float(check_scalar(eps, "eps", min_val=0.0, note="perturbation norm"))


def check_positive_int(x, name: str) -> int:
    return int(check_scalar(x, name, numbers.Integral, min_val=1))


def check_array(x, name: str, *, ndim: int | tuple | None = None, allow_nan: bool = False):
    """Check an array-like (numpy or torch): numeric, given ndim, finite. Returns it unchanged
    (numpy input that is a list is converted to a float64 array)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x, dtype=float)
    if not (isinstance(x, np.ndarray) or _is_tensor(x)):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            raise ValueError(f"{name} has shape {tuple(x.shape)}, must have ndim in {allowed}")
    if _is_tensor(x):
        if not (x.dtype.is_floating_point or x.dtype in (torch.int32, torch.int64, torch.int8, torch.uint8)):
            raise TypeError(f"{name} has dtype {x.dtype}, must be numeric")
        finite = _all_finite_tensor(x) if x.dtype.is_floating_point else True
    else:
        if not np.issubdtype(x.dtype, np.number):
            raise TypeError(f"{name} has dtype {x.dtype}, must be numeric")
        finite = _all_finite_numpy(x)
    if not allow_nan and not finite:
        raise ValueError(f"Input {name} contains NaN or inf")
    return x


def _all_finite_tensor(x) -> bool:
    # A finite sum proves every entry finite (NaN and ±inf propagate); only a non-finite sum (an
    # entry is NaN/inf, or the sum overflowed) needs the full elementwise test. One pass, no buffer.
    if x.numel() == 0 or bool(torch.isfinite(x.sum())):
        return True
    return bool(torch.isfinite(x).all())


def _all_finite_numpy(x) -> bool:
    if x.size == 0 or not np.issubdtype(x.dtype, np.inexact):
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(x.sum()):
            return True
    return bool(np.isfinite(x).all())


def check_labels_pm1(y, name: str = "y"):
    """Labels must be a 1-D array of ±1."""
    y = check_array(y, name, ndim=1)
    vals = torch.unique(y).tolist() if _is_tensor(y) else np.unique(y).tolist()
    bad = [v for v in vals if v not in (-1, 1)]
    if bad:
        raise ValueError(f"{name} must contain only labels -1 and +1, found {bad[:5]}")
    return y


def check_consistent_length(*pairs):
    """``check_consistent_length(("X", X), ("y", y))``: equal leading dimension."""
    lengths = {name: int(a.shape[0]) for name, a in pairs}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise ValueError(f"Inconsistent numbers of samples ({desc})")


def check_same_dim(x, z, x_name: str = "x", z_name: str = "z"):
    if x.shape[-1] != z.shape[-1]:
        raise ValueError(f"{x_name} has dimension {x.shape[-1]} but {z_name} has dimension "
                         f"{z.shape[-1]}; the last axes must match")


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} == {value!r}, must be one of {sorted(choices)}")
    return value


def check_generator(gen, name: str = "generator"):
    """An explicit torch.Generator or numpy Generator; global RNG state is never used."""
    ok = isinstance(gen, np.random.Generator) or (torch is not None and isinstance(gen, torch.Generator))
    if not ok:
        raise TypeError(f"{name} must be a torch.Generator or numpy.random.Generator, got "
                        f"{type(gen).__name__}; global random state is not used")
    return gen


def check_confidence(confidence, name: str = "confidence") -> float:
    """A confidence level in (0, 1)."""
    return float(check_scalar(confidence, name, min_val=0.0, max_val=1.0,
                              include_boundaries="neither", note="confidence level"))


def check_rows(x, name: str, d: int | None = None):
    """A 2-D array of n points in R^d (numpy or torch); ``d`` if given must match."""
    x = check_array(x, name, ndim=2)
    if d is not None and x.shape[1] != d:
        raise ValueError(f"{name} has shape {tuple(x.shape)}, must have {d} columns (dimension d)")
    return x


def check_nonnegative_array(x, name: str, *, ndim: int | tuple | None = None):
    """A finite array with every entry >= 0 (loss weights Λ, norms, counts)."""
    x = check_array(x, name, ndim=ndim)
    if bool((x < 0).any()):
        raise ValueError(f"{name} has negative entries, must be >= 0")
    return x


def check_positive_array(x, name: str, *, ndim: int | tuple | None = None):
    """A finite array with every entry > 0 (inputs of a log-log fit)."""
    x = check_array(x, name, ndim=ndim)
    if bool((x <= 0).any()):
        raise ValueError(f"{name} has entries <= 0, must be > 0")
    return x


def check_queries(Z, d: int, name: str = "Z"):
    """Query inputs: one (d,) vector or (n, d) rows, as float64 numpy (n, d), and whether one
    vector was given (the caller then returns a scalar)."""
    Z = check_array(Z, name, ndim=(1, 2))
    single = Z.ndim == 1
    Z = np.atleast_2d(to_numpy64(Z))
    if Z.shape[1] != d:
        raise ValueError(f"{name} has dimension {Z.shape[1]} but X has dimension {d}; "
                         "the last axes must match")
    return Z, single
