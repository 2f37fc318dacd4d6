"""Every closed-form formula of the theory, once, as a sympy expression; numeric code is lambdified from it.

One source of truth per formula: ``kernel.py``, ``lazy.py``, ``direction.py`` and ``conditions.py``
evaluate the functions lambdified here, and ``claims.py`` states the claims with the same
expressions. Symbols follow THEORY.md (``gamma``, ``eps``, ``delta``, ``theta``, ``rho``, …).

The lambdified functions use only numpy (``modules="numpy"``) and plain arithmetic; formulas that
meet torch tensors (Φ as a function of θ) are split into scalar coefficients so that the array work
stays in the caller's backend.
"""

from __future__ import annotations

import sympy as sp

# --- symbols --------------------------------------------------------------------------------

gamma = sp.Symbol("gamma", nonnegative=True)          # leaky slope γ ∈ [0, 1)
theta = sp.Symbol("theta", nonnegative=True)          # angle of the augmented inputs, θ ∈ [0, π]
rho = sp.Symbol("rho", real=True)                     # cos θ
d = sp.Symbol("d", positive=True, integer=True)       # input dimension
N = sp.Symbol("N", positive=True, integer=True)       # training samples
m = sp.Symbol("m", positive=True)                     # width (m = ∞ allowed numerically)
n = sp.Symbol("n", positive=True, integer=True)       # Monte Carlo samples / union-bound size
t = sp.Symbol("t", nonnegative=True)                  # training time of f
t_prime = sp.Symbol("t_prime", nonnegative=True)      # training time of g
delta = sp.Symbol("delta", positive=True)             # failure probability
eps = sp.Symbol("epsilon", nonnegative=True)          # perturbation norm ε
kappa = sp.Symbol("kappa", nonnegative=True)          # laziness index κ
flip_max = sp.Symbol("f_max", positive=True)          # tolerated flip fraction
xx, zz, xz = sp.symbols("xx zz xz", real=True)        # ‖x‖², ‖z‖², x·z
lo, hi = sp.symbols("lo hi", real=True)               # range of a bounded summand
B = sp.Symbol("B_xi", nonnegative=True)               # residual bound B_ξ
B2 = sp.Symbol("B_xi_prime", nonnegative=True)        # B'_ξ of a second network
U = sp.Symbol("u_norm", positive=True)                # ‖u_n‖
U_min = sp.Symbol("u_min", positive=True)             # min_n ‖u_n‖
V = sp.Symbol("V_E", nonnegative=True)                # variance V_E(z)
S2 = sp.Symbol("S_2", nonnegative=True)               # Σ_n α_n²
C = sp.Symbol("C", positive=True)                     # constant of the D4 growth law
Phi = sp.Symbol("Phi", real=True)                     # Φ(x, z)
Phi_m = sp.Symbol("Phi_m", real=True)                 # Φ_m(x, z)
cos = sp.Symbol("cos", real=True)                     # a cosine similarity
y_adv = sp.Symbol("y_adv", real=True)                 # y^adv_n ∈ {−1, +1}
vz = sp.Symbol("vz", real=True)                       # v_n·z
bz = sp.Symbol("b_n", real=True)                      # b_n(z): 1 (a) or x_n·z + 1 (b)
eta = sp.Symbol("eta", positive=True)                 # gradient-descent step η
beta = sp.Symbol("beta", nonnegative=True)            # heavy-ball momentum β ∈ [0, 1)
steps = sp.Symbol("T", nonnegative=True, integer=True)  # number of full-batch steps
coverage = sp.Symbol("c", nonnegative=True)           # share of test inputs where C2 holds
u_round = sp.Symbol("u", positive=True)               # unit roundoff of a dtype (2^-24 for float32)

#: LaTeX names for the symbols whose Python names are not their mathematical names.
LATEX_NAMES = {
    t_prime: "t'", xx: r"\|x\|^2", zz: r"\|z\|^2", xz: r"x \cdot z", B: r"B_\xi", B2: r"B'_\xi",
    U: r"\|u_n\|", U_min: r"\min_n \|u_n\|", V: "V_E", S2: r"\sum_n \alpha_n^2", Phi_m: r"\Phi_m",
    y_adv: r"y^{adv}_n", vz: r"v_n \cdot z", bz: "b_n(z)", flip_max: r"f_{\max}",
    cos: r"\cos(r_n, y^{adv}_n u_n)", eta: r"\eta", beta: r"\beta",
}

