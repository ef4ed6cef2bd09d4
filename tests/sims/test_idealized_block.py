"""Monte Carlo of the idealized MixiT block: seeds, ensembles, and the one-step statistics.

Statistical checks use fixed seeds. Each compares every distinct entry with its
prediction at ``Z`` standard errors of the Monte Carlo estimate. When the prediction is
exact, an entry misses with the two-sided probability ``2 (1 - Phi(Z))``, and each test
states the union bound over its entries. The one-step
covariance prediction holds to leading order in ``1 / n``, so that check also allows a
relative error of a few percent.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import sims.idealized_block as idealized_block
from sims.idealized_block import simulate_idealized_block, tokens_with_covariance
from sims.mixit_coefficients import idealized_block_covariance, idealized_block_mean
from sims.sde import to_upper
from theory.mixit import mixing_drift

SKIP = math.sqrt(0.5)
PSD_TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
INITIAL = np.array([[1.0, 0.6, 0.3, 0.2],
                    [0.6, 1.2, 0.5, 0.1],
                    [0.3, 0.5, 0.9, 0.4],
                    [0.2, 0.1, 0.4, 1.1]])

seeds = st.integers(0, 2**32 - 1)


def false_alarm(z, entries):
    """Union bound on the probability that any of ``entries`` exact predictions misses by ``z`` SE."""
    return entries * 2 * stats.norm.sf(z)


@st.composite
def block_cases(draw):
    length = draw(st.integers(1, 5))
    width = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(seeds))
    return {
        "tokens": rng.standard_normal((draw(st.integers(1, 3)), length, width)),
        "depth": draw(st.integers(0, 4)),
        "skip_weight": draw(st.floats(0.0, 1.0)),
        "noise_multiplier": draw(st.floats(0.0, 3.0)),
        "seed": draw(seeds),
    }


def run(case, generator=None, **changes):
    options = dict(case, **changes)
    seed = options.pop("seed")
    tokens, depth, skip = options.pop("tokens"), options.pop("depth"), options.pop("skip_weight")
    generator = np.random.default_rng(seed) if generator is None else generator
    return simulate_idealized_block(tokens, depth, skip, generator, **options)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=block_cases())
def test_recorded_covariances_are_symmetric_psd(dtype, case):
    trajectory = run(case, dtype=dtype)
    covariances = trajectory.covariances
    members, length = case["tokens"].shape[:2]

    assert covariances.dtype == dtype
    assert covariances.shape == (case["depth"] + 1, members, length, length)
    np.testing.assert_array_equal(trajectory.layers, np.arange(case["depth"] + 1))
    np.testing.assert_array_equal(covariances, np.swapaxes(covariances, -1, -2))
    scale = np.abs(covariances).max(axis=(-2, -1)) + np.finfo(dtype).tiny
    smallest = np.linalg.eigvalsh(covariances.astype(np.float64))[..., 0]
    assert np.all(smallest >= -PSD_TOLERANCE[dtype] * scale)


@given(case=block_cases())
def test_layer_zero_is_the_input(case):
    trajectory = run(case, layers=[0])
    tokens = case["tokens"]
    expected = tokens @ np.swapaxes(tokens, -1, -2) / tokens.shape[-1]
    np.testing.assert_allclose(trajectory.covariances[0], expected, rtol=1e-15)


@given(case=block_cases())
def test_block_reproducible_from_seed(case):
    np.testing.assert_array_equal(run(case).covariances, run(case).covariances)


@given(case=block_cases())
def test_members_match_separate_runs(case):
    members = case["tokens"].shape[0]
    generators = [np.random.default_rng([case["seed"], k]) for k in range(members)]
    together = run(case, generator=generators).covariances
    for member in range(members):
        alone = run(case, generator=[np.random.default_rng([case["seed"], member])],
                    tokens=case["tokens"][member:member + 1]).covariances
        np.testing.assert_array_equal(together[:, member], alone[:, 0])


@given(case=block_cases(), chunk=st.integers(1, 400))
def test_chunk_size_does_not_change_draws(case, chunk):
    expected = run(case).covariances
    saved = idealized_block.CHUNK_ELEMENTS
    try:
        idealized_block.CHUNK_ELEMENTS = chunk
        chunked = run(case).covariances
    finally:
        idealized_block.CHUNK_ELEMENTS = saved
    np.testing.assert_array_equal(chunked, expected)


@given(case=block_cases())
def test_skip_weight_one_keeps_tokens(case):
    trajectory = run(case, skip_weight=1.0)
    initial = trajectory.covariances[0]
    np.testing.assert_array_equal(trajectory.covariances, np.broadcast_to(
        initial, trajectory.covariances.shape))


def test_requested_layers_only():
    tokens = np.random.default_rng(0).standard_normal((2, 3, 4))
    everything = simulate_idealized_block(tokens, 5, SKIP, np.random.default_rng(1))
    some = simulate_idealized_block(tokens, 5, SKIP, np.random.default_rng(1), layers=[5, 2])
    np.testing.assert_array_equal(some.layers, [2, 5])
    np.testing.assert_array_equal(some.covariances, everything.covariances[[2, 5]])


def test_invalid_arguments_rejected():
    tokens = np.zeros((1, 2, 3))
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"shape \(K, T, n\)"):
        simulate_idealized_block(np.zeros((2, 3)), 1, SKIP, rng)
    with pytest.raises(ValueError, match="depth must be an integer >= 0, got -1"):
        simulate_idealized_block(tokens, -1, SKIP, rng)
    with pytest.raises(ValueError, match=r"layers must lie in 0 \.\.\. 2"):
        simulate_idealized_block(tokens, 2, SKIP, rng, layers=[3])
    with pytest.raises(ValueError, match="skip_weight"):
        simulate_idealized_block(tokens, 2, 1.2, rng)


@given(seed=seeds, size=st.integers(1, 5), rank=st.integers(1, 5), extra=st.integers(0, 4))
def test_tokens_with_covariance(seed, size, rank, extra):
    factor = np.random.default_rng(seed).standard_normal((size, min(rank, size)))
    covariance = factor @ factor.T
    width = size + extra
    tokens = tokens_with_covariance(covariance, width)
    np.testing.assert_allclose(tokens @ tokens.T / width, covariance, atol=1e-12 * (
        1 + np.abs(covariance).max()))


def test_tokens_with_exact_correlations():
    """Correlations of exactly +1 and -1 give collinear tokens, which the block accepts."""
    covariance = np.array([[1.0, 1.0, -2.0], [1.0, 1.0, -2.0], [-2.0, -2.0, 4.0]])
    tokens = tokens_with_covariance(covariance, 4)
    np.testing.assert_allclose(tokens @ tokens.T / 4, covariance, atol=1e-12)

    trajectory = simulate_idealized_block(np.broadcast_to(tokens, (3,) + tokens.shape), 3, SKIP,
                                          np.random.default_rng(2))
    assert np.all(np.isfinite(trajectory.covariances))
    # Token 1 equals token 0, and row 1 of A mixes only tokens 0 and 1, so with a
    # shared value matrix the two stay equal in every layer.
    np.testing.assert_allclose(trajectory.covariances[:, :, 0, 0], trajectory.covariances[:, :, 1, 1],
                               rtol=1e-12)


def test_tokens_with_covariance_rejects_narrow_width():
    with pytest.raises(ValueError, match="width 2 is smaller than the number of tokens 3"):
        tokens_with_covariance(np.eye(3), 2)


@pytest.fixture(scope="module")
def one_step_samples():
    """Samples of ``V'`` after one layer from a fixed ``V``: ``n = 64``, 20,000 networks."""
    width, members = 64, 20_000
    tokens = tokens_with_covariance(INITIAL, width)
    trajectory = simulate_idealized_block(np.broadcast_to(tokens, (members,) + tokens.shape), 1,
                                          SKIP, np.random.default_rng(20_251_204), layers=[1])
    return width, to_upper(trajectory.covariances[0])


