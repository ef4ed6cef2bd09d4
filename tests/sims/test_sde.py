"""The matrix SDE solver: positive semidefinite paths, seeds, and the Euler-Maruyama moments.

Statistical checks use fixed seeds and compare each distinct entry with its prediction at
``Z`` standard errors. The union bound over the entries of a test gives the stated
false-alarm rate. The tests assert that the projection onto the positive semidefinite
cone never acted. Then one Euler-Maruyama step is exactly Gaussian with mean ``b(V) h``
and covariance ``Sigma(V) h``. The MixiT drift is linear in ``V``, so the mean after
``k`` steps is exactly ``(I + h gamma**2 D)^k V_0``.
"""

import math
from functools import partial

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import theory.mixit as theory_mixit
from sims.mixit_coefficients import idealized_block_covariance, idealized_block_drift
from sims.sde import project_psd, solve_matrix_sde, symmetric_psd_root, to_upper

SKIP = math.sqrt(0.5)
PSD_TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
INITIAL = np.array([[1.0, 0.6, 0.3],
                    [0.6, 1.2, 0.5],
                    [0.3, 0.5, 0.9]])

seeds = st.integers(0, 2**32 - 1)


def mixit_coefficients(skip_weight=SKIP, noise_multiplier=1.0):
    drift = partial(idealized_block_drift, skip_weight=skip_weight,
                    noise_multiplier=noise_multiplier)
    covariance = partial(idealized_block_covariance, skip_weight=skip_weight,
                         noise_multiplier=noise_multiplier)
    return drift, covariance


def false_alarm(z, entries):
    return entries * 2 * stats.norm.sf(z)


@st.composite
def initial_covariances(draw, max_size=5):
    """Positive semidefinite ``V``: random, singular, or with an eigenvalue near zero."""
    size = draw(st.integers(1, max_size))
    rank = draw(st.integers(1, size))
    rng = np.random.default_rng(draw(seeds))
    factor = rng.standard_normal((size, rank))
    covariance = factor @ factor.T / rank
    smallest = draw(st.sampled_from([0.0, 1e-12, 1e-3]))
    return covariance + smallest * np.eye(size)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(initial=initial_covariances(), skip=st.floats(0.0, 1.0), sigma=st.floats(0.0, 3.0),
       steps=st.integers(1, 6), duration=st.sampled_from([0.01, 0.5, 2.0]), seed=seeds)
def test_paths_stay_symmetric_psd(dtype, initial, skip, sigma, steps, duration, seed):
    drift, covariance = mixit_coefficients(skip, sigma)
    paths = solve_matrix_sde(initial, drift, covariance, duration, steps,
                             np.random.default_rng(seed), paths=4, dtype=dtype)
    values = paths.values

    assert values.dtype == dtype
    assert values.shape == (steps + 1, 4) + initial.shape
    assert np.all(np.isfinite(values))
    np.testing.assert_array_equal(values, np.swapaxes(values, -1, -2))
    scale = np.abs(values).max(axis=(-2, -1)) + np.finfo(dtype).tiny
    smallest = np.linalg.eigvalsh(values.astype(np.float64))[..., 0]
    assert np.all(smallest >= -PSD_TOLERANCE[dtype] * scale)


@given(initial=initial_covariances(), seed=seeds)
def test_paths_reproducible_from_seed(initial, seed):
    drift, covariance = mixit_coefficients()
    first = solve_matrix_sde(initial, drift, covariance, 0.3, 3, np.random.default_rng(seed),
                             paths=3)
    again = solve_matrix_sde(initial, drift, covariance, 0.3, 3, np.random.default_rng(seed),
                             paths=3)
    np.testing.assert_array_equal(first.values, again.values)


@given(initial=initial_covariances(max_size=3), seed=seeds)
def test_paths_match_separate_runs(initial, seed):
    drift, covariance = mixit_coefficients()
    generators = [np.random.default_rng([seed, path]) for path in range(3)]
    together = solve_matrix_sde(initial, drift, covariance, 0.3, 3, generators, paths=3).values
    for path in range(3):
        alone = solve_matrix_sde(initial, drift, covariance, 0.3, 3,
                                 [np.random.default_rng([seed, path])], paths=1).values
        np.testing.assert_allclose(together[:, path], alone[:, 0], rtol=1e-13, atol=1e-15)


