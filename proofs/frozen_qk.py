"""Explicit constructions behind the expressivity of attention with frozen random Q/K.

Dong, Noci, Khodak and Li 2025 (arXiv 2506.01115) state that one attention layer with
frozen random query and key weights, followed by an MLP, approximates continuous causal
sequence-to-sequence functions. They also state that MixiT, whose attention is a fixed
random mixing matrix, cannot. Their proof was not at hand, so the constructions below are the suite's
own, checked in float64:

* :func:`rank_one_reduction`: tokens on a line and positional vectors in the common
  kernel of every ``W^Q``, ``W^K`` make each head's logits exactly ``kappa a a^T``.
* :func:`feature_jacobian_rank`: the Jacobian rank of the one-layer feature map at the
  last position, for Frozen-QK and for MixiT.
* :func:`mixit_blind_spot`: two different prefixes that one MixiT layer maps to the same
  output at the last position, for every value, output and MLP weight.
* :func:`induction_construction` and :func:`induction_accuracy`: a two-layer induction
  head on frozen random Q/K, solved by minimum-norm linear systems.

Conventions: a sequence is a ``(T, n)`` array, one row per token; positions run from 0;
attention is causal; head ``h`` has frozen ``W^Q_h, W^K_h`` of shape ``(n_h, n)`` with
entries ``N(0, 1/n)`` and logits ``s_ij = (W^Q_h x_i) . (W^K_h x_j) / sqrt(n_h)``.
"""

import math

import numpy as np
from scipy.special import softmax

from sims.layers.mixing import mixit_matrices

EPSILON = np.finfo(np.float64).eps


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def frozen_qk_weights(heads, head_width, width, generator):
    """Draw frozen query and key weights, each of shape ``(H, n_h, n)``, entries ``N(0, 1/n)``."""
    heads = _check_int("heads", heads, 1)
    head_width = _check_int("head_width", head_width, 1)
    width = _check_int("width", width, 1)
    scale = 1.0 / math.sqrt(width)
    query = generator.normal(0.0, scale, (heads, head_width, width))
    key = generator.normal(0.0, scale, (heads, head_width, width))
    return query, key


def attention_logits(tokens, query, key):
    """Return the logits ``(W^Q_h X^T)^T (W^K_h X^T) / sqrt(n_h)``, shape ``(H, T, T)``, unmasked."""
    head_width = query.shape[1]
    queries = np.einsum("hkn,tn->htk", query, tokens)
    keys = np.einsum("hkn,tn->htk", key, tokens)
    return queries @ keys.transpose(0, 2, 1) / math.sqrt(head_width)


def causal_softmax(logits):
    """Return the row-wise softmax over ``j <= i`` of ``logits`` (last two axes ``T, T``)."""
    length = logits.shape[-1]
    masked = np.where(np.tril(np.ones((length, length), dtype=bool)), logits, -np.inf)
    return softmax(masked, axis=-1)


# Rank-one reduction ------------------------------------------------------------------

def common_kernel(query, key):
    """Return an orthonormal basis ``(n, r)`` of the kernel shared by every ``W^Q_h``, ``W^K_h``.

    The stacked matrix has ``2 H n_h`` rows, so for Gaussian weights ``r = n - 2 H n_h``
    with probability one when that is positive. The basis comes from the SVD of the
    stack, with singular values below ``max(shape) * eps * s_max`` counted as zero.
    """
    stacked = np.concatenate([query.reshape(-1, query.shape[-1]),
                              key.reshape(-1, key.shape[-1])])
    _, singular, right = np.linalg.svd(stacked)
    tolerance = max(stacked.shape) * EPSILON * singular[0]
    rank = int((singular > tolerance).sum())
    return right[rank:].T


