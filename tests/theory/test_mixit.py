"""The MixiT covariance derivation: symbolic identities, numeric functions, mpmath values, CLI."""

import contextlib
import io
import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import sympy
from hypothesis import given
from hypothesis import strategies as st

from theory import mixit, mixit_contrast, mixit_correlation, mixit_norm, mixit_symbolic
from theory.__main__ import main
from theory.symbols import H, c_lin, gamma, n, rho, s, sigma, t, y

FLOAT64_TOLERANCE = 1e-12
REFERENCE_BRANCH_WEIGHT = math.sqrt(0.5)


@pytest.fixture(scope="module")
def derivation():
    return mixit.derive()


@pytest.fixture(scope="module")
def results(derivation):
    return derivation.results()


def random_covariance(rng, m, width=None, batch=()):
    """A positive semidefinite V = X X^T / n from Gaussian tokens."""
    width = width or m + 2
    X = rng.normal(size=batch + (m, width))
    return X @ np.swapaxes(X, -1, -2) / width


def covariance_from_integers(rows):
    """An exact rational V = X X^T / n from integer tokens."""
    X = sympy.Matrix(rows)
    return X * X.T / X.shape[1]


token_matrices = st.integers(min_value=1, max_value=4).flatmap(
    lambda m: st.integers(min_value=1, max_value=3).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(min_value=-2, max_value=2), min_size=width, max_size=width),
            min_size=m, max_size=m)))


# ---------------------------------------------------------------------------
# Derivation record
# ---------------------------------------------------------------------------

def test_every_residual_is_zero(derivation):
    for step in derivation.steps:
        for label, formula in step.equations:
            if not label.startswith("residual"):
                continue
            if isinstance(formula, sympy.MatrixBase):
                assert formula.is_zero_matrix, f"{step.title}: {label}"
            else:
                assert sympy.simplify(formula) == 0, f"{step.title}: {label}"


def test_steps_cite_known_premises(derivation):
    keys = {premise.key for premise in derivation.premises}
    for step in derivation.steps:
        assert set(step.premises) <= keys, step.title


def test_results_are_named_in_steps(derivation):
    names = set()
    for step in derivation.steps:
        names.update(step.results)
    assert names == set(derivation.results())


@pytest.mark.parametrize("name, expected", [
    ("c_lin_one_matrix", gamma**2 * (2 - gamma**2)),
    ("c_lin_two_matrices", 2 * gamma**2),
    ("norm_factor_mean", sympy.S.One),
    ("norm_factor_variance", 2 * gamma**2 * (2 - gamma**2) / n),
    ("log_norm_factor_limit", -gamma**2 * (2 - gamma**2)),
    ("first_token_log_drift", -c_lin),
    ("first_token_log_variance", 2 * c_lin),
    ("rho_linear_drift", -c_lin / 2 * rho * (1 - rho**2)),
    ("y_linear_drift", c_lin / 2 * sympy.tanh(y)),
    ("mlp_c_lin", 2 * gamma**2),
    ("kappa", gamma**2 * sigma**2 / 4),
])
def test_derived_result(results, name, expected):
    assert sympy.simplify(results[name] - expected) == 0


def test_two_token_limit_at_reference(results):
    value = results["v22_limit"].subs({gamma: 1 / sympy.sqrt(2), sigma: 1,
                                       sympy.Symbol("rho_0", real=True): sympy.Rational(1, 2), t: 1})
    assert sympy.simplify(value - sympy.exp(sympy.Rational(1, 8))) == 0


def test_b1_at_half_is_minus_17_48(results):
    value = results["log_norm_factor_b1"].subs(gamma, 1 / sympy.sqrt(2))
    assert sympy.simplify(value + sympy.Rational(17, 48)) == 0


def test_nu_special_values(results):
    assert results["nu_at_one"] == 0
    assert results["nu_at_zero"] == 1 / (2 * sympy.pi)
    assert results["nu_at_minus_one"] == sympy.Rational(1, 2)


def test_uniform_rho_matches_closed_form(results):
    a, L, m = sympy.Symbol("a", positive=True), sympy.Symbol("L", positive=True, integer=True), \
        sympy.Symbol("m", positive=True, integer=True)
    expected = ((1 + a**2) ** L - 1) / (m + (1 + a**2) ** L - 1)
    assert sympy.simplify(results["uniform_rho_L"] - expected) == 0


