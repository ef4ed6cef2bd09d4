"""Figure ``completep-depth-coord-check``: the depth coordinate check of CompleteP.

The analogue of Figure 7 of Dey et al. 2025, "Don't be lazy: CompleteP enables
compute-efficient deep transformers" (arXiv 2505.01618): the mean absolute coordinate of
the final residual stream ``h^L`` against depth ``L``, at initialization and after each
of the first AdamW steps, in three panels (SP/muP, alpha = 1/2, alpha = 1). The paper
trains transformers. This figure trains the suite's pre-LN residual MLP
(:class:`sims.models.ResidualMLP`) on its character corpus.

All runs use ``N_base = N``, so ``m_N = 1``. There the width rules of muP are all
factors of one and SP and muP train identically, so one panel shows both.

Beside the curves the figure fits two depth slopes per panel, each against its value
from :func:`theory.completep.depth_exponents` at the panel's alpha (0 for SP) and the
table's in-block learning-rate exponent:

* ``||h^L - h^0||**2 / N`` at initialization, theory ``1 - 2 alpha`` (desideratum D1).
* ``||Delta h^L||**2 / N`` after the first step, theory 0 for the alpha family
  (desideratum D2) and 2 for SP, whose learning rate has no depth factor.

The theory values are exponents as ``L`` grows. SP's value of 2 assumes that the ``L``
block updates stay aligned (premise P2 of the derivation). Without a branch multiplier
each block changes the input of every later block by order one, and the measured slope
falls short of 2. It was 1.75 at the quick scale, 1.88 when only the in-block parameters
train (so that the embedding's own update is left out), and about 1.5 over depths 16 to
256 (float32; 3 seeds, 2 over the deep range). The alpha family's slopes match
their theory values.

The module also contains the implementation that this figure shares with
``completep-depth-coord-check-transformer``
(:mod:`paper_figures.completep_depth_coord_check_transformer`): a
:class:`CoordCheckFigure` names the model, its panels and its settings per scale, and
:func:`compute_figure` and :func:`draw` work for either model.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator
from scipy import stats

from paper_figures.memory import require_memory
from paper_figures.output import json_ready
from sims.coord_check import coord_check, statistic
from sims.depth_fits import depth_grid, depth_slope
from sims.data import load_corpus
from sims.runs import DTYPES, RunConfig, table_fingerprint
from sims.scales import check_scale
from sims.seeds import run_seed_sequence, stream_seed
from theory.completep import depth_exponents

NAME = "completep-depth-coord-check"


@dataclass(frozen=True)
class ScaleSettings:
    """Grid and harness settings of one scale.

    Attributes
    ----------
    width : int
        ``N``, equal to ``N_base`` in every run.
    depths : tuple of int
        Depths ``L``; ``L_base`` is the :class:`sims.runs.RunConfig` default, 2.
    seeds : int
        Seed indices ``0 .. seeds - 1`` per depth and panel.
    steps : int
        AdamW steps after initialization.
    probe_size : int
        Examples in the probe batch on which the statistics are measured.
    batch_size : int
        Training examples per step.
    dtype : str
    """

    width: int
    depths: tuple
    seeds: int
    steps: int
    probe_size: int
    batch_size: int
    dtype: str

    def run_options(self):
        """Return the :class:`sims.runs.RunConfig` fields that select the model.

        None for the residual MLP, which is the default model.
        """
        return {}

    def estimate_memory_bytes(self):
        """Estimate the peak memory of the largest ensemble that the figure trains.

        One ensemble contains the seeds of one panel and depth, and ensembles are trained
        one after another. The estimate is
        ``seeds * itemsize * L * (4 * 2 N**2 + 8 * B * N)`` at the largest depth, with
        ``B`` the larger of the probe and training batches: four copies of the two
        ``N x N`` block matrices and eight activation arrays per block. It leaves out the
        interpreter, the embedding, the read-out and the temporaries of one layer.
        """
        depth = max(self.depths)
        batch = max(self.probe_size, self.batch_size)
        per_block = (_WEIGHT_COPIES * 2 * self.width * self.width
                     + _ACTIVATIONS_PER_BLOCK * batch * self.width)
        itemsize = np.dtype(DTYPES[self.dtype]).itemsize
        return self.seeds * itemsize * depth * per_block


_WEIGHT_COPIES = 4
"""Copies of every weight the optimizer keeps: value, gradient and AdamW's two moments."""

