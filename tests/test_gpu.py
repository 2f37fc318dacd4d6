"""The GPU path: one small config on the CPU and on CUDA, both in float32, agree within stated
tolerances, skipped where no CUDA device is present (``pytest -m gpu`` selects it); and the checks'
``paper`` profile, and no other, trains on CUDA when a GPU is present.

Tolerances, and why. The two devices sum in different orders, so every float32 step differs by
rounding (≈ 1e-7 relative); 300 + 300 steps of momentum GD keep that small, but an input whose output
sits within that distance of 0 can change sign. So:
- final losses and the integrated times: relative 1e-3;
- accuracies and agreement: 0.01 absolute (5 of the 500 fresh samples, 2 of the 200 training points);
- mean signed cosine of r_n with u_n: 1e-3 absolute;
- the theory's direction u_n (Φ on the GPU in float32 against float64 on the CPU): 1e-4 relative to
  its largest row norm.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perturbation_learning.config import get_preset
from perturbation_learning.run import run_batch

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

CONFIG = get_preset("shifted-gauss-a").replace(d=50, n_train=200, n_test=500, width=100, epochs_f=300,
                                               epochs_g=300, dtype="float32")
SEEDS = [0, 1]


@pytest.mark.gpu
@needs_cuda
def test_cpu_and_gpu_agree_on_one_small_config():
    cpu = run_batch(CONFIG, SEEDS)
    gpu = run_batch(CONFIG.replace(device="cuda"), SEEDS)
    # the GPU did the work: networks, perturbations and the theory's direction live there, in float32
    assert gpu.f.net.W.device.type == "cuda" and gpu.r.device.type == "cuda"
    assert gpu.u.device.type == "cuda" and gpu.u.dtype == torch.float32
    for c, g in zip(cpu.records, gpu.records):
        assert c["status"] == g["status"] == "ok"
        for key in ("final_loss_f", "final_loss_g", "t_f", "t_g"):
            assert g[key] == pytest.approx(c[key], rel=1e-3), key
        for key in ("acc_f_train", "acc_g_train", "acc_f_test", "acc_g_test", "agreement"):
            assert abs(g[key] - c[key]) <= 0.01, (key, c[key], g[key])
        assert abs(g["cos_signed"] - c["cos_signed"]) <= 1e-3
    u_cpu, u_gpu = cpu.u.double().numpy(), gpu.u.double().cpu().numpy()
    scale = np.linalg.norm(u_cpu, axis=-1).max()
    assert np.abs(u_gpu - u_cpu).max() <= 1e-4 * scale


@pytest.mark.parametrize("profile, cuda, device", [
    ("paper", True, "cuda"), ("paper-smoke", True, "cuda"), ("paper", False, "cpu"),
    ("ci", True, "cpu"), ("thorough", True, "cpu"),
])
def test_only_the_paper_profile_of_the_checks_selects_cuda(monkeypatch, profile, cuda, device):
    from checks import harness
    from checks.profiles import using_profile

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    with using_profile(profile):
        assert harness.run_device() == device
        cfg = get_preset("shifted-gauss-a")
        assert harness._on_run_device(cfg).device == device
        assert harness._on_run_device(cfg.replace(device="auto")).device == "auto"  # an explicit choice stays