def rank_one_reduction(query, key, seq_len, generator):
    """Build tokens whose logits in every head are exactly ``kappa_h a a^T``.

    Each token is ``x_i = a_i w + p_i`` with a direction ``w``, scalars ``a_i`` and a
    positional vector ``p_i`` in the common kernel of every ``W^Q_h`` and ``W^K_h``.
    Then ``W^Q_h x_i = a_i W^Q_h w`` and ``W^K_h x_j = a_j W^K_h w``, so the logits are
    ``s_ij = kappa_h a_i a_j`` with ``kappa_h = (W^Q_h w) . (W^K_h w) / sqrt(n_h)``.
    Positions are invisible to the logits but still reach values and the MLP; with
    trainable ``a`` (token embeddings) any rank-one score pattern of that sign is
    reachable.

    Assumptions: ``n > 2 H n_h``, so that the common kernel is non-trivial (it has
    dimension ``n - 2 H n_h`` for Gaussian weights). The positional vectors are linearly
    independent only when ``n - 2 H n_h >= T``; they are random combinations of the
    kernel basis otherwise.

    Returns
    -------
    dict
        ``tokens (T, n)``, ``direction w (n,)``, ``scalars a (T,)``, ``positions (T, n)``,
        ``kappa (H,)``, ``logits (H, T, T)`` and ``relative_residual``:
        ``max_h ||S_h - kappa_h a a^T||_F`` divided by
        ``||W^Q_h||_2 ||W^K_h||_2 ||X||_F**2 / sqrt(n_h)``, the size the rounding error
        of ``S_h`` scales with.

    Raises
    ------
    ValueError
        If ``n <= 2 H n_h`` or ``seq_len < 1``.
    """
    seq_len = _check_int("seq_len", seq_len, 1)
    heads, head_width, width = query.shape
    if width <= 2 * heads * head_width:
        raise ValueError(f"width n = {width} must exceed 2 H n_h = {2 * heads * head_width} "
                         f"for positional vectors in the common kernel of W^Q and W^K")
    kernel = common_kernel(query, key)
    direction = generator.standard_normal(width)
    direction /= np.linalg.norm(direction)
    scalars = generator.standard_normal(seq_len)
    positions = generator.standard_normal((seq_len, kernel.shape[1])) @ kernel.T
    tokens = scalars[:, None] * direction + positions

    logits = attention_logits(tokens, query, key)
    kappa = np.einsum("hk,hk->h", query @ direction, key @ direction) / math.sqrt(head_width)
    predicted = kappa[:, None, None] * np.outer(scalars, scalars)
    scale = (np.linalg.norm(query, 2, axis=(1, 2)) * np.linalg.norm(key, 2, axis=(1, 2))
             * np.linalg.norm(tokens) ** 2 / math.sqrt(head_width))
    residual = np.linalg.norm(logits - predicted, axis=(1, 2)) / scale
    return {"tokens": tokens, "direction": direction, "scalars": scalars,
            "positions": positions, "kappa": kappa, "logits": logits,
            "relative_residual": float(residual.max())}


# Jacobian rank -----------------------------------------------------------------------

def one_hot_sequence(features):
    """Return ``x_j = [u_j ; e_j]``: features ``u (T, d)`` beside one-hot positions, ``(T, d + T)``."""
    length = features.shape[0]
    return np.concatenate([features, np.eye(length)], axis=1)


def frozen_qk_feature_jacobian(features, query, key):
    """Return the analytic Jacobian of the Frozen-QK feature map, ``((H + 1) n, T d)``.

    The map sends the features ``u (T, d)`` to ``F = (x_last, z_1, ..., z_H)``, where
    ``x_j = [u_j ; e_j]`` (:func:`one_hot_sequence`, ``n = d + T``), and
    ``z_h = sum_j p_hj x_j`` is head ``h``'s output at the last position with identity
    value, ``p_h = softmax_j(s_last,j)``. With ``ds_k`` the differential of logit ``k``,
    ``dz_h = sum_k p_hk dx_k + sum_k p_hk (x_k - z_h) ds_k``.
    """
    tokens = one_hot_sequence(features)
    length, feature_width = features.shape
    width = tokens.shape[1]
    heads, head_width = query.shape[:2]
    last = length - 1
    blocks = [np.zeros((width, length, width))]
    blocks[0][:, last, :] = np.eye(width)
    for head in range(heads):
        bilinear = query[head].T @ key[head] / math.sqrt(head_width)
        logits = tokens[last] @ bilinear @ tokens.T
        weights = softmax(logits)
        output = weights @ tokens
        # logit_derivative[k, j, :] = d s_k / d x_j
        logit_derivative = np.zeros((length, length, width))
        logit_derivative[np.arange(length), np.arange(length)] += bilinear.T @ tokens[last]
        logit_derivative[:, last, :] += tokens @ bilinear.T
        centred = weights[:, None] * (tokens - output)
        block = np.einsum("ka,kjb->ajb", centred, logit_derivative)
        block += np.einsum("j,ab->ajb", weights, np.eye(width))
        blocks.append(block)
    jacobian = np.concatenate(blocks)[:, :, :feature_width]
    return jacobian.reshape((heads + 1) * width, length * feature_width)


