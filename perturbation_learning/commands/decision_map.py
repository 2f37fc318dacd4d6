"""Decision maps of f̂, ĝ, f, g and of the agreement sgn f = sgn g on a 2-D plane (THEORY.md §5, §7).

``python -m perturbation_learning map --preset shifted-gauss-a --seed 0``

One run (one seed) of the config; then every point z = α e₁ + β e₂ of a square grid is evaluated by

- f̂(z) = Σ_n Λ_n y_n Φ(x_n, z)(x_n·z + 1), the kernel predictor (``theory.lazy.kernel_predictor``, L1),
  with the Λ recorded along f's actual trajectory;
- ĝ(z) = S(z) + N(z), the theory's predicted g (``theory.conditions.predicted_g``, §5), computed from
  the data, the drawn targets, the *measured* perturbations r_n (as the official map does), u_n, ε and
  the Λ' recorded for g;
- the trained networks f and g, and the agreement sgn f(z) = sgn g(z).

The official code's map drops the "+1", the Λ weights and the label-noise term N; ours keeps all
three (see ``theory.lazy.kernel_predictor`` and ``theory.conditions.scenario_terms``).

The plane. The official code spans it by the two empirical class means μ̂₊ and μ̂₋ (normalised, not
orthogonal). We span the same plane with orthonormal axes (Gram–Schmidt):

- e₁ = (μ̂₊ − μ̂₋)/‖μ̂₊ − μ̂₋‖, the class-mean difference. For balanced labels Σ_n y_n x_n = (N/2)(μ̂₊ − μ̂₋),
  so e₁ is the direction of the linear part of f̂, for every data set, random labels included. For
  shifted-Gauss it is ≈ 1/√d, the axis through the true means ±0.3·1.
- e₂ = the part of μ̂₊ + μ̂₋ orthogonal to e₁, normalised. For shifted-Gauss the true means are
  collinear (±0.3·1), so e₂ is the sampling noise of the means: a data-chosen but otherwise generic
  direction. For random-label Gauss both means are random directions and the plane is theirs, as in
  the official code. If μ̂₊ + μ̂₋ is (numerically) parallel to e₁, e₂ is a random unit vector
  orthogonal to e₁ drawn from ``numpy.random.default_rng(seed)``.

Grid points lie on a plane through the origin, so their norm (≤ √2·limit) is far below that of a
typical sample (≈ √d); the map shows the decision functions on that plane, not on the data's shell.
The default limit is 1.3 × the 99th percentile of |coordinates| of the projected training points.

Writes ``map.png`` (5 panels; each real-valued panel is scaled by its own max |value| on the grid,
with the zero level drawn black) and ``map.json`` (plane, limit, sign-agreement shares, run metrics),
atomically, into ``--out`` (default ``reports/maps/<preset>-seed<S>-<timestamp>/``).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from theory.model import sign_pm1
from ..config import Config, config_flags, config_from_args, set_threads, threads_flag
from ..files import atomic_write_bytes, figure_png_bytes, json_clean
from ..predict import predicted_columns
from ..run import run_batch
from ..validation import check_scalar

#: Grid chunk: at most this many kernel entries (N × grid points) in memory at once.
_CHUNK_ELEMENTS = 2e7


def plane_axes(X: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal (e₁, e₂) spanning the two empirical class means; see the module docstring."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X has shape {X.shape} and y {y.shape}, must be (N, d) and (N,)")
    if not ((y == 1).any() and (y == -1).any()):
        raise ValueError("y must contain both classes ±1 to define the plane of the class means")
    mp, mn = X[y == 1].mean(0), X[y == -1].mean(0)
    diff = mp - mn
    if np.linalg.norm(diff) == 0:
        raise ValueError("the two class means coincide; the plane of the class means is undefined")
    e1 = diff / np.linalg.norm(diff)
    v = mp + mn
    v = v - (v @ e1) * e1
    if np.linalg.norm(v) <= 1e-10 * max(np.linalg.norm(mp + mn), 1.0):
        v = np.random.default_rng(seed).standard_normal(X.shape[1])
        v -= (v @ e1) * e1
    return e1, v / np.linalg.norm(v)


def grid_points(e1, e2, limit: float, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alpha, beta, Z): coordinates (res, res) with β increasing upwards, and Z (res², d) = αe₁ + βe₂."""
    s = np.linspace(-limit, limit, resolution)
    alpha, beta = np.meshgrid(s, s[::-1], indexing="xy")
    Z = alpha.reshape(-1, 1) * e1[None] + beta.reshape(-1, 1) * e2[None]
    return alpha, beta, Z


