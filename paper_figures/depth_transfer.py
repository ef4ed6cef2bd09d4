"""Shared implementation of the two depth-transfer figures of CompleteP.

The analogues of the depth-wise transfer sweeps of Dey et al. 2025 (arXiv 2505.01618):
the final training loss after a fixed token budget against a log2 grid of one base
hyperparameter (``eta_base`` or ``sigma_base``), one curve per depth, one panel per
parameterization (SP, muP, alpha = 1/2, alpha = 1) and one row per activation (GELU and
tanh, both shown because they reveal different things). The paper trains transformers on
language data. These figures train on the suite's character corpus: the pre-LN residual
MLP at the smoke and quick scales, the smallest model that shows the effect within the
quick budget, and the pre-LN transformer at the paper scale. The sizes are those of
:data:`sims.transfer.TRANSFER_SCALES`. The sweeps are those of
:func:`sims.transfer.depth_transfer_sweeps`, which the claims ledger reads too.

For each depth and seed the optimum is the vertex of the parabola through the grid
minimum and its neighbours (:func:`sims.transfer.grid_optimum`); the JSON gives, per
parameterization and activation, the optimum per depth with its seed spread, the best
loss seen on the grid, and the drift of the optimum from the shallowest to the deepest
model in log2 units (:func:`sims.transfer.optimum_drift`). Diverged runs are drawn as
crosses at the top of their panel.
"""

import numpy as np
import sympy
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from paper_figures.memory import require_memory
from paper_figures.output import json_ready
from sims.data import load_corpus
from sims.scales import check_scale
from sims.seeds import run_seed_sequence, stream_seed
from sims.sweep import worker_count
from sims.transfer import TRANSFER_PANELS, TRANSFER_SCALES, depth_transfer_sweeps

ACTIVATIONS = ("gelu", "tanh")
ACTIVATION_NAMES = {"gelu": "GELU", "tanh": "tanh"}
AXIS_LABELS = {"lr": r"$\log_2 \eta_{base}$", "init_std": r"$\log_2 \sigma_{base}$"}
AXIS_NAMES = {"lr": "learning rate", "init_std": "init std"}
MODEL_NAMES = {"residual_mlp": "pre-LN residual MLP", "transformer": "pre-LN transformer"}
LOSS_RANGE = 1.2
"""Largest height of each panel's loss axis above its lowest loss, in nats."""


PANEL_KEYS = {("sp", None): "sp", ("mup", None): "mup", ("alpha", 0.5): "alpha-1/2",
              ("alpha", 1.0): "completep"}


def panel_title(parameterization, alpha):
    if parameterization == "sp":
        return "SP"
    if parameterization == "mup":
        return r"$\mu$P"
    if alpha == 1.0:
        return r"$\alpha$ = 1 (CompleteP)"
    return rf"$\alpha$ = {sympy.nsimplify(alpha)}"


_WEIGHT_COPIES = 4
"""Copies of every weight that AdamW keeps: value, gradient and its two moments."""

_MLP_ARRAYS_PER_BLOCK = 16
"""Arrays of shape (B, N) per residual MLP block, as measured for the linearization figure."""

_TRANSFORMER_ARRAYS_PER_LAYER = 28
"""Arrays of shape (B, T, N) per transformer layer, as measured for the coordinate check."""

_TRANSFORMER_ATTENTION_ARRAYS_PER_LAYER = 2
"""Arrays of shape (B, H, T, T) per transformer layer, as measured for the coordinate check."""

_TRANSFORMER_MLP_MULTIPLE = 4
"""Hidden width of the transformer's MLP over ``N``, the :class:`sims.runs.RunConfig` default."""

_CONTEXT = 8
"""Characters that the residual MLP reads, the :class:`sims.runs.RunConfig` default."""


def estimate_memory_bytes(scale, workers=1):
    """Estimate the peak memory of the ensembles that train at the same time.

    One ensemble contains every grid point and seed of one depth, and ``workers`` of them
    train at once. Per run of the deepest model the estimate counts

    * residual MLP: ``4 (L 2 N**2 + C V N) + 16 L B N``, four copies (value, gradient,
      AdamW's two moments) of the blocks' matrices and of the read-in on ``C``
      characters, and 16 arrays of shape ``(B, N)`` per block;
    * transformer: ``L (4 (4 + 2 m) N**2 + 28 B T N + 2 B H T**2)`` with the MLP multiple
      ``m = 4``, the per-layer counts of the transformer coordinate check.

    The array counts were fitted to measured peaks of the linearization figure and of
    the transformer coordinate check, not of this figure's runs. The estimate leaves
    out the interpreter and the transformer's embeddings.
    """
    settings = TRANSFER_SCALES[check_scale(scale)]
    width = settings["width"]
    depth = max(settings["depths"])
    batch = settings["batch_size"]
    members = settings["seeds"] * max(len(settings["lr_exponents"]),
                                      len(settings["init_exponents"]))
    if settings["model"] == "transformer":
        tokens = batch * settings["seq_len"]
        per_layer = (_WEIGHT_COPIES * (4 + 2 * _TRANSFORMER_MLP_MULTIPLE) * width**2
                     + _TRANSFORMER_ARRAYS_PER_LAYER * tokens * width
                     + _TRANSFORMER_ATTENTION_ARRAYS_PER_LAYER * tokens * settings["seq_len"])
        elements = depth * per_layer
    else:
        weights = depth * 2 * width**2 + _CONTEXT * load_corpus().vocab_size * width
        elements = _WEIGHT_COPIES * weights + _MLP_ARRAYS_PER_BLOCK * depth * batch * width
    itemsize = np.dtype(settings["dtype"]).itemsize
    return workers * members * itemsize * elements


