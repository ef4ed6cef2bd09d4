"""Tests of the masked cross-entropy and the transformer's masked loss, in float64."""

import numpy as np
import pytest

from sims.hyperparameters import BaseShape, evaluate_table, make_table
from sims.init import initialize
from sims.layers import masked_softmax_cross_entropy, softmax_cross_entropy
from sims.models.transformer import Transformer, TransformerShape

STEP = 1e-6
RTOL = 1e-6
ATOL = 1e-9


def random_case(seed, members=3, batch=4, length=5, vocab=7):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((members, batch, length, vocab))
    targets = rng.integers(0, vocab, size=(members, batch, length))
    mask = rng.random((members, batch, length)) < 0.4
    mask[:, 0, -1] = True
    return logits, targets, mask


@pytest.mark.parametrize("seed", range(4))
def test_masked_gradient_matches_finite_differences(seed):
    logits, targets, mask = random_case(seed)
    _, dlogits = masked_softmax_cross_entropy(logits, targets, mask)
    numeric = np.zeros_like(logits)
    flat_logits = logits.reshape(-1)
    flat_numeric = numeric.reshape(-1)
    for index in range(flat_logits.size):
        saved = flat_logits[index]
        flat_logits[index] = saved + STEP
        upper = masked_softmax_cross_entropy(logits, targets, mask)[0].sum()
        flat_logits[index] = saved - STEP
        lower = masked_softmax_cross_entropy(logits, targets, mask)[0].sum()
        flat_logits[index] = saved
        flat_numeric[index] = (upper - lower) / (2 * STEP)
    np.testing.assert_allclose(dlogits, numeric, rtol=RTOL, atol=ATOL)


def test_all_true_mask_equals_unmasked_loss():
    logits, targets, _ = random_case(5)
    mask = np.ones(targets.shape, dtype=bool)
    masked_loss, masked_grad = masked_softmax_cross_entropy(logits, targets, mask)
    loss, grad = softmax_cross_entropy(logits, targets)
    np.testing.assert_allclose(masked_loss, loss, rtol=1e-14)
    np.testing.assert_allclose(masked_grad, grad, rtol=1e-12, atol=1e-16)


def test_masked_loss_is_mean_over_masked_positions():
    logits, targets, mask = random_case(6)
    loss, _ = masked_softmax_cross_entropy(logits, targets, mask)
    for k in range(logits.shape[0]):
        picked = logits[k][mask[k]]
        expected, _ = softmax_cross_entropy(picked[None], targets[k][mask[k]][None])
        assert loss[k] == pytest.approx(expected[0], rel=1e-12)


def test_unmasked_positions_get_no_gradient():
    logits, targets, mask = random_case(7)
    _, dlogits = masked_softmax_cross_entropy(logits, targets, mask)
    assert np.all(dlogits[~mask] == 0.0)


def test_broadcast_mask_is_accepted():
    logits, targets, mask = random_case(8)
    shared = mask[0]
    loss, _ = masked_softmax_cross_entropy(logits, targets, shared)
    expected, _ = masked_softmax_cross_entropy(logits, targets, np.broadcast_to(shared, mask.shape))
    np.testing.assert_array_equal(loss, expected)


def test_nan_logit_affects_its_member_only():
    logits, targets, mask = random_case(9)
    clean, _ = masked_softmax_cross_entropy(logits, targets, mask)
    logits[1, 0, 0, 0] = np.nan
    loss, _ = masked_softmax_cross_entropy(logits, targets, mask)
    assert np.isnan(loss[1])
    np.testing.assert_array_equal(loss[[0, 2]], clean[[0, 2]])


def test_member_without_masked_position_raises():
    logits, targets, mask = random_case(10)
    mask[2] = False
    with pytest.raises(ValueError, match=r"members \[2\]"):
        masked_softmax_cross_entropy(logits, targets, mask)


def test_mask_of_wrong_shape_raises():
    logits, targets, _ = random_case(11)
    with pytest.raises(ValueError, match="does not broadcast"):
        masked_softmax_cross_entropy(logits, targets, np.ones((2, 2), dtype=bool))


def build_transformer(seed, members=2):
    shape = TransformerShape(vocab_size=6, seq_len=4, width=4, depth=1, heads=2, mlp_multiple=1)
    scales = evaluate_table(make_table("alpha", 1.0, "adamw"), shape.width, shape.depth,
                            BaseShape(width=4, depth=2))
    model = Transformer(shape, scales)
    rng = np.random.default_rng(seed)
    generators = [np.random.default_rng([seed, k]) for k in range(members)]
    initialize(model.parameters(), scales, np.full(members, 0.7), generators)
    for parameter in model.parameters():
        if parameter.init != "normal":
            parameter.value = parameter.value + 0.2 * rng.standard_normal(parameter.value.shape)
    return model, rng


def test_transformer_masked_gradient_matches_finite_differences():
    model, rng = build_transformer(3)
    tokens = rng.integers(0, 6, size=(2, 3, 4))
    targets = rng.integers(0, 6, size=(2, 3, 4))
    mask = np.zeros((2, 3, 4), dtype=bool)
    mask[:, :, -1] = True
    mask[0, 1, 1] = True
    model.loss_and_gradients(tokens, targets, mask)

    for parameter in model.parameters():
        flat_value = parameter.value.reshape(-1)
        flat_grad = parameter.grad.reshape(-1)
        for index in rng.choice(flat_value.size, size=min(3, flat_value.size), replace=False):
            saved = flat_value[index]
            flat_value[index] = saved + STEP
            upper = model.loss(tokens, targets, mask).sum()
            flat_value[index] = saved - STEP
            lower = model.loss(tokens, targets, mask).sum()
            flat_value[index] = saved
            numeric = (upper - lower) / (2 * STEP)
            np.testing.assert_allclose(flat_grad[index], numeric, rtol=RTOL, atol=1e-8,
                                       err_msg=f"{parameter.name}[{index}]")


def test_transformer_without_mask_is_unchanged():
    model, rng = build_transformer(4)
    tokens = rng.integers(0, 6, size=(2, 3, 4))
    targets = rng.integers(0, 6, size=(2, 3, 4))
    logits, _ = model.forward(tokens)
    expected, _ = softmax_cross_entropy(logits, targets)
    loss, _ = model.loss_and_gradients(tokens, targets)
    np.testing.assert_array_equal(loss, expected)
    np.testing.assert_array_equal(model.loss(tokens, targets), expected)
