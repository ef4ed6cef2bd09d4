"""SGD and AdamW against reference formulas, and their per-member behaviour."""

import numpy as np
import pytest

from sims.hyperparameters import BaseHyperparameters, GroupScales, ShapeScales
from sims.optim import CHUNK, SGD, AdamW, make_optimizer
from sims.parameters import Parameter
from sims.runs import RunConfig, build_ensemble
from sims.training import train_step

RTOL = 1e-12
ATOL = 1e-14
"""Tolerances against the reference formulas, for parameters of order one in float64.
``ATOL`` covers entries that cancel to near zero, where a relative bound is too strict."""
MEMBERS = 3
LR = np.array([1e-2, 3e-2, 5e-3])
BETAS = (0.9, 0.95)

SCALES = ShapeScales(
    groups={
        "matrix": GroupScales(init_std=1.0, lr=0.5, eps=2.0, weight_decay=3.0),
        "vector": GroupScales(init_std=1.0, lr=2.0, eps=0.1, weight_decay=0.0),
        "unit": GroupScales(init_std=1.0, lr=1.0, eps=1.0, weight_decay=1.0),
    },
    residual_multiplier=1.0, unembedding_multiplier=1.0,
    width_multiplier=1.0, depth_multiplier=1.0,
)


def make_parameters(rng, groups=("matrix", "vector")):
    shapes = {"matrix": (3, 4), "vector": (5,), "unit": (4,)}
    parameters = []
    for group in groups:
        parameter = Parameter(f"{group}.value", group, shapes[group])
        parameter.value = rng.standard_normal((MEMBERS,) + parameter.shape)
        parameters.append(parameter)
    return parameters


def draw_gradients(rng, parameters, scale=1.0):
    return [scale * rng.standard_normal(p.value.shape) for p in parameters]


def clip_factors(gradients, grad_clip):
    if grad_clip is None:
        return np.ones(MEMBERS)
    squared = sum((g.reshape(MEMBERS, -1) ** 2).sum(axis=1) for g in gradients)
    norms = np.sqrt(squared)
    return np.where(norms > grad_clip, grad_clip / norms, 1.0)


def reference_adamw(values, gradient_steps, eps, weight_decay, lr_scales, grad_clip, groups):
    """Apply decoupled decay, bias-corrected moments and the AdamW step, one member at a time."""
    beta1, beta2 = BETAS
    values = [v.copy() for v in values]
    first = [np.zeros_like(v) for v in values]
    second = [np.zeros_like(v) for v in values]
    for step, (gradients, lr_scale) in enumerate(zip(gradient_steps, lr_scales), start=1):
        clip = clip_factors(gradients, grad_clip)
        for i, group in enumerate(groups):
            factors = SCALES.groups[group]
            for k in range(MEMBERS):
                lr = LR[k] * factors.lr * lr_scale
                g = gradients[i][k] * clip[k]
                values[i][k] *= 1.0 - lr * weight_decay * factors.weight_decay
                first[i][k] = beta1 * first[i][k] + (1 - beta1) * g
                second[i][k] = beta2 * second[i][k] + (1 - beta2) * g * g
                m_hat = first[i][k] / (1 - beta1**step)
                v_hat = second[i][k] / (1 - beta2**step)
                values[i][k] -= lr * m_hat / (np.sqrt(v_hat) + eps * factors.eps)
    return values


def run_optimizer(optimizer, parameters, gradient_steps, lr_scales):
    for gradients, lr_scale in zip(gradient_steps, lr_scales):
        for parameter, gradient in zip(parameters, gradients):
            parameter.grad = gradient.copy()
        optimizer.step(lr_scale)


