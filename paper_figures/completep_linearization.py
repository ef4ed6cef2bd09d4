"""Figure ``completep-linearization``: how far one block is from its linearization, against depth.

The analogue of Figure 6 of Dey et al. 2025, "Don't be lazy: CompleteP enables
compute-efficient deep transformers" (arXiv 2505.01618). One block, residual block
``floor(L / 2)``, takes one Adam step on its own weight matrices with the gradient of the
full network's training loss on one fixed batch, while every other parameter and the
block's input ``u`` stay fixed (:func:`sims.linearization.linearization`). With ``dW``
the step, ``dF = F(W + dW; u) - F(W; u)`` the block's change and
``dF_lin = J_W F(W; u) dW`` its first-order term, the figure plots against depth ``L``

(a) the laziness ratio ``||dF - dF_lin|| / ||dF_lin||``, theory ``L**(alpha - 1)``;
(b) the remainder over the output, ``||dF - dF_lin|| / ||F||``, theory ``L**(2 alpha - 2)``;
(c) the measure of the CompleteP reference implementation's linearization notebook
    (:func:`sims.linearization.reference_measure`), with only the block's first matrix
    training, as in that notebook.

Norms are RMS over the batch's coordinates. The theory values are the exponents
``laziness_ratio`` and ``remainder_over_output`` of :func:`theory.completep.depth_exponents`.
They take the parameterization's alpha and the depth exponent of its in-block Adam
learning rate, which is ``alpha - 1`` in the alpha family. SP has no branch multiplier and
no depth factor in its learning rate (alpha 0, exponent 0), so both of its exponents are 0.

The reference measure reads one output coordinate, and its first-order term multiplies
the first row of the weight change into the whole gradient of that coordinate. For a
block with two matrices that is not the block's first-order term, so the measure follows
the size of the block's change, ``||dF|| / ||F||``, rather than its nonlinearity. Its
curve is fitted against the depth exponent of the block's change, ``block_change`` of
:func:`theory.completep.depth_exponents` (``alpha - 1``, 0 for SP), which the notebook's
measure shares with the laziness ratio.

Every run is in float64 with GELU blocks, the Adam learning rates of the derived table
(:meth:`sims.runs.RunConfig.default_table`) from the base rate :data:`LEARNING_RATE`, and
``N_base = N``, ``L_base = 2``. The top row measures the pre-LN residual MLP; the bottom
row the attention block and the MLP block of layer ``floor(L / 2)`` of a pre-LN transformer,
for measures (a) and (b) only, because the reference measure is defined for MLP blocks
alone. Each curve is the median over seeds with the band between the first and third
quartiles. A run whose loss or measured values are not finite is drawn as diverged with
a marker and left out of the median and the fit. With LayerNorm before every block, SP
stays finite at every depth of the quick scale. The reference notebook's model has no
norm, and its committed SP results are NaN from depth 256 on.

At the quick scale (base seed 0) every slope of measures (a) and (b) lies within one seed
standard deviation of its theory value. The laziness ratio's slopes for SP, alpha = 1/2
and alpha = 1 were +0.00, -0.51 and +0.01 on the residual MLP (8 seeds, depths 2 to 512),
and -0.08, -0.49 and -0.01 for the transformer's attention block (8 seeds, depths 2 to
64). The reference measure, read at one coordinate, spreads widely over seeds: +0.21,
-0.51 and -0.06, with seed standard deviations of 0.2 to 0.4.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullLocator

from paper_figures.completep_depth_coord_check import (
    depth_fit, shared_run_fields, theory_exponents, theory_trend,
)
from paper_figures.memory import require_memory
from paper_figures.output import json_ready
from sims.depth_fits import depth_sweep
from sims.linearization import linearization
from sims.runs import RunConfig, table_fingerprint
from sims.scales import check_scale
from sims.seeds import run_seed_sequence

NAME = "completep-linearization"

LEARNING_RATE = 1e-4
"""Base Adam learning rate. It keeps the laziness ratio well below one at every depth (about
3e-3 at the quick scale), so that the remainder is its leading, second-order term, whose
depth exponent the theory predicts."""

DTYPE = "float64"
"""The remainder ``dF - dF_lin`` is a difference of nearly equal numbers."""


@dataclass(frozen=True)
class SweepSettings:
    """The depth sweep of one model at one scale.

    Attributes
    ----------
    width : int
        ``N``, equal to ``N_base`` in every run.
    depths : tuple of int
        Depths ``L``: residual blocks of the MLP, layers of the transformer.
    seeds : int
        Seed indices ``0 .. seeds - 1`` per depth and parameterization.
    batch_size : int
        Examples in the fixed batch (sequences for the transformer).
    max_members : int
        Maximum number of runs trained together in one ensemble. The peak memory grows
        in proportion to it.
    """

    width: int
    depths: tuple
    seeds: int
    batch_size: int
    max_members: int


@dataclass(frozen=True)
class ScaleSettings:
    """Settings of one scale.

    Attributes
    ----------
    residual_mlp, transformer : SweepSettings
    seq_len : int
        ``T``, tokens per transformer sequence.
    heads : int
        Attention heads of the transformer.
    transformer_blocks : tuple of str
        Which blocks of the transformer's layer ``floor(L / 2)`` are measured:
        ``"attention"``, ``"mlp"`` or both.
    """

    residual_mlp: SweepSettings
    transformer: SweepSettings
    seq_len: int
    heads: int
    transformer_blocks: tuple


SETTINGS = {
    "smoke": ScaleSettings(
        residual_mlp=SweepSettings(width=32, depths=(2, 4, 8, 16), seeds=2, batch_size=16,
                                   max_members=16),
        transformer=SweepSettings(width=32, depths=(2, 4, 8), seeds=2, batch_size=4,
                                  max_members=16),
        seq_len=16, heads=4, transformer_blocks=("attention", "mlp")),
    "quick": ScaleSettings(
        residual_mlp=SweepSettings(width=128, depths=tuple(2**k for k in range(1, 10)),
                                   seeds=8, batch_size=64, max_members=2),
        transformer=SweepSettings(width=64, depths=(2, 4, 8, 16, 32, 64), seeds=8,
                                  batch_size=16, max_members=2),
        seq_len=32, heads=4, transformer_blocks=("attention", "mlp")),
    # The residual MLP sweep has the paper's width, depths and seeds.
    "paper": ScaleSettings(
        residual_mlp=SweepSettings(width=256, depths=tuple(2**k for k in range(1, 13)),
                                   seeds=50, batch_size=64, max_members=1),
        transformer=SweepSettings(width=256, depths=tuple(2**k for k in range(1, 8)), seeds=8,
                                  batch_size=16, max_members=1),
        seq_len=64, heads=4, transformer_blocks=("attention", "mlp")),
}


@dataclass(frozen=True)
class Parameterization:
    """One curve family: a parameterization and its residual exponent.

    Attributes
    ----------
    key : str
        Name in the JSON document.
    label : str
        Legend label, in matplotlib mathtext.
    parameterization : {"sp", "alpha"}
    alpha : float or None
        ``None`` for SP.
    color : str
    """

    key: str
    label: str
    parameterization: str
    alpha: float
    color: str


PARAMETERIZATIONS = (
    Parameterization("sp", "SP (no depth factors)", "sp", None, "tab:red"),
    Parameterization("alpha-1/2", r"$\alpha$ = 1/2", "alpha", 0.5, "tab:blue"),
    Parameterization("completep", r"$\alpha$ = 1 (CompleteP)", "alpha", 1.0, "tab:green"),
)


@dataclass(frozen=True)
class Measure:
    """A result of :func:`sims.linearization.linearization` that the figure plots.

    Attributes
    ----------
    key : str
        The quantity's name in the results.
    moving : {"both", "first"}
        The block's matrices that train in the runs that measure it.
    theory_key : str
        Exponent of :func:`theory.completep.depth_exponents` that the slope is fitted against.
    title : str
        Panel title.
    ylabel : str
        Axis label, in matplotlib mathtext.
    """

    key: str
    moving: str
    theory_key: str
    title: str
    ylabel: str


MEASURES = (
    Measure("laziness_ratio", "both", "laziness_ratio", "(a) laziness ratio",
            r"$\Vert\Delta F - \Delta F_{lin}\Vert\ /\ \Vert\Delta F_{lin}\Vert$"),
    Measure("remainder_over_output", "both", "remainder_over_output",
            "(b) remainder over output",
            r"$\Vert\Delta F - \Delta F_{lin}\Vert\ /\ \Vert F\Vert$"),
    Measure("reference_measure", "first", "block_change",
            "(c) the reference implementation's measure",
            r"$|F_1 - (F_0 + ft)|\ /\ |F_0 + ft|$ at one coordinate"),
)


@dataclass(frozen=True)
class Sweep:
    """A depth sweep of one measured block.

    Attributes
    ----------
    key : str
        Name in the JSON document.
    model : {"residual_mlp", "transformer"}
    block : {"attention", "mlp"}
        The transformer block measured; the residual MLP has MLP blocks only.
    label : str
        Legend label.
    measures : tuple of str
        Keys of the :data:`MEASURES` that the sweep plots.
    linestyle : str
    marker : str
    """

    key: str
    model: str
    block: str
    label: str
    measures: tuple
    linestyle: str
    marker: str


SWEEPS = (
    Sweep("residual-mlp", "residual_mlp", "mlp", "residual MLP, block floor(L/2)",
          ("laziness_ratio", "remainder_over_output", "reference_measure"), "-", "o"),
    Sweep("transformer-attention", "transformer", "attention",
          "transformer, attention block of layer floor(L/2)",
          ("laziness_ratio", "remainder_over_output"), "-", "o"),
    Sweep("transformer-mlp", "transformer", "mlp", "transformer, MLP block of layer floor(L/2)",
          ("laziness_ratio", "remainder_over_output"), "--", "s"),
)

_MEASURES_BY_KEY = {measure.key: measure for measure in MEASURES}
_SWEEPS_BY_KEY = {sweep.key: sweep for sweep in SWEEPS}
_BLOCK_NAMES = {"attention": "attention", "mlp": "MLP"}

_BYTES_PER_ELEMENT = 8
"""float64."""

_WEIGHT_COPIES = 4
"""Copies of every weight: value, gradient and Adam's two moments."""