_ACTIVATIONS_PER_BLOCK = 8
"""Arrays of shape (batch, N) that a block's forward pass keeps for the backward pass
(stream, normalized input and its output, pre-activation, activation, branch output),
rounded up."""


SETTINGS = {
    "smoke": ScaleSettings(width=32, depths=(2, 4, 8), seeds=2, steps=3, probe_size=64,
                           batch_size=16, dtype="float32"),
    "quick": ScaleSettings(width=128, depths=(2, 4, 8, 16, 32, 64), seeds=3, steps=10,
                           probe_size=256, batch_size=64, dtype="float32"),
    "paper": ScaleSettings(width=256, depths=(2, 4, 8, 16, 32, 64, 128), seeds=5, steps=10,
                           probe_size=256, batch_size=64, dtype="float32"),
}


@dataclass(frozen=True)
class Panel:
    """One panel: a parameterization and its residual exponent.

    Attributes
    ----------
    key : str
        Name of the panel in the JSON document.
    title : str
        Panel title, in matplotlib mathtext.
    parameterization : {"sp", "mup", "alpha"}
    alpha : float or None
        Residual exponent of the alpha family; ``None`` for SP.
    """

    key: str
    title: str
    parameterization: str
    alpha: float


PANELS = (
    Panel("sp-mup", r"SP/$\mu$P (no depth factors)", "sp", None),
    Panel("alpha-1/2", r"$\alpha$ = 1/2", "alpha", 0.5),
    Panel("completep", r"$\alpha$ = 1 (CompleteP)", "alpha", 1.0),
)


@dataclass(frozen=True)
class FittedQuantity:
    """A coordinate-check statistic whose depth slope the figure fits.

    Attributes
    ----------
    key : str
        Name of the fit in the JSON document.
    statistic : str
        Per-step result of :func:`sims.coord_check.coord_check`.
    step : int
        Step at which the statistic is read, 0 for initialization.
    theory_key : str
        Exponent of :func:`theory.completep.depth_exponents` that predicts the slope.
    label : str
        Short description, in matplotlib mathtext.
    """

    key: str
    statistic: str
    step: int
    theory_key: str
    label: str


FITTED_QUANTITIES = (
    FittedQuantity("init_branch_variance", "branch_sum_variance", 0, "init_branch_variance",
                   r"$\Vert h^L - h^0\Vert^2/N$ at init"),
    FittedQuantity("first_stream_update", "stream_update", 1, "stream_update_variance",
                   r"$\Vert\Delta h^L\Vert^2/N$ after step 1"),
)

@dataclass(frozen=True)
class CoordCheckFigure:
    """A coordinate-check figure: its name, model, panels and settings per scale.

    Attributes
    ----------
    name : str
        The figure's name on the command line and the stem of its files.
    model_description : str
        The model and data, recorded in the JSON document.
    panels : tuple of Panel
    settings : dict
        Scale name to :class:`ScaleSettings` (or a subclass that selects another model).
    """

    name: str
    model_description: str
    panels: tuple
    settings: dict


RESIDUAL_MLP_FIGURE = CoordCheckFigure(
    NAME, "pre-LN residual MLP (sims.models.ResidualMLP) on the character corpus", PANELS,
    SETTINGS)


def panel_runs(figure, panel, scale, base_seed):
    """Return the runs of one panel at ``scale``, ordered by depth and then seed index.

    Every run has ``N_base = N`` and the :class:`sims.runs.RunConfig` defaults for
    everything the scale does not set: GELU, LayerNorm, biases, AdamW with ``lr = 1e-3``,
    betas (0.9, 0.95), ``init_std = 0.02``, weight decay 0.1 and no gradient clipping.
    """
    settings = figure.settings[check_scale(scale)]
    return [
        RunConfig(width=settings.width, depth=depth, parameterization=panel.parameterization,
                  alpha=panel.alpha, base_width=settings.width,
                  batch_size=settings.batch_size, dtype=settings.dtype,
                  base_seed=base_seed, seed_index=seed_index, **settings.run_options())
        for depth in settings.depths
        for seed_index in range(settings.seeds)
    ]


