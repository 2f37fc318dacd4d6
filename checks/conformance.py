"""R1–R7: every trained pair's report checked against itself (THEORY.md §8), for any procedure, the
run's own measurements of it (R6) against their definitions, and g_0 against f_0 (R7, ``checks.fresh``).

The harness calls :func:`check_runs` on the runs of every setting it trains, before any property
reads them, so each check's settings (both scenarios, both losses, γ = 0 and γ > 0, the gradient
attack and the controls, plain GD and the paper's momentum) are also conformance settings, and
nothing is trained for R1–R7. Each claim leaves one exact record per setting: the largest
|deviation|/tolerance over its parts and pairs (≤ 1 holds), every part's ratio, and the parts the
procedure did not report what they need for ("not checked (not reported)"). A violation fails the
check with the procedure, the quantity and the worst input named.

Tolerances are the rounding bounds of ``theory.conformance`` at the unit roundoff of the run's dtype.
The first ``CONFORMANCE_PAIRS_PER_SETTING`` valid pairs of each trained batch are checked, and the
comparisons that evaluate networks (R1's values, R2's gradients) read the first
``CONFORMANCE_ROWS_PER_SET`` rows of each input set (both in ``theory.tolerances``, with their
reasons); shares, permutations, data-contract checks and R6 (whose metrics are means over all rows)
read all rows. A bug of the kind R1–R7 exist for acts on every pair and row, so the
cuts cost no power against it;
``benchmarks/conformance.py`` measures the cost per pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from perturbation_learning.data import family
from perturbation_learning.procedure import FunctionNet
from theory import conformance as C
from theory.prediction import integrated_time
from theory.tolerances import CONFORMANCE_PAIRS_PER_SETTING, CONFORMANCE_ROWS_PER_SET

from . import assertions, fresh
from .diagnoses import likely_causes
from .pairs import Pair, double, to_float64
from .session import claim_scope

U64 = C.unit_roundoff("float64")


@dataclass
class Part:
    """One comparison: its worst ratio |deviation|/tolerance and where it was."""

    claim: str
    name: str            # the quantity, as the failure message says it
    deviation: float = 0.0
    tolerance: float = 0.0
    where: str = ""
    is_count: bool = False   # a count of offending rows that must be 0 (R5), not a rounding comparison
    value: float = 0.0       # the reported value at the worst input, and the exact one (``checks.diagnoses``)
    exact: float = 0.0
    seed: int | None = None  # the pair's

    def describe(self) -> str:
        if self.is_count:
            return f"{self.name}: {self.deviation:.0f} offending, the first at {self.where}"
        return f"{self.name} by {self.deviation:.3g} at {self.where} (tolerance {self.tolerance:.3g})"

    @property
    def ratio(self) -> float:
        if self.deviation == 0:
            return 0.0
        return self.deviation / self.tolerance if self.tolerance > 0 else float("inf")


@dataclass
class Findings:
    """Every part of every claim over the pairs of one setting."""

    parts: dict = field(default_factory=dict)        # (claim, name) → worst Part
    unchecked: dict = field(default_factory=dict)    # claim → set of "part (why it was not checked)"
    seed: int | None = None                          # the pair being checked

    def compare(self, claim, name, values, exact, tol, where):
        """Record |values − exact| ≤ tol elementwise (arrays of one shape, tol broadcast); ``where(i)``
        names the flat index i."""
        dev = np.abs(np.asarray(values, float) - np.asarray(exact, float))
        tol = np.broadcast_to(np.asarray(tol, float), dev.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(dev == 0, 0.0, dev / tol)
        ratio = np.where(np.isnan(dev), np.inf, ratio)
        self._keep(claim, name, ratio, dev, tol, where, values=values, exact=exact)

    def _keep(self, claim, name, ratio, dev, tol, where, is_count=False, values=0.0, exact=0.0):
        if not ratio.size:
            return
        i = int(np.argmax(ratio))
        value, exact = (float(np.broadcast_to(np.asarray(v, float), dev.shape).flat[i]) for v in (values, exact))
        new = Part(claim, name, float(dev.flat[i]), float(tol.flat[i]), where(i), is_count, value, exact, self.seed)
        old = self.parts.get((claim, name))
        if old is None or new.ratio > old.ratio:
            self.parts[(claim, name)] = new

    def count(self, claim, name, offenders, where):
        """Record a count that must be 0 (R5): ``offenders`` are the offending indices."""
        offenders = np.asarray(offenders, dtype=int)
        dev = np.array([float(len(offenders))])
        self._keep(claim, name, np.where(dev > 0, np.inf, 0.0), dev, np.zeros(1),
                   lambda _: where(int(offenders[0])) if len(offenders) else "", is_count=True)

    def not_reported(self, claim, part):
        self.not_checked(claim, part, "not reported")

    def not_checked(self, claim, part, why):
        self.unchecked.setdefault(claim, set()).add(f"{part} ({why})")


def _evaluate(net, X: np.ndarray) -> np.ndarray:
    """The returned network's own f on X (an implementation's function in its dtype)."""
    with torch.no_grad():
        return to_float64(double(net)(torch.as_tensor(X)))


def _autograd(net, X: np.ndarray) -> np.ndarray:
    """∇f(x) by autograd of the returned network's own f (not its analytic ``input_grad``)."""
    net = double(net)
    if isinstance(net, FunctionNet):  # autograd through the implementation's function
        return to_float64(net.input_grad(torch.as_tensor(X)))
    x = torch.as_tensor(X).clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(net(x).sum(), x)
    return to_float64(grad)