def mixit_feature_jacobian(mixing, feature_width):
    """Return the Jacobian of the MixiT feature map, ``((H + 1) n, T d)``, from ``A (H, T, T)``.

    The map is the one of :func:`frozen_qk_feature_jacobian` with ``p_h`` replaced by
    the fixed row ``A_h[last, :]``. It is linear in ``u``: its Jacobian is ``M (x) I_d``
    placed on the feature coordinates, with ``M = [e_last ; A_1[last] ; ... ; A_H[last]]``,
    so its rank is ``d rank(M) = d min(H + 1, T)`` when those rows are in general position.
    """
    heads, length, _ = mixing.shape
    width = feature_width + length
    rows = np.concatenate([np.eye(length)[-1:], mixing[:, -1, :]])
    jacobian = np.zeros((heads + 1, width, length, feature_width))
    for index, row in enumerate(rows):
        jacobian[index, :feature_width] = np.einsum("j,ab->ajb", row, np.eye(feature_width))
    return jacobian.reshape((heads + 1) * width, length * feature_width)


def numerical_rank(matrix):
    """Return ``(rank, singular values, tolerance)`` with tolerance ``max(shape) * eps * s_max``."""
    singular = np.linalg.svd(matrix, compute_uv=False)
    tolerance = max(matrix.shape) * EPSILON * (singular[0] if singular.size else 0.0)
    return int((singular > tolerance).sum()), singular, tolerance


def predicted_ranks(feature_width, seq_len, heads):
    """Return the derived Jacobian ranks ``{"mixit": ..., "frozen_qk": ...}``.

    MixiT: ``d min(H + 1, T)`` (:func:`mixit_feature_jacobian`).

    Frozen-QK, with ``x_last`` held fixed: head ``h`` receives each earlier ``u_j`` in its
    logits only through the scalar ``a_hj = k_h . u_j``, with ``k_h`` the feature part of
    ``B_h^T x_last`` and ``B_h = W^Q_h^T W^K_h / sqrt(n_h)``. The scalars determine every
    ``p_h`` and every component of ``z_h`` along ``span{k_1 ... k_H}`` (of dimension
    ``r = min(H, d)``), which gives ``r (T - 1)`` directions. The components of the
    ``u_j`` orthogonal to that span (``d - r`` per token) reach the outputs only through
    the ``H`` averages ``sum_j p_hj u_j``, which gives ``(d - r) min(H, T - 1)`` more.
    ``x_last`` adds ``d``. The rank is therefore at most

        d + min(H, d) (T - 1) + (d - min(H, d)) min(H, T - 1),

    which equals ``T d`` once ``H >= d``. For ``H < min(d, T - 1)`` it exceeds MixiT's
    ``d (H + 1)`` by ``H (T - 1 - H)``. The bound is attained when the ``k_h`` and the
    features are in general position, which :func:`feature_jacobian_rank` measures
    rather than assumes.
    """
    reach = min(heads, feature_width)
    frozen = (feature_width + reach * (seq_len - 1)
              + (feature_width - reach) * min(heads, seq_len - 1))
    return {"mixit": feature_width * min(heads + 1, seq_len), "frozen_qk": frozen}


