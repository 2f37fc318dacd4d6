"""Hypothesis strategies for perturbation-learning settings, reusable in your own properties.

Strategies are plural nouns named for what they generate and take keyword-only ``min_``/``max_``
options. Every setting carries integer seeds; the procedure turns each into its own
``torch.Generator``/``numpy.random.Generator`` streams (``perturbation_learning.config.seed_streams``), so Hypothesis
replays and shrinks a failing example exactly. Sizes are bounded by the active profile
(``SIZE_LIMITS``), so the ``ci`` profile trains each example in seconds on a 2-core CPU.

>>> from hypothesis import given
>>> from checks.strategies import lazy_settings
>>> @given(lazy_settings())
... def test_mine(setting):
...     results = run_batch(setting.config, setting.seeds).records

Shrinking: sizes shrink towards their minimum, seeds towards 0, discrete choices towards the
first listed option (shifted-gauss, identity loss, Scenario (a), random targets).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings as hsettings
from hypothesis import strategies as st

from perturbation_learning.data import SYNTHETIC_FAMILIES
from perturbation_learning.config import Config

# Upper size limits per profile: (max d, max N, max m, pairs per example).
SIZE_LIMITS = {
    "fast": dict(max_d=40, max_n=100, max_m=1000, pairs=8),
    "ci": dict(max_d=100, max_n=200, max_m=3000, pairs=12),
    "thorough": dict(max_d=200, max_n=500, max_m=6000, pairs=24),
    "paper": dict(max_d=784, max_n=1000, max_m=8000, pairs=32),
}
# Families sampled by default: every synthetic family plus bundled digits (real, offline).
DATA_FAMILIES = ("shifted-gauss",) + tuple(f for f in SYNTHETIC_FAMILIES if f != "shifted-gauss") + ("digits",)


def limits() -> dict:
    """Size limits of the active Hypothesis profile (unknown profiles use ``ci``)."""
    name = getattr(hsettings, "_current_profile", None) or "ci"
    return SIZE_LIMITS.get(name, SIZE_LIMITS["ci"])


def seeds() -> st.SearchStrategy[int]:
    """Integer seeds for explicit generators; shrink towards 0."""
    return st.integers(0, 2**31 - 1)


def dimensions(*, min_d: int = 2, max_d: int | None = None) -> st.SearchStrategy[int]:
    return st.integers(min_d, max_d or limits()["max_d"])


def sample_sizes(*, min_n: int = 20, max_n: int | None = None) -> st.SearchStrategy[int]:
    return st.integers(min_n, max_n or limits()["max_n"])


def widths(*, min_m: int = 20, max_m: int | None = None) -> st.SearchStrategy[int]:
    return st.integers(min_m, max_m or limits()["max_m"])


def leaky_slopes(*, max_gamma: float = 0.9) -> st.SearchStrategy[float]:
    """γ ∈ [0, max_gamma]; 0 (ReLU) first so failures shrink to the paper's default."""
    return st.one_of(st.just(0.0), st.floats(0.0, max_gamma, allow_nan=False).map(lambda g: round(g, 3)))


def losses() -> st.SearchStrategy[str]:
    return st.sampled_from(["identity", "logistic"])


def scenarios() -> st.SearchStrategy[str]:
    return st.sampled_from(["a", "b"])


def target_modes() -> st.SearchStrategy[str]:
    return st.sampled_from(["random", "flipped"])


def data_families(*, real: bool = True) -> st.SearchStrategy[str]:
    fams = DATA_FAMILIES if real else tuple(f for f in DATA_FAMILIES if f != "digits")
    return st.sampled_from(fams)


def eps_values(*, min_eps: float = 0.0, max_eps: float = 10.0) -> st.SearchStrategy[float]:
    return st.floats(min_eps, max_eps, allow_nan=False).map(lambda e: round(e, 4))


def training_times(*, min_t: float = 0.1, max_t: float = 5.0) -> st.SearchStrategy[float]:
    """Gradient-flow time t = η·T for plain GD (η chosen by the setting)."""
    return st.floats(min_t, max_t, allow_nan=False).map(lambda t: round(t, 3))


@dataclass(frozen=True)
class Setting:
    """A config plus the seeds of its independent network pairs."""

    config: Config
    seeds: tuple[int, ...]

    def describe(self) -> dict:
        c = self.config
        return dict(dataset=c.dataset, d=c.d, N=c.n_train, m=c.width, gamma=c.gamma, loss=c.loss,
                    eps=c.eps, scenario=c.scenario, targets=c.targets, attack=c.attack,
                    t_f=round(c.lr * c.epochs_f, 4), t_g=round((c.lr_g or c.lr) * c.epochs_g, 4),
                    first_seed=self.seeds[0], pairs=len(self.seeds))


def _pair_seeds(base: int, pairs: int) -> tuple[int, ...]:
    return tuple(base * 1000 + i for i in range(pairs))


