"""The registry of claims: ID → statement (sympy), label, LaTeX, numeric evaluator, implementing functions.

IDs are stable (THEORY.md). A claim's formula is the same sympy expression the numeric code is
lambdified from (``formulas``), so the statement printed by ``python -m theory claims`` is the one the
checks evaluate. ``label`` is "paper" (restates the paper or its official code) or "derived" (this
project's derivation in the paper's setting; may be wrong — a failing check of it questions the
derivation as much as the code).
"""

from __future__ import annotations

import importlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from . import formulas as F
from .validation import check_choice

__all__ = ["Claim", "CLAIMS", "get_claim", "LABELS"]

LABELS = ("paper", "derived")


@dataclass(frozen=True)
class Claim:
    """One claim. ``formulas`` maps a name to (sympy expression, argument symbols); the first is the
    main formula (``expression``/``evaluator``). ``functions`` are dotted names of the theory functions
    that implement it."""

    id: str
    title: str
    label: str
    section: str
    statement: sp.Basic
    formulas: dict = field(default_factory=dict)
    functions: tuple = ()
    evaluators: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_choice(self.label, "label", LABELS)
        object.__setattr__(self, "evaluators", {
            name: F.lambdified(expr, args) for name, (expr, args) in self.formulas.items()})

    @property
    def latex(self) -> str:
        """``sympy.latex`` of the statement, with THEORY.md's symbol names."""
        return sp.latex(self.statement, symbol_names=_LATEX_NAMES)

    @property
    def text(self) -> str:
        """The statement in plain Unicode (‖∇f(x_n)‖, Σ, ≤, ∧), one line per conjunct of a top-level ∧."""
        parts = self.statement.args if isinstance(self.statement, sp.And) else (self.statement,)
        return "\n".join(_TextPrinter().doprint(part) for part in parts)

    @property
    def expression(self):
        """The main formula (a sympy expression), or None where the claim is not a formula."""
        return next(iter(self.formulas.values()))[0] if self.formulas else None

    @property
    def args(self) -> tuple:
        return next(iter(self.formulas.values()))[1] if self.formulas else ()

    @property
    def evaluator(self) -> Callable | None:
        """Lambdified main formula (positional arguments in the order of ``args``), or None."""
        return next(iter(self.evaluators.values())) if self.evaluators else None

    def evaluate(self, name: str | None = None, **values):
        """Evaluate a formula by keyword (symbol names, e.g. ``theta=…, gamma=…``)."""
        if not self.formulas:
            raise ValueError(f"claim {self.id} has no formula to evaluate")
        name = next(iter(self.formulas)) if name is None else check_choice(name, "name", self.formulas)
        expr, args = self.formulas[name]
        names = [str(a) for a in args]
        missing = [n for n in names if n not in values]
        extra = [k for k in values if k not in names]
        if missing or extra:
            raise ValueError(f"claim {self.id} formula {name!r} takes {names}; "
                             f"missing {missing}, unexpected {extra}")
        return self.evaluators[name](*(values[n] for n in names))

    def resolve_functions(self) -> list:
        """The implementing callables (imports them)."""
        out = []
        for dotted in self.functions:
            mod, _, attr = dotted.rpartition(".")
            out.append(getattr(importlib.import_module(mod), attr))
        return out


def _eq(a, b):
    return sp.Eq(a, b, evaluate=False)


_S = sp.Symbol
# Named placeholders used only in statements.
f_t, f_0, g_, g_hat, f_hat, g_lin = (_S("f_t"), _S("f_0"), _S("g"), _S(r"\hat{g}"), _S(r"\hat{f}"),
                                     _S("g_lin"))
