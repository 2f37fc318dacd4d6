"""Pure mathematics of Kumano, Kera & Yamasaki (NeurIPS 2024) as read in THEORY.md: no training, no Hypothesis.

Modules: ``kernel`` (K1–K3), ``lazy`` (L1–L2), ``direction`` (D1–D5), ``conditions`` (C1–C3, P1–P2),
``stats`` (binomial and Chernoff–KL tests), ``betting`` (anytime-valid tests of bounded means),
``power`` (what each test detects), ``claims`` (the registry), ``formulas`` (every closed form once, in
sympy), ``params`` (the parameter objects the functions take: a training set with Λ, a perturbation),
``tolerances``, ``validation``. ``perturbation_learning`` may import ``theory``, never the reverse.

Importing the package is cheap; submodules load on demand (``from theory.kernel import phi``).
"""

__all__ = ["kernel", "lazy", "direction", "conditions", "stats", "betting", "power", "claims", "formulas",
           "params", "tolerances", "validation"]