def compute(axis, scale, base_seed, cache):
    """Run or load the sweeps and return the JSON-ready data of one transfer figure.

    Returns
    -------
    dict
        ``config`` (scale, sizes, model, the fixed base constant), ``seeds``,
        ``panels``: per activation and parameterization the grid, the depths, the
        per-seed training and held-out losses, the diverged runs and the optima; and
        ``fits``: per activation and panel key, the optimum per depth with its spread,
        the best loss per depth, how many optima lie on the grid's edge, the drift of the
        optimum (theory 0 under alpha = 1; the other parameterizations have no predicted
        value) and the change of the best loss.
    """
    settings = TRANSFER_SCALES[check_scale(scale)]
    require_memory(estimate_memory_bytes(scale, worker_count()),
                   f"the {AXIS_NAMES[axis]} transfer figure at scale {scale!r}")
    sweeps = depth_transfer_sweeps(axis, scale, base_seed, ACTIVATIONS, cache)

    panels = []
    fits = {}
    runs = []
    records = []
    for (activation, parameterization, alpha), sweep in sweeps.items():
        runs.extend(sweep["runs"])
        records.extend(_run_record(run, result)
                       for run, result in zip(sweep["runs"], sweep["results"]))
        key = PANEL_KEYS[(parameterization, alpha)]
        fits.setdefault(activation, {})[key] = {
            "optimum": sweep["optimum"],
            "optimum_spread": sweep["optimum_spread"],
            "best_loss": sweep["best_loss"],
            "edge_optima": sweep["edge_optima"],
            "drift": sweep["drift"],
            "theory_drift": 0.0 if key == "completep" else None,
            "best_loss_trend": sweep["best_loss_trend"],
        }
        panels.append({
            "key": key,
            "activation": activation,
            "parameterization": parameterization,
            "alpha": alpha,
            "title": panel_title(parameterization, alpha),
            "log2_values": sweep["log2_values"],
            "depths": sweep["depths"],
            "train_loss": sweep["train_loss"],
            "heldout_loss": sweep["heldout_loss"],
            "diverged": sweep["diverged"],
            "optima": sweep["optima"],
            "optimum": sweep["optimum"],
            "optimum_spread": sweep["optimum_spread"],
            "best_loss": sweep["best_loss"],
            "best_loss_spread": sweep["best_loss_spread"],
            "edge_optima": sweep["edge_optima"],
            "drift": sweep["drift"],
            "best_loss_trend": sweep["best_loss_trend"],
        })

    fixed = ("fixed_init_std", settings["fixed_init_std"]) if axis == "lr" else \
        ("fixed_lr", settings["fixed_lr"])
    return json_ready({
        "config": {
            "scale": scale,
            "axis": axis,
            "scale_settings": settings,
            fixed[0]: fixed[1],
            "model": f"{MODEL_NAMES[settings['model']]} on the character corpus, "
                     f"N_base = 128, L_base = 2, AdamW with the derived table, linear "
                     f"warmup then a cosine schedule down to 0.1 of the base rate",
            "activations": list(ACTIVATIONS),
            "panels": [{"parameterization": p, "alpha": a} for p, a in TRANSFER_PANELS],
        },
        "seeds": _seeds(base_seed, settings, runs),
        "panels": panels,
        "fits": fits,
        "runs": records,
    })


def _run_record(run, result):
    """Return one run's full configuration beside its results."""
    return {
        "config": run.to_dict(),
        "train_loss": result["train_loss"],
        "heldout_loss": result["heldout_loss"],
        "diverged": result["diverged"],
        "diverged_step": result["diverged_step"],
        "loss_curve": result["loss_curve"],
    }


def _seeds(base_seed, settings, runs):
    """Return the base seed, the seed indices, the evaluation sets' seeds and each run's.

    ``runs`` are :class:`sims.runs.RunConfig` objects.

    Seeds are decimal strings because many JSON readers round integers above 2**53. A
    run's seed is the 128-bit entropy of its ``numpy.random.SeedSequence``, shared by the
    grid points of one depth and seed index.
    """
    entropy = {}
    for run in runs:
        key = (run.activation, run.parameterization, run.alpha, run.depth, run.seed_index)
        sequence = run_seed_sequence(run.base_seed, run.seed_index, run.identity())
        entropy[key] = str(sequence.entropy)
    return {
        "base_seed": base_seed,
        "seed_indices": list(range(settings["seeds"])),
        "evaluation_seeds": {split: str(stream_seed(base_seed, f"eval-{split}"))
                             for split in ("train", "heldout")},
        "run_entropy": [
            {"activation": key[0], "parameterization": key[1], "alpha": key[2], "depth": key[3],
             "seed_index": key[4], "entropy": value}
            for key, value in entropy.items()
        ],
    }


