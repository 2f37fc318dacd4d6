"""R7: g is fresh. THEORY.md §1 trains "a fresh, independent network" g, and every bound on g (B_0 of
C2, P1–P5) treats g_0 as drawn independently of f_0: a g_0 that starts from f_0 agrees with f before it
learns anything, and every other claim would read that agreement as learning. R1–R6 cannot see it (the
report is consistent with itself), so R7 checks it on the pairs R1–R6 check (``checks.conformance``).

Exact part (one count per part, which must be 0, in the R7 record of ``checks.conformance``): among
g_0's first CONFORMANCE_ROWS_PER_SET neurons none is one of f_0's, (w_k, b_k) up to rounding in any
order; g_0's W_0 is not f_0's (every one of those rows a row of f_0's); g_0's b_0 is not f_0's in any
order (not checked where f_0's biases are constant: a network without bias has b ≡ 0 in both).
Rounding is COPY_ULPS float32 roundings relative (``theory.conformance.copied_rows``): a copy through
another dtype is caught, and independent draws of the theory's initialisation match with probability
below 2·10⁻⁸ per pair. A g that starts from f_0 fails with probability 1.

Statistical part: per pair X = (1 + ρ)/2, ρ the correlation of f_0 and g_0 (values from their reported
parameters) on the first CONFORMANCE_ROWS_PER_SET test inputs (``theory.conformance.fresh_statistic``).
For a fresh g_0 with a symmetric readout E[X] = 1/2 exactly, whatever γ, the bias and the data; the
setting's pairs are asserted E[X] ≤ 1/2 by the betting test (``checks.assertions.assert_mean_at_most``),
and the run pools them over every setting and stratum (``reporting.verdicts``). Two pairs cannot reject
(their capital stays below 3.1 < 1/α), so a setting's record is "underpowered"; the pooled test reaches
R7's power target (a mean 0.8, ρ = 0.6, ``theory.tolerances.POWER_TARGETS``) from about 130 pairs (the
ci run pools about 200: it detects 0.76). It catches a g_0 close to f_0's function but not to its
parameters (a warm start from a briefly trained f, f_0 plus noise beyond rounding). A g_0 of f_0's W_0,
b_0 with a fresh readout has E[X] = 1/2: the exact part catches that one.
Where a procedure reports non-finite W_0 or b_0, neither part is checked: an observation says
"not checked (not reported)" and R7 has no asserted record there.
"""

from __future__ import annotations

import numpy as np

from theory import conformance as C
from theory.tolerances import CONFORMANCE_ROWS_PER_SET

from . import assertions
from .session import claim_scope

#: The statistic of R7's records over pairs.
STATISTIC = "(1 + corr(f_0, g_0))/2 on the test inputs"


def _first_layer(p, name):
    """(W_0, b_0) of network ``name`` ('f_0' or 'g_0') of a checked pair, None where not reported (non-finite)."""
    W, b, _, _ = p.params[name]
    return (W, b) if np.isfinite(W).all() and np.isfinite(b).all() else None


def g_is_fresh(p, out) -> None:
    """R7's exact part on one pair (``checks.conformance.Checked``), into ``out`` (``Findings``)."""
    f0, g0 = _first_layer(p, "f_0"), _first_layer(p, "g_0")
    if f0 is None or g0 is None:
        out.not_reported("R7", "W_0, b_0 of f_0 and g_0")
        return
    (Wf, bf), (Wg, bg) = f0, g0
    Wg, bg_rows = Wg[:CONFORMANCE_ROWS_PER_SET], bg[:CONFORMANCE_ROWS_PER_SET]

    def where(k):
        return f"neuron #{k} of g_0 (seed {p.seed})"

    out.count("R7", "a neuron (w_k, b_k) of g_0 is one of f_0's up to rounding",
              C.copied_rows(np.column_stack([Wg, bg_rows]), np.column_stack([Wf, bf])), where)
    out.count("R7", "g_0's W_0 is f_0's up to rounding and the order of the neurons",
              [0] if len(C.copied_rows(Wg, Wf)) == len(Wg) else [], where)
    if np.ptp(bf) == 0:
        out.not_checked("R7", "g_0's b_0 against f_0's", "f_0's biases are constant, not drawn")
    else:
        out.count("R7", "g_0's b_0 is f_0's up to rounding and order", [0] if C.same_values(bg, bf) else [], where)


def fresh_value(p) -> float | None:
    """One pair's (1 + ρ(f_0, g_0))/2 on the test inputs; None where W_0 or b_0 is not reported."""
    if _first_layer(p, "f_0") is None or _first_layer(p, "g_0") is None:
        return None
    return C.fresh_statistic(p.formula("f_0", "z")[0], p.formula("g_0", "z")[0])


def independence(pairs, seeds, setting, procedure: str) -> list[str]:
    """R7's statistical part over a setting's checked pairs (``seeds``: theirs, in order): one record; the
    failure line, if the test rejects, in the form of the other conformance failures."""
    values = [fresh_value(p) for p in pairs]
    if not values:
        return []
    with claim_scope("R7"):
        if any(v is None for v in values):
            assertions.observe(value=None, statistic=STATISTIC, setting=setting.describe(), seeds=list(seeds),
                               reason="not checked (not reported): W_0, b_0 of f_0 and g_0")
            return []
        try:
            assertions.assert_mean_at_most(values, C.FRESH_NULL_MEAN, setting=setting.describe(), seeds=list(seeds),
                                           statistic=STATISTIC)
        except AssertionError as failure:
            return [f"R7 ({procedure}): f_0 and g_0 correlate more than independent draws: "
                    f"{str(failure).removeprefix('R7: ')}"]
    return []
