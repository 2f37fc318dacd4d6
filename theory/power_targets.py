"""The power target of every claim: the violation its test must detect with probability ≥ POWER, each with
its reason and what it costs (``theory.tolerances`` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass, field

@dataclass(frozen=True)
class PowerTarget:
    """What the test of a claim must detect, with probability ≥ POWER at its α and pair budget.

    ``rule``:
    - "margin": a share or mean claim with bound b must detect a true mean b + amount ("at most") or
      b − amount ("at least"); ``detects`` is a mean.
    - "factor": must detect a true mean amount × b ("at most"); ``detects`` is a mean.
    - "effect": a slope claim must detect a deviation of the true slope by ``amount``; ``detects`` is
      that deviation.
    - "exact": a deterministic comparison (closed forms, identities, numerical tolerances): any value
      beyond the bound fails with probability 1, so ``detects`` is the bound.
    """

    rule: str
    amount: float
    reason: str = field(repr=False)

    def __post_init__(self):
        if self.rule not in ("margin", "factor", "effect", "exact"):
            raise ValueError(f"rule == {self.rule!r}, must be one of ['margin', 'factor', 'effect', 'exact']")

    def target(self, bound: float, side: str = "at most") -> float:
        """The violation that must be detected: a mean (margin, factor), a slope deviation (effect), or
        the bound itself (exact)."""
        if self.rule == "margin":
            return bound + self.amount if side == "at most" else bound - self.amount
        if self.rule == "factor":
            return self.amount * bound if side == "at most" else 1 - self.amount * (1 - bound)
        return self.amount if self.rule == "effect" else bound

    def reached(self, detects: float | None, bound: float, side: str = "at most") -> bool:
        """Whether a test that ``detects`` this violation meets the target (None: no power, False)."""
        if self.rule == "exact":
            return True
        if detects is None:
            return False
        goal = self.target(bound, side)
        if self.rule == "effect" or side == "at most":
            return detects <= goal + 1e-12
        return detects >= goal - 1e-12


#: Default for share claims (a per-pair share of points where a per-point bound fails, bound a
#: multiple of δ): detect a true mean share of bound + 0.10. At P1's bound 3δ = 0.15 that is a g
#: which contradicts f on a quarter of the covered inputs. Against violations that fall unevenly on the
#: pairs (CV 1 and CV 3, ``theory.power``) it needs about 500 independent pairs at P1's bound 0.03
#: (α = 1e-6: 140 pairs detect +0.22, 300 +0.135, 500 +0.10, 800 +0.08), so a run's pooled tests
#: over 100–150 pairs read "not rejected, underpowered", with what they do detect.
SHARE_POWER_MARGIN = 0.10

#: The controls assert chance level, agreement (or accuracy on D) ≈ 1/2. A control must catch a leak of
#: the signal the control removes; perturbation learning puts agreement at 0.71–0.98 in the control
#: settings (checks/test_controls.py), so chance ± 0.20 is to be detected. Against a leak that falls
#: unevenly on the pairs (CV 1 and CV 3, ``theory.power``) that needs about 376 pooled pairs per control
#: (α = 5e-7 per side: 200 pairs detect chance + 0.265, 376 + 0.20, 500 + 0.175): the bet on a mean
#: near 1/2 gains at most a factor 1 + 0.75·0.2/0.5 per pair.
CONTROL_POWER_MARGIN = 0.20

_SHARE = PowerTarget("margin", SHARE_POWER_MARGIN, "share claim: detect a true mean share of bound + 0.10")
_EXACT = "deterministic comparison with a numerical tolerance: every value beyond it fails"
_CONTROL = PowerTarget("margin", CONTROL_POWER_MARGIN,
                       "control at chance: detect a leak of signal, agreement 1/2 ± 0.20 (signal gives 0.71–0.98)")

#: The conformance claims (THEORY.md §8): a procedure's report checked against itself on every trained
#: pair of every check (``checks.conformance``), so no check names them with a marker. R6 checks the
#: run's own measurements (accuracies, agreement, cosines) against their definitions on the same pairs.
CONFORMANCE_CLAIMS = ("R1", "R2", "R3", "R4", "R5", "R6", "R7")

#: Power target of every claim the checks assert (claim ID → PowerTarget), each with its reason.
POWER_TARGETS = {
    "K1": PowerTarget("exact", 0.0, _EXACT),
    "K2": PowerTarget("exact", 0.0, _EXACT),
    "K3": PowerTarget("effect", 0.25,
                      "rate m^(-1/2): detect a slope off by 1/4 (m^(-1/4), a slowly vanishing bias, or m^(-3/4)); "
                      "the Monte Carlo records are exact comparisons with a Hoeffding half-width"),
    "L1": PowerTarget("factor", 2.0, "relative lazy error: detect a mean error of 2× its bound (at bound 0.25 "
                                     "and α = 1e-6: 108 pairs detect 2.33×, 300 pairs 1.83×)"),
    "L2": PowerTarget("factor", 2.0,
                      "flip share ≤ 2× atan(κ)/π: detect 2× the bound (4× the prediction), a flip share of "
                      "another order in κ (√κ/κ ≥ 1.75 for κ ≤ κ_max = 0.325)"),
    "D1": _SHARE,
    "D2": _SHARE,
    "D3": _SHARE,
    "D4": PowerTarget("effect", 0.0,
                      "asserted as 'the t-slope's interval lies below 0': a flat or rising 1 − cos (deviation "
                      "0 from the violation) fails with probability ≥ 1 − α/2"),
    "D5": _SHARE,
    "C2": _SHARE,
    "C3": _SHARE,
    "P1": _SHARE,
    "P2": _SHARE,
    "P3": PowerTarget("margin", 0.30,
                      "pair share ≥ 0.9 (Clopper–Pearson): detect a true share of 0.6 of pairs that learn; "
                      "a share of 0.8 would need ≈ 420 pairs at α = 2e-6"),
    "P4": _SHARE,
    "P5": _SHARE,
    "CTRL-eps0": _CONTROL,
    "CTRL-random": _CONTROL,
    "CTRL-shuffle": _CONTROL,
    "CTRL-untrained": _CONTROL,
    **{c: PowerTarget("exact", 0.0, "identity up to a derived rounding tolerance: every value beyond it fails")
       for c in CONFORMANCE_CLAIMS if c != "R7"},
    "R7": PowerTarget("margin", 0.3, "g_0 independent of f_0 (null mean 1/2): detect a mean ρ(f_0, g_0) of 0.6"),
}

#: Records whose statistic is a lazy relative error (L1's, also recorded for g under P2) use L1's target.
LAZY_ERROR_POWER_TARGET = POWER_TARGETS["L1"]

#: Coverage floors (P1, P4, D2, D3: the share of inputs where the conditions hold, as a mean over
#: pairs) are asserted as evidence *for* coverage above the floor (H0: mean coverage ≤ floor rejected
#: by the betting test at EVIDENCE_ALPHA): a vacuous check (coverage at or below the floor) fails with
#: probability ≥ 1 − EVIDENCE_ALPHA.
COVERAGE_POWER_TARGET = PowerTarget("exact", 0.0, "coverage shown above its floor: a vacuous check fails")

_OTHER_TARGETS = {"lazy error": LAZY_ERROR_POWER_TARGET, "coverage": COVERAGE_POWER_TARGET}


def power_target(key: str) -> PowerTarget:
    """The power target of a claim ID, or of the statistic kinds "lazy error" and "coverage"."""
    if key in POWER_TARGETS:
        return POWER_TARGETS[key]
    if key in _OTHER_TARGETS:
        return _OTHER_TARGETS[key]
    raise ValueError(f"key == {key!r}, must be a claim ID with a power target or one of {sorted(_OTHER_TARGETS)}")