def draw(data):
    """Draw the figure from the data of :func:`compute` alone."""
    config = data["config"]
    axis = config["axis"]
    settings = config["scale_settings"]
    columns = len(config["panels"])
    rows = len(config["activations"])

    figure = Figure(figsize=(4.2 * columns, 3.9 * rows + 1.2), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True)
    colours = colormaps["viridis"]
    depths = data["panels"][0]["depths"]

    for panel in data["panels"]:
        row = config["activations"].index(panel["activation"])
        column = [(p["parameterization"], p["alpha"]) for p in config["panels"]].index(
            (panel["parameterization"], panel["alpha"]))
        _draw_panel(axes[row][column], panel, colours)
        if column == 0:
            activation = ACTIVATION_NAMES[panel["activation"]]
            axes[row][column].set_ylabel(f"{activation}\nfinal training loss (nats)")
        if row == rows - 1:
            axes[row][column].set_xlabel(AXIS_LABELS[axis])

    handles = [
        Line2D([], [], color=colours(i / max(len(depths) - 1, 1)), marker="o", markersize=3,
               label=f"L = {depth}")
        for i, depth in enumerate(depths)
    ]
    handles.append(Line2D([], [], color="0.2", marker="|", linestyle="none", markersize=10,
                          label="fitted optimum"))
    handles.append(Line2D([], [], color="red", marker="x", linestyle="none",
                          label="diverged run"))
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9)

    fixed = "sigma_base = {:g}".format(config.get("fixed_init_std")) if axis == "lr" else \
        "eta_base = {:g}".format(config.get("fixed_lr"))
    figure.suptitle(
        f"Depth-wise transfer of the base {AXIS_NAMES[axis]}: final training loss against "
        f"{AXIS_NAMES[axis]} for several depths\n"
        f"{MODEL_NAMES[settings['model']]}, width {settings['width']} (N_base 128), "
        f"L_base 2, AdamW, "
        f"{settings['steps']} steps of batch {settings['batch_size']}, {fixed}, "
        f"mean of {settings['seeds']} seeds, scale {config['scale']}; a triangle marks a "
        f"mean loss above the panel",
        fontsize=11,
    )
    return figure


def _draw_panel(ax, panel, colours):
    x = np.array(panel["log2_values"], dtype=float)
    losses = np.array(panel["train_loss"], dtype=float)
    diverged = np.array(panel["diverged"], dtype=bool)
    depths = panel["depths"]

    means = []
    for index in range(len(depths)):
        finished = np.where(diverged[index], np.nan, losses[index])
        counts = np.isfinite(finished).sum(axis=0)
        means.append(np.where(counts > 0, np.nansum(finished, axis=0) / np.maximum(counts, 1),
                              np.nan))
    means = np.array(means)
    finite = means[np.isfinite(means)]
    bottom = finite.min() - 0.05 if finite.size else 0.0
    top = min(finite.max() + 0.05, bottom + LOSS_RANGE) if finite.size else 1.0
    span = top - bottom

    for index, mean in enumerate(means):
        colour = colours(index / max(len(depths) - 1, 1))
        ax.plot(x, np.minimum(mean, top), marker="o", markersize=3, color=colour, linewidth=1.3)
        above = mean > top
        ax.plot(x[above], np.full(above.sum(), top), linestyle="none", marker="^",
                color=colour, markersize=6)
        optimum = panel["optimum"][index] if index < len(panel["optimum"]) else float("nan")
        if np.isfinite(optimum):
            ax.plot([optimum], [bottom + 0.04 * span], marker="|", markersize=10, color=colour)
        crashed = diverged[index].any(axis=0)
        ax.plot(x[crashed], np.full(crashed.sum(), top - (0.06 + 0.03 * index) * span),
                linestyle="none", marker="x", color="red", markersize=5)

    ax.set_ylim(bottom, top)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{panel['title']}\n{_fit_text(panel)}", fontsize=9)


def _fit_text(panel):
    """Return the panel's drift and best-loss change, with their seed standard deviations."""
    depths = panel["depths"]
    drift = panel["drift"]
    trend = panel["best_loss_trend"]
    # Rounding first keeps a drift of -1e-16 from printing as -0.00.
    shift = round(drift["drift"], 2) + 0.0
    text = (f"from L = {depths[0]} to {depths[-1]}: optimum {shift:+.2f} log2 "
            f"(s.d. {drift['spread']:.2f})\nbest loss {trend['drift']:+.3f} nats "
            f"(s.d. {trend['spread']:.3f}); s.d. over seeds")
    edges = panel["edge_optima"]
    if edges:
        text += f"\n{edges} {'optimum' if edges == 1 else 'optima'} at the grid's edge"
    return text