agree, acc_g, share_wrong = _S("A_fg"), _S("acc_g"), _S("share_wrong")
agree_pred = _S("A_pred")                            # agreement predicted before g is trained (P5)
E_grad0, xi_norm, rms_delta, angle = _S("E_grad0_sq"), _S("xi_norm"), _S("rms_Delta"), _S("angle")
Phi_xx, Phi_pi = _S("Phi_xx"), _S("Phi_pi")        # Φ(x, x) (θ = 0) and Φ at θ = π
E_r = _S("E_ur")                                     # E[u_n·r_n] of a random direction
Phi_hat, slope_m, flip, kappa_max = _S(r"\hat{\Phi}"), _S("slope_m"), _S("flip"), _S("kappa_max")
y_adv_pi, rademacher = _S("y_adv_pi"), _S("rademacher")
B_0, B_E, c1, signal = _S("B_0"), _S("B_E"), _S("c_1"), _S("S")
C1s, C2s, C3s, L2s = (sp.Symbol("C1"), sp.Symbol("C2"), sp.Symbol("C3"), sp.Symbol("L2"))
# Placeholders of the conformance statements (§8).
f_z, r_n, x_adv, grad_f, lam_n, tol_, overlap, overlap_adv = (
    _S("f(z)"), _S("r_n"), _S("x^adv_n"), _S("grad_f"), _S("Lambda_n"), _S("tol"), _S("overlap_ZX"),
    _S("overlap_ZXadv"))
x_n, a_k, w_kz, b_k, phi_ = _S("x_n"), sp.IndexedBase("a"), sp.IndexedBase("h"), _S("b_k"), sp.Function("phi")
k_m = sp.Idx("k")
sup_lp, grad_vec = _S("sup_lprime"), _S("nabla_f")
sgn_, f_fn, g_fn, z_, cos_ = (sp.Function("sgn"), sp.Function("f"), sp.Function("g"), sp.IndexedBase("z"),
                              sp.IndexedBase("c"))
n_z, cos_mean, j_z = _S("N_Z"), _S("cos_signed"), sp.Idx("j")
W0b0_f, W0b0_g, rho_fg = _S("W0b0_f0"), _S("W0b0_g0"), _S("E_rho_f0g0")     # R7
_LATEX_NAMES = {**F.LATEX_NAMES, **{
    Phi_xx: r"\Phi(x, x)", Phi_pi: r"\Phi|_{\theta=\pi}", E_r: r"\mathbb{E}[u_n \cdot r_n]",
    y_adv_pi: r"y^{adv}_{\pi(n)}", rademacher: r"\pm 1\ \text{(uniform)}",
    f_z: "f(z)", r_n: "r_n", x_adv: r"x^{adv}_n", grad_f: r"\|\nabla f(x_n)\|", lam_n: r"\Lambda_n",
    tol_: r"\mathrm{tol}", overlap: r"|Z \cap X|", overlap_adv: r"|Z \cap X^{adv}|", x_n: "x_n",
    n_z: "N_Z", cos_mean: r"\mathrm{cos}_{\mathrm{signed}}",
    sup_lp: r"\sup \ell'", grad_vec: r"\nabla f(x_n)",
    f_t: "f_t", f_0: "f_0", g_lin: r"g_{\mathrm{lin}}", agree: r"A(f, g)", agree_pred: r"\hat{A}(f, g)", acc_g: r"\mathrm{acc}_D(g)",
    share_wrong: r"\mathrm{share}_{\mathrm{sgn}\, g \neq \mathrm{sgn}\, f}", E_grad0: r"\mathbb{E}\|\nabla f_0(x)\|^2",
    xi_norm: r"\|\xi_n\|", rms_delta: r"\operatorname{rms}_k \Delta_k(z)", angle: r"\angle(r_n, r'_n)",
    slope_m: r"\frac{d \log|\Phi_m - \Phi|}{d \log m}", flip: r"\mathrm{flip}", kappa_max: r"\kappa_{\max}",
    B_0: "B_0(z)", B_E: "B_E(z)", c1: "c_1", signal: "S(z)",
    W0b0_f: r"(W_0, b_0)_{f_0}", W0b0_g: r"(W_0, b_0)_{g_0}", rho_fg: r"\mathbb{E}[\rho(f_0(z), g_0(z))]",
}}
k_ = sp.Idx("n")
Lam, Y, Xz, Phim = (sp.IndexedBase(r"\Lambda"), sp.IndexedBase("y"), sp.IndexedBase(r"x\cdot z"),
                    sp.IndexedBase(r"\Phi_m"))
S2 = sp.Rational(1, 2)

