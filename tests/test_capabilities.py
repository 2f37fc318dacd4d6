"""Declared capabilities (perturbation_learning.capabilities): validation, the reasons, the mapping; the
suite draws only supported settings, maps or skips explicit examples with a statement, and reports the
excluded strata "not checked"; a procedure that declares nothing is held to every setting, drawn as before."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import UnsatisfiedAssumption

from checks import assertions, session
from checks.axes import axis_examples, covering_axes
from checks.plugin import not_checked
from checks.harness import require_supported
from checks.strategies import Setting, lazy_settings
from perturbation_learning.capabilities import EVERYTHING, Capabilities, capabilities_of, declare
from perturbation_learning.config import Config
from perturbation_learning.procedure import seedwise
from reporting.verdicts import NOT_CHECKED, NOT_VERIFIED, VERIFIED, conclude
from theory.power import beta_draws
from theory.prediction import integrated_time, steps_for_time

FIXED = Capabilities(momentum=0.9)
REASON = "the procedure does not support momentum 0 (fixed β = 0.9)"


def _procedure(config, sample, streams):  # never trained here
    raise AssertionError("not called")


def _declared(**fields):
    def proc(config, sample, streams):
        raise AssertionError("not called")
    return declare(proc, **fields)


@pytest.mark.parametrize("fields,name", [
    (dict(momentum=1.0), "momentum"), (dict(momentum="0.9"), "momentum"), (dict(max_gamma=-0.1), "max_gamma"),
    (dict(losses=("identity", "hinge")), "losses"), (dict(losses="identity"), "losses"), (dict(scenarios=()), "scenarios"),
    (dict(attacks=("random",)), "attacks"), (dict(dtypes=("float16",)), "dtypes"), (dict(bias=0), "bias")])
def test_a_bad_declaration_names_its_field(fields, name):
    with pytest.raises(ValueError, match=name):
        Capabilities(**fields)


def test_reasons_and_support():
    cfg = Config(momentum=0.0)
    assert FIXED.why_not(cfg) == REASON and not FIXED.supports(cfg)
    assert FIXED.supports(cfg.replace(momentum=0.9)) and EVERYTHING.supports(cfg)
    assert "scenario 'b'" in Capabilities(scenarios=("a",)).why_not(cfg.replace(scenario="b"))
    assert "γ = 0.3" in Capabilities(max_gamma=0.0).why_not(cfg.replace(gamma=0.3))


def test_map_keeps_the_time_at_the_fixed_beta_and_skips_the_rest():
    cfg = Config(lr=0.1, momentum=0.0, epochs_f=20, epochs_g=30)
    mapped = FIXED.map(cfg)
    assert mapped.momentum == 0.9
    assert mapped.epochs_f == steps_for_time(2.0, 0.1, 0.9) and mapped.epochs_g == steps_for_time(3.0, 0.1, 0.9)
    assert integrated_time(0.1, mapped.epochs_f, 0.9) >= 2.0 - 1e-9
    assert Capabilities(dtypes=("float64",)).map(cfg.replace(dtype="float32")).dtype == "float64"
    assert Capabilities(momentum=0.9, scenarios=("a",)).map(cfg.replace(scenario="b")) is None
    assert FIXED.map(cfg.replace(momentum=0.9)) == cfg.replace(momentum=0.9)


def test_excluded_strata_and_claims():
    caps = Capabilities(momentum=0.9, max_gamma=0.0, losses=("identity",), attacks=("l2-one-step", "shuffled"))
    assert caps.excluded_strata() == {
        "momentum=0": REASON, "gamma=>0": "the procedure does not support γ > 0 (ReLU only)",
        "loss=logistic": "the procedure does not support loss 'logistic' (losses: identity)"}
    out = not_checked(caps, ["CTRL-random", "CTRL-shuffle", "P1", "K1"])
    assert list(out["claims"]) == ["CTRL-random"] and "attack 'random'" in out["claims"]["CTRL-random"]
    no_bias = not_checked(Capabilities(bias=False), ["P1", "R1", "CTRL-eps0", "K2"])["claims"]
    assert list(no_bias) == ["P1"]
    assert not_checked(EVERYTHING, ["P1", "CTRL-random"]) == {"strata": {}, "claims": {}}


def test_declare_seedwise_and_undeclared():
    assert capabilities_of(_procedure) is EVERYTHING and not EVERYTHING.declared
    assert capabilities_of(_declared(momentum=0.9)) == FIXED
    proc = seedwise(lambda config, X, y, streams: None, capabilities=FIXED)
    assert capabilities_of(proc) is FIXED and capabilities_of(seedwise(lambda *a: None)) is EVERYTHING
    with pytest.raises(TypeError, match="capabilities"):
        seedwise(lambda *a: None, capabilities={"momentum": 0.9})
    bad = _declared()
    bad.capabilities = {"momentum": 0.9}
    with pytest.raises(TypeError, match="Capabilities"):
        capabilities_of(bad)


def _drawn(strategy, n=25) -> list:
    out = []

    @settings(max_examples=n, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(setting=strategy)
    def collect(setting):
        out.append(setting)
    collect()
    return out


def test_undeclared_draws_are_unchanged_and_declared_draws_are_supported():
    """An empty declaration draws exactly the settings of no declaration; a fixed β draws only it."""
    plain = _drawn(lazy_settings())
    with session.current().checking_procedure(_declared()):
        assert _drawn(lazy_settings()) == plain
    assert {s.config.momentum for s in plain} == {0.0, 0.9}
    with session.current().checking_procedure(_declared(momentum=0.9, max_gamma=0.0, scenarios=("b",))):
        drawn = _drawn(lazy_settings())
    assert {(s.config.momentum, s.config.gamma, s.config.scenario) for s in drawn} == {(0.9, 0.0, "b")}


def test_explicit_examples_are_mapped_or_skipped_with_a_statement():
    s = session.CheckSession(procedure=_declared(momentum=0.9, scenarios=("a",)))
    with session.started(s):
        def test_mine(setting):
            pass
        decorated = covering_axes()(test_mine)
    examples = [e.kwargs["setting"] for e in decorated.hypothesis_explicit_examples]
    # corner 1 (β = 0, Scenario a) is mapped to β = 0.9; corner 2 (Scenario b) is skipped
    assert [(e.config.momentum, e.config.scenario) for e in examples] == [(0.9, "a")]
    actions = sorted(n["action"].split(":")[0] for n in s.not_run)
    assert actions == ["mapped", "skipped"] and {n["check"] for n in s.not_run} == {"test_mine"}
    assert any(n["reason"] == REASON for n in s.not_run)
    assert any("scenario 'b'" in n["reason"] for n in s.not_run if n["action"] == "skipped")


@pytest.mark.filterwarnings("ignore:Using `reject` outside a property-based test")
def test_the_harness_rejects_an_unsupported_setting_and_holds_an_undeclared_procedure_to_everything():
    corner = axis_examples()[0]           # β = 0
    with session.current().checking_procedure(_declared(momentum=0.9)), session.checking("test_mine", ("P1",)):
        with pytest.raises(UnsatisfiedAssumption):
            require_supported(corner)
        assert session.current().not_run[-1]["reason"] == REASON
        require_supported(Setting(corner.config.replace(momentum=0.9), corner.seeds))   # supported: returns
    with session.current().checking_procedure(_declared(attacks=("l2-one-step",))), \
            session.checking("test_ctrl", ("CTRL-random",)):
        with pytest.raises(UnsatisfiedAssumption):
            require_supported(corner.with_config(attack="random"))
        assert "attack 'random'" in session.current().not_run[-1]["reason"]
    with session.current().checking_procedure(_declared(bias=False)), session.checking("test_p", ("P1", "C1")):
        with pytest.raises(pytest.skip.Exception, match="no bias"):
            require_supported(Setting(corner.config.replace(momentum=0.9), corner.seeds))
    with session.checking("test_mine", ("P1",)):   # the project's procedure declares nothing
        for setting in axis_examples() + [corner.with_config(attack="pgd-l2", dtype="float64")]:
            assert require_supported(setting) is None
    session.current().not_run.clear()


def _records(claim: str, corners) -> list[dict]:
    rng = np.random.default_rng(0)
    with session.checking("test_synthetic", (claim,)):
        for i, corner in enumerate(corners):
            assertions.assert_mean_at_most(beta_draws(0.01, 0.05, rng.random(12)), 0.15, statistic="share",
                                           setting={"example": i, **corner}, seeds=[1000 * i + k for k in range(12)])
    out = [dict(r, nodeid="checks/test_x.py::test_x") for r in session.current().pending()]
    session.current().discard()
    return out


def test_an_excluded_stratum_is_not_checked_never_verified_never_failed(reachable_targets):
    corners = [dict(gamma=0.0, loss="identity", scenario="a", targets="flipped", momentum=0.9),
               dict(gamma=0.3, loss="logistic", scenario="b", targets="random", momentum=0.9)] * 6
    recs = _records("P1", corners)
    held_to_everything = conclude(["P1"], recs)
    assert held_to_everything.claims["P1"]["verdict"] == NOT_VERIFIED and not held_to_everything.ok
    declared = conclude(["P1"], recs, not_checked={"strata": {"momentum=0": REASON}, "claims": {}})
    v = declared.claims["P1"]
    assert v["verdict"] == VERIFIED and declared.ok
    assert v["strata"]["momentum=0"] == dict(v["strata"]["momentum=0"], verdict=NOT_CHECKED, reason=REASON)
    assert f"not checked on the strata momentum=0 ({REASON})" in v["reason"]
    whole = conclude(["P1", "CTRL-random"], recs, not_checked={"strata": {}, "claims": {"CTRL-random": "why"}})
    assert whole.claims["CTRL-random"]["verdict"] == NOT_CHECKED and whole.claims["CTRL-random"]["reason"] == "why"
    assert whole.ok is False  # P1 still lacks its β = 0 stratum: only the declared exclusions are forgiven
