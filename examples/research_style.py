"""Perturbation learning as a research script would write it: a second independent implementation.

It shares no code with ``perturbation_learning/`` nor with ``examples/reference_torch.py``, and is
written the way the paper's public scripts are: one seed at a time, ``torch.nn`` layers,
``torch.optim.SGD`` with the momentum hard-coded at 0.9 (``config.momentum`` is not read), a
``ReduceLROnPlateau`` scheduler stepped on the training loss after every full-batch step, and the attack
as the normalised gradient of the loss toward the target label. It runs in the data's dtype
(float32 or float64) and reports what the checks read (``perturbation_learning.procedure``):

- the step size of every step (``learning_rates``): under the scheduler η_j may fall, and t and Λ are
  summed from the η_j actually used (torch's heavy-ball: buf ← 0.9 buf + ∇L, θ ← θ − η_j buf, so the
  gradient of step j moves θ by w_j = Σ_{k≥j} η_k 0.9^{k−j}; t = Σ_j w_j, Λ_n = Σ_j w_j ℓ'_nj / N);
- the per-sample losses before each step and after the last, the initial and final networks as modules.

The attack. r_n = −ε ∇_x ℓ(−y^adv_n f(x_n)) / ‖∇_x ℓ(−y^adv_n f(x_n))‖. Since ∇_x ℓ(−y f) =
−ℓ'(−y f) y ∇f and ℓ' > 0, this is ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖, the form R2 checks, as long as ℓ' stays
a normal float: for the logistic loss ℓ' = sigmoid(−y^adv f) underflows only where y^adv f(x) exceeds
about 87 (float32), far beyond the |f| = O(1) of the checked settings (where it did, r_n would be 0 and
R2 would say so). Rows whose gradient vanishes get r_n = 0.

Declared (``CAPABILITIES``): momentum fixed at 0.9, and the attacks it implements (the one-step
attack and the random and shuffled controls; no PGD). Everything else (both losses, both scenarios,
both target modes, any γ, both dtypes) it implements.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from perturbation_learning.procedure import Capabilities, NetworkReport, SeedOutput, seedwise

MOMENTUM = 0.9                    # as in the paper's scripts, whatever the config says
SCHEDULER = dict(mode="min", factor=0.1, patience=10, threshold=1e-4)   # torch's defaults
BLOW_UP = 1e6                     # |W| beyond this, or a non-finite loss: diverged


class Net(nn.Module):
    """f(x) = a · leaky_relu(fc1(x), γ); the readout a is a fixed buffer."""

    def __init__(self, d: int, m: int, gamma: float, gen: torch.Generator, dtype: torch.dtype):
        super().__init__()
        self.gamma = gamma
        self.fc1 = nn.Linear(d, m, dtype=dtype)
        with torch.no_grad():  # the paper's initialisation, from the seed's own generator
            nn.init.normal_(self.fc1.weight, 0.0, 1 / math.sqrt(d), generator=gen)
            nn.init.normal_(self.fc1.bias, 0.0, 1.0, generator=gen)
        self.register_buffer("a", torch.randn(m, generator=gen, dtype=dtype) / math.sqrt(m))

    def forward(self, x):
        return F.leaky_relu(self.fc1(x), self.gamma) @ self.a


def loss_fn(name: str):
    # logaddexp, not softplus: softplus returns s itself above s = 20
    return {"identity": lambda s: s, "logistic": lambda s: torch.logaddexp(s, torch.zeros_like(s))}[name]


def dloss(name: str, s):
    return torch.ones_like(s) if name == "identity" else torch.sigmoid(s)


def fit(model: Net, X, y, *, loss: str, lr: float, epochs: int, scheduler: dict):
    """Full-batch SGD(momentum 0.9) + ReduceLROnPlateau. Returns the trained copy and its log."""
    model0, model = model, copy.deepcopy(model)
    opt = torch.optim.SGD(model.fc1.parameters(), lr=lr, momentum=MOMENTUM)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **scheduler)
    ell = loss_fn(loss)
    losses, slopes, lrs, diverged = [], [], [], False
    for epoch in range(epochs):
        opt.zero_grad()
        margin = -y * model(X)
        per_sample = ell(margin)
        L = per_sample.mean()
        losses.append(per_sample.detach().clone())
        if not torch.isfinite(L):
            diverged = True
            break
        L.backward()
        slopes.append(dloss(loss, margin.detach()).double())
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(L.item())
        if not torch.isfinite(model.fc1.weight).all() or model.fc1.weight.abs().max() > BLOW_UP:
            diverged = True
            break
    with torch.no_grad():
        losses.append(ell(-y * model(X)))
    # w_j = η_j + 0.9 w_{j+1}: how far step j's gradient moves the weights in the end
    w, carry = [0.0] * len(lrs), 0.0
    for j in reversed(range(len(lrs))):
        carry = lrs[j] + MOMENTUM * carry
        w[j] = carry
    lam = sum((w_j * s_j for w_j, s_j in zip(w, slopes)), torch.zeros(len(y), dtype=torch.float64)) / len(y)
    return model, dict(t=sum(w), lam=lam, lrs=lrs, losses=torch.stack(losses), diverged=diverged)


def report(model0: Net, model: Net, log: dict, X) -> NetworkReport:
    with torch.no_grad():
        flips = ((model0.fc1(X) > 0) != (model.fc1(X) > 0)).double().mean().item()
    return NetworkReport(W=model.fc1.weight.detach(), b=model.fc1.bias.detach(), a=model.a, W0=model0.fc1.weight.detach(),
                         b0=model0.fc1.bias.detach(), t=log["t"], lam=log["lam"], flip_fraction=flips,
                         diverged=log["diverged"] or not torch.isfinite(log["losses"][-1]).all().item(),
                         final_loss=log["losses"][-1].mean().item(), forward=model, forward0=model0,
                         sample_losses=log["losses"], learning_rates=torch.tensor(log["lrs"], dtype=torch.float64))


def perturb(model: Net, X, y_adv, eps: float, loss: str):
    """ε times the normalised descent direction of ℓ(−y^adv f(x)) at every x_n."""
    x = X.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(loss)(-y_adv * model(x)).sum(), x)
    norm = grad.norm(dim=1, keepdim=True)
    return torch.where(norm > 0, -eps * grad / norm.clamp_min(torch.finfo(grad.dtype).tiny), torch.zeros_like(grad))


def make_seed(scheduler: dict = SCHEDULER):
    """The one-seed function with the given ReduceLROnPlateau keywords."""

    def research_seed(config, X, y, streams) -> SeedOutput:
        d, dtype = X.shape[1], X.dtype
        eps = config.eps * math.sqrt(d) if config.eps_mode == "sqrt-d" else config.eps
        f0 = Net(d, config.width, config.gamma, streams["f_init"], dtype)
        f, log_f = fit(f0, X, y, loss=config.loss, lr=config.lr, epochs=config.epochs_f, scheduler=scheduler)
        if config.targets == "flipped":
            y_adv = -y
        else:
            y_adv = (2 * torch.randint(0, 2, (len(y),), generator=streams["targets"]) - 1).to(dtype)
        if config.attack == "random":
            v = torch.randn(X.shape, generator=streams["control"], dtype=torch.float64).to(dtype)
            r = eps * v / v.norm(dim=1, keepdim=True)
        else:
            r = perturb(f, X, y_adv, eps, config.loss)
            if config.attack == "shuffled":
                r = r[torch.randperm(len(r), generator=streams["control"])]
        X_adv = r if config.scenario == "a" else X + r
        g0 = Net(d, config.width, config.gamma, streams["g_init"], dtype)
        g, log_g = fit(g0, X_adv, y_adv, loss=config.loss, lr=config.lr_g or config.lr, epochs=config.epochs_g,
                       scheduler=scheduler)
        return SeedOutput(f=report(f0, f, log_f, X), g=report(g0, g, log_g, X_adv), y_adv=y_adv, r=r.detach(),
                          X_adv=X_adv.detach(), eps=eps)

    return research_seed


#: What it implements: β fixed at 0.9, no PGD.
CAPABILITIES = Capabilities(momentum=MOMENTUM, attacks=("l2-one-step", "random", "shuffled"))


def make_procedure(**scheduler) -> object:
    """The procedure with ReduceLROnPlateau keywords changed from torch's defaults (``SCHEDULER``)."""
    return seedwise(make_seed({**SCHEDULER, **scheduler}), name="procedure", capabilities=CAPABILITIES)


#: ``pytest checks/ --procedure examples.research_style:procedure``
procedure = make_procedure()