def test_coordinate_drift_from_theory():
    """``theory.mixit.sde_drift`` and ``sde_covariance`` plug in directly and give the same paths."""
    gamma = math.sqrt(1 - SKIP ** 2)
    theory_paths = solve_matrix_sde(
        INITIAL, partial(theory_mixit.sde_drift, branch_weight=gamma),
        partial(theory_mixit.sde_covariance, branch_weight=gamma), 0.2, 4,
        np.random.default_rng(8), paths=5)
    drift, covariance = mixit_coefficients()
    sims_paths = solve_matrix_sde(INITIAL, drift, covariance, 0.2, 4, np.random.default_rng(8),
                                  paths=5)
    np.testing.assert_allclose(theory_paths.values, sims_paths.values, rtol=1e-10, atol=1e-12)


def test_recorded_times():
    drift, covariance = mixit_coefficients()
    paths = solve_matrix_sde(np.eye(2), drift, covariance, 1.0, 10, np.random.default_rng(0),
                             paths=2, record_every=4)
    np.testing.assert_allclose(paths.times, [0.0, 0.4, 0.8, 1.0])
    assert paths.values.shape == (4, 2, 2, 2)
    np.testing.assert_array_equal(paths.values[0], np.broadcast_to(np.eye(2), (2, 2, 2)))


def test_zero_covariance_stays_zero():
    drift, covariance = mixit_coefficients()
    paths = solve_matrix_sde(np.zeros((3, 3)), drift, covariance, 1.0, 5,
                             np.random.default_rng(0), paths=2)
    np.testing.assert_array_equal(paths.values, 0.0)


def test_exactly_correlated_tokens():
    """Correlation exactly 1 between tokens 0 and 1: a singular ``V`` and ``Sigma``."""
    initial = np.array([[1.0, 1.0, 0.2], [1.0, 1.0, 0.2], [0.2, 0.2, 1.0]])
    drift, covariance = mixit_coefficients()
    paths = solve_matrix_sde(initial, drift, covariance, 0.5, 20, np.random.default_rng(3),
                             paths=50)
    values = paths.values
    assert np.all(np.isfinite(values))
    # The squared distance of tokens 0 and 1, V_00 + V_11 - 2 V_01, has zero drift and
    # zero diffusion while it is zero, so in exact arithmetic it stays zero. Its diffusion
    # grows like its square root, which amplifies rounding errors. With the square roots
    # of rounding-level eigenvalues of Sigma kept, it reached 2e-7 to 1e-6 of V_00 with
    # base seeds 0 to 4; with them dropped, as the solver does, at most 6e-9.
    distance = values[:, :, 0, 0] + values[:, :, 1, 1] - 2 * values[:, :, 0, 1]
    assert np.all(np.abs(distance) <= 3e-8 * values[:, :, 0, 0])


def test_invalid_initial_rejected():
    drift, covariance = mixit_coefficients()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="must be symmetric"):
        solve_matrix_sde(np.array([[1.0, 0.5], [0.0, 1.0]]), drift, covariance, 1.0, 1, rng,
                         paths=1)
    with pytest.raises(ValueError, match="must be positive semidefinite"):
        solve_matrix_sde(np.array([[1.0, 2.0], [2.0, 1.0]]), drift, covariance, 1.0, 1, rng,
                         paths=1)
    with pytest.raises(ValueError, match="pass paths"):
        solve_matrix_sde(np.eye(2), drift, covariance, 1.0, 1, rng)
    with pytest.raises(ValueError, match="duration must be positive"):
        solve_matrix_sde(np.eye(2), drift, covariance, 0.0, 1, rng, paths=1)
    with pytest.raises(ValueError, match="must be finite"):
        solve_matrix_sde(np.full((2, 2), np.nan), drift, covariance, 1.0, 1, rng, paths=1)


def test_wrong_coefficient_shapes_rejected():
    drift, covariance = mixit_coefficients()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"drift\(V\) returned shape \(2, 2\)"):
        solve_matrix_sde(np.eye(2), lambda v: np.eye(2), covariance, 1.0, 1, rng, paths=1)
    with pytest.raises(ValueError, match=r"covariance\(V\) returned shape"):
        solve_matrix_sde(np.eye(2), drift, lambda v: np.zeros((1, 2, 2)), 1.0, 1, rng, paths=1)