def _params(net):
    return to_float64(net.W), to_float64(net.b), to_float64(net.a), float(net.gamma)


def _rowwhere(label, seed):
    return lambda i: f"{label} #{i} (seed {seed})"


def _seedwhere(seed):
    return lambda _: f"seed {seed}"


class Checked:
    """One valid pair (``checks.pairs.Pair``) as R1–R7 read it: its run's config and records, the unit
    roundoff of its dtype, and each network's pre-activations on the input sets, computed once: on all
    rows of the network's own training set and of the sets the run measures the trained f and g on (D
    and the test inputs: R6), on the first CONFORMANCE_ROWS_PER_SET rows of the others."""

    def __init__(self, pair: Pair):
        self.pair, self.i, self.seed = pair, pair.index, pair.seed
        self.data, self.cfg = pair.run, pair.run.config
        self.u = C.unit_roundoff(self.cfg.dtype)
        self.X, self.y, self.Z, self.yz = pair.X, pair.y, pair.Z, pair.yz
        self.X_adv, self.y_adv, self.r = pair.X_adv, pair.y_adv, pair.r
        self.nets = {"f": pair.f_net, "f_0": pair.f0_net, "g": pair.g_net, "g_0": pair.g0_net}
        self.params = {name: _params(net) for name, net in self.nets.items()}
        self.train = {"f": self.data.f, "g": self.data.g}
        self.sets = {"x": self.X, "x^adv": self.X_adv, "z": self.Z}
        self._pre = {}

    def rows(self, name, label) -> np.ndarray:
        own = {"f": "x", "g": "x^adv"}[name[0]]
        X = self.sets[label]
        measured = name in ("f", "g") and label in ("x", "z")
        return X if label == own or measured else X[:CONFORMANCE_ROWS_PER_SET]

    def pre(self, name, label):
        """(H, bound) of network ``name`` on ``rows(name, label)``; this float64 evaluation's own error
        is covered by γ_n(u) + γ_n(u₆₄) ≤ γ_n(u + u₆₄)."""
        key = (name, label)
        if key not in self._pre:
            W, b, _, _ = self.params[name]
            self._pre[key] = C.preactivations(W, b, self.rows(name, label), self.u + U64)
        return self._pre[key]

    def formula(self, name, label):
        """f of network ``name`` from its returned parameters on ``rows(name, label)``, with tolerance;
        computed once (R1, the recorded losses and R6 read the same values)."""
        key = ("forward", name, label)
        if key not in self._pre:
            _, _, a, gamma = self.params[name]
            self._pre[key] = C.forward_from_preactivations(*self.pre(name, label), a, gamma, self.u + U64)
        return self._pre[key]

    def t(self, name) -> float:
        return self.pair.reported_time(name)