sigma2 = (1 + gamma**2) / 2                           # E s(h)², h symmetric; = Φ(x, x)

# --- K1, K2, K3 -----------------------------------------------------------------------------

#: K1: Φ as a function of θ.
PHI_OF_THETA = sigma2 - (1 - gamma)**2 * theta / (2 * sp.pi)
#: ρ of the augmented inputs (x/√d, 1), (z/√d, 1).
RHO_OF_INPUTS = (xz / d + 1) / sp.sqrt((xx / d + 1) * (zz / d + 1))
#: K1 in terms of ρ.
PHI_OF_RHO = PHI_OF_THETA.subs(theta, sp.acos(rho))
#: K3: Hoeffding half-width of a mean of n summands in [lo, hi] at failure probability δ (two-sided).
HOEFFDING = (hi - lo) * sp.sqrt(sp.log(2 / delta) / (2 * n))
#: K3 for Φ: summands s·s ∈ [γ², 1].
PHI_HOEFFDING = HOEFFDING.subs({lo: gamma**2, hi: 1})

# --- L2 -------------------------------------------------------------------------------------

#: L2 [derived]: share of activation patterns that flip, for independent centred Gaussians h
#: (pre-activation) and Δ (its update, symmetric given the first layer) with std ratio κ:
#: P(sgn(h + Δ) ≠ sgn h) = P(|Δ| > |h|)/2 = (2/π)·atan(κ)/2.
FLIP_FRACTION = sp.atan(kappa) / sp.pi
#: κ at which FLIP_FRACTION reaches f_max.
KAPPA_OF_FLIP = sp.tan(sp.pi * flip_max)

# --- D1, D2, D4, D5 -------------------------------------------------------------------------

#: D1: E‖∇f_0(x)‖² over (a, W, b).
GRAD0_SQ_MEAN = sigma2
_x = sp.log(n / delta)                                # Laurent–Massart exponent, union over n points
_trace_sd = sp.sqrt(((1 + gamma**4) / 2 * (1 + 2 / d) - sigma2**2) / m)
_l2 = sp.sqrt(sigma2**2 / d + (1 + gamma**4) / 2 * (1 + 2 / d) / m)
_lmax = sigma2 / d * (1 + sp.sqrt(2 * d / m))**2
#: D1 [derived]: B_ξ² for the ∇f_0 part of ξ_n, simultaneously for n points, at failure probability δ.
#: ‖∇f_0(x)‖² = gᵀA g (g ~ N(0, I_m)) with eig(A) = eig((1/m) Σ_k s_k² w_k w_kᵀ); Laurent–Massart:
#: P(gᵀAg ≥ tr A + 2‖λ‖₂√x + 2‖λ‖_∞ x) ≤ e^(−x). tr A ≈ σ² + √(2x)·sd (CLT over the m neurons),
#: ‖λ‖₂² ≈ σ⁴/d + E[s⁴‖w‖⁴]/m, ‖λ‖_∞ ≈ (σ²/d)(1 + √(2d/m))² (Marchenko–Pastur edge; at least
#: half the neurons carry s² = 1). At m = ∞: σ²(1 + 2√(x/d) + 2x/d).
BXI_GRAD0_SQ = sigma2 + sp.sqrt(2 * _x) * _trace_sd + 2 * _l2 * sp.sqrt(_x) + 2 * _lmax * _x
#: Chi-square multiplier of a Gaussian vector whose covariance may have rank one (worst case of
#: Laurent–Massart with a single eigenvalue): ‖g‖² ≤ E‖g‖²·(1 + 2√x + 2x).
RANK_ONE_MULTIPLIER = sp.sqrt(1 + 2 * sp.sqrt(_x) + 2 * _x)
#: D2: cos(r_n, y^adv_n u_n) ≥ √(1 − B_ξ²/‖u_n‖²).
ANGLE_COS_BOUND = sp.sqrt(1 - B**2 / U**2)
#: D5 [derived]: angle(r_n, r'_n) ≤ asin(B_ξ/‖u_n‖) + asin(B'_ξ/‖u_n‖).
TRANSFER_ANGLE = sp.asin(B / U) + sp.asin(B2 / U)
#: D4 [derived]: ‖u_n‖ ≈ C·t·√(d/N) for random labels.
U_GROWTH = C * t * sp.sqrt(d / N)
#: D4: the resulting upper bound on 1 − cos (falls like N/(t²d) as cos → 1).
ONE_MINUS_COS_D4 = 1 - ANGLE_COS_BOUND.subs(U, U_GROWTH)