_MLP_ACTIVATIONS_PER_BLOCK = 16
"""Arrays of shape (B, N) per residual MLP block, fitted to measured peaks and rounded up."""

_TRANSFORMER_ACTIVATIONS_PER_LAYER = 56
"""Arrays of shape (B, T, N) per transformer layer, fitted to measured peaks and rounded up."""

_TRANSFORMER_ATTENTION_ARRAYS_PER_LAYER = 3
"""Arrays of shape (B, H, T, T) per transformer layer, fitted to measured peaks and rounded up."""

_TRANSFORMER_MLP_MULTIPLE = 4
"""Hidden width of the transformer's MLP over ``N``, the :class:`sims.runs.RunConfig` default."""


def active_sweeps(settings):
    """Return the :data:`SWEEPS` that ``settings`` measures, in drawing order."""
    return [sweep for sweep in SWEEPS
            if sweep.model == "residual_mlp" or sweep.block in settings.transformer_blocks]


def sweep_runs(sweep, parameterization, settings, base_seed):
    """Return the runs of one sweep and parameterization, seed-major.

    Every run uses Adam (no weight decay) at base rate :data:`LEARNING_RATE`, float64 and
    ``N_base = N``. Everything else has the :class:`sims.runs.RunConfig` default: GELU,
    LayerNorm, biases, ``init_std = 0.02`` and ``L_base = 2``. The transformer has an MLP
    of width ``4 N``, untied embeddings, the attention scale that follows the
    parameterization and the table's projection init.
    """
    sizes = getattr(settings, sweep.model)
    options = {}
    if sweep.model == "transformer":
        options = {"model": "transformer", "seq_len": settings.seq_len, "heads": settings.heads}
    base = RunConfig(width=sizes.width, depth=2, parameterization=parameterization.parameterization,
                     alpha=parameterization.alpha, optimizer="adam", lr=LEARNING_RATE,
                     base_width=sizes.width, batch_size=sizes.batch_size, dtype=DTYPE,
                     base_seed=base_seed, **options)
    return depth_sweep(base, sizes.depths, sizes.seeds)