def forward_consistency(p: Checked, out: Findings) -> None:
    """R1: each returned f, f_0, g, g_0 equals Σ_k a_k φ(w_k·z + b_k) of its returned parameters on
    D, D^adv and the test inputs; f's recorded training losses are those of the returned f_0 and f on
    D (the returned f is the one trained); the reported flip shares are those of f_0 → f and g_0 → g."""
    for name, net in p.nets.items():
        for label, X in p.sets.items():
            exact, tol = p.formula(name, label)
            rows = X[:CONFORMANCE_ROWS_PER_SET]
            out.compare("R1", f"{name}({label}) differs from Σ_k a_k φ(w_k·{label} + b_k)", _evaluate(net, rows),
                        exact[:len(rows)], tol[:len(rows)], _rowwhere(label, p.seed))
    recorded_losses(p, out, "R1", "f", "x", p.y, "D", "y")
    for name, label in (("f", "x"), ("g", "x^adv")):
        share, tol = C.pattern_flips(p.pre(name + "_0", label), p.pre(name, label), p.u)
        out.compare("R1", f"the reported flip share of {name} differs from the share of patterns that differ "
                    f"between the returned {name}_0 and {name}", [p.train[name].flip_fraction[p.i]], [share],
                    [tol], _seedwhere(p.seed))


def recorded_losses(p: Checked, out: Findings, claim, name, label, y, data_name, y_name) -> None:
    """The training losses recorded for network ``name`` are ℓ(−y f(x)) of the returned f_0 (before
    the first step) and f (after the last) on its training set (inputs ``label``, labels ``y``)."""
    tr, loss = p.train[name], p.cfg.loss
    if tr.sample_losses is None and not np.isfinite(tr.loss_curve[p.i, -1]):
        out.not_reported(claim, f"training losses of {name}")
        return
    for which in (name + "_0", name):
        exact, tol = p.formula(which, label)
        values = C.loss_values(loss, -y * exact)
        ltol = C.loss_tolerance(loss, tol, values, p.u)
        if tr.sample_losses is not None:
            recorded = to_float64(tr.sample_losses[p.i])
            row = recorded[0] if which.endswith("_0") else recorded[-1]
            out.compare(claim, f"the recorded training loss of {name} differs from ℓ(−{y_name} {which}({label})) on {data_name}",
                        row, values, ltol, _rowwhere(f"{data_name} sample", p.seed))
        elif which == name:
            mean_tol = ltol.mean() + C.rounding_gamma(len(values), p.u) * np.abs(values).mean()
            out.compare(claim, f"the recorded final training loss of {name} differs from the mean ℓ(−{y_name} {which}({label})) "
                        f"on {data_name}", [tr.loss_curve[p.i, -1]], [values.mean()], [mean_tol], _seedwhere(p.seed))
    if tr.sample_losses is None:
        out.not_reported(claim, f"per-sample training losses of {name}")