def feature_jacobian_rank(feature_width, seq_len, heads, head_width, generator,
                          logit_scale=3.0):
    """Measure the Jacobian ranks of the Frozen-QK and MixiT feature maps at a random input.

    Tokens are ``x_j = [u_j ; e_j]`` with features ``u_j ~ N(0, I_d)`` and one-hot
    positions, width ``n = d + T``. Frozen-QK draws ``W^Q, W^K`` with entries
    ``N(0, 1/n)`` and multiplies each by ``sqrt(logit_scale)``, so that the logits, and
    with them the Jacobian's rank-one terms, are of order one. MixiT draws shaped mixing
    matrices (:func:`sims.layers.mixing.mixit_matrices`, no sink head).

    Assumptions: ``d >= 1``, ``T >= 2``. The rank is computed by :func:`numerical_rank`.

    Returns
    -------
    dict
        ``{"frozen_qk": {"rank", "predicted", "singular_values", "tolerance"},
        "mixit": {...}}``; ``"gap"`` in each is the smallest kept singular value over the
        tolerance, which shows how clearly the rank is resolved.
    """
    feature_width = _check_int("feature_width", feature_width, 1)
    seq_len = _check_int("seq_len", seq_len, 2)
    heads = _check_int("heads", heads, 1)
    head_width = _check_int("head_width", head_width, 1)
    width = feature_width + seq_len
    features = generator.standard_normal((seq_len, feature_width))
    query, key = frozen_qk_weights(heads, head_width, width, generator)
    factor = math.sqrt(logit_scale)
    mixing = mixit_matrices(1, heads, seq_len, head_width, generator)[0]
    predicted = predicted_ranks(feature_width, seq_len, heads)

    result = {}
    for name, jacobian in (
            ("frozen_qk", frozen_qk_feature_jacobian(features, factor * query, factor * key)),
            ("mixit", mixit_feature_jacobian(mixing, feature_width))):
        rank, singular, tolerance = numerical_rank(jacobian)
        result[name] = {"rank": rank, "predicted": predicted[name],
                        "singular_values": singular, "tolerance": tolerance,
                        "gap": float(singular[rank - 1] / tolerance) if rank else 0.0}
    return result


# MixiT blind spot --------------------------------------------------------------------

def random_layer_weights(width, heads, head_width, generator, hidden=None):
    """Draw value, output and MLP weights of one layer, with biases, entries of order one."""
    hidden = 4 * width if hidden is None else hidden
    scale = 1.0 / math.sqrt(width)
    return {
        "value": generator.normal(0.0, scale, (heads, head_width, width)),
        "value_bias": generator.normal(0.0, 1.0, (heads, head_width)),
        "output": generator.normal(0.0, 1.0 / math.sqrt(heads * head_width),
                                   (heads, width, head_width)),
        "up": generator.normal(0.0, scale, (hidden, width)),
        "up_bias": generator.normal(0.0, 1.0, hidden),
        "down": generator.normal(0.0, 1.0 / math.sqrt(hidden), (width, hidden)),
    }


def one_layer_output(tokens, patterns, weights):
    """Return one layer's output ``(T, n)`` for attention patterns ``(H, T, T)``.

    ``z_i = x_i + sum_h W^O_h (sum_j P_h[i, j] (W^V_h x_j + b_h))``, then
    ``y_i = z_i + W^D tanh(W^U z_i + b_U)``. There is no norm before attention. A
    token-wise norm before the MLP would not change which prefixes give equal ``z_i``.
    """
    values = np.einsum("hkn,tn->htk", weights["value"], tokens) + weights["value_bias"][:, None]
    mixed = patterns @ values
    attended = tokens + np.einsum("hnk,htk->tn", weights["output"], mixed)
    return attended + np.tanh(attended @ weights["up"].T + weights["up_bias"]) @ weights["down"].T


