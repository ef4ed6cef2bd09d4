"""Structure of the parameterization table and the width independence of weight decay."""

import math

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from theory import build_table, derive
from theory.parameterization import GROUPS, IN_BLOCK_GROUPS, QUANTITIES
from theory.symbols import alpha

COLUMNS = [(parameterization, optimizer)
           for parameterization in ("sp", "mup", "alpha")
           for optimizer in ("adamw", "sgd")]

OUTSIDE_GROUPS = [group for group in GROUPS if group not in IN_BLOCK_GROUPS]

multipliers = st.floats(min_value=1 / 64, max_value=64, allow_nan=False)
alphas = st.fractions(min_value=0, max_value=sympy.Rational(3, 2), max_denominator=8)


def quantities_of(optimizer):
    if optimizer == "adamw":
        return QUANTITIES
    return tuple(quantity for quantity in QUANTITIES if quantity != "eps")


@pytest.mark.parametrize("parameterization, optimizer", COLUMNS)
def test_every_group_has_every_quantity(parameterization, optimizer):
    table = build_table(parameterization, optimizer)
    expected = {(group, quantity) for group in GROUPS for quantity in quantities_of(optimizer)}
    assert set(table.entries) == expected


@pytest.mark.parametrize("parameterization", ["sp", "mup", "alpha"])
def test_sgd_has_no_eps(parameterization):
    table = build_table(parameterization, "sgd")
    with pytest.raises(KeyError, match="eps"):
        table.entry("hidden_weight", "eps")


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_sp_has_no_width_or_depth_factor(optimizer):
    table = build_table("sp", optimizer)
    for name, rule in table.rows():
        assert rule.width_exponent == 0, name
        assert rule.depth_exponent == 0, name


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_mup_has_no_depth_factor(optimizer):
    table = build_table("mup", optimizer)
    for name, rule in table.rows():
        assert rule.depth_exponent == 0, name


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_mup_has_width_factors(optimizer):
    table = build_table("mup", optimizer)
    assert table.entry("hidden_weight", "init_variance").width_exponent == -1
    assert table.multipliers["unembedding_forward"].width_exponent == -1


def test_mup_adam_hidden_lr_width_factor():
    table = build_table("mup", "adamw")
    assert table.entry("hidden_weight", "lr").width_exponent == -1


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_outside_groups_have_no_depth_factor(optimizer):
    table = build_table("alpha", optimizer)
    for group in OUTSIDE_GROUPS:
        for quantity in quantities_of(optimizer):
            rule = table.entry(group, quantity)
            assert rule.depth_exponent == 0, f"{group}.{quantity}"


@pytest.mark.parametrize("parameterization, optimizer", COLUMNS)
def test_init_variance_has_no_depth_factor(parameterization, optimizer):
    table = build_table(parameterization, optimizer)
    for group in GROUPS:
        assert table.entry(group, "init_variance").depth_exponent == 0, group


@pytest.mark.parametrize("optimizer, result", [
    ("adamw", "adam_lr_depth_exponent"),
    ("sgd", "sgd_lr_depth_exponent"),
])
def test_in_block_lr_has_derived_depth_factor(optimizer, result):
    table = build_table("alpha", optimizer)
    expected = derive().results()[result]
    for group in IN_BLOCK_GROUPS:
        assert table.entry(group, "lr").depth_exponent == expected, group


def test_in_block_eps_depth_factor():
    table = build_table("alpha", "adamw")
    for group in IN_BLOCK_GROUPS:
        assert table.entry(group, "eps").depth_exponent == -alpha, group


def test_residual_multiplier_is_branch_scaling():
    table = build_table("alpha", "adamw")
    assert table.multipliers["residual"].depth_exponent == -alpha


def test_unembedding_multiplier_has_no_depth_factor():
    table = build_table("alpha", "adamw")
    assert table.multipliers["unembedding_forward"].depth_exponent == 0


def test_global_eps_mode_scales_outside_groups():
    table = build_table("alpha", "adamw", eps_mode="global")
    in_block = table.entry("hidden_weight", "eps")
    for group in OUTSIDE_GROUPS:
        assert table.entry(group, "eps") == in_block, group


def test_table_eps_mode_leaves_outside_groups_unscaled():
    table = build_table("alpha", "adamw")
    for group in OUTSIDE_GROUPS:
        rule = table.entry(group, "eps")
        assert (rule.width_exponent, rule.depth_exponent) == (0, 0), group


def test_alpha_value_substituted():
    table = build_table("alpha", "adamw", alpha_value=sympy.Rational(1, 2))
    rule = table.entry("hidden_weight", "lr")
    assert rule.depth_exponent == -sympy.Rational(1, 2)


@pytest.mark.parametrize("parameterization", ["sp", "mup"])
def test_alpha_value_rejected_outside_alpha_family(parameterization):
    with pytest.raises(ValueError, match=repr(parameterization)):
        build_table(parameterization, "adamw", alpha_value=1)


def test_unknown_parameterization_raises():
    with pytest.raises(ValueError, match="'ntk'"):
        build_table("ntk")


def hidden_decay_per_step(table, m_N, m_L, alpha_value):
    lr = table.entry("hidden_weight", "lr").factor(m_N, m_L, alpha_value)
    decay = table.entry("hidden_weight", "weight_decay").factor(m_N, m_L, alpha_value)
    return lr * decay


@pytest.mark.parametrize("parameterization, optimizer", [
    ("mup", "adamw"), ("mup", "sgd"), ("alpha", "adamw"), ("alpha", "sgd"),
])
@given(m_N=multipliers, m_L=multipliers, alpha_value=alphas)
def test_hidden_decay_per_step_is_width_independent(parameterization, optimizer,
                                                    m_N, m_L, alpha_value):
    table = build_table(parameterization, optimizer)
    alpha_value = alpha_value if parameterization == "alpha" else None
    at_width = hidden_decay_per_step(table, m_N, m_L, alpha_value)
    at_base_width = hidden_decay_per_step(table, 1.0, m_L, alpha_value)
    assert math.isclose(at_width, at_base_width, rel_tol=1e-12)


@pytest.mark.parametrize("optimizer, result", [
    ("adamw", "adamw_decay_depth_exponent"),
    ("sgd", "sgd_decay_depth_exponent"),
])
def test_hidden_decay_per_step_depth_exponent(optimizer, result):
    table = build_table("alpha", optimizer)
    lr = table.entry("hidden_weight", "lr")
    decay = table.entry("hidden_weight", "weight_decay")
    total = lr.depth_exponent + decay.depth_exponent
    assert sympy.simplify(total - derive().results()[result]) == 0