# ---------------------------------------------------------------------------
# Mixing drift: exact identities
# ---------------------------------------------------------------------------

@given(token_matrices)
def test_drift_zero_exactly_when_prefix_coincides(rows):
    V = covariance_from_integers(rows)
    drift = mixit_symbolic.mixing_drift(V, sympy.S.One)
    for a in range(1, len(rows) + 1):
        prefix_coincides = all(row == rows[0] for row in rows[:a])
        assert (drift[a - 1, a - 1] == 0) == prefix_coincides, (rows, a)
        assert drift[a - 1, a - 1] >= 0


@given(token_matrices)
def test_symbolic_drift_is_diagonal(rows):
    V = covariance_from_integers(rows)
    drift = mixit_symbolic.mixing_drift(V, sympy.S.One)
    assert drift.is_diagonal()
    assert drift[0, 0] == 0


@given(token_matrices)
def test_numeric_drift_matches_exact(rows):
    V = covariance_from_integers(rows)
    exact = np.array(mixit_symbolic.mixing_drift(V, sympy.S.One), dtype=float)
    numeric = mixit.mixing_drift(np.array(V, dtype=float))
    np.testing.assert_allclose(numeric, exact, atol=FLOAT64_TOLERANCE)


def test_numeric_drift_on_fractions():
    V = np.array([[Fraction(2), Fraction(1, 3)], [Fraction(1, 3), Fraction(1)]], dtype=object)
    drift = mixit.mixing_drift(V, noise_std=2.0)
    # d_2 = (sigma**2 / 4) (V_11 + V_22 - 2 V_12) = 3 - 2/3.
    assert drift[1, 1] == pytest.approx(3 - 2 / 3, abs=FLOAT64_TOLERANCE)


@given(st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=2**31))
def test_drift_properties_in_floats(m, seed):
    rng = np.random.default_rng(seed)
    V = random_covariance(rng, m, batch=(3,))
    drift = mixit.mixing_drift(V, noise_std=1.3)
    off_diagonal = drift * (1 - np.eye(m))
    assert np.all(off_diagonal == 0)
    assert np.all(drift[..., 0, 0] == 0)
    assert np.all(np.diagonal(drift, axis1=-2, axis2=-1) >= -FLOAT64_TOLERANCE)


def test_drift_one_token_is_zero():
    assert mixit.mixing_drift([[2.5]]).tolist() == [[0.0]]


def test_drift_zero_norm_tokens_defined():
    drift = mixit.mixing_drift(np.zeros((3, 3)))
    assert np.all(drift == 0)


def test_drift_collinear_tokens_positive():
    x = np.array([1.0, 2.0])
    X = np.stack([x, 3 * x, -x])
    drift = mixit.mixing_drift(X @ X.T / 2)
    assert drift[1, 1] > 0
    assert drift[2, 2] > 0


def test_noise_covariance_matches_linear_map():
    m, sigma_value = 4, 0.7
    # C = T G for the linear map T that masks and centres each row.
    T = np.zeros((m * m, m * m))
    for a in range(m):
        for j in range(a + 1):
            for k in range(a + 1):
                T[a * m + j, a * m + k] = (j == k) - 1 / (a + 1)
    expected = sigma_value**2 / m * T @ T.T
    covariance = mixit.mixing_noise_covariance(m, sigma_value).reshape(m * m, m * m)
    np.testing.assert_allclose(covariance, expected, atol=FLOAT64_TOLERANCE)


# ---------------------------------------------------------------------------
# Exact mean and its limit
# ---------------------------------------------------------------------------

def test_exact_mean_equals_iterated_drift():
    rng = np.random.default_rng(1)
    V0 = random_covariance(rng, 4)
    width, depth, heads, gamma_value = 24, 37, 3, 0.6
    V = V0.copy()
    for _ in range(depth):
        V = V + gamma_value**2 * heads / width * mixit.mixing_drift(V, noise_std=1.2)
    exact = mixit.exact_mean(V0, depth, width, gamma_value, noise_std=1.2, heads=heads)
    np.testing.assert_allclose(exact, V, rtol=1e-12)


def test_exact_mean_keeps_offdiagonal():
    rng = np.random.default_rng(2)
    V0 = random_covariance(rng, 5, batch=(2,))
    moved = mixit.exact_mean(V0, 50, 16, REFERENCE_BRANCH_WEIGHT)
    off_diagonal = ~np.eye(5, dtype=bool)
    np.testing.assert_array_equal(moved[..., off_diagonal], V0[..., off_diagonal])
    assert np.all(moved[..., 0, 0] == V0[..., 0, 0])


