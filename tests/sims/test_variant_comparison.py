"""Tests of the variant comparison on the tasks: structure, learning-rate choice, chance."""

import dataclasses
import math

import numpy as np
import pytest

from sims.cache import RunCache
from sims.tasks import make_task
from sims.variant_comparison import (
    VARIANT_TASK_SCALES, _best_learning_rate, chance_accuracy, compare_variants,
)

SMOKE = VARIANT_TASK_SCALES["smoke"]


def test_smoke_comparison_reports_every_variant_and_seed(tmp_path):
    settings = dataclasses.replace(SMOKE, lrs=(0.01, 0.003))
    table = compare_variants(settings, 0, RunCache(tmp_path), tasks=["decimal_addition"])
    records = table["decimal_addition"]
    assert list(records) == list(settings.variants["decimal_addition"])
    for record in records.values():
        assert record["lr"] in settings.lrs
        assert len(record["test_accuracy"]) == settings.seeds
        assert set(record["grid"]) == {str(lr) for lr in settings.lrs}
        assert record["grid"][str(record["lr"])] == min(record["grid"].values())
        assert 0 < record["trainable_parameters"] <= record["total_parameters"]
    assert (records["embedding_only"]["trainable_parameters"]
            < records["frozen_mlp"]["trainable_parameters"]
            < records["standard"]["trainable_parameters"])


def fake_results(train_losses):
    """Results by (variant, lr, seed) with the given final training losses."""
    return {("mixit", lr, seed): {"train_loss": loss, "test_loss": loss + 1,
                                  "test_accuracy": 0.5, "test_sequence_accuracy": 0.5,
                                  "diverged": not math.isfinite(loss),
                                  "trainable_parameters": 3, "total_parameters": 5}
            for (lr, seed), loss in train_losses.items()}


def test_learning_rate_choice_reads_train_loss():
    settings = dataclasses.replace(SMOKE, lrs=(0.1, 0.01), seeds=2)
    results = fake_results({(0.1, 0): 1.0, (0.1, 1): 3.0, (0.01, 0): 2.0, (0.01, 1): 1.5})
    # The test loss would favour the other point if it were read: make it so.
    for seed in range(2):
        results[("mixit", 0.01, seed)]["test_loss"] = -10.0
    record = _best_learning_rate(settings, "mixit", results)
    assert record["lr"] == 0.01
    assert record["grid"] == {"0.1": 2.0, "0.01": 1.75}


def test_learning_rate_choice_skips_diverged_point():
    settings = dataclasses.replace(SMOKE, lrs=(0.1, 0.01), seeds=2)
    results = fake_results({(0.1, 0): 0.5, (0.1, 1): math.nan, (0.01, 0): 2.0, (0.01, 1): 2.0})
    record = _best_learning_rate(settings, "mixit", results)
    assert record["lr"] == 0.01
    assert record["diverged"] == 1


@pytest.mark.parametrize("name, options, chance", [
    ("retrieval", {"pairs": 2, "keys": 4, "values": 5}, 1 / 5),
    ("induction", {"length": 3, "alphabet": 7}, 1 / 7),
    ("decimal_addition", {"digits": 2}, 0.1),
    ("modular_addition", {"p": 11}, 1 / 11),
])
def test_chance_accuracy(name, options, chance):
    generator = np.random.default_rng(0) if name == "modular_addition" else None
    assert chance_accuracy(make_task(name, generator, **options)) == pytest.approx(chance)


def test_language_has_no_chance_accuracy():
    assert math.isnan(chance_accuracy(make_task("language", seq_len=8)))


def test_unknown_task_raises():
    with pytest.raises(ValueError, match="task 'multihop' is not in this comparison"):
        compare_variants(SMOKE, 0, tasks=["multihop"])
    with pytest.raises(ValueError, match="unknown task 'sorting'"):
        compare_variants(SMOKE, 0, tasks=["sorting"])
