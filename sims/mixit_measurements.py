"""Measurements of MixiT signal propagation that figures and claims share.

* :func:`monte_carlo_mean`: the mean of ``V = X X^T / n`` over independent idealized MixiT
  blocks (:mod:`sims.idealized_block`) at several depths, with standard errors, to
  compare with the exact recursion ``E[V_L] = (I + (gamma**2 / n) D)**L V0``.
* :func:`simulate_uniform_attention`: the uniform-attention residual model
  ``X' = X + a U X W / sqrt(n)``, the small-logit limit of softmax attention, which
  collapses the rank of the tokens unless ``a**2`` shrinks like ``1 / L``.
* :func:`largest_correlation` and :func:`collapsed_fraction`: the largest ``|rho_ab|``
  of each network and the fraction of networks beyond a threshold.
* :func:`rank_collapse_curves`: the mean cosine similarity and the rank-collapse residual
  of full transformer stacks (:mod:`sims.rank_collapse`) after every layer, one stack per
  seed index, cached.
* :func:`depth_summary`: per-depth mean, standard error and quantiles over networks, the
  value at the largest depth and the per-network least-squares slope against depth.

Every network draws from its own ``numpy.random.Generator``, seeded from the base seed,
its seed index and the configuration (:func:`sims.seeds.run_seed_sequence`), so a result
does not depend on how many networks run together.
"""

import math

import numpy as np
from scipy import stats

from sims.cache import RunCache
from sims.idealized_block import simulate_idealized_block, tokens_with_covariance
from sims.rank_collapse import RankCollapseConfig, simulate_rank_collapse
from sims.sampling import check_generator, standard_normal
from sims.seeds import run_seed_sequence
from sims.token_metrics import correlation_matrix, token_covariance

SKIP_WEIGHT = math.sqrt(0.5)
"""``lambda`` of the MixiT and shaped stacks, the reference implementation's algorithmic
setting (princeton-pli/MixiT, ``depth.py``, ``skip_scaling = sqrt(0.5)``)."""

C_MINUS = -1.0
"""The shaped leaky ReLU's ``c`` in those stacks, the reference implementation's default."""

RANK_COLLAPSE_SCALES = {
    "smoke": {"width": 32, "heads": 2, "seq_len": 8, "depths": (2, 4, 8), "networks": 4},
    "quick": {"width": 256, "heads": 4, "seq_len": 32, "depths": (2, 4, 8, 16, 32, 64),
              "networks": 32},
    "paper": {"width": 512, "heads": 8, "seq_len": 64,
              "depths": (2, 4, 8, 16, 32, 64, 128), "networks": 64},
}
"""Sizes of the rank-collapse comparison per scale: width ``n``, heads ``H``, tokens ``T``,
the depths shown and the number of independent stacks per model."""

MONTE_CARLO_BATCH = 50_000
"""Networks simulated at once by :func:`monte_carlo_mean`; bounds its memory."""


def monte_carlo_mean(V0, width, depths, skip_weight, members, base_seed, *,
                     noise_multiplier=1.0, batch=MONTE_CARLO_BATCH):
    """Return the Monte Carlo mean of ``V`` after each depth over independent idealized blocks.

    Every network starts from the same tokens, ``X0 X0^T / n = V0``
    (:func:`sims.idealized_block.tokens_with_covariance`), and draws fresh mixing and
    value matrices in every layer. Networks run in batches of at most ``batch``; batch
    ``i`` draws from the seed sequence of seed index ``i``.

    Parameters
    ----------
    V0 : array_like, shape (T, T)
        Initial token covariance.
    width : int
        ``n >= T``.
    depths : sequence of int
        Depths ``L >= 0`` at which the mean is recorded.
    skip_weight : float
        ``lambda`` in ``[0, 1]``; the branch weight is ``sqrt(1 - lambda**2)``.
    members : int
        Number of networks ``K >= 2``.
    base_seed : int
    noise_multiplier : float
        ``sigma`` of the mixing noise.
    batch : int
        Networks per batch.

    Returns
    -------
    dict
        ``depths`` (sorted), ``mean`` and ``standard_error`` of shape ``(R, T, T)``
        (the standard error is the sample standard deviation over ``sqrt(K)``),
        ``members``.
    """
    V0 = np.asarray(V0, dtype=np.float64)
    if members < 2:
        raise ValueError(f"a standard error needs at least 2 networks, got members={members!r}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch!r}")
    recorded = np.unique(np.asarray(depths, dtype=int))
    tokens = tokens_with_covariance(V0, width)
    identity = {"model": "idealized_block", "width": int(width), "seq_len": int(V0.shape[-1]),
                "skip_weight": float(skip_weight), "noise_multiplier": float(noise_multiplier)}

    # Sums of V and V**2 over the networks, accumulated batch by batch in float64.
    total = np.zeros((recorded.size,) + V0.shape)
    total_squares = np.zeros_like(total)
    for index, start in enumerate(range(0, members, batch)):
        size = min(batch, members - start)
        generator = np.random.default_rng(run_seed_sequence(base_seed, index, identity))
        shared = np.broadcast_to(tokens, (size,) + tokens.shape)
        trajectory = simulate_idealized_block(shared, int(recorded[-1]), skip_weight, generator,
                                              noise_multiplier=noise_multiplier, layers=recorded)
        total += trajectory.covariances.sum(axis=1)
        total_squares += np.square(trajectory.covariances).sum(axis=1)

    mean = total / members
    variance = np.maximum(total_squares / members - mean**2, 0.0) * members / (members - 1)
    return {"depths": recorded.tolist(), "mean": mean,
            "standard_error": np.sqrt(variance / members), "members": int(members)}


