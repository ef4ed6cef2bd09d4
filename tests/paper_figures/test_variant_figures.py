"""The trained-variant figures: data at the smoke scale and the construction's maps."""

import json

import numpy as np
import pytest

from paper_figures import frozen_qk_attention_maps, mixit_memorization, mixit_variants_tasks
from sims.cache import RunCache


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return RunCache(tmp_path_factory.mktemp("cache"))


def test_construction_scores_reach_their_bounds():
    construction = frozen_qk_attention_maps.construction_maps(0)
    shape = frozen_qk_attention_maps.CONSTRUCTION
    seq_len = 2 * shape["half_length"] + 1
    assert construction["accuracy"] == 1.0
    # Row i >= 1 of layer 1 puts 1 / (1 + i e^-beta) on i - 1.
    assert construction["previous_token"][0] > 1 - seq_len * np.exp(-shape["beta"])
    assert construction["induction"][1] > 0.99
    assert construction["maps"].shape == (2, seq_len, seq_len)
    assert construction["uniform"]["induction"] < 0.2


def test_attention_maps_data_redraws_from_json(cache):
    data = frozen_qk_attention_maps.compute("smoke", 0, cache)
    assert set(data["trained"]) == {"frozen_qk", "standard", "mixit"}
    for variant in data["trained"]:
        assert set(data["fits"][variant]) == {"accuracy", "previous_token", "induction"}
    length = len(data["maps"]["tokens"])
    assert np.array(data["maps"]["induction"]).shape == (length, length)
    frozen_qk_attention_maps.draw(json.loads(json.dumps(data)))


def test_variant_tasks_data_has_every_task(cache):
    data = mixit_variants_tasks.compute("smoke", 0, cache)
    tasks = [entry["task"] for entry in data["tasks"]]
    assert tasks == ["retrieval", "decimal_addition", "modular_addition", "language"]
    language = data["fits"]["language"]["standard"]
    assert language["metric"] == "test_loss"
    assert data["fits"]["retrieval"]["mixit"]["metric"] == "test_accuracy"
    mixit_variants_tasks.draw(json.loads(json.dumps(data)))


def test_memorization_data_counts_bits(cache):
    data = mixit_memorization.compute("smoke", 0, cache)
    for variant, records in data["sweep"].items():
        for record in records:
            width_fit = data["fits"][variant]["widths"][str(record["width"])]
            assert width_fit["stored_fraction"] == pytest.approx(
                np.mean(record["bits"]) / record["bits_available"])
    mixit_memorization.draw(json.loads(json.dumps(data)))