def estimate_memory_bytes(scale):
    """Estimate the peak memory of the largest ensemble that the figure trains.

    Ensembles of at most ``max_members`` runs are trained one after another. Per run of
    the deepest model the estimate counts, in float64,

    * residual MLP: ``L * (4 * 2 N**2 + 16 B N)``, four copies (value, gradient, Adam's
      two moments) of a block's two ``N x N`` matrices and 16 arrays of shape ``(B, N)``;
    * transformer: ``L * (4 (4 + 2 m) N**2 + 56 B T N + 3 B H T**2)`` with the MLP
      multiple ``m = 4``, four copies of a layer's weights, 56 arrays of shape
      ``(B, T, N)`` and three of shape ``(B, H, T, T)``.

    The counts of arrays were fitted to the peak resident memory of the measurement
    (residual MLP at ``N`` = 64 and 128 and ``B`` = 16 to 256, depth 256; transformer at
    ``N`` = 64 and 128, ``T`` = 32 and 128 and ``B`` = 16 and 64, depth 16) and rounded
    up. The estimate leaves out the interpreter and the embeddings.
    """
    settings = SETTINGS[check_scale(scale)]
    estimates = []
    for sweep in active_sweeps(settings):
        sizes = getattr(settings, sweep.model)
        width = sizes.width
        batch = sizes.batch_size
        if sweep.model == "transformer":
            tokens = batch * settings.seq_len
            weights = 4 + 2 * _TRANSFORMER_MLP_MULTIPLE
            per_layer = (_WEIGHT_COPIES * weights * width**2
                         + _TRANSFORMER_ACTIVATIONS_PER_LAYER * tokens * width
                         + _TRANSFORMER_ATTENTION_ARRAYS_PER_LAYER * tokens * settings.heads
                         * settings.seq_len)
        else:
            per_layer = (_WEIGHT_COPIES * 2 * width**2
                         + _MLP_ACTIVATIONS_PER_BLOCK * batch * width)
        members = min(sizes.seeds, sizes.max_members)
        estimates.append(members * _BYTES_PER_ELEMENT * max(sizes.depths) * per_layer)
    return max(estimates)


