"""Data distributions D over (x, y) ∈ R^d × {−1, +1}: the paper's and more, for "any distribution".

THEORY.md §1 claims perturbation learning works *for any data distribution*; §7 lists the paper's
settings. ``make_distribution(name, ...)`` builds a ``Distribution``; ``dist.sample(n, rng)``
draws ``X`` (float64, (n, d)) and ``y`` (int64, (n,), values ±1).

Families (``FAMILIES``)
-----------------------
Synthetic (fresh i.i.d. draws at every call; ``split`` is validated and otherwise ignored):

- ``gauss``: x ~ N(0, I_d), y uniform and independent of x. [paper: "Gauss"]
- ``shifted-gauss``: x ~ N(y·shift·1_d, I_d), shift = 0.3. [paper: "shifted-Gauss"]
- ``aniso-mixture``: x ~ N(y·μ, Q Λ Qᵀ); μ a random direction of norm ~ U[1, 2], Λ random
  eigenvalues (log-uniform, condition number ``cond``, mean 1), Q a random rotation.
- ``hypercube``: x ~ U[−√3, √3]^d (unit variance), y = sign(w·x) for a random w.
- ``student-t``: x = y·shift·1_d + t_df-noise scaled to unit variance (heavy tails, df = 3).
- ``subspace``: x = √(d/k)·U(y·shift·1_k + z), z ~ N(0, I_k), U a random d×k orthonormal basis.
- ``sparse-binary``: x_i = (b_i − p)/√(p(1−p)), b_i ~ Bernoulli(p); y = sign(w·x), ties → −1.
- ``xor``: x ~ N(0, I_d), y = sign((u·x)(v·x)) for random orthonormal u, v (not linearly separable).

Real (two classes of ten, ``pair``; ``pair[0]`` → y = −1, ``pair[1]`` → y = +1):

- ``digits``: scikit-learn's bundled 8×8 digits (d = 64, offline), pixels / 16 ∈ [0, 1].
- ``mnist``, ``fashion-mnist``: IDX files in ``data_dir`` (d = 784), pixels / 255 ∈ [0, 1].

Labels are balanced where the family draws y first (exactly ⌊n/2⌋ of one class, by a random
permutation, never by filtering). ``hypercube`` and ``xor`` label by a function of x and still
balance exactly: x is drawn for its label by a measure-preserving reflection (x ↦ −x, resp.
x ↦ x − 2(u·x)u), which maps one label region onto the other. ``sparse-binary`` labels by a
function of x that has no such symmetry, so its class balance is only approximate.
Every family keeps the per-coordinate scale O(1), so ‖x‖²/d = O(1).

Centring of real data follows the official code (see ``images``).

Randomness: ``rng`` of ``make_distribution`` draws the family's fixed random structure (μ, Q, w, U,
...); it is required where there is any. ``sample`` uses only its own ``rng``; there is no global
random state. Same seeds give identical arrays. sgn(0) = −1 wherever a label is a sign
(``theory.model.sign_pm1``).

Your own data: an ``.npz`` file (``Config.data``, ``--data``) or a sampler registered with
``register_family`` (module ``user``).

Modules: ``base`` (the Distribution interface and the family limits as class attributes),
``synthetic``, ``images`` (digits, MNIST, Fashion-MNIST), ``idx`` (the IDX reader), ``registry``.
"""

from .base import SPLITS, Distribution, balanced_labels
from .idx import read_idx
from .images import CENTERINGS, OFFICIAL_PAIRS, ImageDistribution, digits_split_indices
from .registry import (FAMILIES, FAMILY_CLASSES, REAL_FAMILIES, SYNTHETIC_FAMILIES, family,
                       make_distribution)
from .user import (MIN_CLASS_SAMPLES, NPZ_FAMILY, NPZ_TEST_SHARE, NpzDistribution, load_npz, register_family,
                   registered_families, unregister_family)

__all__ = ["SPLITS", "Distribution", "balanced_labels", "read_idx", "CENTERINGS", "OFFICIAL_PAIRS",
           "ImageDistribution", "digits_split_indices", "FAMILIES", "FAMILY_CLASSES", "REAL_FAMILIES",
           "SYNTHETIC_FAMILIES", "family", "make_distribution", "MIN_CLASS_SAMPLES", "NPZ_FAMILY",
           "NPZ_TEST_SHARE", "NpzDistribution", "load_npz", "register_family", "registered_families",
           "unregister_family"]
