"""Hypothesis strategies for perturbation-learning settings, reusable in your own properties.

Strategies are plural nouns named for what they generate and take keyword-only ``min_``/``max_``
options. Every setting carries integer seeds; the procedure turns each into its own
``torch.Generator``/``numpy.random.Generator`` streams (``config.seed_streams``), so Hypothesis
replays and shrinks a failing example exactly.

Validity. A drawn setting always runs: sizes stay within the active profile's :class:`SizeLimits`
and within the data family's own limits, which the strategies ask the family for
(``perturbation_learning.data.family(name)``): real data fix d (``fixed_d``) and bound N by the
train split of the class pair (``max_train``); ``xor`` needs d ≥ 2 (``min_d``).
``tests/test_strategies.py`` draws hundreds of settings per strategy and profile and checks each.

Explicit examples that cover every axis of a claim (γ, loss, scenario, targets): ``checks.axes``.

The sampled choices (γ, loss, scenario, targets, β) are those the procedure under check declares it
implements (``perturbation_learning.capabilities``): all of them, drawn as before, if it declares nothing.

>>> from hypothesis import given
>>> from checks.strategies import lazy_settings
>>> @given(setting=lazy_settings())
... def test_mine(setting):
...     result = run_batch(setting.config, setting.seeds)

Shrinking: sizes shrink towards their minimum, seeds towards 0, discrete choices towards the
first listed option (shifted-gauss, identity loss, Scenario (a), random targets).
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

from hypothesis import settings as hsettings
from hypothesis import strategies as st

from perturbation_learning.attacks import TARGET_MODES
from perturbation_learning.config import Config, get_preset
from perturbation_learning.data import SYNTHETIC_FAMILIES, family, registered_families
from perturbation_learning.training import LOSSES
from theory.model import SCENARIOS
from theory.prediction import integrated_time, steps_for_time

from .session import DIRECT_CALL, current, current_check


@dataclass(frozen=True)
class SizeLimits:
    """Upper size limits of a profile: input dimension, training samples, width, pairs per example."""

    max_d: int
    max_n: int
    max_m: int
    pairs: int

    def tiny(self) -> "SizeLimits":
        """The profile's limits cut to a smoke-run size (one example of every check in seconds)."""
        return SizeLimits(max_d=max(10, self.max_d // 10), max_n=max(30, self.max_n // 10),
                          max_m=max(60, self.max_m // 20), pairs=min(self.pairs, 4))


#: Size limits per Hypothesis profile (profiles themselves: ``checks/profiles.py``).
PROFILE_LIMITS: dict[str, SizeLimits] = {
    "fast": SizeLimits(max_d=40, max_n=100, max_m=1000, pairs=12),
    "ci": SizeLimits(max_d=100, max_n=200, max_m=3000, pairs=12),
    "thorough": SizeLimits(max_d=200, max_n=500, max_m=6000, pairs=24),
    "paper": SizeLimits(max_d=784, max_n=1000, max_m=8000, pairs=32),
}
#: Profiles whose name ends in this suffix are smoke runs of the profile before it (``conftest``):
#: the same strategies at :meth:`SizeLimits.tiny` sizes.
SMOKE_SUFFIX = "-smoke"

#: Class pair of the real data sets in drawn settings (``Config.pair`` syntax).
CLASS_PAIR = "0,1"
#: Families sampled by default: every synthetic family plus bundled digits (real, offline).
DATA_FAMILIES = ("shifted-gauss",) + tuple(f for f in SYNTHETIC_FAMILIES if f != "shifted-gauss") + ("digits",)


def limits(profile: str | None = None) -> SizeLimits:
    """Size limits of ``profile`` (default: the active Hypothesis profile; unknown ones use ``ci``)."""
    name = profile or hsettings.get_current_profile_name()
    smoke = is_smoke_run(name)
    base = PROFILE_LIMITS.get(name[: -len(SMOKE_SUFFIX)] if smoke else name, PROFILE_LIMITS["ci"])
    return base.tiny() if smoke else base


def is_smoke_run(profile: str | None = None) -> bool:
    return (profile or hsettings.get_current_profile_name()).endswith(SMOKE_SUFFIX)


def fixed_sizes(**sizes: int) -> dict[str, int]:
    """Sizes (keys d, n, m, pairs) of a check calibrated at one size: unchanged in every profile,
    cut to the profile's tiny limits in a smoke run, where only the code path is exercised."""
    if not is_smoke_run():
        return sizes
    lim = limits()
    caps = {"d": lim.max_d, "n": lim.max_n, "m": lim.max_m, "pairs": lim.pairs}
    return {k: min(v, caps[k]) for k, v in sizes.items()}


def seeds() -> st.SearchStrategy[int]:
    """Integer seeds for explicit generators; shrink towards 0."""
    return st.integers(0, 2**31 - 1)


def dimensions(*, min_d: int = 2, max_d: int | None = None) -> st.SearchStrategy[int]:
    return st.integers(min_d, max_d or limits().max_d)


def widths(*, min_m: int = 20, max_m: int | None = None) -> st.SearchStrategy[int]:
    return st.integers(min_m, max_m or limits().max_m)


def declared(name: str, options: tuple) -> tuple:
    """The ``options`` of a sampled choice that the procedure under check implements (``Capabilities.choices``)."""
    return current().capabilities.choices(name, options)


def leaky_slopes(*, max_gamma: float = 0.9) -> st.SearchStrategy[float]:
    """γ ∈ [0, max_gamma] (at most the procedure's declared γ); 0 (ReLU) first so failures shrink to the
    paper's default."""
    cap = current().capabilities.max_gamma
    if cap is not None and cap < max_gamma:
        return st.just(0.0) if cap == 0 else leaky_slopes(max_gamma=cap)
    return st.one_of(st.just(0.0), st.floats(0.0, max_gamma, allow_nan=False).map(lambda g: round(g, 3)))


def losses() -> st.SearchStrategy[str]:
    return st.sampled_from(declared("losses", tuple(LOSSES)))


def scenarios() -> st.SearchStrategy[str]:
    return st.sampled_from(declared("scenarios", SCENARIOS))


def target_modes() -> st.SearchStrategy[str]:
    return st.sampled_from(declared("targets", TARGET_MODES))


# ------------------------------------------------------------------ data families and their limits

@functools.lru_cache(maxsize=None)
def train_split_size(name: str, pair: str = CLASS_PAIR) -> int | None:
    """Largest N of family ``name`` for ``pair``: its train split (real data), None (synthetic)."""
    return family(name).max_train(tuple(int(c) for c in pair.split(",")))


def families_within(names, size_limits: SizeLimits) -> tuple[str, ...]:
    """The families among ``names`` whose fixed d (real data) fits the limits."""
    kept = tuple(n for n in names if (family(n).fixed_d or 0) <= size_limits.max_d)
    if not kept:
        raise ValueError(f"no family of {names} fits max_d == {size_limits.max_d}")
    return kept


def data_families(*, real: bool = True, size_limits: SizeLimits | None = None) -> st.SearchStrategy[str]:
    """DATA_FAMILIES and every family registered with ``perturbation_learning.data.register_family``."""
    fams = DATA_FAMILIES + registered_families()
    fams = fams if real else tuple(f for f in fams if family(f).synthetic)
    return st.sampled_from(families_within(fams, size_limits or limits()))


def family_dimensions(name: str, *, min_d: int, max_d: int) -> st.SearchStrategy[int]:
    """d for family ``name``: the data's own d for real data, else [max(min_d, family min), max_d]."""
    cls = family(name)
    if cls.fixed_d is not None:
        return st.just(cls.fixed_d)
    lo = max(min_d, cls.min_d)
    if lo > max_d:
        raise ValueError(f"max_d == {max_d}, but family {name!r} needs d >= {lo}")
    return st.integers(lo, max_d)


def family_sample_sizes(name: str, *, min_n: int, max_n: int, pair: str = CLASS_PAIR) -> st.SearchStrategy[int]:
    """N for family ``name``: [min_n, max_n], capped by the train split of ``pair`` for real data."""
    split = train_split_size(name, pair)
    hi = max_n if split is None else min(max_n, split)
    return st.integers(min(min_n, hi), hi)


def _within(lo: int, hi: int) -> tuple[int, int]:
    """A strategy's preferred lower bound, lowered where the profile's limit is smaller."""
    return min(lo, hi), hi


# ------------------------------------------------------------------ settings

@dataclass(frozen=True)
class Setting:
    """A config plus the seeds of its independent network pairs."""

    config: Config
    seeds: tuple[int, ...]

    def describe(self) -> dict:
        c = self.config
        return dict(dataset=c.dataset, d=c.d, N=c.n_train, m=c.width, gamma=c.gamma, loss=c.loss,
                    eps=c.eps, scenario=c.scenario, targets=c.targets, attack=c.attack, momentum=c.momentum,
                    t_f=round(integrated_time(c.lr, c.epochs_f, c.momentum), 4),
                    t_g=round(integrated_time(c.lr_g or c.lr, c.epochs_g, c.momentum), 4),
                    first_seed=self.seeds[0], pairs=len(self.seeds))

    def with_config(self, **changes) -> "Setting":
        return Setting(self.config.replace(**changes), self.seeds)


#: A check's pair seeds are offset by CHECK_SALT_STRIDE · (a hash of the check's name): above every seed
#: a check uses (base·1000 + i with base < 2**31, plus the sequential batches' k·2**42, k < 4), so two
#: checks never train the same pair. Hypothesis's minimal example (seed 0) and the explicit examples
#: (bases 1, 2) would otherwise give every check the same pairs, which its pooled test would count
#: as independent evidence several times (STATISTICS.md, "Pooling across examples").
CHECK_SALT_STRIDE = 2**44
_SALTS = 2**18


def check_salt(check: str, item: str | None = None) -> int:
    """The seed offset of the check named ``check`` (0 outside a check: scripts and direct calls); with
    ``item``, of that item of a parametrized check (keyed like pytest's item name, "check[item]")."""
    if check == DIRECT_CALL:
        return 0
    key = check if item is None else f"{check}[{item}]"
    return (zlib.crc32(key.encode()) % _SALTS) * CHECK_SALT_STRIDE


def salted(seeds, check: str) -> tuple[int, ...]:
    """``seeds`` as the check named ``check`` trains them."""
    return tuple(int(s) + check_salt(check) for s in seeds)


def salted_for_item(setting: Setting, item: str, check: str | None = None) -> Setting:
    """``setting``, drawn or an explicit example of ``check`` (default: the running check, whose salt its
    seeds carry), moved to the salt of its item ``item``: a parametrized check's items draw the same
    settings (one Hypothesis seed, the same examples), and would otherwise train the same pairs."""
    check = current_check() if check is None else check
    shift = check_salt(check, item) - check_salt(check)
    return Setting(setting.config, tuple(int(s) + shift for s in setting.seeds))


def pair_seeds(base: int, pairs: int, check: str | None = None) -> tuple[int, ...]:
    """``pairs`` distinct seeds derived from ``base`` (distinct for pairs ≤ 1000), salted for ``check``
    (default: the running check, ``checks.session.current_check``)."""
    if not 1 <= pairs <= 1000:
        raise ValueError(f"pairs == {pairs}, must be in [1, 1000] so that the pair seeds stay distinct")
    return salted((base * 1000 + i for i in range(pairs)), current_check() if check is None else check)


#: Step of the lazy settings. With the identity loss the gradient depends on the patterns only, so
#: while they stay frozen GD at any step, with or without heavy-ball momentum, equals gradient flow at
#: the time the steps integrate (``theory.prediction.integrated_time``).
LAZY_LR = 0.1
#: Momentum choices: plain GD, and the heavy-ball β of the paper's recipe (``Config``'s default), at
#: the same step η = 0.1 as the paper's synthetic runs, for a time t where L2 holds (7 steps integrate
#: t = 2.3, where plain GD takes 20 to reach t = 2).
MOMENTA = (0.0, 0.9)
#: ε choices of the lazy settings: of order one, so that g stays lazy too (THEORY.md L2).
LAZY_EPS = (3.0, 1.0)


def _choice(draw, fixed, strategy, label):
    """``fixed`` if given; a tuple/list of choices is sampled; otherwise ``strategy`` is drawn."""
    if isinstance(fixed, (tuple, list)):
        return draw(st.sampled_from(tuple(fixed)), label=label)
    return fixed if fixed is not None else draw(strategy, label=label)


def lazy_ranges(lim: SizeLimits) -> dict:
    # C1 needs ‖u_n‖ ∝ t·√d above B_ξ ≈ 1 while L2 needs κ ∝ t·d/√m below κ_max: both hold at
    # d ≈ 100, m ≈ 3000, t ≈ 2 (measured: P1 coverage 0.66 on shifted Gauss); smaller d or m
    # leave the conditions uncovered, which the checks then record as observations.
    return dict(d=_within(max(10, lim.max_d // 2), lim.max_d), n=_within(60, lim.max_n),
                m=_within(max(200, 3 * lim.max_m // 4), lim.max_m))


def lazy_config(*, family_name, d, n, m, t_f, t_g, gamma, loss, eps, scenario, targets, momentum=0.0) -> Config:
    """t_f, t_g: the times to reach; the steps are the fewest that integrate them (at least them)."""
    return Config(dataset=family_name, d=d, n_train=n, n_test=400, pair=CLASS_PAIR, width=m, gamma=gamma,
                  loss=loss, lr=LAZY_LR, momentum=momentum, epochs_f=steps_for_time(t_f, LAZY_LR, momentum),
                  epochs_g=steps_for_time(t_g, LAZY_LR, momentum), eps=eps, eps_mode="absolute", scenario=scenario,
                  targets=targets)


@st.composite
def lazy_settings(draw, *, scenario=None, targets=None, loss=None, family=None, eps=None, gamma=None,
                  momentum=None, pairs: int | None = None, size_limits: SizeLimits | None = None) -> Setting:
    """Settings meant to lie inside the width assumption L2 for f and for g: wide m, small times,
    plain GD or heavy-ball (:data:`MOMENTA`), ε of order one (ε·|v·z| must stay small against √m
    for g to be lazy, THEORY.md L2).

    Each keyword fixes its axis; ``eps`` may also be a tuple of choices. Whether a drawn setting
    is really inside is decided per input by ``theory.lazy.width_assumption`` on the run, not
    assumed here; checks restrict to the inside and record the coverage.
    """
    lim = size_limits or limits()
    r = lazy_ranges(lim)
    fam = family or draw(data_families(size_limits=lim), label="family")
    d = draw(family_dimensions(fam, min_d=r["d"][0], max_d=r["d"][1]), label="d")
    n = draw(family_sample_sizes(fam, min_n=r["n"][0], max_n=r["n"][1]), label="N")
    m = draw(st.integers(*r["m"]), label="m")
    t_f = draw(st.sampled_from([2.0, 1.0, 3.0]), label="t_f")
    t_g = draw(st.sampled_from([2.0, 1.0]), label="t_g")
    cfg = lazy_config(
        family_name=fam, d=d, n=n, m=m, t_f=t_f, t_g=t_g,
        gamma=_choice(draw, gamma, leaky_slopes(max_gamma=0.5), "gamma"),
        loss=_choice(draw, loss, losses(), "loss"),
        eps=_choice(draw, eps, st.sampled_from(LAZY_EPS), "eps"),
        scenario=_choice(draw, scenario, scenarios(), "scenario"),
        targets=_choice(draw, targets, target_modes(), "targets"),
        momentum=_choice(draw, momentum, st.sampled_from(declared("momentum", MOMENTA)), "momentum"))
    return Setting(cfg, pair_seeds(draw(seeds(), label="seed"), pairs or lim.pairs))


#: The size where the lazy conditions cover test inputs (THEORY.md's lazy preset cut to ci size:
#: P1 coverage 0.66, measured); explicit examples and the lazy preset use it in every profile.
LAZY_CALIBRATION = dict(d=100, n=150, m=3000)


def lazy_preset_setting(seed: int, *, pairs: int = 12, **changes) -> Setting:
    """THEORY.md's lazy preset (§7) with g made lazy too (ε·t' from 100 to 6: at ε = 10, t' = 10, g
    flips ~35% of its patterns and L2 covers < 1% of inputs) and N, m cut to ci size, where P1's
    coverage is 0.66 (measured); ``changes`` as for ``Config.replace``. One fixed size in every
    profile (:func:`fixed_sizes`)."""
    size = fixed_sizes(**LAZY_CALIBRATION, pairs=pairs)
    cfg = get_preset("lazy-shifted-gauss-a").replace(
        **{**dict(d=size["d"], n_train=size["n"], n_test=300, width=size["m"], lr=0.1, epochs_f=20, epochs_g=20,
                  eps=3.0), **changes})
    setting = Setting(cfg, pair_seeds(seed, size["pairs"]))
    return current().runnable(setting) or setting  # one it cannot run is rejected by the harness, with the reason


@st.composite
def paper_like_settings(draw, *, scenario=None, family=None, pairs: int | None = None,
                        size_limits: SizeLimits | None = None) -> Setting:
    """The paper's training recipe (momentum 0.9, many epochs, tiny ε ∝ √d) at small sizes.

    These lie outside L2 (THEORY.md: the paper's own runs flip ~50% of the patterns); checks
    assert only the headline P3 here and record everything else as observations.
    """
    lim = size_limits or limits()
    fam = family or draw(st.sampled_from(families_within(
        ("shifted-gauss", "aniso-mixture", "student-t", "subspace"), lim)), label="family")
    d = draw(family_dimensions(fam, min_d=min(10, lim.max_d), max_d=lim.max_d), label="d")
    n = draw(family_sample_sizes(fam, min_n=100, max_n=lim.max_n), label="N")
    sc = scenario or draw(scenarios(), label="scenario")
    cfg = Config(dataset=fam, d=d, n_train=n, n_test=500, pair=CLASS_PAIR, width=min(100, lim.max_m),
                 gamma=0.0, loss="identity", lr=0.1, momentum=0.9, epochs_f=300, epochs_g=300,
                 eps=0.001 if sc == "a" else 0.01, eps_mode="sqrt-d", scenario=sc, targets="random")
    setting = Setting(cfg, pair_seeds(draw(seeds(), label="seed"), pairs or lim.pairs))
    return current().runnable(setting) or setting


#: The families of the control settings (small and fast; digits is real data).
CONTROL_FAMILIES = ("shifted-gauss", "aniso-mixture", "student-t", "subspace", "digits")
#: Width of the control settings (at most the profile's max_m): wide enough that real
#: perturbations give agreement ≈ 1 (0.71–0.98 measured), which the controls must remove.
CONTROL_WIDTH = 400


#: Step and times of the control settings: f for t = 3, g for t' = 10 (plain GD: 60 and 200 steps).
CONTROL_LR, CONTROL_TIMES = 0.05, (3.0, 10.0)


def control_config(*, family_name, d, n, m, scenario, gamma=0.0, loss="identity", momentum=0.0) -> Config:
    t_f, t_g = CONTROL_TIMES
    return Config(dataset=family_name, d=d, n_train=n, n_test=500, pair=CLASS_PAIR, width=m, gamma=gamma,
                  loss=loss, lr=CONTROL_LR, momentum=momentum, epochs_f=steps_for_time(t_f, CONTROL_LR, momentum),
                  epochs_g=steps_for_time(t_g, CONTROL_LR, momentum), eps=10.0, eps_mode="absolute",
                  scenario=scenario, targets="random")


@st.composite
def control_settings(draw, *, pairs: int | None = None, size_limits: SizeLimits | None = None,
                     **overrides) -> Setting:
    """Small lazy settings where real perturbations give agreement ≈ 1, with one ingredient
    replaced by a control (``overrides``, e.g. ``eps=0.0`` or ``attack="random"``). Random targets."""
    lim = size_limits or limits()
    fam = draw(st.sampled_from(families_within(CONTROL_FAMILIES, lim)), label="family")
    d = draw(family_dimensions(fam, min_d=min(5, lim.max_d), max_d=min(30, lim.max_d)), label="d")
    n = draw(family_sample_sizes(fam, min_n=50, max_n=min(150, lim.max_n)), label="N")
    cfg = control_config(family_name=fam, d=d, n=n, m=min(CONTROL_WIDTH, lim.max_m),
                          scenario=draw(scenarios(), label="scenario"),
                          momentum=draw(st.sampled_from(declared("momentum", MOMENTA)), label="momentum"))
    return Setting(cfg.replace(**overrides), pair_seeds(draw(seeds(), label="seed"), pairs or 2 * lim.pairs))


#: The PGD attacks (THEORY.md states only R2 for them) and their steps: few, each costs ∇f on D.
PGD_ATTACKS, PGD_STEPS = ("pgd-l2", "pgd-linf"), 5


@st.composite
def pgd_settings(draw, *, attack=None, pairs: int = 2) -> Setting:
    """:func:`lazy_settings` on shifted Gauss cut to d ≤ 20, N ≤ 60, m ≤ 400, perturbed by PGD (``attack``)."""
    lim = limits()
    small = SizeLimits(max_d=min(20, lim.max_d), max_n=min(60, lim.max_n), max_m=min(400, lim.max_m), pairs=pairs)
    base = draw(lazy_settings(family="shifted-gauss", size_limits=small, pairs=pairs), label="lazy setting")
    kind = _choice(draw, attack, st.sampled_from(PGD_ATTACKS), "attack")
    return Setting(base.config.replace(attack=kind, pgd_steps=PGD_STEPS, n_test=100), base.seeds)
