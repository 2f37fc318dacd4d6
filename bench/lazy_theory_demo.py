"""Demo (not a test): the theory's predictions against one lazy shifted-Gauss run.

Setting (THEORY.md §3, "a lazy shifted-Gauss configuration"): X ~ N(±0.3·1, I), d = 100, N = 1000,
m = 1000, γ = 0, identity loss, plain GD lr 0.01 for 100 steps (t = 1); g trained likewise for
``--steps-g`` steps on Scenario (a) or (b) data. Prints, with the claim each number belongs to:
- D1: mean ‖ξ_n‖ vs √((1+γ²)/2), and the share of n with ‖ξ_n‖ ≤ B_ξ;
- D2: the share of n where C1 holds (B_ξ < ‖u_n‖) and where cos(r_n, y^adv u_n) ≥ √(1 − B_ξ²/‖u_n‖²);
- L2: measured vs predicted flip fraction, κ on train and test inputs;
- C1–C3: coverage on fresh points, and the observed agreement of g with f where they predict.

    python bench/lazy_theory_demo.py [--seed 0] [--scenario a] [--eps 10] [--targets random]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perturbation_learning.attacks import one_step_l2  # noqa: E402
from perturbation_learning.network import init_network  # noqa: E402
from perturbation_learning.training import train  # noqa: E402
from theory.conditions import adversarial_inputs, evaluate_conditions, predicted_perturbation  # noqa: E402
from theory.direction import (angle_bound, finite_width_residual_rms, predicted_direction,  # noqa: E402
                              residual_bound, residual_xi, signed_cosine)
from theory.lazy import laziness_index, predicted_flip_fraction, width_assumption  # noqa: E402
from theory.stats import wilson_interval  # noqa: E402


def shifted_gauss(n, d, rng, shift=0.3):
    y = rng.permutation(np.where(np.arange(n) % 2 == 0, 1.0, -1.0))
    return rng.standard_normal((n, d)) + shift * y[:, None], y


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("--N", type=int, default=1000)
    p.add_argument("--m", type=int, default=1000)
    p.add_argument("--gamma", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--steps-g", type=int, default=1000)
    p.add_argument("--scenario", choices=["a", "b"], default="a")
    p.add_argument("--targets", choices=["random", "flipped"], default="random")
    p.add_argument("--eps", type=float, default=10.0)
    p.add_argument("--delta", type=float, default=0.05)
    p.add_argument("--n-test", type=int, default=1000)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    ss = np.random.SeedSequence(a.seed).spawn(5)          # data, f, g, targets, theory Monte Carlo
    rng = np.random.default_rng(ss[0])
    X, y = shifted_gauss(a.N, a.d, rng)
    Z, yz = shifted_gauss(a.n_test, a.d, rng)
    tg = lambda s: torch.Generator().manual_seed(int(s.generate_state(1)[0]))
    Xt, yt, Zt = (torch.from_numpy(v) for v in (X, y, Z))

    f = train(init_network(a.d, a.m, a.gamma, generator=tg(ss[1]), dtype="float64"), Xt, yt,
              lr=a.lr, steps=a.steps)
    lam = f.lam.numpy()
    u = predicted_direction(X, y, lam, a.gamma)
    un = np.linalg.norm(u, axis=1)
    grad = f.net.input_grad(Xt).numpy()
    xi = residual_xi(grad, u)
    xin = np.linalg.norm(xi, axis=1)
    g0n = np.linalg.norm(f.net0.input_grad(Xt).numpy(), axis=1)
    fw = finite_width_residual_rms(X, y, lam, a.gamma, a.m, np.random.default_rng(ss[4]), n_neurons=4096)
    B_plain = residual_bound(a.gamma, a.d, a.delta, m=a.m)
    B_union = residual_bound(a.gamma, a.d, a.delta, m=a.m, n_points=a.N)
    B_fw = residual_bound(a.gamma, a.d, a.delta, m=a.m, n_points=a.N, finite_width_rms=fw)

    y_adv = (rng.choice([-1.0, 1.0], a.N) if a.targets == "random" else -y)
    r = one_step_l2(f.net, Xt, torch.from_numpy(y_adv), a.eps).numpy()
    cos = signed_cosine(r, y_adv, u)
    kx = laziness_index(X, y, lam, X, a.gamma, a.m)
    kz = laziness_index(X, y, lam, Z, a.gamma, a.m)

    print(f"setting: shifted Gauss d={a.d} N={a.N} m={a.m} γ={a.gamma} lr={a.lr} steps={a.steps} "
          f"(t={f.t:.3g}) seed={a.seed}; δ={a.delta}")
    print(f"[L2] flip fraction measured {float(f.flip_fraction):.4f}, predicted mean atan(κ)/π "
          f"{predicted_flip_fraction(kx).mean():.4f}; κ train mean/max {kx.mean():.3f}/{kx.max():.3f}, "
          f"test {kz.mean():.3f}/{kz.max():.3f}; verdict train: {width_assumption(kx).verdict} "
          f"(κ_max {width_assumption(kx).kappa_max:.3f}, share inside {width_assumption(kx).share_inside:.3f})")
    print(f"[D1] mean ‖ξ_n‖ {xin.mean():.3f} (‖∇f_0(x_n)‖ {g0n.mean():.3f}) vs √((1+γ²)/2) = "
          f"{np.sqrt((1 + a.gamma**2) / 2):.3f}; finite-width rms mean {fw.mean():.3f}; ‖u_n‖ mean {un.mean():.3f}")
    for name, B in (("B_ξ (one point)", B_plain), ("B_ξ (union over N)", B_union),
                    ("B_ξ (union, + finite width)", B_fw)):
        Bv = np.broadcast_to(B, un.shape)
        ab = angle_bound(Bv, un)
        holds = ab.valid & (cos >= np.where(ab.valid, ab.cos, np.inf))
        print(f"[D1/D2] {name}: mean {np.mean(Bv):.3f}; ‖ξ_n‖ ≤ B_ξ on {np.mean(xin <= Bv):.3f}; "
              f"C1 (B_ξ < ‖u_n‖) on {ab.valid.mean():.3f}; D2 holds on {holds.mean():.3f} of n "
              f"({holds.sum()}/{ab.valid.sum()} of the C1 points)")
    print(f"[D3] signed cos(r_n, y^adv u_n): mean {np.nanmean(cos):.3f}, min {np.nanmin(cos):.3f}")

    print(f"  ({time.perf_counter() - t0:.1f}s)")
    x_adv = adversarial_inputs(a.scenario, X, r)
    g = train(init_network(a.d, a.m, a.gamma, generator=tg(ss[2]), dtype="float64"),
              torch.from_numpy(x_adv), torch.from_numpy(y_adv), lr=a.lr, steps=a.steps_g)
    lam_g = g.lam.numpy()
    print(f"  (g trained: {time.perf_counter() - t0:.1f}s)")
    sf = np.sign(f.net.forward(Zt).numpy())
    sg = np.sign(g.net.forward(Zt).numpy())
    agree = sf == sg
    kg = laziness_index(x_adv, y_adv, lam_g, Z, a.gamma, a.m)
    l2 = width_assumption(kz).inside & width_assumption(kg).inside
    print(f"[P3] scenario {a.scenario}, {a.targets} targets, ε={a.eps}, g: {a.steps_g} steps (t'={g.t:.3g}), "
          f"flips {float(g.flip_fraction):.4f}; acc f on Z {np.mean(sf == yz):.3f}, acc g on D "
          f"{np.mean(np.sign(g.net.forward(Xt).numpy()) == y):.3f}, agreement {agree.mean():.3f}")
    for label, rr in (("measured r", r), ("predicted r̂ = εy^adv u/‖u‖", predicted_perturbation(u, y_adv, a.eps))):
        c = evaluate_conditions(a.scenario, X, y, lam, rr, y_adv, u, lam_g, a.gamma, a.eps, Z, a.delta,
                                np.random.default_rng(ss[4]), xi_bound=B_union)
        cov = c.coverage()
        pa, pd = c.predicted_agree & l2, c.predicted_disagree & l2
        sign_ok = np.mean(np.sign(c.g_hat[c.C2]) == sg[c.C2]) if c.C2.any() else float("nan")

        def share(mask):
            if not mask.any():
                return "–"
            k = int(agree[mask].sum())
            lo, hi = wilson_interval(k, int(mask.sum()), 0.95)
            return f"{k / mask.sum():.3f} [{lo:.3f}, {hi:.3f}]"

        print(f"[C1–C3] ({label}) coverage C1 {cov['C1']:.3f}, C2 {cov['C2']:.3f}, C3 {cov['C3']:.3f}, "
              f"L2(f,g) {l2.mean():.3f}; predicted agree (L2∧C2∧C3) {pa.mean():.3f}: observed agreement "
              f"{share(pa)}; predicted disagree {pd.mean():.3f}: observed agreement {share(pd)}; "
              f"sgn g = sgn ĝ on C2: {sign_ok:.3f}; median B_0 {np.median(c.B0):.2f}, B_E {np.median(c.BE):.2f}, "
              f"|ĝ| {np.median(np.abs(c.g_hat)):.2f}")
    print(f"elapsed {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