@pytest.mark.parametrize("width, expected", [
    (16, 1.1325982), (64, 1.1330103), (256, 1.1331139), (1024, 1.1331398),
])
def test_two_token_finite_width_values(width, expected):
    V0 = np.array([[1.0, 0.5], [0.5, 1.0]])
    value = mixit.exact_mean(V0, width, width, REFERENCE_BRANCH_WEIGHT)[1, 1]
    assert value == pytest.approx(expected, abs=5e-8)


def test_two_token_closed_form_matches_exact_mean():
    V0 = np.array([[1.3, -0.2], [-0.2, 0.7]])
    for width in (8, 40):
        closed = mixit.two_token_mean(V0, 1.5, 0.8, noise_std=1.1, heads=2, width=width)
        exact = mixit.exact_mean(V0, 60 if width == 40 else 12, width, 0.8, noise_std=1.1, heads=2)
        np.testing.assert_allclose(closed, exact, rtol=1e-12)


def test_two_token_closed_form_matches_expm():
    V0 = np.array([[1.0, 0.5], [0.5, 1.0]])
    limit = mixit.mean_limit(V0, 1.0, REFERENCE_BRANCH_WEIGHT)
    assert limit[1, 1] == pytest.approx(math.exp(1 / 8), rel=1e-13)
    closed = mixit.two_token_mean(np.array([[1.2, 0.3], [0.3, 0.4]]), 2.0, 0.9, noise_std=0.8, heads=3)
    expm = mixit.mean_limit(np.array([[1.2, 0.3], [0.3, 0.4]]), 2.0, 0.9, noise_std=0.8, heads=3)
    np.testing.assert_allclose(expm, closed, rtol=1e-12)


def test_mean_limit_solves_ode():
    rng = np.random.default_rng(3)
    V0 = random_covariance(rng, 4)
    t_value, gamma_value = 0.7, 0.8
    # The diagonal ODE dv/dt = gamma**2 d(V), integrated independently of expm.
    def rate(_, v):
        V = V0.copy()
        V[np.arange(4), np.arange(4)] = v
        return gamma_value**2 * np.diagonal(mixit.mixing_drift(V))

    solution = scipy.integrate.solve_ivp(rate, (0, t_value), np.diagonal(V0), rtol=1e-11, atol=1e-12)
    limit = mixit.mean_limit(V0, t_value, gamma_value)
    np.testing.assert_allclose(np.diagonal(limit), solution.y[:, -1], rtol=1e-8)


def test_exact_mean_converges_as_inverse_width():
    rng = np.random.default_rng(4)
    V0 = random_covariance(rng, 3)
    limit = mixit.mean_limit(V0, 1.0, 0.9, heads=2)
    scaled_errors = []
    for width in (64, 256, 1024):
        error = np.max(np.abs(mixit.exact_mean(V0, width, width, 0.9, heads=2) - limit))
        scaled_errors.append(width * error)
    assert scaled_errors[2] == pytest.approx(scaled_errors[1], rel=0.05)


# ---------------------------------------------------------------------------
# Diffusion and SDE coefficients
# ---------------------------------------------------------------------------

def test_c_lin_values():
    assert mixit.linear_diffusion_coefficient(REFERENCE_BRANCH_WEIGHT, 1) == pytest.approx(0.75)
    assert mixit.linear_diffusion_coefficient(REFERENCE_BRANCH_WEIGHT, 2) == pytest.approx(1.0)


def test_sigma_mix_matches_symbolic():
    V = sympy.Matrix([[2, 1, sympy.Rational(1, 2)], [1, 3, 0], [sympy.Rational(1, 2), 0, 1]])
    numeric = mixit.sigma_mix(np.array(V, dtype=float), noise_std=1.5)
    for a, b, c, d in np.ndindex(3, 3, 3, 3):
        exact = mixit_symbolic.sigma_mix(V, sympy.Rational(3, 2), a, b, c, d)
        assert numeric[a, b, c, d] == pytest.approx(float(exact), abs=FLOAT64_TOLERANCE)


