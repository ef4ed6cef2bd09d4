"""Measures of rank collapse for a set of token representations.

Every function takes tokens as rows, ``x`` of shape ``(..., T, n)``: ``T`` tokens of
width ``n``, with any leading axes (ensemble members, batch), and returns one value per
leading index. Each function first divides a token set by its largest absolute entry,
which changes none of the ratios below but keeps squares of very large or very small
entries from overflowing to ``inf`` or underflowing to zero. A non-finite entry makes
the value of that token set NaN and leaves the others alone.

Edge cases have defined values, stated in each docstring: a token of norm zero, an
all-zero token set, a single token, exactly collinear tokens.
"""

import numpy as np


def _check_tokens(x):
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"tokens must have shape (..., T, n), got shape {x.shape}")
    if x.shape[-1] < 1 or x.shape[-2] < 1:
        raise ValueError(f"tokens must contain at least one token of width >= 1, "
                         f"got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def _rescale(x):
    """Divide each token set by its largest absolute entry, leaving all-zero sets at zero."""
    scale = np.max(np.abs(x), axis=(-2, -1), keepdims=True)
    # An all-zero set has scale 0. Dividing it by one keeps it zero instead of 0 / 0.
    # A set with an infinite entry gets inf / inf = NaN, which is the intended result.
    with np.errstate(invalid="ignore"):
        return x / np.where(scale > 0, scale, 1)


def token_covariance(x):
    """Return ``V = x x^T / n``, shape ``(..., T, T)``: the tokens' inner products over the width."""
    x = _check_tokens(x)
    return np.matmul(x, np.swapaxes(x, -1, -2)) / x.shape[-1]


def mean_cosine_similarity(x):
    """Return the mean cosine similarity over ordered pairs of distinct tokens.

    ``(1 / (T (T - 1))) sum_{i != j} <x_i, x_j> / (|x_i| |x_j|)``. It is 1 for tokens
    that all point the same way (full rank collapse) and close to 0 for independent
    random tokens of large width.

    Edge cases: a token of norm zero has cosine similarity 0 with every other token, the
    value of the zero vector's inner products. Cosines of exactly collinear tokens are
    clipped to ``[-1, 1]``, so rounding cannot push them past ``+-1``.

    Raises
    ------
    ValueError
        If ``T < 2``, because a single token has no pair.
    """
    x = _rescale(_check_tokens(x))
    length = x.shape[-2]
    if length < 2:
        raise ValueError(f"the mean cosine similarity needs at least two tokens, got {length}")

    norms = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
    # Zero-norm tokens stay zero vectors, whose inner products are zero.
    units = x / np.where(norms > 0, norms, 1)
    cosines = np.clip(np.matmul(units, np.swapaxes(units, -1, -2)), -1.0, 1.0)
    diagonal = np.trace(cosines, axis1=-2, axis2=-1)
    return (cosines.sum(axis=(-2, -1)) - diagonal) / (length * (length - 1))


def rank_collapse_residual(x):
    """Return ``|x - 1 xbar^T|_F / |x|_F``, with ``xbar`` the mean token.

    The distance of the tokens from the rank-collapsed state in which every token is the
    same, relative to their norm. It lies in ``[0, 1]``: centring is an orthogonal
    projection, so it cannot increase the Frobenius norm. It is 0 exactly when all tokens
    are equal, so exactly collinear tokens of different lengths give a positive value.

    Edge cases: an all-zero token set gives 0 (its tokens are all equal), and so does a
    single token.
    """
    x = _rescale(_check_tokens(x))
    centred = x - x.mean(axis=-2, keepdims=True)
    numerator = np.sqrt(np.sum(centred * centred, axis=(-2, -1)))
    denominator = np.sqrt(np.sum(x * x, axis=(-2, -1)))
    # An all-zero set gives 0 / 0. Its tokens are equal, so its residual is 0.
    ratio = numerator / np.where(denominator > 0, denominator, 1)
    return np.minimum(ratio, 1.0)


def stable_rank(x):
    """Return the stable rank ``|x|_F^2 / |x|_2^2``, the squared singular values' sum over their maximum.

    It lies in ``[1, min(T, n)]`` for a nonzero token set. It is 1 exactly when the
    tokens span one direction (exactly collinear tokens, or a single token), and
    ``min(T, n)`` when all singular values are equal.

    Edge case: an all-zero token set gives 0, its rank.
    """
    x = _rescale(_check_tokens(x))
    # The SVD may raise on a non-finite entry, so such sets are replaced by zeros here
    # and get NaN at the end.
    finite = np.all(np.isfinite(x), axis=(-2, -1))
    x = np.where(finite[..., None, None], x, 0)
    singular_values = np.linalg.svd(x, compute_uv=False)
    squares = singular_values * singular_values
    largest = squares.max(axis=-1)
    # An all-zero set gives 0 / 0. Its rank is 0.
    ratio = squares.sum(axis=-1) / np.where(largest > 0, largest, 1)
    ranks = np.where(largest > 0, np.maximum(ratio, 1.0), 0.0)
    return np.where(finite, ranks, np.nan)


def correlation_matrix(covariance):
    """Return ``rho_ab = V_ab / sqrt(V_aa V_bb)`` for token covariances ``V`` of shape ``(..., T, T)``.

    Entries are clipped to ``[-1, 1]`` against rounding. The diagonal is 1 for a token of
    positive variance.

    Edge case: a token of zero variance (or of negative variance, which only rounding can
    give a covariance matrix) has correlation 0 with every token, itself included, the
    value its zero inner products give.
    """
    covariance = np.asarray(covariance)
    if covariance.ndim < 2 or covariance.shape[-1] != covariance.shape[-2]:
        raise ValueError(f"covariance must have shape (..., T, T), got shape {covariance.shape}")
    variances = np.diagonal(covariance, axis1=-2, axis2=-1)
    positive = variances > 0
    # Zero variances get the factor 0 instead of 1 / sqrt(0).
    inverse_std = np.where(positive, 1.0 / np.sqrt(np.where(positive, variances, 1)), 0.0)
    correlations = covariance * inverse_std[..., :, None] * inverse_std[..., None, :]
    return np.clip(correlations, -1.0, 1.0)
