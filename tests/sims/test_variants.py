"""Transformer variants: frozen parameters, parameter counts, MixiT rows, gradients."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sims.hyperparameters import BaseHyperparameters, BaseShape, evaluate_table, make_table
from sims.init import initialize
from sims.models import TransformerShape
from sims.optim import make_optimizer
from sims.runs import RunConfig, build_ensemble
from sims.variants import VARIANTS, build_variant, is_frozen, parameter_counts
from test_transformer import ATOL, NORM_MARGIN, RTOL, STEP, norm_margin

SHAPE = TransformerShape(vocab_size=16, seq_len=8, width=8, depth=2, heads=2)


def build(variant, shape=SHAPE, members=2, seed=0, **options):
    scales = evaluate_table(make_table("alpha", 1.0, "adamw"), shape.width, shape.depth,
                            BaseShape(width=4, depth=2))
    model = build_variant(variant, shape, scales, mixit_seeds=seed, **options)
    rng = np.random.default_rng(seed)
    initialize(model.parameters(), scales, np.full(members, 0.5),
               [np.random.default_rng([seed, k]) for k in range(members)])
    for parameter in model.parameters():
        if parameter.init != "normal":
            parameter.value = parameter.value + 0.2 * rng.standard_normal(parameter.value.shape)
    return model, scales, rng


def random_batch(shape, members, rng, batch=3):
    size = (members, batch, shape.seq_len)
    return rng.integers(0, shape.vocab_size, size=size), rng.integers(0, shape.vocab_size, size=size)


def expected_counts(shape):
    """Return the per-block and embedding counts of ``SHAPE``-like shapes with biases and LayerNorm."""
    n, hidden = shape.width, shape.mlp_multiple * shape.width
    embeddings = shape.vocab_size * n + shape.seq_len * n + n * shape.vocab_size
    norm = 2 * n
    projection = n * n + n
    mlp = (n * hidden + hidden) + (hidden * n + n)
    return embeddings, norm, projection, mlp


def test_trainable_counts():
    embeddings, norm, projection, mlp = expected_counts(SHAPE)
    depth = SHAPE.depth
    total = embeddings + depth * (2 * norm + 4 * projection + mlp) + norm
    expected = {
        "standard": (total, total),
        "frozen_qk": (total - depth * 2 * projection, total),
        "frozen_mlp": (total - depth * mlp, total),
        "mixit": (total - depth * 2 * projection, total - depth * 2 * projection),
        "embedding_only": (embeddings, total),
    }
    assert total == 2080
    for variant in VARIANTS:
        counts = parameter_counts(build_variant(variant, SHAPE, build(variant)[1]))
        assert (counts.trainable, counts.total) == expected[variant], variant
        assert counts.frozen == counts.total - counts.trainable


def test_frozen_names():
    assert is_frozen("frozen_qk", "layers.0.attention.query.bias")
    assert not is_frozen("frozen_qk", "layers.0.attention.value.weight")
    assert is_frozen("frozen_mlp", "layers.1.mlp.fc2.bias")
    assert not is_frozen("frozen_mlp", "layers.1.mlp_norm.gain")
    assert is_frozen("embedding_only", "final_norm.gain")
    assert not is_frozen("embedding_only", "position_embedding.weight")
    assert not is_frozen("mixit", "layers.0.mlp.fc1.weight")


@pytest.mark.parametrize("optimizer_name", ["adamw", "adam", "sgd"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_frozen_parameters_never_change(variant, optimizer_name):
    model, scales, rng = build(variant)
    before = {parameter: parameter.value.copy() for parameter in model.parameters()}
    optimizer = make_optimizer(optimizer_name, model.parameters(), scales,
                               np.array([1e-2, 3e-2]), BaseHyperparameters(weight_decay=0.1))
    tokens, targets = random_batch(SHAPE, 2, rng)
    for _ in range(3):
        model.loss_and_gradients(tokens, targets)
        optimizer.step()

    for parameter in model.parameters():
        if is_frozen(variant, parameter.name):
            assert not parameter.trainable
            assert parameter.grad is None, parameter.name
            np.testing.assert_array_equal(parameter.value, before[parameter],
                                          err_msg=parameter.name)
        elif parameter.init == "normal":
            # Biases and norm parameters are left out: a key bias, for one, shifts every
            # logit of a row alike and so has zero gradient.
            assert np.any(parameter.value != before[parameter]), parameter.name


@pytest.mark.parametrize("sink", [False, True])
def test_mixit_attention_rows_sum_to_one(sink):
    model, _, rng = build("mixit", sink=sink)
    tokens, _ = random_batch(SHAPE, 2, rng)
    _, cache = model.forward(tokens)
    assert len(cache["attention"]) == SHAPE.depth
    assert not any(".query." in p.name or ".key." in p.name for p in model.parameters())
    for matrices in cache["attention"]:
        sums = np.broadcast_to(matrices.sum(axis=-1), (2, 3, SHAPE.heads, SHAPE.seq_len))
        first = 1 if sink else 0
        np.testing.assert_allclose(sums[:, :, first:], 1.0, rtol=0, atol=1e-12)
        if sink:
            np.testing.assert_allclose(sums[:, :, 0, 1:], 1.0, rtol=0, atol=1e-12)
            np.testing.assert_allclose(sums[:, :, 0, 0], 0.5, rtol=0, atol=1e-15)


def test_mixit_matrices_follow_seed():
    first = build("mixit", seed=1)[0].forward(np.zeros((2, 1, 4), dtype=int))[1]["attention"][0]
    again = build("mixit", seed=1)[0].forward(np.zeros((2, 1, 4), dtype=int))[1]["attention"][0]
    other = build("mixit", seed=2)[0].forward(np.zeros((2, 1, 4), dtype=int))[1]["attention"][0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("variant", VARIANTS)
@given(seed=st.integers(0, 2**32 - 1), heads=st.integers(1, 2), length=st.integers(1, 4))
def test_variant_gradients(variant, seed, heads, length):
    shape = TransformerShape(vocab_size=5, seq_len=4, width=2 * heads, depth=2, heads=heads,
                             mlp_multiple=1, activation="tanh")
    model, _, rng = build(variant, shape, members=2, seed=seed)
    tokens, targets = random_batch(shape, 2, rng, batch=2)
    tokens, targets = tokens[..., :length], targets[..., :length]
    _, cache = model.loss_and_gradients(tokens, targets)
    assume(norm_margin(shape, cache) > NORM_MARGIN)

    for parameter in model.parameters():
        if not parameter.trainable:
            assert parameter.grad is None, parameter.name
            continue
        flat_value = parameter.value.reshape(-1)
        flat_grad = parameter.grad.reshape(-1)
        for index in rng.choice(flat_value.size, size=min(2, flat_value.size), replace=False):
            saved = flat_value[index]
            flat_value[index] = saved + STEP
            upper = float(model.loss(tokens, targets).sum())
            flat_value[index] = saved - STEP
            lower = float(model.loss(tokens, targets).sum())
            flat_value[index] = saved
            numeric = (upper - lower) / (2 * STEP)
            np.testing.assert_allclose(flat_grad[index], numeric, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{variant} {parameter.name}[{index}]")


def test_unknown_variant_lists_choices():
    scales = build("standard")[1]
    with pytest.raises(ValueError, match="unknown variant 'frozen_v'; valid: standard, frozen_qk"):
        build_variant("frozen_v", SHAPE, scales)
    with pytest.raises(ValueError, match="unknown embedding_only_attention"):
        build_variant("embedding_only", SHAPE, scales, embedding_only_attention="linear")
    with pytest.raises(ValueError, match="unknown variant"):
        RunConfig(width=8, depth=2, model="transformer", variant="frozen_v")


def test_run_config_variant():
    standard = RunConfig(width=8, depth=2, model="transformer", seq_len=8, heads=2)
    frozen = standard.replace(variant="frozen_qk")
    assert "variant" not in standard.to_dict()
    assert frozen.to_dict()["variant"] == "frozen_qk"
    assert frozen.identity() == standard.identity()
    assert frozen.ensemble_key() != standard.ensemble_key()
    with pytest.raises(ValueError, match="needs model 'transformer'"):
        RunConfig(width=8, depth=2, variant="mixit")


@pytest.mark.parametrize("variant", ["frozen_qk", "mixit"])
def test_build_ensemble_with_variant(variant):
    base = RunConfig(width=8, depth=1, model="transformer", seq_len=8, heads=2, batch_size=2,
                     variant=variant, trainable_groups=("embedding", "hidden_weight"))
    ensemble = build_ensemble([base, base.replace(seed_index=1)])
    for parameter in ensemble.model.parameters():
        expected = (not is_frozen(variant, parameter.name)
                    and parameter.group in ("embedding", "hidden_weight"))
        assert parameter.trainable == expected, parameter.name
    if variant == "mixit":
        matrices = ensemble.model.blocks[0].branch.layers[1].pattern.matrices
        assert matrices.shape == (2, 2, 8, 8)
        assert not np.array_equal(matrices[0], matrices[1])


@pytest.mark.parametrize("variant", ["frozen_qk", "embedding_only"])
def test_frozen_queries_and_keys_have_fan_in_std(variant):
    # The same draws at two base init stds: the frozen Q/K weights must not follow it.
    shape = TransformerShape(vocab_size=16, seq_len=8, width=64, depth=1, heads=2)
    scales = evaluate_table(make_table("alpha", 1.0, "adamw"), 64, 1, BaseShape(width=16, depth=2))
    model = build_variant(variant, shape, scales)
    initialize(model.parameters(), scales, np.array([0.02, 0.5]),
               [np.random.default_rng(3), np.random.default_rng(3)])
    frozen = {p.name: p for p in model.parameters()
              if p.name.endswith(("query.weight", "key.weight"))}
    assert len(frozen) == 2
    for parameter in frozen.values():
        np.testing.assert_array_equal(parameter.value[0], parameter.value[1])
        assert parameter.value[0].std() == pytest.approx(1 / 8, rel=0.05)
    # Trainable matrices still scale with the base init std.
    value = next(p for p in model.parameters() if p.name.endswith("value.weight")).value
    assert value[1].std() == pytest.approx(25 * value[0].std())


def test_standard_queries_follow_the_table():
    model, _, _ = build("standard")
    assert all(parameter.fixed_std is None for parameter in model.parameters())