def test_sigma_mix_two_token_entries():
    V11, V12, V22, sigma_value = 1.4, 0.3, 0.9, 1.2
    mix = mixit.sigma_mix([[V11, V12], [V12, V22]], sigma_value)
    assert mix[1, 1, 1, 1] == pytest.approx(sigma_value**2 * (V22 - V12) ** 2)
    assert mix[0, 1, 0, 1] == pytest.approx(sigma_value**2 * (V11 - V12) ** 2 / 4)
    assert mix[1, 1, 0, 1] == pytest.approx(sigma_value**2 * (V11 - V12) * (V12 - V22) / 2)
    assert np.all(mix[0, 0] == 0)
    assert np.all(mix[:, :, 0, 0] == 0)


def test_sigma_mix_one_token_is_zero():
    assert mixit.sigma_mix([[3.0]]).shape == (1, 1, 1, 1)
    assert mixit.sigma_mix([[3.0]])[0, 0, 0, 0] == 0


@given(st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=2**31),
       st.floats(min_value=0.05, max_value=1.0))
def test_sde_covariance_positive_semidefinite(m, seed, gamma_value):
    rng = np.random.default_rng(seed)
    V = random_covariance(rng, m, width=m + 1)
    covariance = mixit.sde_covariance(V, gamma_value, branch_matrices=2, mlp_branch_weight=0.5)
    np.testing.assert_allclose(covariance, covariance.T, atol=FLOAT64_TOLERANCE)
    scale = max(1.0, float(np.max(np.abs(covariance))))
    assert np.min(np.linalg.eigvalsh(covariance)) >= -1e-10 * scale


def test_sde_coefficients_batch_shapes():
    rng = np.random.default_rng(5)
    V = random_covariance(rng, 4, batch=(2, 3))
    assert mixit.sde_drift(V, 0.7, heads=2).shape == (2, 3, 10)
    assert mixit.sde_covariance(V, 0.7).shape == (2, 3, 10, 10)
    single = mixit.sde_covariance(V[1, 2], 0.7)
    np.testing.assert_allclose(mixit.sde_covariance(V, 0.7)[1, 2], single, rtol=1e-14)


def test_sde_covariance_diagonal_entry():
    # Token 1 has no mixing: Var rate of V_11 is c_lin Sigma_lin[11, 11] = 2 c_lin V_11**2.
    V = np.array([[2.0, 0.5], [0.5, 1.0]])
    covariance = mixit.sde_covariance(V, REFERENCE_BRANCH_WEIGHT)
    assert covariance[0, 0] == pytest.approx(2 * 0.75 * 4.0)


def test_triu_round_trip():
    rng = np.random.default_rng(6)
    V = random_covariance(rng, 4, batch=(3,))
    np.testing.assert_array_equal(mixit.from_triu(mixit.to_triu(V)), V)


def test_from_triu_rejects_bad_length():
    with pytest.raises(ValueError, match="got 4"):
        mixit.from_triu(np.zeros(4))


def test_sde_drift_with_mlp():
    V = np.array([[1.0, 0.0], [0.0, 1.0]])
    drift = mixit.sde_drift(V, 0.0, mlp_branch_weight=1.0)
    # Only the MLP acts: gamma_mlp**2 nu(0) on the off-diagonal, nu(1) = 0 on the diagonal.
    np.testing.assert_allclose(drift, [0.0, 1 / (2 * np.pi), 0.0], atol=FLOAT64_TOLERANCE)


# ---------------------------------------------------------------------------
# Shaped MLP and correlations
# ---------------------------------------------------------------------------

def test_nu_special_values_numeric():
    assert mixit.shaped_relu_nu(1.0) == 0
    assert mixit.shaped_relu_nu(0.0) == pytest.approx(1 / (2 * np.pi))
    assert mixit.shaped_relu_nu(-1.0) == pytest.approx(0.5)


def test_nu_nonnegative_and_clipped():
    values = mixit.shaped_relu_nu(np.linspace(-1, 1, 201), c_plus=0.4, c_minus=-1.2)
    assert np.all(values >= 0)
    assert mixit.shaped_relu_nu(1 + 1e-14) == 0


def test_nu_rejects_invalid_correlation():
    with pytest.raises(ValueError, match="1.5"):
        mixit.shaped_relu_nu(1.5)


def test_mlp_drift_zero_norm_token():
    V = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [0.5, 0.0, 2.0]])
    drift = mixit.shaped_mlp_drift(V)
    assert np.all(drift[1] == 0)
    assert np.all(drift[:, 1] == 0)
    assert np.all(np.isfinite(drift))


