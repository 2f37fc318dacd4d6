"""An independent reference implementation of perturbation learning in plain PyTorch.

Written the way a researcher would write it, and sharing no training, network or attack code with
``perturbation_learning/``: an ``nn.Module`` with an ``nn.Linear`` first layer and a fixed readout
buffer, ``torch.optim.SGD`` (with momentum), and autograd for the loss gradient, for ℓ', and for
the input gradient of the attack. The differential tests (``tests/test_reference_differential.py``)
hold the project's batched trainer against it; ``procedure`` lets the check suite run on it
(``pytest checks/ --procedure examples.reference_torch:procedure``).

The setting (THEORY.md §1):

- f(x) = Σ_k a_k φ(w_k·x + b_k), φ(s) = max(s, γs); W and b trained, the readout a fixed.
- L = (1/N) Σ_n ℓ(−y_n f(x_n)), ℓ(s) = s (identity) or log(1 + e^s) (logistic, softplus).
- T full-batch steps of SGD with step η and heavy-ball momentum β (PyTorch's convention:
  v ← βv + ∇L, θ ← θ − ηv, v₀ = 0).
- Integrated time and loss weights, the definitions the project's trainer states: gradient j
  (j = 0 … T−1) moves the weights by η(1 − β^{T−j})/(1 − β) in total, so
  t = Σ_j η(1 − β^{T−j})/(1 − β) and Λ_n = Σ_j η(1 − β^{T−j})/(1 − β) · ℓ'(−y_n f_j(x_n))/N.
  Here they are summed from the recorded per-step ℓ'/N after training (the closed-form weights),
  not by a running recursion; ℓ'/N is read off autograd as ∂L/∂(margin_n).
- Targets y^adv: uniform ±1 from the ``targets`` generator (one ``randint(0, 2)`` draw of N bits),
  or flipped, −y.
- Attack: one targeted L2 step, r_n = ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖ (0 where ∇f(x_n) = 0).
- Scenario (a): x^adv = r; (b): x^adv = x + r. g: a fresh network trained on (x^adv, y^adv).
- Divergence: a non-finite loss or |W| > ``MAX_WEIGHT`` stops training and marks the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

MAX_WEIGHT = 1e6
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TwoLayerLeakyReLU(nn.Module):
    """x ↦ Σ_k a_k max(h_k, γh_k), h = first(x); ``first`` trainable, ``a`` a buffer."""

    def __init__(self, W: torch.Tensor, b: torch.Tensor, a: torch.Tensor, gamma: float):
        super().__init__()
        m, d = W.shape
        # skip_init: nn.Linear's own initialisation would draw from the global RNG.
        self.first = nn.utils.skip_init(nn.Linear, d, m, dtype=W.dtype)
        with torch.no_grad():
            self.first.weight.copy_(W)
            self.first.bias.copy_(b)
        self.register_buffer("a", a.detach().clone())
        self.gamma = float(gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        return torch.maximum(h, self.gamma * h) @ self.a

    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.first(x)

    # The parameters under the names of THEORY.md.
    @property
    def W(self) -> torch.Tensor:
        return self.first.weight.detach()

    @property
    def b(self) -> torch.Tensor:
        return self.first.bias.detach()

    def copy(self) -> "TwoLayerLeakyReLU":
        return TwoLayerLeakyReLU(self.W.clone(), self.b.clone(), self.a, self.gamma)


def initial_parameters(d: int, m: int, generator: torch.Generator, dtype=torch.float64):
    """w_k ~ N(0, I/d), b_k ~ N(0, 1), a_k ~ N(0, 1/m), drawn in float64 in this order, then cast."""
    W = torch.randn(m, d, generator=generator, dtype=torch.float64) / math.sqrt(d)
    b = torch.randn(m, generator=generator, dtype=torch.float64)
    a = torch.randn(m, generator=generator, dtype=torch.float64) / math.sqrt(m)
    return W.to(dtype), b.to(dtype), a.to(dtype)


# log(1 + e^s) as logaddexp(s, 0): its autograd derivative is sigmoid(s) to rounding for every s
# (softplus switches to the identity above s = 20, whose derivative 1 is off by e^-20 there).
LOSSES = {"identity": lambda s: s, "logistic": lambda s: torch.logaddexp(s, torch.zeros_like(s))}


@dataclass
class Trained:
    """A trained network with what the theory needs from its training."""

    net: TwoLayerLeakyReLU
    net0: TwoLayerLeakyReLU
    t: float
    lam: torch.Tensor              # Λ_n, float64, shape (N,)
    flip_fraction: float           # share of (n, k) patterns on the training inputs that flipped
    diverged: bool
    min_abs_preactivation: float   # min over steps, n, k of |w_k·x_n + b_k|: how close a pattern came to 0
    sample_losses: torch.Tensor    # (steps + 1, N): ℓ(−y_n f_j(x_n)) before each step and after the last


def train(net0: TwoLayerLeakyReLU, X: torch.Tensor, y: torch.Tensor, *, loss: str, lr: float, steps: int,
          momentum: float, max_weight: float = MAX_WEIGHT) -> Trained:
    """Full-batch SGD on W, b (the readout ``a`` is a buffer) for ``steps`` steps."""
    net = net0.copy()
    ell = LOSSES[loss]
    opt = torch.optim.SGD(net.first.parameters(), lr=lr, momentum=momentum)
    N = X.shape[0]
    lprime_over_n = []             # ℓ'(−y_n f_j(x_n))/N for every step j
    sample_losses = []             # ℓ(−y_n f_j(x_n)) for every step j, then after the last
    diverged = False
    min_abs_h = math.inf
    for _ in range(steps):
        opt.zero_grad()
        h = net.first(X)
        min_abs_h = min(min_abs_h, float(h.detach().abs().min()))
        margin = -y * (torch.maximum(h, net.gamma * h) @ net.a)
        margin.retain_grad()
        per_sample = ell(margin)
        sample_losses.append(per_sample.detach().clone())
        L = per_sample.mean()
        L.backward()
        if not torch.isfinite(L):
            diverged = True
            break
        lprime_over_n.append(margin.grad.detach().to(torch.float64).clone())
        opt.step()
        if not (torch.isfinite(net.W).all() and net.W.abs().max() <= max_weight):
            diverged = True
            break
    with torch.no_grad():
        sample_losses.append(ell(-y * net(X)))
        final_loss = sample_losses[-1].mean()
        h_end, h_start = net.preactivations(X), net0.preactivations(X)
    diverged = diverged or not bool(torch.isfinite(final_loss))
    min_abs_h = min(min_abs_h, float(h_end.abs().min()), float(h_start.abs().min()))
    T = len(lprime_over_n)
    weights = [lr * (1 - momentum ** (T - j)) / (1 - momentum) for j in range(T)]
    lam = torch.zeros(N, dtype=torch.float64)
    for w_j, c_j in zip(weights, lprime_over_n):
        lam += w_j * c_j
    flips = ((h_start > 0) != (h_end > 0)).to(torch.float64).mean()
    return Trained(net=net, net0=net0, t=float(sum(weights)), lam=lam, flip_fraction=float(flips),
                   diverged=diverged, min_abs_preactivation=min_abs_h, sample_losses=torch.stack(sample_losses))


def input_gradient(net: TwoLayerLeakyReLU, X: torch.Tensor) -> torch.Tensor:
    """∇_x f(x_n) for every row, by autograd (rows do not interact, so grad of the sum)."""
    x = X.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    return grad


def one_step_l2(net: TwoLayerLeakyReLU, X: torch.Tensor, y_adv: torch.Tensor, eps: float) -> torch.Tensor:
    """r_n = ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖, and 0 where the gradient vanishes."""
    grad = input_gradient(net, X)
    norm = grad.norm(dim=1, keepdim=True)
    unit = torch.where(norm > 0, grad / norm.clamp_min(torch.finfo(grad.dtype).tiny), torch.zeros_like(grad))
    return eps * y_adv.unsqueeze(1) * unit


def draw_targets(y: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    if mode == "flipped":
        return -y
    if mode != "random":
        raise ValueError(f"targets == {mode!r}, must be 'random' or 'flipped'")
    bits = torch.randint(0, 2, tuple(y.shape), generator=generator)
    return (2 * bits - 1).to(y.dtype)


@dataclass
class ReferenceRun:
    f: Trained
    g: Trained
    y_adv: torch.Tensor
    r: torch.Tensor
    X_adv: torch.Tensor
    eps: float


def random_directions(X: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """Control: Gaussian directions (drawn in float64) scaled to norm ε."""
    v = torch.randn(tuple(X.shape), generator=generator, dtype=torch.float64).to(X.dtype)
    return eps * v / v.norm(dim=1, keepdim=True)


ATTACKS = ("l2-one-step", "random", "shuffled")


def reference_run(config, X: torch.Tensor, y: torch.Tensor, *, init_f, init_g,
                  targets_generator: torch.Generator, control_generator: torch.Generator | None = None
                  ) -> ReferenceRun:
    """Train f on (X, y), attack it, train g on (X^adv, y^adv).

    ``config`` is read by attribute: width, gamma, loss, lr, lr_g (0 = lr), momentum, epochs_f,
    epochs_g, attack (one of ATTACKS; 'random' and 'shuffled' are the controls and draw from
    ``control_generator``), eps, eps_mode ('absolute' or 'sqrt-d': ε·√d), targets, scenario.
    ``init_f`` and ``init_g`` are (W, b, a) triples.
    """
    if config.attack not in ATTACKS:
        raise ValueError(f"attack == {config.attack!r}; the reference implements {ATTACKS}")
    d = X.shape[1]
    eps = config.eps * math.sqrt(d) if config.eps_mode == "sqrt-d" else config.eps
    gd = dict(loss=config.loss, momentum=config.momentum)
    f = train(TwoLayerLeakyReLU(*init_f, config.gamma), X, y, lr=config.lr, steps=config.epochs_f, **gd)
    y_adv = draw_targets(y, config.targets, targets_generator)
    if config.attack == "random":
        r = random_directions(X, eps, control_generator)
    else:
        r = one_step_l2(f.net, X, y_adv, eps)
        if config.attack == "shuffled":
            r = r[torch.randperm(len(r), generator=control_generator)]
    X_adv = r if config.scenario == "a" else X + r
    g = train(TwoLayerLeakyReLU(*init_g, config.gamma), X_adv, y_adv, lr=config.lr_g or config.lr,
              steps=config.epochs_g, **gd)
    return ReferenceRun(f=f, g=g, y_adv=y_adv, r=r, X_adv=X_adv, eps=eps)


# ---------------------------------------------------------------- the procedure interface
# Everything above is the reference itself; this adapter only reports its results in the form the
# run and the checks read (perturbation_learning.procedure), so that
# ``pytest checks/ --procedure examples.reference_torch:procedure`` checks this implementation.

from perturbation_learning.procedure import Capabilities, NetworkReport, SeedOutput, seedwise  # noqa: E402


def _report(trained: Trained, X: torch.Tensor, y: torch.Tensor, loss: str) -> NetworkReport:
    net, net0 = trained.net, trained.net0
    with torch.no_grad():
        final_loss = float(LOSSES[loss](-y * net(X)).mean())
    return NetworkReport(W=net.W, b=net.b, a=net.a, W0=net0.W, b0=net0.b, t=trained.t, lam=trained.lam,
                         flip_fraction=trained.flip_fraction, diverged=trained.diverged, final_loss=final_loss,
                         forward=net, forward0=net0, sample_losses=trained.sample_losses)


def reference_seed(config, X: torch.Tensor, y: torch.Tensor, streams: dict) -> SeedOutput:
    """One seed: initial weights from the ``f_init`` and ``g_init`` generators, then ``reference_run``."""
    d, m = X.shape[1], config.width
    run = reference_run(config, X, y, init_f=initial_parameters(d, m, streams["f_init"], X.dtype),
                        init_g=initial_parameters(d, m, streams["g_init"], X.dtype),
                        targets_generator=streams["targets"], control_generator=streams["control"])
    return SeedOutput(f=_report(run.f, X, y, config.loss), g=_report(run.g, run.X_adv, run.y_adv, config.loss),
                      y_adv=run.y_adv, r=run.r, X_adv=run.X_adv, eps=run.eps)


#: The reference as a procedure (perturbation_learning.procedure.Procedure). It declares the attacks it
#: implements, so the checks draw no PGD setting for it and say so.
procedure = seedwise(reference_seed, name="procedure", capabilities=Capabilities(attacks=ATTACKS))
