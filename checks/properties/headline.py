"""P3, the paper's headline (THEORY.md §5): where f fits D, g trained on the perturbations
classifies D and agrees with f on fresh inputs far above chance, in most independent pairs."""

from __future__ import annotations

import numpy as np

from theory.tolerances import F_FITS_D, HEADLINE_AGREEMENT, HEADLINE_PAIR_SHARE

from .. import assertions
from ..assertions import tests_claim
from ..harness import run_results
from ..strategies import Setting


@tests_claim("P3")
def g_learns_from_perturbations(setting: Setting, inside: bool) -> None:
    """The share of pairs with agreement > HEADLINE_AGREEMENT, and with g's accuracy on D above it,
    is ≥ HEADLINE_PAIR_SHARE (Clopper–Pearson). Recorded only (inside=False, or f does not fit D:
    mean training accuracy below F_FITS_D) outside the assumption."""
    __tracebackhide__ = True
    results = run_results(setting)
    if not results:
        assertions.observe(value=None, statistic="pairs with agreement and acc_g on D above the headline",
                           setting=setting.describe(), seeds=list(setting.seeds), reason="no valid pairs (all diverged)")
        return
    agreement = np.array([r["agreement"] for r in results])
    acc_g = np.array([r["acc_g_train"] for r in results])
    acc_f = [r["acc_f_train"] for r in results]
    seeds = [r["config"]["seed"] for r in results]
    measured = dict(agreement=agreement.tolist(), acc_g=acc_g.tolist(), acc_f=acc_f,
                    flip_f=[r["flip_fraction_f"] for r in results])
    inside = inside and float(np.mean(acc_f)) >= F_FITS_D
    for statistic, values in ((f"pairs with agreement > {HEADLINE_AGREEMENT:g}", agreement),
                              (f"pairs with acc_g on D > {HEADLINE_AGREEMENT:g}", acc_g)):
        assertions.assert_share_at_least(values > HEADLINE_AGREEMENT, HEADLINE_PAIR_SHARE,
                                         setting=setting.describe(), seeds=seeds, statistic=statistic,
                                         inside=inside, **measured)
