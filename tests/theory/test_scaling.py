"""``ScalingRule``: evaluation of ``m_N**a * m_L**b`` and its errors."""

import math

import pytest
import sympy

from theory import ScalingRule
from theory.symbols import alpha, eta_base, m_L, m_N


def test_factor_leaves_base_out():
    rule = ScalingRule(eta_base, -1, 0)
    assert rule.factor(4.0, 3.0) == 0.25


def test_factor_with_alpha():
    rule = ScalingRule(eta_base, 1, alpha - 1)
    assert math.isclose(rule.factor(2.0, 4.0, alpha_value=0.5), 1.0, rel_tol=1e-15)


def test_factor_with_fractional_alpha():
    rule = ScalingRule(1, 0, -alpha)
    expected = 3.0 ** (-0.3)
    assert math.isclose(rule.factor(1.0, 3.0, alpha_value=0.3), expected, rel_tol=1e-14)


def test_factor_at_base_shape_is_one():
    rule = ScalingRule(eta_base, -1, 2 * alpha - 1)
    assert rule.factor(1.0, 1.0, alpha_value=0.75) == 1.0


def test_factor_without_alpha_raises():
    rule = ScalingRule(eta_base, 0, alpha - 1)
    with pytest.raises(ValueError, match="alpha"):
        rule.factor(2.0, 2.0)


def test_expression():
    rule = ScalingRule(eta_base, -1, alpha - 1)
    assert sympy.simplify(rule.expression() - eta_base * m_L**(alpha - 1) / m_N) == 0


def test_subs_alpha():
    rule = ScalingRule(eta_base, 0, 2 * alpha - 1).subs_alpha(0.75)
    assert rule.depth_exponent == sympy.Rational(1, 2)


def test_zero_base_is_zero():
    assert ScalingRule(0, 1, 1).is_zero()


def test_nonzero_base_is_not_zero():
    assert not ScalingRule(eta_base, 0, 0).is_zero()