def mixit_blind_spot(tokens, mixing, generator):
    """Build a prefix that one MixiT layer cannot tell from ``tokens`` at the last position.

    At position ``i = T - 1`` a MixiT layer receives the prefix only through
    ``y_i = x_i + sum_h W^O_h W^V_h sum_{j <= i} A_h[i, j] x_j`` (plus a bias term that
    does not depend on the tokens, because the rows of ``A_h`` are fixed). Take
    ``c`` in the kernel of the ``H x i`` matrix ``M[h, j] = A_h[i, j]`` (``j < i``) and any
    ``v`` in ``R^n``, and put ``x'_j = x_j + c_j v`` for ``j < i``, ``x'_i = x_i``. Then
    every head's average at ``i`` is unchanged, so the layer's output at ``i`` is the same
    for all value, output and MLP weights. The kernel is non-trivial when ``i > H``, that
    is ``T >= H + 2``; 1-indexed, the query position must have more than ``H`` predecessors.

    Returns
    -------
    dict
        ``perturbed`` (``(T, n)``, the second prefix), ``kernel_vector c`` (unit norm),
        ``direction v`` (norm ``||X||_F``), ``kernel_dimension``.

    Raises
    ------
    ValueError
        If ``T < H + 2``.
    """
    heads, length, _ = mixing.shape
    if tokens.shape[0] != length:
        raise ValueError(f"tokens have length {tokens.shape[0]} but the mixing matrices "
                         f"have T = {length}")
    if length < heads + 2:
        raise ValueError(f"seq_len T = {length} must be at least H + 2 = {heads + 2} for a "
                         f"non-trivial kernel of the last row of {heads} mixing matrices")
    rows = mixing[:, -1, :-1]
    _, singular, right = np.linalg.svd(rows)
    tolerance = max(rows.shape) * EPSILON * singular[0]
    rank = int((singular > tolerance).sum())
    kernel = right[rank:]
    kernel_vector = generator.standard_normal(kernel.shape[0]) @ kernel
    kernel_vector /= np.linalg.norm(kernel_vector)
    direction = generator.standard_normal(tokens.shape[1])
    direction *= np.linalg.norm(tokens) / np.linalg.norm(direction)
    perturbed = tokens.copy()
    perturbed[:-1] += np.outer(kernel_vector, direction)
    return {"perturbed": perturbed, "kernel_vector": kernel_vector, "direction": direction,
            "kernel_dimension": kernel.shape[0]}


def blind_spot_differences(width, seq_len, heads, head_width, generator, weight_draws=4,
                           logit_scale=3.0):
    """Measure both layers' output differences at the last position for a blind-spot pair.

    Draws tokens ``x_j ~ N(0, I_n)``, shaped MixiT matrices and the prefix of
    :func:`mixit_blind_spot`, then for ``weight_draws`` random value, output and MLP
    weights (:func:`random_layer_weights`) returns the largest relative difference
    ``||y_last(X) - y_last(X')|| / ||y_last(X)||`` of MixiT and the smallest of Frozen-QK
    (``W^Q, W^K`` entries ``N(0, logit_scale / n)``, the same value and MLP weights).
    Both are checked at full length; positions before the last differ in both models.
    """
    width = _check_int("width", width, 1)
    seq_len = _check_int("seq_len", seq_len, 2)
    heads = _check_int("heads", heads, 1)
    weight_draws = _check_int("weight_draws", weight_draws, 1)
    tokens = generator.standard_normal((seq_len, width))
    mixing = mixit_matrices(1, heads, seq_len, head_width, generator)[0]
    pair = mixit_blind_spot(tokens, mixing, generator)
    query, key = frozen_qk_weights(heads, head_width, width, generator)
    factor = math.sqrt(logit_scale)

    mixit_differences, frozen_differences = [], []
    for _ in range(weight_draws):
        weights = random_layer_weights(width, heads, head_width, generator)
        for differences, patterns in (
                (mixit_differences, lambda x: mixing),
                (frozen_differences,
                 lambda x: causal_softmax(attention_logits(x, factor * query, factor * key)))):
            first = one_layer_output(tokens, patterns(tokens), weights)[-1]
            second = one_layer_output(pair["perturbed"], patterns(pair["perturbed"]), weights)[-1]
            differences.append(float(np.linalg.norm(first - second) / np.linalg.norm(first)))
    return {"mixit": max(mixit_differences), "frozen_qk": min(frozen_differences),
            "kernel_dimension": pair["kernel_dimension"],
            "mixit_all": mixit_differences, "frozen_qk_all": frozen_differences}