# --- C2 -------------------------------------------------------------------------------------

#: C2: B_0(z) — |g_0(z)| ≤ B_0 w.p. ≥ 1 − δ; g_0(z) ~ N(0, σ²(‖z‖²/d + 1)) over the readout.
B0 = sp.sqrt(2 * sp.log(2 / delta)) * sp.sqrt(sigma2 * (zz / d + 1))
#: C2: B_E(z) from the Monte Carlo variance V_E(z).
BE = sp.sqrt(2 * sp.log(2 / delta) * V) * (1 + B / U_min)
#: C2 a-priori variant: Hoeffding half-width of a Rademacher sum Σ_n y^adv_n α_n.
BN_HOEFFDING = sp.sqrt(2 * sp.log(2 / delta) * S2)

# --- §5 mechanism ---------------------------------------------------------------------------

#: Label cancellation: the term of L1 for g, y^adv_n (x^adv_n·z + 1), with r_n = ε y^adv_n v_n.
#: Scenario (a): b_n = 1; Scenario (b): b_n = x_n·z + 1.
LABEL_TERM = y_adv * (eps * y_adv * vz + bz)
#: … equals signal + label noise once (y^adv)² = 1.
LABEL_TERM_CANCELLED = eps * vz + y_adv * bz

# --- §1, P5 ---------------------------------------------------------------------------------

#: §1: gradient-flow time integrated by T heavy-ball steps: Σ_{j=1..T} η(1 − β^j)/(1 − β)
#: (β = 0: ηT; T → ∞: ≈ ηT/(1 − β)).
INTEGRATED_TIME = eta / (1 - beta) * (steps - beta * (1 - beta**steps) / (1 - beta))
#: §8: relative error bound γ_n of a floating-point sum of n products at unit roundoff u (Higham 2002,
#: Lemma 3.1), the unit of every conformance tolerance (R1–R5).
ROUNDING_GAMMA = n * u_round / (1 - n * u_round)
#: P5 [derived]: |a_obs − a_pred| ≤ (1 − c) + 3δ inside L2, c the C2 coverage.
P5_TOLERANCE = (1 - coverage) + 3 * delta


def lambdified(expr, args):
    """Numeric function of ``expr`` over ``args`` (numpy backend)."""
    return sp.lambdify(args, expr, modules="numpy")


# Coefficients of Φ = A(γ) + B(γ)·θ, so that array work on θ stays in the caller's backend.
phi_intercept = lambdified(PHI_OF_THETA.subs(theta, 0), (gamma,))
phi_slope = lambdified(sp.diff(PHI_OF_THETA, theta), (gamma,))
phi_of_theta = lambdified(PHI_OF_THETA, (theta, gamma))
phi_of_rho = lambdified(PHI_OF_RHO, (rho, gamma))
rho_of_inputs = lambdified(RHO_OF_INPUTS, (xx, zz, xz, d))
hoeffding = lambdified(HOEFFDING, (n, delta, lo, hi))
flip_fraction = lambdified(FLIP_FRACTION, (kappa,))
kappa_of_flip = lambdified(KAPPA_OF_FLIP, (flip_max,))
grad0_sq_mean = lambdified(GRAD0_SQ_MEAN, (gamma,))
bxi_grad0_sq = lambdified(BXI_GRAD0_SQ, (gamma, d, m, delta, n))
rank_one_multiplier = lambdified(RANK_ONE_MULTIPLIER, (delta, n))
angle_cos_bound = lambdified(ANGLE_COS_BOUND, (B, U))
transfer_angle = lambdified(TRANSFER_ANGLE, (B, B2, U))
b0 = lambdified(B0, (zz, d, gamma, delta))
be = lambdified(BE, (V, B, U_min, delta))
bn_hoeffding = lambdified(BN_HOEFFDING, (S2, delta))
integrated_time = lambdified(INTEGRATED_TIME, (eta, steps, beta))
p5_tolerance = lambdified(P5_TOLERANCE, (coverage, delta))
rounding_gamma = lambdified(ROUNDING_GAMMA, (n, u_round))
