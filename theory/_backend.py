"""Small numpy/torch helpers shared by the theory modules (private)."""

from __future__ import annotations

import contextlib

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def is_tensor(x) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def float_like(x, name: str):
    """Return ``x`` as a floating array of its own backend: numpy → float64 unless already float32;
    torch → unchanged if floating, else float64."""
    if is_tensor(x):
        return x if x.dtype.is_floating_point else x.to(torch.float64)
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def common_backend(*named):
    """Make all arrays share one backend and dtype. ``named`` is a sequence of (name, array).

    Raises TypeError when numpy arrays and torch tensors are mixed."""
    kinds = {is_tensor(a) for _, a in named}
    if len(kinds) > 1:
        names = ", ".join(f"{k}: {'torch' if is_tensor(a) else 'numpy'}" for k, a in named)
        raise TypeError(f"arrays must all be numpy arrays or all torch tensors ({names})")
    arrs = [float_like(a, k) for k, a in named]
    if is_tensor(arrs[0]):
        dt = arrs[0].dtype
        for a in arrs[1:]:
            dt = torch.promote_types(dt, a.dtype)
        return [a.to(dt) for a in arrs]
    dt = np.result_type(*arrs)
    return [a.astype(dt, copy=False) for a in arrs]


def on_accelerator(x) -> bool:
    """A torch tensor on a device other than the CPU (the GPU path keeps such tensors there)."""
    return is_tensor(x) and x.device.type != "cpu"


def as_tensor_like(x, ref):
    """``x`` (numpy or torch) as a tensor with the dtype and device of the tensor ``ref``."""
    return torch.as_tensor(x).to(device=ref.device, dtype=ref.dtype)


def to_numpy64(x) -> np.ndarray:
    """float64 numpy copy/view of an array or tensor."""
    if is_tensor(x):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def like(value: np.ndarray, ref):
    """Return numpy ``value`` in the backend (and floating dtype) of ``ref``."""
    if is_tensor(ref):
        dt = ref.dtype if ref.dtype.is_floating_point else torch.float64
        return torch.as_tensor(value, dtype=dt, device=ref.device)
    return value


def normal(generator, shape, dtype, ref):
    """Standard normal draws from an explicit numpy or torch generator, in the backend of ``ref``."""
    is32 = _is_float32(dtype)
    if isinstance(generator, np.random.Generator):
        np_dt = np.float32 if is32 else np.float64
        out = generator.standard_normal(shape, dtype=np_dt)
        if is_tensor(ref):
            return torch.from_numpy(out).to(device=ref.device, dtype=ref.dtype)
        return out
    # torch.Generator
    tdt = torch.float32 if is32 else torch.float64
    dev = generator.device
    out = torch.randn(*shape, generator=generator, dtype=tdt, device=dev)
    if is_tensor(ref):
        return out.to(device=ref.device, dtype=ref.dtype)
    return out.cpu().numpy()


def _is_float32(dtype) -> bool:
    if torch is not None and isinstance(dtype, torch.dtype):
        return dtype == torch.float32
    return np.dtype(dtype) == np.float32


def single_thread_blas():
    """Context limiting BLAS to one thread (via threadpoolctl when installed, else a no-op).

    For loops of many small matrix products: BLAS threads spin between the products, and when
    another process holds a core they wait for it, so one thread is both faster and steadier.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def neuron_chunks(generator, n_neurons: int, d: int, rows: int, ref):
    """Fresh neurons w ~ N(0, I/d), b ~ N(0, 1) in float64, drawn from ``generator`` in chunks of
    at most MC_CHUNK_ELEMENTS/rows (memory cap); yields (W (J, d), b (J,)). The draws depend only on
    the generator state, so Monte Carlo theory quantities are reproducible."""
    import math

    from .tolerances import MC_CHUNK_ELEMENTS

    chunk = max(1, MC_CHUNK_ELEMENTS // rows)
    done = 0
    while done < n_neurons:
        J = min(chunk, n_neurons - done)
        W = normal(generator, (J, d), np.float64, ref) / math.sqrt(d)
        b = normal(generator, (J,), np.float64, ref)
        done += J
        yield W, b