def test_mlp_drift_collinear_tokens():
    x = np.array([1.0, -2.0, 0.5])
    X = np.stack([x, -2 * x])
    drift = mixit.shaped_mlp_drift(X @ X.T / 3)
    norms = np.sqrt(np.diagonal(X @ X.T / 3))
    assert drift[0, 1] == pytest.approx(0.5 * norms[0] * norms[1])
    assert np.all(np.diagonal(drift) == 0)


def test_token_correlation_rejects_non_covariance():
    with pytest.raises(ValueError, match="positive semidefinite"):
        mixit.token_correlation([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="negative diagonal"):
        mixit.token_correlation([[-1.0, 0.0], [0.0, 1.0]])


# ---------------------------------------------------------------------------
# Ito reductions
# ---------------------------------------------------------------------------

def test_correlation_linear_part():
    parts = mixit_correlation.two_token_correlation_sde()
    assert sympy.simplify(parts["linear_drift"] + c_lin / 2 * rho * (1 - rho**2)) == 0
    assert sympy.simplify(parts["linear_variance"] - c_lin * (1 - rho**2) ** 2) == 0


def test_correlation_mixing_variance():
    parts = mixit_correlation.two_token_correlation_sde()
    expected = gamma**4 * sigma**2 * s**2 * (1 - rho**2) ** 2 / 4
    assert sympy.simplify(parts["mixing_variance"] - expected) == 0


def test_correlation_mean_drift_formula():
    # The mean drift of rho is -(rho / 2) gamma**2 H d_2 / V_22.
    parts = mixit_correlation.two_token_correlation_sde()
    d2_over_V22 = sigma**2 / 4 * (s**2 + 1 - 2 * rho * s)
    expected = -rho / 2 * gamma**2 * H * d2_over_V22
    assert sympy.simplify(parts["mixing_mean_drift"] - expected) == 0


def test_artanh_linear_part():
    drift_y, variance_y = mixit_correlation.artanh_sde(-c_lin / 2 * rho * (1 - rho**2),
                                                       c_lin * (1 - rho**2) ** 2)
    assert sympy.simplify(drift_y - c_lin / 2 * rho) == 0
    assert sympy.simplify(variance_y - c_lin) == 0


def _rho_derivatives(V):
    a, b, d = V[0, 0], V[0, 1], V[1, 1]
    r = b / math.sqrt(a * d)
    gradient = np.array([-r / (2 * a), 1 / math.sqrt(a * d), -r / (2 * d)])
    hessian = np.array([
        [3 * r / (4 * a * a), -1 / (2 * a * math.sqrt(a * d)), r / (4 * a * d)],
        [-1 / (2 * a * math.sqrt(a * d)), 0.0, -1 / (2 * d * math.sqrt(a * d))],
        [r / (4 * a * d), -1 / (2 * d * math.sqrt(a * d)), 3 * r / (4 * d * d)],
    ])
    return r, gradient, hessian


@pytest.mark.parametrize("V11, V12, V22, gamma_value, sigma_value, heads", [
    (1.0, 0.5, 1.0, REFERENCE_BRANCH_WEIGHT, 1.0, 1),
    (2.0, -0.7, 0.6, 0.9, 1.4, 3),
    (0.3, 0.25, 4.0, 0.4, 0.7, 2),
])
def test_correlation_sde_matches_numeric_generator(V11, V12, V22, gamma_value, sigma_value, heads):
    V = np.array([[V11, V12], [V12, V22]])
    r, gradient, hessian = _rho_derivatives(V)
    drift = mixit.sde_drift(V, gamma_value, sigma_value, heads=heads)
    covariance = mixit.sde_covariance(V, gamma_value, sigma_value)
    numeric_drift = gradient @ drift + np.sum(hessian * covariance) / 2
    numeric_variance = gradient @ covariance @ gradient

    parts = mixit_correlation.two_token_correlation_sde()
    values = {rho: r, s: math.sqrt(V11 / V22), gamma: gamma_value, sigma: sigma_value, H: heads,
              c_lin: mixit.linear_diffusion_coefficient(gamma_value)}
    assert float(parts["drift"].subs(values)) == pytest.approx(numeric_drift, rel=1e-10, abs=1e-12)
    assert float(parts["variance"].subs(values)) == pytest.approx(numeric_variance, rel=1e-10)


@pytest.fixture(scope="module")
def drift_bound_functions():
    decomposition = mixit_correlation.artanh_drift_decomposition()
    symbols = (rho, s, gamma, sigma, H, c_lin)
    return (sympy.lambdify(symbols, decomposition["drift_y"], "math"),
            sympy.lambdify(symbols, decomposition["bound"], "math"),
            decomposition)


@given(st.floats(min_value=-0.999, max_value=0.999), st.floats(min_value=0.05, max_value=20.0),
       st.floats(min_value=0.05, max_value=1.0), st.floats(min_value=0.1, max_value=3.0),
       st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=2))
