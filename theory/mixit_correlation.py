"""Correlations and determinants under the MixiT covariance SDE, by Ito's formula.

The SDE in ``t = l / n`` is ``dV = gamma**2 H D(V) dt + (c_lin Sigma_lin + gamma**4 Sigma_mix)**(1/2) dB``
(see :mod:`theory.mixit_covariance`). This module reduces it, with sympy, to

* the correlation ``rho = V_12 / sqrt(V_11 V_22)`` of two tokens, whose coefficients depend on
  ``rho`` and on the norm ratio ``s = sqrt(V_11 / V_22)``;
* ``y = artanh(rho)``, whose drift is bounded on the side that points away from zero;
* ``log det V`` for any number of tokens, whose drift is bounded below and whose diffusion is
  constant, so that ``V_t`` stays positive definite at every finite ``t``.
"""

import functools

import numpy as np
import sympy

from theory import mixit_symbolic
from theory.mixit_covariance import (as_covariance, check_branch_weight, check_integer,
                                     check_nonnegative, linear_diffusion_coefficient,
                                     mixing_drift)
from theory.symbols import H, c_lin, gamma, rho, s, sigma


def _two_token_substitution(V):
    """Return a function that writes an expression in ``V`` in terms of ``rho`` and ``s``."""
    V11, V12, V22 = V[0, 0], V[0, 1], V[1, 1]

    def reduce(expression):
        expression = expression.subs(V12, rho * sympy.sqrt(V11 * V22)).subs(V22, V11 / s**2)
        return sympy.factor(sympy.simplify(expression))

    return reduce


@functools.lru_cache(maxsize=1)
def two_token_correlation_sde():
    """Reduce the two-token SDE to ``d rho`` by Ito's formula on ``rho = V_12 / sqrt(V_11 V_22)``.

    Each part of the SDE contributes separately, because drift and diffusion enter Ito's
    formula linearly and the linear and mixing fluctuations are uncorrelated.

    Returns
    -------
    dict of sympy.Expr
        In ``rho``, ``s = sqrt(V_11 / V_22)`` and the symbols ``c_lin, gamma, sigma, H``:

        ``linear_drift``, ``linear_variance``
            From ``c_lin Sigma_lin``: ``-(c_lin / 2) rho (1 - rho**2)`` and
            ``c_lin (1 - rho**2)**2``.
        ``mixing_mean_drift``
            From the drift ``gamma**2 H D(V)``, which moves only ``V_22``.
        ``mixing_ito_drift``, ``mixing_variance``
            From ``gamma**4 Sigma_mix``.
        ``drift``, ``variance``
            The totals.
    """
    V = mixit_symbolic.symmetric_matrix(2)
    coordinates, drift, _ = mixit_symbolic.sde_coefficients(V, sigma, gamma, c_lin, heads=H)
    pairs = mixit_symbolic.triu_pairs(2)
    linear = sympy.Matrix(3, 3, lambda i, j: mixit_symbolic.sigma_lin(V, *pairs[i], *pairs[j]))
    mixing = sympy.Matrix(3, 3, lambda i, j: mixit_symbolic.sigma_mix(V, sigma, *pairs[i], *pairs[j]))
    correlation = V[0, 1] / sympy.sqrt(V[0, 0] * V[1, 1])
    reduce = _two_token_substitution(V)
    no_drift = sympy.zeros(3, 1)

    linear_drift, linear_variance = mixit_symbolic.ito_generator(correlation, coordinates, no_drift, linear)
    mean_drift, _ = mixit_symbolic.ito_generator(correlation, coordinates, drift, sympy.zeros(3, 3))
    ito_drift, mixing_variance = mixit_symbolic.ito_generator(correlation, coordinates, no_drift, mixing)

    parts = {
        "linear_drift": c_lin * reduce(linear_drift),
        "linear_variance": c_lin * reduce(linear_variance),
        "mixing_mean_drift": reduce(mean_drift),
        "mixing_ito_drift": gamma**4 * reduce(ito_drift),
        "mixing_variance": gamma**4 * reduce(mixing_variance),
    }
    parts["drift"] = sympy.factor(parts["linear_drift"] + parts["mixing_mean_drift"]
                                  + parts["mixing_ito_drift"])
    parts["variance"] = sympy.factor(parts["linear_variance"] + parts["mixing_variance"])
    return parts


def artanh_sde(drift, variance):
    """Return the drift and variance rate of ``y = artanh(rho)`` by Ito's formula.

    ``dy = (b_rho / (1 - rho**2) + rho Sigma_rho / (1 - rho**2)**2) dt``
    ``+ sqrt(Sigma_rho) / (1 - rho**2) dB``, from ``y' = 1 / (1 - rho**2)`` and
    ``y'' = 2 rho / (1 - rho**2)**2``. Both results stay in terms of ``rho = tanh(y)``.
    """
    first = sympy.diff(sympy.atanh(rho), rho)
    second = sympy.diff(sympy.atanh(rho), rho, 2)
    drift_y = sympy.factor(sympy.simplify(first * drift + second * variance / 2))
    variance_y = sympy.factor(sympy.simplify(first**2 * variance))
    return drift_y, variance_y