def uniform_averaging_matrix(seq_len, causal):
    """Return ``U``: ``1 1^T / T``, or the causal average ``U[a, j] = 1 / (a + 1)`` for ``j <= a``."""
    if causal:
        return np.tril(np.ones((seq_len, seq_len))) / np.arange(1, seq_len + 1)[:, None]
    return np.full((seq_len, seq_len), 1.0 / seq_len)


def simulate_uniform_attention(tokens, depth, generator, *, branch_multiplier=1.0, causal=True,
                               layers=None):
    """Apply ``depth`` uniform-attention blocks ``X' = X + a U X W / sqrt(n)`` to every member.

    ``W`` has ``N(0, 1)`` entries, drawn afresh in every block, and ``U`` is
    :func:`uniform_averaging_matrix`. The blocks are linear in ``X``, so dividing ``X`` by
    a positive number changes no correlation. After each block every member's ``X`` is
    divided by its root-mean-square entry, which keeps the norms, which grow like
    ``(1 + a**2)**(L / 2)``, from overflowing.

    Parameters
    ----------
    tokens : numpy.ndarray, shape (K, T, n)
    depth : int
        ``L >= 0``.
    generator : numpy.random.Generator or sequence of K of them
        Draws each block's ``(K, n, n)`` value matrices in block order (:mod:`sims.sampling`).
    branch_multiplier : float
        ``a``; ``a = 1`` is the unscaled residual.
    causal : bool
        Causal or bidirectional averaging.
    layers : sequence of int, optional
        Depths ``0 ... L`` at which to record, by default every one.

    Returns
    -------
    numpy.ndarray, shape (R, K, T, T)
        ``V = X X^T / n`` of the rescaled tokens at each recorded depth, so only its
        correlations, not its scale, are those of the model.
    """
    tokens = np.asarray(tokens, dtype=np.float64)
    if tokens.ndim != 3:
        raise ValueError(f"tokens must have shape (K, T, n), got shape {tokens.shape}")
    members, length, width = tokens.shape
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    check_generator(generator, members)
    recorded = np.arange(depth + 1) if layers is None else np.unique(np.asarray(layers, dtype=int))
    if recorded.size and (recorded[0] < 0 or recorded[-1] > depth):
        raise ValueError(f"layers must lie in 0 ... {depth}, got {list(np.asarray(layers))}")

    averaging = uniform_averaging_matrix(length, causal)
    scale = branch_multiplier / math.sqrt(width)
    x = tokens.copy()
    covariances = np.empty((recorded.size, members, length, length))
    values = np.empty((members, width, width))
    for layer in range(depth + 1):
        if layer > 0:
            standard_normal(generator, values.shape, np.float64, out=values)
            x = x + scale * np.matmul(np.matmul(averaging, x), values)
            x /= np.sqrt(np.mean(x * x, axis=(-2, -1), keepdims=True))
        position = np.searchsorted(recorded, layer)
        if position < recorded.size and recorded[position] == layer:
            covariances[position] = token_covariance(x)
    return covariances


def largest_correlation(covariances):
    """Return ``max_{a != b} |rho_ab|`` of each covariance matrix, shape ``(...)``.

    Correlations come from :func:`sims.token_metrics.correlation_matrix`, which gives a
    zero-variance token correlation 0.
    """
    correlations = np.abs(correlation_matrix(covariances))
    size = correlations.shape[-1]
    if size < 2:
        raise ValueError(f"a largest correlation needs at least 2 tokens, got {size}")
    off_diagonal = ~np.eye(size, dtype=bool)
    return correlations[..., off_diagonal].max(axis=-1)


def collapsed_fraction(covariances, threshold):
    """Return the fraction of networks whose largest ``|rho_ab|`` exceeds ``threshold``.

    ``covariances`` has shape ``(K, T, T)``; the result is ``(fraction, count, K)``.
    """
    largest = largest_correlation(covariances)
    count = int(np.count_nonzero(largest > threshold))
    return count / largest.size, count, int(largest.size)


