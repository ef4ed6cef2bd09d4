"""The first token's norm in the MixiT block: an exact non-central chi-square factor.

The first row of ``A`` is ``e_1``, so the first token evolves as in a residual network
without attention: ``x_1' = lambda_skip x_1 + gamma x_1 W / sqrt(n)``. Given ``x_1``, the
vector ``x_1 W / sqrt(n)`` is ``N(0, V_11 I_n)``, so::

    V_11' = V_11 xi,    xi = (gamma**2 / n) chi'**2_n(delta),    delta = n lambda_skip**2 / gamma**2,

with ``chi'**2_n(delta)`` a non-central chi-square with ``n`` degrees of freedom and
non-centrality ``delta``, drawn independently in every block. Then ``E xi = 1`` and
``Var xi = 2 c / n`` exactly, with ``c = gamma**2 (2 - gamma**2)``, and
``n E[log xi] -> -c``: ``log V_11`` is a random walk whose drift per unit ``t = l / n``
tends to ``-c``, the geometric Brownian motion ``d log V_11 = -c dt + sqrt(2 c) dB``.
"""

import functools

import mpmath
import numpy as np
import scipy.stats
import sympy

from theory.mixit_covariance import check_branch_weight, check_integer
from theory.symbols import gamma, n


@functools.lru_cache(maxsize=1)
def norm_factor_moments():
    """Derive the mean, variance and log-mean expansion of ``xi`` with sympy.

    The cumulants of ``chi'**2_k(delta)`` are ``kappa_r = 2**(r-1) (r-1)! (k + r delta)``,
    and those of ``xi`` are ``(gamma**2 / n)**r`` times them. With the central moments
    ``mu_2 = kappa_2``, ``mu_3 = kappa_3``, ``mu_4 = kappa_4 + 3 kappa_2**2``, ... and
    ``log xi = sum_k (-1)**(k+1) (xi - 1)**k / k``, the asymptotic expansion is
    ``n E[log xi] = -c + b_1 / n + O(n**-2)``. The terms up to ``k = 4`` fix ``b_1``. The
    terms ``k = 5, 6`` start at order ``1 / n**2`` and are included without changing it.
    The series is an asymptotic expansion only: ``log`` is singular at ``xi = 0``, which
    ``xi`` approaches with a probability that is exponentially small in ``n``.

    Returns
    -------
    dict of sympy.Expr
        ``mean`` (1), ``variance`` (``2 c / n``), ``c`` (``gamma**2 (2 - gamma**2)``),
        ``limit`` (``-c``) and ``b1``, the coefficient of ``1 / n``.
    """
    # Write n = 1 / epsilon: every cumulant is then a polynomial in epsilon, so the
    # expansion in 1 / n is read off the coefficients without a series expansion.
    epsilon = sympy.Symbol("epsilon", positive=True)
    delta = (1 - gamma**2) / (gamma**2 * epsilon)
    scale = gamma**2 * epsilon

    def cumulant(order):
        return sympy.expand(scale**order * 2 ** (order - 1) * sympy.factorial(order - 1)
                            * (1 / epsilon + order * delta))

    kappa = {order: cumulant(order) for order in range(1, 7)}
    central = {
        2: kappa[2],
        3: kappa[3],
        4: kappa[4] + 3 * kappa[2] ** 2,
        5: kappa[5] + 10 * kappa[3] * kappa[2],
        6: kappa[6] + 15 * kappa[4] * kappa[2] + 10 * kappa[3] ** 2 + 15 * kappa[2] ** 3,
    }
    log_mean = sum((-1) ** (order + 1) * central[order] / order for order in range(2, 7))
    scaled = sympy.expand(log_mean / epsilon)
    return {
        "mean": sympy.factor(kappa[1]),
        "variance": sympy.factor(kappa[2].subs(epsilon, 1 / n)),
        "c": sympy.factor(kappa[2] / (2 * epsilon)),
        "limit": sympy.factor(scaled.coeff(epsilon, 0)),
        "b1": sympy.factor(scaled.coeff(epsilon, 1)),
    }


def _to_mpf(value):
    """Convert ``value`` to an mpf at the current mpmath precision."""
    try:
        if isinstance(value, sympy.Basic):
            return mpmath.mpf(sympy.Float(sympy.N(value, mpmath.mp.dps), mpmath.mp.dps))
        return mpmath.mpf(value)
    except (TypeError, ValueError):
        raise ValueError(f"branch_weight must be a real number; got {value!r}") from None