@functools.lru_cache(maxsize=1)
def artanh_drift_decomposition():
    """Split the drift of ``y = artanh(rho)`` into its two poles and a polynomial part.

    With ``rho = tanh(y)`` the drift of ``y`` is::

        b_y = A(s) / (1 - rho) + B(s) / (1 + rho) + P(rho, s),
        A(s) = -gamma**2 sigma**2 (H - gamma**2) (s - 1)**2 / 16 <= 0,
        B(s) =  gamma**2 sigma**2 (H - gamma**2) (s + 1)**2 / 16 >= 0,

    with ``P`` linear in ``rho``. ``H >= 1 >= gamma**2`` makes both poles point toward
    ``y = 0``, so for ``y >= 0`` the drift is at most ``max_{[0, 1]} P + B(s)`` and for
    ``y <= 0`` at least ``min_{[-1, 0]} P + A(s)``. With ``|A| <= B`` and ``|P|`` at most
    the sum of its coefficients' magnitudes, ``sign(y) b_y <= K(s)`` for every ``y``, where::

        K(s) = c_lin / 2 + gamma**4 sigma**2 s**2 / 8 + gamma**2 sigma**2 s |H - 2 gamma**2| / 4
               + gamma**2 sigma**2 (H - gamma**2) (s + 1)**2 / 16.

    Returns
    -------
    dict of sympy.Expr
        ``drift_y``, ``variance_y``, ``pole_one`` (``A``), ``pole_minus_one`` (``B``),
        ``polynomial`` (``P``), ``polynomial_slope`` (its coefficient of ``rho``,
        ``c_lin / 2 - gamma**4 sigma**2 s**2 / 8``) and ``bound`` (``K``).
    """
    parts = two_token_correlation_sde()
    drift_y, variance_y = artanh_sde(parts["drift"], parts["variance"])
    expanded = sympy.apart(drift_y, rho)
    pole_one = sympy.S.Zero
    pole_minus_one = sympy.S.Zero
    polynomial = sympy.S.Zero
    for term in sympy.Add.make_args(expanded):
        numerator, denominator = sympy.fraction(sympy.factor(term))
        if denominator.has(rho):
            # apart returns each pole as numerator / (k (rho - 1)) or numerator / (k (rho + 1)).
            at_one = sympy.simplify(denominator.subs(rho, 1)) == 0
            if at_one:
                pole_one += sympy.factor(term * (1 - rho))
            else:
                pole_minus_one += sympy.factor(term * (1 + rho))
        else:
            polynomial += term
    pole_one = sympy.factor(sympy.simplify(pole_one))
    pole_minus_one = sympy.factor(sympy.simplify(pole_minus_one))
    polynomial = sympy.collect(sympy.expand(polynomial), rho)

    slope = polynomial.coeff(rho, 1)
    offset = polynomial.coeff(rho, 0)
    bound = (c_lin / 2 + gamma**4 * sigma**2 * s**2 / 8 + sympy.Abs(offset)
             + pole_minus_one)
    return {
        "drift_y": drift_y,
        "variance_y": variance_y,
        "pole_one": pole_one,
        "pole_minus_one": pole_minus_one,
        "polynomial": polynomial,
        "polynomial_slope": slope,
        "bound": bound,
    }


def log_det_drift_formula(m_value):
    """Return the drift of ``log det V`` for ``m`` tokens as a sympy expression.

    ``-c_lin m (m + 1) / 2 - gamma**4 (sigma**2 / m) (m - H_m)
    + (gamma**2 H - gamma**4) tr(V^{-1} D(V))``, where ``H_m`` is the ``m``-th harmonic
    number. The trace term is left as the symbol ``tr_Vinv_D``, which is ``>= 0``.

    By Ito, ``d log det V = tr(V^{-1} dV) - tr((V^{-1} dV)**2) / 2``. The linear fluctuations
    give ``-c_lin m (m + 1) / 2``. The mixing increment ``gamma**2 (dC V + V dC^T)`` gives
    ``2 gamma**2 tr(dC)`` with ``E tr(dC**2) = (sigma**2 / m) sum_a (1 - 1/a) dt`` and
    ``E tr(V^{-1} dC V dC^T) = tr(V^{-1} D(V)) dt``, which together with the mean drift
    ``gamma**2 H tr(V^{-1} D(V))`` give the remaining two terms.
    """
    trace = sympy.Symbol("tr_Vinv_D", nonnegative=True)
    harmonic = sympy.harmonic(m_value)
    return (-c_lin * sympy.Rational(m_value * (m_value + 1), 2)
            - gamma**4 * sigma**2 / m_value * (m_value - harmonic)
            + (gamma**2 * H - gamma**4) * trace)


