"""Causal self-attention: derivatives against finite differences, softmax rows, causality.

Derivative checks run in float64 at smooth points: the scalar ``f = sum(y * R)`` for a
fixed random ``R`` is differentiated by central differences with step ``STEP``, whose
truncation and rounding errors are both far below the tolerances.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sims.layers import LayerNorm, ResidualBlock, RMSNorm, Sequential
from sims.layers.attention import (
    CausalSelfAttention, FixedAttention, SoftmaxAttention, attention_scale, merge_heads,
    split_heads,
)

STEP = 1e-6
RTOL = 1e-6
ATOL = 1e-8
ROW_SUM_TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
NORM_MARGIN = 1e-2
"""Smallest variance (LayerNorm) or mean square (RMSNorm) of a norm's input row. Near
zero a norm is close to its singular point, where finite differences lose accuracy."""

members = st.integers(1, 3)
batches = st.integers(1, 3)
lengths = st.integers(1, 4)
head_counts = st.integers(1, 3)
head_widths = st.integers(1, 3)
seeds = st.integers(0, 2**32 - 1)
moves = st.sampled_from(["input", "parameters", "both"])


def randomize_parameters(layer, rng, members):
    """Draw every parameter so that activations, and so the rounding errors of finite
    differences, stay of order one: matrices get std ``1 / sqrt(fan_in)``."""
    for parameter in layer.parameters():
        draw = rng.standard_normal((members,) + parameter.shape)
        if parameter.init == "ones":
            parameter.value = 1.0 + 0.3 * draw
        elif len(parameter.shape) == 2:
            parameter.value = draw / math.sqrt(parameter.shape[0])
        else:
            parameter.value = draw
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


def check_backward(layer, x, rng):
    """Compare the input gradient and every trainable parameter's gradient with finite differences.

    A frozen parameter must end with no gradient at all.
    """
    y, cache = layer.forward(x)
    projection = rng.standard_normal(y.shape)
    for parameter in layer.parameters():
        parameter.grad = None
    dx = layer.backward(projection, cache)

    def value():
        output, _ = layer.forward(x)
        return float(np.sum(output * projection))

    np.testing.assert_allclose(dx, numeric_gradient(value, x), rtol=RTOL, atol=ATOL,
                               err_msg="input gradient")
    for parameter in layer.parameters():
        if not parameter.trainable:
            assert parameter.grad is None, parameter.name
            continue
        np.testing.assert_allclose(parameter.grad, numeric_gradient(value, parameter.value),
                                   rtol=RTOL, atol=ATOL, err_msg=parameter.name)


def check_jvp(layer, x, rng, moving):
    """Compare ``layer.jvp`` with a central difference along the same direction.

    ``moving`` is ``"input"``, ``"parameters"`` or ``"both"``.
    """
    _, cache = layer.forward(x)
    dx = rng.standard_normal(x.shape) if moving in ("input", "both") else None
    tangents = {}
    if moving in ("parameters", "both"):
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


def random_causal_matrices(rng, shape):
    return np.tril(rng.standard_normal(shape))


@st.composite
def softmax_attention_cases(draw, bias=None, scale_name=None, frozen_query_key=False):
    k = draw(members)
    heads = draw(head_counts)
    head_width = draw(head_widths)
    width = heads * head_width
    if bias is None:
        bias = draw(st.booleans())
    if scale_name is None:
        scale_name = draw(st.sampled_from(["mup", "sp"]))
    bias_group = "hidden_bias" if bias else None
    pattern = SoftmaxAttention("attention", width, heads, attention_scale(scale_name, head_width),
                               bias_group)
    layer = CausalSelfAttention("attention", width, pattern, bias)
    rng = np.random.default_rng(draw(seeds))
    randomize_parameters(layer, rng, k)
    if frozen_query_key:
        for parameter in pattern.parameters():
            parameter.trainable = False
    x = rng.standard_normal((k, draw(batches), draw(lengths), width))
    return layer, x, rng


@st.composite
def fixed_attention_cases(draw):
    k = draw(members)
    heads = draw(head_counts)
    width = heads * draw(head_widths)
    seq_len = draw(lengths)
    length = draw(st.integers(1, seq_len))
    rng = np.random.default_rng(draw(seeds))
    shared = draw(st.booleans())
    matrix_shape = (heads, seq_len, seq_len) if shared else (k, heads, seq_len, seq_len)
    pattern = FixedAttention(random_causal_matrices(rng, matrix_shape))
    layer = CausalSelfAttention("attention", width, pattern, bias=draw(st.booleans()))
    randomize_parameters(layer, rng, k)
    x = rng.standard_normal((k, draw(batches), length, width))
    return layer, x, rng


@st.composite
def attention_block_cases(draw):
    layer, x, rng = draw(softmax_attention_cases())
    width = x.shape[-1]
    norm_class = draw(st.sampled_from([LayerNorm, RMSNorm]))
    norm = norm_class("norm", width, "pre_ln")
    randomize_parameters(norm, rng, x.shape[0])
    block = ResidualBlock(Sequential([norm, layer]), draw(st.sampled_from([1.0, 0.6, 0.25])),
                          draw(st.sampled_from([1.0, 0.8])))
    if norm_class is RMSNorm:
        spread = np.mean(x * x, axis=-1)
    else:
        spread = x.var(axis=-1)
    assume(spread.min() > NORM_MARGIN)
    return block, x, rng


@pytest.mark.parametrize("scale_name", ["mup", "sp"])
@pytest.mark.parametrize("bias", [True, False])
@given(data=st.data())
def test_attention_backward(bias, scale_name, data):
    check_backward(*data.draw(softmax_attention_cases(bias, scale_name)))


@pytest.mark.parametrize("bias", [True, False])
@given(data=st.data(), moving=moves)
def test_attention_jvp(bias, data, moving):
    check_jvp(*data.draw(softmax_attention_cases(bias)), moving)


@given(case=softmax_attention_cases(frozen_query_key=True))
def test_frozen_query_key_backward(case):
    check_backward(*case)


@given(case=softmax_attention_cases(frozen_query_key=True), moving=moves)
def test_frozen_query_key_jvp(case, moving):
    check_jvp(*case, moving)


@given(case=fixed_attention_cases())
def test_fixed_attention_backward(case):
    check_backward(*case)


@given(case=fixed_attention_cases(), moving=moves)
def test_fixed_attention_jvp(case, moving):
    check_jvp(*case, moving)


@given(case=attention_block_cases())
def test_attention_block_backward(case):
    check_backward(*case)


@given(case=attention_block_cases(), moving=moves)
def test_attention_block_jvp(case, moving):
    check_jvp(*case, moving)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=softmax_attention_cases())
def test_softmax_rows_sum_to_one(dtype, case):
    layer, x, _ = case
    for parameter in layer.parameters():
        parameter.value = parameter.value.astype(dtype)
    probabilities, _ = layer.pattern.forward(x.astype(dtype))
    length = x.shape[-2]
    upper = np.triu(np.ones((length, length), dtype=bool), k=1)

    assert probabilities.dtype == dtype
    assert probabilities.shape == x.shape[:2] + (layer.heads, length, length)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=0,
                               atol=ROW_SUM_TOLERANCE[dtype])
    assert np.all(probabilities >= 0)
    assert np.all(probabilities[..., upper] == 0)


def test_softmax_large_logits_stay_finite():
    pattern = SoftmaxAttention("attention", 4, 2, 1.0)
    rng = np.random.default_rng(3)
    randomize_parameters(pattern, rng, 2)
    # Logits of order 1e8 overflow exp unless the row maximum is subtracted first.
    x = 1e4 * rng.standard_normal((2, 3, 5, 4))
    probabilities, _ = pattern.forward(x)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


@given(case=softmax_attention_cases(), data=st.data())
def test_attention_is_causal(case, data):
    layer, x, rng = case
    length = x.shape[-2]
    position = data.draw(st.integers(0, length - 1))
    changed = x.copy()
    changed[..., position, :] += rng.standard_normal(changed[..., position, :].shape)

    y, _ = layer.forward(x)
    y_changed, _ = layer.forward(changed)

    np.testing.assert_allclose(y_changed[..., :position, :], y[..., :position, :],
                               rtol=1e-13, atol=1e-13)
    assert np.any(y_changed[..., position:, :] != y[..., position:, :])


def test_frozen_query_key_skip_weight_gradients():
    pattern = SoftmaxAttention("attention", 4, 2, 0.5, "hidden_bias")
    layer = CausalSelfAttention("attention", 4, pattern, bias=True)
    rng = np.random.default_rng(0)
    randomize_parameters(layer, rng, 2)
    for parameter in pattern.parameters():
        parameter.trainable = False
    x = rng.standard_normal((2, 3, 4, 4))
    y, cache = layer.forward(x)
    dx = layer.backward(np.ones_like(y), cache)

    for parameter in pattern.parameters():
        assert parameter.grad is None, parameter.name
    assert layer.value.weight.grad is not None
    assert layer.proj.weight.grad is not None
    # The pattern still depends on the input, so its part of the input gradient is kept.
    assert pattern.needs_backward()
    assert np.all(np.isfinite(dx))


def test_fixed_attention_needs_no_backward():
    pattern = FixedAttention(np.tril(np.ones((2, 3, 3))) / np.arange(1, 4)[:, None])
    assert not pattern.needs_backward()
    assert pattern.parameters() == []


def test_fixed_attention_uses_leading_block():
    rng = np.random.default_rng(1)
    matrices = random_causal_matrices(rng, (2, 2, 5, 5))
    pattern = FixedAttention(matrices)
    x = rng.standard_normal((2, 3, 3, 4))
    block, _ = pattern.forward(x)
    np.testing.assert_array_equal(block[:, 0], matrices[:, :, :3, :3])


def test_fixed_attention_rejects_non_causal_matrices():
    with pytest.raises(ValueError, match="causal"):
        FixedAttention(np.ones((1, 3, 3)))


def test_fixed_attention_rejects_long_input():
    pattern = FixedAttention(np.tril(np.ones((1, 3, 3))))
    with pytest.raises(ValueError, match="input length 4 exceeds the matrices' length 3"):
        pattern.forward(np.zeros((1, 1, 4, 2)))


def test_attention_scale_values():
    assert attention_scale("mup", 8) == 1 / 8
    assert attention_scale("sp", 8) == 1 / math.sqrt(8)
    with pytest.raises(ValueError, match="'ntk'"):
        attention_scale("ntk", 8)


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="width 6 is not divisible by the number of heads 4"):
        SoftmaxAttention("attention", 6, 4, 1.0)


def test_split_merge_heads_round_trip():
    x = np.arange(2 * 3 * 4 * 6, dtype=float).reshape(2, 3, 4, 6)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 3, 4, 2)
    np.testing.assert_array_equal(heads[:, :, 1], x[..., 2:4])
    np.testing.assert_array_equal(merge_heads(heads), x)