def theory_exponents(run):
    """Return the depth exponents that the derivation predicts for ``run``'s table.

    The exponents come from :func:`theory.completep.depth_exponents` with the table's
    alpha (0 for SP and muP) and the depth exponent of its in-block learning rate
    (``alpha - 1`` in the alpha family, 0 for SP). AdamW follows the Adam rules.
    """
    table = run.default_table()
    lr_exponent = table.entry("hidden_weight", "lr").depth_exponent
    return depth_exponents(table.alpha, "adam", lr_exponent=lr_exponent)


def compute(scale, base_seed, cache):
    """Run or load the residual MLP's coordinate checks; see :func:`compute_figure`."""
    return compute_figure(RESIDUAL_MLP_FIGURE, scale, base_seed, cache)


def compute_figure(figure, scale, base_seed, cache):
    """Run or load the coordinate checks of every panel and fit the depth slopes.

    Parameters
    ----------
    figure : CoordCheckFigure
    scale : {"smoke", "quick", "paper"}
    base_seed : int
    cache : sims.cache.RunCache

    Returns
    -------
    dict
        JSON-ready, with the keys

        * ``config``: scale, scale settings, model, panels and their tables;
        * ``seeds``: base seed, seed indices, probe-batch seed and each run's entropy;
        * ``panels``: per panel the depths and the per-seed values, mean and standard
          error of the final-stream curves, and the diverged runs;
        * ``fits``: per panel and fitted quantity the measured slope, seed spread,
          per-seed slopes, the fitted grid, the theory value and its trend;
        * ``runs``: per run its full configuration and its per-layer statistics as
          arrays indexed by step and layer.

    Raises
    ------
    paper_figures.memory.InsufficientMemoryError
        If the settings' :meth:`~ScaleSettings.estimate_memory_bytes` exceeds the memory
        available.
    """
    settings = figure.settings[check_scale(scale)]
    require_memory(settings.estimate_memory_bytes(), f"{figure.name} at scale {scale!r}")

    runs_by_panel = [panel_runs(figure, panel, scale, base_seed) for panel in figure.panels]
    all_runs = [run for runs in runs_by_panel for run in runs]
    all_results = coord_check(all_runs, settings.steps, settings.probe_size, cache=cache)

    panels = []
    fits = {}
    offset = 0
    for panel, runs in zip(figure.panels, runs_by_panel):
        results = all_results[offset:offset + len(runs)]
        offset += len(runs)
        panels.append(_panel_data(panel, runs, results, settings))
        fits[panel.key] = _panel_fits(runs, results)

    return json_ready({
        "config": _config(figure, scale, settings, runs_by_panel),
        "seeds": _seeds(base_seed, all_runs),
        "panels": panels,
        "fits": fits,
        "runs": [_run_record(run, result) for run, result in zip(all_runs, all_results)],
    })


def _config(figure, scale, settings, runs_by_panel):
    template = runs_by_panel[0][0]
    shape = dataclasses.asdict(template.model_shape(load_corpus().vocab_size))
    shape.pop("depth")
    # A transformer's attention scale follows the parameterization, so each run's
    # configuration records it instead.
    shape.pop("attention_scale", None)
    return {
        "scale": scale,
        "scale_settings": dataclasses.asdict(settings),
        "model": figure.model_description,
        "model_shape": shape,
        "panels": [
            {"key": panel.key, "title": panel.title, "parameterization": panel.parameterization,
             "alpha": panel.alpha, "table": table_fingerprint(runs[0].default_table())}
            for panel, runs in zip(figure.panels, runs_by_panel)
        ],
        "run_defaults": shared_run_fields(run for runs in runs_by_panel for run in runs),
        "fitted_quantities": [dataclasses.asdict(quantity) for quantity in FITTED_QUANTITIES],
    }


def shared_run_fields(runs):
    """Return the configuration fields on which all ``runs`` agree, with their values.

    Depth, parameterization, alpha and seed index are left out even where they agree.
    Fields that follow the parameterization, such as a transformer's attention scale, are
    left out because they differ between panels.
    """
    documents = [run.to_dict() for run in runs]
    return {
        name: value for name, value in documents[0].items()
        if name not in ("depth", "parameterization", "alpha", "seed_index")
        and all(document[name] == value for document in documents)
    }


