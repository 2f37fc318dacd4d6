"""(a) Exact kernel matrix vs the official 1000-neuron Monte Carlo estimate.   [K1, K3]

Times ``phi_closed_form`` (float32 torch and float64 numpy inputs) against ``phi_monte_carlo`` with
1000 neurons (float32 torch and float64 numpy) on an N1 × N2 Gram at dimension d, interleaved in one
process, at each pinned thread count; the target is closed form / Monte Carlo ≤ 1.0. Accuracy: every
variant against ``phi_quadrature`` on ``n_pairs`` entries (most random, a few near-parallel x ≈ z,
where float32 cancels in ab − c²).

    python benchmarks/kernel.py [--quick] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from theory import formulas
from theory.kernel import phi_closed_form, phi_monte_carlo, phi_quadrature
from theory.tolerances import MC_DELTA, MC_OFFICIAL_NEURONS

from common import interleaved_timings, log, paired_ratio, pinned_threads, thread_counts

TARGET_RATIO = 1.0


def kernel_inputs(n1: int, n2: int, d: int, seed: int = 0, n_parallel: int = 10):
    """X (n1, d), Z (n2, d) float64: standard normal with a ±0.3 class shift (as shifted-gauss);
    the first ``n_parallel`` rows of Z are x_i + 0.01·noise (ρ ≈ 1)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n1, d)) + 0.3 * rng.choice([-1.0, 1.0], size=(n1, 1))
    Z = rng.standard_normal((n2, d)) + 0.3 * rng.choice([-1.0, 1.0], size=(n2, 1))
    k = min(n_parallel, n1, n2)
    Z[:k] = X[:k] + 0.01 * rng.standard_normal((k, d))
    return X, Z


def sample_pairs(n1: int, n2: int, n_pairs: int, seed: int = 1, n_parallel: int = 10):
    """Index pairs (i, j): the near-parallel diagonal (i, i) for i < n_parallel, the rest uniform."""
    rng = np.random.default_rng(seed)
    k = min(n_parallel, n1, n2, n_pairs)
    i = np.concatenate([np.arange(k), rng.integers(0, n1, n_pairs - k)])
    j = np.concatenate([np.arange(k), rng.integers(0, n2, n_pairs - k)])
    return i, j


def _errors(G, ref, i, j):
    vals = np.asarray(G[i, j].numpy() if isinstance(G, torch.Tensor) else G[i, j], dtype=np.float64)
    err = np.abs(vals - ref)
    return {"max_abs_err": float(err.max()), "median_abs_err": float(np.median(err)),
            "max_abs_err_near_parallel": float(err[:10].max()), "max_abs_err_random": float(err[10:].max())}


def run(*, n1: int = 2000, n2: int = 2000, d: int = 1000, n_neurons: int = MC_OFFICIAL_NEURONS,
        gamma: float = 0.0, n_pairs: int = 50, repeats: int = 5, threads: list[int] | None = None,
        seed: int = 0) -> dict:
    """Timings (median seconds per call, paired ratios) and errors against quadrature."""
    X64, Z64 = kernel_inputs(n1, n2, d, seed)
    X32, Z32 = torch.from_numpy(X64).float(), torch.from_numpy(Z64).float()
    i, j = sample_pairs(n1, n2, n_pairs)
    ref = phi_quadrature(X64[i], Z64[j], gamma)
    cases = {
        "closed_form_f32_torch": lambda: phi_closed_form(X32, Z32, gamma),
        "closed_form_f64_numpy": lambda: phi_closed_form(X64, Z64, gamma),
        "monte_carlo_f32_torch": lambda: phi_monte_carlo(X32, Z32, gamma, n_neurons,
                                                         torch.Generator().manual_seed(seed))[0],
        "monte_carlo_f64_numpy": lambda: phi_monte_carlo(X64, Z64, gamma, n_neurons,
                                                         np.random.default_rng(seed))[0],
    }
    accuracy = {name: _errors(fn(), ref, i, j) for name, fn in cases.items()}
    half = float(formulas.hoeffding(n_neurons, MC_DELTA, gamma**2, 1.0))
    half_union = float(formulas.hoeffding(n_neurons, MC_DELTA / n_pairs, gamma**2, 1.0))
    rows = []
    for n_threads in thread_counts(threads):
        log(f"[kernel] {n1}x{n2}, d={d}, {n_threads} thread(s), {repeats} rounds")
        with pinned_threads(n_threads):
            t = interleaved_timings(cases, repeats=repeats, warmup=1)
        row = {"threads": n_threads}
        for name, tm in t.items():
            row[f"{name}_s"] = tm.median
        row["ratio_f32_cf/mc"] = paired_ratio(t["closed_form_f32_torch"], t["monte_carlo_f32_torch"])
        row["ratio_f64_cf/mc"] = paired_ratio(t["closed_form_f64_numpy"], t["monte_carlo_f64_numpy"])
        row["ratio_f64cf/f32mc"] = paired_ratio(t["closed_form_f64_numpy"], t["monte_carlo_f32_torch"])
        row["meets_target"] = max(row["ratio_f32_cf/mc"], row["ratio_f64_cf/mc"]) <= TARGET_RATIO
        row["samples"] = {k: v.samples for k, v in t.items()}
        rows.append(row)
    return {"name": "kernel", "setting": {"n1": n1, "n2": n2, "d": d, "n_neurons": n_neurons, "gamma": gamma,
                                          "n_pairs": n_pairs, "repeats": repeats, "seed": seed},
            "target": f"closed form / Monte Carlo <= {TARGET_RATIO}", "timings": rows,
            "accuracy": accuracy,
            "mc_half_width": {"per_entry_delta": MC_DELTA, "per_entry": half,
                              f"union_over_{n_pairs}_pairs": half_union}}


def markdown(res: dict) -> str:
    from common import markdown_table
    s = res["setting"]
    out = [f"### (a) kernel matrix: closed form vs {s['n_neurons']}-neuron Monte Carlo",
           f"N1 = {s['n1']}, N2 = {s['n2']}, d = {s['d']}, γ = {s['gamma']}; median of {s['repeats']} "
           f"interleaved rounds; ratio = median of per-round ratios; target {res['target']}.", ""]
    cols = ["threads", "closed_form_f32_torch_s", "closed_form_f64_numpy_s", "monte_carlo_f32_torch_s",
            "monte_carlo_f64_numpy_s", "ratio_f32_cf/mc", "ratio_f64_cf/mc", "ratio_f64cf/f32mc", "meets_target"]
    out += [markdown_table(res["timings"], cols), ""]
    acc = [{"variant": k, **v} for k, v in res["accuracy"].items()]
    hw = res["mc_half_width"]
    union = hw[f"union_over_{s['n_pairs']}_pairs"]
    out += [f"Error against `phi_quadrature` on {s['n_pairs']} entries (10 near-parallel, rest random); "
            f"Monte Carlo Hoeffding half-width {hw['per_entry']:.4f} per entry (δ = {hw['per_entry_delta']}), "
            f"{union:.4f} over all {s['n_pairs']}.", "",
            markdown_table(acc), ""]
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, nargs="+")
    args = p.parse_args(argv)
    res = run(repeats=2 if args.quick else 5, threads=args.threads or ([1] if args.quick else None))
    print(markdown(res))
    print(json.dumps({k: v for k, v in res.items() if k != "timings"}, indent=1))


if __name__ == "__main__":
    main()
