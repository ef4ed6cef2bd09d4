"""Tests of the transfer-sweep training runs, the schedules and the grid optimum."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.runs import RunConfig
from sims.schedules import FINAL_FRACTION, lr_factor
from sims.transfer import (
    grid_optimum, log2_grid, optimum_drift, train_and_evaluate, transfer_sweep,
)

RUN = RunConfig(width=8, depth=2, context=3, batch_size=4, base_width=8)


def test_constant_schedule_after_warmup():
    factors = [lr_factor("constant", step, 10, warmup=4) for step in range(10)]
    assert factors == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


def test_cosine_schedule_ends_at_final_fraction():
    factors = [lr_factor("cosine", step, 11, warmup=1) for step in range(11)]
    assert factors[0] == 1.0
    assert factors[1] == pytest.approx(1.0)
    assert factors[-1] == pytest.approx(FINAL_FRACTION)
    assert all(a >= b for a, b in zip(factors[1:], factors[2:]))


@pytest.mark.parametrize("schedule, steps, warmup", [
    ("linear", 10, 0), ("cosine", 0, 0), ("cosine", 10, 10), ("constant", 10, -1),
])
def test_schedule_rejects_invalid_settings(schedule, steps, warmup):
    with pytest.raises(ValueError):
        lr_factor(schedule, 0, steps, warmup)


@given(st.floats(-12, -2), st.floats(0.05, 5.0), st.floats(0.1, 3.0))
def test_grid_optimum_finds_parabola_vertex(vertex, curvature, offset):
    grid = np.arange(-14.0, 0.0)
    losses = curvature * (grid - vertex) ** 2 + offset
    result = grid_optimum(grid, losses)
    assert result["interior"]
    assert result["optimum"] == pytest.approx(vertex, abs=1e-6)
    assert result["parabola_loss"] == pytest.approx(offset, abs=1e-6)
    assert result["best_loss"] == pytest.approx(losses.min())


def test_grid_optimum_at_edge():
    result = grid_optimum([-3.0, -2.0, -1.0], [1.0, 2.0, 3.0])
    assert not result["interior"]
    assert result["optimum"] == -3.0
    assert math.isnan(result["parabola_loss"])


def test_grid_optimum_skips_diverged_points():
    result = grid_optimum([-4.0, -3.0, -2.0, -1.0], [2.0, 1.0, math.nan, math.inf])
    assert result["grid_optimum"] == -3.0
    assert not result["interior"]


def test_grid_optimum_all_diverged():
    result = grid_optimum([-2.0, -1.0], [math.nan, math.nan])
    assert math.isnan(result["optimum"])


@pytest.mark.parametrize("values", [[1e-3], [1e-3, 0.0], [1e-3, math.inf], [1e-2, 1e-3]])
def test_log2_grid_rejects_invalid_grid(values):
    with pytest.raises(ValueError):
        log2_grid(values)


def test_training_runs_report_final_losses():
    runs = [RUN.replace(lr=lr) for lr in (1e-3, 1e-2)]
    results = train_and_evaluate(runs, steps=6, warmup=1, eval_size=16)
    for result in results:
        assert np.isfinite(result["train_loss"])
        assert np.isfinite(result["heldout_loss"])
        assert result["loss_curve"].shape == (6,)
        assert not result["diverged"]


def test_grid_point_equals_separate_run():
    runs = [RUN.replace(lr=lr) for lr in (1e-3, 3e-3, 1e-2)]
    together = train_and_evaluate(runs, steps=5, eval_size=16)
    alone = train_and_evaluate(runs[1:2], steps=5, eval_size=16)
    assert together[1]["train_loss"] == pytest.approx(alone[0]["train_loss"], rel=1e-12)
    assert together[1]["heldout_loss"] == pytest.approx(alone[0]["heldout_loss"], rel=1e-12)


def test_diverged_run_is_recorded():
    runs = [RUN.replace(lr=1e-3), RUN.replace(lr=1e4)]
    results = train_and_evaluate(runs, steps=8, eval_size=16)
    assert not results[0]["diverged"]
    assert results[1]["diverged"]
    assert math.isnan(results[1]["train_loss"])
    assert np.isfinite(results[0]["train_loss"])


def test_transformer_training_runs():
    run = RUN.replace(model="transformer", heads=2, seq_len=6)
    results = train_and_evaluate([run], steps=3, eval_size=4)
    assert np.isfinite(results[0]["heldout_loss"])


def test_optimum_drift_of_a_line():
    depths = [2, 4, 8, 16]
    optimum = np.array([[-8.0, -7.0], [-7.5, -6.5], [-7.0, -6.0], [-6.5, -5.5]])
    drift = optimum_drift(depths, optimum)
    assert drift["drift"] == pytest.approx(1.5)
    assert drift["spread"] == pytest.approx(0.0)
    assert drift["seeds"] == 2


def test_optimum_drift_skips_missing_points():
    drift = optimum_drift([2, 4, 8], np.array([[-8.0], [math.nan], [-6.0]]))
    assert drift["drift"] == pytest.approx(2.0)


def test_transfer_sweep_shapes():
    base = RUN.replace(batch_size=8)
    sweep = transfer_sweep(base, [2, 3], "lr", [1e-3, 3e-3, 1e-2], seeds=2, steps=3, eval_size=8)
    assert sweep["train_loss"].shape == (2, 2, 3)
    assert len(sweep["optima"]) == 2
    assert len(sweep["optimum"]) == 2
    assert sweep["drift"]["seeds"] == 2


def test_transfer_sweep_rejects_unknown_axis():
    with pytest.raises(ValueError):
        transfer_sweep(RUN, [2], "momentum", [0.1, 0.2], seeds=1, steps=1)


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_budget_below_one_batch_raises(steps):
    run = RunConfig(width=8, depth=1, batch_size=4)
    with pytest.raises(ValueError, match="smaller than one batch"):
        train_and_evaluate([run], steps)