def test_artanh_drift_bound_holds(drift_bound_functions, rho_value, s_value, gamma_value,
                                  sigma_value, heads, branch_matrices):
    drift_y, bound, _ = drift_bound_functions
    c_value = mixit.linear_diffusion_coefficient(gamma_value, branch_matrices)
    arguments = (rho_value, s_value, gamma_value, sigma_value, heads, c_value)
    direction = 1.0 if rho_value >= 0 else -1.0
    assert direction * drift_y(*arguments) <= bound(*arguments) * (1 + 1e-12) + 1e-12


def test_artanh_poles_point_inward(drift_bound_functions):
    *_, decomposition = drift_bound_functions
    at_one = decomposition["pole_one"].subs({gamma: sympy.Rational(1, 2), sigma: 1, H: 1, s: 3})
    at_minus_one = decomposition["pole_minus_one"].subs({gamma: sympy.Rational(1, 2), sigma: 1,
                                                         H: 1, s: 3})
    assert at_one < 0
    assert at_minus_one > 0


def _log_det_generator_numeric(V, gamma_value, sigma_value, heads, branch_matrices):
    m = V.shape[0]
    inverse = np.linalg.inv(V)
    rows, cols = mixit.triu_coordinates(m)
    directions = []
    for a, b in zip(rows, cols):
        E = np.zeros((m, m))
        E[a, b] = E[b, a] = 1.0
        directions.append(E)
    gradient = np.array([np.trace(inverse @ E) for E in directions])
    hessian = np.array([[-np.trace(inverse @ E @ inverse @ F) for F in directions] for E in directions])
    drift = mixit.sde_drift(V, gamma_value, sigma_value, heads=heads)
    covariance = mixit.sde_covariance(V, gamma_value, sigma_value, branch_matrices=branch_matrices)
    return gradient @ drift + np.sum(hessian * covariance) / 2, gradient @ covariance @ gradient


@pytest.mark.parametrize("m, heads, branch_matrices", [(2, 1, 1), (4, 1, 2), (5, 4, 2)])
def test_log_det_drift_matches_generator(m, heads, branch_matrices):
    rng = np.random.default_rng(10 + m)
    V = random_covariance(rng, m, width=m + 3)
    gamma_value, sigma_value = 0.8, 1.3
    drift, variance = _log_det_generator_numeric(V, gamma_value, sigma_value, heads, branch_matrices)
    formula = mixit.log_det_drift(V, gamma_value, sigma_value, heads=heads,
                                  branch_matrices=branch_matrices)
    diffusion = mixit.log_det_diffusion(m, gamma_value, sigma_value, branch_matrices=branch_matrices)
    assert formula == pytest.approx(drift, rel=1e-9)
    assert diffusion**2 == pytest.approx(variance, rel=1e-9)
    assert formula >= mixit.log_det_drift_lower_bound(m, gamma_value, sigma_value, branch_matrices)


def test_log_det_drift_rejects_singular():
    with pytest.raises(ValueError, match="positive definite"):
        mixit.log_det_drift([[1.0, 1.0], [1.0, 1.0]], 0.5)


# ---------------------------------------------------------------------------
# First token's norm factor (mpmath)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("width, expected", [
    (16, -0.7728508), (64, -0.7555795), (256, -0.7513863), (1024, -0.7503460),
])
def test_log_norm_factor_values(width, expected):
    value = mixit.log_norm_factor_mean(width, sympy.sqrt(sympy.Rational(1, 2)))
    assert float(value) == pytest.approx(expected, abs=5e-8)


@pytest.mark.parametrize("width, gamma_squared", [(16, 0.5), (40, 0.3)])
def test_log_norm_factor_matches_quadrature(width, gamma_squared):
    noncentrality = width * (1 - gamma_squared) / gamma_squared
    expected = width * (math.log(gamma_squared / width)
                        + scipy.stats.ncx2(width, noncentrality).expect(np.log))
    value = mixit.log_norm_factor_mean(width, math.sqrt(gamma_squared))
    assert float(value) == pytest.approx(expected, abs=1e-7)