def attack_consistency(p: Checked, out: Findings) -> None:
    """R2: r as the config's attack builds it from the returned f (autograd of its own function)."""
    cfg, eps = p.cfg, p.data.eps
    expected_eps = cfg.effective_eps(p.X.shape[1])
    out.compare("R2", f"the reported ε differs from the config's effective ε {expected_eps:g}", [eps], [expected_eps],
                [2 * p.u * abs(expected_eps)], _seedwhere(p.seed))
    norms = np.linalg.norm(p.r, axis=1)
    if cfg.attack in ("l2-one-step", "shuffled"):
        X = p.X if cfg.attack == "shuffled" else p.X[:CONFORMANCE_ROWS_PER_SET]
        H, h_err = p.pre("f", "x")
        _, grad_tol = C.network_input_gradient(*p.params["f"], X, p.u + U64, pre=(H[:len(X)], h_err[:len(X)]))
        r_star, tol = C.one_step_perturbation(_autograd(p.nets["f"], X), 2 * grad_tol, p.y_adv[:len(X)], eps, p.u)
        if cfg.attack == "l2-one-step":
            out.compare("R2", "r_n differs from ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖ (∇f by autograd of the returned f)",
                        np.linalg.norm(p.r[:len(X)] - r_star, axis=1), 0.0, tol, _rowwhere("x", p.seed))
        else:
            # Shuffled: r_n = r*_π(n) for a permutation π; each r_n against its nearest r*_m.
            d2 = (p.r**2).sum(1)[:, None] + (r_star**2).sum(1)[None] - 2 * p.r @ r_star.T
            nearest = np.argmin(d2, axis=1)
            dist = np.linalg.norm(p.r - r_star[nearest], axis=1)
            out.compare("R2", "a shuffled r_n is no row of ε y^adv ∇f/‖∇f‖ (autograd of the returned f)", dist, 0.0,
                        tol[nearest], _rowwhere("x", p.seed))
            # Rows may coincide (a low-dimensional family), so the permutation is tested by its sum,
            # which any permutation keeps and a draw with replacement changes.
            out.compare("R2", "the shuffled perturbations do not sum to the one-step ones' sum (not a permutation)",
                        [np.linalg.norm(p.r.sum(0) - r_star.sum(0))], [0.0], [tol.sum()], _seedwhere(p.seed))
    elif cfg.attack == "random":
        out.compare("R2", "a random direction's norm differs from ε", norms, eps,
                    eps * C.rounding_gamma(p.X.shape[1] + 2, p.u), _rowwhere("x", p.seed))
    else:  # PGD: inside the ε-ball of its norm, and y^adv f not lowered from x_n to x_n + r_n
        size = norms if cfg.attack == "pgd-l2" else np.abs(p.r).max(1)
        out.compare("R2", f"{cfg.attack} leaves the ε-ball", np.maximum(size - eps, 0), 0.0,
                    eps * C.rounding_gamma(p.X.shape[1] + 2, p.u), _rowwhere("x", p.seed))
        rows = slice(0, CONFORMANCE_ROWS_PER_SET)
        f_x, tol_x = C.network_forward(*p.params["f"], p.X[rows], p.u + U64)
        f_xr, tol_xr = C.network_forward(*p.params["f"], (p.X + p.r)[rows], p.u + U64)
        out.compare("R2", f"{cfg.attack} lowered y^adv f from x_n to x_n + r_n",
                    np.maximum(p.y_adv[rows] * (f_x - f_xr), 0), 0.0, tol_x + tol_xr, _rowwhere("x", p.seed))
        out.not_reported("R2", "y^adv f along the PGD iterates (only the end points are reported)")


def scenario_input_consistency(p: Checked, out: Findings) -> None:
    """R3: x^adv = r (a) or x + r (b), rounded in either order; y^adv ∈ {±1}, = −y for flipped targets;
    g's recorded training losses are those of the returned g_0 and g on (x^adv, y^adv)."""
    expected, tol = C.scenario_input(p.X, p.r, p.cfg.scenario, p.u + U64)
    out.compare("R3", f"x^adv differs from the Scenario ({p.cfg.scenario}) input", p.X_adv, expected, tol,
                lambda i: f"x^adv #{i // p.X.shape[1]} (seed {p.seed})")
    out.count("R3", "y^adv is not ±1", np.flatnonzero(np.abs(p.y_adv) != 1), _rowwhere("y^adv", p.seed))
    if p.cfg.targets == "flipped":
        out.count("R3", "flipped targets y^adv differ from −y", np.flatnonzero(p.y_adv != -p.y),
                  _rowwhere("y^adv", p.seed))
    recorded_losses(p, out, "R3", "g", "x^adv", p.y_adv, "D^adv", "y^adv")


