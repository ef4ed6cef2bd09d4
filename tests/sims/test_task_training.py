"""Tests of training transformer variants on the algorithmic tasks."""

import math

import numpy as np
import pytest

import sims.task_training as task_training
from sims.cache import RunCache
from sims.runs import RunConfig
from sims.task_training import build_task, evaluation_sets, train_on_task
from sims.tasks import task_options

# One fixed length: positions alone solve it, which a tiny model learns in a few hundred steps.
INDUCTION = {"length": 4, "alphabet": 8}
MODULAR = task_options("modular_addition", "smoke")
RUN = RunConfig(model="transformer", width=16, depth=1, heads=2, seq_len=7, batch_size=16,
                base_width=16, lr=0.01, init_std=0.02, weight_decay=0.0)


def test_standard_transformer_learns_induction():
    run = RUN.replace(width=32, depth=2, base_width=32, batch_size=32)
    [result] = train_on_task([run], "induction", 300, INDUCTION, warmup=30)
    chance = 1 / INDUCTION["alphabet"]
    assert not result["diverged"]
    assert result["loss_curve"][-1] < result["loss_curve"][0]
    assert result["train_accuracy"] > 0.9
    assert result["test_accuracy"] > 0.9
    assert result["test_accuracy"] > 5 * chance


def capture_ensembles(monkeypatch):
    """Record every ensemble that train_on_task builds, with its initial parameter values."""
    captured = []
    original = task_training.build_ensemble

    def build_and_record(*args, **kwargs):
        ensemble = original(*args, **kwargs)
        initial = {p.name: p.value.copy() for p in ensemble.model.parameters()}
        captured.append((ensemble, initial))
        return ensemble

    monkeypatch.setattr(task_training, "build_ensemble", build_and_record)
    return captured


@pytest.mark.parametrize("variant", ["frozen_qk", "mixit"])
def test_frozen_parameters_stay_unchanged(monkeypatch, variant):
    captured = capture_ensembles(monkeypatch)
    # Weight decay is on, so a frozen parameter that the optimizer touched would shrink.
    runs = [RUN.replace(variant=variant, weight_decay=0.1),
            RUN.replace(variant=variant, weight_decay=0.1, lr=0.02, seed_index=1)]
    results = train_on_task(runs, "induction", 20, INDUCTION)
    assert not any(result["diverged"] for result in results)

    [(ensemble, initial)] = captured
    frozen = [p for p in ensemble.model.parameters() if not p.trainable]
    trainable = [p for p in ensemble.model.parameters() if p.trainable]
    if variant == "frozen_qk":
        assert frozen
    for parameter in frozen:
        np.testing.assert_array_equal(parameter.value, initial[parameter.name],
                                      err_msg=parameter.name)
    assert all(not np.array_equal(p.value, initial[p.name]) for p in trainable)
    assert results[0]["trainable_parameters"] == sum(p.value[0].size for p in trainable)


def test_ensemble_equals_separate_runs():
    runs = [RUN, RUN.replace(lr=0.003, init_std=0.05, seed_index=1)]
    together = train_on_task(runs, "modular_addition", 15, MODULAR, warmup=2)
    for run, joint in zip(runs, together):
        [alone] = train_on_task([run], "modular_addition", 15, MODULAR, warmup=2)
        np.testing.assert_allclose(joint["loss_curve"], alone["loss_curve"], rtol=1e-9)
        for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
            assert joint[name] == pytest.approx(alone[name], rel=1e-9), name


def test_members_differ_by_seed_index():
    runs = [RUN, RUN.replace(seed_index=1)]
    first, second = train_on_task(runs, "induction", 5, INDUCTION)
    assert not np.array_equal(first["loss_curve"], second["loss_curve"])


def test_cache_returns_identical_results(tmp_path, monkeypatch):
    cache = RunCache(tmp_path)
    runs = [RUN, RUN.replace(lr=0.003)]
    first = train_on_task(runs, "memorization", 10, task_options("memorization", "smoke"),
                          cache=cache)

    def fail(jobs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(task_training, "_run_group", fail)
    second = train_on_task(runs, "memorization", 10, task_options("memorization", "smoke"),
                           cache=cache)
    for old, new in zip(first, second):
        assert old.keys() == new.keys()
        for name in old:
            np.testing.assert_array_equal(old[name], new[name], err_msg=name)


def test_finite_task_is_shared_by_a_base_seed():
    first = build_task("memorization", task_options("memorization", "smoke"), 3)
    again = build_task("memorization", task_options("memorization", "smoke"), 3)
    other = build_task("memorization", task_options("memorization", "smoke"), 4)
    np.testing.assert_array_equal(first.examples("train").targets, again.examples("train").targets)
    assert not np.array_equal(first.examples("train").targets, other.examples("train").targets)


def test_stream_evaluation_sets_depend_on_base_seed_only():
    task = build_task("induction", INDUCTION, 0)
    first = evaluation_sets(task, 0, 32)
    again = evaluation_sets(task, 0, 32)
    other = evaluation_sets(task, 1, 32)
    for split in ("train", "test"):
        np.testing.assert_array_equal(first[split].tokens, again[split].tokens)
        assert len(first[split]) == 32
    assert not np.array_equal(first["train"].tokens, other["train"].tokens)


def test_empty_test_split_gives_nan():
    options = dict(task_options("memorization", "smoke"), test_examples=0)
    [result] = train_on_task([RUN], "memorization", 2, options)
    assert result["test_examples"] == 0
    assert math.isnan(result["test_accuracy"])
    assert math.isfinite(result["train_accuracy"])


def test_model_vocabulary_follows_task():
    # Decimal addition needs more symbols than induction at these options; the model's
    # vocabulary follows each task, so both train.
    run = RUN.replace(seq_len=16)
    for name in ("decimal_addition", "induction"):
        [result] = train_on_task([run], name, 2, task_options(name, "smoke"))
        assert np.isfinite(result["train_loss"])


@pytest.mark.parametrize("task_name, steps, run, message", [
    ("sorting", 5, RUN, "unknown task"),
    ("induction", 0, RUN, "invalid steps"),
    ("induction", 2.5, RUN, "invalid steps"),
    ("induction", 5, RUN.replace(seq_len=4), "seq_len 4 is shorter than the seq_len 7"),
    ("induction", 5, RunConfig(width=8, depth=1), "needs model 'transformer'"),
])
def test_invalid_input_raises(task_name, steps, run, message):
    with pytest.raises(ValueError, match=message):
        train_on_task([run], task_name, steps, INDUCTION if task_name == "induction" else None)


def test_invalid_eval_size_raises():
    with pytest.raises(ValueError, match="eval_size"):
        train_on_task([RUN], "induction", 5, INDUCTION, eval_size=0)


def test_invalid_task_option_raises():
    with pytest.raises(ValueError):
        train_on_task([RUN], "induction", 5, {"length": 0, "alphabet": 8})
