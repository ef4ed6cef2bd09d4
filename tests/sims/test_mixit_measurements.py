"""Shared MixiT measurements: residual from V, slopes, uniform attention, batching."""

import numpy as np
import pytest

from sims.mixit_measurements import (closed_form_slope, depth_summary, largest_correlation,
                                     monte_carlo_mean, residual_of_covariance,
                                     simulate_uniform_attention)
from sims.token_metrics import rank_collapse_residual, token_covariance


def test_residual_of_covariance_matches_tokens():
    tokens = np.random.default_rng(0).standard_normal((3, 5, 7))
    assert residual_of_covariance(token_covariance(tokens)) == pytest.approx(
        rank_collapse_residual(tokens))


def test_depth_summary_slope_of_a_line():
    layers = np.arange(9, dtype=float)[:, None]
    values = layers * np.array([0.5, 1.5])
    summary = depth_summary(values, [2, 4, 8])
    assert summary["slope"]["mean"] == pytest.approx(1.0)
    assert summary["final"]["mean"] == pytest.approx(8.0)
    assert closed_form_slope(layers[:, 0] * 2.0) == pytest.approx(2.0)


def test_uniform_attention_collapses_and_keeps_scale():
    tokens = np.broadcast_to(np.eye(4, 16) * 4.0, (8, 4, 16))
    covariances = simulate_uniform_attention(tokens, 40, np.random.default_rng(1),
                                             layers=[0, 40])
    assert np.all(largest_correlation(covariances[0]) == 0.0)
    assert np.all(largest_correlation(covariances[1]) > 0.99)
    # Rescaling keeps the mean squared entry at one, so tr V = T.
    assert np.trace(covariances[1], axis1=-2, axis2=-1) == pytest.approx(np.full(8, 4.0))


def test_monte_carlo_mean_is_reproducible():
    V0 = np.array([[1.0, 0.3], [0.3, 1.0]])
    one = monte_carlo_mean(V0, 4, [2, 1], 0.7, 200, 3, batch=64)
    again = monte_carlo_mean(V0, 4, [2, 1], 0.7, 200, 3, batch=64)
    other_seed = monte_carlo_mean(V0, 4, [2, 1], 0.7, 200, 4, batch=64)
    assert np.array_equal(one["mean"], again["mean"])
    assert not np.array_equal(one["mean"], other_seed["mean"])
    assert one["depths"] == [1, 2]
    assert np.all(one["standard_error"][:, 1, 1] > 0)


def test_monte_carlo_mean_rejects_one_network():
    with pytest.raises(ValueError, match="at least 2 networks"):
        monte_carlo_mean(np.eye(2), 4, [1], 0.7, 1, 0)