# Plain-text names (THEORY.md's notation) of the statements' symbols, by symbol name.
_TEXT_NAMES = {
    "gamma": "γ", "theta": "θ", "rho": "ρ", "delta": "δ", "epsilon": "ε", "kappa": "κ", "eta": "η", "beta": "β",
    "t_prime": "t'", "xx": "‖x‖²", "zz": "‖z‖²", "xz": "x·z", "B_xi": "B_ξ", "B_xi_prime": "B'_ξ", "c_1": "c₁",
    "u_norm": "‖u_n‖", "u_min": "min_n ‖u_n‖", "S_2": "Σ_n α_n²", "Phi": "Φ", "Phi_m": "Φ_m",
    "cos": "cos(r_n, y^adv_n u_n)", "y_adv": "y^adv_n", "vz": "v_n·z", "b_n": "b_n(z)",
    r"\hat{g}": "ĝ", r"\hat{f}": "f̂", r"\hat{\Phi}": "Φ̂", "A_fg": "A(f, g)", "A_pred": "Â(f, g)",
    "acc_g": "acc_D(g)", "share_wrong": "share(sgn g ≠ sgn f)", "E_grad0_sq": "E‖∇f_0(x)‖²", "xi_norm": "‖ξ_n‖",
    "rms_Delta": "rms_k Δ_k(z)", "angle": "∠(r_n, r'_n)", "Phi_xx": "Φ(x, x)", "Phi_pi": "Φ|θ=π",
    "E_ur": "E[u_n·r_n]", "slope_m": "slope(log|Φ_m − Φ| vs log m)", "kappa_max": "κ_max",
    "y_adv_pi": "y^adv_π(n)", "rademacher": "±1 (uniform)", "B_0": "B_0(z)", "B_E": "B_E(z)", "S": "S(z)",
    "grad_f": "‖∇f(x_n)‖", "nabla_f": "∇f(x_n)", "Lambda_n": "Λ_n", "sup_lprime": "sup ℓ'",
    "overlap_ZX": "|Z ∩ X|", "overlap_ZXadv": "|Z ∩ X^adv|",
    "W0b0_f0": "(W_0, b_0) of f_0", "W0b0_g0": "(W_0, b_0) of g_0", "E_rho_f0g0": "E[ρ(f_0(z), g_0(z))] over pairs",
}
# Indexed symbols: base name → template of the indexed term.
_TEXT_INDEXED = {r"\Lambda": "Λ_{i}", "y": "y_{i}", r"x\cdot z": "x_{i}·z", r"\Phi_m": "Φ_m(x_{i}, z)",
                 "a": "a_{i}", "h": "w_{i}·z + b_{i}", "z": "z_{i}", "c": "cos_{i}"}
_TEXT_FUNCTIONS = {"sign": "sgn", "acos": "arccos", "asin": "arcsin", "atan": "arctan", "phi": "φ"}
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class _TextPrinter(StrPrinter):
    """sympy's str printer in THEORY.md's notation: names, √, powers, Σ, |·|, relations and logic."""

    printmethod = "_theory_text"  # not sympy's own _sympystr, which Indexed and others define

    def doprint(self, expr) -> str:
        return super().doprint(expr).replace("*", "·").replace("-", "−")

    def _print_Symbol(self, expr):
        return _TEXT_NAMES.get(expr.name, expr.name)

    def _print_Indexed(self, expr):
        i = self._print(expr.indices[0])
        return _TEXT_INDEXED.get(expr.base.name, "{b}_{i}").format(i=i, b=expr.base.name)

    _print_Pi = lambda self, expr: "π"  # noqa: E731
    _print_Idx = lambda self, expr: self._print(expr.label)  # noqa: E731

    def _print_Function(self, expr):
        name = _TEXT_FUNCTIONS.get(expr.func.__name__, expr.func.__name__)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"

    def _print_KroneckerDelta(self, expr):  # an indicator: 1 where the two sides are equal
        return f"[{self._print(expr.args[0])} = {self._print(expr.args[1])}]"

    def _root(self, base) -> str:
        inner = self._print(base)
        return f"√{inner}" if re.fullmatch(r"[\w‖'^]+", inner) else f"√({inner})"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp is sp.S.Half:
            return self._root(base)
        if exp.is_Rational and exp < 0:
            return f"1/{self.parenthesize(sp.Pow(base, -exp, evaluate=False), PRECEDENCE['Mul'], strict=True)}"
        if exp.is_Integer and exp > 1:
            return self.parenthesize(base, PRECEDENCE["Pow"], strict=True) + str(exp).translate(_SUPERSCRIPTS)
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Relational(self, expr):
        op = {"==": "=", "!=": "≠", "<=": "≤", ">=": "≥"}.get(expr.rel_op, expr.rel_op)
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _logic(self, expr, joiner):
        return joiner.join(f"({self._print(a)})" if isinstance(a, (sp.Or, sp.Implies)) else self._print(a)
                           for a in expr.args)

    _print_And = lambda self, expr: self._logic(expr, " ∧ ")  # noqa: E731
    _print_Or = lambda self, expr: self._logic(expr, " ∨ ")  # noqa: E731
    _print_Implies = lambda self, expr: self._logic(expr, " ⇒ ")  # noqa: E731
    _print_Not = lambda self, expr: f"¬{self._print(expr.args[0])}"  # noqa: E731

    def _print_Sum(self, expr):
        (i, lo, hi), = expr.limits
        body = self.parenthesize(expr.function, PRECEDENCE["Mul"], strict=False)
        return f"Σ_{{{self._print(i)}={self._print(lo)}..{self._print(hi)}}} {body}"

    def _print_Limit(self, expr):
        body, z, z0, direction = expr.args
        side = {"+": "⁺", "-": "⁻"}.get(str(direction), "")
        return f"lim_{{{self._print(z)}→{self._print(z0)}{side}}} ({self._print(body)})"

    def _print_Derivative(self, expr):
        (v, _), = expr.variable_count
        return f"d/d{self._print(v)} ({self._print(expr.expr)})"
