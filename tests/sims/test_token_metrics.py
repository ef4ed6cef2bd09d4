"""Rank-collapse measures: identities, ranges, invariances and the stated edge cases."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.token_metrics import (
    correlation_matrix, mean_cosine_similarity, rank_collapse_residual, stable_rank,
    token_covariance,
)

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]

seeds = st.integers(0, 2**32 - 1)


@st.composite
def token_sets(draw, min_tokens=1):
    length = draw(st.integers(min_tokens, 6))
    width = draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(seeds))
    return rng.standard_normal((draw(st.integers(1, 3)), length, width))


def naive_cosine(x):
    """Mean cosine over ordered pairs by a double loop, for token sets without zero tokens."""
    values = []
    for tokens in x:
        total, length = 0.0, tokens.shape[0]
        for i in range(length):
            for j in range(length):
                if i != j:
                    total += tokens[i] @ tokens[j] / (np.linalg.norm(tokens[i])
                                                      * np.linalg.norm(tokens[j]))
        values.append(total / (length * (length - 1)))
    return np.array(values)


@pytest.mark.parametrize("dtype", DTYPES)
@given(x=token_sets(min_tokens=2))
def test_cosine_matches_definition(dtype, x):
    cosine = mean_cosine_similarity(x.astype(dtype))
    assert cosine.shape == x.shape[:1]
    np.testing.assert_allclose(cosine, naive_cosine(x), atol=TOLERANCE[dtype] * 10)
    assert np.all(np.abs(cosine) <= 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@given(x=token_sets())
def test_residual_matches_definition(dtype, x):
    residual = rank_collapse_residual(x.astype(dtype))
    centred = x - x.mean(axis=-2, keepdims=True)
    expected = np.linalg.norm(centred, axis=(-2, -1)) / np.linalg.norm(x, axis=(-2, -1))
    np.testing.assert_allclose(residual, expected, rtol=TOLERANCE[dtype] * 10)
    assert np.all((residual >= 0) & (residual <= 1))


@pytest.mark.parametrize("dtype", DTYPES)
@given(x=token_sets())
def test_stable_rank_matches_definition(dtype, x):
    rank = stable_rank(x.astype(dtype))
    frobenius = np.linalg.norm(x, axis=(-2, -1)) ** 2
    spectral = np.linalg.norm(x, ord=2, axis=(-2, -1)) ** 2
    np.testing.assert_allclose(rank, frobenius / spectral, rtol=TOLERANCE[dtype] * 10)
    assert np.all(rank >= 1.0)
    assert np.all(rank <= min(x.shape[-2:]) * (1 + TOLERANCE[dtype]))


@given(x=token_sets(min_tokens=2), scale=st.sampled_from([1e-150, 1e-3, 7.0, 1e150]))
def test_measures_are_scale_invariant(x, scale):
    scaled = x * scale
    np.testing.assert_allclose(mean_cosine_similarity(scaled), mean_cosine_similarity(x),
                               atol=1e-12)
    np.testing.assert_allclose(rank_collapse_residual(scaled), rank_collapse_residual(x),
                               rtol=1e-12)
    np.testing.assert_allclose(stable_rank(scaled), stable_rank(x), rtol=1e-12)


@given(x=token_sets(min_tokens=2), seed=seeds)
def test_measures_ignore_width_rotation(x, seed):
    """All three depend on the tokens only through their inner products."""
    width = x.shape[-1]
    rotation, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((width, width)))
    rotated = x @ rotation
    np.testing.assert_allclose(mean_cosine_similarity(rotated), mean_cosine_similarity(x),
                               atol=1e-12)
    np.testing.assert_allclose(rank_collapse_residual(rotated), rank_collapse_residual(x),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stable_rank(rotated), stable_rank(x), rtol=1e-10)


@given(seed=seeds, length=st.integers(2, 6), width=st.integers(1, 8))
def test_collinear_tokens(seed, length, width):
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(width)
    lengths = rng.uniform(0.5, 2.0, size=length)
    same_sign = (lengths[:, None] * direction)[None]
    signs = np.where(np.arange(length) % 2 == 0, 1.0, -1.0)
    mixed_sign = (signs[:, None] * lengths[:, None] * direction)[None]

    # Cosines of exactly collinear tokens are +-1 up to rounding, and the clip keeps them in range.
    np.testing.assert_allclose(mean_cosine_similarity(same_sign), 1.0, atol=1e-12)
    assert mean_cosine_similarity(same_sign)[0] <= 1.0
    pairs = length * (length - 1)
    agreeing = sum(signs[i] * signs[j] for i in range(length) for j in range(length) if i != j)
    np.testing.assert_allclose(mean_cosine_similarity(mixed_sign), agreeing / pairs, atol=1e-12)
    np.testing.assert_allclose(stable_rank(same_sign), 1.0, rtol=1e-12)
    np.testing.assert_allclose(stable_rank(mixed_sign), 1.0, rtol=1e-12)


def test_equal_tokens_are_collapsed():
    x = np.tile(np.array([0.3, -1.2, 2.0]), (4, 1))[None]
    assert mean_cosine_similarity(x)[0] == pytest.approx(1.0, abs=1e-15)
    assert rank_collapse_residual(x)[0] == pytest.approx(0.0, abs=1e-15)
    assert stable_rank(x)[0] == pytest.approx(1.0)


def test_collinear_unequal_tokens_have_positive_residual():
    x = np.array([[[1.0, 2.0], [2.0, 4.0]]])
    # The mean token is (1.5, 3) and the centred rows are +-(0.5, 1), so the residual is
    # sqrt(2 * 1.25) / sqrt(25).
    assert rank_collapse_residual(x)[0] == pytest.approx(np.sqrt(2.5) / 5.0)


def test_zero_norm_token_has_zero_cosine():
    x = np.array([[[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]])
    # Pairs (0, 2) and (2, 0) have cosine 1, and the four pairs with the zero token have 0.
    assert mean_cosine_similarity(x)[0] == pytest.approx(2 / 6)
    assert stable_rank(x)[0] == pytest.approx(1.0)


def test_all_zero_tokens():
    x = np.zeros((2, 3, 4))
    np.testing.assert_array_equal(mean_cosine_similarity(x), 0.0)
    np.testing.assert_array_equal(rank_collapse_residual(x), 0.0)
    np.testing.assert_array_equal(stable_rank(x), 0.0)


def test_single_token():
    x = np.array([[[3.0, -4.0]]])
    with pytest.raises(ValueError, match="at least two tokens, got 1"):
        mean_cosine_similarity(x)
    assert rank_collapse_residual(x)[0] == 0.0
    assert stable_rank(x)[0] == 1.0


def test_non_finite_member_stays_alone():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    x[1, 2, 3] = np.nan
    x[2, 0, 0] = np.inf
    for measure in (mean_cosine_similarity, rank_collapse_residual, stable_rank):
        values = measure(x)
        assert np.isfinite(values[0]), measure.__name__
        assert np.isnan(values[1]), measure.__name__
        assert np.isnan(values[2]), measure.__name__


def test_tokens_must_be_a_matrix():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., T, n\)"):
        stable_rank(np.ones(3))


@given(x=token_sets(min_tokens=2))
def test_correlation_matrix_of_covariance(x):
    covariance = token_covariance(x)
    correlations = correlation_matrix(covariance)
    norms = np.linalg.norm(x, axis=-1)
    expected = (x @ np.swapaxes(x, -1, -2)) / (norms[..., :, None] * norms[..., None, :])
    np.testing.assert_allclose(correlations, expected, atol=1e-12)
    assert np.all(np.abs(correlations) <= 1.0)


def test_correlation_of_zero_variance_token():
    covariance = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [0.5, 0.0, 4.0]])
    expected = np.array([[1.0, 0.0, 0.25], [0.0, 0.0, 0.0], [0.25, 0.0, 1.0]])
    np.testing.assert_allclose(correlation_matrix(covariance), expected)


def test_correlation_clipped_at_one():
    covariance = np.array([[1.0, 1.0 + 1e-15], [1.0 + 1e-15, 1.0]])
    np.testing.assert_array_equal(correlation_matrix(covariance), np.ones((2, 2)))