def test_log_norm_factor_central_case():
    # gamma = 1: xi = chi**2_n / n exactly.
    width = 10
    expected = width * (math.log(2 / width) + scipy.special.digamma(width / 2))
    assert float(mixit.log_norm_factor_mean(width, 1)) == pytest.approx(expected, abs=1e-12)


def test_log_norm_factor_no_branch():
    assert mixit.log_norm_factor_mean(8, 0) == 0


def test_norm_factor_moments_exact():
    moments = mixit_norm.norm_factor_moments()
    assert moments["mean"] == 1
    assert sympy.simplify(moments["variance"] - 2 * gamma**2 * (2 - gamma**2) / n) == 0


def test_norm_factor_convergence_fit():
    fit = mixit.norm_factor_convergence([16, 64, 256, 1024], sympy.sqrt(sympy.Rational(1, 2)))
    assert fit["limit"] == pytest.approx(-0.75)
    assert fit["b1"] == pytest.approx(-17 / 48)
    assert fit["fitted_exponent"] == pytest.approx(-1.0, abs=0.02)
    assert fit["fitted_b1"] == pytest.approx(-17 / 48, abs=1e-3)


def test_norm_factor_convergence_needs_two_widths():
    with pytest.raises(ValueError, match="two distinct widths"):
        mixit.norm_factor_convergence([16, 16], 0.5)


# ---------------------------------------------------------------------------
# Contrasts
# ---------------------------------------------------------------------------

def test_uniform_correlation_values():
    assert mixit.uniform_attention_correlation(10, 8, 1.0) == pytest.approx(1023 / 1031, rel=1e-14)
    assert mixit.uniform_attention_correlation(10, 8, math.sqrt(0.1)) == pytest.approx(0.166123, abs=1e-6)
    assert mixit.uniform_attention_correlation(5, 32, 1.0) == pytest.approx(31 / 63, rel=1e-14)
    limit = (math.e - 1) / (math.e + 7)
    assert mixit.uniform_attention_correlation_limit(8) == pytest.approx(limit, rel=1e-14)


def test_uniform_correlation_scaled_approaches_limit():
    depths = np.array([1, 10, 100, 1000, 10000])
    values = mixit.uniform_attention_correlation(depths, 8, 1.0, scale_by_depth=True)
    limit = mixit.uniform_attention_correlation_limit(8)
    assert np.all(np.diff(values) > 0)
    assert np.all(values < limit)
    assert values[-1] == pytest.approx(limit, rel=1e-4)


def test_uniform_correlation_matches_mean_recursion():
    m, depth, multiplier = 5, 7, 0.6
    V = np.eye(m)
    averaging = np.full((m, m), 1 / m)
    for _ in range(depth):
        V = V + multiplier**2 * averaging @ V @ averaging.T
    correlation = V[0, 1] / math.sqrt(V[0, 0] * V[1, 1])
    assert mixit.uniform_attention_correlation(depth, m, multiplier) == pytest.approx(correlation)


def test_uniform_correlation_rejects_one_token():
    with pytest.raises(ValueError, match="seq_len"):
        mixit.uniform_attention_correlation(3, 1)


@pytest.mark.parametrize("multiplier, expected", [(1.0, 0.98818), (math.sqrt(0.1), 0.26941)])
def test_causal_uniform_mean_correlation(multiplier, expected):
    mean = mixit.causal_uniform_mean(np.eye(8), 10, multiplier)
    assert float(mixit.mean_offdiagonal_correlation(mean)) == pytest.approx(expected, abs=5e-6)


def test_mixit_mean_keeps_correlation_where_uniform_collapses():
    V0 = np.eye(8)
    mixit_mean = mixit.exact_mean(V0, 64, 64, REFERENCE_BRANCH_WEIGHT)
    uniform_mean = mixit.causal_uniform_mean(V0, 64, REFERENCE_BRANCH_WEIGHT)
    assert float(mixit.mean_offdiagonal_correlation(mixit_mean)) == 0
    assert float(mixit.mean_offdiagonal_correlation(uniform_mean)) > 0.9


@pytest.mark.parametrize("k", [2, 4])
def test_softmax_expansion_holds(k):
    assert mixit_contrast.softmax_expansion_error(k) == 0


