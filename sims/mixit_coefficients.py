"""Drift and diffusion of the token covariance in the idealized MixiT block, for simulations.

The idealized block (no norm, one head, one value matrix, no MLP) maps tokens ``X`` of
shape ``(T, n)`` to

    X' = lambda X + gamma A X W / sqrt(n),    lambda**2 + gamma**2 = 1,
    A = I + D / sqrt(n),    D[a, j] = C[a, j] - (1 / (a + 1)) sum_{k <= a} C[a, k] for j <= a,

with ``C[a, j] ~ N(0, sigma**2 / T)`` and ``W[i, j] ~ N(0, 1)`` i.i.d. (tokens counted
from 0, token ``a`` attends to tokens ``0 ... a``). With ``V = X X^T / n`` and the centring
projector ``Pi_a = P_a - 1_a 1_a^T / (a + 1)`` of token ``a``'s causal support, the
conditional mean and covariance of one step are

    E[V' | V] = V + (gamma**2 / n) D(V),    D(V) = diag(d_a),  d_a = (sigma**2 / T) tr(Pi_a V),
    n Cov(V'_ab, V'_cd | V) = c_lin Sigma_lin(V)_{ab,cd} + gamma**4 Sigma_mix(V)_{ab,cd} + O(1 / n),

with ``c_lin = gamma**2 (2 - gamma**2)``,
``Sigma_lin(V)_{ab,cd} = V_ac V_bd + V_ad V_bc`` and
``Sigma_mix(V)_{ab,cd} = (sigma**2 / T) [delta_ac (V Pi_a V)_bd + delta_ad (V Pi_a V)_bc
+ delta_bc (V Pi_b V)_ad + delta_bd (V Pi_b V)_ac]``. With depth time ``t = l / n`` they
give the proportional-limit SDE

    dV = gamma**2 D(V) dt + [c_lin Sigma_lin(V) + gamma**4 Sigma_mix(V)]**(1/2) dB

on the ``T (T + 1) / 2`` upper-triangular coordinates of ``V``, in the order of
``numpy.triu_indices(T)``. :mod:`theory.mixit` derives these formulas for this suite.
They are not taken from the MixiT paper (Dong et al. 2025, arXiv 2506.01115).

This module adapts them to the simulations. Its functions take the skip weight
``lambda``, as :func:`sims.idealized_block.simulate_idealized_block` does, where
:mod:`theory.mixit` takes ``gamma``. The mean and the drift come from :mod:`theory.mixit`.
The diffusion is computed here directly on the coordinates. It equals
``theory.mixit.sde_covariance`` (a test checks this) but does not build the
``(T, T, T, T)`` tensor, whose construction would dominate the SDE solver's inner loop.
Every function accepts leading axes.
"""

import numpy as np

from sims.sde import upper_indices
from theory.mixit import exact_mean, linear_diffusion_coefficient, mixing_drift


def _check_square(covariance):
    covariance = np.asarray(covariance)
    if covariance.ndim < 2 or covariance.shape[-1] != covariance.shape[-2]:
        raise ValueError(f"V must have shape (..., T, T), got shape {covariance.shape}")
    return covariance


def branch_weight(skip_weight):
    """Return ``gamma = sqrt(1 - lambda**2)`` for the skip weight ``lambda`` in ``[0, 1]``."""
    if not 0.0 <= skip_weight <= 1.0:
        raise ValueError(f"skip_weight must lie in [0, 1] so that lambda**2 + gamma**2 = 1, "
                         f"got {skip_weight!r}")
    return float(np.sqrt(1.0 - skip_weight * skip_weight))


def linear_covariance(covariance):
    """Return ``Sigma_lin(V)_{ab,cd} = V_ac V_bd + V_ad V_bc`` over upper-triangular coordinates.

    Returns
    -------
    numpy.ndarray, shape (..., T (T + 1) / 2, T (T + 1) / 2)
    """
    covariance = _check_square(covariance)
    first, second = upper_indices(covariance.shape[-1])
    a, b = first[:, None], second[:, None]
    c, d = first[None, :], second[None, :]
    return (covariance[..., a, c] * covariance[..., b, d]
            + covariance[..., a, d] * covariance[..., b, c])


def centred_prefix_products(covariance):
    """Return ``V Pi_a V`` for every token ``a``, shape ``(..., T, T, T)`` with ``a`` first.

    ``V Pi_a V = sum_{j <= a} v_j v_j^T - (V 1_a)(V 1_a)^T / (a + 1)``, with ``v_j`` the
    columns of ``V``.
    """
    covariance = _check_square(covariance)
    size = covariance.shape[-1]
    columns = np.swapaxes(covariance, -1, -2)
    outer = columns[..., :, :, None] * columns[..., :, None, :]
    prefix_outer = np.cumsum(outer, axis=-3)
    prefix_columns = np.cumsum(columns, axis=-2)
    support = np.arange(1, size + 1)[:, None, None]
    return prefix_outer - prefix_columns[..., :, :, None] * prefix_columns[..., :, None, :] / support


def mixing_covariance(covariance, noise_multiplier=1.0):
    """Return ``Sigma_mix(V)`` over upper-triangular coordinates (module docstring).

    It is the covariance of the coordinates of ``D V + V D^T``, the first-order mixing
    term, times ``n``.

    Returns
    -------
    numpy.ndarray, shape (..., T (T + 1) / 2, T (T + 1) / 2)
    """
    covariance = _check_square(covariance)
    size = covariance.shape[-1]
    products = centred_prefix_products(covariance)
    first, second = upper_indices(size)
    a, b = first[:, None], second[:, None]
    c, d = first[None, :], second[None, :]
    total = ((a == c) * products[..., a, b, d] + (a == d) * products[..., a, b, c]
             + (b == c) * products[..., b, a, d] + (b == d) * products[..., b, a, c])
    return (noise_multiplier ** 2 / size) * total


def linear_coefficient(skip_weight):
    """Return ``c_lin = 2 lambda**2 gamma**2 + gamma**4 = gamma**2 (2 - gamma**2)`` for one value matrix."""
    return linear_diffusion_coefficient(branch_weight(skip_weight))


def idealized_block_drift(covariance, skip_weight, noise_multiplier=1.0):
    """Return the SDE drift ``gamma**2 D(V)`` per unit of depth time ``t = l / n``."""
    gamma = branch_weight(skip_weight)
    return gamma * gamma * mixing_drift(covariance, noise_multiplier)


def idealized_block_covariance(covariance, skip_weight, noise_multiplier=1.0):
    """Return the SDE diffusion covariance ``c_lin Sigma_lin(V) + gamma**4 Sigma_mix(V)`` per unit of ``t``.

    It is also the limit of ``n Cov(V' | V)`` for one step of the block as ``n`` grows.
    """
    gamma = branch_weight(skip_weight)
    return (linear_coefficient(skip_weight) * linear_covariance(covariance)
            + gamma ** 4 * mixing_covariance(covariance, noise_multiplier))


def idealized_block_mean(covariance, depth, width, skip_weight, noise_multiplier=1.0):
    """Return ``E[V_L] = (I + (gamma**2 / n) D)^L V_0``, exact for every ``n``, ``T`` and ``L``.

    This is ``theory.mixit.exact_mean`` with one head.
    """
    return exact_mean(covariance, depth, width, branch_weight(skip_weight), noise_multiplier)
