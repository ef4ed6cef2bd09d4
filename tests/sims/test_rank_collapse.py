"""Rank collapse at initialization: the GPT-2 layer against the transformer, seeds, contrast."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.hyperparameters import BaseShape, evaluate_table, make_table
from sims.init import initialize
from sims.layers import FixedAttention, ShapedAttention
from sims.models.transformer import Transformer, TransformerShape
from sims.rank_collapse import (
    LAYER_KINDS, RankCollapseConfig, build_layer, simulate_rank_collapse,
)

seeds = st.integers(0, 2**32 - 1)


@st.composite
def stack_configs(draw):
    heads = draw(st.integers(1, 2))
    return RankCollapseConfig(
        kind=draw(st.sampled_from(LAYER_KINDS)),
        width=heads * draw(st.integers(2, 4)),
        depth=draw(st.integers(1, 3)),
        heads=heads,
        seq_len=draw(st.integers(2, 5)),
        mlp=draw(st.booleans()),
        mlp_multiple=draw(st.integers(1, 2)),
        skip_weight=draw(st.floats(0.0, 1.0)),
        noise_scale=draw(st.sampled_from(["shaped", "unshaped", "interpolated"])),
        sink=draw(st.booleans()),
        projection_init=draw(st.sampled_from(["table", "gpt2"])),
    )


@pytest.mark.parametrize("projection_init", ["table", "gpt2"])
def test_standard_layer_is_the_sp_transformer_layer(projection_init):
    """The GPT-2 layer is a layer of :class:`Transformer` under SP at base init std 0.02."""
    config = RankCollapseConfig(kind="standard", width=8, depth=3, heads=2, seq_len=5,
                                projection_init=projection_init)
    shape = TransformerShape(vocab_size=3, seq_len=5, width=8, depth=3, heads=2,
                             attention_scale="sp", projection_init=projection_init)
    scales = evaluate_table(make_table("sp"), shape.width, shape.depth, BaseShape())
    model = Transformer(shape, scales)
    initialize(model.parameters(), scales, np.full(2, 0.02), [np.random.default_rng(k)
                                                               for k in range(2)])

    # Under SP the table leaves the base init std and the residual unscaled.
    assert scales.groups["hidden_weight"].init_std * 0.02 == config.init_std
    assert scales.groups["hidden_bias"].init_std == 0.0
    assert scales.residual_multiplier == 1.0

    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 5, 8))
    expected, ours = x, x
    for layer in range(config.depth):
        blocks = build_layer(config, layer, 2, rng)
        theirs = {p.name: p for block in model.blocks[2 * layer:2 * layer + 2]
                  for p in block.parameters()}
        for block in blocks:
            for parameter in block.parameters():
                counterpart = theirs[parameter.name]
                assert counterpart.shape == parameter.shape
                assert counterpart.init == parameter.init
                counterpart.value = parameter.value.copy()
            ours, _ = block.forward(ours)
        for block in model.blocks[2 * layer:2 * layer + 2]:
            expected, _ = block.forward(expected)
        assert len(theirs) == sum(len(b.parameters()) for b in blocks)
    np.testing.assert_allclose(ours, expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("projection_init", ["table", "gpt2"])
def test_standard_layer_init_stds(projection_init):
    """The stds are the transformer's: 0.02 times its ``init_multiplier`` per parameter."""
    config = RankCollapseConfig(kind="standard", width=64, depth=4, heads=4, seq_len=4,
                                projection_init=projection_init)
    shape = TransformerShape(vocab_size=3, seq_len=4, width=64, depth=4, heads=4,
                             projection_init=projection_init)
    model = Transformer(shape, evaluate_table(make_table("sp"), 64, 4, BaseShape()))
    factor = model.blocks[0].branch.layers[1].proj.weight.init_multiplier
    blocks = build_layer(config, 0, 4, np.random.default_rng(0))
    stds = {p.name: float(p.value.std()) for block in blocks for p in block.parameters()}
    # With 16,384 to 65,536 entries each, a sample std has a relative standard error of
    # 1 / sqrt(2 N) <= 0.6%, so 3% is five standard errors.
    assert stds["layers.0.attention.query.weight"] == pytest.approx(0.02, rel=0.03)
    assert stds["layers.0.mlp.fc1.weight"] == pytest.approx(0.02, rel=0.03)
    assert stds["layers.0.attention.proj.weight"] == pytest.approx(0.02 * factor, rel=0.03)
    assert stds["layers.0.mlp.fc2.weight"] == pytest.approx(0.02 * factor, rel=0.03)
    assert stds["layers.0.attention.query.bias"] == 0.0