# Two-layer induction head ------------------------------------------------------------

def check_induction_shape(width, head_width, vocab_size, seq_len):
    """Raise ``ValueError`` unless the induction construction is solvable at this shape.

    Conditions, each derived in :func:`induction_construction`:

    * ``n >= 4 n_h``: ``G = [W^Q_1^T W^K_1^T W^Q_2^T W^K_2^T]`` (``n x 4 n_h``) has full
      column rank, so every target of ``G^T v`` is reachable;
    * ``V <= n_h``: orthonormal token codes in ``R^{n_h}``, and value-output maps of
      rank ``V``, which a head of width ``n_h`` allows;
    * ``T + 1 <= n_h``: orthonormal position codes ``c_0 ... c_T``;
    * ``n >= 3 V + T``: room for ``V`` orthonormal output codes orthogonal to the
      ``2 V + T`` embedding, position and previous-token vectors.

    The last condition, and the linear independence of those ``2 V + T`` vectors
    (``2 V + T <= 4 n_h``), follow from the first three, because
    ``3 V + T <= 3 n_h + n_h - 1 < 4 n_h <= n``. They are checked anyway.
    """
    for name, value, limit in (
            ("width n", width, 4 * head_width), ("head_width n_h", head_width, vocab_size),
            ("head_width n_h", head_width, seq_len + 1),
            ("width n", width, 3 * vocab_size + seq_len)):
        if value < limit:
            raise ValueError(f"{name} = {value} is below its limit {limit} for the induction "
                             f"construction (n_h = {head_width}, V = {vocab_size}, "
                             f"T = {seq_len})")