def _seeds(base_seed, runs):
    return {
        "base_seed": base_seed,
        "seed_indices": sorted({run.seed_index for run in runs}),
        # Seeds are decimal strings because many JSON readers, JavaScript's among them,
        # round integers above 2**53. A run's seed is the 128-bit entropy of its
        # numpy.random.SeedSequence.
        "probe_batch_seed": str(stream_seed(base_seed, "probe")),
        "run_entropy": [
            {"parameterization": run.parameterization, "alpha": run.alpha, "depth": run.depth,
             "seed_index": run.seed_index,
             "entropy": str(run_seed_sequence(run.base_seed, run.seed_index,
                                              run.identity()).entropy)}
            for run in runs
        ],
    }


def _panel_data(panel, runs, results, settings):
    """Return the final-stream curves of one panel: per-seed values, mean and error."""
    depths = list(settings.depths)
    seed_indices = list(range(settings.seeds))
    states = settings.steps + 1
    values = np.full((len(seed_indices), len(depths), states), np.nan)
    diverged = np.zeros(values.shape, dtype=bool)
    diverged_runs = []
    for run, result in zip(runs, results):
        row = seed_indices.index(run.seed_index)
        column = depths.index(run.depth)
        values[row, column] = result["stream_mean_abs"][:, -1]

        # A run stops training at the state whose training loss diverged, so its
        # statistics from that state on are left out of the mean and the point is marked.
        if result["diverged"]:
            diverged[row, column, result["diverged_step"]:] = True
            diverged_runs.append({"depth": run.depth, "seed_index": run.seed_index,
                                  "diverged_step": result["diverged_step"]})
    values[diverged | ~np.isfinite(values)] = np.nan

    valid = np.isfinite(values).sum(axis=0)
    mean = np.full(valid.shape, np.nan)
    standard_error = np.full(valid.shape, np.nan)
    for index in np.ndindex(valid.shape):
        samples = values[(slice(None),) + index]
        samples = samples[np.isfinite(samples)]
        if samples.size:
            mean[index] = samples.mean()
        # One seed gives no standard error, so the point is drawn without a bar.
        if samples.size >= 2:
            standard_error[index] = stats.sem(samples)

    return {
        "key": panel.key,
        "title": panel.title,
        "parameterization": panel.parameterization,
        "alpha": panel.alpha,
        "depths": depths,
        "steps": list(range(states)),
        "final_stream_mean_abs": {
            "description": "mean |h^L_i| on the probe batch, indexed [seed, depth, step] "
                           "(values) or [depth, step]; null where the run had diverged",
            "values": values,
            "mean": mean,
            "standard_error": standard_error,
            "valid_seeds": valid,
            "diverged_seeds": diverged.sum(axis=0),
        },
        "diverged_runs": diverged_runs,
    }


def _panel_fits(runs, results):
    """Return the fitted depth slopes of one panel with their theory values."""
    theory = theory_exponents(runs[0])
    fits = {}
    for quantity in FITTED_QUANTITIES:
        predicted = theory[quantity.theory_key]
        fit = {
            "statistic": quantity.statistic,
            "step": quantity.step,
            "theory": predicted,
            "theory_exact": str(predicted),
            "theory_trend": theory_trend(predicted),
        }
        fit.update(depth_fit(runs, statistic(results, quantity.statistic, quantity.step)))
        fits[quantity.key] = fit
    return fits


def depth_fit(runs, values):
    """Return :func:`sims.depth_fits.depth_slope`, or a record without a slope.

    Where no seed has two positive finite points, as when every run diverged, the record
    has the same keys with ``slope``, ``spread`` and ``mean_curve_slope`` set to ``None``
    and no seed slopes.
    """
    depths, seed_indices, grid = depth_grid(runs, values)
    if (np.isfinite(grid).sum(axis=1) >= 2).any():
        return depth_slope(runs, values)
    return {"slope": None, "spread": None, "seed_slopes": [], "mean_curve_slope": None,
            "seeds": 0, "axis": "depth", "points": depths, "seed_indices": seed_indices,
            "values": grid.tolist(), "excluded": int(np.isnan(grid).sum())}


def theory_trend(exponent):
    """Describe the sign of a depth exponent in words, e.g. ``"falls with depth"``."""
    if exponent > 0:
        return "grows with depth"
    if exponent < 0:
        return "falls with depth"
    return "flat in depth"


