"""Every built parameter's learning rate and epsilon follow its table entry at random shapes.

The expected values substitute ``m_N = N / N_base`` and ``m_L = L / L_base`` into the
table's sympy expressions, a path independent of :func:`sims.hyperparameters.evaluate_table`.
"""

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from sims.runs import RunConfig, build_ensemble
from theory.symbols import epsilon_base, eta_base, m_L, m_N

LR = 3e-3
EPS = 1e-8


@st.composite
def run_configs(draw):
    model = draw(st.sampled_from(["residual_mlp", "transformer"]))
    heads = 2
    width = heads * draw(st.integers(2, 12))
    parameterization, alpha = draw(st.sampled_from(
        [("sp", None), ("mup", None), ("alpha", 0.5), ("alpha", 0.75), ("alpha", 1.0)]))
    return RunConfig(
        model=model, width=width, depth=draw(st.integers(1, 6)), heads=heads, seq_len=4,
        context=3, batch_size=2, parameterization=parameterization, alpha=alpha,
        optimizer=draw(st.sampled_from(["adamw", "adam", "sgd"])),
        base_width=draw(st.sampled_from([4, 8, 16])), base_depth=draw(st.integers(1, 4)),
        lr=LR, eps=EPS,
    )


def expected_value(table, group, quantity, run, constant, value):
    expression = table.entry(group, quantity).expression().subs({
        m_N: sympy.Rational(run.width, run.base_width),
        m_L: sympy.Rational(run.depth, run.base_depth),
        constant: value,
    })
    return float(expression)


@settings(max_examples=25, deadline=None)
@given(run_configs())
def test_lr_and_eps_follow_table(run):
    table = run.default_table()
    ensemble = build_ensemble([run], table)
    optimizer = ensemble.optimizer
    parameters = optimizer.parameters
    assert parameters, "the optimizer holds no parameter"
    for parameter in parameters:
        lr = float(optimizer.lr[0]) * optimizer.group_lr[parameter]
        expected_lr = expected_value(table, parameter.group, "lr", run, eta_base, LR)
        assert lr == pytest.approx(expected_lr, rel=1e-12), parameter.name
        if run.optimizer == "sgd":
            continue
        expected_eps = expected_value(table, parameter.group, "eps", run, epsilon_base, EPS)
        assert optimizer.group_eps[parameter] == pytest.approx(expected_eps, rel=1e-12), parameter.name


@settings(max_examples=10, deadline=None)
@given(run_configs())
def test_every_parameter_in_one_group(run):
    ensemble = build_ensemble([run], run.default_table())
    parameters = ensemble.model.parameters()
    assert len({id(p) for p in parameters}) == len(parameters), "a parameter appears twice"
    groups = {p.group for p in parameters}
    table_groups = {group for group, _ in run.default_table().entries}
    assert groups <= table_groups, groups - table_groups
    trained = {id(p) for p in ensemble.optimizer.parameters}
    assert trained == {id(p) for p in parameters if p.trainable}
