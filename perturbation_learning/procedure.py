"""The procedure interface: what any implementation of perturbation learning hands to the checks.

A **procedure** is a callable ``procedure(config, sample, streams) -> ProcedureOutput``:

- ``config``: the :class:`~perturbation_learning.config.Config` of the run (width, γ, loss, lr,
  momentum, epochs, attack, ε, targets, scenario, dtype);
- ``sample``: the data, a :class:`Sample` of tensors stacked on a leading seed axis (X (B, N, d),
  y (B, N) with entries ±1, and fresh test inputs Z, yz), drawn by the run, not by the procedure;
- ``streams``: one dict of generators per seed (``config.seed_streams``): ``f_init``, ``g_init``,
  ``targets``, ``control`` (torch), and the numpy streams the data were drawn from.

It trains f on (X, y), draws targets y^adv, crafts r, trains a fresh g on (X^adv, y^adv) and returns:

- f, g and their initial networks f_0, g_0: callables on inputs with their parameters W, b, a, γ;
- t and Λ for f and for g, the pattern-flip fractions and divergence flags (:class:`TrainResult`);
- y^adv, r and X^adv, and the effective ε.

The run measures everything else (accuracies, agreement, the predicted directions u_n, every
theory quantity) from these, so each implementation is measured and checked identically:
``run.run_batch(config, seeds, procedure=...)`` and ``pytest checks/ --procedure module:object``.
The project's batched trainer (``run.perturbation_learning``) is the default implementation.

Most implementations train one seed at a time; :func:`seedwise` turns a function
``fn(config, X, y, streams) -> SeedOutput`` of one seed into a procedure. A network is reported as
:class:`NetworkReport`: its parameters, and optionally the implementation's own forward function,
which is then what f(z) and ∇f(z) (by autograd) are computed with; without one, the formula
f(x) = Σ_k a_k φ(w_k·x + b_k) of ``network.TwoLayerNet`` is used.

A procedure that implements only some settings (one fixed momentum, some losses or attacks) declares
them (:class:`~perturbation_learning.capabilities.Capabilities`, ``declare``, or ``seedwise(fn,
capabilities=...)``); the checks then hold it to those settings only and report the rest as not checked.
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, runtime_checkable

import numpy as np
import torch

from .capabilities import EVERYTHING, Capabilities, capabilities_of, declare  # noqa: F401 (re-exported)
from .network import TwoLayerNet, stack_networks
from .training import TrainResult


@dataclass
class Sample:
    """The data of a batch of seeds: D = (X, y) and the fresh test samples (Z, yz), stacked on a
    leading seed axis, in the run's dtype and device."""

    X: torch.Tensor
    y: torch.Tensor
    Z: torch.Tensor
    yz: torch.Tensor

    @property
    def d(self) -> int:
        return self.X.shape[-1]


@dataclass
class ProcedureOutput:
    """What a procedure returns, batched over seeds (leading axis B)."""

    f: TrainResult
    g: TrainResult
    y_adv: torch.Tensor   # (B, N), ±1
    r: torch.Tensor       # (B, N, d)
    X_adv: torch.Tensor   # (B, N, d): r (Scenario (a)) or X + r (Scenario (b))
    eps: float
    seconds_f: float = 0.0
    seconds_g: float = 0.0


@runtime_checkable
class Procedure(Protocol):
    """Train f, perturb toward y^adv, train g; see the module docstring."""

    def __call__(self, config, sample: Sample, streams: list[dict]) -> ProcedureOutput: ...


# ---------------------------------------------------------------- networks reported by a procedure

