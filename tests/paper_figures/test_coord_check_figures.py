"""The two depth coordinate-check figures at the smoke scale, which share one implementation.

The residual MLP's figure is checked against coordinate checks run directly on the runs
it is defined by, and the transformer's figure for its model, fits and divergence.
"""

import functools

import numpy as np
import pytest

from paper_figures import completep_depth_coord_check as coord_check_figure
from paper_figures import completep_depth_coord_check_transformer as transformer_figure
from paper_figures.output import write_figure
from sims.cache import RunCache
from sims.coord_check import coord_check
from sims.runs import RunConfig

ALPHAS = {"sp-mup": None, "sp": None, "alpha-1/2": 0.5, "completep": 1.0}


@pytest.fixture(scope="module")
def residual_mlp_data():
    return coord_check_figure.compute("smoke", 0, RunCache(None))


@pytest.fixture(scope="module")
def transformer_data():
    return transformer_figure.compute("smoke", 0, RunCache(None))


def diverged_markers(figure):
    """Return the number of points drawn with the divergence marker."""
    return sum(len(line.get_xdata()) for ax in figure.axes for line in ax.get_lines()
               if line.get_marker() == "X")


def test_residual_mlp_matches_direct_runs(residual_mlp_data):
    # The smoke settings written out by hand: width 32 = N_base, batch 16, probe 64,
    # 3 steps, float32, depths 2, 4, 8 and 2 seeds.
    for panel in residual_mlp_data["panels"]:
        runs = [RunConfig(width=32, depth=depth, parameterization=panel["parameterization"],
                          alpha=panel["alpha"], base_width=32, batch_size=16, dtype="float32",
                          seed_index=seed)
                for depth in (2, 4, 8) for seed in range(2)]
        results = coord_check(runs, 3, 64)
        values = np.array(panel["final_stream_mean_abs"]["values"], dtype=float)
        for run, result in zip(runs, results):
            expected = result["stream_mean_abs"][:, -1]
            measured = values[run.seed_index, panel["depths"].index(run.depth)]
            np.testing.assert_array_equal(measured, expected,
                                          err_msg=f"{panel['key']} depth {run.depth}")


def test_residual_mlp_config(residual_mlp_data):
    config = residual_mlp_data["config"]
    assert config["model"].startswith("pre-LN residual MLP")
    assert config["run_defaults"]["model"] == "residual_mlp"
    assert [panel["key"] for panel in config["panels"]] == ["sp-mup", "alpha-1/2", "completep"]
    assert "heads" not in config["scale_settings"]


def test_transformer_runs_are_transformers(transformer_data):
    settings = transformer_figure.SETTINGS["smoke"]
    for run in transformer_data["runs"]:
        config = run["config"]
        assert config["model"] == "transformer"
        assert config["width"] == settings.width
        assert config["heads"] == settings.heads
        assert config["seq_len"] == settings.seq_len
        assert config["projection_init"] == "table"
        expected_scale = "sp" if config["parameterization"] == "sp" else "mup"
        assert config["attention_scale"] == expected_scale


def test_transformer_fits_have_theory_values(transformer_data):
    fits = transformer_data["fits"]
    assert set(fits) == {"sp", "alpha-1/2", "completep"}
    for panel, quantities in fits.items():
        alpha = ALPHAS[panel]
        init = quantities["init_branch_variance"]
        update = quantities["first_stream_update"]
        assert init["theory"] == pytest.approx(1 - 2 * (alpha or 0.0)), panel
        assert update["theory"] == pytest.approx(2.0 if alpha is None else 0.0), panel
        assert isinstance(init["slope"], float), panel
        assert isinstance(update["slope"], float), panel


def test_transformer_init_slope(transformer_data):
    # With base seed 0 the slopes were +1.05, -0.06 and -0.96 (theory 1, 0, -1).
    for panel, quantities in transformer_data["fits"].items():
        fit = quantities["init_branch_variance"]
        assert fit["slope"] == pytest.approx(fit["theory"], abs=0.3), panel


def test_transformer_divergence_is_marked(monkeypatch, tmp_path):
    # AdamW at lr 1e3 moves every weight by about 1e3 in the first step, which drives the
    # training loss above its divergence bound.
    monkeypatch.setattr(coord_check_figure, "RunConfig",
                        functools.partial(RunConfig, lr=1e3))
    data = transformer_figure.compute("smoke", 0, RunCache(None))

    assert all(run["diverged"] for run in data["runs"])
    for panel in data["panels"]:
        assert len(panel["diverged_runs"]) == len(panel["depths"]) * 2, panel["key"]
    for panel, quantities in data["fits"].items():
        assert quantities["first_stream_update"]["slope"] is None, panel
        assert isinstance(quantities["init_branch_variance"]["slope"], float), panel

    figure = transformer_figure.draw(data)
    assert diverged_markers(figure) > 0
    paths = write_figure(tmp_path, transformer_figure.NAME, figure, data)
    assert all(path.stat().st_size > 0 for path in paths)


def test_memory_estimates_grow_with_scale():
    for settings in (coord_check_figure.SETTINGS, transformer_figure.SETTINGS):
        estimates = [settings[scale].estimate_memory_bytes()
                     for scale in ("smoke", "quick", "paper")]
        assert estimates == sorted(estimates)
        assert estimates[0] > 0