def decision_map(config: Config, seed: int | None = None, *, resolution: int = 150,
                 limit: float | None = None) -> dict:
    """Run ``config`` for one seed and evaluate f̂, ĝ, f, g on the grid of the class-mean plane."""
    import torch

    from theory.conditions import predicted_g
    from theory.lazy import kernel_predictor
    from theory.params import Perturbation, TrainingSet

    check_scalar(resolution, "resolution", int, min_val=2, max_val=1000, note="grid points per axis")
    if limit is not None:
        check_scalar(limit, "limit", min_val=0.0, include_boundaries="neither", note="grid half-width")
    seed = config.seed if seed is None else seed
    config = config.replace(seed=seed)
    t0 = time.perf_counter()
    data = run_batch(config, [seed])
    result = data.record(0)
    if result["status"] != "ok":
        raise ValueError(f"cannot draw a map: {result['status']}")
    seconds_run = time.perf_counter() - t0

    def np64(t):
        return t[0].detach().double().cpu().numpy()

    X, y, y_adv, r, u = np64(data.X), np64(data.y), np64(data.y_adv), np64(data.r), np64(data.u)
    lam_f, lam_g = np64(data.f.lam), np64(data.g.lam)
    e1, e2 = plane_axes(X, y, seed)
    P = X @ np.stack([e1, e2], 1)
    if limit is None:
        limit = float(1.3 * np.quantile(np.abs(P), 0.99))
    alpha, beta, Z = grid_points(e1, e2, limit, resolution)

    train = TrainingSet(X, y, lam_f)
    pert = Perturbation(train, config.scenario, r, y_adv, u, lam_g, data.eps)
    f_net, g_net = data.f.net[0], data.g.net[0]
    out = {k: np.empty(len(Z)) for k in ("f_hat", "g_hat", "f", "g")}
    chunk = max(1, int(_CHUNK_ELEMENTS // len(X)))
    for i in range(0, len(Z), chunk):
        Zc = Z[i:i + chunk]
        sl = slice(i, i + len(Zc))
        out["f_hat"][sl] = kernel_predictor(train, Zc, config.gamma)
        out["g_hat"][sl] = predicted_g(pert, config.gamma, Zc)
        Zt = torch.as_tensor(Zc, dtype=f_net.W.dtype, device=f_net.W.device)
        with torch.no_grad():
            out["f"][sl] = f_net(Zt).double().cpu().numpy()
            out["g"][sl] = g_net(Zt).double().cpu().numpy()
    grids = {k: v.reshape(resolution, resolution) for k, v in out.items()}
    sgn = {k: sign_pm1(v) for k, v in grids.items()}
    grids["agreement"] = (sgn["f"] == sgn["g"]).astype(float)
    grids["g_hat_differs"] = (sgn["g_hat"] != sgn["g"]).astype(float)   # hatched on the g and agreement panels

    def share(a, b):
        return float((sgn[a] == sgn[b]).mean())

    shares = {"f_vs_g": share("f", "g"), "f_vs_f_hat": share("f", "f_hat"), "g_vs_g_hat": share("g", "g_hat"),
              "f_hat_vs_g_hat": share("f_hat", "g_hat"), "g_hat_vs_f": share("g_hat", "f")}
    metrics = {k: result[k] for k in ("acc_f_train", "acc_f_test", "acc_g_train", "acc_g_test", "agreement",
                                      "cos_signed", "flip_fraction_f", "flip_fraction_g", "eps_effective")}
    metrics.update(predicted_columns(result))
    return {"config": config.to_dict(), "seed": seed, "resolution": resolution, "limit": limit,
            "plane": {"e1": "normalised mean(x | y=+1) − mean(x | y=−1)",
                      "e2": "mean(x | y=+1) + mean(x | y=−1), orthogonalised to e1 and normalised",
                      "e1_dot_ones_over_sqrt_d": float(e1.sum() / math.sqrt(len(e1))),
                      "e2_dot_ones_over_sqrt_d": float(e2.sum() / math.sqrt(len(e2)))},
            "grid_sign_agreement": shares, "run": metrics, "seconds_run": seconds_run,
            "alpha": alpha, "beta": beta, "grids": grids, "projected_X": P, "y": y}


_PANELS = (("f_hat", r"$\hat{f}$ (kernel predictor, L1)"), ("g_hat", r"$\hat{g}$ = S + N (theory, §5)"),
           ("f", "f (trained)"), ("g", "g (trained on D^adv)"), ("agreement", "sgn f = sgn g"))


def _predicted_note(run: dict) -> str:
    p = run.get("agreement_predicted")
    return "" if p is None else f" (predicted {p:.3f})"


def map_figure(m: dict):
    """A matplotlib Figure (no pyplot state) with the five panels."""
    import matplotlib
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure

    fig = Figure(figsize=(17, 4.9), dpi=85, layout="constrained")
    axes = fig.subplots(1, 5, sharex=True, sharey=True)
    L = m["limit"]
    extent = (-L, L, -L, L)
    P, y = m["projected_X"], m["y"]
    rng = np.random.default_rng(0)
    show = rng.permutation(len(P))[:200]
    sh = m["grid_sign_agreement"]
    fhat, ghat = r"$\hat{f}$", r"$\hat{g}$"
    notes = {"f_hat": "", "g_hat": f"sgn = sgn {fhat} on {sh['f_hat_vs_g_hat']:.0%}",
             "f": f"sgn = sgn {fhat} on {sh['f_vs_f_hat']:.0%}", "g": f"sgn = sgn {ghat} on {sh['g_vs_g_hat']:.0%}",
             "agreement": f"{sh['f_vs_g']:.0%} of grid; test {m['run']['agreement']:.3f}"
                          + _predicted_note(m['run'])}
    # 16 discrete colour levels: readable, and the PNG stays small (smooth gradients compress badly)
    bounds = np.linspace(-1, 1, 17)
    levels = ListedColormap(matplotlib.colormaps["RdBu_r"](np.linspace(0.03, 0.97, 16)))
    norm = BoundaryNorm(bounds, levels.N)
    for ax, (key, title) in zip(axes, _PANELS):
        G = m["grids"][key]
        if key == "agreement":
            im = ax.imshow(G, extent=extent, cmap=ListedColormap(["#d62728", "#9fd89f"]), vmin=0, vmax=1,
                           interpolation="nearest")
        else:
            scale = float(np.max(np.abs(G))) or 1.0
            im = ax.imshow(G / scale, extent=extent, cmap=levels, norm=norm, interpolation="nearest")
            ax.contour(m["alpha"], m["beta"], G, levels=[0.0], colors="k", linewidths=1.0)
            title += f"\nmax |·| = {scale:.3g}"
        if key in ("g", "agreement") and m["grids"]["g_hat_differs"].any():
            # where sgn ĝ ≠ sgn g: the prediction of g is wrong there
            ax.contourf(m["alpha"], m["beta"], m["grids"]["g_hat_differs"], levels=[0.5, 1.5], colors="none",
                        hatches=["////"])
            ax.contour(m["alpha"], m["beta"], m["grids"]["g_hat_differs"], levels=[0.5], colors="#444444",
                       linewidths=0.6, linestyles="--")
        ax.scatter(P[show, 0], P[show, 1], c=np.where(y[show] > 0, "#67000d", "#08306b"), s=2, alpha=0.7,
                   linewidths=0)
        ax.set_title(title + (f"\n{notes[key]}" if notes[key] else ""), fontsize=9)
        ax.set_xlim(-L, L)
        ax.set_ylim(-L, L)
        ax.set_xlabel("e₁ (class-mean difference)", fontsize=8)
        ax.set_aspect("equal")
    axes[0].set_ylabel("e₂ (class-mean sum, orthogonalised)", fontsize=8)
    cb = fig.colorbar(im, ax=axes[-1], shrink=0.8, ticks=[0.25, 0.75])
    cb.ax.set_yticklabels(["differ", "agree"], fontsize=8)
    c = m["config"]
    run = m["run"]
    fig.suptitle(f"{c['dataset']} scenario ({c['scenario']}), d={c['d']}, m={c['width']}, N={c['n_train']}, "
                 f"ε={run['eps_effective']:.3g}, seed {m['seed']}: acc on D of f {run['acc_f_train']:.3f}, of g "
                 f"{run['acc_g_train']:.3f}; agreement on fresh samples {run['agreement']:.3f}\n"
                 f"colour: value / max |value| on the grid (red > 0, blue < 0), black line: zero level; "
                 f"dots: 200 training points projected (dark red y = +1, dark blue y = −1); "
                 f"hatched: sgn ĝ ≠ sgn g", fontsize=10)
    return fig


def write_map(m: dict, out_dir) -> dict:
    """Write map.png and map.json (atomically) into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = {"png": out / "map.png", "json": out / "map.json"}
    summary = {k: v for k, v in m.items() if k not in ("alpha", "beta", "grids", "projected_X", "y")}
    atomic_write_bytes(paths["png"], figure_png_bytes(map_figure(m), dpi=85))
    atomic_write_bytes(paths["json"], (json.dumps(json_clean(summary), indent=1, sort_keys=True) + "\n").encode())
    return {k: str(v) for k, v in paths.items()}


def _main(args) -> int:
    config = config_from_args(args)
    set_threads(args.threads, config)
    m = decision_map(config, resolution=args.resolution, limit=args.limit)
    out = Path(args.out) if args.out else (Path("reports") / "maps" /
                                           f"{args.preset}-seed{m['seed']}-{time.strftime('%Y%m%d-%H%M%S')}")
    paths = write_map(m, out)
    print(json.dumps({"out": str(out), **paths, "grid_sign_agreement": m["grid_sign_agreement"]}))
    return 0


def register(parser) -> None:
    """decision maps of f̂, ĝ, f, g and their agreement on the plane of the class means (one PNG)"""
    config_flags(parser)
    parser.add_argument("--resolution", type=int, default=150, metavar="INT",
                        help="grid points per axis (default 150)")
    parser.add_argument("--limit", type=float, default=None, metavar="FLOAT",
                        help="half-width of the square grid (default: 1.3 × the 99th percentile of the "
                             "projected training points' |coordinates|)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output directory (default reports/maps/<preset>-seed<S>-<timestamp>/)")
    threads_flag(parser)
    parser.set_defaults(func=_main)