@dataclass
class FunctionNet(TwoLayerNet):
    """A :class:`TwoLayerNet` whose f is the implementation's own function.

    ``functions`` holds one callable per network of the batch (one for an unbatched net), each
    mapping inputs (n, d) to outputs (n,); ∇f comes from autograd through it. Parameters W, b, a
    stay available to the theory (kernels, Φ_m, laziness) and for activation patterns.
    """

    functions: tuple = ()
    input_dtype: Optional[torch.dtype] = None  # the dtype the functions take; None: the parameters'

    def _fn_input(self, X: torch.Tensor) -> torch.Tensor:
        return X.to(self.input_dtype or self.W.dtype)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check_input(X)
        if not self.batch_shape:
            return self._call(self.functions[0], X)
        return torch.stack([self._call(fn, X[i] if X.ndim == 3 else X) for i, fn in enumerate(self.functions)])

    __call__ = forward

    def _call(self, fn: Callable, X: torch.Tensor) -> torch.Tensor:
        out = fn(self._fn_input(X))
        if not isinstance(out, torch.Tensor) or out.shape != X.shape[:-1]:
            raise ValueError(f"a procedure's network function returned {type(out).__name__} of shape "
                             f"{tuple(getattr(out, 'shape', ()))}, must be a tensor of shape {tuple(X.shape[:-1])}")
        return out.detach().to(X.dtype)

    def input_grad(self, X: torch.Tensor) -> torch.Tensor:
        """∇_x f(x_n) by autograd through the implementation's function, shape (…, N, d)."""
        X = self._check_input(X)

        def grad(fn, x):
            x = self._fn_input(x).detach().clone().requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(fn(x).sum(), x)
            return g.detach().to(X.dtype)

        if not self.batch_shape:
            return grad(self.functions[0], X)
        return torch.stack([grad(fn, X[i] if X.ndim == 3 else X) for i, fn in enumerate(self.functions)])

    def __getitem__(self, i) -> "FunctionNet":
        if not self.batch_shape:
            raise TypeError("an unbatched FunctionNet cannot be indexed")
        fns = self.functions[i]
        return FunctionNet(self.W[i], self.b[i], self.a[i], self.gamma,
                           tuple(fns) if isinstance(i, slice) else (fns,), self.input_dtype)

    def clone(self) -> "FunctionNet":
        return FunctionNet(self.W.clone(), self.b.clone(), self.a.clone(), self.gamma, self.functions,
                           self.input_dtype)

    def to_dtype(self, dtype: torch.dtype) -> "FunctionNet":
        """Parameters cast to ``dtype``; the functions keep taking their own dtype."""
        return FunctionNet(self.W.to(dtype), self.b.to(dtype), self.a.to(dtype), self.gamma, self.functions,
                           self.input_dtype or self.W.dtype)


def as_dtype(net: TwoLayerNet, dtype: torch.dtype) -> TwoLayerNet:
    """``net`` with its parameters cast to ``dtype``, keeping an implementation's own functions."""
    if isinstance(net, FunctionNet):
        return net.to_dtype(dtype)
    return TwoLayerNet(net.W.to(dtype), net.b.to(dtype), net.a.to(dtype), net.gamma)


@dataclass
class NetworkReport:
    """One trained network of one seed, as an implementation reports it.

    W (m, d), b (m,), a (m,): the trained parameters (a is fixed by training); W0, b0: the initial
    first layer. ``forward``/``forward0``: the implementation's own f and f_0 on inputs (n, d) → (n,),
    differentiable by autograd; None uses the formula on the parameters.
    t: integrated time; lam: Λ_n (N,); flip_fraction: share of (n, k) patterns on the training inputs
    that flipped; diverged: training produced a non-finite loss or exploding weights.
    Optional, for the conformance claims (THEORY.md R1, R3, R4; "not checked (not reported)" without
    them): final_loss, the training loss after the last step; sample_losses (T+1, N), the per-sample
    losses ℓ(−y_n f_j(x_n)) on the network's own training set before each step j and after the last;
    learning_rates (T,), the step size used at each step j (a schedule): R4 then checks t and Λ against
    these (``theory.conformance.step_weights``); without them, against the config's constant η.
    """

    W: torch.Tensor
    b: torch.Tensor
    a: torch.Tensor
    W0: torch.Tensor
    b0: torch.Tensor
    t: float
    lam: torch.Tensor
    flip_fraction: float
    diverged: bool
    final_loss: float = math.nan
    forward: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    forward0: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    sample_losses: Optional[torch.Tensor] = None
    learning_rates: Optional[object] = None


@dataclass
class SeedOutput:
    """What a one-seed implementation returns (see :func:`seedwise`)."""

    f: NetworkReport
    g: NetworkReport
    y_adv: torch.Tensor
    r: torch.Tensor
    X_adv: torch.Tensor
    eps: float
    seconds: float = field(default=0.0)


def _batched(reports: list[NetworkReport], gamma: float, dtype: torch.dtype) -> TrainResult:
    def net(params, fns):
        stacked = stack_networks([TwoLayerNet(W.to(dtype), b.to(dtype), a.to(dtype), gamma) for W, b, a in params])
        if all(fn is None for fn in fns):
            return stacked
        if any(fn is None for fn in fns):
            raise ValueError("a procedure must report its own network function for every seed or for none")
        return FunctionNet(stacked.W, stacked.b, stacked.a, gamma, tuple(fns), dtype)

    valid_t = [r.t for r in reports if not r.diverged] or [reports[0].t]
    return TrainResult(
        net=net([(r.W, r.b, r.a) for r in reports], [r.forward for r in reports]),
        net0=net([(r.W0, r.b0, r.a) for r in reports], [r.forward0 for r in reports]),
        t=float(valid_t[0]),
        lam=torch.stack([torch.as_tensor(r.lam, dtype=torch.float64) for r in reports]),
        loss_curve=np.array([[r.final_loss] for r in reports], dtype=np.float64),
        flip_fraction=np.array([r.flip_fraction for r in reports], dtype=np.float64),
        diverged=np.array([bool(r.diverged) for r in reports]),
        steps_run=0,
        info={"t_per_seed": [float(r.t) for r in reports], **_schedules(reports)},
        sample_losses=_stacked_losses([r.sample_losses for r in reports]),
    )


