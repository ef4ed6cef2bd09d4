"""The figure ``mixit-sde-vs-network`` at the smoke scale: data, fits, drawing, memory check."""

import json

import numpy as np
import pytest

from paper_figures import memory, mixit_sde_vs_network
from sims.cache import RunCache
from sims.sde_comparison import QUANTITIES, SCALES

PER_WIDTH_KEYS = {"width", "ks", "band", "noise_floor", "fail_floor", "p_value", "scaled",
                  "sizes"}
FIT_KEYS = {"per_width", "slope", "slope_interval", "fitted_widths", "widths_above_floor",
            "slope_resolved", "theory_slope", "step_check", "measured_floor", "linear_contrast"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return RunCache(tmp_path_factory.mktemp("sde-figure-cache"))


@pytest.fixture(scope="module")
def data(cache):
    return mixit_sde_vs_network.compute("smoke", 0, cache)


def test_fits_cover_times_and_quantities(data):
    settings = SCALES["smoke"]
    assert set(data["fits"]) == {f"t={time:g}" for time in settings.times}
    for by_quantity in data["fits"].values():
        assert set(by_quantity) == {quantity.key for quantity in QUANTITIES}


def test_fits_give_ks_per_width(data):
    settings = SCALES["smoke"]
    for by_quantity in data["fits"].values():
        for key, fit in by_quantity.items():
            assert set(fit) == FIT_KEYS, key
            assert [entry["width"] for entry in fit["per_width"]] == list(settings.widths)
            for entry in fit["per_width"]:
                assert set(entry) == PER_WIDTH_KEYS, key
                low, high = entry["band"]
                assert 0.0 <= low <= entry["ks"] <= high, key
                assert entry["sizes"] == [settings.networks, settings.paths]
            assert np.isfinite(fit["slope"]), key
            assert fit["slope_interval"][0] <= fit["slope_interval"][1], key
            assert fit["theory_slope"] == -1.0


def test_noise_floor_matches_kolmogorov_quantile(data):
    settings = SCALES["smoke"]
    floor = 1.6276236 * np.sqrt(1 / settings.networks + 1 / settings.paths)
    for by_quantity in data["fits"].values():
        for fit in by_quantity.values():
            for entry in fit["per_width"]:
                assert entry["noise_floor"] == pytest.approx(floor, rel=1e-6)


def test_compute_reproducible_from_cache(data, cache):
    again = mixit_sde_vs_network.compute("smoke", 0, cache)
    assert again["fits"] == data["fits"]


def test_draws_from_json_alone(data):
    restored = json.loads(json.dumps(data))
    figure = mixit_sde_vs_network.draw(restored)
    assert len(figure.axes) == 3 * len(QUANTITIES)


def test_compute_rejects_unknown_scale(cache):
    with pytest.raises(ValueError, match="huge"):
        mixit_sde_vs_network.compute("huge", 0, cache)


def test_memory_estimate_grows_with_scale():
    estimates = [SCALES[scale].estimate_memory_bytes() for scale in ("smoke", "quick", "paper")]
    assert estimates == sorted(estimates)


def test_compute_refuses_beyond_available_memory(monkeypatch, cache):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1024)
    with pytest.raises(memory.InsufficientMemoryError, match="mixit-sde-vs-network"):
        mixit_sde_vs_network.compute("smoke", 0, cache)
