"""At the base shape (m_N = m_L = 1) every parameterization trains the same network."""

import numpy as np
import pytest

from sims.hyperparameters import BaseHyperparameters, BaseShape, evaluate_table, make_table
from sims.init import initialize
from sims.models import ResidualMLP, ResidualMLPShape
from sims.optim import make_optimizer

BASE_SHAPE = BaseShape(width=6, depth=3)
SHAPE = ResidualMLPShape(vocab_size=5, context=3, width=6, depth=3, activation="gelu")
COLUMNS = [("sp", None), ("mup", None), ("alpha", 0.0), ("alpha", 0.5), ("alpha", 1.0),
           ("alpha", 1.5)]
MEMBERS = 2
STEPS = 3


def batch():
    rng = np.random.default_rng(11)
    tokens = rng.integers(0, SHAPE.vocab_size, size=(MEMBERS, 8, SHAPE.context))
    targets = rng.integers(0, SHAPE.vocab_size, size=(MEMBERS, 8))
    return tokens, targets


def build(parameterization, alpha, optimizer):
    table = make_table(parameterization, alpha, optimizer)
    scales = evaluate_table(table, SHAPE.width, SHAPE.depth, BASE_SHAPE, optimizer)
    model = ResidualMLP(SHAPE, scales)
    generators = [np.random.default_rng([5, k]) for k in range(MEMBERS)]
    initialize(model.parameters(), scales, np.array([0.5, 0.8]), generators)
    return model, scales


def train(parameterization, alpha, optimizer_name):
    model, scales = build(parameterization, alpha, optimizer_name)
    base = BaseHyperparameters(eps=1e-8, weight_decay=0.1)
    optimizer = make_optimizer(optimizer_name, model.parameters(), scales,
                               np.array([1e-2, 3e-2]), base)
    tokens, targets = batch()
    for _ in range(STEPS):
        model.loss_and_gradients(tokens, targets)
        optimizer.step()
    return [parameter.value for parameter in model.parameters()]


def assert_same_values(values, reference, label):
    for value, expected in zip(values, reference, strict=True):
        np.testing.assert_array_equal(value, expected, err_msg=label)


@pytest.fixture(scope="module")
def reference_model():
    return build("sp", None, "adamw")[0]


@pytest.mark.parametrize("parameterization, alpha", COLUMNS[1:])
def test_initial_parameters_match_sp(reference_model, parameterization, alpha):
    model, _ = build(parameterization, alpha, "adamw")
    values = [parameter.value for parameter in model.parameters()]
    reference = [parameter.value for parameter in reference_model.parameters()]
    assert_same_values(values, reference, f"{parameterization}, alpha {alpha}")


@pytest.mark.parametrize("parameterization, alpha", COLUMNS[1:])
def test_initial_logits_match_sp(reference_model, parameterization, alpha):
    model, _ = build(parameterization, alpha, "adamw")
    tokens, _ = batch()
    logits, _ = model.forward(tokens)
    expected, _ = reference_model.forward(tokens)
    np.testing.assert_array_equal(logits, expected)


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
@pytest.mark.parametrize("parameterization, alpha", COLUMNS[1:])
def test_trained_parameters_match_sp(parameterization, alpha, optimizer):
    values = train(parameterization, alpha, optimizer)
    reference = train("sp", None, optimizer)
    assert_same_values(values, reference, f"{parameterization}, alpha {alpha}, {optimizer}")


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_training_moves_parameters(optimizer):
    model, _ = build("sp", None, optimizer)
    initial = [parameter.value.copy() for parameter in model.parameters()]
    trained = train("sp", None, optimizer)
    changed = [not np.array_equal(a, b) for a, b in zip(initial, trained)]
    assert all(changed)