@pytest.mark.parametrize("grad_clip", [None, 2.0])
@pytest.mark.parametrize("weight_decay", [0.0, 0.2])
def test_adamw_matches_reference(weight_decay, grad_clip):
    rng = np.random.default_rng(0)
    parameters = make_parameters(rng)
    initial = [p.value.copy() for p in parameters]
    gradient_steps = [draw_gradients(rng, parameters) for _ in range(5)]
    lr_scales = [1.0, 1.0, 0.5, 0.25, 1.0]
    eps = 1e-3

    optimizer = AdamW(parameters, SCALES, LR, eps=eps, weight_decay=weight_decay, betas=BETAS,
                      grad_clip=grad_clip)
    run_optimizer(optimizer, parameters, gradient_steps, lr_scales)
    expected = reference_adamw(initial, gradient_steps, eps, weight_decay, lr_scales, grad_clip,
                               [p.group for p in parameters])

    for parameter, value in zip(parameters, expected):
        np.testing.assert_allclose(parameter.value, value, rtol=RTOL, atol=ATOL,
                                   err_msg=parameter.name)


def test_adamw_across_chunk_boundary():
    rng = np.random.default_rng(8)
    parameter = Parameter("long.value", "unit", (CHUNK + 7,))
    parameter.value = rng.standard_normal((MEMBERS,) + parameter.shape)
    initial = [parameter.value.copy()]
    gradient_steps = [draw_gradients(rng, [parameter]) for _ in range(3)]
    lr_scales = [1.0] * 3

    optimizer = AdamW([parameter], SCALES, LR, eps=1e-3, weight_decay=0.2, betas=BETAS,
                      grad_clip=50.0)
    run_optimizer(optimizer, [parameter], gradient_steps, lr_scales)
    (expected,) = reference_adamw(initial, gradient_steps, 1e-3, 0.2, lr_scales, 50.0, ["unit"])

    np.testing.assert_allclose(parameter.value, expected, rtol=RTOL, atol=ATOL)


def test_first_adam_step_is_sign():
    rng = np.random.default_rng(1)
    parameters = make_parameters(rng)
    initial = [p.value.copy() for p in parameters]
    gradients = draw_gradients(rng, parameters)
    optimizer = AdamW(parameters, SCALES, LR, eps=1e-30, weight_decay=0.0, betas=BETAS)
    run_optimizer(optimizer, parameters, [gradients], [1.0])

    for parameter, before, gradient in zip(parameters, initial, gradients):
        lr = LR[:, None] * SCALES.groups[parameter.group].lr
        expected = -lr * np.sign(gradient).reshape(MEMBERS, -1)
        update = (parameter.value - before).reshape(MEMBERS, -1)
        np.testing.assert_allclose(update, expected, rtol=1e-10, err_msg=parameter.name)


