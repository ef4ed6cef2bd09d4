"""The MixiT figures at the smoke scale: their data, fits, drawing and memory check."""

import json

import numpy as np
import pytest

from paper_figures import memory, mixit_mean_recursion, mixit_rank_collapse
from sims.cache import RunCache

MODULES = {"rank-collapse": mixit_rank_collapse, "mean-recursion": mixit_mean_recursion}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return RunCache(tmp_path_factory.mktemp("mixit-cache"))


@pytest.fixture(scope="module")
def rank_collapse(cache):
    return mixit_rank_collapse.compute("smoke", 0, cache)


@pytest.fixture(scope="module")
def mean_recursion(cache):
    return mixit_mean_recursion.compute("smoke", 0, cache)


def test_rank_collapse_fits_per_model(rank_collapse):
    keys = {"final_depth", "final_mean", "final_standard_error", "slope_per_layer",
            "slope_standard_error", "theory_final", "theory_slope_per_layer", "theory"}
    expected = {kind for kind, _, _ in mixit_rank_collapse.MODELS} | {
        key for key, _, _, _ in mixit_rank_collapse.CLOSED_FORMS}
    assert set(rank_collapse["fits"]) == expected
    for name, fit in rank_collapse["fits"].items():
        assert keys <= set(fit), name
        assert fit["final_depth"] == max(mixit_rank_collapse.SETTINGS["smoke"].depths), name
        assert np.isfinite(fit["final_mean"]), name
        assert np.isfinite(fit["slope_per_layer"]), name
    assert rank_collapse["fits"]["standard"]["theory_final"] is None


def test_rank_collapse_curves_cover_depths(rank_collapse):
    depths = list(mixit_rank_collapse.SETTINGS["smoke"].depths)
    for model in rank_collapse["models"]:
        for measure in ("cosine", "residual"):
            assert model[measure]["depths"] == depths
            assert len(model[measure]["mean"]) == len(depths)
    residual = np.array(rank_collapse["models"][0]["residual"]["mean"])
    assert np.all((residual >= 0) & (residual <= 1))


def test_uniform_closed_form_collapses(rank_collapse):
    # a = 1 drives the correlation towards 1; a**2 = 1/L keeps it bounded.
    fits = rank_collapse["fits"]
    assert fits["uniform"]["final_mean"] > 0.9
    assert fits["uniform-scaled"]["final_mean"] < 0.3


def test_cached_rank_collapse_is_identical(rank_collapse, cache):
    again = mixit_rank_collapse.compute("smoke", 0, cache)
    assert again["fits"] == rank_collapse["fits"]


def test_mean_recursion_converges_like_one_over_n(mean_recursion):
    convergence = mean_recursion["fits"]["convergence"]
    assert convergence["theory_slope"] == -1.0
    assert convergence["slope"] == pytest.approx(-1.0, abs=0.05)
    gaps = np.array(mean_recursion["exact"]["largest_gap"])
    assert np.all(np.diff(gaps) < 0)


def test_mean_recursion_monte_carlo_matches_exact(mean_recursion):
    for fit in mean_recursion["fits"]["monte_carlo"]:
        assert fit["largest_z_against_exact"] < 4.0, fit
        assert fit["entries_compared"] == mixit_mean_recursion.SEQ_LEN**2


@pytest.mark.parametrize("name", sorted(MODULES))
def test_draws_from_json_alone(name, rank_collapse, mean_recursion):
    data = rank_collapse if name == "rank-collapse" else mean_recursion
    restored = json.loads(json.dumps(data, allow_nan=False))
    figure = MODULES[name].draw(restored)
    assert len(figure.axes) == 2


@pytest.mark.parametrize("name", sorted(MODULES))
def test_compute_refuses_beyond_available_memory(name, monkeypatch, cache):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1024)
    module = MODULES[name]
    with pytest.raises(memory.InsufficientMemoryError, match=module.NAME):
        module.compute("smoke", 0, cache)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_memory_estimate_grows_with_scale(name):
    settings = MODULES[name].SETTINGS
    assert (settings["paper"].estimate_memory_bytes()
            > settings["smoke"].estimate_memory_bytes() > 0)