def test_mixit_and_shaped_layer_components():
    mixit = RankCollapseConfig(kind="mixit", width=8, depth=2, heads=2, seq_len=4, sink=True)
    shaped = RankCollapseConfig(kind="shaped", width=8, depth=2, heads=2, seq_len=4)
    mixit_blocks = build_layer(mixit, 0, 3, np.random.default_rng(0))
    shaped_blocks = build_layer(shaped, 0, 3, np.random.default_rng(0))

    pattern = mixit_blocks[0].branch.layers[1].pattern
    assert isinstance(pattern, FixedAttention)
    assert pattern.matrices.shape == (3, 2, 4, 4)
    assert pattern.matrices[0, 0, 0].sum() == 0.5
    assert isinstance(shaped_blocks[0].branch.layers[1].pattern, ShapedAttention)
    for block in mixit_blocks + shaped_blocks:
        assert block.skip_weight == pytest.approx(math.sqrt(0.5))
        assert block.branch_weight == pytest.approx(math.sqrt(0.5))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(config=stack_configs(), seed=seeds)
def test_curves_shapes_and_ranges(dtype, config, seed):
    curves = simulate_rank_collapse(config, 2, np.random.default_rng(seed), batch=2, dtype=dtype)
    shape = (config.depth + 1, 2, 2)
    for values in (curves.cosine, curves.residual, curves.stable_rank):
        assert values.shape == shape
        assert np.all(np.isfinite(values))
    assert np.all(np.abs(curves.cosine) <= 1)
    assert np.all((curves.residual >= 0) & (curves.residual <= 1))
    assert np.all((curves.stable_rank >= 1) & (curves.stable_rank <= config.seq_len + 1e-6))


@given(config=stack_configs(), seed=seeds)
def test_curves_reproducible_from_seed(config, seed):
    first = simulate_rank_collapse(config, 2, np.random.default_rng(seed))
    again = simulate_rank_collapse(config, 2, np.random.default_rng(seed))
    np.testing.assert_array_equal(first.cosine, again.cosine)
    np.testing.assert_array_equal(first.stable_rank, again.stable_rank)


@given(config=stack_configs(), seed=seeds)
def test_curves_members_match_separate_runs(config, seed):
    generators = [np.random.default_rng([seed, k]) for k in range(2)]
    together = simulate_rank_collapse(config, 2, generators)
    for member in range(2):
        alone = simulate_rank_collapse(config, 1, [np.random.default_rng([seed, member])])
        np.testing.assert_allclose(together.cosine[:, member], alone.cosine[:, 0], rtol=1e-12,
                                   atol=1e-14)


def test_standard_collapses_more_than_mixit():
    """Near-uniform softmax attention raises the mean cosine over depth, and MixiT does not.

    Width 64, 8 tokens, 4 heads, 16 layers, 16 members of 4 sequences each. The GPT-2 std
    0.02 collapses too slowly at width 64 to be seen in 16 layers, so the standard stack
    uses 0.06, whose branch scale ``sigma**2 n`` equals that of 0.02 at width 576. The
    increase of each member's mean cosine must exceed MixiT's by 4 standard errors of
    the difference. With base seeds 0 to 3 it did by 9 to 12.
    """
    increases = {}
    for kind in ("standard", "mixit"):
        config = RankCollapseConfig(kind=kind, width=64, depth=16, heads=4, seq_len=8,
                                    init_std=0.06)
        curves = simulate_rank_collapse(config, 16, np.random.default_rng(2024), batch=4)
        increases[kind] = curves.cosine[-1].mean(axis=-1) - curves.cosine[0].mean(axis=-1)
    difference = increases["standard"].mean() - increases["mixit"].mean()
    standard_error = math.sqrt(sum(values.var(ddof=1) / values.size
                                   for values in increases.values()))
    assert difference > 4 * standard_error


def test_invalid_config_rejected():
    with pytest.raises(ValueError, match="unknown kind 'linear'"):
        RankCollapseConfig(kind="linear", width=8, depth=1, heads=2, seq_len=4)
    with pytest.raises(ValueError, match="width 6 is not divisible by the number of heads 4"):
        RankCollapseConfig(kind="mixit", width=6, depth=1, heads=4, seq_len=4)
    with pytest.raises(ValueError, match="at least two tokens"):
        simulate_rank_collapse(RankCollapseConfig(kind="mixit", width=4, depth=1, heads=1,
                                                  seq_len=1), 1, np.random.default_rng(0))
