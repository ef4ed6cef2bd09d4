"""The ``completep-linearization`` figure at the smoke scale: files, fits and divergence.

The figures are made in-process with no cache, so each test's runs are computed afresh.
"""

import json

import numpy as np
import pytest

from paper_figures import completep_linearization as linearization_figure
from paper_figures.make import make_figure
from paper_figures.output import write_figure
from paper_figures.registry import find_figure
from sims.cache import RunCache

NAME = "completep-linearization"
SWEEPS = ("residual-mlp", "transformer-attention", "transformer-mlp")
ALPHAS = {"sp": None, "alpha-1/2": 0.5, "completep": 1.0}
DIVERGING_LR = 1e200
"""An Adam step of this size overflows every block's output in float64."""


def expected_theory(measure, alpha):
    """Return the depth exponent that the figure should print beside a measure's slope.

    SP has no depth factor in its learning rate, so all its exponents are 0. In the
    alpha family the learning rate scales as ``L**(alpha - 1)``.
    """
    if alpha is None:
        return 0.0
    if measure == "remainder_over_output":
        return 2 * (alpha - 1)
    return alpha - 1


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    directory = tmp_path_factory.mktemp("linearization")
    paths, _ = make_figure(find_figure(NAME), "smoke", 0, RunCache(None), directory)
    document = json.loads(paths[2].read_text(encoding="utf-8"))
    return paths, document


def overflowing_sp_seed_zero(linearization):
    """Wrap :func:`linearization` so that SP's runs of seed index 0 report an overflow."""
    def measure(runs, *arguments, **options):
        results = linearization(runs, *arguments, **options)
        for index, run in enumerate(runs):
            if run.parameterization == "sp" and run.seed_index == 0:
                overflowed = dict(results[index], diverged=True)
                for name in ("laziness_ratio", "remainder_over_output", "reference_measure"):
                    overflowed[name] = np.array([np.inf])
                results[index] = overflowed
        return results
    return measure


def diverged_markers(figure):
    """Return the number of triangle markers drawn in the figure's axes."""
    return sum(len(line.get_xdata()) for ax in figure.axes for line in ax.get_lines()
               if line.get_marker() == "v")


def test_make_writes_three_files(made):
    paths, _ = made
    assert [path.name for path in paths] == [f"{NAME}.png", f"{NAME}.pdf", f"{NAME}.json"]
    assert paths[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert paths[1].read_bytes().startswith(b"%PDF-")


def test_fits_cover_every_curve(made):
    _, document = made
    fits = document["fits"]
    assert set(fits) == set(SWEEPS)
    assert set(fits["residual-mlp"]) == {"laziness_ratio", "remainder_over_output",
                                         "reference_measure"}
    for sweep in SWEEPS[1:]:
        assert set(fits[sweep]) == {"laziness_ratio", "remainder_over_output"}, sweep
    for sweep, measures in fits.items():
        for measure, curves in measures.items():
            assert set(curves) == set(ALPHAS), f"{sweep} {measure}"
            for key, fit in curves.items():
                assert isinstance(fit["slope"], float), f"{sweep} {measure} {key}"
                assert isinstance(fit["spread"], float), f"{sweep} {measure} {key}"


def test_fits_have_theory_values(made):
    _, document = made
    for sweep, measures in document["fits"].items():
        for measure, curves in measures.items():
            for key, fit in curves.items():
                expected = expected_theory(measure, ALPHAS[key])
                assert fit["theory"] == pytest.approx(expected), f"{sweep} {measure} {key}"


def test_laziness_falls_faster_at_alpha_half(made):
    # With base seed 0 the residual MLP's slopes were -0.44 at alpha = 1/2 and +0.01 at
    # alpha = 1 (theory -1/2 and 0).
    _, document = made
    fits = document["fits"]["residual-mlp"]["laziness_ratio"]
    assert fits["alpha-1/2"]["slope"] < fits["completep"]["slope"] - 0.2


def test_reference_measure_moves_first_matrix(made):
    _, document = made
    moving = {(run["sweep"], run["moving"]) for run in document["runs"]}
    assert moving == {("residual-mlp", "both"), ("residual-mlp", "first"),
                      ("transformer-attention", "both"), ("transformer-mlp", "both")}


def test_no_smoke_run_diverges(made):
    _, document = made
    assert not any(run["diverged"] for run in document["runs"])


def test_sp_overflow_is_marked(monkeypatch, tmp_path):
    monkeypatch.setattr(linearization_figure, "linearization",
                        overflowing_sp_seed_zero(linearization_figure.linearization))
    data = linearization_figure.compute("smoke", 0, RunCache(None))

    for run in data["runs"]:
        config = run["config"]
        expected = config["parameterization"] == "sp" and config["seed_index"] == 0
        assert run["diverged"] == expected, config
    for sweep in data["sweeps"]:
        for measure, curves in sweep["curves"].items():
            for key, curve in curves.items():
                label = f"{sweep['key']} {measure} {key}"
                expected = 1 if key == "sp" else 0
                assert curve["diverged_seeds"] == [expected] * len(curve["depths"]), label
                assert all(value is not None for value in curve["median"]), label
                fit = data["fits"][sweep["key"]][measure][key]
                assert fit["seeds"] == 2 - expected, label

    figure = linearization_figure.draw(data)
    sp_points = sum(len(sweep["curves"][measure]["sp"]["depths"])
                    for sweep in data["sweeps"] for measure in sweep["curves"])
    assert diverged_markers(figure) == sp_points
    paths = write_figure(tmp_path, NAME, figure, data)
    assert json.loads(paths[2].read_text(encoding="utf-8"))["runs"]


def test_full_divergence_draws_without_fits(monkeypatch, tmp_path):
    monkeypatch.setattr(linearization_figure, "LEARNING_RATE", DIVERGING_LR)
    data = linearization_figure.compute("smoke", 0, RunCache(None))

    assert all(run["diverged"] for run in data["runs"])
    for sweep in data["sweeps"]:
        for measure, curves in sweep["curves"].items():
            for key, curve in curves.items():
                label = f"{sweep['key']} {measure} {key}"
                assert all(value is None for value in curve["median"]), label
                fit = data["fits"][sweep["key"]][measure][key]
                assert fit["slope"] is None, label
                assert fit["theory"] is not None, label

    figure = linearization_figure.draw(data)
    points = sum(len(curve["depths"]) for sweep in data["sweeps"]
                 for curves in sweep["curves"].values() for curve in curves.values())
    assert diverged_markers(figure) == points
    paths = write_figure(tmp_path, NAME, figure, data)
    assert all(path.stat().st_size > 0 for path in paths)


def test_memory_estimate_grows_with_scale():
    estimates = [linearization_figure.estimate_memory_bytes(scale)
                 for scale in ("smoke", "quick", "paper")]
    assert estimates == sorted(estimates)
    assert np.all(np.array(estimates) > 0)