def time_bookkeeping(p: Checked, out: Findings) -> None:
    """R4: t = η Σ_{j<T}(1 − β^{T−j})/(1 − β) from the config (or from the reported step sizes of a schedule);
    Λ_n = t/N (identity) or within [0, t·sup ℓ'/N] and equal to the weighted ℓ' of the recorded per-sample losses."""
    cfg, loss = p.cfg, p.cfg.loss
    for name, lr, steps in (("f", cfg.lr, cfg.epochs_f), ("g", cfg.lr_g or cfg.lr, cfg.epochs_g)):
        rates = p.train[name].info.get("learning_rates_per_seed")  # a schedule's reported step sizes
        lr = lr if rates is None else rates[p.i]
        if np.shape(lr) not in ((), (steps,)):
            out.count("R4", f"{name} reports {len(lr)} learning rates for T = {steps} steps", [0], _seedwhere(p.seed))
            continue
        t = integrated_time(lr, steps, cfg.momentum)
        out.compare("R4", f"the integrated time of {name} differs from {C.TIME_FORMULAS[np.ndim(lr)]} = {t:.6g}",
                    [p.t(name)], [t], [C.time_tolerance(t, steps, p.u)], _seedwhere(p.seed))
        lam, n = to_float64(p.train[name].lam[p.i]), len(p.X)
        ttol = C.time_tolerance(t, steps, p.u) / n
        if loss == "identity":
            out.compare("R4", f"Λ_n of {name} differs from t/N", lam, t / n, ttol, _rowwhere("n", p.seed))
            continue
        sup = C.LOSSES[loss]["sup_lprime"] * t / n
        out.compare("R4", f"Λ_n of {name} lies outside [0, t·sup ℓ'/N]", np.maximum(lam - sup, 0) + np.maximum(-lam, 0),
                    0.0, ttol, _rowwhere("n", p.seed))
        curves = p.train[name].sample_losses
        if curves is None:
            out.not_reported("R4", f"Λ of {name} from its per-sample losses")
            continue
        expected, ltol = C.loss_weights_from_losses(loss, to_float64(curves[p.i]), lr, cfg.momentum, p.u)
        out.compare("R4", f"Λ_n of {name} differs from Σ_j w_j ℓ'_nj/N of its recorded per-sample losses", lam,
                    expected, ltol, _rowwhere("n", p.seed))


def data_contract(p: Checked, out: Findings) -> None:
    """R5: no test input is a training input of f or of g; f and g each trained on N samples. Where the
    data's law has atoms (``Distribution.atoms``), or the inputs lie on a line (a subspace family at k = 1,
    ``theory.conformance.spans_one_dimension``), independent draws can be equal, so the equality parts are
    not checked there, and say why."""
    atoms = f"{p.cfg.data or p.cfg.dataset} has atoms" if p.cfg.data or family(p.cfg.dataset).atoms else \
        "the inputs span one dimension" if C.spans_one_dimension(p.X) else None
    if atoms:
        for part in ("a test input equals a training input", "a test input is among g's training inputs"):
            out.not_checked("R5", part, f"{atoms}: fresh draws can coincide")
    else:
        out.count("R5", "a test input equals a training input", C.identical_rows(p.Z, p.X), _rowwhere("z", p.seed))
        out.count("R5", "a test input is among g's training inputs x^adv", C.identical_rows(p.Z, p.X_adv),
                  _rowwhere("z", p.seed))
    n = len(p.X)
    for name in ("f", "g"):
        tr = p.train[name]
        sizes = [len(tr.lam[p.i])] + ([] if tr.sample_losses is None else [tr.sample_losses.shape[-1]])
        out.count("R5", f"{name} reports Λ or losses for another number of samples than N = {n}",
                  [k for k, size in enumerate(sizes) if size != n], _seedwhere(p.seed))


