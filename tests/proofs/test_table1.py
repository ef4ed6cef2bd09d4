"""Table 1 as transcribed: agreement with the derived table, and reading its entries."""

import dataclasses

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from proofs.table1 import COLUMNS, ROWS, as_rule, compare_with_derived, table1_column
from theory.parameterization import build_table
from theory.scaling import ScalingRule
from theory.symbols import alpha, epsilon_base, eta_base, lambda_base, m_L, m_N, sigma_base


def derived_tables():
    return {column: build_table(column, "adamw") for column in COLUMNS}


def mismatches(comparisons):
    return [(c.column, c.key) for c in comparisons if not c.agrees]


def test_derived_table_agrees_on_every_row():
    comparisons = compare_with_derived()
    assert mismatches(comparisons) == []


def test_comparison_covers_every_row_and_column():
    comparisons = compare_with_derived()
    expected = {(column, key) for row in ROWS for key in row.keys for column in COLUMNS}
    assert {(c.column, c.key) for c in comparisons} == expected
    assert len(comparisons) == len(expected)


def test_perturbed_hidden_lr_is_reported():
    tables = derived_tables()
    # Table 1 prints m_L**(alpha - 1), so a depth exponent of alpha is one unit off.
    tables["alpha"] = tables["alpha"].with_depth_exponent(["hidden_weight"], "lr", alpha)
    assert mismatches(compare_with_derived(tables)) == [("alpha", "hidden_weight.lr")]


def test_perturbed_residual_multiplier_is_reported():
    tables = derived_tables()
    multipliers = dict(tables["alpha"].multipliers)
    multipliers["residual"] = ScalingRule(1, 0, -alpha / 2)
    tables["alpha"] = dataclasses.replace(tables["alpha"], multipliers=multipliers)
    assert mismatches(compare_with_derived(tables)) == [("alpha", "multiplier.residual")]


def test_perturbed_mup_init_width_is_reported():
    tables = derived_tables()
    entries = dict(tables["mup"].entries)
    entries[("hidden_weight", "init_variance")] = ScalingRule(sigma_base**2, 0, 0)
    tables["mup"] = dataclasses.replace(tables["mup"], entries=entries)
    assert mismatches(compare_with_derived(tables)) == [("mup", "hidden_weight.init_variance")]


def test_perturbed_base_constant_is_reported():
    tables = derived_tables()
    entries = dict(tables["sp"].entries)
    entries[("unembedding", "lr")] = ScalingRule(2 * eta_base, 0, 0)
    tables["sp"] = dataclasses.replace(tables["sp"], entries=entries)
    assert mismatches(compare_with_derived(tables)) == [("sp", "unembedding.lr")]


def test_norm_init_base_is_not_compared():
    # LayerNorm gains start at one, so only the width and depth factors of the printed
    # sigma_base**2 are compared.
    tables = derived_tables()
    entries = dict(tables["sp"].entries)
    entries[("pre_ln", "init_variance")] = ScalingRule(1, 0, 0)
    tables["sp"] = dataclasses.replace(tables["sp"], entries=entries)
    assert mismatches(compare_with_derived(tables)) == []


def rationals(bound):
    return st.fractions(min_value=-bound, max_value=bound, max_denominator=8).map(
        lambda value: sympy.Rational(value.numerator, value.denominator))


def exponents():
    """An exponent ``k * alpha + c`` with small rational ``k`` and ``c``."""
    return st.tuples(rationals(2), rationals(3)).map(lambda pair: pair[0] * alpha + pair[1])


BASES = (sympy.S.One, eta_base, sigma_base**2, epsilon_base, lambda_base, 3 * eta_base)


@given(base=st.sampled_from(BASES), symbolic=exponents(), numeric=rationals(3),
       symbolic_in_depth=st.booleans())
def test_as_rule_splits_monomial(base, symbolic, numeric, symbolic_in_depth):
    # Every entry of Table 1 has at most one exponent in alpha, as here.
    if symbolic_in_depth:
        width_exponent, depth_exponent = numeric, symbolic
    else:
        width_exponent, depth_exponent = symbolic, numeric
    rule = as_rule(base * m_N**width_exponent * m_L**depth_exponent)
    assert sympy.simplify(rule.width_exponent - width_exponent) == 0
    assert sympy.simplify(rule.depth_exponent - depth_exponent) == 0
    assert sympy.simplify(rule.base - base) == 0


@pytest.mark.parametrize("width_exponent, depth_exponent", [
    (alpha, alpha),
    (alpha - 1, alpha - 1),
    (-alpha, -alpha),
    (alpha, 2 * alpha),
    (-2 * alpha - 2, 2 * alpha + 2),
])
def test_as_rule_splits_proportional_exponents(width_exponent, depth_exponent):
    rule = as_rule(eta_base * m_N**width_exponent * m_L**depth_exponent)
    assert sympy.simplify(rule.width_exponent - width_exponent) == 0
    assert sympy.simplify(rule.depth_exponent - depth_exponent) == 0
    assert rule.base == eta_base


@given(width_exponent=rationals(3), depth_exponent=rationals(3))
def test_as_rule_splits_quotient(width_exponent, depth_exponent):
    # The printed table writes negative powers as quotients, e.g. eta_base/(m_N*m_L**(1/2)).
    expression = eta_base / (m_N**width_exponent * m_L**depth_exponent)
    rule = as_rule(expression)
    assert rule.width_exponent == -width_exponent
    assert rule.depth_exponent == -depth_exponent
    assert rule.base == eta_base


def alpha_values():
    return st.fractions(min_value=0, max_value=2, max_denominator=12).map(
        lambda value: sympy.Rational(value.numerator, value.denominator))


def assert_same_expression(rule, expected):
    assert sympy.simplify(rule.expression() - expected) == 0, f"{rule} != {expected}"


@given(alpha_value=alpha_values())
def test_alpha_column_hidden_lr(alpha_value):
    table = table1_column("alpha", alpha_value)
    expected = eta_base * m_N**-1 * m_L**(alpha_value - 1)
    assert_same_expression(table.entry("hidden_weight", "lr"), expected)


@given(alpha_value=alpha_values())
def test_alpha_column_in_block_lr(alpha_value):
    table = table1_column("alpha", alpha_value)
    expected = eta_base * m_L**(alpha_value - 1)
    assert_same_expression(table.entry("pre_ln", "lr"), expected)
    assert_same_expression(table.entry("hidden_bias", "lr"), expected)


@given(alpha_value=alpha_values())
def test_alpha_column_outer_lr(alpha_value):
    table = table1_column("alpha", alpha_value)
    for group in ("embedding", "final_ln", "unembedding"):
        assert_same_expression(table.entry(group, "lr"), eta_base)


@given(alpha_value=alpha_values())
def test_alpha_column_residual_multiplier(alpha_value):
    table = table1_column("alpha", alpha_value)
    assert_same_expression(table.multipliers["residual"], m_L**-alpha_value)


def test_alpha_column_from_float():
    table = table1_column("alpha", 0.25)
    assert table.entry("hidden_weight", "lr").depth_exponent == sympy.Rational(-3, 4)


@pytest.mark.parametrize("column, expected", [
    ("sp", eta_base),
    ("mup", eta_base / m_N),
])
def test_width_columns_hidden_lr(column, expected):
    assert_same_expression(table1_column(column).entry("hidden_weight", "lr"), expected)


def test_table1_column_rejects_unknown_column():
    with pytest.raises(ValueError, match="'ntk'"):
        table1_column("ntk")