def _run_record(run, result):
    return {
        "config": run.to_dict(),
        "diverged": result["diverged"],
        "diverged_step": result["diverged_step"],
        "probe_loss": result["probe_loss"],
        "train_loss": result["train_loss"],
        "branch_sum_variance": result["branch_sum_variance"],
        "stream_update": result["stream_update"],
        # Indexed [step, layer]: layers 0 .. L of the stream, blocks 1 .. L of the branch.
        "stream_mean_abs": result["stream_mean_abs"],
        "stream_rms": result["stream_rms"],
        "branch_mean_abs": result["branch_mean_abs"],
        "branch_rms": result["branch_rms"],
    }


def draw(data):
    """Draw the figure from the data that :func:`compute_figure` returns (or its JSON file).

    The model, residual MLP or transformer, is read from the run defaults of the data,
    and the title, axis label and setup line name it.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels with shared y-limits, one curve per step coloured by step, the
        fitted slopes under each panel and a colour bar of the steps.
    """
    settings = data["config"]["scale_settings"]
    steps = settings["steps"]
    transformer = data["config"]["run_defaults"]["model"] == "transformer"
    colormap = colormaps["viridis"]
    color_norm = BoundaryNorm(np.arange(-0.5, steps + 1.5), colormap.N)

    figure = Figure(figsize=(14.0, 6.0 if transformer else 5.6))
    axes = figure.subplots(1, len(data["panels"]), sharey=True)
    top = 0.76 if transformer else 0.80
    figure.subplots_adjust(left=0.075, right=0.91, top=top, bottom=0.30, wspace=0.08)
    depth_label = ("depth $L$ (layers, each an attention and an MLP block)" if transformer
                   else "depth $L$ (residual blocks)")
    for ax, panel in zip(axes, data["panels"]):
        _draw_panel(ax, panel, colormap, color_norm, depth_label)
        _draw_fit_text(ax, data["fits"][panel["key"]])
    axes[0].set_ylabel(r"mean $|h^L_i|$ of the final residual stream")

    colorbar_axes = figure.add_axes([0.925, 0.30, 0.012, top - 0.30])
    colorbar = figure.colorbar(ScalarMappable(norm=color_norm, cmap=colormap),
                               cax=colorbar_axes, ticks=range(steps + 1))
    colorbar.set_label("AdamW step (0 = initialization)")

    any_diverged = any(panel["diverged_runs"] for panel in data["panels"])
    figure.legend(handles=_legend_handles(any_diverged), loc="lower center", ncol=2, frameon=False,
                  bbox_to_anchor=(0.5, 0.0), fontsize=9)
    subject = "Depth coordinate check of a pre-LN transformer" if transformer else (
        "Depth coordinate check")
    figure.suptitle(f"{subject}: mean $|h^L|$ against depth over the first "
                    f"{steps} AdamW steps (analogue of CompleteP's Figure 7)",
                    fontsize=13, y=0.98)
    if transformer:
        figure.text(0.5, 0.87, _transformer_setup_lines(data), ha="center", va="center",
                    fontsize=9, linespacing=1.5)
    else:
        figure.text(0.5, 0.905, _setup_line(data), ha="center", va="center", fontsize=9)
    return figure


def _draw_panel(ax, panel, colormap, color_norm, depth_label):
    depths = np.array(panel["depths"], dtype=float)
    curves = panel["final_stream_mean_abs"]
    mean = np.array(curves["mean"], dtype=float)
    error = np.array(curves["standard_error"], dtype=float)
    diverged = np.array(curves["diverged_seeds"], dtype=int)

    for step in panel["steps"]:
        color = colormap(color_norm(step))
        ax.errorbar(depths, mean[:, step], yerr=error[:, step], color=color, marker="o",
                    markersize=3.5, linewidth=1.3, elinewidth=0.9, capsize=2)

        # A point where some seeds diverged is marked. With no seed left it has no
        # mean and is drawn at the top edge of the panel.
        marked = diverged[:, step] > 0
        with_mean = marked & np.isfinite(mean[:, step])
        ax.plot(depths[with_mean], mean[with_mean, step], linestyle="none", marker="X", markersize=9,
                markerfacecolor=color, markeredgecolor="crimson", zorder=4)
        without_mean = marked & ~np.isfinite(mean[:, step])
        ax.plot(depths[without_mean], np.full(without_mean.sum(), 0.97), linestyle="none", marker="X",
                markersize=9, markerfacecolor="none", markeredgecolor="crimson",
                transform=ax.get_xaxis_transform(), clip_on=False, zorder=4)

    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(depths))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(int(depth)) for depth in depths])
    ax.set_xlabel(depth_label)
    ax.set_title(panel["title"], fontsize=12)
    ax.grid(True, which="major", alpha=0.3)


