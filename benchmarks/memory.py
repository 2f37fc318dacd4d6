"""(d) Peak memory of the kernel-matrix and training cases, one subprocess per case.

Each case runs in a fresh ``python benchmarks/memory.py --case NAME`` process: it builds its inputs,
resets the peak-RSS mark (``/proc/self/clear_refs``) and takes the current RSS as the baseline
(interpreter, torch, inputs), runs the case, and reads the peak (``VmHWM``, which ``ru_maxrss`` equals in a process started by a
small parent).
``delta`` = peak − baseline is what the case adds at its peak (less whatever the allocator reused
from freed setup memory). Without the reset (non-Linux), the baseline is the setup's own high-water
mark and ``peak_reset`` is False. The same
measure serves numpy and torch (numpy float64 Grams go through torch kernels, which ``tracemalloc``
would not see). A warm-up on tiny inputs first loads every code path, so one-off library pages are not charged
to the case. ``ref_mb`` is the size of the case's main array (the Gram matrix, or one (…, N, m)
activation tensor) for scale.

    python benchmarks/memory.py [--quick]            # all cases
    python benchmarks/memory.py --case train_d1000   # one case, JSON on stdout
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from common import log, markdown_table

KERNEL = dict(n1=2000, n2=2000, d=1000)
ROOT = Path(__file__).resolve().parents[1]


def _kernel_case(variant: str):
    import numpy as np
    import torch

    from theory.kernel import phi_closed_form, phi_monte_carlo

    from kernel import kernel_inputs

    X, Z = kernel_inputs(KERNEL["n1"], KERNEL["n2"], KERNEL["d"])
    if variant.endswith("f32"):
        X, Z = torch.from_numpy(X).float(), torch.from_numpy(Z).float()
    itemsize = 4 if variant.endswith("f32") else 8
    ref = KERNEL["n1"] * KERNEL["n2"] * itemsize / 2**20
    if variant.startswith("closed_form"):
        return (lambda: phi_closed_form(X, Z, 0.0)), ref
    gen = torch.Generator().manual_seed(0) if variant.endswith("f32") else np.random.default_rng(0)
    return (lambda: phi_monte_carlo(X, Z, 0.0, 1000, gen)), ref


def _train_case(d, N, m, steps, batch=None, shared_x=False):
    from perturbation_learning.training import train

    from throughput import training_problem
    if batch is None:
        net, X, y = training_problem(N, m, d)
    else:
        from batched import networks_and_data
        _, net, X, y = networks_and_data(d, N, m, batch)
        if shared_x:
            X, y = X[0].clone(), y[0].clone()
    ref = N * m * 4 * (batch or 1) / 2**20
    return (lambda: train(net, X, y, lr=0.1, steps=steps, momentum=0.9)), ref


SGA = dict(d=100, N=1000, m=100)
WIDE = dict(d=100, N=200, m=3000)
BIG = dict(d=1000, N=2000, m=1000)

CASES = {
    "kernel_closed_form_f32": lambda: _kernel_case("closed_form_f32"),
    "kernel_closed_form_f64": lambda: _kernel_case("closed_form_f64"),
    "kernel_monte_carlo_f32": lambda: _kernel_case("monte_carlo_f32"),
    "kernel_monte_carlo_f64": lambda: _kernel_case("monte_carlo_f64"),
    "train_d1000": lambda: _train_case(**BIG, steps=3),
    "train_sga_single": lambda: _train_case(**SGA, steps=20),
    "train_sga_batched16": lambda: _train_case(**SGA, steps=20, batch=16),
    "train_sga_batched16_shared_x": lambda: _train_case(**SGA, steps=20, batch=16, shared_x=True),
    "train_wide_single": lambda: _train_case(**WIDE, steps=5),
    "train_wide_batched16": lambda: _train_case(**WIDE, steps=5, batch=16),
}
QUICK = ["kernel_closed_form_f32", "kernel_monte_carlo_f32", "train_sga_single", "train_sga_batched16"]


def measure_here(case: str, threads: int) -> dict:
    """Run ``case`` in this process; return baseline and peak RSS in MiB."""
    import torch

    torch.set_num_threads(threads)
    _warm_up()
    fn, ref = CASES[case]()
    gc.collect()
    reset = reset_peak_rss()
    base = current_rss_kb() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = fn()
    peak = peak_rss_kb() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del out
    return {"case": case, "threads": threads, "baseline_mb": base / 1024, "peak_mb": peak / 1024,
            "delta_mb": (peak - base) / 1024, "ref_mb": ref, "peak_reset": reset}


def _warm_up():
    """Load every code path (imports, MKL kernels, OpenMP pool) on tiny inputs, so that their
    one-off pages are not charged to the case."""
    import numpy as np
    import torch

    from theory.kernel import phi_closed_form, phi_monte_carlo
    from perturbation_learning.training import train

    from batched import networks_and_data

    X = np.random.default_rng(0).standard_normal((300, 16))
    for A in (X, torch.from_numpy(X).float()):
        phi_closed_form(A, A, 0.0)
        phi_monte_carlo(A, A, 0.0, 10, torch.Generator().manual_seed(0) if isinstance(A, torch.Tensor)
                        else np.random.default_rng(0))
    nets, stacked, Xs, ys = networks_and_data(8, 16, 8, 2)
    train(nets[0], Xs[0], ys[0], lr=0.1, steps=2, momentum=0.9)
    train(stacked, Xs, ys, lr=0.1, steps=2, momentum=0.9)
    train(stacked, Xs[0], ys[0], lr=0.1, steps=2, momentum=0.9)


def reset_peak_rss() -> bool:
    """Reset the process's peak RSS (Linux ≥ 4.0: write 5 to /proc/self/clear_refs), so that
    ``ru_maxrss`` afterwards measures the case, not transient setup memory. False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def current_rss_kb() -> int:
    return _status_kb("VmRSS")