#: Plain-GD step of the lazy settings. With the identity loss the gradient depends on the patterns
#: only, so while they stay frozen GD at any step equals gradient flow at the same t = η·T.
LAZY_LR = 0.1


@st.composite
def lazy_settings(draw, *, scenario=None, targets=None, loss=None, family=None, eps=None, gamma=None,
                  pairs: int | None = None) -> Setting:
    """Settings meant to lie inside the width assumption L2 for f and for g: wide m, small times,
    plain GD, ε of order one (ε·|v·z| must stay small against √m for g to be lazy, THEORY.md L2).

    Whether a drawn setting is really inside is decided per input by ``theory.lazy.width_assumption``
    on the run, not assumed here; checks restrict to the inside and record the coverage.
    """
    lim = limits()
    fam = family or draw(data_families(), label="family")
    # C1 needs ‖u_n‖ ∝ t·√d above B_ξ ≈ 1 while L2 needs κ ∝ t·d/√m below κ_max: both hold at
    # d ≈ 100, m ≈ 3000, t ≈ 2 (measured: P1 coverage 0.66 on shifted Gauss); smaller d or m
    # leave the conditions uncovered, which the checks then record as observations.
    d = draw(dimensions(min_d=max(10, lim["max_d"] // 2), max_d=lim["max_d"]), label="d")
    n = draw(sample_sizes(min_n=60, max_n=lim["max_n"]), label="N")
    m = draw(widths(min_m=max(200, 3 * lim["max_m"] // 4), max_m=lim["max_m"]), label="m")
    t_f = draw(st.sampled_from([2.0, 1.0, 3.0]), label="t_f")
    t_g = draw(st.sampled_from([2.0, 1.0]), label="t_g")
    cfg = Config(
        dataset=fam, d=d, n_train=n, n_test=400, width=m,
        gamma=gamma if gamma is not None else draw(leaky_slopes(max_gamma=0.5), label="gamma"),
        loss=loss or draw(losses(), label="loss"), lr=LAZY_LR, momentum=0.0,
        epochs_f=int(round(t_f / LAZY_LR)), epochs_g=int(round(t_g / LAZY_LR)),
        eps=eps if eps is not None else draw(st.sampled_from([3.0, 1.0]), label="eps"), eps_mode="absolute",
        scenario=scenario or draw(scenarios(), label="scenario"),
        targets=targets or draw(target_modes(), label="targets"),
    )
    return Setting(cfg, _pair_seeds(draw(seeds(), label="seed"), pairs or lim["pairs"]))


@st.composite
def paper_like_settings(draw, *, scenario=None, family=None, pairs: int | None = None) -> Setting:
    """The paper's training recipe (momentum 0.9, many epochs, tiny ε ∝ √d) at small sizes.

    These lie outside L2 (THEORY.md: the paper's own runs flip ~50% of the patterns); checks
    assert only the headline P3 here and record everything else as observations.
    """
    lim = limits()
    d = draw(dimensions(min_d=10, max_d=lim["max_d"]), label="d")
    n = draw(sample_sizes(min_n=100, max_n=lim["max_n"]), label="N")
    fam = family or draw(st.sampled_from(["shifted-gauss", "aniso-mixture", "student-t", "subspace"]),
                         label="family")
    sc = scenario or draw(scenarios(), label="scenario")
    cfg = Config(dataset=fam, d=d, n_train=n, n_test=500, width=100, gamma=0.0, loss="identity",
                 lr=0.1, momentum=0.9, epochs_f=300, epochs_g=300, eps=0.001 if sc == "a" else 0.01,
                 eps_mode="sqrt-d", scenario=sc, targets="random")
    return Setting(cfg, _pair_seeds(draw(seeds(), label="seed"), pairs or lim["pairs"]))


@st.composite
def control_settings(draw, *, pairs: int | None = None, **overrides) -> Setting:
    """Small lazy settings where real perturbations give agreement ≈ 1, with one ingredient
    replaced by a control (``overrides``, e.g. ``eps=0.0`` or ``attack="random"``). Random targets."""
    lim = limits()
    d = draw(dimensions(min_d=5, max_d=min(30, lim["max_d"])), label="d")
    n = draw(sample_sizes(min_n=50, max_n=min(150, lim["max_n"])), label="N")
    fam = draw(st.sampled_from(["shifted-gauss", "aniso-mixture", "student-t", "subspace", "digits"]),
               label="family")
    cfg = Config(dataset=fam, d=d, n_train=n, n_test=500, width=400, gamma=0.0, loss="identity", lr=0.05,
                 momentum=0.0, epochs_f=60, epochs_g=200, eps=10.0, eps_mode="absolute",
                 scenario=draw(scenarios(), label="scenario"), targets="random")
    return Setting(cfg.replace(**overrides), _pair_seeds(draw(seeds(), label="seed"), pairs or 2 * lim["pairs"]))
