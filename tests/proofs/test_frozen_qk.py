"""The Frozen-QK constructions: identities at machine precision over random shapes."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs import frozen_qk


@st.composite
def reduction_shapes(draw):
    heads = draw(st.integers(1, 3))
    head_width = draw(st.integers(1, 4))
    width = 2 * heads * head_width + draw(st.integers(1, 8))
    return width, heads, head_width, draw(st.integers(1, 12)), draw(st.integers(0, 2**32 - 1))


@given(reduction_shapes())
def test_rank_one_reduction_logits(shape):
    width, heads, head_width, length, seed = shape
    generator = np.random.default_rng(seed)
    query, key = frozen_qk.frozen_qk_weights(heads, head_width, width, generator)
    result = frozen_qk.rank_one_reduction(query, key, length, generator)
    assert result["relative_residual"] < 1e-13
    assert np.abs(np.einsum("hkn,tn->htk", query, result["positions"])).max() < 1e-12
    assert np.abs(np.einsum("hkn,tn->htk", key, result["positions"])).max() < 1e-12


@pytest.mark.parametrize("width, heads, head_width", [(6, 1, 3), (8, 2, 2), (3, 1, 2)])
def test_rank_one_reduction_rejects_narrow_width(width, heads, head_width):
    generator = np.random.default_rng(0)
    query, key = frozen_qk.frozen_qk_weights(heads, head_width, width, generator)
    with pytest.raises(ValueError, match=f"width n = {width}"):
        frozen_qk.rank_one_reduction(query, key, 4, generator)


def test_common_kernel_dimension():
    generator = np.random.default_rng(1)
    query, key = frozen_qk.frozen_qk_weights(2, 3, 20, generator)
    assert frozen_qk.common_kernel(query, key).shape == (20, 20 - 12)


def finite_difference_jacobian(features, query, key, step=1e-6):
    def feature_map(flat):
        tokens = frozen_qk.one_hot_sequence(flat.reshape(features.shape))
        logits = frozen_qk.attention_logits(tokens, query, key)[:, -1, :]
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        return np.concatenate([tokens[-1], (weights @ tokens).ravel()])

    flat = features.ravel()
    columns = []
    for index in range(flat.size):
        shift = np.zeros_like(flat)
        shift[index] = step
        columns.append((feature_map(flat + shift) - feature_map(flat - shift)) / (2 * step))
    return np.stack(columns, axis=1)


@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_frozen_qk_jacobian_matches_differences(feature_width, length, heads, seed):
    generator = np.random.default_rng(seed)
    features = generator.standard_normal((length, feature_width))
    query, key = frozen_qk.frozen_qk_weights(heads, 4, feature_width + length, generator)
    analytic = frozen_qk.frozen_qk_feature_jacobian(features, 2 * query, 2 * key)
    numeric = finite_difference_jacobian(features, 2 * query, 2 * key)
    assert np.abs(analytic - numeric).max() < 1e-7 * max(1.0, np.abs(analytic).max())


@given(st.integers(1, 4), st.integers(2, 7), st.integers(1, 7), st.integers(0, 2**32 - 1))
def test_jacobian_ranks_equal_derived(feature_width, length, heads, seed):
    result = frozen_qk.feature_jacobian_rank(feature_width, length, heads, 8,
                                             np.random.default_rng(seed))
    assert result["mixit"]["rank"] == feature_width * min(heads + 1, length)
    assert result["frozen_qk"]["rank"] == result["frozen_qk"]["predicted"]
    assert result["frozen_qk"]["rank"] >= result["mixit"]["rank"]


def test_predicted_ranks_examples():
    # d = 2, T = 6: Frozen-QK is full (12) from H = 2 on, MixiT only from H = 5.
    assert [frozen_qk.predicted_ranks(2, 6, heads)["frozen_qk"] for heads in range(1, 6)] \
        == [8, 12, 12, 12, 12]
    assert [frozen_qk.predicted_ranks(2, 6, heads)["mixit"] for heads in range(1, 6)] \
        == [4, 6, 8, 10, 12]
    # H < min(d, T - 1): the gain over MixiT is H (T - 1 - H).
    ranks = frozen_qk.predicted_ranks(5, 8, 2)
    assert ranks["frozen_qk"] - ranks["mixit"] == 2 * (8 - 1 - 2)


@given(st.integers(1, 3), st.integers(2, 12), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_blind_spot_fools_mixit_only(heads, width, extra, seed):
    length = heads + 1 + extra
    result = frozen_qk.blind_spot_differences(width, length, heads, 4,
                                              np.random.default_rng(seed), weight_draws=2)
    assert result["kernel_dimension"] == length - 1 - heads
    assert result["mixit"] < 1e-12
    assert result["frozen_qk"] > 1e-6


def test_blind_spot_prefix_differs_before_last():
    generator = np.random.default_rng(3)
    tokens = generator.standard_normal((6, 5))
    mixing = frozen_qk.mixit_matrices(1, 2, 6, 4, generator)[0]
    pair = frozen_qk.mixit_blind_spot(tokens, mixing, generator)
    assert np.array_equal(pair["perturbed"][-1], tokens[-1])
    assert np.linalg.norm(pair["perturbed"] - tokens) == pytest.approx(np.linalg.norm(tokens))
    assert np.abs(mixing[:, -1, :-1] @ pair["kernel_vector"]).max() < 1e-14


@pytest.mark.parametrize("heads, length", [(1, 2), (2, 3), (4, 5)])
def test_blind_spot_rejects_short_sequences(heads, length):
    generator = np.random.default_rng(0)
    mixing = frozen_qk.mixit_matrices(1, heads, length, 4, generator)[0]
    with pytest.raises(ValueError, match=f"seq_len T = {length}"):
        frozen_qk.mixit_blind_spot(np.ones((length, 3)), mixing, generator)


@st.composite
def induction_shapes(draw):
    head_width = draw(st.integers(8, 20))
    vocab_size = draw(st.integers(4, head_width))
    half = draw(st.integers(2, min(vocab_size - 1, (head_width - 2) // 2)))
    length = 2 * half + 1
    width = max(4 * head_width, 3 * vocab_size + length) + draw(st.integers(4, 30))
    return width, head_width, vocab_size, length, draw(st.integers(0, 2**32 - 1))


@given(induction_shapes(), st.floats(10.0, 16.0))
def test_induction_head_solves_repeats(shape, beta):
    width, head_width, vocab_size, length, seed = shape
    generator = np.random.default_rng(seed)
    construction = frozen_qk.induction_construction(width, head_width, vocab_size, length, beta,
                                                    generator)
    sequences = frozen_qk.repeated_sequences(5, (length - 1) // 2, vocab_size, generator)
    result = frozen_qk.induction_accuracy(construction, sequences)
    assert result["accuracy"] == 1.0
    assert result["previous_token_mass"] > result["previous_token_bound"]
    assert result["previous_token_mass"] == pytest.approx(result["previous_token_exact"],
                                                          rel=1e-12)
    assert result["induction_mass"] > result["induction_bound"]


def test_induction_vectors_meet_targets():
    generator = np.random.default_rng(5)
    construction = frozen_qk.induction_construction(153, 32, 17, 25, 12.0, generator)
    query, key = construction["query"], construction["key"]
    logits = (query[0] @ construction["positions"].T).T @ (key[0] @ construction["positions"].T)
    expected = 12.0 * np.eye(25, k=-1)
    assert np.abs(logits / math.sqrt(32) - expected).max() < 1e-10
    for layer in (query[0], key[0], key[1]):
        assert np.abs(layer @ construction["embeddings"].T).max() < 1e-10
    stream = np.concatenate([construction["embeddings"], construction["positions"],
                             construction["previous"]])
    assert np.abs(construction["output_codes"] @ stream.T).max() < 1e-10
    assert np.linalg.matrix_rank(construction["layer1"]) == 17


@pytest.mark.parametrize("width, head_width, vocab_size, seq_len, message", [
    (127, 32, 17, 25, "width n = 127"),
    (200, 16, 17, 9, "head_width n_h = 16"),
    (200, 24, 17, 25, "head_width n_h = 24"),
    (200, 32, 33, 25, "head_width n_h = 32"),
    (130, 24, 17, 25, "head_width n_h = 24"),
])
def test_induction_rejects_shapes_outside_limits(width, head_width, vocab_size, seq_len,
                                                 message):
    with pytest.raises(ValueError, match=message):
        frozen_qk.induction_construction(width, head_width, vocab_size, seq_len, 12.0,
                                         np.random.default_rng(0))


def test_gram_condition_grows_near_limit():
    generator = np.random.default_rng(2)
    conditions = [frozen_qk.gram_condition(width, 16, generator)["measured"]
                  for width in (512, 128, 72, 64)]
    assert conditions == sorted(conditions)
    assert frozen_qk.gram_condition(64, 16, generator)["estimate"] == math.inf
    with pytest.raises(ValueError, match="width n = 63"):
        frozen_qk.gram_condition(63, 16, generator)
