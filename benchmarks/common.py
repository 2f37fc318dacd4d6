"""Shared helpers of the benchmarks: thread pinning, interleaved timing, FLOP counts, reports.

Timing on a shared machine is noisy, so every comparison runs its sides interleaved in the
same process (round r: A, B, …; then round r + 1), and reports each side's median together with the
median of the per-round ratios (adjacent measurements see the same background load). Thread counts
are pinned explicitly: with 2 torch threads while another process holds a core, OpenMP barrier waits
make small ops 10–25x slower, so small problems default to 1 thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as _dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from perturbation_learning.files import atomic_write_text, json_clean

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
    threadpool_limits = None


# --- threads --------------------------------------------------------------------------------

@contextlib.contextmanager
def pinned_threads(n: int):
    """Run the block with ``n`` torch intra-op threads (and ``n`` numpy BLAS threads); restore after."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n == {n!r}, must be an int >= 1 (threads)")
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    limiter = threadpool_limits(limits=n, user_api="blas") if threadpool_limits else contextlib.nullcontext()
    try:
        with limiter:
            yield n
    finally:
        torch.set_num_threads(old)


def thread_counts(requested: list[int] | None = None) -> list[int]:
    """The thread counts to measure: ``requested`` clipped to the core count (default 1 and 2)."""
    cores = os.cpu_count() or 1
    counts = requested or [1, 2]
    return sorted({min(max(1, int(c)), cores) for c in counts})


# --- timing ---------------------------------------------------------------------------------

@dataclass
class Timing:
    """Wall-clock seconds of one side of a comparison, one entry per round."""

    name: str
    samples: list[float]
    faults: list[int] = field(default_factory=list)  # minor page faults during each sample

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def minimum(self) -> float:
        return min(self.samples)

    def to_dict(self) -> dict:
        return {"name": self.name, "median_s": self.median, "min_s": self.minimum,
                "samples_s": list(self.samples), "minor_faults": list(self.faults)}


def interleaved_timings(cases: dict[str, Callable[[], object]], *, repeats: int,
                        warmup: int = 1, collect: bool = True) -> dict[str, Timing]:
    """Time every callable in ``cases`` ``repeats`` times, interleaved: round r runs A, B, … once each.

    ``warmup`` untimed rounds come first (allocator, OpenMP pool, MKL kernels selection). Each call's
    result is dropped before the next call (tensors free by reference count); cyclic garbage is
    collected once per round, outside the timed region.

    >>> t = interleaved_timings({"a": lambda: None, "b": lambda: None}, repeats=3)
    >>> len(t["a"].samples), len(t["b"].samples)
    (3, 3)
    """
    if not cases:
        raise ValueError("cases must be a non-empty dict of callables")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats == {repeats!r}, must be an int >= 1")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup == {warmup!r}, must be an int >= 0")
    samples: dict[str, list[float]] = {k: [] for k in cases}
    faults: dict[str, list[int]] = {k: [] for k in cases}
    for r in range(warmup + repeats):
        if collect:
            gc.collect()  # once per round (a full collection costs ~0.1 s with sympy loaded)
        for name, fn in cases.items():
            f0 = minor_faults()
            t0 = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t0
            df = minor_faults() - f0
            del out
            if r >= warmup:
                samples[name].append(dt)
                faults[name].append(df)
    return {k: Timing(k, v, faults[k]) for k, v in samples.items()}


def minor_faults() -> int:
    """Minor page faults of this process so far (fresh pages touched, e.g. after an mmap'd malloc)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


_LIBC = None
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


@contextlib.contextmanager
def heap_allocations():
    """glibc malloc serves even huge blocks from the heap and keeps freed memory (``mallopt``), so
    re-allocating a same-sized tensor every step reuses pages instead of mmap + page faults + munmap.
    Restores glibc's steady-state thresholds (mmap 32 MiB, trim 64 MiB) after. No-op without glibc."""
    global _LIBC
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL("libc.so.6")
        ok = _LIBC.mallopt(M_MMAP_THRESHOLD, 1 << 30) and _LIBC.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):
        ok = False
    try:
        yield bool(ok)
    finally:
        if ok:
            _LIBC.mallopt(M_MMAP_THRESHOLD, 32 << 20)
            _LIBC.mallopt(M_TRIM_THRESHOLD, 64 << 20)
            _LIBC.malloc_trim(0)


