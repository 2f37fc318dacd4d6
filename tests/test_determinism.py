"""Same seeds give bit-identical results on CPU.

- two ``run_experiment`` calls, and their ``to_json(..., timings=False)`` strings;
- the CLI twice with ``--no-timings`` (a fresh interpreter and this process): identical stdout;
- ``run_batch(config, seeds)`` against ``run_experiment`` per seed: **bit-identical**, results and
  trained weights. The procedure needs three measures for that (``network.matmul_per_network``,
  ``theory.model.readout``, ``training._per_network``), because in torch's CPU (MKL) kernels:
  a batch of one runs as a folded mm/mv but B > 1 as bmm (different summation order); the
  matrix-vector and small-matrix GEMM kernels order their sums by the operands' memory alignment
  (network i of a batch starts i·N·m floats into a buffer); and vectorised exp/log (logistic loss)
  round differently in the SIMD body and the scalar tail. The parametrised shapes below (width 1
  and 3, N = 2, d = 1, logistic loss, float64) each exercise one of them;
- torch intra-op threads 1 and 2 give identical results (on problems big enough to be split);
- under pytest-xdist (``-n 2``), a generated test file's runs equal a serial in-process run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from perturbation_learning.config import Config
from perturbation_learning.run import TIMING_FIELDS, run_batch, run_experiment, to_json

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 180
BASE = Config(dataset="shifted-gauss", d=12, n_train=40, n_test=60, width=24, epochs_f=30, epochs_g=30,
              lr=0.1, momentum=0.9, eps=1.0, eps_mode="absolute")


pytestmark = pytest.mark.usefixtures("one_thread")


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HYPOTHESIS_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def test_same_seed_twice_is_bit_identical():
    first, second = run_experiment(BASE.replace(seed=5)), run_experiment(BASE.replace(seed=5))
    timing = set(TIMING_FIELDS)
    assert {k: v for k, v in first.items() if k not in timing} == {k: v for k, v in second.items() if k not in timing}
    assert to_json(first, timings=False) == to_json(second, timings=False)
    assert json.loads(to_json(first, timings=False))["seconds_f"] is None


def test_different_seeds_differ():
    """Guards the tests above against a run that ignores its seed."""
    assert to_json(run_experiment(BASE.replace(seed=1)), timings=False) != \
        to_json(run_experiment(BASE.replace(seed=2)), timings=False)


def test_cli_twice_gives_identical_stdout(capsys):
    """The CLI in a fresh interpreter (its own hash seed and import order) and in this process:
    byte-identical stdout, equal to the library's JSON. (Two fresh interpreters would cost ~5 s
    of CPU more for the same evidence.)"""
    from perturbation_learning.commands.cli import main

    flags = ["--dataset", "shifted-gauss", "--d", "12", "--n-train", "40", "--n-test", "60", "--width", "24",
             "--epochs-f", "30", "--epochs-g", "30", "--lr", "0.1", "--momentum", "0.9", "--eps", "1",
             "--eps-mode", "absolute", "--seed", "3", "--no-timings"]
    fresh = subprocess.Popen([sys.executable, "-m", "perturbation_learning", "run", *flags], cwd=ROOT, env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert main(["run", *flags]) == 0
    finally:
        out_fresh, err_fresh = fresh.communicate(timeout=TIMEOUT)
        torch.set_num_threads(1)  # main() set the thread count for its problem
    out_here = capsys.readouterr().out
    assert fresh.returncode == 0, err_fresh
    assert out_fresh == out_here
    assert json.loads(out_fresh)["status"] == "ok"
    assert out_fresh.strip() == to_json(run_experiment(BASE.replace(seed=3)), timings=False)


BATCH_CASES = {
    "base": {},
    "width-1": dict(width=1),
    "width-3": dict(width=3),
    "n-train-2": dict(n_train=2),
    "d-1": dict(d=1),
    "logistic": dict(loss="logistic", gamma=0.3),
    "float64-logistic-b": dict(dtype="float64", loss="logistic", scenario="b"),
    "pgd-flipped": dict(attack="pgd-l2", targets="flipped"),
    "shuffled-control": dict(attack="shuffled", momentum=0.0),
}


@pytest.mark.parametrize("case", list(BATCH_CASES))
def test_run_batch_equals_single_runs_bitwise(case):
    config = BASE.replace(**BATCH_CASES[case])
    seeds = [0, 7, 11]
    data = run_batch(config, seeds)
    batch = data.records
    for i, seed in enumerate(seeds):
        one = run_batch(config, [seed])
        single = one.records
        assert to_json(batch[i], timings=False) == to_json(single[0], timings=False), f"seed {seed}"
        for role in ("f", "g"):
            tb, ts = getattr(data, role), getattr(one, role)
            assert torch.equal(tb.net.W[i], ts.net.W[0]) and torch.equal(tb.net.b[i], ts.net.b[0]), (role, seed)
            assert torch.equal(tb.lam[i], ts.lam[0]) and np.array_equal(tb.loss_curve[i], ts.loss_curve[0])
        assert torch.equal(data.r[i], one.r[0]) and torch.equal(data.u[i], one.u[0])
    assert to_json(batch[1], timings=False) == to_json(run_experiment(config.replace(seed=seeds[1])), timings=False)


def test_thread_count_does_not_change_results():
    """1 and 2 intra-op threads: identical, on a problem large enough for torch and MKL to split
    (N·m = 40 000 > torch's grain size of 32 768)."""
    config = BASE.replace(d=20, n_train=200, width=200, epochs_f=10, epochs_g=10, loss="logistic")
    outs = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        outs.append(to_json(run_experiment(config), timings=False))
    torch.set_num_threads(1)
    assert outs[0] == outs[1]


_XDIST_TESTS = textwrap.dedent("""
    import os
    import pytest
    import torch
    from perturbation_learning.config import Config
    from perturbation_learning.run import run_batch, run_experiment, to_json

    torch.set_num_threads(1)
    CONFIG = Config(**{config})
    OUT = os.environ["DETERMINISM_OUT"]

    def write(name, text):
        with open(os.path.join(OUT, name), "w") as fh:
            fh.write(text)

    @pytest.mark.parametrize("seed", {seeds})
    def test_single(seed):
        write(f"single-{{seed}}.json", to_json(run_experiment(CONFIG.replace(seed=seed)), timings=False))

    def test_batch():
        for seed, res in zip({seeds}, run_batch(CONFIG, {seeds}).records):
            write(f"batch-{{seed}}.json", to_json(res, timings=False))
""")


def test_xdist_workers_match_serial_run(tmp_path):
    seeds = [0, 1, 2, 3]
    config = BASE.replace(loss="logistic")
    kwargs = {k: v for k, v in config.to_dict().items()}
    (tmp_path / "test_generated.py").write_text(_XDIST_TESTS.format(config=repr(kwargs), seeds=repr(seeds)))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
           "--rootdir", str(tmp_path), str(tmp_path / "test_generated.py")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=dict(_env(), DETERMINISM_OUT=str(out)), capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "5 passed" in proc.stdout
    serial = {s: to_json(run_experiment(config.replace(seed=s)), timings=False) for s in seeds}
    for s in seeds:
        assert (out / f"single-{s}.json").read_text() == serial[s], f"seed {s}: xdist worker differs from serial"
        assert (out / f"batch-{s}.json").read_text() == serial[s], f"seed {s}: batched in a worker differs"
