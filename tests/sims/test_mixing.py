"""MixiT mixing matrices: row sums, causality, the sink head, noise scales, seeds.

Row sums are one in exact arithmetic. In floats the centring leaves a rounding error of
a few ulps of the row's largest entry times ``T``, far below ``ROW_SUM_TOLERANCE``.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.hyperparameters import BaseShape, evaluate_table, make_table
from sims.init import initialize
from sims.layers.attention import FixedAttention
from sims.layers.mixing import (
    NOISE_SCALES, mixing_noise_std, mixit_matrices, mixit_pattern_factory, sink_matrix,
)
from sims.models.transformer import Transformer, TransformerShape

ROW_SUM_TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]

seeds = st.integers(0, 2**32 - 1)


@st.composite
def mixing_cases(draw):
    return {
        "members": draw(st.integers(1, 3)),
        "heads": draw(st.integers(1, 4)),
        "seq_len": draw(st.integers(1, 12)),
        "head_width": draw(st.integers(1, 16)),
        "noise_scale": draw(st.sampled_from(NOISE_SCALES)),
        "noise_multiplier": draw(st.floats(0.0, 3.0)),
        "sink": draw(st.booleans()),
        "seed": draw(seeds),
    }


def draw_matrices(case, dtype=np.float64, **changes):
    options = dict(case, **changes)
    seed = options.pop("seed")
    members, heads = options.pop("members"), options.pop("heads")
    seq_len, head_width = options.pop("seq_len"), options.pop("head_width")
    return mixit_matrices(members, heads, seq_len, head_width, np.random.default_rng(seed),
                          dtype=dtype, **options)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=mixing_cases())
def test_mixing_rows_sum_to_one(dtype, case):
    matrices = draw_matrices(case, dtype)
    row_sums = matrices.sum(axis=-1)
    expected = np.ones_like(row_sums)
    if case["sink"]:
        expected[:, 0, 0] = 0.5

    assert matrices.dtype == dtype
    assert matrices.shape == (case["members"], case["heads"], case["seq_len"], case["seq_len"])
    np.testing.assert_allclose(row_sums, expected, rtol=0, atol=ROW_SUM_TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=mixing_cases())
def test_mixing_is_causal(dtype, case):
    matrices = draw_matrices(case, dtype)
    upper = np.triu(np.ones((case["seq_len"], case["seq_len"]), dtype=bool), k=1)
    assert np.all(matrices[..., upper] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=mixing_cases())
def test_mixing_first_row_is_exact(dtype, case):
    matrices = draw_matrices(case, dtype)
    first_row = np.zeros(case["seq_len"], dtype=dtype)
    first_row[0] = 1.0
    mixing_heads = matrices[:, 1:] if case["sink"] else matrices
    # Exact equality: the centred noise of row 0 is N[0, 0] - N[0, 0] / 1 = 0 in floats too.
    assert np.all(mixing_heads[..., 0, :] == first_row)


@given(case=mixing_cases())
def test_sink_replaces_head_zero_only(case):
    with_sink = draw_matrices(case, sink=True)
    without_sink = draw_matrices(case, sink=False)

    np.testing.assert_array_equal(with_sink[:, 0], np.broadcast_to(
        sink_matrix(case["seq_len"]), with_sink[:, 0].shape))
    np.testing.assert_array_equal(with_sink[:, 1:], without_sink[:, 1:])


def test_sink_matrix_values():
    expected = np.array([[0.5, 0.0, 0.0],
                         [0.5, 0.5, 0.0],
                         [0.5, 0.0, 0.5]])
    np.testing.assert_array_equal(sink_matrix(3), expected)
    assert sink_matrix(3)[0].sum() == 0.5


@given(case=mixing_cases())
def test_mixing_without_identity(case):
    with_identity = draw_matrices(case, sink=False)
    without_identity = draw_matrices(case, sink=False, identity=False)
    length = case["seq_len"]

    np.testing.assert_allclose(with_identity - without_identity,
                               np.broadcast_to(np.eye(length), with_identity.shape), atol=1e-13)
    np.testing.assert_allclose(without_identity.sum(axis=-1), 0.0, atol=1e-12)


@given(case=mixing_cases(), seed=seeds)
def test_mixing_reproducible_from_seed(case, seed):
    first = draw_matrices(case, seed=seed)
    again = draw_matrices(case, seed=seed)
    np.testing.assert_array_equal(first, again)


@given(case=mixing_cases())
def test_mixing_members_match_separate_draws(case):
    generators = [np.random.default_rng([case["seed"], k]) for k in range(case["members"])]
    options = {"noise_scale": case["noise_scale"], "noise_multiplier": case["noise_multiplier"],
               "sink": case["sink"]}
    ensemble = mixit_matrices(case["members"], case["heads"], case["seq_len"],
                              case["head_width"], generators, **options)
    for member in range(case["members"]):
        alone = mixit_matrices(1, case["heads"], case["seq_len"], case["head_width"],
                               [np.random.default_rng([case["seed"], member])], **options)
        np.testing.assert_array_equal(ensemble[member], alone[0])


def test_noise_std_values():
    rng = np.random.default_rng(0)
    seq_len, head_width = 16, 4
    shaped = mixing_noise_std("shaped", seq_len, head_width, 3, rng, 2)
    unshaped = mixing_noise_std("unshaped", seq_len, head_width, 3, rng, 2)
    interpolated = mixing_noise_std("interpolated", seq_len, head_width, 1000, rng, 2)

    np.testing.assert_array_equal(shaped, np.full((2, 3), 1 / 8))
    np.testing.assert_array_equal(unshaped, np.full((2, 3), 1 / 4))
    assert interpolated.shape == (2, 1000)
    assert np.all((interpolated >= 1 / 8) & (interpolated <= 1 / 4))
    # With uniform u_h the mean std is halfway. 2000 draws have a standard error of
    # 0.125 / sqrt(12 * 2000) = 8e-4, so 5e-3 is six standard errors.
    assert abs(interpolated.mean() - 3 / 16) < 5e-3


def test_unknown_noise_scale_rejected():
    with pytest.raises(ValueError, match="unknown noise scale 'wide'"):
        mixit_matrices(1, 1, 4, 4, np.random.default_rng(0), noise_scale="wide")


@pytest.mark.parametrize("noise_scale, variance", [("shaped", 1 / (8 * 4)), ("unshaped", 1 / 8)])
def test_mixing_noise_variance(noise_scale, variance):
    """The centred noise of row ``i`` has variance ``s**2 (1 - 1 / (i + 1))`` per entry."""
    seq_len, head_width, members = 8, 4, 4000
    matrices = mixit_matrices(members, 1, seq_len, head_width, np.random.default_rng(7),
                              noise_scale=noise_scale)
    noise = matrices[:, 0] - np.eye(seq_len)
    row = seq_len - 1
    measured = noise[:, row, :].var()
    expected = variance * (1 - 1 / seq_len)
    # For 32,000 entries the relative standard error of a variance is about
    # sqrt(2 / 32000) = 0.8%, so 5% is six standard errors.
    assert measured == pytest.approx(expected, rel=0.05)


def test_mixing_rejects_bad_sizes():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="seq_len must be an integer >= 1, got 0"):
        mixit_matrices(1, 1, 0, 4, rng)
    with pytest.raises(ValueError, match="noise_multiplier must be finite and non-negative"):
        mixit_matrices(1, 1, 3, 4, rng, noise_multiplier=-1.0)
    with pytest.raises(ValueError, match="got 2 generators for 3 members"):
        mixit_matrices(3, 1, 3, 4, [rng, rng])


def test_pattern_factory_depends_on_name_only():
    make_pattern = mixit_pattern_factory(5, heads=2, seq_len=4, head_width=3)
    first = make_pattern("layers.1.attention", 1).matrices
    make_pattern("layers.0.attention", 0)
    again = make_pattern("layers.1.attention", 1).matrices
    other = make_pattern("layers.2.attention", 2).matrices

    assert first.shape == (2, 4, 4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_pattern_factory_per_member_seeds():
    per_member = mixit_pattern_factory([3, 4], heads=2, seq_len=4, head_width=3, sink=True)
    shared = mixit_pattern_factory(4, heads=2, seq_len=4, head_width=3, sink=True)
    matrices = per_member("layers.0.attention", 0).matrices

    assert matrices.shape == (2, 2, 4, 4)
    np.testing.assert_array_equal(matrices[1], shared("layers.0.attention", 0).matrices)


def test_mixit_transformer_forward():
    """A transformer with MixiT patterns runs, and its attention is the drawn matrices."""
    shape = TransformerShape(vocab_size=5, seq_len=6, width=8, depth=2, heads=2,
                             norm="rmsnorm", bias=False)
    scales = evaluate_table(make_table("sp"), shape.width, shape.depth, BaseShape())
    make_pattern = mixit_pattern_factory([1, 2, 3], shape.heads, shape.seq_len,
                                         shape.head_width, noise_scale="interpolated",
                                         sink=True)
    model = Transformer(shape, scales, make_pattern)
    generators = [np.random.default_rng(k) for k in range(3)]
    initialize(model.parameters(), scales, np.full(3, 0.02), generators)
    tokens = np.random.default_rng(9).integers(0, 5, size=(3, 2, 6))

    logits, cache = model.forward(tokens)
    pattern = model.blocks[0].branch.layers[1].pattern

    assert isinstance(pattern, FixedAttention)
    assert logits.shape == (3, 2, 6, 5)
    assert np.all(np.isfinite(logits))
    np.testing.assert_array_equal(cache["attention"][0][:, 0], pattern.matrices)
    assert math.isclose(float(cache["attention"][0][0, 0, 0, 0].sum()), 0.5)