def rank_collapse_curves(config, members, base_seed, cache=RunCache(None)):
    """Run or load ``members`` stacks of ``config`` and return their curves after every layer.

    Stack ``k`` draws its input and every layer from the seed sequence of seed index ``k``
    (:func:`sims.rank_collapse.simulate_rank_collapse` with one generator per member), so
    stack ``k`` is the same whatever ``members`` is. Each stack processes one input sequence.

    Parameters
    ----------
    config : sims.rank_collapse.RankCollapseConfig
    members : int
        ``K``, the number of stacks.
    base_seed : int
    cache : sims.cache.RunCache

    Returns
    -------
    dict
        ``cosine`` and ``residual``, arrays of shape ``(L + 1, K)`` indexed by the number
        of layers applied (:func:`sims.token_metrics.mean_cosine_similarity`,
        :func:`sims.token_metrics.rank_collapse_residual`).
    """
    key = {"config": _config_record(config), "members": int(members), "base_seed": int(base_seed)}
    stored = cache.load("mixit-rank-collapse", key)
    if stored is not None:
        return {"cosine": stored["cosine"], "residual": stored["residual"]}
    identity = _config_record(config)
    generators = [np.random.default_rng(run_seed_sequence(base_seed, index, identity))
                  for index in range(members)]
    curves = simulate_rank_collapse(config, members, generators)
    result = {"cosine": curves.cosine[:, :, 0], "residual": curves.residual[:, :, 0]}
    cache.store("mixit-rank-collapse", key, result)
    return result


def comparison_stack(kind, width, heads, seq_len, depth):
    """Return the :class:`sims.rank_collapse.RankCollapseConfig` of the rank-collapse comparison.

    ``"standard"`` keeps the std 0.02 for every matrix, without GPT-2's ``1 / sqrt(2 L)``
    on the output projections, so no weight depends on the depth and the residual has
    no depth factor. ``"mixit"`` and ``"shaped"`` use :data:`SKIP_WEIGHT` and
    :data:`C_MINUS`.
    """
    return RankCollapseConfig(kind=kind, width=width, depth=depth, heads=heads,
                              seq_len=seq_len, projection_init="table",
                              skip_weight=SKIP_WEIGHT, c_minus=C_MINUS)


def _config_record(config):
    if not isinstance(config, RankCollapseConfig):
        raise ValueError(f"config must be a RankCollapseConfig, got {type(config).__name__}")
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def depth_summary(values, depths):
    """Summarize per-network curves: statistics per depth, at the largest depth, and slopes.

    Parameters
    ----------
    values : array_like, shape (L + 1, K)
        ``values[l, k]``: network ``k`` after ``l`` layers.
    depths : sequence of int
        Depths at which to report the statistics; the largest is the one reported alone.

    Returns
    -------
    dict
        ``depths``; per depth the ``mean``, ``standard_error``, ``median``, ``q10`` and
        ``q90`` over networks; ``final``: mean, standard error and per-network values at
        the largest depth; ``slope``: mean, standard error and per-network values of the
        least-squares slope against the layer index over layers ``1 ... max(depths)``,
        per layer.
    """
    values = np.asarray(values, dtype=np.float64)
    depths = [int(depth) for depth in depths]
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"values must have shape (L + 1, K) with K >= 2, got {values.shape}")
    if min(depths) < 1 or max(depths) >= values.shape[0]:
        raise ValueError(f"depths must lie in 1 ... {values.shape[0] - 1}, got {depths}")
    at_depths = values[depths]
    last = max(depths)
    layers = np.arange(1, last + 1, dtype=np.float64)
    centred = layers - layers.mean()
    slopes = centred @ values[1:last + 1] / (centred @ centred)
    final = values[last]
    return {
        "depths": depths,
        "mean": at_depths.mean(axis=1),
        "standard_error": stats.sem(at_depths, axis=1),
        "median": np.median(at_depths, axis=1),
        "q10": np.quantile(at_depths, 0.1, axis=1),
        "q90": np.quantile(at_depths, 0.9, axis=1),
        "final": {"depth": last, "mean": float(final.mean()),
                  "standard_error": float(stats.sem(final)), "values": final},
        "slope": {"layers": [1, last], "mean": float(slopes.mean()),
                  "standard_error": float(stats.sem(slopes)), "values": slopes},
    }


def closed_form_slope(curve):
    """Return the least-squares slope of ``curve[1:]`` against layers ``1 ... L``, as in
    :func:`depth_summary`."""
    curve = np.asarray(curve, dtype=np.float64)
    layers = np.arange(1, curve.size, dtype=np.float64)
    centred = layers - layers.mean()
    return float(centred @ curve[1:] / (centred @ centred))


def residual_of_covariance(V):
    """Return ``sqrt(1 - 1^T V 1 / (T tr V))``, the rank-collapse residual in terms of ``V``.

    ``|X - 1 xbar^T|_F**2 / n = tr V - 1^T V 1 / T`` and ``|X|_F**2 / n = tr V``, so this is
    :func:`sims.token_metrics.rank_collapse_residual` of tokens with covariance ``V``.
    Rounding below zero is clipped to zero.
    """
    V = np.asarray(V, dtype=np.float64)
    size = V.shape[-1]
    trace = np.trace(V, axis1=-2, axis2=-1)
    ratio = V.sum(axis=(-2, -1)) / (size * trace)
    return np.sqrt(np.clip(1.0 - ratio, 0.0, 1.0))
