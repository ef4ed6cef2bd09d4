"""The linearization measurement against a recomputation of its definition.

The test replays the measurement's protocol (same run, same batch, same optimizer steps)
to obtain the weight change ``dW``. It then evaluates the block
``F = W2 phi(W1 LN(u) + b1) + b2`` with its own NumPy code, with
``dF_lin = (phi'(z) * (x @ dW1)) @ W2 + phi(z) @ dW2`` at the weights before the steps.
"""

import numpy as np
import pytest
from scipy import special

from sims.data import load_corpus, sample_batch
from sims.linearization import linearization, measured_block_index
from sims.runs import RunConfig, build_ensemble

RUN = RunConfig(width=8, depth=3, context=4, batch_size=16, base_width=4, optimizer="adam",
                lr=1e-2)



def rms(x):
    return float(np.sqrt(np.mean(x * x)))


def activation_and_derivative(name, z):
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(z.dtype)
    if name == "tanh":
        return np.tanh(z), 1.0 - np.tanh(z) ** 2
    cdf = special.ndtr(z)
    return z * cdf, cdf + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def replay(run, steps=1):
    """Replay the protocol for one run and return the block's input, weights and weight changes."""
    ensemble = build_ensemble([run])
    model = ensemble.model
    index = measured_block_index(run)
    norm, fc1, _, fc2 = model.blocks[index].branch.layers
    for parameter in model.parameters():
        parameter.trainable = parameter in (fc1.weight, fc2.weight)
    tokens, targets = sample_batch(load_corpus().train, run.context, run.batch_size,
                                   ensemble.data_generators)
    w1 = fc1.weight.value[0].copy()
    w2 = fc2.weight.value[0].copy()

    _, cache = model.loss_and_gradients(tokens, targets)
    u = cache["stream"][index][0]
    for _ in range(steps):
        ensemble.optimizer.step()
        model.loss_and_gradients(tokens, targets)

    centred = u - u.mean(axis=-1, keepdims=True)
    normalized = centred / np.sqrt(np.mean(centred**2, axis=-1, keepdims=True) + norm.eps)
    x = normalized * norm.gain.value[0] + norm.bias.value[0]
    return {
        "x": x, "w1": w1, "w2": w2,
        "dw1": fc1.weight.value[0] - w1, "dw2": fc2.weight.value[0] - w2,
        "b1": fc1.bias.value[0], "b2": fc2.bias.value[0],
    }


def block_terms(run, pieces):
    x, w1, w2, dw1, dw2 = (pieces[name] for name in ("x", "w1", "w2", "dw1", "dw2"))
    z = x @ w1 + pieces["b1"]
    activation, derivative = activation_and_derivative(run.activation, z)
    moved_activation, _ = activation_and_derivative(run.activation, x @ (w1 + dw1) + pieces["b1"])
    output = activation @ w2 + pieces["b2"]
    moved = moved_activation @ (w2 + dw2) + pieces["b2"]
    linear = (derivative * (x @ dw1)) @ w2 + activation @ dw2
    return {
        "z": z, "moved_z": x @ (w1 + dw1) + pieces["b1"], "derivative": derivative,
        "output": output, "change": moved - output, "linear": linear,
        "remainder": moved - output - linear,
    }


@pytest.fixture(scope="module", params=["gelu", "tanh"])
def smooth_case(request):
    run = RUN.replace(activation=request.param)
    pieces = replay(run)
    return linearization([run])[0], pieces, block_terms(run, pieces)


def test_measured_block_index():
    indices = [measured_block_index(RUN.replace(depth=depth)) for depth in (1, 2, 3, 4, 7)]
    assert indices == [0, 1, 1, 2, 3]


def test_measured_block_index_transformer():
    transformer = RUN.replace(model="transformer", width=8, heads=2, seq_len=4, depth=5)
    assert measured_block_index(transformer) == 4
    assert measured_block_index(transformer, "mlp") == 5


def test_result_names_block(smooth_case):
    measured, _, _ = smooth_case
    assert measured["block"] == measured_block_index(RUN)


def test_output_rms(smooth_case):
    measured, _, terms = smooth_case
    assert measured["output_rms"] == pytest.approx(rms(terms["output"]), rel=1e-10)


def test_change_rms(smooth_case):
    measured, _, terms = smooth_case
    assert measured["change_rms"] == pytest.approx(rms(terms["change"]), rel=1e-8)


def test_weight_change(smooth_case):
    measured, pieces, _ = smooth_case
    expected = np.sqrt(np.sum(pieces["dw1"] ** 2) + np.sum(pieces["dw2"] ** 2))
    assert measured["weight_change"] == pytest.approx(expected, rel=1e-12)


def test_laziness_ratio_is_remainder_over_linear(smooth_case):
    measured, _, _ = smooth_case
    expected = measured["remainder_rms"] / measured["linear_rms"]
    assert measured["laziness_ratio"] == pytest.approx(expected, rel=1e-12)


def test_linear_rms(smooth_case):
    measured, _, terms = smooth_case
    assert measured["linear_rms"] == pytest.approx(rms(terms["linear"]), rel=1e-6)


def test_remainder_rms(smooth_case):
    measured, _, terms = smooth_case
    assert measured["remainder_rms"] == pytest.approx(rms(terms["remainder"]), rel=1e-6)


def test_relu_remainder_is_bilinear_term():
    # With a step too small to flip any ReLU, F(W + dW) - F(W) - dF_lin is exactly the
    # bilinear term dW2 applied to (mask * (x @ dW1)), which is not zero.
    run = RUN.replace(activation="relu", lr=1e-4)
    pieces = replay(run)
    terms = block_terms(run, pieces)
    assert np.array_equal(terms["z"] > 0, terms["moved_z"] > 0)

    bilinear = (terms["derivative"] * (pieces["x"] @ pieces["dw1"])) @ pieces["dw2"]
    measured = linearization([run])[0]
    assert measured["remainder_rms"] == pytest.approx(rms(bilinear), rel=1e-4)