def compute(scale, base_seed, cache):
    """Run or load every sweep's linearization measurements and fit the depth slopes.

    Parameters
    ----------
    scale : {"smoke", "quick", "paper"}
    base_seed : int
    cache : sims.cache.RunCache

    Returns
    -------
    dict
        JSON-ready, with the keys

        * ``config``: scale, scale settings, learning rate, parameterizations with their
          tables, measures, and per sweep the model, block and shared run fields;
        * ``seeds``: base seed, seed indices and each run's entropy;
        * ``sweeps``: per sweep and measure, per parameterization the depths, the
          per-seed values, the median and quartiles over seeds and the diverged seeds;
        * ``fits``: per sweep, measure and parameterization the measured slope, seed
          spread, per-seed slopes, the theory value and its trend;
        * ``runs``: per run and set of moving matrices its configuration, every result of
          :func:`sims.linearization.linearization` and whether it diverged.

    Raises
    ------
    paper_figures.memory.InsufficientMemoryError
        If :func:`estimate_memory_bytes` exceeds the memory available.
    """
    settings = SETTINGS[check_scale(scale)]
    require_memory(estimate_memory_bytes(scale), f"{NAME} at scale {scale!r}")

    sweeps = []
    fits = {}
    records = []
    all_runs = []
    sweep_configs = []
    tables = {}
    for sweep in active_sweeps(settings):
        sizes = getattr(settings, sweep.model)
        runs_by_parameterization = [sweep_runs(sweep, parameterization, settings, base_seed)
                                    for parameterization in PARAMETERIZATIONS]
        runs = [run for group in runs_by_parameterization for run in group]
        all_runs.extend(runs)
        for parameterization, group in zip(PARAMETERIZATIONS, runs_by_parameterization):
            tables.setdefault(parameterization.key, group[0].default_table())

        curves = {}
        sweep_fits = {}
        for moving in dict.fromkeys(_MEASURES_BY_KEY[key].moving for key in sweep.measures):
            results = linearization(runs, steps=1, cache=cache, max_members=sizes.max_members,
                                    moving=moving, block=sweep.block)
            records.extend(_run_record(sweep, moving, run, result)
                           for run, result in zip(runs, results))
            for key in sweep.measures:
                measure = _MEASURES_BY_KEY[key]
                if measure.moving != moving:
                    continue
                curves[key], sweep_fits[key] = _measure_data(
                    measure, runs_by_parameterization, results, sizes)

        sweeps.append({"key": sweep.key, "model": sweep.model, "block": sweep.block,
                       "label": sweep.label, "measures": list(sweep.measures),
                       "curves": curves})
        fits[sweep.key] = sweep_fits
        sweep_configs.append({"key": sweep.key, "model": sweep.model, "block": sweep.block,
                              "run_defaults": shared_run_fields(runs)})

    return json_ready({
        "config": {
            "scale": scale,
            "scale_settings": dataclasses.asdict(settings),
            "learning_rate": LEARNING_RATE,
            "optimizer": "adam",
            "steps": 1,
            "dtype": DTYPE,
            "parameterizations": [
                {"key": p.key, "label": p.label, "parameterization": p.parameterization,
                 "alpha": p.alpha, "table": table_fingerprint(tables[p.key])}
                for p in PARAMETERIZATIONS
            ],
            "measures": [dataclasses.asdict(measure) for measure in MEASURES],
            "sweeps": sweep_configs,
        },
        # The transformer's two sweeps measure different blocks of the same runs.
        "seeds": _seeds(base_seed, list(dict.fromkeys(all_runs))),
        "sweeps": sweeps,
        "fits": fits,
        "runs": records,
    })


