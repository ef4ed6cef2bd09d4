"""Tests of the memorization capacity in bits per parameter and of its sweep."""

import math

import numpy as np
import pytest

from sims.cache import RunCache
from sims.memorization import MEMORIZATION_SCALES, memorization_capacity, memorization_sweep
from sims.variants import ParameterCounts

def test_memorization_capacity_counts_bits():
    capacity = memorization_capacity(0.5, 64, 8, ParameterCounts(trainable=16, total=48))
    assert capacity["labels_memorized"] == 32
    assert capacity["bits"] == 96
    assert capacity["bits_per_trainable_parameter"] == 6
    assert capacity["bits_per_parameter"] == 2


def test_memorization_capacity_without_trainable_parameters():
    capacity = memorization_capacity(0.25, 8, 4, ParameterCounts(trainable=0, total=10))
    assert capacity["bits_per_trainable_parameter"] == math.inf
    assert math.isnan(memorization_capacity(math.nan, 8, 4, ParameterCounts(1, 10))["bits"])


@pytest.mark.parametrize("accuracy, examples, labels", [(1.5, 8, 4), (0.5, 0, 4), (0.5, 8, 1)])
def test_memorization_capacity_rejects_invalid_input(accuracy, examples, labels):
    with pytest.raises(ValueError):
        memorization_capacity(accuracy, examples, labels, ParameterCounts(1, 1))


def test_sweep_counts_bits_of_every_variant(tmp_path):
    settings = MEMORIZATION_SCALES["smoke"]
    sweep = memorization_sweep(settings, 0, RunCache(tmp_path))
    assert set(sweep) == set(settings.variants)
    bits_available = settings.task_options["examples"] * math.log2(settings.task_options["labels"])
    for variant, records in sweep.items():
        [record] = records
        assert record["bits_available"] == bits_available
        assert len(record["bits"]) == settings.seeds
        for accuracy, bits, per_trainable in zip(record["train_accuracy"], record["bits"],
                                                 record["bits_per_trainable_parameter"]):
            assert bits == pytest.approx(accuracy * bits_available)
            assert per_trainable == pytest.approx(bits / record["trainable_parameters"])
        assert record["trainable_parameters"] <= record["total_parameters"]
    # Frozen-MLP freezes more than Frozen-QK, which freezes more than nothing.
    trainable = {variant: records[0]["trainable_parameters"] for variant, records in sweep.items()}
    assert trainable["frozen_mlp"] < trainable["frozen_qk"] < trainable["standard"]
    assert np.isfinite(sweep["standard"][0]["final_loss"]).all()


def test_sweep_rejects_unknown_variant():
    with pytest.raises(ValueError, match="unknown variant 'frozen'"):
        memorization_sweep(MEMORIZATION_SCALES["smoke"], 0, variants=["frozen"])