def induction_construction(width, head_width, vocab_size, seq_len, beta, generator):
    """Solve a two-layer, one-head-per-layer induction head on frozen random Q/K.

    Frozen: ``W^Q_l, W^K_l`` (``n_h x n``, entries ``N(0, 1/n)``) for layers 1 and 2.
    Solved: token embeddings ``e_v``, positional vectors ``p_i``, previous-token vectors
    ``f_v``, value-output maps ``R`` (layer 1) and ``S`` (layer 2), output codes ``g_v``.
    With orthonormal codes ``c`` in ``R^{n_h}`` and ``sigma = sqrt(beta sqrt(n_h))``,
    each vector is the minimum-norm solution of ``G^T v = target``, ``G`` as in
    :func:`check_induction_shape`:

    * ``p_i``: ``(sigma c_i, sigma c_{i+1}, 0, 0)``, so the layer-1 logit is
      ``beta 1[j = i - 1]``: a previous-token head;
    * ``e_v``: ``(0, 0, sigma c_v, 0)``: invisible to layer 1, the layer-2 query;
    * ``f_v``: ``(0, 0, 0, sigma c_v)``: seen only as a layer-2 key.

    ``R e_v = f_v`` and ``R p_i = 0``, so layer 1 writes ``sum_j P1[i, j] f_{x_j}``,
    close to ``f_{x_{i-1}}``. The layer-2 logit at ``(i, j)`` is then
    ``beta sum_k P1[j, k] 1[x_k = x_i]``, close to ``beta 1[x_{j-1} = x_i]``: an induction
    head. ``S e_v = g_v`` and ``S p_i = S f_v = 0``, and the readout is ``g_v . h``,
    which equals the layer-2 attention mass on tokens ``v``. ``R`` and ``S`` are the
    minimum-norm maps with these values, of rank ``V``.

    Bounds, with exactly orthonormal codes: a row ``i >= 1`` of layer 1 puts mass
    ``1 / (1 + i e^{-beta}) >= 1 - (T - 1) e^{-beta}`` on ``i - 1``. If every such mass
    is at least ``m_1``, the correct layer-2 key has logit at least ``beta m_1`` and any
    other at most ``beta (1 - m_1)``, so the correct key gets mass at least
    ``1 / (1 + (T - 1) e^{-beta (2 m_1 - 1)})``.

    Token 0 is the beginning-of-sequence token. The conditioning of ``G^T G`` grows as
    ``n`` falls to ``4 n_h`` (:func:`gram_condition`), and the solved vectors grow with it.

    Raises
    ------
    ValueError
        If the shape violates :func:`check_induction_shape`, or ``beta`` is not positive.
    """
    width = _check_int("width", width, 1)
    head_width = _check_int("head_width", head_width, 1)
    vocab_size = _check_int("vocab_size", vocab_size, 2)
    seq_len = _check_int("seq_len", seq_len, 2)
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be finite and positive, got {beta!r}")
    check_induction_shape(width, head_width, vocab_size, seq_len)

    query, key = frozen_qk_weights(2, head_width, width, generator)
    stacked = np.concatenate([query[0], key[0], query[1], key[1]])  # G^T, (4 n_h, n)
    codes, _ = np.linalg.qr(generator.standard_normal((head_width, head_width)))
    sigma = math.sqrt(beta * math.sqrt(head_width))

    def solve(targets):
        # Minimum-norm solutions of G^T v = target, one per row of ``targets``.
        return np.linalg.lstsq(stacked, targets.T, rcond=None)[0].T

    zeros_v = np.zeros((vocab_size, head_width))
    zeros_t = np.zeros((seq_len, head_width))
    token_codes = sigma * codes[:, :vocab_size].T
    positions = solve(np.concatenate([sigma * codes[:, :seq_len].T,
                                      sigma * codes[:, 1:seq_len + 1].T, zeros_t, zeros_t], 1))
    embeddings = solve(np.concatenate([zeros_v, zeros_v, token_codes, zeros_v], 1))
    previous = solve(np.concatenate([zeros_v, zeros_v, zeros_v, token_codes], 1))

    inputs = np.concatenate([embeddings, positions])          # (V + T, n)
    stream = np.concatenate([embeddings, positions, previous])  # (2 V + T, n)
    basis, _ = np.linalg.qr(stream.T, mode="complete")
    output_codes = basis[:, stream.shape[0]:stream.shape[0] + vocab_size].T
    layer1 = np.concatenate([previous, np.zeros((seq_len, width))]).T @ np.linalg.pinv(inputs.T)
    layer2 = (np.concatenate([output_codes, np.zeros((vocab_size + seq_len, width))]).T
              @ np.linalg.pinv(stream.T))
    return {"query": query, "key": key, "embeddings": embeddings, "positions": positions,
            "previous": previous, "output_codes": output_codes, "layer1": layer1,
            "layer2": layer2, "beta": beta, "seq_len": seq_len, "vocab_size": vocab_size,
            "gram_condition": float(np.linalg.cond(stacked @ stacked.T))}


def gram_condition(width, head_width, generator):
    """Return the measured ``cond(G^T G)`` and its Marchenko-Pastur estimate.

    ``G`` is ``n x 4 n_h`` with entries ``N(0, 1/n)``. For ``lambda = 4 n_h / n < 1`` the
    eigenvalues of ``G^T G`` fill ``[(1 - sqrt(lambda))**2, (1 + sqrt(lambda))**2]`` as
    ``n`` grows, so the condition number approaches
    ``((1 + sqrt(lambda)) / (1 - sqrt(lambda)))**2``, which diverges as ``n`` falls to
    ``4 n_h``. At ``n = 4 n_h`` the estimate is infinite and the measured value is finite
    but large. The estimate is asymptotic, not a bound.
    """
    width = _check_int("width", width, 1)
    head_width = _check_int("head_width", head_width, 1)
    if width < 4 * head_width:
        raise ValueError(f"width n = {width} is below its limit 4 n_h = {4 * head_width}")
    gram = generator.normal(0.0, 1.0 / math.sqrt(width), (width, 4 * head_width))
    ratio = math.sqrt(4 * head_width / width)
    estimate = math.inf if ratio >= 1 else ((1 + ratio) / (1 - ratio)) ** 2
    return {"measured": float(np.linalg.cond(gram.T @ gram)), "estimate": estimate}