def _draw_fit_text(ax, fits):
    lines = ["depth slope: measured ± seed s.d. (theory)"]
    for quantity in FITTED_QUANTITIES:
        fit = fits[quantity.key]
        theory = f"{fit['theory_exact']} as L → ∞, {fit['theory_trend']}"
        if fit["slope"] is None:
            measured = "no fit"
        else:
            measured = f"{fit['slope']:+.2f} ± {fit['spread']:.2f}"
        lines.append(f"{quantity.label}: {measured} ({theory})")
    ax.text(0.0, -0.17, "\n".join(lines), transform=ax.transAxes, ha="left", va="top",
            fontsize=8.5, linespacing=1.5)


def _legend_handles(any_diverged):
    handles = [Line2D([], [], color="0.3", marker="o", markersize=3.5, linewidth=1.3,
                      label="mean over seeds ± standard error")]
    if any_diverged:
        handles.append(Line2D(
            [], [], color="none", marker="X", markersize=9, markerfacecolor="0.6",
            markeredgecolor="crimson",
            label="some seeds diverged: mean of the others (at the top edge if none is left)"))
    else:
        handles.append(Line2D([], [], color="none", label="no run diverged"))
    return handles


def _setup_line(data):
    settings = data["config"]["scale_settings"]
    defaults = data["config"]["run_defaults"]
    shape = data["config"]["model_shape"]
    return (
        f"pre-LN residual MLP, {shape['activation'].upper()}, width $N$ = {settings['width']} "
        f"= $N_{{base}}$ ($m_N$ = 1, where SP and $\\mu$P coincide), $L_{{base}}$ = "
        f"{defaults['base_depth']}; AdamW, $\\eta$ = {defaults['lr']:g}, "
        f"$\\sigma$ = {defaults['init_std']:g}, $\\lambda$ = {defaults['weight_decay']:g}, "
        f"batch {settings['batch_size']}, probe {settings['probe_size']}; "
        f"{settings['seeds']} seeds, {settings['dtype']}, scale {data['config']['scale']}"
    )


_ATTENTION_SCALE_LABELS = {"sp": r"$1/\sqrt{n_h}$", "mup": r"$1/n_h$"}


def _transformer_setup_lines(data):
    settings = data["config"]["scale_settings"]
    defaults = data["config"]["run_defaults"]
    shape = data["config"]["model_shape"]
    head_width = shape["width"] // shape["heads"]
    heads = f"{shape['heads']} head{'s' if shape['heads'] > 1 else ''}"
    embeddings = "tied" if shape["tied_embeddings"] else "untied"
    if shape["projection_init"] == "gpt2":
        projection = r"output projections initialized with the table's std times $1/\sqrt{2L}$"
    else:
        projection = "every hidden matrix initialized with the table's std"

    scales = {}
    for run in data["runs"]:
        config = run["config"]
        name = "SP" if config["parameterization"] == "sp" else r"$\alpha$"
        scales.setdefault(_ATTENTION_SCALE_LABELS[config["attention_scale"]], []).append(name)
    logit_scales = " and ".join(f"{scale} under {'/'.join(dict.fromkeys(names))}"
                                for scale, names in scales.items())

    return (
        f"pre-LN transformer, width $N$ = {settings['width']} = $N_{{base}}$ ($m_N$ = 1), "
        f"{heads} of width $n_h$ = {head_width}, {shape['activation'].upper()} MLP of width "
        f"{shape['mlp_multiple']}$N$, $T$ = {shape['seq_len']} tokens, {embeddings} embeddings, "
        f"$L_{{base}}$ = {defaults['base_depth']}\n"
        f"attention logits scaled by {logit_scales}; {projection}\n"
        f"AdamW, $\\eta$ = {defaults['lr']:g}, betas ({defaults['betas'][0]:g}, "
        f"{defaults['betas'][1]:g}), $\\sigma$ = {defaults['init_std']:g}, "
        f"$\\lambda$ = {defaults['weight_decay']:g}, no gradient clipping; "
        f"batch {settings['batch_size']} sequences, probe {settings['probe_size']}; "
        f"{settings['seeds']} seeds, {settings['dtype']}, scale {data['config']['scale']}"
    )
