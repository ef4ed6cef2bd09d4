"""MixiT's fixed random mixing matrices, as attention patterns.

MixiT (Dong, Noci, Khodak and Li 2025, arXiv 2506.01115) replaces each head's attention
matrix by a fixed random matrix drawn at initialization,

    A_h = tril(I + c (N_h - nbar_h 1^T)),    N_h[i, j] = s_h Z_h[i, j] for j <= i, else 0,

with ``Z_h[i, j] ~ N(0, 1)`` i.i.d., ``nbar_h[i] = (1 / (i + 1)) sum_{j <= i} N_h[i, j]``
the mean of row ``i`` over its causal support (positions from 0) and ``c`` a constant
mixing weight. Each row of the centred noise sums to zero over ``j <= i``, so every row of
``A_h`` sums to one, and row 0 is exactly ``e_0``: its only entry is
``1 + c (N[0, 0] - N[0, 0])``. The construction follows the reference implementation
(princeton-pli/MixiT, ``modeling_llama.py`` at commit 22ce029, path ``depth_alpha == 0``),
whose per-head noise std ``s_h`` is one of:

* ``"shaped"``: ``1 / sqrt(T n_h)``, the scale of shaped attention and the only scale of
  the same repository's GPT-2 model.
* ``"unshaped"``: ``1 / sqrt(T)``.
* ``"interpolated"``: ``s_h = 1 / sqrt(T n_h) + u_h (1 / sqrt(T) - 1 / sqrt(T n_h))`` with
  ``u_h ~ Uniform(0, 1)`` drawn per head, the reference implementation's default.

``T`` is the length the matrices are drawn for (the reference implementation's
``max_seq_len``) and ``n_h`` the head width. That implementation also replaces head 0 of
every layer by an *attention-sink* head, ``S = I / 2`` with column 0 set to ``1 / 2``:
each position averages itself and position 0. Row 0 of ``S`` is ``e_0 / 2``, so it sums to
``1 / 2``, the only row of any head that does not sum to one.
"""

import functools
import math

import numpy as np

from sims.layers.attention import FixedAttention
from sims.sampling import check_generator, standard_normal, uniform
from sims.seeds import check_seed, stream_seed

NOISE_SCALES = ("shaped", "unshaped", "interpolated")
"""Names of the per-head noise stds that :func:`mixing_noise_std` computes."""


def mixing_noise_std(noise_scale, seq_len, head_width, heads, generator, members,
                     dtype=np.float64):
    """Return each head's noise std ``s_h``, shape ``(K, H)``.

    Parameters
    ----------
    noise_scale : {"shaped", "unshaped", "interpolated"}
        See the module docstring.
    seq_len : int
        ``T``.
    head_width : int
        ``n_h``.
    heads : int
        ``H``.
    generator : numpy.random.Generator or sequence of them
        Draws the ``u_h`` of ``"interpolated"``, one ``(K, H)`` array. The other scales
        draw nothing. See :mod:`sims.sampling`.
    members : int
        ``K``.
    dtype : {numpy.float64, numpy.float32}

    Raises
    ------
    ValueError
        If ``noise_scale`` is not one of ``NOISE_SCALES``.
    """
    shaped = 1.0 / math.sqrt(seq_len * head_width)
    unshaped = 1.0 / math.sqrt(seq_len)
    if noise_scale == "shaped":
        return np.full((members, heads), shaped, dtype=dtype)
    if noise_scale == "unshaped":
        return np.full((members, heads), unshaped, dtype=dtype)
    if noise_scale == "interpolated":
        fraction = uniform(generator, (members, heads), dtype)
        return (shaped + fraction * (unshaped - shaped)).astype(dtype, copy=False)
    raise ValueError(f"unknown noise scale {noise_scale!r}; valid: {', '.join(NOISE_SCALES)}")


def sink_matrix(seq_len, dtype=np.float64):
    """Return the attention-sink matrix ``S = I / 2`` with column 0 set to ``1 / 2``."""
    sink = 0.5 * np.eye(seq_len, dtype=dtype)
    sink[:, 0] = 0.5
    return sink


