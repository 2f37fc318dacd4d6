"""(b) Training throughput against the same machine's sgemm peak.

At d = 1000, N = 2000, m = 1000, ``training.train`` does 4·N·m·d flops per step in its two GEMMs
(counted; elementwise work is not). Interleaved in one process, at each pinned thread count:

- ``sgemm``: a 2048³ float32 ``torch.mm`` into a preallocated output (the machine's peak);
- ``train``: ``training.train`` for ``steps`` steps (momentum 0.9);
- ``step_gemms``: the two GEMMs of a step alone (X Wᵀ and Cᵀ X into preallocated outputs), ``steps``
  times: the GEMM floor at these shapes.

Reports GFLOP/s of each and the fraction of the sgemm peak (median of per-round ratios; target
≥ 50% for ``train``). ``train`` also does steps + 1 forward GEMMs and two more for the pattern-flip
fraction; ``gflops_actual`` counts those too.

    python benchmarks/throughput.py [--quick] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import statistics

import torch

from perturbation_learning.network import init_network
from perturbation_learning.training import train

from common import (gflops, interleaved_timings, log, markdown_table, matmul_flops, pinned_threads,
                     thread_counts, train_flops, train_gemm_flops_actual)

TARGET_FRACTION = 0.5


def training_problem(N: int, m: int, d: int, seed: int = 0, batch: int | None = None, shared_x: bool = False):
    """A network and shifted-Gauss-like data (±1 labels, mean ±0.3·1), float32, from one seed."""
    g = torch.Generator().manual_seed(seed)
    net = init_network(d, m, 0.0, generator=g, batch=batch)
    lead = () if batch is None or shared_x else (batch,)
    y = torch.where(torch.rand(lead + (N,), generator=g) < 0.5, -1.0, 1.0)
    X = torch.randn(lead + (N, d), generator=g) + 0.3 * y.unsqueeze(-1)
    return net, X, y


def run(*, N: int = 2000, m: int = 1000, d: int = 1000, steps: int = 10, peak_size: int = 2048,
        repeats: int = 4, threads: list[int] | None = None, lr: float = 1e-3, seed: int = 0) -> dict:
    net, X, y = training_problem(N, m, d, seed)
    A = torch.randn(peak_size, peak_size, generator=torch.Generator().manual_seed(seed + 1))
    B = torch.randn(peak_size, peak_size, generator=torch.Generator().manual_seed(seed + 2))
    C = torch.empty(peak_size, peak_size)
    H = torch.empty(N, m)
    coef = torch.randn(N, m, generator=torch.Generator().manual_seed(seed + 3))
    G = torch.empty(m, d)
    Wt = net.W.T

    def step_gemms():
        for _ in range(steps):
            torch.mm(X, Wt, out=H)
            torch.mm(coef.T, X, out=G)

    cases = {
        "sgemm": lambda: torch.mm(A, B, out=C),
        "train": lambda: train(net, X, y, lr=lr, steps=steps, momentum=0.9),
        "step_gemms": step_gemms,
    }
    flops = {"sgemm": matmul_flops(peak_size, peak_size, peak_size),
             "train": train_flops(N, m, d, steps),
             "step_gemms": train_flops(N, m, d, steps)}
    rows = []
    for n_threads in thread_counts(threads):
        log(f"[throughput] N={N} m={m} d={d} steps={steps}, {n_threads} thread(s), {repeats} rounds")
        with pinned_threads(n_threads):
            t = interleaved_timings(cases, repeats=repeats, warmup=1)
        rate = {k: [gflops(flops[k], s) for s in t[k].samples] for k in cases}
        row = {"threads": n_threads, "sgemm_peak_gflops": statistics.median(rate["sgemm"])}
        for k in ("train", "step_gemms"):
            row[f"{k}_gflops"] = statistics.median(rate[k])
            row[f"{k}_fraction_of_peak"] = statistics.median(r / p for r, p in zip(rate[k], rate["sgemm"]))
        row["train_gflops_actual"] = statistics.median(
            gflops(train_gemm_flops_actual(N, m, d, steps), s) for s in t["train"].samples)
        row["train_s_per_step"] = t["train"].median / steps
        row["step_gemms_s_per_step"] = t["step_gemms"].median / steps
        row["gemm_share_of_train_step"] = statistics.median(
            g / tr for g, tr in zip(t["step_gemms"].samples, t["train"].samples))
        row["meets_target"] = row["train_fraction_of_peak"] >= TARGET_FRACTION
        row["samples"] = {k: v.samples for k, v in t.items()}
        rows.append(row)
    return {"name": "throughput", "setting": {"N": N, "m": m, "d": d, "steps": steps, "peak_size": peak_size,
                                              "repeats": repeats, "momentum": 0.9, "lr": lr, "dtype": "float32"},
            "target": f"train GFLOP/s >= {TARGET_FRACTION:.0%} of sgemm peak", "timings": rows}


def markdown(res: dict) -> str:
    s = res["setting"]
    cols = ["threads", "sgemm_peak_gflops", "train_gflops", "train_fraction_of_peak", "train_gflops_actual",
            "step_gemms_gflops", "step_gemms_fraction_of_peak", "gemm_share_of_train_step", "meets_target"]
    return "\n".join([
        "### (b) training throughput vs sgemm peak",
        f"d = {s['d']}, N = {s['N']}, m = {s['m']}, {s['steps']} steps per call, momentum {s['momentum']}, "
        f"{s['dtype']}; peak = {s['peak_size']}³ `torch.mm`; counted flops 4·N·m·d per step "
        f"(`train_gflops_actual` adds the extra forward GEMMs); median of {s['repeats']} interleaved rounds; "
        f"target {res['target']}.", "",
        markdown_table(res["timings"], cols), ""])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, nargs="+")
    args = p.parse_args(argv)
    res = run(steps=3 if args.quick else 10, repeats=2 if args.quick else 4,
              threads=args.threads or ([1] if args.quick else None))
    print(markdown(res))


if __name__ == "__main__":
    main()
