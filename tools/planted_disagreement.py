"""A planted bug that sets g's disagreement with itself to a chosen share, to measure what a check run
detects: the checked procedure is the project's, except that g's output changes sign on a fraction q of
all inputs (chosen by a fixed hash of the input, independently of f and g).

Where g agreed with f on every covered input, P1's per-pair share of disagreement becomes ≈ q, so the
smallest q that makes the run fail is the smallest true disagreement the run detects against P1's bound
3δ. Run, e.g.:

    PLANTED_DISAGREEMENT=0.05 pytest checks/test_thm34_scenario_a.py --procedure tools.planted_disagreement:procedure
"""

from __future__ import annotations

import dataclasses
import os

import torch

from perturbation_learning.procedure import FunctionNet
from perturbation_learning.run import perturbation_learning

#: Environment variable with the planted share q in [0, 1].
SHARE_VARIABLE = "PLANTED_DISAGREEMENT"


def flipped(X: torch.Tensor, q: float) -> torch.Tensor:
    """A fixed pseudo-random subset of the rows of X with density q (a hash of each row)."""
    h = torch.frac(torch.sin((X.double() * 12.9898).sum(-1) + 78.233) * 43758.5453).abs()
    return h < q


def procedure(config, sample, streams):
    """The project's procedure with g's sign flipped on a share q (from $PLANTED_DISAGREEMENT) of inputs."""
    out = perturbation_learning(config, sample, streams)
    q = float(os.environ.get(SHARE_VARIABLE, "0"))
    g = out.g.net

    def flipping(net):
        def fn(X):
            y = net(X.to(net.W.dtype))
            return torch.where(flipped(X, q), -y, y)
        return fn

    nets = [g[i] for i in range(g.batch_shape[0])]
    net = FunctionNet(g.W, g.b, g.a, g.gamma, tuple(flipping(n) for n in nets), g.W.dtype)
    out.g = dataclasses.replace(out.g, net=net)
    return out