def _measure_data(measure, runs_by_parameterization, results, sizes):
    """Return the curves and fits of one measure, keyed by parameterization."""
    curves = {}
    fits = {}
    offset = 0
    for parameterization, runs in zip(PARAMETERIZATIONS, runs_by_parameterization):
        group = results[offset:offset + len(runs)]
        offset += len(runs)

        # A diverged run's values describe an overflowed block, so they are left out, as
        # is any value that is not finite (the reference measure, which the divergence
        # flag does not cover, included).
        values = []
        diverged = []
        for result in group:
            value = float(np.asarray(result[measure.key])[0])
            failed = bool(result["diverged"]) or not np.isfinite(value)
            diverged.append(failed)
            values.append(np.nan if failed else value)

        curves[parameterization.key] = _curve(runs, values, diverged, sizes)
        predicted = theory_exponents(runs[0])[measure.theory_key]
        fit = {"quantity": measure.key, "theory_key": measure.theory_key,
               "theory": predicted, "theory_exact": str(predicted),
               "theory_trend": theory_trend(predicted)}
        fit.update(depth_fit(runs, values))
        fits[parameterization.key] = fit
    return curves, fits


def _curve(runs, values, diverged, sizes):
    """Return one curve: per-seed values, median and quartiles over seeds, diverged seeds."""
    depths = list(sizes.depths)
    grid = np.full((sizes.seeds, len(depths)), np.nan)
    failed = np.zeros(grid.shape, dtype=bool)
    for run, value, run_diverged in zip(runs, values, diverged):
        column = depths.index(run.depth)
        grid[run.seed_index, column] = value
        failed[run.seed_index, column] = run_diverged

    median = np.full(len(depths), np.nan)
    lower = np.full(len(depths), np.nan)
    upper = np.full(len(depths), np.nan)
    for column in range(len(depths)):
        samples = grid[:, column]
        samples = samples[np.isfinite(samples)]
        if samples.size:
            lower[column], median[column], upper[column] = np.percentile(samples, [25, 50, 75])
    return {
        "depths": depths,
        "description": "values indexed [seed, depth], null where the run diverged; median "
                       "and quartiles over the seeds that did not",
        "values": grid,
        "median": median,
        "lower_quartile": lower,
        "upper_quartile": upper,
        "valid_seeds": np.isfinite(grid).sum(axis=0),
        "diverged_seeds": failed.sum(axis=0),
    }


def _seeds(base_seed, runs):
    return {
        "base_seed": base_seed,
        "seed_indices": sorted({run.seed_index for run in runs}),
        # Seeds are decimal strings because many JSON readers round integers above 2**53.
        # A run's seed is the 128-bit entropy of its numpy.random.SeedSequence.
        "run_entropy": [
            {"model": run.model, "parameterization": run.parameterization, "alpha": run.alpha,
             "depth": run.depth, "seed_index": run.seed_index,
             "entropy": str(run_seed_sequence(run.base_seed, run.seed_index,
                                              run.identity()).entropy)}
            for run in runs
        ],
    }


def _run_record(sweep, moving, run, result):
    record = {"sweep": sweep.key, "moving": moving, "config": run.to_dict()}
    record.update(result)
    return record