def mixit_matrices(members, heads, seq_len, head_width, generator, *, noise_scale="shaped",
                   noise_multiplier=1.0, mix_weight=1.0, identity=True, sink=False,
                   dtype=np.float64):
    """Draw MixiT mixing matrices ``A_h`` for every member and head, shape ``(K, H, T, T)``.

    ``A_h = tril(I + c (N_h - nbar_h 1^T))`` with ``N_h`` of std
    ``noise_multiplier * s_h`` (see the module docstring).

    Parameters
    ----------
    members : int
        ``K``.
    heads : int
        ``H``.
    seq_len : int
        ``T``. The matrices serve inputs of any length up to ``T`` through their leading
        block, as :class:`~sims.layers.attention.FixedAttention` uses them.
    head_width : int
        ``n_h``, which sets the ``"shaped"`` and ``"interpolated"`` stds.
    generator : numpy.random.Generator or sequence of K of them
        Draws, in this order, the ``u_h`` of ``"interpolated"`` as one ``(K, H)`` array
        and the noise ``Z`` as one ``(K, H, T, T)`` array (:mod:`sims.sampling`). Entries
        above the diagonal are drawn too and then discarded. The noise of head 0 is drawn
        even when the sink replaces it, so turning the sink on changes head 0 alone.
    noise_scale : {"shaped", "unshaped", "interpolated"}
    noise_multiplier : float
        ``sigma``, a factor on every ``s_h``. With ``H = 1`` and ``n_h = n``, ``"shaped"``
        noise of multiplier ``sigma`` is ``C / sqrt(n)`` with ``C[i, j] ~ N(0, sigma**2 / T)``.
    mix_weight : float
        ``c``, the reference implementation's ``base_attn_mix`` (default 1).
    identity : bool
        Whether ``A_h`` contains ``I``. Without it, rows sum to zero (apart from the sink
        head), which is the reference implementation's path ``depth_alpha != 0``, where an
        unscaled skip connection supplies the identity.
    sink : bool
        Whether head 0 is the attention-sink matrix.
    dtype : {numpy.float64, numpy.float32}
        The dtype of the draws and of the result.

    Returns
    -------
    numpy.ndarray, shape (K, H, T, T)
        Zero above the diagonal. With ``identity``, row 0 of every head but the sink
        equals ``e_0`` exactly and every other row sums to one up to rounding.

    Raises
    ------
    ValueError
        For a shape that is not a positive integer, an unknown noise scale, a negative or
        non-finite multiplier or weight, or a generator sequence of the wrong length.
    """
    for name, value in (("members", members), ("heads", heads), ("seq_len", seq_len),
                        ("head_width", head_width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    for name, value in (("noise_multiplier", noise_multiplier), ("mix_weight", mix_weight)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be finite and non-negative, got {value!r}")
    if noise_scale not in NOISE_SCALES:
        raise ValueError(f"unknown noise scale {noise_scale!r}; valid: {', '.join(NOISE_SCALES)}")
    check_generator(generator, members)

    dtype = np.dtype(dtype).type
    std = mixing_noise_std(noise_scale, seq_len, head_width, heads, generator, members, dtype)
    noise = standard_normal(generator, (members, heads, seq_len, seq_len), dtype)
    noise *= (noise_multiplier * mix_weight) * std[:, :, None, None]

    causal, support, identity_matrix = _causal_constants(seq_len, dtype)
    noise *= causal
    row_mean = noise.sum(axis=-1, keepdims=True)
    row_mean /= support

    # Subtracting the row mean fills the upper triangle too, so the mask clears it again.
    matrices = noise
    matrices -= row_mean
    matrices *= causal
    if identity:
        matrices += identity_matrix
    if sink:
        matrices[:, 0] = sink_matrix(seq_len, dtype)
    return matrices


@functools.lru_cache(maxsize=64)
def _causal_constants(seq_len, dtype):
    """Return the causal mask, the support sizes ``i + 1`` as a column, and ``I``, read-only.

    They are cached because Monte Carlo loops draw matrices of one length many times.
    """
    causal = np.tril(np.ones((seq_len, seq_len), dtype=dtype))
    support = np.arange(1, seq_len + 1, dtype=dtype)[:, None]
    identity_matrix = np.eye(seq_len, dtype=dtype)
    for array in (causal, support, identity_matrix):
        array.flags.writeable = False
    return causal, support, identity_matrix


def mixit_pattern_factory(seeds, heads, seq_len, head_width, **options):
    """Return a ``make_pattern(name, layer)`` for :class:`sims.models.Transformer`.

    Each call returns a :class:`~sims.layers.attention.FixedAttention` with MixiT
    matrices from :func:`mixit_matrices`. The draws of the pattern named ``name`` come
    from ``numpy.random.default_rng(stream_seed(seed, "mixit:" + name))``, so they depend
    on the seed and the layer's name alone, not on the order in which layers are built.

    Parameters
    ----------
    seeds : int or sequence of int
        One non-negative seed: every member shares the matrices, of shape ``(H, T, T)``.
        A sequence of ``K`` seeds: member ``k`` draws its own ``(H, T, T)`` from
        ``seeds[k]``, as a separate run with that seed would.
    heads, seq_len, head_width : int
        As in :func:`mixit_matrices`.
    **options
        Keyword options of :func:`mixit_matrices` (``noise_scale``, ``noise_multiplier``,
        ``mix_weight``, ``identity``, ``sink``, ``dtype``).
    """
    shared = not isinstance(seeds, (list, tuple))
    member_seeds = [check_seed(seed) for seed in ([seeds] if shared else seeds)]
    if not member_seeds:
        raise ValueError("seeds must contain at least one seed")

    def make_pattern(name, layer):
        generators = [np.random.default_rng(stream_seed(seed, f"mixit:{name}"))
                      for seed in member_seeds]
        matrices = mixit_matrices(len(generators), heads, seq_len, head_width, generators,
                                  **options)
        return FixedAttention(matrices[0] if shared else matrices)

    return make_pattern

