"""Smoke tests of the benchmark scripts in ``benchmarks/``, on tiny sizes. Opt-in: they run only
with ``BENCH_TESTS=1`` (``BENCH_TESTS=1 pytest tests/test_bench.py``); the benchmarks are scripts, not
part of the package, and these tests import them from that folder.

- FLOP counting: 4·N·m·d per network and training step (two GEMMs of N·m·d MACs each).
- Interleaved timing: sides alternate A, B, A, B, … after the warm-up rounds; medians and paired
  ratios come from those samples.
- Batched and sequential training give the same numbers for the same seeds: ``run_batch(config,
  seeds)`` against ``run_experiment`` per seed, all metrics within 1e-6; whether they are also
  bit-identical is recorded as a test property (``bit_identical``) and printed.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pytest
import torch

from perturbation_learning.config import Config

if not os.environ.get("BENCH_TESTS"):
    pytest.skip("benchmark tests are opt-in: BENCH_TESTS=1", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import batched, checks_wall, common, kernel, memory, throughput, train_pairs  # noqa: E402  (scripts in benchmarks/)

TINY = Config(dataset="shifted-gauss", d=8, n_train=24, n_test=40, width=12, epochs_f=15, epochs_g=15,
              lr=0.1, momentum=0.9, eps=1.0, eps_mode="absolute")


pytestmark = pytest.mark.usefixtures("one_thread")


# --- FLOP counting --------------------------------------------------------------------------

def test_train_flops_count_two_gemms_per_step():
    assert common.matmul_flops(3, 4, 5) == 120
    assert common.train_step_flops(N=1000, m=100, d=100) == 4 * 1000 * 100 * 100
    assert common.train_flops(2000, 1000, 1000, steps=10) == 10 * 4 * 2000 * 1000 * 1000
    assert common.train_flops(10, 20, 30, steps=7, batch=16) == 16 * 7 * 4 * 10 * 20 * 30
    # steps + 1 forwards, steps gradients, 2 forwards for the flip fraction
    assert common.train_gemm_flops_actual(10, 20, 30, steps=7) == (2 * 7 + 3) * 2 * 10 * 20 * 30
    assert common.gflops(2e9, 0.5) == pytest.approx(4.0)


# --- interleaved timing ---------------------------------------------------------------------

def test_interleaved_timings_alternate_sides_after_warmup():
    calls = []
    cases = {name: (lambda n=name: calls.append(n)) for name in ("A", "B", "C")}
    t = common.interleaved_timings(cases, repeats=3, warmup=2, collect=False)
    assert calls == ["A", "B", "C"] * 5
    assert set(t) == {"A", "B", "C"}
    assert all(len(tm.samples) == 3 and len(tm.faults) == 3 for tm in t.values())
    assert all(s >= 0 for tm in t.values() for s in tm.samples)


def test_timing_median_and_paired_ratio():
    a = common.Timing("a", [1.0, 4.0, 2.0])
    b = common.Timing("b", [2.0, 2.0, 1.0])
    assert a.median == 2.0 and a.minimum == 1.0
    assert common.paired_ratio(a, b) == 2.0  # ratios 0.5, 2, 2
    with pytest.raises(ValueError, match="samples"):
        common.paired_ratio(a, common.Timing("c", [1.0]))


@pytest.mark.parametrize("kwargs, match", [({"repeats": 0}, "repeats == 0"), ({"repeats": 1, "warmup": -1}, "warmup")])
def test_interleaved_timings_reject_bad_counts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        common.interleaved_timings({"a": lambda: None}, **kwargs)


def test_pinned_threads_sets_and_restores():
    before = torch.get_num_threads()
    with common.pinned_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="must be an int >= 1"):
        with common.pinned_threads(0):
            pass
    assert common.thread_counts([1, 2, 99]) == sorted({1, min(2, os.cpu_count()), os.cpu_count()})


def test_markdown_table_and_machine_info():
    table = common.markdown_table([{"a": 1, "b": 0.123456, "c": None}])
    assert table.splitlines() == ["| a | b | c |", "|---|---|---|", "| 1 | 0.1235 | None |"]
    info = common.machine_info()
    assert {"cpu_model", "cores", "date", "torch", "torch_default_threads"} <= set(info)


def test_checks_wall_parses_pairs_and_summary():
    out = "x\nclaims exercised\nnetwork pairs trained: 17\n===== 3 passed, 1 failed in 9.50s =====\n"
    assert checks_wall.parse_pairs(out) == 17
    assert checks_wall.parse_pairs("nothing here") is None
    assert checks_wall.parse_summary(out) == "3 passed, 1 failed in 9.50s"
    assert checks_wall.pairs_per_minute(17, 30.0) == pytest.approx(34.0)
    cmd = checks_wall.checks_command("ci", "/tmp/r")
    assert cmd[1:] == ["-m", "pytest", "-n", "auto", "checks/", "-p", "no:randomly", "--report-dir=/tmp/r",
                       "--hypothesis-profile=ci"]


def test_memory_helpers_read_rss():
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs Linux /proc")
    assert memory.current_rss_kb() > 0
    if memory.reset_peak_rss():
        assert memory.peak_rss_kb() >= memory.current_rss_kb() - 1024


# --- the bench cases on tiny sizes ----------------------------------------------------------

def test_kernel_bench_runs_and_closed_form_matches_quadrature():
    res = kernel.run(n1=40, n2=30, d=16, n_neurons=50, n_pairs=12, repeats=1, threads=[1])
    row = res["timings"][0]
    assert row["threads"] == 1 and row["ratio_f32_cf/mc"] > 0
    assert res["accuracy"]["closed_form_f64_numpy"]["max_abs_err"] < 1e-8
    assert res["accuracy"]["closed_form_f32_torch"]["max_abs_err"] < 2e-3
    assert "(a) kernel matrix" in kernel.markdown(res)


def test_throughput_bench_runs_on_tiny_sizes():
    res = throughput.run(N=32, m=16, d=8, steps=2, peak_size=64, repeats=1, threads=[1])
    row = res["timings"][0]
    assert row["sgemm_peak_gflops"] > 0 and row["train_gflops"] > 0
    assert math.isfinite(row["train_fraction_of_peak"]) and row["train_fraction_of_peak"] > 0


def test_batched_bench_runs_on_tiny_sizes():
    res = batched.run(sizes={"tiny": dict(d=4, N=16, m=8, steps=6)}, threads=[1], repeats=1)
    row = res["sizes"][0]["rows"][0]
    assert row["threads"] == 1 and row["speedup_batched"] > 0
    assert res["explanations"] and "tiny @ 1T" in res["explanations"][0]
    assert res["sizes"][0]["identity_train"]["max_abs_diff_W_b"] <= 1e-6


def test_train_pairs_bench_runs_on_tiny_sizes():
    """Both loops, both settings; they agree to rounding (float64: 1e-12 relative) and ``train``
    gives the last network the same bits alone and in the batch."""
    res = train_pairs.run(quick=True, repeats=1, pairs=3, sizes={"tiny": dict(d=5, N=16, m=8, steps=8)})
    assert len(res["rows"]) == len(train_pairs.SETTINGS)
    assert all(r["speedup"] > 0 and r["baseline_ms_per_pair"] > 0 for r in res["rows"])
    for row in res["agreement"]:
        assert row["alone_equals_batch_bitwise"] and row["float64_same_t"]
        assert max(row["float64_rel_W"], row["float64_rel_lam"], row["float64_rel_loss_curve"]) <= 1e-12
    assert "(e) training time per pair" in train_pairs.markdown(res)


# --- batched vs sequential: same numbers for the same seeds ---------------------------------

def test_batched_train_matches_sequential_train(record_property):
    nets, stacked, Xs, ys = batched.networks_and_data(d=5, N=12, m=7, n_nets=3)
    res = batched.batched_vs_sequential_results(nets, stacked, Xs, ys, steps=10)
    record_property("bit_identical", res["bit_identical"])
    print(f"batched train() vs sequential: max |ΔW, Δb| = {res['max_abs_diff_W_b']:.3g}, "
          f"bit-identical: {res['bit_identical']}")
    assert res["max_abs_diff_W_b"] <= 1e-6


def test_run_batch_matches_run_experiment_per_seed(record_property):
    res = batched.run_batch_vs_single(TINY, [1, 2, 3])
    record_property("bit_identical", res["bit_identical"])
    print(f"run_batch vs run_experiment: max |Δ| = {res['max_abs_diff']:.3g} over "
          f"{sorted(res['per_metric_max_abs_diff'])}, bit-identical: {res['bit_identical']}")
    assert {"acc_g_test", "agreement", "cos_signed", "final_loss_f"} <= set(res["per_metric_max_abs_diff"])
    assert res["max_abs_diff"] <= 1e-6, res["per_metric_max_abs_diff"]