_K = "theory.kernel."
_L = "theory.lazy."
_D = "theory.direction."
_C = "theory.conditions."
_ST = "theory.stats."
_P = "theory.prediction."
_PA = "theory.params."
_R = "theory.conformance."

_CLAIM_LIST = [
    Claim("K1", "Closed form of Φ: degree-0 arc-cosine kernel of (x/√d, 1)", "derived", "§2",
          sp.And(_eq(F.rho, F.RHO_OF_INPUTS), _eq(F.theta, sp.acos(F.rho)), _eq(F.Phi, F.PHI_OF_THETA)),
          {"phi_of_theta": (F.PHI_OF_THETA, (F.theta, F.gamma)),
           "phi_of_rho": (F.PHI_OF_RHO, (F.rho, F.gamma)),
           "rho": (F.RHO_OF_INPUTS, (F.xx, F.zz, F.xz, F.d))},
          (_K + "phi_closed_form", _K + "phi_pairs")),
    Claim("K2", "Range, diagonal, monotonicity and γ → 1 limit of Φ; Gram matrices are PSD", "derived", "§2",
          sp.And(_eq(Phi_xx, F.sigma2), _eq(Phi_pi, F.gamma),
                 sp.Le(F.gamma, F.Phi, evaluate=False), sp.Le(F.Phi, F.sigma2, evaluate=False),
                 sp.Gt(sp.Derivative(F.PHI_OF_RHO, F.rho), 0, evaluate=False),
                 _eq(sp.Limit(F.PHI_OF_THETA, F.gamma, 1), 1)),
          {"dphi_drho": (sp.diff(F.PHI_OF_RHO, F.rho), (F.rho, F.gamma)),
           "diagonal": (F.sigma2, (F.gamma,))},
          (_K + "phi_closed_form",)),
    Claim("K3", "Closed form, quadrature and Monte Carlo agree; Φ_m → Φ at rate m^(-1/2)", "derived", "§2",
          sp.And(sp.Le(sp.Abs(Phi_hat - F.Phi), F.PHI_HOEFFDING, evaluate=False),
                 _eq(slope_m, -S2)),
          {"hoeffding": (F.PHI_HOEFFDING, (F.n, F.delta, F.gamma))},
          (_K + "phi_quadrature", _K + "phi_monte_carlo", _K + "phi_finite_width",
           _ST + "hoeffding_half_width", _D + "loglog_slope")),
    Claim("L1", "Lazy regime: f_t ≈ f_0 + Σ Λ_n y_n Φ_m(x_n, z)(x_n·z + 1); Λ_n = t/N for the identity loss",
          "derived", "§3",
          sp.And(_eq(f_t, f_0 + sp.Sum(Lam[k_] * Y[k_] * Phim[k_] * (Xz[k_] + 1), (k_, 1, F.N))),
                 _eq(Lam[k_], F.t / F.N)),
          {"lam_identity": (F.t / F.N, (F.t, F.N))},
          (_L + "linearized_predictor", _L + "kernel_predictor", _L + "network_output")),
    Claim("L2", "Width assumption: laziness index κ, flip fraction atan(κ)/π, claims asserted where κ ≤ κ_max",
          "derived", "§3",
          sp.And(_eq(F.kappa, rms_delta / sp.sqrt(F.zz / F.d + 1)), _eq(flip, F.FLIP_FRACTION),
                 _eq(kappa_max, F.KAPPA_OF_FLIP), sp.Le(F.kappa, kappa_max, evaluate=False)),
          {"flip_fraction": (F.FLIP_FRACTION, (F.kappa,)),
           "kappa_max": (F.KAPPA_OF_FLIP, (F.flip_max,))},
          (_L + "laziness_index", _L + "predicted_flip_fraction", _L + "width_assumption")),
    Claim("D1", "Residual ‖ξ_n‖ ≈ ‖∇f_0(x_n)‖ with E‖∇f_0‖² = (1+γ²)/2, bounded by B_ξ (Laurent–Massart)",
          "derived", "§4",
          sp.And(_eq(E_grad0, F.GRAD0_SQ_MEAN),
                 sp.Le(xi_norm, sp.sqrt(F.BXI_GRAD0_SQ), evaluate=False)),
          {"xi_bound": (sp.sqrt(F.BXI_GRAD0_SQ), (F.gamma, F.d, F.m, F.delta, F.n)),
           "grad0_sq_mean": (F.GRAD0_SQ_MEAN, (F.gamma,))},
          (_D + "predicted_direction", _D + "residual_xi", _D + "residual_bound",
           _D + "finite_width_residual_rms")),
    Claim("D2", "Angle bound cos(r_n, y^adv_n u_n) ≥ √(1 − B_ξ²/‖u_n‖²) when B_ξ < ‖u_n‖", "derived", "§4",
          sp.Ge(F.cos, F.ANGLE_COS_BOUND, evaluate=False),
          {"cos_bound": (F.ANGLE_COS_BOUND, (F.B, F.U))},
          (_D + "angle_bound", _D + "residual_bound")),
    Claim("D3", "Sign: r_n aligns with +y^adv_n u_n, not only in absolute value", "paper", "§4",
          sp.Gt(F.cos, 0, evaluate=False), {},
          (_D + "signed_cosine",)),
    Claim("D4", "Scaling: ‖u_n‖ ≈ C t √(d/N) (random labels), so 1 − cos falls with d and t", "derived", "§4",
          sp.And(_eq(F.U, F.U_GROWTH), sp.Le(1 - F.cos, F.ONE_MINUS_COS_D4, evaluate=False)),
          {"one_minus_cos": (F.ONE_MINUS_COS_D4, (F.B, F.C, F.t, F.d, F.N)),
           "u_growth": (F.U_GROWTH, (F.C, F.t, F.d, F.N))},
          (_D + "loglog_slope", _D + "predicted_direction")),
    Claim("D5", "Transferability: angle(r_n, r'_n) ≤ asin(B_ξ/‖u_n‖) + asin(B'_ξ/‖u_n‖)", "derived", "§4",
          sp.Le(angle, F.TRANSFER_ANGLE, evaluate=False),
          {"angle": (F.TRANSFER_ANGLE, (F.B, F.B2, F.U))},
          (_D + "transfer_angle_bound",)),
    Claim("C1", "Informative perturbations: ‖u_n‖ > c₁ B_ξ", "derived", "§5",
          sp.Gt(F.U, c1 * F.B, evaluate=False), {},
          (_C + "evaluate_conditions", _D + "residual_bound")),
    Claim("C2", "The prediction beats the noise: |ĝ(z)| > B_0(z) + B_E(z)", "derived", "§5",
          sp.And(sp.Gt(sp.Abs(g_hat), B_0 + B_E, evaluate=False), _eq(B_0, F.B0),
                 _eq(B_E, F.BE)),
          {"B0": (F.B0, (F.zz, F.d, F.gamma, F.delta)),
           "BE": (F.BE, (F.V, F.B, F.U_min, F.delta)),
           "BN_hoeffding": (F.BN_HOEFFDING, (F.S2, F.delta))},
          (_C + "scenario_terms", _C + "predicted_g", _C + "bound_B0", _C + "bound_BE",
           _C + "variance_E", _C + "bound_BN_hoeffding", _C + "evaluate_conditions")),
    Claim("C3", "Same sign as the clean classifier: sgn ĝ = sgn f̂ and |f̂| > B_0", "derived", "§5",
          sp.And(_eq(sp.sign(g_hat), sp.sign(f_hat)), sp.Gt(sp.Abs(f_hat), B_0, evaluate=False)),
          {}, (_C + "evaluate_conditions", _L + "kernel_predictor")),
    Claim("P1", "Where L2, C2 and C3 hold, sgn g = sgn f except on a share ≤ 3δ", "paper", "§5",
          sp.Implies(sp.And(L2s, C2s, C3s), sp.Le(share_wrong, 3 * F.delta, evaluate=False)),
          {"share_max": (3 * F.delta, (F.delta,))},
          (_C + "evaluate_conditions", _ST + "share_at_most", _ST + "wilson_interval",
           _ST + "clopper_pearson")),
    Claim("P2", "The chain link by link: g ≈ its lazy prediction; sgn g = sgn ĝ where C2; f ≈ f̂", "derived",
          "§5",
          sp.And(_eq(g_, g_lin), sp.Implies(C2s, _eq(sp.sign(g_), sp.sign(g_hat))), _eq(f_t, f_hat)),
          {}, (_L + "linearized_predictor", _C + "predicted_g", _L + "kernel_predictor")),
    Claim("P3", "Headline: where f fits D, g is far above chance on D and agrees with f on fresh data",
          "paper", "§5",
          sp.And(sp.Gt(acc_g, S2, evaluate=False), sp.Gt(agree, S2, evaluate=False)),
          {}, (_C + "label_cancellation", _C + "predicted_g")),
    Claim("P4", "Both scenarios, losses, γ, targets; where C2 holds and C3 fails, g disagrees with f",
          "paper", "§5",
          sp.Implies(sp.And(C2s, sp.Not(C3s)), sp.Ne(sp.sign(g_), sp.sign(f_t), evaluate=False)),
          {}, (_C + "evaluate_conditions",)),
    Claim("P5", "Each pair's agreement is predicted before g is trained: inside L2 "
          "|a_obs − a_pred| ≤ (1 − c) + 3δ; outside, correlation and collapse table observed",
          "derived", "§5",
          sp.Implies(L2s, sp.Le(sp.Abs(agree - agree_pred), F.P5_TOLERANCE, evaluate=False)),
          {"tolerance": (F.P5_TOLERANCE, (F.coverage, F.delta)),
           "integrated_time": (F.INTEGRATED_TIME, (F.eta, F.steps, F.beta))},
          (_P + "predict_outcome", _P + "predicted_loss_weights", _P + "integrated_time",
           _P + "calibration", _P + "p5_tolerance", _PA + "predicted_perturbation", _C + "scenario_terms",
           _C + "evaluate_conditions")),
    Claim("CTRL-eps0", "Control ε = 0: no signal, g at chance (agreement ≈ 1/2)", "derived", "§6",
          sp.Implies(_eq(F.eps, 0), sp.And(_eq(signal, 0), _eq(agree, S2))),
          {}, (_C + "scenario_terms",)),
    Claim("CTRL-random", "Control: random directions of the same norm carry no signal", "derived", "§6",
          sp.Implies(_eq(E_r, 0), sp.And(_eq(signal, 0), _eq(agree, S2))),
          {}, (_C + "scenario_terms",)),
    Claim("CTRL-shuffle", "Control: perturbations shuffled across samples lose the label cancellation",
          "derived", "§6",
          sp.Implies(_eq(y_adv_pi * F.y_adv, rademacher),
                     sp.And(_eq(signal, 0), _eq(agree, S2))),
          {}, (_C + "scenario_terms",)),
    Claim("CTRL-untrained", "Control: untrained f (t = 0) gives u_n = 0, no signal", "derived", "§6",
          sp.Implies(_eq(F.t, 0), sp.And(_eq(F.U, F.U_GROWTH.subs(F.t, 0)), _eq(agree, S2))),
          {"u_growth": (F.U_GROWTH, (F.C, F.t, F.d, F.N))},
          (_D + "predicted_direction", _C + "scenario_terms")),
    Claim("R1", "Forward consistency: the returned f, f_0, g, g_0 are Σ_k a_k φ(w_k·z + b_k) of their returned "
          "parameters; the recorded losses and flip shares are theirs", "derived", "§8",
          sp.Le(sp.Abs(f_z - sp.Sum(a_k[k_m] * phi_(w_kz[k_m]), (k_m, 1, F.m))), tol_, evaluate=False),
          {"rounding_gamma": (F.ROUNDING_GAMMA, (F.n, F.u_round))},
          (_R + "network_forward", _R + "preactivations", _R + "pattern_flips", _R + "loss_tolerance")),
    Claim("R2", "Attack consistency: r_n = ε y^adv_n ∇f(x_n)/‖∇f(x_n)‖ with ∇f by autograd of the returned f; "
          "PGD inside its ε-ball; controls as documented", "derived", "§8",
          _eq(r_n, F.eps * F.y_adv * grad_vec / grad_f),
          {"rounding_gamma": (F.ROUNDING_GAMMA, (F.n, F.u_round))},
          (_R + "network_input_gradient", _R + "one_step_perturbation")),
    Claim("R3", "Scenario inputs: x^adv_n = r_n (a) or x_n + r_n (b); g trained on (x^adv, y^adv)", "derived", "§8",
          sp.Or(_eq(x_adv, r_n), _eq(x_adv, x_n + r_n)), {}, (_R + "loss_values",)),
    Claim("R4", "t and Λ bookkeeping: t = η Σ_j (1 − β^(T−j))/(1 − β); Λ_n = t/N (identity), "
          "0 ≤ Λ_n ≤ t sup ℓ'/N and Λ from the recorded losses (logistic)", "derived", "§8",
          sp.And(_eq(F.t, F.INTEGRATED_TIME), _eq(lam_n, F.t / F.N),
                 sp.Le(lam_n, F.t * sup_lp / F.N, evaluate=False)),
          {"integrated_time": (F.INTEGRATED_TIME, (F.eta, F.steps, F.beta)),
           "lam_identity": (F.t / F.N, (F.t, F.N))},
          (_P + "integrated_time", _R + "step_weights", _R + "loss_weights_from_losses", _R + "time_tolerance")),
    Claim("R5", "Data contract: no test input is a training input of f or of g; both train on the N samples of D",
          "derived", "§8",
          sp.And(_eq(overlap, 0), _eq(overlap_adv, 0)), {}, (_R + "identical_rows",)),
    Claim("R6", "Measurements: the run's reported accuracies, agreement on the fresh test inputs and cosines "
          "cos(r_n, y^adv_n u_n) are their definitions (sgn(0) = −1)", "derived", "§8",
          sp.And(sp.Le(sp.Abs(agree - sp.Sum(sp.KroneckerDelta(sgn_(f_fn(z_[j_z])), sgn_(g_fn(z_[j_z]))),
                                             (j_z, 1, n_z)) / n_z), tol_, evaluate=False),
                 sp.Le(sp.Abs(cos_mean - sp.Sum(cos_[k_m], (k_m, 1, F.N)) / F.N), tol_, evaluate=False)),
          {}, (_R + "sign_share", _R + "cosine_means", "theory.model.sign_pm1", _D + "signed_cosine")),
    Claim("R7", "g is fresh: g_0's W_0, b_0 are not f_0's (up to rounding, in any order), and f_0 and g_0 correlate on "
          "the test inputs no more than independent draws", "derived", "§1, §8",
          sp.And(sp.Ne(W0b0_g, W0b0_f), _eq(rho_fg, 0)), {},
          (_R + "copied_rows", _R + "same_values", _R + "fresh_statistic")),
]

#: Claim ID → Claim, in THEORY.md order.
CLAIMS: "OrderedDict[str, Claim]" = OrderedDict((c.id, c) for c in _CLAIM_LIST)


def get_claim(claim_id: str) -> Claim:
    """The claim with this ID; ValueError naming the known IDs otherwise."""
    if claim_id not in CLAIMS:
        raise ValueError(f"claim_id == {claim_id!r}, must be one of {list(CLAIMS)}")
    return CLAIMS[claim_id]
