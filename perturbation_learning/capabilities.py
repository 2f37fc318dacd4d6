"""What a procedure declares it implements, so that the checks hold it only to those settings.

A procedure that declares nothing is held to every setting. One that declares :class:`Capabilities`
(``declare(procedure, momentum=0.9)``, ``seedwise(fn, capabilities=...)``) is checked only where it
applies: the check suite draws only supported settings, maps an explicit example where the claim
allows it (a fixed β: the same time t at that β, steps from ``theory.prediction.steps_for_time``;
a dtype: the first declared one), skips one it cannot map with the reason, and reports every
stratum (``theory.strata``) the declaration excludes as "not checked: the procedure does not support
…", never verified and never failed.

>>> procedure = declare(my_procedure, momentum=0.9, attacks=("l2-one-step",))
>>> capabilities_of(procedure).why_not(config)
'the procedure does not support momentum 0 (fixed β = 0.9)'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from theory.model import SCENARIOS
from theory.strata import AXES

from .attacks import ATTACKS, TARGET_MODES
from .validation import DTYPES

#: Per declared tuple: the Config field it restricts, and every value it may name.
CHOICES = {"losses": ("loss", ("identity", "logistic")), "attacks": ("attack", ATTACKS),
           "scenarios": ("scenario", SCENARIOS), "targets": ("targets", TARGET_MODES),
           "dtypes": ("dtype", tuple(DTYPES))}
#: The axes of ``theory.strata.AXES`` a declared tuple restricts.
_AXIS_OF = {"losses": "loss", "scenarios": "scenario", "targets": "targets"}
#: The attack every trained claim is stated for (THEORY.md §1); the others are controls.
REQUIRED_ATTACK = "l2-one-step"


@dataclass(frozen=True)
class Capabilities:
    """The settings a procedure implements; None (the default of every field) means all of them.

    momentum: the one heavy-ball β it trains with whatever the config says (None: the config's β).
    losses, attacks, scenarios, targets, dtypes: the values of those Config fields it implements.
    max_gamma: the largest leaky-ReLU slope γ (0.0: ReLU only; None: any γ in [0, 1)).
    bias: False when its network has no bias (b ≡ 0, never trained): the theory's kernel assumes
    b_k ~ N(0, 1), so only the claims that do not rest on it are checked (``theory.strata``).
    """

    momentum: float | None = None
    losses: tuple | None = None
    attacks: tuple | None = None
    scenarios: tuple | None = None
    targets: tuple | None = None
    max_gamma: float | None = None
    dtypes: tuple | None = None
    bias: bool = True

    def __post_init__(self):
        if self.momentum is not None and (isinstance(self.momentum, bool) or not isinstance(self.momentum, (int, float))
                                          or not 0 <= self.momentum < 1):
            raise ValueError(f"momentum == {self.momentum!r}, must be a fixed β in [0, 1) or None (any)")
        if self.max_gamma is not None and (isinstance(self.max_gamma, bool) or not isinstance(self.max_gamma, (int, float))
                                           or not 0 <= self.max_gamma < 1):
            raise ValueError(f"max_gamma == {self.max_gamma!r}, must be in [0, 1) or None (any γ)")
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias == {self.bias!r}, must be True or False")
        for name, (_, allowed) in CHOICES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str) or not hasattr(value, "__iter__") or not tuple(value):
                raise ValueError(f"{name} == {value!r}, must be a non-empty tuple of {allowed} or None (all)")
            unknown = [v for v in value if v not in allowed]
            if unknown:
                raise ValueError(f"{name} == {tuple(value)!r} names {unknown}, must be among {allowed}")
            object.__setattr__(self, name, tuple(value))
        if self.attacks is not None and REQUIRED_ATTACK not in self.attacks:
            raise ValueError(f"attacks == {self.attacks!r} must include {REQUIRED_ATTACK!r}, the attack every "
                             "trained claim is stated for")

    @property
    def declared(self) -> bool:
        """Whether anything is restricted (False: the procedure is held to every setting)."""
        return self != EVERYTHING

    def why_not(self, config) -> str | None:
        """Why the procedure cannot run ``config`` ("the procedure does not support …"); None if it can."""
        if self.momentum is not None and float(config.momentum) != self.momentum:
            return f"the procedure does not support momentum {config.momentum:g} (fixed β = {self.momentum:g})"
        if self.max_gamma is not None and config.gamma > self.max_gamma:
            return f"the procedure does not support γ = {config.gamma:g} (γ ≤ {self.max_gamma:g})"
        for name, (field, _) in CHOICES.items():
            allowed = getattr(self, name)
            if allowed is not None and getattr(config, field) not in allowed:
                return f"the procedure does not support {field} {getattr(config, field)!r} ({name}: {', '.join(allowed)})"
        return None

    def supports(self, config) -> bool:
        return self.why_not(config) is None

    def map(self, config):
        """``config`` made runnable where that keeps what a claim is about: a fixed β replaces the
        config's, with the fewest steps that reach the same times t and t' at it (at least them:
        ``steps_for_time``); an undeclared dtype becomes the first declared one. Returns the config
        (unchanged when supported), or None where another field is unsupported (the setting is skipped)."""
        from theory.prediction import integrated_time, steps_for_time

        changes = {}
        if self.momentum is not None and float(config.momentum) != self.momentum:
            beta = self.momentum
            for lr, epochs in ((config.lr, "epochs_f"), (config.lr_g or config.lr, "epochs_g")):
                t = integrated_time(lr, getattr(config, epochs), config.momentum)
                changes[epochs] = steps_for_time(t, lr, beta)
            changes["momentum"] = beta
        if self.dtypes is not None and config.dtype not in self.dtypes:
            changes["dtype"] = self.dtypes[0]
        mapped = config.replace(**changes) if changes else config
        return mapped if self.supports(mapped) else None

    def choices(self, name: str, options: tuple) -> tuple:
        """``options`` of a strategy that the declaration keeps, in their order; ``options`` itself
        when it keeps them all or none (then the harness rejects the setting, with the reason)."""
        if name == "momentum":
            return options if self.momentum is None else (self.momentum,)
        allowed = getattr(self, name)
        kept = options if allowed is None else tuple(o for o in options if o in allowed)
        return kept if kept and len(kept) < len(options) else options

    def excluded_strata(self) -> dict[str, str]:
        """Each stratum ("axis=value", ``theory.strata.AXES``) that no supported setting lies in → why."""
        out = {}
        if self.momentum is not None:
            out["momentum=" + ("0" if self.momentum > 0 else ">0")] = (
                f"the procedure does not support momentum {'0' if self.momentum > 0 else '> 0'} "
                f"(fixed β = {self.momentum:g})")
        if self.max_gamma == 0:
            out["gamma=>0"] = "the procedure does not support γ > 0 (ReLU only)"
        for name, axis in _AXIS_OF.items():
            allowed = getattr(self, name)
            for value in AXES[axis]:
                if allowed is not None and value not in allowed:
                    out[f"{axis}={value}"] = f"the procedure does not support {axis} {value!r} ({name}: {', '.join(allowed)})"
        return out

    def excluded_values(self) -> dict[str, tuple]:
        """Per Config field the declaration restricts (loss, attack, …): the values it excludes."""
        return {field: tuple(v for v in allowed if v not in getattr(self, name))
                for name, (field, allowed) in CHOICES.items() if getattr(self, name) is not None}

    def to_dict(self) -> dict:
        """The declaration as plain data (None: all), for the run's metadata."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        """One line: the restricted fields only."""
        parts = [f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if getattr(self, f.name) != f.default]
        return ", ".join(parts) if parts else "nothing declared: held to every setting"


#: The capabilities of a procedure that declares none: every setting.
EVERYTHING = Capabilities()


def declare(procedure, **fields_):
    """Attach ``Capabilities(**fields_)`` to ``procedure`` (as its ``capabilities`` attribute) and return it."""
    if not callable(procedure):
        raise TypeError(f"procedure must be callable, got {type(procedure).__name__}")
    procedure.capabilities = Capabilities(**fields_)
    return procedure


def capabilities_of(procedure) -> Capabilities:
    """The declared capabilities of ``procedure``; :data:`EVERYTHING` when it declares none."""
    caps = getattr(procedure, "capabilities", None)
    if caps is None:
        return EVERYTHING
    if not isinstance(caps, Capabilities):
        raise TypeError(f"capabilities of {getattr(procedure, '__name__', procedure)!r} must be a Capabilities, "
                        f"got {type(caps).__name__}")
    return caps