def _schedules(reports: list[NetworkReport]) -> dict:
    """``learning_rates_per_seed``: each seed's (T,) step sizes as a float64 array, when every seed reports them."""
    if any(r.learning_rates is None for r in reports):
        if any(r.learning_rates is not None for r in reports):
            raise ValueError("a procedure must report learning_rates for every seed or for none")
        return {}
    rates = [np.asarray(torch.as_tensor(r.learning_rates, dtype=torch.float64).cpu(), dtype=np.float64).reshape(-1)
             for r in reports]
    return {"learning_rates_per_seed": rates}


def _stacked_losses(per_seed: list) -> torch.Tensor | None:
    """Per-sample loss curves of every seed, stacked (B, T+1, N); a curve cut short by divergence is
    padded with NaN. None when a seed did not report one."""
    if any(c is None for c in per_seed):
        return None
    curves = [torch.as_tensor(c, dtype=torch.float64) for c in per_seed]
    rows = max(c.shape[0] for c in curves)
    return torch.stack([torch.cat([c, c.new_full((rows - c.shape[0],) + c.shape[1:], float("nan"))])
                        for c in curves])


def seedwise(fn: Callable, *, name: str | None = None, capabilities: Capabilities | None = None) -> Procedure:
    """A procedure that calls ``fn(config, X, y, streams) -> SeedOutput`` once per seed.

    ``X`` (N, d) and ``y`` (N,) are one seed's training data in the run's dtype; ``streams`` is that
    seed's dict of generators. ``capabilities``: what ``fn`` implements (None: every setting).
    """
    if capabilities is not None and not isinstance(capabilities, Capabilities):
        raise TypeError(f"capabilities must be a Capabilities or None, got {type(capabilities).__name__}")
    if not callable(fn):
        raise TypeError(f"fn must be callable (config, X, y, streams) -> SeedOutput, got {type(fn).__name__}")

    def procedure(config, sample: Sample, streams: list[dict]) -> ProcedureOutput:
        outs = []
        for i, st in enumerate(streams):
            t0 = time.perf_counter()
            out = fn(config, sample.X[i], sample.y[i], st)
            if not isinstance(out, SeedOutput):
                raise TypeError(f"{procedure.__name__} must return a SeedOutput, got {type(out).__name__}")
            out.seconds = out.seconds or time.perf_counter() - t0
            outs.append(out)
        dtype = sample.X.dtype
        return ProcedureOutput(
            f=_batched([o.f for o in outs], config.gamma, dtype), g=_batched([o.g for o in outs], config.gamma, dtype),
            y_adv=torch.stack([o.y_adv.to(dtype) for o in outs]), r=torch.stack([o.r.to(dtype) for o in outs]),
            X_adv=torch.stack([o.X_adv.to(dtype) for o in outs]), eps=float(outs[0].eps),
            seconds_f=sum(o.seconds for o in outs), seconds_g=0.0)

    procedure.__name__ = name or getattr(fn, "__name__", "procedure")
    procedure.__qualname__ = procedure.__name__
    procedure.__module__ = getattr(fn, "__module__", None) or __name__
    procedure.__doc__ = fn.__doc__
    if capabilities is not None:
        procedure.capabilities = capabilities
    return procedure


# ---------------------------------------------------------------- choosing a procedure by name

DEFAULT_PROCEDURE = "perturbation_learning.run:perturbation_learning"


def load_procedure(spec: str | None) -> Procedure:
    """The procedure named ``module:object`` (an importable module and a callable in it); None or
    '' gives the project's batched trainer."""
    spec = spec or DEFAULT_PROCEDURE
    if not isinstance(spec, str):
        raise TypeError(f"procedure must be a 'module:object' string, got {type(spec).__name__}")
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"procedure == {spec!r}, must be 'module:object' (e.g. {DEFAULT_PROCEDURE!r})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"procedure == {spec!r}: cannot import module {module_name!r} ({exc})") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"procedure == {spec!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"procedure == {spec!r} is a {type(obj).__name__}, must be callable "
                         "(config, sample, streams) -> ProcedureOutput")
    return obj


def procedure_name(procedure) -> str:
    """'module:object' of a procedure, for reports."""
    module = getattr(procedure, "__module__", None) or type(procedure).__module__
    name = getattr(procedure, "__qualname__", None) or getattr(procedure, "__name__", None) or type(procedure).__name__
    return f"{module}:{name}"
