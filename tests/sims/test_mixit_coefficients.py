"""The simulations' MixiT coefficients against their definitions and against :mod:`theory.mixit`.

The mixing noise ``D`` is Gaussian with ``Cov(D[a, j], D[c, k]) = delta_ac (sigma**2 / T)
Pi_a[j, k]``, so the covariance of ``D V + V D^T`` follows from that covariance by linear
algebra. The tests compare the coordinate forms with this exact computation and with the
tensors of :mod:`theory.mixit`; simulation of the block itself is in
``test_idealized_block.py``.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import theory.mixit as theory_mixit
from sims.mixit_coefficients import (
    branch_weight, idealized_block_covariance, idealized_block_drift, idealized_block_mean,
    linear_coefficient, linear_covariance, mixing_covariance,
)
from sims.sde import from_upper, to_upper, upper_indices
from theory.mixit import mixing_drift

seeds = st.integers(0, 2**32 - 1)
multipliers = st.floats(0.1, 3.0)


@st.composite
def covariances(draw, max_size=6):
    """Random positive semidefinite ``V``, some of them singular."""
    size = draw(st.integers(1, max_size))
    rank = draw(st.integers(1, size))
    rng = np.random.default_rng(draw(seeds))
    factor = rng.standard_normal((size, rank))
    return factor @ factor.T / rank


def noise_covariance(size, noise_multiplier):
    """Return ``Cov(D[a, j], D[c, k])`` as a ``(T, T, T, T)`` array indexed ``[a, j, c, k]``."""
    covariance = np.zeros((size, size, size, size))
    for a in range(size):
        centring = np.zeros((size, size))
        centring[:a + 1, :a + 1] = np.eye(a + 1) - 1.0 / (a + 1)
        covariance[a, :, a, :] = noise_multiplier ** 2 / size * centring
    return covariance


@given(covariance=covariances(), noise_multiplier=multipliers)
def test_mixing_covariance_is_noise_term_covariance(covariance, noise_multiplier):
    """``Sigma_mix`` is the covariance of the coordinates of ``D V + V D^T``."""
    size = covariance.shape[0]
    rows, columns = upper_indices(size)
    # M = D V + V D^T is linear in D: M_pq = sum_j D_pj V_jq + V_pj D_qj.
    jacobian = np.zeros((rows.size, size, size))
    for index, (p, q) in enumerate(zip(rows, columns)):
        jacobian[index, p, :] += covariance[:, q]
        jacobian[index, q, :] += covariance[p, :]
    expected = np.einsum("xaj,ajck,yck->xy", jacobian, noise_covariance(size, noise_multiplier),
                         jacobian)
    np.testing.assert_allclose(mixing_covariance(covariance, noise_multiplier), expected,
                               atol=1e-12)


@given(covariance=covariances())
def test_linear_covariance_definition(covariance):
    size = covariance.shape[0]
    rows, columns = upper_indices(size)
    expected = np.empty((rows.size, rows.size))
    for x, (a, b) in enumerate(zip(rows, columns)):
        for y, (c, d) in enumerate(zip(rows, columns)):
            expected[x, y] = covariance[a, c] * covariance[b, d] + covariance[a, d] * covariance[b, c]
    np.testing.assert_allclose(linear_covariance(covariance), expected, atol=1e-14)


@given(covariance=covariances(), skip=st.floats(0.0, 1.0), noise_multiplier=multipliers)
def test_diffusion_is_symmetric_psd(covariance, skip, noise_multiplier):
    diffusion = idealized_block_covariance(covariance, skip, noise_multiplier)
    scale = max(1.0, float(np.abs(diffusion).max()))
    np.testing.assert_allclose(diffusion, diffusion.T, atol=1e-14 * scale)
    assert np.linalg.eigvalsh(diffusion).min() >= -1e-12 * scale


def test_mixing_covariance_two_tokens():
    """For ``T = 2`` only three entries are nonzero (closed forms derived for ``Pi_1 = 0``)."""
    covariance = np.array([[1.3, 0.4], [0.4, 0.9]])
    sigma = 1.7
    result = mixing_covariance(covariance, sigma)
    # Coordinates in order (0, 0), (0, 1), (1, 1).
    expected = np.zeros((3, 3))
    expected[2, 2] = sigma ** 2 * (0.9 - 0.4) ** 2
    expected[1, 1] = sigma ** 2 * (1.3 - 0.4) ** 2 / 4
    expected[1, 2] = expected[2, 1] = sigma ** 2 * (1.3 - 0.4) * (0.4 - 0.9) / 2
    np.testing.assert_allclose(result, expected, atol=1e-15)


def test_exact_mean_two_tokens():
    """The exact mean recursion at ``L = n`` tends to the ODE solution ``exp(1 / 8)``.

    For ``T = 2``, ``V_0 = [[1, 1/2], [1/2, 1]]``, ``gamma**2 = 1/2``, ``sigma = 1``: only
    ``d_1 = (V_00 + V_11 - 2 V_01) / 4`` is nonzero, so ``V_00`` and ``V_01`` stay put and
    ``V_00 + V_11 - 2 V_01``, which equals ``V_11`` here, grows by the factor
    ``1 + gamma**2 / (4 n)`` per layer: ``V_11(L) = (1 + 1 / (8 n))**L``, which tends to
    ``exp(1 / 8)`` at ``L = n``.
    """
    initial = np.array([[1.0, 0.5], [0.5, 1.0]])
    for width in (16, 64, 1024):
        mean = idealized_block_mean(initial, width, width, math.sqrt(0.5))
        assert mean[1, 1] == pytest.approx((1 + 1 / (8 * width)) ** width, rel=1e-13)
        assert mean[0, 0] == 1.0
        assert mean[0, 1] == 0.5
    mean = idealized_block_mean(initial, 1024, 1024, math.sqrt(0.5))
    assert mean[1, 1] == pytest.approx(math.exp(1 / 8), abs=1e-5)


@given(covariance=covariances(), skip=st.floats(0.0, 1.0), noise_multiplier=multipliers)
def test_coordinates_match_theory_tensors(covariance, skip, noise_multiplier):
    rows, columns = upper_indices(covariance.shape[0])
    a, b = rows[:, None], columns[:, None]
    c, d = rows[None, :], columns[None, :]
    gamma = math.sqrt(1 - skip ** 2)
    np.testing.assert_allclose(linear_covariance(covariance),
                               theory_mixit.sigma_lin(covariance)[a, b, c, d], atol=1e-13)
    np.testing.assert_allclose(mixing_covariance(covariance, noise_multiplier),
                               theory_mixit.sigma_mix(covariance, noise_multiplier)[a, b, c, d],
                               atol=1e-12)
    np.testing.assert_allclose(idealized_block_covariance(covariance, skip, noise_multiplier),
                               theory_mixit.sde_covariance(covariance, gamma, noise_multiplier),
                               atol=1e-12)
    np.testing.assert_allclose(to_upper(idealized_block_drift(covariance, skip, noise_multiplier)),
                               theory_mixit.sde_drift(covariance, gamma, noise_multiplier),
                               atol=1e-13)


@given(covariance=covariances(max_size=4))
def test_functions_accept_leading_axes(covariance):
    stacked = np.stack([covariance, 2 * covariance])
    np.testing.assert_allclose(mixing_drift(stacked)[1], mixing_drift(2 * covariance))
    np.testing.assert_allclose(mixing_covariance(stacked)[1], mixing_covariance(2 * covariance))
    np.testing.assert_allclose(linear_covariance(stacked)[0], linear_covariance(covariance))


def test_coefficients_at_half_skip():
    assert branch_weight(math.sqrt(0.5)) == pytest.approx(math.sqrt(0.5))
    assert linear_coefficient(math.sqrt(0.5)) == pytest.approx(0.75)
    assert linear_coefficient(0.0) == pytest.approx(1.0)
    assert linear_coefficient(1.0) == 0.0
    covariance = np.eye(3)
    np.testing.assert_allclose(idealized_block_drift(covariance, math.sqrt(0.5)),
                               0.5 * mixing_drift(covariance))


def test_skip_weight_outside_unit_interval_rejected():
    with pytest.raises(ValueError, match=r"skip_weight must lie in \[0, 1\]"):
        branch_weight(1.5)


@given(covariance=covariances())
def test_upper_coordinates_round_trip(covariance):
    np.testing.assert_array_equal(from_upper(to_upper(covariance), covariance.shape[0]),
                                  covariance)