def repeated_sequences(count, half_length, vocab_size, generator):
    """Draw ``count`` sequences ``BOS, t_1 ... t_k, t_1 ... t_k`` with ``k`` distinct tokens.

    Tokens are drawn from ``1 ... V - 1`` (0 is BOS), so ``k <= V - 1``. Length ``2 k + 1``.
    """
    if half_length > vocab_size - 1:
        raise ValueError(f"half_length k = {half_length} exceeds the {vocab_size - 1} "
                         f"non-BOS tokens of the vocabulary")
    sequences = np.zeros((count, 2 * half_length + 1), dtype=np.int64)
    for row in sequences:
        half = generator.choice(np.arange(1, vocab_size), half_length, replace=False)
        row[1:half_length + 1] = half
        row[half_length + 1:] = half
    return sequences


def induction_forward(construction, sequence):
    """Run the two layers on one token sequence and return both attention patterns and the readout."""
    hidden = construction["embeddings"][sequence] + construction["positions"][:len(sequence)]
    patterns = []
    for layer, value_output in ((0, construction["layer1"]), (1, construction["layer2"])):
        logits = attention_logits(hidden, construction["query"][layer:layer + 1],
                                  construction["key"][layer:layer + 1])[0]
        pattern = causal_softmax(logits)
        hidden = hidden + (pattern @ hidden) @ value_output.T
        patterns.append(pattern)
    return patterns[0], patterns[1], hidden @ construction["output_codes"].T


def induction_accuracy(construction, sequences):
    """Measure the induction head on repeated sequences of :func:`repeated_sequences`.

    For each sequence ``BOS, t_1..t_k, t_1..t_k`` the positions ``i = k + 1 ... 2 k - 1``
    of the second half are scored: the prediction ``argmax_v g_v . h_i`` must equal
    ``x_{i+1}``, and the correct layer-2 key is ``j = i - k + 1``, the position after the
    earlier copy of ``x_i``.

    Returns
    -------
    dict
        ``accuracy`` over ``scored`` positions. ``previous_token_mass`` is the smallest
        layer-1 mass on ``i - 1`` over rows ``i >= 1``, beside its bound
        ``previous_token_bound = 1 - (T - 1) e^{-beta}`` and the exact value
        ``previous_token_exact = 1 / (1 + (T - 1) e^{-beta})`` of row ``T - 1``.
        ``induction_mass`` is the smallest layer-2 mass on the correct key, beside
        ``induction_bound``, the bound of :func:`induction_construction` evaluated at the
        measured ``m_1``.
    """
    sequences = np.asarray(sequences)
    length = sequences.shape[1]
    if length > construction["seq_len"] or length % 2 == 0 or length < 5:
        raise ValueError(f"sequence length {length} must be odd, at least 5 and at most the "
                         f"construction's T = {construction['seq_len']}")
    if sequences.min() < 0 or sequences.max() >= construction["vocab_size"]:
        raise ValueError(f"token ids must lie in 0 ... {construction['vocab_size'] - 1}")
    half = (length - 1) // 2
    beta = construction["beta"]
    correct, total = 0, 0
    previous_mass, induction_mass = 1.0, 1.0
    rows = np.arange(1, length)
    for sequence in sequences:
        first, second, readout = induction_forward(construction, sequence)
        previous_mass = min(previous_mass, float(first[rows, rows - 1].min()))
        scored = np.arange(half + 1, 2 * half)
        predictions = readout[scored].argmax(axis=1)
        correct += int((predictions == sequence[scored + 1]).sum())
        total += scored.size
        induction_mass = min(induction_mass, float(second[scored, scored - half + 1].min()))
    decay = (length - 1) * math.exp(-beta)
    return {
        "accuracy": correct / total, "scored": total,
        "previous_token_mass": previous_mass, "previous_token_bound": 1.0 - decay,
        "previous_token_exact": 1.0 / (1.0 + decay),
        "induction_mass": induction_mass,
        "induction_bound": 1.0 / (1.0 + (length - 1) * math.exp(-beta * (2 * previous_mass - 1))),
    }
