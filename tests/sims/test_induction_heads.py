"""Tests of the previous-token and induction scores and of the trained induction-head runs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.induction_heads import (
    INDUCTION_HEAD_SCALES, best_heads, head_scores, induction_head_runs, induction_score,
    previous_token_score, uniform_scores,
)


def repeated(tokens):
    return np.array([list(tokens) + list(tokens)])


def previous_token_matrix(length):
    """Causal attention of row i on i - 1, row 0 on itself."""
    matrix = np.zeros((length, length))
    matrix[0, 0] = 1.0
    matrix[np.arange(1, length), np.arange(length - 1)] = 1.0
    return matrix


def induction_matrix(tokens):
    """Attention of each row on the key after the earlier occurrence of its token, else on itself."""
    length = len(tokens)
    matrix = np.zeros((length, length))
    for i, token in enumerate(tokens):
        earlier = [j + 1 for j in range(i) if tokens[j] == token]
        matrix[i, earlier[-1] if earlier else i] = 1.0
    return matrix


def test_previous_token_head_scores_one():
    tokens = repeated([3, 1, 4, 2])
    attention = previous_token_matrix(8)[None, None]
    assert previous_token_score(attention, tokens)[0] == 1.0
    # It attends to the token after an earlier occurrence only where that is i - 1.
    assert induction_score(attention, tokens)[0] == 0.0


def test_induction_head_scores_one():
    tokens = repeated([3, 1, 4, 2])
    attention = induction_matrix(tokens[0])[None, None]
    assert induction_score(attention, tokens)[0] == 1.0
    assert previous_token_score(attention, tokens)[0] < 0.5


def test_pad_rows_are_left_out():
    pad = 9
    tokens = np.array([[pad, pad, 3, 1, 3, 1]])
    attention = previous_token_matrix(6)
    # Put all of a pad row's mass elsewhere: the score must not change.
    attention[1] = 0.0
    attention[1, 1] = 1.0
    assert previous_token_score(attention[None, None], tokens, pad)[0] == 1.0
    with_pads_scored = previous_token_score(attention[None, None], tokens)[0]
    assert with_pads_scored < 1.0


def test_uniform_scores_match_uniform_attention():
    tokens = np.array([[0, 1, 2, 0, 1, 2], [5, 4, 5, 4, 3, 3]])
    length = tokens.shape[1]
    uniform = np.tril(np.ones((length, length))) / np.arange(1, length + 1)[:, None]
    expected_previous = np.mean(1.0 / np.arange(2, length + 1))
    scores = uniform_scores(tokens)
    assert scores["previous_token"] == pytest.approx(expected_previous)
    attention = np.broadcast_to(uniform, (2, 1, length, length))
    assert scores["induction"] == pytest.approx(induction_score(attention, tokens)[0])


@given(seed=st.integers(0, 2**32 - 1), length=st.integers(2, 9), heads=st.integers(1, 3))
def test_scores_of_causal_softmax_lie_in_unit_interval(seed, length, heads):
    generator = np.random.default_rng(seed)
    tokens = generator.integers(0, 3, size=(4, length))
    tokens[:, 1] = tokens[:, 0]  # every sequence has a repeat, so induction rows exist
    logits = generator.normal(0.0, 3.0, (4, heads, length, length))
    logits = np.where(np.tril(np.ones((length, length))) > 0, logits, -np.inf)
    attention = np.exp(logits - logits.max(axis=-1, keepdims=True))
    attention /= attention.sum(axis=-1, keepdims=True)
    for score in (previous_token_score(attention, tokens), induction_score(attention, tokens)):
        assert score.shape == (heads,)
        assert np.all((score >= 0.0) & (score <= 1.0 + 1e-12))


def test_scores_without_scorable_rows_raise():
    with pytest.raises(ValueError, match="no token occurs twice"):
        induction_score(np.ones((1, 1, 3, 3)), np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="no row"):
        previous_token_score(np.ones((1, 1, 3, 3)), np.array([[7, 7, 7]]), pad_token=7)


def test_head_scores_stack_layers():
    tokens = repeated([2, 0, 1])
    layers = [np.broadcast_to(previous_token_matrix(6), (2, 1, 3, 6, 6)),
              np.broadcast_to(induction_matrix(tokens[0]), (2, 1, 3, 6, 6))]
    scores = head_scores(layers, tokens)
    assert scores["previous_token"].shape == (2, 2, 3)
    np.testing.assert_array_equal(scores["previous_token"][:, 0], 1.0)
    np.testing.assert_array_equal(scores["induction"][:, 1], 1.0)


def test_smoke_runs_report_scores_and_maps():
    settings = INDUCTION_HEAD_SCALES["smoke"]
    by_variant = induction_head_runs(settings, 0)
    assert list(by_variant) == list(settings.variants)
    seq_len = 2 * settings.task_options["length"] - 1
    for results in by_variant.values():
        assert len(results) == settings.seeds
        for result in results:
            assert result["previous_token"].shape == (settings.depth, settings.heads)
            assert result["maps"].shape == (settings.depth, settings.heads, seq_len, seq_len)
            best = best_heads(result)
            assert best["induction"]["layer"] == settings.depth - 1
            assert best["previous_token"]["score"] == np.max(result["previous_token"][0])


def test_best_heads_of_a_diverged_run():
    nan_scores = np.full((2, 3), np.nan)
    best = best_heads({"previous_token": nan_scores, "induction": nan_scores})
    assert best["previous_token"]["head"] == 0
    assert np.isnan(best["previous_token"]["score"])
    assert best["induction"]["layer"] == 1
    assert np.isnan(best["induction"]["score"])