def peak_rss_kb() -> int:
    """VmHWM, the peak RSS since the last reset. (``ru_maxrss`` would not do after a reset: at exec
    it inherits the parent's RSS at fork, so a child of a big process reports the parent's size.)"""
    return _status_kb("VmHWM")


def measure(case: str, threads: int = 1, timeout: float = 900) -> dict:
    """Run ``case`` in a fresh subprocess (``ru_maxrss`` is a per-process high-water mark)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--case", case, "--threads", str(threads)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
    if proc.returncode != 0:
        return {"case": case, "threads": threads, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(*, quick: bool = False, cases: list[str] | None = None, threads: int = 1) -> dict:
    names = cases or (QUICK if quick else list(CASES))
    rows = []
    for name in names:
        log(f"[memory] {name}")
        rows.append(measure(name, threads))
    return {"name": "memory", "setting": {"kernel": KERNEL, "sga": SGA, "wide": WIDE, "big": BIG, "threads": threads},
            "rows": rows}


def markdown(res: dict) -> str:
    return "\n".join([
        "### (d) peak memory (peak RSS = VmHWM/ru_maxrss, one subprocess per case)",
        "baseline = RSS after imports and inputs (peak mark reset there); delta = peak − baseline; ref = the main array "
        "(Gram matrix, or one (…, N, m) activation tensor). Kernel: N1 = N2 = 2000, d = 1000. sga: d=100, "
        "N=1000, m=100 (20 steps); wide: d=100, N=200, m=3000 (5 steps); d1000: N=2000, m=1000 (3 steps).", "",
        markdown_table(res["rows"], ["case", "threads", "baseline_mb", "peak_mb", "delta_mb", "ref_mb", "peak_reset", "error"]), ""])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", choices=sorted(CASES))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.case:
        print(json.dumps(measure_here(args.case, args.threads)))
        return
    print(markdown(run(quick=args.quick, threads=args.threads)))


if __name__ == "__main__":
    main()