def paired_ratio(num: Timing, den: Timing) -> float:
    """Median over rounds of num/den, each ratio from one round's adjacent measurements."""
    if len(num.samples) != len(den.samples):
        raise ValueError(f"{num.name} has {len(num.samples)} samples but {den.name} has {len(den.samples)}")
    return statistics.median(a / b for a, b in zip(num.samples, den.samples))


# --- FLOP counts ----------------------------------------------------------------------------

def matmul_flops(n: int, k: int, m: int) -> int:
    """2·n·k·m: flops of an (n, k) @ (k, m) product (one multiply and one add per MAC)."""
    return 2 * int(n) * int(k) * int(m)


def train_step_flops(N: int, m: int, d: int, batch: int = 1) -> int:
    """4·N·m·d per network and step: the forward GEMM X Wᵀ and the gradient GEMM coefᵀ X, N·m·d
    MACs each. Elementwise work (O(N·m)) is not counted."""
    return 2 * matmul_flops(N, m, d) * int(batch)


def train_flops(N: int, m: int, d: int, steps: int, batch: int = 1) -> int:
    """Counted flops of ``steps`` training steps (``train_step_flops`` × steps)."""
    return train_step_flops(N, m, d, batch) * int(steps)


def train_gemm_flops_actual(N: int, m: int, d: int, steps: int, batch: int = 1) -> int:
    """GEMM flops ``training.train`` really performs: steps + 1 forward products (the loss after the
    last step), steps gradient products, and two more forwards for the pattern-flip fraction."""
    return matmul_flops(N, m, d) * (2 * int(steps) + 3) * int(batch)


def gflops(flops: float, seconds: float) -> float:
    return flops / seconds / 1e9


# --- machine and reports --------------------------------------------------------------------

def machine_info() -> dict:
    """CPU model, core count and L2/L3 sizes (lscpu), load average, date, python/torch/numpy versions."""
    model, cores, caches = platform.processor() or "unknown", os.cpu_count(), {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "Model name":
                model = val.strip()
            elif key.strip() == "CPU(s)":
                cores = int(val.strip())
            elif key.strip() in ("L2 cache", "L3 cache"):
                caches[key.strip()] = val.strip()
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {"cpu_model": model, "cores": cores, "caches": caches, "load_average_1_5_15": load,
            "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "torch_default_threads": torch.get_num_threads(), "platform": platform.platform()}


def write_json(path: Path, payload: dict) -> Path:
    """``payload`` as indented JSON, written atomically (``perturbation_learning.files``)."""
    text = json.dumps(json_clean(payload), indent=2, sort_keys=False, default=lambda t: json_clean(t.to_dict()))
    atomic_write_text(Path(path), text + "\n")
    return Path(path)


def interleaved_bench_main(argv, *, description: str, measure, name: str, title: str) -> int:
    """The command line of an interleaved per-pair benchmark: ``--repeats``, ``--out``; ``measure(repeats)``
    gives the rows, written to ``NAME.json`` (with the machine) and ``NAME.md`` and printed."""
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    rows = measure(args.repeats)
    write_json(args.out / f"{name}.json", {"machine": machine_info(), "repeats": args.repeats, "rows": rows})
    md = section(title, "Interleaved rounds; medians, and the median of per-round ratios.", markdown_table(rows))
    atomic_write_text(args.out / f"{name}.md", md)
    print(md)
    return 0


def section(title: str, caption: str, *blocks: str) -> str:
    """A Markdown section of the report: its heading, one caption line, then each block (a table)."""
    return "\n".join([title, caption, *(part for block in blocks for part in ("", block)), ""])


def markdown_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A GitHub Markdown table of ``rows`` (dicts); floats get 4 significant digits.

    >>> print(markdown_table([{"a": 1, "b": 0.123456}]))
    | a | b |
    |---|---|
    | 1 | 0.1235 |
    """
    if not rows:
        return "(no rows)\n"
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        return f"{v:.4g}"
    return str(v)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
