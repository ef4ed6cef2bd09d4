"""Hand-written backward and forward-mode passes of every layer against finite differences.

Each check uses float64 at smooth points: the scalar ``f = sum(y * R)`` for a fixed random
``R`` is differentiated by central differences with step ``STEP``, whose truncation and
rounding errors are both far below the tolerances.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sims.layers import (
    GELU, Embedding, LayerNorm, Linear, ReLU, ResidualBlock, RMSNorm, Sequential, Tanh,
)

STEP = 1e-6
RTOL = 1e-6
ATOL = 1e-8
NORM_MARGIN = 1e-2
"""Smallest variance (LayerNorm) or mean square (RMSNorm) of a norm's input row. Near
zero a norm is close to its singular point, where finite differences lose accuracy."""

members = st.integers(1, 3)
leading_shapes = st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple)
widths = st.integers(2, 5)
seeds = st.integers(0, 2**32 - 1)


def randomize_parameters(layer, rng, members):
    for parameter in layer.parameters():
        draw = rng.standard_normal((members,) + parameter.shape)
        if parameter.init == "ones":
            parameter.value = 1.0 + 0.3 * draw
        else:
            parameter.value = draw
        parameter.grad = None


def smooth_input(rng, shape, away_from_zero):
    x = rng.standard_normal(shape)
    if away_from_zero:
        # ReLU has a kink at 0, so every entry is kept at least 0.1 away from it.
        x = np.sign(x) * (0.1 + np.abs(x))
    return x


def assume_norm_is_smooth(x, norm):
    if norm is RMSNorm:
        spread = np.mean(x * x, axis=-1)
    else:
        spread = x.var(axis=-1)
    assume(spread.min() > NORM_MARGIN)


def projected_output(layer, x, projection):
    y, _ = layer.forward(x)
    return float(np.sum(y * projection))


def numeric_gradient(function, array):
    gradient = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + STEP
        upper = function()
        array[index] = saved - STEP
        lower = function()
        array[index] = saved
        gradient[index] = (upper - lower) / (2 * STEP)
    return gradient


def check_backward(layer, x, rng, input_is_differentiable=True):
    y, cache = layer.forward(x)
    projection = rng.standard_normal(y.shape)
    for parameter in layer.parameters():
        parameter.grad = None
    dx = layer.backward(projection, cache)

    def value():
        return projected_output(layer, x, projection)

    if input_is_differentiable:
        np.testing.assert_allclose(dx, numeric_gradient(value, x), rtol=RTOL, atol=ATOL,
                                   err_msg="input gradient")
    for parameter in layer.parameters():
        np.testing.assert_allclose(parameter.grad, numeric_gradient(value, parameter.value),
                                   rtol=RTOL, atol=ATOL, err_msg=parameter.name)


def check_jvp(layer, x, rng, moves, input_is_differentiable=True):
    """Compare ``layer.jvp`` with a central difference along the same direction.

    ``moves`` is ``"input"``, ``"parameters"`` or ``"both"``.
    """
    _, cache = layer.forward(x)
    dx = None
    if moves in ("input", "both") and input_is_differentiable:
        dx = rng.standard_normal(x.shape)
    tangents = {}
    if moves in ("parameters", "both"):
        tangents = {p: rng.standard_normal(p.value.shape) for p in layer.parameters()}
    predicted = layer.jvp(dx, tangents, cache)

    def shifted_output(sign):
        for parameter, tangent in tangents.items():
            parameter.value = parameter.value + sign * STEP * tangent
        shifted_x = x if dx is None else x + sign * STEP * dx
        y, _ = layer.forward(shifted_x)
        for parameter, tangent in tangents.items():
            parameter.value = parameter.value - sign * STEP * tangent
        return y

    numeric = (shifted_output(1.0) - shifted_output(-1.0)) / (2 * STEP)
    if predicted is None:
        np.testing.assert_allclose(numeric, 0.0, atol=ATOL)
    else:
        np.testing.assert_allclose(predicted, numeric, rtol=RTOL, atol=ATOL)


@st.composite
def linear_cases(draw, bias):
    k = draw(members)
    lead = draw(leading_shapes)
    fan_in = draw(widths)
    fan_out = draw(widths)
    multiplier = draw(st.sampled_from([1.0, 0.37, 2.5]))
    layer = Linear("fc", fan_in, fan_out, "hidden_weight", "hidden_bias" if bias else None,
                   multiplier=multiplier)
    rng = np.random.default_rng(draw(seeds))
    randomize_parameters(layer, rng, k)
    return layer, rng.standard_normal((k,) + lead + (fan_in,)), rng


@st.composite
def norm_cases(draw, norm):
    k = draw(members)
    lead = draw(leading_shapes)
    width = draw(widths)
    layer = norm("norm", width, "pre_ln")
    rng = np.random.default_rng(draw(seeds))
    randomize_parameters(layer, rng, k)
    x = rng.standard_normal((k,) + lead + (width,))
    assume_norm_is_smooth(x, norm)
    return layer, x, rng


@st.composite
def activation_cases(draw, activation_class):
    activation = activation_class()
    k = draw(members)
    lead = draw(leading_shapes)
    width = draw(widths)
    rng = np.random.default_rng(draw(seeds))
    x = smooth_input(rng, (k,) + lead + (width,), away_from_zero=isinstance(activation, ReLU))
    return activation, x, rng


@st.composite
def embedding_cases(draw):
    k = draw(members)
    batch = draw(st.integers(1, 4))
    vocab = draw(st.integers(1, 4))
    positions = draw(st.integers(1, 3))
    width = draw(widths)
    layer = Embedding("embedding", vocab, positions, width)
    rng = np.random.default_rng(draw(seeds))
    randomize_parameters(layer, rng, k)
    # Small vocabularies make repeated tokens likely, which the scatter-add must sum.
    tokens = rng.integers(0, vocab, size=(k, batch, positions))
    return layer, tokens, rng


@st.composite
def residual_cases(draw):
    k = draw(members)
    lead = draw(leading_shapes)
    width = draw(widths)
    hidden = draw(widths)
    skip_weight = draw(st.sampled_from([1.0, 0.8]))
    branch_weight = draw(st.sampled_from([1.0, 0.6, 0.25]))
    branch = Sequential([
        LayerNorm("norm", width, "pre_ln"),
        Linear("fc1", width, hidden, "hidden_weight", "hidden_bias"),
        GELU(),
        Linear("fc2", hidden, width, "hidden_weight", "hidden_bias"),
    ])
    layer = ResidualBlock(branch, branch_weight, skip_weight)
    rng = np.random.default_rng(draw(seeds))
    randomize_parameters(layer, rng, k)
    x = rng.standard_normal((k,) + lead + (width,))
    assume_norm_is_smooth(x, LayerNorm)
    return layer, x, rng


moves = st.sampled_from(["input", "parameters", "both"])


@pytest.mark.parametrize("bias", [True, False])
@given(data=st.data())
def test_linear_backward(bias, data):
    check_backward(*data.draw(linear_cases(bias)))


@pytest.mark.parametrize("bias", [True, False])
@given(data=st.data(), moving=moves)
def test_linear_jvp(bias, data, moving):
    check_jvp(*data.draw(linear_cases(bias)), moving)


@given(case=norm_cases(LayerNorm))
def test_layernorm_backward(case):
    check_backward(*case)


@given(case=norm_cases(LayerNorm), moving=moves)
def test_layernorm_jvp(case, moving):
    check_jvp(*case, moving)


@given(case=norm_cases(RMSNorm))
def test_rmsnorm_backward(case):
    check_backward(*case)


@given(case=norm_cases(RMSNorm), moving=moves)
def test_rmsnorm_jvp(case, moving):
    check_jvp(*case, moving)


@pytest.mark.parametrize("activation_class", [GELU, Tanh, ReLU])
@given(data=st.data())
def test_activation_backward(activation_class, data):
    check_backward(*data.draw(activation_cases(activation_class)))


@pytest.mark.parametrize("activation_class", [GELU, Tanh, ReLU])
@given(data=st.data())
def test_activation_jvp(activation_class, data):
    check_jvp(*data.draw(activation_cases(activation_class)), "input")


@given(case=embedding_cases())
def test_embedding_backward(case):
    layer, tokens, rng = case
    check_backward(layer, tokens, rng, input_is_differentiable=False)


@given(case=embedding_cases())
def test_embedding_jvp(case):
    layer, tokens, rng = case
    check_jvp(layer, tokens, rng, "parameters", input_is_differentiable=False)


def test_embedding_repeated_token_gradient():
    layer = Embedding("embedding", 3, 2, 2)
    layer.weight.value = np.zeros((1, 6, 2))
    tokens = np.array([[[1, 1], [1, 0]]])
    _, cache = layer.forward(tokens)
    layer.backward(np.ones((1, 2, 2)), cache)
    # Row position * V + token is the embedding of that token at that position. Token 1 at
    # position 0 appears twice (row 1), token 1 at position 1 once (row 4) and token 0
    # at position 1 once (row 3).
    expected = np.zeros((1, 6, 2))
    expected[0, 1] = 2.0
    expected[0, 4] = 1.0
    expected[0, 3] = 1.0
    np.testing.assert_array_equal(layer.weight.grad, expected)


@given(case=residual_cases())
def test_residual_block_backward(case):
    check_backward(*case)


@given(case=residual_cases(), moving=moves)
def test_residual_block_jvp(case, moving):
    check_jvp(*case, moving)


def test_frozen_parameter_gets_no_gradient():
    layer = Linear("fc", 3, 2, "hidden_weight", "hidden_bias")
    rng = np.random.default_rng(0)
    randomize_parameters(layer, rng, 2)
    layer.weight.trainable = False
    y, cache = layer.forward(rng.standard_normal((2, 4, 3)))
    layer.backward(np.ones_like(y), cache)
    assert layer.weight.grad is None
    assert layer.bias.grad is not None