def draw(data):
    """Draw the figure from the data that :func:`compute` returns (or its JSON file).

    Returns
    -------
    matplotlib.figure.Figure
        Top row: the residual MLP's three measures. Bottom row: the transformer's
        measures (a) and (b) for each measured block, and the legend. Each curve is the
        median over seeds with its interquartile band; the fitted slopes with their
        theory values are printed under each panel.
    """
    sweeps = {sweep["key"]: sweep for sweep in data["sweeps"]}
    parameterizations = data["config"]["parameterizations"]
    colors = {p.key: p.color for p in PARAMETERIZATIONS}
    transformer_sweeps = [sweep for sweep in data["sweeps"] if sweep["model"] == "transformer"]

    figure = Figure(figsize=(16.0, 15.0))
    grid = figure.add_gridspec(2, 3, left=0.06, right=0.985, top=0.86, bottom=0.14,
                               wspace=0.22, hspace=0.75)
    mlp = sweeps["residual-mlp"]
    for column, key in enumerate(mlp["measures"]):
        ax = figure.add_subplot(grid[0, column])
        _draw_panel(ax, [mlp], key, colors)
        _draw_fit_text(ax, [mlp], key, data["fits"], parameterizations)
    figure.text(0.5, 0.885, _row_heading(data, "residual_mlp"), ha="center", fontsize=11,
                fontweight="bold")

    transformer_measures = transformer_sweeps[0]["measures"] if transformer_sweeps else []
    for column, key in enumerate(transformer_measures):
        ax = figure.add_subplot(grid[1, column])
        _draw_panel(ax, transformer_sweeps, key, colors)
        _draw_fit_text(ax, transformer_sweeps, key, data["fits"], parameterizations)
    if transformer_sweeps:
        top_of_second_row = grid[1, 0].get_position(figure).y1
        figure.text(0.5, top_of_second_row + 0.028, _row_heading(data, "transformer"),
                    ha="center", fontsize=11, fontweight="bold")

    legend_axes = figure.add_subplot(grid[1, 2])
    legend_axes.axis("off")
    legend_axes.legend(handles=_legend_handles(data, transformer_sweeps), loc="upper left",
                       frameon=False, fontsize=9.5)

    figure.suptitle("Distance of one residual block from its linearization after one Adam "
                    "step, against depth (analogue of CompleteP's Figure 6)", fontsize=14,
                    y=0.985)
    figure.text(0.5, 0.94, _setup_lines(data), ha="center", va="center", fontsize=9.5,
                linespacing=1.5)
    return figure


def _draw_panel(ax, sweeps, key, colors):
    measure = _MEASURES_BY_KEY[key]
    any_finite = False
    curve_index = 0
    for sweep in sweeps:
        style = _SWEEPS_BY_KEY[sweep["key"]]
        for parameterization_key, curve in sweep["curves"][key].items():
            # Where every seed of a curve diverged, its marker sits near the top edge, in
            # one row per curve so that the markers do not hide each other.
            top = 0.97 - 0.045 * curve_index
            curve_index += 1
            color = colors[parameterization_key]
            depths = np.array(curve["depths"], dtype=float)
            median = np.array(curve["median"], dtype=float)
            lower = np.array(curve["lower_quartile"], dtype=float)
            upper = np.array(curve["upper_quartile"], dtype=float)
            diverged = np.array(curve["diverged_seeds"], dtype=int)
            any_finite |= bool(np.isfinite(median).any())

            ax.fill_between(depths, lower, upper, color=color, alpha=0.18, linewidth=0)
            ax.plot(depths, median, color=color, linestyle=style.linestyle, marker=style.marker,
                    markersize=4, linewidth=1.5)

            # Where some seeds diverged the median of the others is marked.
            marked = diverged > 0
            with_median = marked & np.isfinite(median)
            ax.plot(depths[with_median], median[with_median], linestyle="none", marker="v",
                    markersize=9, markerfacecolor=color, markeredgecolor="black", zorder=4)
            without_median = marked & ~np.isfinite(median)
            ax.plot(depths[without_median], np.full(without_median.sum(), top),
                    linestyle="none", marker="v", markersize=9, markerfacecolor="none",
                    markeredgecolor=color, markeredgewidth=1.8,
                    transform=ax.get_xaxis_transform(), clip_on=False, zorder=4)

    depths = np.array(sweeps[0]["curves"][key][PARAMETERIZATIONS[0].key]["depths"], dtype=float)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    if not any_finite:
        # Every run diverged, so nothing sets the limits of the logarithmic axis.
        ax.set_ylim(1e-3, 1.0)
    ax.xaxis.set_major_locator(FixedLocator(depths))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(int(depth)) for depth in depths],
                       rotation=45 if len(depths) > 9 else 0)
    unit = "layers" if sweeps[0]["model"] == "transformer" else "residual blocks"
    ax.set_xlabel(f"depth $L$ ({unit})")
    ax.set_ylabel(measure.ylabel)
    ax.set_title(measure.title, fontsize=12)
    ax.grid(True, which="major", alpha=0.3)


