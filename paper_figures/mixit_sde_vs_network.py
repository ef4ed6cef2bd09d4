"""Figure ``mixit-sde-vs-network``: finite MixiT networks against their limiting SDE, in law.

The signal-propagation theory of the MixiT attention (Dong, Noci, Khodak, Li 2025,
arXiv 2506.01115) is derived for this suite in :mod:`theory.mixit`. Take the token
covariance ``V`` of the idealized block (one head, one value matrix, no norm, no MLP)
after ``L = t n`` layers. The theory predicts that, as the width ``n`` grows, it
converges in distribution to the solution at time ``t`` of the covariance SDE of :mod:`sims.mixit_coefficients`. The
figure compares the laws of the correlation ``rho_13`` of the first and last token and
of the log-norm ``log V_33`` of the last token, for three tokens with the fixed ``V0`` of
:data:`sims.sde_comparison.INITIAL_COVARIANCE`, ``lambda**2 = gamma**2 = 1/2`` and
``sigma = 1``. All measurements come from :mod:`sims.sde_comparison`.

Panels, one column per quantity:

1. histograms at the last time, one per width, against the SDE;
2. the difference ``F_n(x) - F_SDE(x)`` of the empirical distribution functions, whose
   largest absolute value is the Kolmogorov-Smirnov (KS) distance, against the noise
   floor;
3. the KS distance against width at every time, with its DKW band, the noise floor and
   the log-log slope fitted over the widths above the floor. A dotted line marks the KS
   distance of the SDE at twice the step from the reference SDE.

The text under the panels lists the slopes with their bootstrap intervals and the scaled
KS distances of three checks: the step-size check, two halves of the reference SDE
sample (a measured noise floor), and the residual-linear SDE against the widest networks
(a contrast).

At the quick scale (base seed 0) the finite-width differences are small. The KS
distance at ``t = 1`` falls from 0.071 (``rho_13``) and 0.045 (``log V_33``) at
``n = 4`` to 0.018 and 0.014 at ``n = 16``, near the noise floor of 0.016 for 20000
samples on each side. The widths therefore start at 4, and only the first two or three
widths resolve the ``1 / n`` convergence. The law of ``rho_13`` under the
residual-linear SDE, without the mixing terms, lies within the noise floor of the
networks' law at ``sigma = 1``, while that of ``log V_33`` does not.
"""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from paper_figures.memory import require_memory
from paper_figures.output import json_ready
from sims.cache import RunCache
from sims.scales import check_scale
from sims.sde_comparison import (
    QUANTITIES, THEORY_SLOPE, comparison_config, comparison_samples, comparison_statistics,
    network_identity, sde_identity, settings_for,
)
from sims.seeds import check_seed, run_seed_sequence

NAME = "mixit-sde-vs-network"

HISTOGRAM_BINS = 60
ECDF_POINTS = 201
TAIL_QUANTILE = 0.002
"""Histograms and distribution-function differences span the SDE sample between this
quantile and one minus it, so that a few extreme paths do not stretch the axes."""

TIME_MARKERS = ("s", "o", "^", "D")


def compute(scale, base_seed, cache=RunCache(None)):
    """Run or load the networks and SDE solves and return the figure's data.

    Returns
    -------
    dict
        JSON-ready, with the keys

        * ``config``: scale, model, sample sizes, quantities and the levels of the noise
          floor, the fail threshold and the bands;
        * ``seeds``: the base seed and the entropy of the seed of each network width
          and of each SDE solve;
        * ``distributions``: per time and quantity, histograms of every width and of the
          SDE, and the differences of the distribution functions on a grid;
        * ``fits``: per time (``"t=1"``) and quantity, per width the KS distance, its
          DKW band, noise floor and p-value, the fitted slope with its bootstrap interval
          and theory value, the step-size check, the measured noise floor and the
          residual-linear contrast.

    Raises
    ------
    paper_figures.memory.InsufficientMemoryError
        If the scale's estimated memory exceeds the memory available.
    """
    settings = settings_for(check_scale(scale))
    base_seed = check_seed(base_seed, "base seed")
    require_memory(settings.estimate_memory_bytes(), f"{NAME} at scale {scale!r}")

    samples = comparison_samples(settings, base_seed, cache)
    statistics = comparison_statistics(settings, samples, base_seed)
    return json_ready({
        "config": {"scale": scale, **comparison_config(settings)},
        "seeds": _seeds(settings, base_seed),
        "distributions": _distributions(settings, samples),
        "fits": _fits(statistics),
    })