@given(initial=initial_covariances(max_size=4), shift=st.floats(-2.0, 0.0))
def test_symmetric_root_squares_to_clipped_matrix(initial, shift):
    matrix = initial + shift * np.eye(initial.shape[0])
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    clipped = (eigenvectors * np.clip(eigenvalues, 0, None)) @ eigenvectors.T
    root = symmetric_psd_root(matrix)
    np.testing.assert_allclose(root, root.T, atol=1e-12)
    np.testing.assert_allclose(root @ root, clipped, atol=1e-10)


@given(initial=initial_covariances(max_size=4), shift=st.floats(-2.0, 0.5))
def test_projection_clips_negative_eigenvalues(initial, shift):
    matrix = initial + shift * np.eye(initial.shape[0])
    projected, changed = project_psd(matrix[None])
    eigenvalues = np.linalg.eigvalsh(matrix)
    # Two eigensolver calls may disagree on the sign of an eigenvalue at rounding level.
    rounding = 1e-12 * max(1.0, float(np.abs(eigenvalues).max()))

    if eigenvalues[0] < -rounding:
        assert changed[0]
    if eigenvalues[0] > rounding:
        assert not changed[0]
    np.testing.assert_allclose(np.linalg.eigvalsh(projected[0]), np.clip(eigenvalues, 0, None),
                               atol=1e-12)
    if not changed[0]:
        np.testing.assert_array_equal(projected[0], matrix)


def test_one_step_moments():
    """One step from ``V``: increments have mean ``b h`` and covariance ``Sigma h`` exactly.

    6 mean entries at 4 SE and 21 covariance entries at 4.5 SE: false alarm < 1e-3.
    """
    drift, covariance = mixit_coefficients(noise_multiplier=1.5)
    count, step = 20_000, 1e-4
    paths = solve_matrix_sde(INITIAL, drift, covariance, step, 1, np.random.default_rng(11),
                             paths=count)
    assert paths.projections == 0

    increments = to_upper(paths.values[1] - paths.values[0]) / step
    mean_error = np.abs(increments.mean(axis=0) - to_upper(drift(INITIAL)))
    mean_se = increments.std(axis=0, ddof=1) / math.sqrt(count)
    assert false_alarm(4.0, 6) < 1e-3
    np.testing.assert_array_less(mean_error, 4.0 * mean_se)

    centred = (increments - increments.mean(axis=0)) * math.sqrt(step)
    products = centred[:, :, None] * centred[:, None, :]
    measured = products.sum(axis=0) / (count - 1)
    standard_error = products.std(axis=0, ddof=1) / math.sqrt(count)
    upper = np.triu_indices(6)
    assert false_alarm(4.5, upper[0].size) < 1e-3
    np.testing.assert_array_less(np.abs(measured - covariance(INITIAL))[upper],
                                 4.5 * standard_error[upper])


def test_mean_after_steps():
    """``E[V_k] = (I + h gamma**2 D)^k V_0`` while the projection never acts.

    6 entries at 4 SE: false alarm < 1e-3. As a contrast, ``V_0`` itself is off by more
    than 6 SE in the last token's variance, which the mixing drift alone raises.
    """
    sigma, duration, steps, count = 2.0, 0.25, 25, 4000
    drift, covariance = mixit_coefficients(noise_multiplier=sigma)
    paths = solve_matrix_sde(INITIAL, drift, covariance, duration, steps,
                             np.random.default_rng(5), paths=count, record_every=steps)
    assert paths.projections == 0

    predicted = INITIAL.copy()
    for _ in range(steps):
        predicted = predicted + (duration / steps) * drift(predicted)
    samples = to_upper(paths.values[-1])
    estimate = samples.mean(axis=0)
    standard_error = samples.std(axis=0, ddof=1) / math.sqrt(count)

    assert false_alarm(4.0, 6) < 1e-3
    np.testing.assert_array_less(np.abs(estimate - to_upper(predicted)), 4.0 * standard_error)
    assert abs(estimate[-1] - INITIAL[2, 2]) > 6.0 * standard_error[-1]