def _draw_fit_text(ax, sweeps, key, fits, parameterizations):
    lines = []
    if key == "reference_measure":
        lines += ["Only the block's first matrix trains. The first-order term ft is not the",
                  "true one for a two-matrix block, so the measure follows the block's change.",
                  ""]
    lines.append("depth slope: measured ± seed s.d. (theory)")
    for sweep in sweeps:
        for parameterization in parameterizations:
            fit = fits[sweep["key"]][key][parameterization["key"]]
            if fit["slope"] is None:
                measured = "no fit"
            else:
                measured = f"{fit['slope']:+.2f} ± {fit['spread']:.2f}"
            theory = fit["theory_exact"]
            if fit["theory_key"] == "block_change":
                theory = f"{theory}, that of the block's change"
            label = parameterization["label"]
            if sweep["model"] == "transformer":
                label = f"{_BLOCK_NAMES[sweep['block']]} block, {label}"
            lines.append(f"{label}: {measured} ({theory})")
    ax.annotate("\n".join(lines), xy=(0.0, 0.0), xycoords="axes fraction", xytext=(0, -42),
                textcoords="offset points", ha="left", va="top", fontsize=8.5,
                linespacing=1.45)


def _legend_handles(data, transformer_sweeps):
    handles = [Line2D([], [], color=p.color, linewidth=1.5, label=p.label)
               for p in PARAMETERIZATIONS]
    handles.append(Patch(facecolor="0.5", alpha=0.3,
                         label="median over seeds, band from first to third quartile"))
    for sweep in transformer_sweeps:
        style = _SWEEPS_BY_KEY[sweep["key"]]
        handles.append(Line2D([], [], color="0.3", linestyle=style.linestyle,
                              marker=style.marker, markersize=4,
                              label=f"bottom row: {_BLOCK_NAMES[sweep['block']]} block"))
    any_diverged = any(
        sum(curve["diverged_seeds"]) > 0
        for sweep in data["sweeps"] for curves in sweep["curves"].values()
        for curve in curves.values())
    if any_diverged:
        handles.append(Line2D([], [], color="none", marker="v", markersize=9,
                              markerfacecolor="0.6", markeredgecolor="black",
                              label="some seeds diverged (not finite): median of the others;\n"
                                    "open, near the top edge, where every seed diverged"))
    else:
        handles.append(Line2D([], [], color="none", label="no run diverged"))
    return handles


def _row_heading(data, model):
    settings = data["config"]["scale_settings"]
    sizes = settings[model]
    if model == "transformer":
        head_width = sizes["width"] // settings["heads"]
        defaults = next(sweep["run_defaults"] for sweep in data["config"]["sweeps"]
                        if sweep["model"] == "transformer")
        return (f"pre-LN transformer: width $N$ = {sizes['width']}, {settings['heads']} heads "
                f"of width {head_width}, MLP of width {defaults['hidden_multiple']}$N$, "
                f"$T$ = {settings['seq_len']}; block of layer $\\lfloor L/2 \\rfloor$; "
                f"batch {sizes['batch_size']} sequences, {sizes['seeds']} seeds")
    return (f"pre-LN residual MLP: width $N$ = {sizes['width']}, block "
            f"$\\lfloor L/2 \\rfloor$; batch {sizes['batch_size']}, {sizes['seeds']} seeds")


def _setup_lines(data):
    config = data["config"]
    return (
        f"One Adam step (no weight decay) on the block's own weight matrices, with the "
        f"block's input and every other parameter held fixed\n"
        f"base learning rate {config['learning_rate']:g} "
        f"with the derived table's depth factor ($m_L^{{\\alpha - 1}}$, none for SP); "
        f"GELU, LayerNorm, $N_{{base}} = N$, $L_{{base}}$ = 2, {config['dtype']}; "
        f"scale {config['scale']}"
    )