def log_det_variance_formula(m_value):
    """Return the variance rate of ``log det V``: ``2 c_lin m + 4 gamma**4 sigma**2 (m - H_m) / m``."""
    harmonic = sympy.harmonic(m_value)
    return 2 * c_lin * m_value + 4 * gamma**4 * sigma**2 * (m_value - harmonic) / m_value


def log_det_generator(V):
    """Return the Ito drift and variance rate of ``log det V`` at the sympy matrix ``V``.

    Uses the derivatives of ``log det`` along the symmetric unit directions ``E_p`` of the
    upper-triangular coordinates, ``tr(V^{-1} E_p)`` and ``-tr(V^{-1} E_p V^{-1} E_q)``, so
    for a rational ``V`` the result is exact. The drift and covariance are those of
    :func:`theory.mixit_symbolic.sde_coefficients` with symbolic ``gamma``, ``sigma``,
    ``c_lin`` and ``H``.
    """
    m_value = V.shape[0]
    pairs = mixit_symbolic.triu_pairs(m_value)
    _, drift, covariance = mixit_symbolic.sde_coefficients(V, sigma, gamma, c_lin, heads=H)
    inverse = V.inv()
    directions = []
    for a, b in pairs:
        direction = sympy.zeros(m_value, m_value)
        direction[a, b] = direction[b, a] = 1
        directions.append(inverse * direction)
    gradient = sympy.Matrix([product.trace() for product in directions])
    hessian = sympy.Matrix(len(pairs), len(pairs),
                           lambda p, q: -(directions[p] * directions[q]).trace())
    drift_rate = gradient.dot(drift) + (hessian * covariance).trace() / 2
    variance_rate = (gradient.T * covariance * gradient)[0, 0]
    return sympy.simplify(drift_rate), sympy.simplify(variance_rate)


def log_det_drift(V, branch_weight, noise_std=1.0, heads=1, branch_matrices=1):
    """Return the drift of ``log det V_t`` per unit ``t`` for positive definite ``V``.

    ``-c_lin m (m + 1) / 2 - gamma**4 (sigma**2 / m) (m - H_m)
    + (gamma**2 H - gamma**4) sum_a (V^{-1})_aa d_a``, with ``d_a`` the mixing drift and
    ``H_m = 1 + 1/2 + ... + 1/m``. The last term is ``>= 0``, so the drift is bounded below
    by the constant of :func:`log_det_drift_lower_bound`.

    Raises
    ------
    ValueError
        If ``V`` is not positive definite (``log det V`` is then undefined).
    """
    V = as_covariance(V)
    gamma_value = check_branch_weight(branch_weight)
    sigma_value = check_nonnegative(noise_std, "noise_std")
    heads = check_integer(heads, "heads", 1)
    try:
        np.linalg.cholesky(V)
    except np.linalg.LinAlgError:
        raise ValueError("V must be positive definite for log det V; it is singular "
                         "or has a negative eigenvalue") from None
    inverse_diagonal = np.diagonal(np.linalg.inv(V), axis1=-2, axis2=-1)
    drift_diagonal = np.diagonal(mixing_drift(V, sigma_value), axis1=-2, axis2=-1)
    trace = np.sum(inverse_diagonal * drift_diagonal, axis=-1)
    constant = log_det_drift_lower_bound(V.shape[-1], gamma_value, sigma_value, branch_matrices)
    return constant + (gamma_value**2 * heads - gamma_value**4) * trace


def log_det_drift_lower_bound(m, branch_weight, noise_std=1.0, branch_matrices=1):
    """Return ``-c_lin m (m + 1) / 2 - gamma**4 (sigma**2 / m) (m - H_m)``."""
    m = check_integer(m, "m", 1)
    gamma_value = check_branch_weight(branch_weight)
    sigma_value = check_nonnegative(noise_std, "noise_std")
    c_value = linear_diffusion_coefficient(gamma_value, branch_matrices)
    harmonic = float(np.sum(1.0 / np.arange(1, m + 1)))
    return -c_value * m * (m + 1) / 2 - gamma_value**4 * sigma_value**2 / m * (m - harmonic)


def log_det_diffusion(m, branch_weight, noise_std=1.0, branch_matrices=1):
    """Return the (constant) diffusion coefficient of ``log det V_t``.

    ``sqrt(2 c_lin m + 4 gamma**4 sigma**2 (m - H_m) / m)``; it does not depend on ``V``.
    """
    m = check_integer(m, "m", 1)
    gamma_value = check_branch_weight(branch_weight)
    sigma_value = check_nonnegative(noise_std, "noise_std")
    c_value = linear_diffusion_coefficient(gamma_value, branch_matrices)
    harmonic = float(np.sum(1.0 / np.arange(1, m + 1)))
    return float(np.sqrt(2 * c_value * m + 4 * gamma_value**4 * sigma_value**2 * (m - harmonic) / m))