def test_one_step_mean(one_step_samples):
    """``E[V' | V] = V + (gamma**2 / n) D(V)`` exactly. 10 entries at 4 SE: false alarm < 1e-3."""
    width, samples = one_step_samples
    predicted = to_upper(INITIAL + (1 - SKIP ** 2) / width * mixing_drift(INITIAL))
    standard_error = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])

    assert false_alarm(4.0, samples.shape[1]) < 1e-3
    np.testing.assert_array_less(np.abs(samples.mean(axis=0) - predicted), 4.0 * standard_error)


def test_one_step_covariance(one_step_samples):
    """``n Cov(V' | V) = c_lin Sigma_lin + gamma**4 Sigma_mix + O(1 / n)``.

    55 distinct entries at 4.5 SE: false alarm < 1e-3 if the O(1 / n) term is negligible.
    The largest error must also be under 5 percent of the largest entry. The standard
    error of each entry comes from the spread of the products of centred coordinates.
    """
    width, samples = one_step_samples
    count = samples.shape[0]
    centred = samples - samples.mean(axis=0)
    products = centred[:, :, None] * centred[:, None, :]
    measured = width * products.sum(axis=0) / (count - 1)
    standard_error = width * products.std(axis=0, ddof=1) / math.sqrt(count)
    predicted = idealized_block_covariance(INITIAL, SKIP)
    upper = np.triu_indices(samples.shape[1])

    assert false_alarm(4.5, upper[0].size) < 1e-3
    np.testing.assert_array_less(np.abs(measured - predicted)[upper], 4.5 * standard_error[upper])
    assert np.abs(measured - predicted).max() < 0.05 * np.abs(predicted).max()


def test_depth_mean_matches_exact_recursion():
    """``E[V_L] = (I + (gamma**2 / n) D)^L V_0`` after ``L = n = 16`` layers.

    6 entries at 4 SE: false alarm < 1e-3. As a contrast, the prediction without the
    mixing drift, ``E[V_L] = V_0``, misses the last token's variance by more than 6 SE.
    """
    width, depth, members, sigma = 16, 16, 6000, 2.0
    initial = INITIAL[:3, :3]
    tokens = tokens_with_covariance(initial, width)
    trajectory = simulate_idealized_block(np.broadcast_to(tokens, (members,) + tokens.shape),
                                          depth, SKIP, np.random.default_rng(7),
                                          noise_multiplier=sigma, layers=[depth])
    samples = to_upper(trajectory.covariances[0])
    estimate = samples.mean(axis=0)
    standard_error = samples.std(axis=0, ddof=1) / math.sqrt(members)
    predicted = to_upper(idealized_block_mean(initial, depth, width, SKIP, sigma))

    assert false_alarm(4.0, samples.shape[1]) < 1e-3
    np.testing.assert_array_less(np.abs(estimate - predicted), 4.0 * standard_error)
    last = samples.shape[1] - 1
    assert abs(estimate[last] - initial[2, 2]) > 6.0 * standard_error[last]