#: R6's shares: metric → (network, input set, labels or the other network, its definition as named).
SHARES = {
    "acc_f_train": ("f", "x", "y", "the share of D where sgn f(x) = y"),
    "acc_g_train": ("g", "x", "y", "the share of D where sgn g(x) = y"),
    "acc_f_test": ("f", "z", "yz", "the share of the test inputs where sgn f(z) = y_z"),
    "acc_g_test": ("g", "z", "yz", "the share of the test inputs where sgn g(z) = y_z"),
    "agreement": ("f", "z", "g", "the share of the fresh test inputs where sgn f(z) = sgn g(z)"),
}


def reported_metrics(p: Checked, out: Findings) -> None:
    """R6: the run's reported metrics (``run.measure``, shared by every procedure, so R1–R5 cannot
    see it) recomputed from their definitions: the signs of the returned f and g from their parameters
    on every row (sgn(0) = −1; a row within its rounding bound of 0 may count either way), the cosines
    from the reported r, y^adv and u_n (u_n itself is the D claims' to test against ∇f)."""
    reported = p.data.record(p.i)
    for metric, (name, label, target, definition) in SHARES.items():
        values, tol = p.formula(name, label)
        other = (getattr(p, target), None) if target != "g" else p.formula(target, label)
        share, share_tol = C.sign_share(values, tol, *other)
        out.compare("R6", f"the reported {metric} differs from {definition}", [reported[metric]], [share],
                    [share_tol], _seedwhere(p.seed))
    means, tol = C.cosine_means(p.r, p.y_adv, p.pair.u, p.u + U64)
    for metric, mean, definition in zip(("cos_signed", "cos_abs"), means, ("cos", "|cos|")):
        out.compare("R6", f"the reported {metric} differs from the mean of {definition}(r_n, y^adv_n u_n)",
                    [reported[metric]], [mean], [tol], _seedwhere(p.seed))


CHECKS = (forward_consistency, attack_consistency, scenario_input_consistency, time_bookkeeping, data_contract,
          reported_metrics, fresh.g_is_fresh)


def check_runs(setting, runs, procedure: str) -> dict:
    """R1–R7 on the valid pairs of ``runs`` ((run, index) per seed): one exact record per claim, returned
    by claim (R7's test over the pairs records too, ``checks.fresh``); then an AssertionError naming every
    violated claim, one line each, followed by the "likely cause: …" lines of the signatures its parts match."""
    found = Findings()
    valid = [(data, i) for data, i in runs if not (data.f.diverged[i] or data.g.diverged[i])]
    checked, pairs = valid[:CONFORMANCE_PAIRS_PER_SETTING], []
    for data, i in checked:
        p = Checked(Pair.from_run(data, i, setting.config))
        pairs.append(p)
        found.seed = p.seed
        for check in CHECKS:
            check(p, found)
    seeds = [data.seeds[i] for data, i in checked]
    out, failures = {}, []
    for claim in C.CONFORMANCE_CLAIMS:
        parts = [part for (c, _), part in found.parts.items() if c == claim]
        if not parts:
            continue
        with claim_scope(claim):
            out[claim], message = assertions.record_conformance(
                parts, sorted(found.unchecked.get(claim, ())), procedure=procedure, setting=setting.describe(),
                seeds=seeds)
        if message:  # with the known deviation signatures the failing parts match (``checks.diagnoses``)
            failures.append(message + likely_causes([q for q in parts if q.ratio > 1], pairs, _autograd))
    failures += fresh.independence(pairs, seeds, setting, procedure)  # R7's test over the pairs
    if failures:
        raise AssertionError("\n".join(failures))
    return out