@pytest.mark.parametrize("weight_decay", [0.0, 0.2])
def test_sgd_matches_reference(weight_decay):
    rng = np.random.default_rng(2)
    parameters = make_parameters(rng)
    expected = [p.value.copy() for p in parameters]
    gradient_steps = [draw_gradients(rng, parameters) for _ in range(3)]
    optimizer = SGD(parameters, SCALES, LR, weight_decay=weight_decay)
    run_optimizer(optimizer, parameters, gradient_steps, [1.0] * 3)

    for gradients in gradient_steps:
        for value, gradient, parameter in zip(expected, gradients, parameters):
            factors = SCALES.groups[parameter.group]
            lr = (LR * factors.lr).reshape((MEMBERS,) + (1,) * (value.ndim - 1))
            decay = weight_decay * factors.weight_decay
            value[...] = value * (1.0 - lr * decay) - lr * gradient

    for parameter, value in zip(parameters, expected):
        np.testing.assert_allclose(parameter.value, value, rtol=RTOL, atol=ATOL,
                                   err_msg=parameter.name)


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_frozen_parameter_never_changes(name):
    rng = np.random.default_rng(3)
    parameters = make_parameters(rng)
    frozen = parameters[0]
    frozen.trainable = False
    before = frozen.value.copy()
    base = BaseHyperparameters(eps=1e-8, weight_decay=0.5)
    optimizer = make_optimizer(name, parameters, SCALES, LR, base)
    for _ in range(3):
        for parameter, gradient in zip(parameters, draw_gradients(rng, parameters)):
            parameter.accumulate(gradient)
        optimizer.step()
        for parameter in parameters:
            parameter.zero_grad()
    np.testing.assert_array_equal(frozen.value, before)


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_frozen_groups_never_change_in_training(optimizer):
    config = RunConfig(width=8, depth=2, context=4, batch_size=8, base_width=4,
                       optimizer=optimizer, lr=1e-2, weight_decay=0.5,
                       trainable_groups=("hidden_weight",))
    ensemble = build_ensemble([config])
    parameters = ensemble.model.parameters()
    before = [p.value.copy() for p in parameters]
    active = np.ones(1, dtype=bool)
    for _ in range(3):
        train_step(ensemble, active)
    for parameter, value in zip(parameters, before):
        if parameter.group == "hidden_weight":
            assert not np.array_equal(parameter.value, value), parameter.name
        else:
            np.testing.assert_array_equal(parameter.value, value, err_msg=parameter.name)


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_inactive_member_is_untouched(name):
    rng = np.random.default_rng(4)
    parameters = make_parameters(rng)
    before = [p.value.copy() for p in parameters]
    base = BaseHyperparameters(eps=1e-8, weight_decay=0.5)
    optimizer = make_optimizer(name, parameters, SCALES, LR, base)
    active = np.array([True, False, True])
    for _ in range(2):
        for parameter, gradient in zip(parameters, draw_gradients(rng, parameters)):
            parameter.grad = gradient
        optimizer.step(active=active)
    for parameter, value in zip(parameters, before):
        np.testing.assert_array_equal(parameter.value[1], value[1], err_msg=parameter.name)
        assert not np.array_equal(parameter.value[0], value[0]), parameter.name


@pytest.mark.parametrize("grad_clip", [None, 1.0])
@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_nan_gradient_stays_in_its_member(name, grad_clip):
    rng = np.random.default_rng(5)
    shapes = make_parameters(rng)
    gradient_steps = [draw_gradients(rng, shapes) for _ in range(3)]
    base = BaseHyperparameters(eps=1e-8, weight_decay=0.5)

    def run(poison):
        parameters = make_parameters(np.random.default_rng(5))
        optimizer = make_optimizer(name, parameters, SCALES, LR, base, grad_clip=grad_clip)
        for step, gradients in enumerate(gradient_steps):
            for parameter, gradient in zip(parameters, gradients):
                parameter.grad = gradient.copy()
            if poison and step == 1:
                parameters[0].grad[0, 1, 2] = np.nan
            optimizer.step()
        return parameters

    clean = run(poison=False)
    poisoned = run(poison=True)
    assert np.isnan(poisoned[0].value[0]).any()
    for a, b in zip(clean, poisoned):
        np.testing.assert_array_equal(b.value[1:], a.value[1:], err_msg=a.name)


def test_gradient_clipping_acts_per_member():
    rng = np.random.default_rng(6)
    parameters = make_parameters(rng, groups=("unit",))
    before = parameters[0].value.copy()
    gradient = rng.standard_normal(parameters[0].value.shape)
    gradient /= np.linalg.norm(gradient, axis=1, keepdims=True)
    gradient *= np.array([10.0, 0.5, 3.0])[:, None]
    grad_clip = 2.0

    optimizer = SGD(parameters, SCALES, LR, grad_clip=grad_clip)
    parameters[0].grad = gradient.copy()
    optimizer.step()

    update = parameters[0].value - before
    expected = -LR[:, None] * gradient * np.array([0.2, 1.0, 2.0 / 3.0])[:, None]
    np.testing.assert_allclose(update, expected, rtol=RTOL, atol=ATOL)


def test_nonpositive_lr_raises():
    parameters = make_parameters(np.random.default_rng(0))
    with pytest.raises(ValueError, match="0.0"):
        SGD(parameters, SCALES, np.array([1e-2, 0.0, 1e-3]))