def test_shaped_noise_at_identity_is_mixit_shape():
    m, tau0 = 4, 1.5
    shaped = mixit.shaped_attention_noise_covariance(np.eye(m), tau0)
    mixit_noise = mixit.mixing_noise_covariance(m, 1.0)
    row_weight = np.arange(1, m + 1) ** 2 * tau0**2 / m
    rescaled = shaped * row_weight[:, None, None, None]
    np.testing.assert_allclose(rescaled, mixit_noise, atol=FLOAT64_TOLERANCE)


def test_shaped_noise_drift_from_covariance():
    rng = np.random.default_rng(7)
    V = random_covariance(rng, 4)
    covariance = mixit.shaped_attention_noise_covariance(V, 0.8)
    expected = np.einsum("ajck,jk->ac", covariance, V)
    drift = mixit.shaped_attention_noise_drift(V, 0.8)
    np.testing.assert_allclose(drift, expected, atol=FLOAT64_TOLERANCE)
    assert np.any(np.abs(drift[1:, 1:] * (1 - np.eye(3))) > 0)


# ---------------------------------------------------------------------------
# Input errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("call, fragment", [
    (lambda: mixit.mixing_drift(np.zeros((2, 3))), "shape"),
    (lambda: mixit.mixing_drift([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
    (lambda: mixit.mixing_drift([[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
    (lambda: mixit.exact_mean(np.eye(2), 3, 10, 1.5), "1.5"),
    (lambda: mixit.exact_mean(np.eye(2), 3, 10, 0.5, heads=3), "multiple of heads"),
    (lambda: mixit.exact_mean(np.eye(2), -1, 10, 0.5), "depth"),
    (lambda: mixit.mean_limit(np.eye(2), -0.5, 0.5), "t must be"),
    (lambda: mixit.two_token_mean(np.eye(3), 1.0, 0.5), "2, 2"),
    (lambda: mixit.two_token_mean(np.eye(2), 0.55, 0.5, width=10), "integer depth"),
    (lambda: mixit.sde_drift(np.eye(2), "high"), "'high'"),
])
def test_invalid_input_raises(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def text_output(derivation):
    # Runs in-process to reuse the cached derivation. The subprocess tests below run
    # ``python -m theory`` itself.
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        status = main(["mixit"])
    return status, capture.getvalue()


def test_text_exits_zero(text_output):
    status, _ = text_output
    assert status == 0


def test_text_premises_before_first_step(text_output):
    _, stdout = text_output
    assert stdout.index("Premises") < stdout.index("Step 1")


def test_text_lists_every_premise(text_output):
    _, stdout = text_output
    for number in range(1, 10):
        assert f"P{number} (" in stdout, f"P{number}"


def test_text_shows_results(text_output):
    _, stdout = text_output
    assert "=> c_lin_two_matrices = 2*gamma**2" in stdout
    assert "=> y_linear_drift = c_lin*tanh(y)/2" in stdout
    assert "Numbers at gamma**2 = 1/2" in stdout
    assert stdout.index("Step 15") < stdout.index("Numbers at gamma**2 = 1/2")


def test_module_entry_point_runs():
    completed = subprocess.run([sys.executable, "-m", "theory", "mixit", "--json"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "c_lin_two_matrices" in json.loads(completed.stdout)["results"]


def test_json_output(capsys, derivation):
    assert main(["mixit", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["results"]["c_lin_two_matrices"] == "2*gamma**2"
    assert document["results"]["uniform_rho_L"] == "((a**2 + 1)**L - 1)/(m + (a**2 + 1)**L - 1)"
    assert [premise["key"] for premise in document["premises"]] == [f"P{i}" for i in range(1, 10)]
    assert len(document["steps"]) == len(derivation.steps)
    numbers = document["numbers"]
    assert numbers["c_lin"]["one_matrix"] == pytest.approx(0.75)
    assert numbers["two_token_mean_V22_at_t1"]["limit"] == pytest.approx(math.exp(1 / 8))
    assert numbers["first_token_log_norm_factor"]["values"][0] == pytest.approx(-0.7728508, abs=5e-8)


def test_bad_option_exits_two():
    completed = subprocess.run([sys.executable, "-m", "theory", "mixit", "--depth=3"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--depth=3" in lines[0]


def test_unknown_derivation_lists_mixit():
    completed = subprocess.run([sys.executable, "-m", "theory", "mixi"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "'mixi'" in completed.stderr
    assert "mixit" in completed.stderr
