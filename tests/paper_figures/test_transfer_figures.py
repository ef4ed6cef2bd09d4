"""The depth-transfer figures at the smoke scale: their data, fits and drawing."""

import json

import numpy as np
import pytest

from paper_figures import completep_init_transfer, completep_lr_transfer, depth_transfer, memory
from sims.cache import RunCache
from sims.transfer import TRANSFER_PANELS, TRANSFER_SCALES, depth_transfer_sweeps

MODULES = {"lr": completep_lr_transfer, "init_std": completep_init_transfer}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return RunCache(tmp_path_factory.mktemp("transfer-cache"))


@pytest.fixture(scope="module", params=sorted(MODULES))
def data(request, cache):
    return request.param, MODULES[request.param].compute("smoke", 0, cache)


def test_panels_cover_activations_and_parameterizations(data):
    axis, document = data
    settings = TRANSFER_SCALES["smoke"]
    assert document["config"]["axis"] == axis
    seen = {(p["activation"], p["parameterization"], p["alpha"]) for p in document["panels"]}
    expected = {(activation, parameterization, alpha)
                for activation in depth_transfer.ACTIVATIONS
                for parameterization, alpha in TRANSFER_PANELS}
    assert seen == expected
    for panel in document["panels"]:
        shape = (len(settings["depths"]), settings["seeds"], len(panel["log2_values"]))
        assert np.array(panel["train_loss"], dtype=float).shape == shape
        assert np.array(panel["heldout_loss"], dtype=float).shape == shape


def test_fits_give_drift_per_panel(data):
    _, document = data
    for activation in depth_transfer.ACTIVATIONS:
        fits = document["fits"][activation]
        assert set(fits) == set(depth_transfer.PANEL_KEYS.values())
        for key, fit in fits.items():
            assert len(fit["optimum"]) == len(TRANSFER_SCALES["smoke"]["depths"]), key
            assert fit["drift"]["seeds"] <= TRANSFER_SCALES["smoke"]["seeds"], key
            assert fit["theory_drift"] == (0.0 if key == "completep" else None), key


def test_edge_optima_counted(data):
    # An optimum that sits on the first or last grid point is counted as at the edge.
    _, document = data
    for panel in document["panels"]:
        grid_ends = (panel["log2_values"][0], panel["log2_values"][-1])
        at_edge = sum(1 for row in panel["optima"] for optimum in row
                      if optimum["grid_optimum"] in grid_ends)
        assert panel["edge_optima"] == at_edge, panel["key"]


def test_draws_from_json_alone(data):
    _, document = data
    restored = json.loads(json.dumps(document))
    figure = MODULES[restored["config"]["axis"]].draw(restored)
    rows = len(depth_transfer.ACTIVATIONS)
    assert len(figure.axes) == rows * len(TRANSFER_PANELS)


def test_sweeps_reject_unknown_axis(cache):
    with pytest.raises(ValueError, match="unknown grid axis 'momentum'"):
        depth_transfer_sweeps("momentum", "smoke", 0, ("gelu",), cache)


def test_sweeps_reject_unknown_scale(cache):
    with pytest.raises(ValueError, match="huge"):
        depth_transfer_sweeps("lr", "huge", 0, ("gelu",), cache)


def test_memory_estimate_grows_with_workers():
    one = depth_transfer.estimate_memory_bytes("quick", workers=1)
    assert depth_transfer.estimate_memory_bytes("quick", workers=2) == 2 * one
    assert depth_transfer.estimate_memory_bytes("paper") > one


def test_compute_refuses_beyond_available_memory(monkeypatch, cache):
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1024)
    with pytest.raises(memory.InsufficientMemoryError, match="learning rate transfer figure"):
        completep_lr_transfer.compute("smoke", 0, cache)
