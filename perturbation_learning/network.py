"""The two-layer leaky-ReLU network of THEORY.md §1, with an optional leading batch axis.

f(x) = Σ_k a_k φ(w_k·x + b_k),  φ(s) = max(s, γs),  w_k ~ N(0, I/d), b_k ~ N(0, 1), a_k ~ N(0, 1/m).

Parameters carry an optional leading batch axis B, so that many independent networks train as one
tensor program (``W`` is (m, d) or (B, m, d)). Data X is (N, d), shared by every network, or
(B, N, d), one data set per network. Gradients are written out analytically: the readout is fixed,
so ∂f/∂w_k = a_k s_k(x) x with s = φ' ∈ {γ, 1}; this avoids autograd's overhead in the hot loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from theory.model import leaky_derivative, leaky_relu, readout
from .validation import check_gamma, check_positive_int, check_torch_generator, resolve_device, resolve_dtype


# One network must get the same bits alone and in a batch: run_batch promises each seed the numbers
# of its single run (and a check's repro line reruns one seed). Three things in torch's CPU (MKL)
# kernels break that (measured; tests/test_determinism.py asserts the bit identity): (1) a batch of one is folded into a
# plain mm/mv while B > 1 runs bmm, whose sums are ordered differently for some shapes; (2) MKL's
# matrix-vector kernel (mv, or an mm with one row or column) and (3) its small-matrix gemm (a
# dimension below ~10, e.g. width 3) order their sums by the operands' memory alignment, and
# network i of a batch starts i·N·m floats into the buffer. So products run one mm per network on
# 64-byte-aligned operands (a misaligned slice is copied; fresh tensors are aligned), and any
# vector-shaped product is an elementwise product and a sum, which does not depend on alignment.
_ALIGN = 64


def _aligned(t: torch.Tensor) -> torch.Tensor:
    return t if t.data_ptr() % _ALIGN == 0 else t.clone()  # clone keeps the strides (layout)


def matmul_per_network(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """A @ B for A (N, k) or (B, N, k) and B (k, m) or (B, k, m), one mm per network."""
    if A.shape[-2] == 1 or B.shape[-1] == 1:  # a matrix-vector product in disguise
        return (A.unsqueeze(-1) * B.unsqueeze(-3)).sum(-2)
    if A.ndim < 3 and B.ndim < 3:
        return torch.mm(_aligned(A), _aligned(B))
    n = A.shape[0] if A.ndim == 3 else B.shape[0]
    out = torch.empty((n, A.shape[-2], B.shape[-1]), dtype=A.dtype, device=A.device)
    for i in range(n):
        Ai, Bi = _aligned(A[i] if A.ndim == 3 else A), _aligned(B[i] if B.ndim == 3 else B)
        if out[i].data_ptr() % _ALIGN == 0:
            torch.mm(Ai, Bi, out=out[i])
        else:
            out[i] = torch.mm(Ai, Bi)
    return out


@dataclass
class TwoLayerNet:
    """W (…, m, d), b (…, m), a (…, m): first layer, biases, fixed readout; γ the leaky slope."""

    W: torch.Tensor
    b: torch.Tensor
    a: torch.Tensor
    gamma: float

    @property
    def batch_shape(self) -> tuple:
        return tuple(self.W.shape[:-2])

    @property
    def width(self) -> int:
        return self.W.shape[-2]

    @property
    def dim(self) -> int:
        return self.W.shape[-1]

    def clone(self) -> "TwoLayerNet":
        return TwoLayerNet(self.W.clone(), self.b.clone(), self.a.clone(), self.gamma)

    def __getitem__(self, i) -> "TwoLayerNet":
        """The i-th network of a batch."""
        if not self.batch_shape:
            raise TypeError("an unbatched TwoLayerNet cannot be indexed")
        return TwoLayerNet(self.W[i], self.b[i], self.a[i], self.gamma)

    def _check_input(self, X: torch.Tensor) -> torch.Tensor:
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
        if X.ndim < 2:
            raise ValueError(f"X has shape {tuple(X.shape)}, must be (N, d) or (B, N, d)")
        if X.shape[-1] != self.dim:
            raise ValueError(f"X has dimension {X.shape[-1]}, but the network expects d == {self.dim}")
        return X.to(dtype=self.W.dtype, device=self.W.device)

    def preactivations(self, X: torch.Tensor) -> torch.Tensor:
        """H[…, n, k] = w_k·x_n + b_k."""
        X = self._check_input(X)
        return matmul_per_network(X, self.W.transpose(-1, -2)) + self.b.unsqueeze(-2)

    def slopes(self, H: torch.Tensor) -> torch.Tensor:
        """s = φ'(h) ∈ {γ, 1}, with s(0) = γ (``theory.model.leaky_derivative``)."""
        return leaky_derivative(H, self.gamma)

    def patterns(self, X: torch.Tensor) -> torch.Tensor:
        """Boolean activation patterns 1[w_k·x + b_k > 0], shape (…, N, m)."""
        return self.preactivations(X) > 0

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """f(x_n) for every row of X: shape (…, N)."""
        return readout(leaky_relu(self.preactivations(X), self.gamma), self.a)

    __call__ = forward

    def input_grad(self, X: torch.Tensor) -> torch.Tensor:
        """∇_x f(x_n) = Σ_k a_k s_k(x_n) w_k, shape (…, N, d)."""
        S = self.slopes(self.preactivations(X))
        return matmul_per_network(S * self.a.unsqueeze(-2), self.W)


def init_network(d: int, m: int, gamma: float = 0.0, *, generator: torch.Generator,
                 batch: int | None = None, dtype="float32", device="cpu") -> TwoLayerNet:
    """Draw w_k ~ N(0, I/d), b_k ~ N(0, 1), a_k ~ N(0, 1/m) from ``generator``.

    The draws are made in float64 on the CPU and then cast, so one seed gives the same network
    whatever the dtype or device; ``batch`` stacks that many independent networks.
    """
    d = check_positive_int(d, "d")
    m = check_positive_int(m, "m")
    gamma = check_gamma(gamma)
    check_torch_generator(generator)
    batch = None if batch is None else check_positive_int(batch, "batch")
    return draw_network(d, m, gamma, generator, batch, resolve_dtype(dtype), resolve_device(device))


def draw_network(d: int, m: int, gamma: float, generator: torch.Generator, batch: int | None,
                 dtype: torch.dtype, device: torch.device) -> TwoLayerNet:
    """``init_network`` on checked arguments (the procedure's inner step)."""
    shape = () if batch is None else (batch,)

    def normal(*s, std):
        return (torch.randn(*shape, *s, generator=generator, dtype=torch.float64) * std).to(dtype=dtype, device=device)

    W = normal(m, d, std=d ** -0.5)
    b = normal(m, std=1.0)
    a = normal(m, std=m ** -0.5)
    return TwoLayerNet(W, b, a, gamma)


def stack_networks(nets: list[TwoLayerNet]) -> TwoLayerNet:
    """Stack unbatched networks of equal shape and γ into one batch."""
    if not nets:
        raise ValueError("nets must be a non-empty list")
    gammas = {n.gamma for n in nets}
    if len(gammas) != 1:
        raise ValueError(f"nets have different gamma values {sorted(gammas)}; a batch shares one γ")
    return TwoLayerNet(torch.stack([n.W for n in nets]), torch.stack([n.b for n in nets]),
                       torch.stack([n.a for n in nets]), nets[0].gamma)
