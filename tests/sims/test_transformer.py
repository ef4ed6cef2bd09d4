"""The pre-LN transformer: gradients against finite differences, causality, groups, freezing."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sims.hyperparameters import BaseHyperparameters, BaseShape, evaluate_table, make_table
from sims.init import initialize
from sims.layers import PositionEmbedding, TiedUnembedding
from sims.layers.attention import FixedAttention
from sims.models.transformer import Transformer, TransformerShape
from sims.optim import make_optimizer
from sims.parameters import Parameter

STEP = 1e-6
RTOL = 1e-6
ATOL = 1e-8
ENTRIES_PER_PARAMETER = 3
BASE_SHAPE = BaseShape(width=4, depth=2)
NORM_MARGIN = 1e-2
"""Smallest spread of a norm's input row: its variance (LayerNorm) or mean square
(RMSNorm). Near zero spread a norm is close to its singular point, where finite
differences lose accuracy."""
COLUMNS = [("sp", None), ("mup", None), ("alpha", 0.0), ("alpha", 0.5), ("alpha", 1.0),
           ("alpha", 1.5)]


@st.composite
def transformer_cases(draw, parameterization, members=st.integers(1, 2), **fixed):
    alpha = None
    if parameterization == "alpha":
        alpha = draw(st.floats(min_value=0.0, max_value=1.5))
    heads = draw(st.integers(1, 2))
    # A width of one makes every LayerNorm output constant, so the width is at least two.
    head_width = draw(st.integers(1 if heads > 1 else 2, 3))
    options = {
        "vocab_size": draw(st.integers(2, 5)),
        "seq_len": draw(st.integers(1, 4)),
        "width": heads * head_width,
        "depth": draw(st.integers(1, 3)),
        "heads": heads,
        "mlp_multiple": draw(st.integers(1, 2)),
        "activation": draw(st.sampled_from(["gelu", "tanh"])),
        "bias": draw(st.booleans()),
        "norm": draw(st.sampled_from(["layernorm", "rmsnorm"])),
        "tied_embeddings": draw(st.booleans()),
        "attention_scale": draw(st.sampled_from(["mup", "sp"])),
        "projection_init": draw(st.sampled_from(["table", "gpt2"])),
    }
    options.update(fixed)
    shape = TransformerShape(**options)
    length = draw(st.integers(1, shape.seq_len))
    return {
        "parameterization": parameterization,
        "alpha": alpha,
        "shape": shape,
        "members": draw(members),
        "batch": draw(st.integers(1, 3)),
        "length": length,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def build_model(case, make_pattern=None, perturb=True):
    shape, members, seed = case["shape"], case["members"], case["seed"]
    table = make_table(case["parameterization"], case["alpha"], "adamw")
    scales = evaluate_table(table, shape.width, shape.depth, BASE_SHAPE)
    model = Transformer(shape, scales, make_pattern)
    rng = np.random.default_rng(seed)
    generators = [np.random.default_rng([seed, k]) for k in range(members)]
    initialize(model.parameters(), scales, rng.uniform(0.3, 1.0, size=members), generators)
    if perturb:
        # Move biases and norm gains off their initial 0 and 1, so that the check runs at
        # a generic point.
        for parameter in model.parameters():
            if parameter.init != "normal":
                parameter.value = parameter.value + 0.2 * rng.standard_normal(parameter.value.shape)
    return model, scales, rng


def batch(case, rng):
    size = (case["members"], case["batch"], case["length"])
    tokens = rng.integers(0, case["shape"].vocab_size, size=size)
    targets = rng.integers(0, case["shape"].vocab_size, size=size)
    return tokens, targets


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


def check_model_gradients(model, tokens, targets, rng):
    _, cache = model.loss_and_gradients(tokens, targets)
    assume(norm_margin(model.shape, cache) > NORM_MARGIN)

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


def fixed_mixing_pattern(seed, heads, seq_len):
    """Return a ``make_pattern`` that gives each layer random causal, row-stochastic matrices."""

    def make_pattern(name, layer):
        rng = np.random.default_rng([seed, layer])
        weights = np.tril(rng.uniform(0.1, 1.0, size=(heads, seq_len, seq_len)))
        return FixedAttention(weights / weights.sum(axis=-1, keepdims=True))

    return make_pattern


@pytest.mark.parametrize("parameterization", ["sp", "mup", "alpha"])
@given(data=st.data())
def test_transformer_gradients(parameterization, data):
    case = data.draw(transformer_cases(parameterization))
    model, _, rng = build_model(case)
    check_model_gradients(model, *batch(case, rng), rng)


@given(case=transformer_cases("mup"))
def test_fixed_pattern_transformer_gradients(case):
    shape = case["shape"]
    make_pattern = fixed_mixing_pattern(case["seed"], shape.heads, shape.seq_len)
    model, _, rng = build_model(case, make_pattern)
    check_model_gradients(model, *batch(case, rng), rng)


@given(case=transformer_cases("alpha", members=st.integers(2, 3)))
def test_frozen_query_key_gradients(case):
    model, _, rng = build_model(case)
    for block in model.blocks[::2]:
        for parameter in block.branch.layers[1].pattern.parameters():
            parameter.trainable = False
    tokens, targets = batch(case, rng)
    model.loss_and_gradients(tokens, targets)
    for parameter in model.parameters():
        if ".query." in parameter.name or ".key." in parameter.name:
            assert parameter.grad is None, parameter.name
        else:
            assert parameter.grad is not None, parameter.name


@pytest.mark.parametrize("optimizer_name", ["adamw", "sgd"])
def test_frozen_query_key_never_change(optimizer_name):
    shape = TransformerShape(vocab_size=5, seq_len=4, width=6, depth=2, heads=2)
    case = {"parameterization": "alpha", "alpha": 1.0, "shape": shape, "members": 2,
            "batch": 3, "length": 4, "seed": 7}
    model, scales, rng = build_model(case)
    frozen = [p for p in model.parameters() if ".query." in p.name or ".key." in p.name]
    for parameter in frozen:
        parameter.trainable = False
    before = {parameter: parameter.value.copy() for parameter in model.parameters()}
    base = BaseHyperparameters(weight_decay=0.1)
    lr = np.array([1e-2, 3e-2])
    optimizer = make_optimizer(optimizer_name, model.parameters(), scales, lr, base)
    tokens, targets = batch(case, rng)

    for _ in range(3):
        model.loss_and_gradients(tokens, targets)
        optimizer.step()

    assert len(frozen) == 4 * shape.depth
    for parameter in model.parameters():
        if parameter in frozen:
            np.testing.assert_array_equal(parameter.value, before[parameter],
                                          err_msg=parameter.name)
        elif parameter.group == "hidden_weight":
            assert np.any(parameter.value != before[parameter]), parameter.name


@given(case=transformer_cases("mup"), data=st.data())
def test_transformer_is_causal(case, data):
    model, _, rng = build_model(case)
    tokens, _ = batch(case, rng)
    position = data.draw(st.integers(0, case["length"] - 1))
    changed = tokens.copy()
    changed[..., position] = (changed[..., position] + 1) % case["shape"].vocab_size

    logits, _ = model.forward(tokens)
    changed_logits, _ = model.forward(changed)

    np.testing.assert_allclose(changed_logits[..., :position, :], logits[..., :position, :],
                               rtol=1e-13, atol=1e-13)
    assert np.any(changed_logits[..., position, :] != logits[..., position, :])


@given(case=transformer_cases("alpha"), data=st.data())
def test_prefix_logits_match_full_sequence(case, data):
    shape = case["shape"]
    make_pattern = None
    if data.draw(st.booleans()):
        make_pattern = fixed_mixing_pattern(case["seed"], shape.heads, shape.seq_len)
    model, _, rng = build_model(case, make_pattern)
    tokens, _ = batch(case, rng)
    prefix = data.draw(st.integers(1, case["length"]))

    logits, _ = model.forward(tokens)
    prefix_logits, _ = model.forward(tokens[..., :prefix])

    np.testing.assert_allclose(prefix_logits, logits[..., :prefix, :], rtol=1e-13, atol=1e-13)


@given(case=transformer_cases("sp"))
def test_attention_rows_sum_to_one(case):
    model, _, rng = build_model(case)
    tokens, _ = batch(case, rng)
    _, cache = model.forward(tokens)
    length = case["length"]
    upper = np.triu(np.ones((length, length), dtype=bool), k=1)

    assert len(cache["attention"]) == case["shape"].depth
    for probabilities in cache["attention"]:
        assert probabilities.shape == tokens.shape[:2] + (case["shape"].heads, length, length)
        np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
        assert np.all(probabilities >= 0)
        assert np.all(probabilities[..., upper] == 0)


@given(case=transformer_cases("alpha"))
def test_cache_lists_stream_and_branches(case):
    model, scales, rng = build_model(case)
    tokens, _ = batch(case, rng)
    logits, cache = model.forward(tokens)
    depth = case["shape"].depth

    assert logits.shape == tokens.shape + (case["shape"].vocab_size,)
    assert len(cache["stream"]) == 2 * depth + 1
    assert len(cache["branch"]) == 2 * depth
    for before, after, branch in zip(cache["stream"], cache["stream"][1:], cache["branch"]):
        np.testing.assert_allclose(after, before + scales.residual_multiplier * branch,
                                   rtol=1e-12, atol=1e-12)


def expected_group(name):
    """Return the group that a parameter of this name should have."""
    if name.startswith(("token_embedding.", "position_embedding.")):
        return "embedding"
    if name.startswith("final_norm."):
        return "final_ln"
    if name.startswith("unembedding."):
        return "unembedding"
    if name.endswith(("_norm.gain", "_norm.bias")):
        return "pre_ln"
    if name.endswith(".weight"):
        return "hidden_weight"
    return "hidden_bias"


def expected_names(shape):
    norm_names = ["gain", "bias"] if shape.norm == "layernorm" else ["gain"]
    matrix_names = ["weight", "bias"] if shape.bias else ["weight"]
    names = ["token_embedding.weight", "position_embedding.weight"]
    for layer in range(shape.depth):
        prefix = f"layers.{layer}"
        names += [f"{prefix}.attention_norm.{n}" for n in norm_names]
        for matrix in ("query", "key", "value", "proj"):
            names += [f"{prefix}.attention.{matrix}.{n}" for n in matrix_names]
        names += [f"{prefix}.mlp_norm.{n}" for n in norm_names]
        for matrix in ("fc1", "fc2"):
            names += [f"{prefix}.mlp.{matrix}.{n}" for n in matrix_names]
    names += [f"final_norm.{n}" for n in norm_names]
    if not shape.tied_embeddings:
        names.append("unembedding.weight")
    return names


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("norm", ["layernorm", "rmsnorm"])
def test_parameter_groups(tied, bias, norm):
    shape = TransformerShape(vocab_size=5, seq_len=3, width=4, depth=2, heads=2, bias=bias,
                             norm=norm, tied_embeddings=tied)
    scales = evaluate_table(make_table("mup"), 4, 2, BASE_SHAPE)
    parameters = Transformer(shape, scales).parameters()

    assert len({id(parameter) for parameter in parameters}) == len(parameters)
    assert [parameter.name for parameter in parameters] == expected_names(shape)
    for parameter in parameters:
        assert parameter.group == expected_group(parameter.name), parameter.name


def test_tied_unembedding_sums_both_gradients():
    tied_shape = TransformerShape(vocab_size=5, seq_len=4, width=4, depth=1, heads=2,
                                  tied_embeddings=True)
    case = {"parameterization": "mup", "alpha": None, "shape": tied_shape, "members": 2,
            "batch": 3, "length": 4, "seed": 2}
    tied, scales, rng = build_model(case)
    untied = Transformer(TransformerShape(**{**tied_shape.__dict__, "tied_embeddings": False}),
                         scales)
    for source, target in zip(tied.parameters(), untied.parameters()):
        target.value = source.value.copy()
    embedding = tied.token_embedding.weight
    untied.unembedding.weight.value = np.swapaxes(embedding.value, -1, -2).copy()
    tokens, targets = batch(case, rng)

    tied_loss, _ = tied.loss_and_gradients(tokens, targets)
    untied_loss, _ = untied.loss_and_gradients(tokens, targets)

    np.testing.assert_allclose(tied_loss, untied_loss, rtol=1e-13)
    expected = untied.token_embedding.weight.grad + np.swapaxes(untied.unembedding.weight.grad,
                                                                 -1, -2)
    np.testing.assert_allclose(embedding.grad, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("attention_scale", ["mup", "sp"])
@pytest.mark.parametrize("tied", [False, True])
def test_base_shape_logits_identical(attention_scale, tied):
    shape = TransformerShape(vocab_size=5, seq_len=4, width=BASE_SHAPE.width,
                             depth=BASE_SHAPE.depth, heads=2, tied_embeddings=tied,
                             attention_scale=attention_scale)
    tokens = np.random.default_rng(4).integers(0, 5, size=(2, 3, 4))
    reference = None
    for parameterization, alpha in COLUMNS:
        case = {"parameterization": parameterization, "alpha": alpha, "shape": shape,
                "members": 2, "batch": 3, "length": 4, "seed": 9}
        model, _, _ = build_model(case, perturb=False)
        logits, _ = model.forward(tokens)
        if reference is None:
            reference = logits
        np.testing.assert_array_equal(logits, reference, err_msg=f"{parameterization} {alpha}")


def test_gpt2_projection_init():
    shapes = {
        init: TransformerShape(vocab_size=5, seq_len=3, width=4, depth=3, heads=2,
                               projection_init=init)
        for init in ("table", "gpt2")
    }
    values = {}
    for init, shape in shapes.items():
        case = {"parameterization": "sp", "alpha": None, "shape": shape, "members": 2,
                "batch": 1, "length": 3, "seed": 5}
        model, _, _ = build_model(case, perturb=False)
        values[init] = {parameter.name: parameter.value for parameter in model.parameters()}

    multiplier = 1.0 / math.sqrt(2 * 3)
    for name, value in values["table"].items():
        if name.endswith((".attention.proj.weight", ".mlp.fc2.weight")):
            np.testing.assert_allclose(values["gpt2"][name], multiplier * value, rtol=1e-14,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(values["gpt2"][name], value, err_msg=name)


@pytest.mark.parametrize("multiplier", [-0.5, float("nan"), float("inf")])
def test_invalid_init_multiplier_raise(multiplier):
    with pytest.raises(ValueError, match="init_multiplier of fc.weight"):
        Parameter("fc.weight", "hidden_weight", (2, 2), init_multiplier=multiplier)


@pytest.mark.parametrize("std", [-0.1, float("nan"), float("inf")])
def test_invalid_fixed_std_raise(std):
    with pytest.raises(ValueError, match="fixed_std of fc.weight must be finite and non-negative"):
        Parameter("fc.weight", "hidden_weight", (2, 2), fixed_std=std)


def test_default_init_multiplier_keeps_draws():
    shape = TransformerShape(vocab_size=5, seq_len=3, width=8, depth=2, heads=2)
    scales = evaluate_table(make_table("alpha", 1.0), 8, 2, BASE_SHAPE)
    model = Transformer(shape, scales)
    init_std = np.array([0.5, 0.8])
    generators = [np.random.default_rng([3, k]) for k in range(2)]
    initialize(model.parameters(), scales, init_std, generators)

    generators = [np.random.default_rng([3, k]) for k in range(2)]
    for parameter in model.parameters():
        if parameter.init != "normal":
            continue
        group_std = scales.groups[parameter.group].init_std
        for k, generator in enumerate(generators):
            # The draw and scaling that initialize used before init_multiplier existed.
            expected = generator.standard_normal(parameter.shape) * (init_std[k] * group_std)
            np.testing.assert_array_equal(parameter.value[k], expected, err_msg=parameter.name)


@given(case=transformer_cases("mup", members=st.integers(2, 3)))
def test_members_are_independent(case):
    model, _, rng = build_model(case)
    tokens, targets = batch(case, rng)
    before = model.loss(tokens, targets)

    for parameter in model.parameters():
        parameter.value[0] = np.nan
    after = model.loss(tokens, targets)

    assert np.isnan(after[0])
    np.testing.assert_array_equal(after[1:], before[1:])


def test_position_embedding_derivatives():
    rng = np.random.default_rng(6)
    layer = PositionEmbedding("position_embedding", 4, 3)
    layer.weight.value = rng.standard_normal((2, 4, 3))
    x = rng.standard_normal((2, 3, 2, 3))
    y, cache = layer.forward(x)
    projection = rng.standard_normal(y.shape)

    dx = layer.backward(projection, cache)
    expected = np.zeros((2, 4, 3))
    expected[:, :2] = projection.sum(axis=1)
    np.testing.assert_array_equal(dx, projection)
    np.testing.assert_allclose(layer.weight.grad, expected, rtol=1e-14)

    tangent = rng.standard_normal((2, 4, 3))
    dy = layer.jvp(None, {layer.weight: tangent}, cache)
    np.testing.assert_allclose(dy, np.broadcast_to(tangent[:, None, :2], x.shape), rtol=1e-14)


def test_tied_unembedding_jvp():
    rng = np.random.default_rng(8)
    shape = TransformerShape(vocab_size=4, seq_len=3, width=3, depth=1, heads=1,
                             tied_embeddings=True)
    case = {"parameterization": "mup", "alpha": None, "shape": shape, "members": 2,
            "batch": 1, "length": 3, "seed": 1}
    model, _, _ = build_model(case)
    layer = model.unembedding
    assert isinstance(layer, TiedUnembedding)
    x = rng.standard_normal((2, 2, 3, 3))
    dx = rng.standard_normal(x.shape)
    tangent = rng.standard_normal(layer.weight.value.shape)
    _, cache = layer.forward(x)
    predicted = layer.jvp(dx, {layer.weight: tangent}, cache)

    def shifted(sign):
        layer.weight.value = layer.weight.value + sign * STEP * tangent
        y, _ = layer.forward(x + sign * STEP * dx)
        layer.weight.value = layer.weight.value - sign * STEP * tangent
        return y

    numeric = (shifted(1.0) - shifted(-1.0)) / (2 * STEP)
    np.testing.assert_allclose(predicted, numeric, rtol=RTOL, atol=ATOL)


def test_tokens_longer_than_seq_len_raise():
    shape = TransformerShape(vocab_size=5, seq_len=4, width=4, depth=1, heads=2)
    model = Transformer(shape, evaluate_table(make_table("sp"), 4, 1, BASE_SHAPE))
    tokens = np.zeros((1, 2, 6), dtype=int)
    with pytest.raises(ValueError, match="sequence length 6 exceeds the model's seq_len 4"):
        model.forward(tokens)


@pytest.mark.parametrize("tokens, message", [
    (np.zeros((2, 3), dtype=int), r"shape \(K, B, T\)"),
    (np.zeros((1, 2, 3)), "must be integers"),
    (np.zeros((1, 2, 0), dtype=int), "at least one position"),
    (np.full((1, 2, 3), 5), r"0 \.\.\. 4, got 5 \.\.\. 5"),
    (np.full((1, 2, 3), -1), r"got -1 \.\.\. -1"),
])
def test_invalid_tokens_raise(tokens, message):
    shape = TransformerShape(vocab_size=5, seq_len=4, width=4, depth=1, heads=2)
    model = Transformer(shape, evaluate_table(make_table("sp"), 4, 1, BASE_SHAPE))
    with pytest.raises(ValueError, match=message):
        model.forward(tokens)


def test_targets_of_wrong_shape_raise():
    shape = TransformerShape(vocab_size=5, seq_len=4, width=4, depth=1, heads=2)
    case = {"parameterization": "sp", "alpha": None, "shape": shape, "members": 1,
            "batch": 2, "length": 3, "seed": 0}
    model, _, rng = build_model(case)
    tokens, _ = batch(case, rng)
    with pytest.raises(ValueError, match=r"targets have shape \(1, 2\)"):
        model.loss(tokens, np.zeros((1, 2), dtype=int))


def test_width_not_divisible_by_heads_raise():
    with pytest.raises(ValueError, match="width 6 is not divisible by the number of heads 4"):
        TransformerShape(vocab_size=5, seq_len=4, width=6, depth=1, heads=4)


@pytest.mark.parametrize("field, value", [
    ("seq_len", 0), ("width", 0), ("depth", 0), ("heads", 0), ("vocab_size", 0),
    ("mlp_multiple", 0), ("activation", "swish"), ("norm", "batchnorm"),
    ("attention_scale", "ntk"), ("projection_init", "xavier"), ("bias", "yes"),
    ("tied_embeddings", 1),
])
def test_invalid_shape_raise(field, value):
    options = {"vocab_size": 5, "seq_len": 4, "width": 4, "depth": 1, "heads": 2}
    options[field] = value
    with pytest.raises(ValueError, match=f"{field}.*{value!r}|{value!r}.*{field}"):
        TransformerShape(**options)
