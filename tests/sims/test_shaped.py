"""Shaped attention and the shaped leaky ReLU: row sums, derivatives, scales.

Derivative checks run in float64 at smooth points with central differences of step
``STEP``, as in ``test_attention.py``.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.layers import CausalSelfAttention, ShapedAttention, ShapedLeakyReLU, SoftmaxAttention
from sims.layers.attention import causal_uniform_matrix, shaped_attention_scale

STEP = 1e-6
RTOL = 1e-6
ATOL = 1e-8
ROW_SUM_TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}

seeds = st.integers(0, 2**32 - 1)


def randomize_parameters(layer, rng, members):
    for parameter in layer.parameters():
        draw = rng.standard_normal((members,) + parameter.shape)
        parameter.value = draw / math.sqrt(parameter.shape[0]) if len(parameter.shape) == 2 else draw
        parameter.grad = None


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


@st.composite
def shaped_cases(draw):
    members = draw(st.integers(1, 2))
    heads = draw(st.integers(1, 3))
    head_width = draw(st.integers(1, 3))
    width = heads * head_width
    pattern = ShapedAttention("attention", width, heads, draw(st.floats(0.1, 2.0)),
                              "hidden_bias" if draw(st.booleans()) else None)
    layer = CausalSelfAttention("attention", width, pattern, bias=draw(st.booleans()))
    rng = np.random.default_rng(draw(seeds))
    randomize_parameters(layer, rng, members)
    x = rng.standard_normal((members, draw(st.integers(1, 2)), draw(st.integers(1, 4)), width))
    return layer, x, rng


@given(case=shaped_cases())
def test_shaped_attention_backward(case):
    layer, x, rng = case
    y, cache = layer.forward(x)
    projection = rng.standard_normal(y.shape)
    dx = layer.backward(projection, cache)

    def value():
        output, _ = layer.forward(x)
        return float(np.sum(output * projection))

    np.testing.assert_allclose(dx, numeric_gradient(value, x), rtol=RTOL, atol=ATOL)
    for parameter in layer.parameters():
        np.testing.assert_allclose(parameter.grad, numeric_gradient(value, parameter.value),
                                   rtol=RTOL, atol=ATOL, err_msg=parameter.name)


@given(case=shaped_cases())
def test_shaped_attention_jvp(case):
    layer, x, rng = case
    _, cache = layer.forward(x)
    dx = rng.standard_normal(x.shape)
    tangents = {p: rng.standard_normal(p.value.shape) for p in layer.parameters()}
    predicted = layer.jvp(dx, tangents, cache)

    def shifted(sign):
        for parameter, tangent in tangents.items():
            parameter.value = parameter.value + sign * STEP * tangent
        y, _ = layer.forward(x + sign * STEP * dx)
        for parameter, tangent in tangents.items():
            parameter.value = parameter.value - sign * STEP * tangent
        return y

    np.testing.assert_allclose(predicted, (shifted(1.0) - shifted(-1.0)) / (2 * STEP),
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=shaped_cases())
def test_shaped_attention_rows_sum_to_one(dtype, case):
    layer, x, _ = case
    for parameter in layer.parameters():
        parameter.value = parameter.value.astype(dtype)
    pattern, _ = layer.pattern.forward(x.astype(dtype))
    length = x.shape[-2]
    upper = np.triu(np.ones((length, length), dtype=bool), k=1)

    assert pattern.dtype == dtype
    np.testing.assert_allclose(pattern.sum(axis=-1), 1.0, rtol=0, atol=ROW_SUM_TOLERANCE[dtype])
    assert np.all(pattern[..., upper] == 0)


def test_shaped_attention_is_identity_at_zero_logits():
    pattern = ShapedAttention("attention", 4, 2, 1.0)
    rng = np.random.default_rng(0)
    randomize_parameters(pattern, rng, 2)
    for parameter in pattern.parameters():
        parameter.value = np.zeros_like(parameter.value)
    matrices, _ = pattern.forward(rng.standard_normal((2, 3, 5, 4)))
    np.testing.assert_allclose(matrices, np.broadcast_to(np.eye(5), matrices.shape), atol=1e-15)


def test_shaped_attention_is_softmax_shifted():
    shaped = ShapedAttention("attention", 6, 3, 0.7, "hidden_bias")
    softmax = SoftmaxAttention("attention", 6, 3, 0.7, "hidden_bias")
    rng = np.random.default_rng(1)
    randomize_parameters(shaped, rng, 2)
    for ours, theirs in zip(shaped.parameters(), softmax.parameters()):
        theirs.value = ours.value
    x = rng.standard_normal((2, 1, 4, 6))
    shaped_matrices, _ = shaped.forward(x)
    softmax_matrices, _ = softmax.forward(x)
    np.testing.assert_allclose(shaped_matrices - softmax_matrices,
                               np.broadcast_to(np.eye(4) - causal_uniform_matrix(4),
                                               shaped_matrices.shape), atol=1e-15)


def test_shaped_attention_scale_value():
    assert shaped_attention_scale(64, 16, 2.0) == pytest.approx(1 / (2.0 * 32.0))
    with pytest.raises(ValueError, match="tau0 must be positive"):
        shaped_attention_scale(64, 16, 0.0)


def test_causal_uniform_matrix_values():
    np.testing.assert_allclose(causal_uniform_matrix(3), [[1, 0, 0], [0.5, 0.5, 0],
                                                          [1 / 3, 1 / 3, 1 / 3]])


@given(width=st.integers(2, 1024), c_minus=st.floats(-1.0, 1.0), seed=seeds)
def test_shaped_leaky_relu_values(width, c_minus, seed):
    activation = ShapedLeakyReLU(width, c_minus)
    slope = 1 + c_minus / math.sqrt(width)
    gain = math.sqrt(2 / (1 + slope ** 2))
    z = np.random.default_rng(seed).standard_normal((2, 3, 5))
    y, cache = activation.forward(z)

    np.testing.assert_allclose(y, np.where(z > 0, gain * z, gain * slope * z), rtol=1e-15)
    np.testing.assert_allclose(activation.backward(np.ones_like(z), cache),
                               np.where(z > 0, gain, gain * slope), rtol=1e-15)


def test_shaped_leaky_relu_unit_second_moment():
    """``E[phi(z)**2] = g**2 (1 + s**2) / 2 = 1`` for standard normal ``z``."""
    activation = ShapedLeakyReLU(16, -1.0)
    assert activation.gain ** 2 * (1 + activation.negative_slope ** 2) / 2 == pytest.approx(1.0)


def test_shaped_leaky_relu_rejects_zero_width():
    with pytest.raises(ValueError, match="width must be at least 1, got 0"):
        ShapedLeakyReLU(0)