def _time_key(time):
    return f"t={time:g}"


def _seeds(settings, base_seed):
    # Seeds are decimal strings because many JSON readers round integers above 2**53.
    return {
        "base_seed": base_seed,
        "network_entropy": {
            str(width): str(run_seed_sequence(base_seed, 0, network_identity(width)).entropy)
            for width in settings.widths
        },
        "sde_entropy": {
            name: str(run_seed_sequence(base_seed, 0, sde_identity(steps, mixing)).entropy)
            for name, steps, mixing in (("reference", settings.steps, True),
                                        ("twice_the_step", settings.steps // 2, True),
                                        ("residual_linear", settings.steps, False))
        },
    }


def _distributions(settings, samples):
    """Return histograms and distribution-function differences per time and quantity."""
    distributions = {}
    for time_index, time in enumerate(settings.times):
        by_quantity = {}
        for quantity in QUANTITIES:
            reference = samples["sde"][time_index][quantity.key]
            finite = reference[np.isfinite(reference)]
            low, high = np.quantile(finite, [TAIL_QUANTILE, 1.0 - TAIL_QUANTILE])
            edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
            grid = np.linspace(low, high, ECDF_POINTS)
            sorted_reference = np.sort(reference)
            reference_cdf = np.searchsorted(sorted_reference, grid, side="right") / reference.size

            widths = []
            for width in settings.widths:
                sample = samples["network"][width][time_index][quantity.key]
                cdf = np.searchsorted(np.sort(sample), grid, side="right") / sample.size
                widths.append({
                    "width": width,
                    "density": np.histogram(sample, bins=edges, density=False)[0]
                    / (sample.size * np.diff(edges)),
                    "cdf_difference": cdf - reference_cdf,
                })
            by_quantity[quantity.key] = {
                "edges": edges,
                "grid": grid,
                "sde_density": np.histogram(reference, bins=edges)[0]
                / (reference.size * np.diff(edges)),
                "widths": widths,
            }
        distributions[_time_key(time)] = by_quantity
    return distributions


def _fits(statistics):
    fits = {}
    for time, record in zip(statistics["times"], statistics["by_time"]):
        by_quantity = {}
        for quantity in QUANTITIES:
            entry = record[quantity.key]
            slope = entry["slope"]
            by_quantity[quantity.key] = {
                "per_width": [{"width": width, **comparison}
                              for width, comparison in zip(statistics["widths"], entry["network"])],
                "slope": slope["slope"],
                "slope_interval": slope["interval"],
                "fitted_widths": slope["widths"],
                "widths_above_floor": slope["above_floor"],
                "slope_resolved": slope["resolved"],
                "theory_slope": slope["theory"],
                "step_check": entry["step_check"],
                "measured_floor": entry["measured_floor"],
                "linear_contrast": entry["linear_contrast"],
            }
        fits[_time_key(time)] = by_quantity
    return fits


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------

def draw(data):
    """Draw the figure from the data that :func:`compute` returns (or its JSON file).

    Returns
    -------
    matplotlib.figure.Figure
        Three rows of two panels: histograms, distribution-function differences and KS
        distance against width, one column per quantity.
    """
    config = data["config"]
    settings = config["scale_settings"]
    widths = settings["widths"]
    colormap = colormaps["viridis"]
    colors = {width: colormap(index / max(1, len(widths) - 1) * 0.85)
              for index, width in enumerate(widths)}
    last_time = _time_key(settings["times"][-1])

    figure = Figure(figsize=(13.0, 15.0))
    axes = figure.subplots(3, len(QUANTITIES))
    figure.subplots_adjust(left=0.07, right=0.98, top=0.90, bottom=0.225, hspace=0.38,
                           wspace=0.2)
    for column, quantity in enumerate(QUANTITIES):
        distribution = data["distributions"][last_time][quantity.key]
        fits = data["fits"]
        _draw_histograms(axes[0, column], distribution, colors, quantity, last_time)
        _draw_cdf_differences(axes[1, column], distribution,
                              fits[last_time][quantity.key], colors, quantity, last_time)
        _draw_ks_against_width(axes[2, column], fits, quantity, widths)

    figure.legend(handles=_legend_handles(colors), loc="upper center", ncol=4,
                  frameon=False, bbox_to_anchor=(0.5, 0.18), fontsize=9)
    figure.text(0.04, 0.115, _summary_lines(data), ha="left", va="top", fontsize=8,
                linespacing=1.5, family="monospace")
    figure.suptitle("Idealized MixiT block: finite networks against the covariance SDE, "
                    "in distribution", fontsize=13, y=0.975)
    figure.text(0.5, 0.935, _setup_line(data), ha="center", va="center", fontsize=9,
                linespacing=1.5)
    return figure


def _draw_histograms(ax, distribution, colors, quantity, time_key):
    edges = np.array(distribution["edges"], dtype=float)
    for entry in distribution["widths"]:
        ax.stairs(np.array(entry["density"], dtype=float), edges, color=colors[entry["width"]],
                  linewidth=1.1)
    ax.stairs(np.array(distribution["sde_density"], dtype=float), edges, color="black",
              linewidth=2.0, linestyle="--")
    ax.set_xlabel(f"{quantity.label} at {time_key}")
    ax.set_ylabel("density")
    ax.set_title(f"law of {quantity.label}", fontsize=11)


def _draw_cdf_differences(ax, distribution, fits, colors, quantity, time_key):
    grid = np.array(distribution["grid"], dtype=float)
    floor = max(entry["noise_floor"] for entry in fits["per_width"])
    ax.axhspan(-floor, floor, color="0.85", zorder=0)
    for entry in distribution["widths"]:
        ax.plot(grid, np.array(entry["cdf_difference"], dtype=float),
                color=colors[entry["width"]], linewidth=1.1)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(f"{quantity.label} at {time_key}")
    ax.set_ylabel(r"$F_n(x) - F_{\mathrm{SDE}}(x)$")
    ax.set_title("difference of distribution functions (max |.| = KS distance)", fontsize=11)


def _draw_ks_against_width(ax, fits, quantity, widths):
    widths = np.array(widths, dtype=float)
    for index, (time_key, by_quantity) in enumerate(fits.items()):
        fit = by_quantity[quantity.key]
        marker = TIME_MARKERS[index % len(TIME_MARKERS)]
        color = f"C{index}"
        distances = np.array([entry["ks"] for entry in fit["per_width"]], dtype=float)
        bands = np.array([entry["band"] for entry in fit["per_width"]], dtype=float)
        error = np.stack([distances - bands[:, 0], bands[:, 1] - distances])
        # Offsetting the times a little keeps their error bars apart.
        shift = widths * 1.06**(index - (len(fits) - 1) / 2)
        ax.errorbar(shift, distances, yerr=error, color=color, marker=marker, markersize=5,
                    linestyle="none", elinewidth=0.9, capsize=2, label=time_key)
        if fit["slope_resolved"]:
            fitted = np.array(fit["fitted_widths"], dtype=float)
            per_width = {entry["width"]: entry["ks"] for entry in fit["per_width"]}
            anchor = np.exp(np.mean([np.log(per_width[int(w)]) - fit["slope"] * np.log(w)
                                     for w in fitted]))
            line = np.geomspace(fitted.min(), fitted.max(), 20)
            ax.plot(line, anchor * line**fit["slope"], color=color, linewidth=1.4)
        step = fit["step_check"]["ks"]
        ax.axhline(step, color=color, linewidth=1.0, linestyle=":")

    floors = [entry["noise_floor"] for entry in next(iter(fits.values()))[quantity.key]["per_width"]]
    ax.plot(widths, floors, color="0.4", linestyle="--", linewidth=1.2)
    reference = next(iter(fits.values()))[quantity.key]["per_width"][0]["ks"]
    guide = np.geomspace(widths.min(), widths.max(), 20)
    ax.plot(guide, reference * (guide / widths.min())**THEORY_SLOPE, color="0.6",
            linewidth=0.9, linestyle="-.")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(widths)
    ax.set_xticklabels([str(int(width)) for width in widths])
    ax.set_xlabel(r"width $n$ (depth $L = t\,n$)")
    ax.set_ylabel(f"KS distance of {quantity.label}, network vs SDE")
    ax.set_title("KS distance against width", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8.5, title="SDE time", title_fontsize=8.5)


def _legend_handles(colors):
    handles = [Line2D([], [], color=color, linewidth=1.1, label=f"network, n = {width}")
               for width, color in colors.items()]
    handles += [
        Line2D([], [], color="black", linewidth=2.0, linestyle="--", label="SDE (reference step)"),
        Patch(color="0.85", label="noise floor (false alarm 1 %)"),
        Line2D([], [], color="0.4", linestyle="--", linewidth=1.2,
               label="noise floor against width"),
        Line2D([], [], color="0.3", linewidth=1.4, label="fitted slope (widths above the floor)"),
        Line2D([], [], color="0.6", linestyle="-.", linewidth=0.9, label=r"$n^{-1}$ guide"),
        Line2D([], [], color="0.3", linestyle=":", linewidth=1.0,
               label="KS of the SDE at twice the step"),
        Line2D([], [], color="0.3", marker="o", linestyle="none",
               label="KS distance with 95 % DKW band"),
    ]
    return handles


def _format_slope(fit):
    low, high = fit["slope_interval"]
    widths = ", ".join(str(width) for width in fit["fitted_widths"])
    text = f"{fit['slope']:+.2f} [{low:+.2f}, {high:+.2f}] over n = {widths}"
    if not fit["slope_resolved"]:
        text += " (within noise)"
    return text


def _summary_lines(data):
    lines = [f"slope: log-log slope of the KS distance against width with its 95 % bootstrap "
             f"interval (theory {THEORY_SLOPE:+g});",
             "the checks give the scaled KS distance sqrt(k m / (k + m)) D, which noise alone "
             "exceeds with probability 1 % above 1.63 and 0.1 % above 1.95"]
    for time_key, by_quantity in data["fits"].items():
        for quantity in QUANTITIES:
            fit = by_quantity[quantity.key]
            lines.append(
                f"{time_key:6s} {quantity.key:9s} slope {_format_slope(fit):40s} "
                f"step x2: {fit['step_check']['scaled']:.2f}   "
                f"SDE halves: {fit['measured_floor']['scaled']:.2f}   "
                f"linear SDE vs n = {fit['per_width'][-1]['width']}: "
                f"{fit['linear_contrast']['scaled']:.2f}")
    return "\n".join(lines)


def _setup_line(data):
    config = data["config"]
    model = config["model"]
    settings = config["scale_settings"]
    correlations = model["initial_covariance"]
    coarse = settings["steps"] // 2
    return (
        f"T = {model['tokens']} tokens of unit norm, correlations "
        f"({correlations[0][1]:g}, {correlations[0][2]:g}, {correlations[1][2]:g}); "
        f"one head, one value matrix, no norm, no MLP; $\\lambda^2$ = "
        f"{model['skip_weight']**2:.2g}, $\\sigma$ = {model['noise_multiplier']:g}, "
        f"$c_{{lin}}$ = {model['linear_coefficient']:g}; float64\n"
        f"{settings['networks']} networks per width; SDE: {settings['paths']} paths per "
        f"solve, Euler-Maruyama with {settings['steps']} steps to t = "
        f"{settings['times'][-1]:g} (check: {coarse} steps); "
        f"{settings['bootstrap']} bootstrap resamples; scale {config['scale']}"
    )