def log_norm_factor_mean(width, branch_weight, dps=30):
    """Return ``n E[log xi]`` for the first token's norm factor, to ``dps`` digits.

    Uses the Poisson mixture ``chi'**2_n(delta) ~ chi**2_{n + 2J}``, ``J ~ Poisson(delta / 2)``,
    and ``E[log chi**2_k] = log 2 + psi(k / 2)``::

        E[log xi] = log(gamma**2 / n) + sum_j Pois(j; delta / 2) (log 2 + psi(n / 2 + j)).

    The sum stops where the Poisson tail is below ``10**-(dps + 5)``.

    Parameters
    ----------
    width : int
        ``n >= 1``.
    branch_weight : float, str, mpmath.mpf or sympy expression
        ``gamma`` in ``[0, 1]``. The result has ``dps`` correct digits only if ``gamma`` is
        given to that precision: a sympy expression such as ``sympy.sqrt(sympy.Rational(1, 2))``
        is evaluated at the working precision, whereas a float carries 16 digits.
    dps : int
        Decimal digits of the mpmath arithmetic.

    Returns
    -------
    mpmath.mpf
        ``0`` for ``gamma = 0`` (then ``xi = 1``).
    """
    width = check_integer(width, "width", 1)
    dps = check_integer(dps, "dps", 5)
    check_branch_weight(float(_to_mpf(branch_weight)))
    with mpmath.workdps(dps + 10):
        g = _to_mpf(branch_weight)
        if g == 0:
            return mpmath.mpf(0)
        g2 = g**2
        poisson_mean = width * (1 - g2) / (2 * g2)
        log_tail = (dps + 5) * mpmath.log(10)
        last = int(mpmath.ceil(poisson_mean + mpmath.sqrt(2 * poisson_mean * log_tail) + log_tail)) + 1

        weight = mpmath.exp(-poisson_mean)
        digamma = mpmath.digamma(mpmath.mpf(width) / 2)
        total = mpmath.mpf(0)
        for j in range(last + 1):
            total += weight * digamma
            # psi(x + 1) = psi(x) + 1 / x and Pois(j + 1) = Pois(j) mu / (j + 1).
            digamma += 1 / (mpmath.mpf(width) / 2 + j)
            weight *= poisson_mean / (j + 1)
        log_mean = mpmath.log(g2 / width) + mpmath.log(2) + total
        return width * log_mean


def norm_factor_convergence(widths, branch_weight, dps=30):
    """Return ``n E[log xi]`` for several widths and the fitted convergence to ``-c``.

    Parameters
    ----------
    widths : sequence of int
        At least two distinct widths ``n >= 1``.
    branch_weight : float, str, mpmath.mpf or sympy expression
        ``gamma`` in ``(0, 1]``, as in :func:`log_norm_factor_mean`.
    dps : int
        Decimal digits.

    Returns
    -------
    dict
        ``widths``
            The widths, as given.
        ``values``
            ``n E[log xi]`` as floats.
        ``limit``
            ``-c``.
        ``b1``
            The derived coefficient of ``1 / n`` (:func:`norm_factor_moments`).
        ``fitted_exponent``, ``fitted_exponent_stderr``
            Slope of ``log |value + c|`` against ``log n`` and its standard error; the slope
            is ``-1`` when the error decays as ``1 / n``.
        ``fitted_b1``
            Intercept of a straight-line fit of ``n (value + c)`` against ``1 / n``.
    """
    widths = [check_integer(width, "width", 1) for width in widths]
    if len(set(widths)) < 2:
        raise ValueError(f"a convergence fit needs at least two distinct widths; got {widths!r}")
    if check_branch_weight(float(_to_mpf(branch_weight))) == 0:
        raise ValueError("branch_weight must be > 0 for a convergence fit: at 0 every value is 0")
    values = [log_norm_factor_mean(width, branch_weight, dps) for width in widths]
    with mpmath.workdps(dps + 10):
        g2 = _to_mpf(branch_weight) ** 2
        c_value = g2 * (2 - g2)
        errors = [value + c_value for value in values]
        b1 = sympy.lambdify(gamma, norm_factor_moments()["b1"], "mpmath")(mpmath.sqrt(g2))
    log_widths = np.log(np.array(widths, dtype=float))
    log_errors = np.log(np.abs(np.array([float(error) for error in errors])))
    exponent_fit = scipy.stats.linregress(log_widths, log_errors)
    scaled_errors = np.array([float(width * error) for width, error in zip(widths, errors)])
    coefficient_fit = scipy.stats.linregress(1.0 / np.array(widths, dtype=float), scaled_errors)
    return {
        "widths": widths,
        "values": [float(value) for value in values],
        "limit": float(-c_value),
        "b1": float(b1),
        "fitted_exponent": float(exponent_fit.slope),
        "fitted_exponent_stderr": float(exponent_fit.stderr),
        "fitted_b1": float(coefficient_fit.intercept),
    }
