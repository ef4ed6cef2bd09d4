"""Gradients of the whole residual MLP against central finite differences, in float64."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sims.hyperparameters import BaseShape, evaluate_table, make_table
from sims.init import initialize
from sims.models import ResidualMLP, ResidualMLPShape

STEP = 1e-6
RTOL = 1e-6
ATOL = 1e-8
ENTRIES_PER_PARAMETER = 3
BASE_SHAPE = BaseShape(width=4, depth=2)
RELU_MARGIN = 1e-4
"""Smallest distance of a ReLU pre-activation from its kink at which finite differences
with step ``STEP`` stay on one side of it."""
NORM_MARGIN = 1e-2
"""Smallest spread of a norm's input row: its variance (LayerNorm) or mean square
(RMSNorm). Near zero spread a norm is close to its singular point, where its curvature,
and so the error of finite differences, grows without bound."""


@st.composite
def model_cases(draw, parameterization, activation, members=st.integers(1, 3)):
    alpha = None
    if parameterization == "alpha":
        alpha = draw(st.floats(min_value=0.0, max_value=1.5))
    shape = ResidualMLPShape(
        vocab_size=draw(st.integers(2, 6)),
        context=draw(st.integers(1, 3)),
        width=draw(st.integers(2, 6)),
        depth=draw(st.integers(1, 4)),
        activation=activation,
        bias=draw(st.booleans()),
        norm=draw(st.sampled_from(["layernorm", "rmsnorm"])),
        hidden_multiple=draw(st.integers(1, 2)),
    )
    members = draw(members)
    batch = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    return parameterization, alpha, shape, members, batch, seed


def build_model(parameterization, alpha, shape, members, seed):
    table = make_table(parameterization, alpha, "adamw")
    scales = evaluate_table(table, shape.width, shape.depth, BASE_SHAPE)
    model = ResidualMLP(shape, scales)
    rng = np.random.default_rng(seed)
    generators = [np.random.default_rng([seed, k]) for k in range(members)]
    initialize(model.parameters(), scales, rng.uniform(0.3, 1.0, size=members), generators)
    # Move biases and norm gains off their initial 0 and 1, so that the check runs at a
    # generic point.
    for parameter in model.parameters():
        if parameter.init != "normal":
            parameter.value = parameter.value + 0.2 * rng.standard_normal(parameter.value.shape)
    return model, rng


def relu_margin(model, cache):
    """Return the smallest |pre-activation| over all blocks."""
    margin = np.inf
    for block, h in zip(model.blocks, cache["stream"]):
        norm, fc1, _, _ = block.branch.layers
        normalized, _ = norm.forward(h)
        pre_activation, _ = fc1.forward(normalized)
        margin = min(margin, float(np.abs(pre_activation).min()))
    return margin


def norm_margin(shape, cache):
    """Return the smallest spread of any row that enters a norm."""
    margin = np.inf
    for h in cache["stream"]:
        if shape.norm == "layernorm":
            spread = h.var(axis=-1)
        else:
            spread = np.mean(h * h, axis=-1)
        margin = min(margin, float(spread.min()))
    return margin


@pytest.mark.parametrize("activation", ["gelu", "tanh", "relu"])
@pytest.mark.parametrize("parameterization", ["sp", "mup", "alpha"])
@given(data=st.data())
def test_residual_mlp_gradients(parameterization, activation, data):
    case = data.draw(model_cases(parameterization, activation))
    _, alpha, shape, members, batch, seed = case
    model, rng = build_model(parameterization, alpha, shape, members, seed)
    tokens = rng.integers(0, shape.vocab_size, size=(members, batch, shape.context))
    targets = rng.integers(0, shape.vocab_size, size=(members, batch))

    _, cache = model.loss_and_gradients(tokens, targets)
    assume(norm_margin(shape, cache) > NORM_MARGIN)
    if shape.activation == "relu":
        assume(relu_margin(model, cache) > RELU_MARGIN)

    def total_loss():
        return float(model.loss(tokens, targets).sum())

    for parameter in model.parameters():
        flat_value = parameter.value.reshape(-1)
        flat_grad = parameter.grad.reshape(-1)
        count = min(ENTRIES_PER_PARAMETER, flat_value.size)
        for index in rng.choice(flat_value.size, size=count, replace=False):
            saved = flat_value[index]
            flat_value[index] = saved + STEP
            upper = total_loss()
            flat_value[index] = saved - STEP
            lower = total_loss()
            flat_value[index] = saved
            numeric = (upper - lower) / (2 * STEP)
            np.testing.assert_allclose(flat_grad[index], numeric, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{parameter.name}[{index}]")


@pytest.mark.parametrize("parameterization", ["sp", "mup", "alpha"])
@given(data=st.data())
def test_residual_mlp_members_are_independent(parameterization, data):
    case = data.draw(model_cases(parameterization, "gelu", members=st.integers(2, 3)))
    _, alpha, shape, members, batch, seed = case
    model, rng = build_model(parameterization, alpha, shape, members, seed)
    tokens = rng.integers(0, shape.vocab_size, size=(members, batch, shape.context))
    targets = rng.integers(0, shape.vocab_size, size=(members, batch))
    before = model.loss(tokens, targets)

    for parameter in model.parameters():
        parameter.value[0] = np.nan
    after = model.loss(tokens, targets)

    assert np.isnan(after[0])
    np.testing.assert_array_equal(after[1:], before[1:])
