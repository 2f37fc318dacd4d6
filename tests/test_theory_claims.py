"""Unit tests of theory.claims (the registry), theory.formulas and the ``python -m theory`` CLI."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from theory import formulas as F
from theory.__main__ import main
from theory import claims as claims_module
from theory.claims import CLAIMS, LABELS, Claim, get_claim
from theory.conditions import bound_B0
from theory.direction import angle_bound, residual_bound, transfer_angle_bound
from theory.kernel import phi_monte_carlo
from theory.lazy import KAPPA_MAX, predicted_flip_fraction

IDS = ["K1", "K2", "K3", "L1", "L2", "D1", "D2", "D3", "D4", "D5", "C1", "C2", "C3", "P1", "P2", "P3", "P4", "P5",
       "CTRL-eps0", "CTRL-random", "CTRL-shuffle", "CTRL-untrained", "R1", "R2", "R3", "R4", "R5", "R6",
       "R7"]
ROOT = Path(__file__).resolve().parents[1]


def test_registry_has_every_id_in_order():
    assert list(CLAIMS) == IDS


@pytest.mark.parametrize("cid", IDS)
def test_claim_fields(cid):
    c = get_claim(cid)
    assert isinstance(c, Claim) and c.id == cid and c.title and c.label in LABELS
    assert isinstance(c.statement, sp.Basic)
    assert c.latex and c.latex == sp.latex(c.statement, symbol_names=claims_module._LATEX_NAMES)
    assert all(callable(f) for f in c.resolve_functions()) and c.functions
    for name, (expr, args) in c.formulas.items():
        assert expr.free_symbols <= set(args), f"{cid}.{name}: free symbols outside its arguments"


def test_get_claim_unknown_id():
    with pytest.raises(ValueError, match="claim_id == 'K9', must be one of \\['K1'"):
        get_claim("K9")


def test_evaluate_checks_arguments():
    with pytest.raises(ValueError, match="takes \\['theta', 'gamma'\\]; missing \\['gamma'\\]"):
        get_claim("K1").evaluate(theta=0.1)
    with pytest.raises(ValueError, match="claim D3 has no formula"):
        get_claim("D3").evaluate()
    assert get_claim("D3").evaluator is None and get_claim("K1").args == (F.theta, F.gamma)


def test_numeric_functions_equal_their_claim_formulas():
    """One source of truth: each numeric function equals the lambdified claim expression."""
    assert get_claim("K1").evaluate(theta=0.0, gamma=0.3) == pytest.approx((1 + 0.09) / 2)
    _, half = phi_monte_carlo(np.ones((1, 2)), np.ones((1, 2)), 0.4, 500, np.random.default_rng(0), delta=0.01)
    assert half == pytest.approx(get_claim("K3").evaluate(n=500, delta=0.01, gamma=0.4))
    ks = np.linspace(0, 3, 7)
    np.testing.assert_allclose(predicted_flip_fraction(ks), get_claim("L2").evaluator(ks))
    assert KAPPA_MAX == pytest.approx(get_claim("L2").evaluate("kappa_max", f_max=0.1))
    assert residual_bound(0.2, 50, 0.1, m=500, n_points=20) == pytest.approx(
        get_claim("D1").evaluator(0.2, 50, 500, 0.1, 20))
    assert angle_bound(0.5, 2.0).cos == pytest.approx(get_claim("D2").evaluator(0.5, 2.0))
    assert transfer_angle_bound(0.5, 2.0, 0.3).angle == pytest.approx(get_claim("D5").evaluator(0.5, 0.3, 2.0))
    Z = np.ones((1, 4)) * 2
    assert bound_B0(Z, 0.1, 0.05)[0] == pytest.approx(get_claim("C2").evaluate("B0", zz=16.0, d=4, gamma=0.1,
                                                                                 delta=0.05))
    assert get_claim("P1").evaluate(delta=0.05) == pytest.approx(0.15)
    assert get_claim("L1").evaluate(t=3.0, N=1000) == pytest.approx(0.003)
    assert get_claim("CTRL-untrained").evaluate(C=1.0, t=0.0, d=10, N=10) == 0


def test_K2_monotone_claim_formula_is_positive():
    vals = get_claim("K2").evaluate("dphi_drho", rho=np.linspace(-0.99, 0.99, 50), gamma=0.3)
    assert np.all(vals > 0)


def test_cli_claims_prints_every_claim(capsys):
    assert main(["claims"]) == 0
    out = capsys.readouterr().out
    for cid in IDS:
        assert f"{cid} [{CLAIMS[cid].label}] {CLAIMS[cid].title}" in out
    assert all(line in out for line in CLAIMS["K1"].text.split("\n"))


def test_cli_claims_latex_and_filter(capsys):
    assert main(["claims", "--latex", "D2", "C2"]) == 0
    out = capsys.readouterr().out
    assert CLAIMS["D2"].latex in out and CLAIMS["C2"].latex in out and "K1 [" not in out


@pytest.mark.parametrize("argv", [[], ["claim"], ["claims", "--bogus"]])
def test_cli_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_cli_unknown_id_exit_2(capsys):
    assert main(["claims", "Q7"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown claim ID(s) ['Q7']" in err


def test_cli_as_module_subprocess_bad_arguments():
    """The real entry point (success is covered in-process by the tests above)."""
    bad = subprocess.run([sys.executable, "-m", "theory", "claims", "--nope"], cwd=ROOT, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stdout == ""
