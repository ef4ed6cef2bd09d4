"""Figure ``mixit-rank-collapse``: token correlation against depth at initialization.

The analogue of the covariance-against-depth comparison of Dong et al. 2025, "Is Random
Attention Sufficient for Sequence Modeling?" (arXiv 2506.01115): how similar the tokens of
the residual stream become as depth grows, for

* standard GPT-2-style causal softmax attention (pre-LayerNorm, GELU MLP, every weight of
  std 0.02, unscaled residual ``x + F(x)``, no depth factor);
* MixiT (fixed random mixing matrices, pre-RMSNorm, shaped leaky ReLU MLP, residual
  ``lambda x + gamma F(x)`` with ``lambda**2 = gamma**2 = 1/2``);
* shaped attention (temperature ``sqrt(n n_h)``, otherwise as MixiT);
* the uniform-attention closed form of :func:`theory.mixit.uniform_attention_correlation`,
  ``rho_L = ((1 + a**2)**L - 1) / (T + (1 + a**2)**L - 1)`` for bidirectional averaging
  from orthogonal tokens, with ``a = 1`` and with the branch scaling ``a**2 = 1 / L``.

The stacks are those of :mod:`sims.rank_collapse` on i.i.d. standard normal tokens, one
input sequence per network, and every layer contains an attention and an MLP block. One stack
per network is run to the largest depth, and its measures after ``L`` layers give depth
``L``, because no weight depends on the total depth. The left panel shows the mean
off-diagonal cosine similarity, the right panel the rank-collapse residual
``|X - 1 xbar^T|_F / |X|_F``. For the closed form the residual is that of its mean
covariance, ``sqrt((T - 1)(1 - rho_L) / T)``.

``fits`` gives, per model, the mean cosine similarity at the largest depth with its
standard error over networks, and the mean over networks of the least-squares slope of the
cosine similarity against the layer index (per layer), each with its theory value:

* uniform attention: the closed form itself;
* MixiT and shaped attention: a leading-order estimate. The shaped leaky ReLU MLP adds
  ``gamma**2 nu(rho) / n`` to the correlation per layer, with
  ``nu(0) = (c_+ - c_-)**2 / (2 pi)`` (:func:`theory.mixit.shaped_relu_nu`), and at
  ``rho`` near 0 the attention adds nothing in mean. So ``rho_L ~ gamma**2 nu(0) L / n``.
  It assumes pre-normalized branches of unit token norm and ``rho << 1``;
* standard attention: none. Its small-logit limit is uniform attention, but with std
  0.02 the branch multiplier ``a`` is not 1 and the MLP adds its own drift.

The measurement is :func:`sims.mixit_measurements.rank_collapse_curves`, which the claim
``mixit.standard-attention-collapses`` reads too.
"""

from dataclasses import asdict, dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullLocator

from paper_figures.memory import require_memory
from paper_figures.output import json_ready
from sims.mixit_coefficients import branch_weight
from sims.mixit_measurements import (C_MINUS, RANK_COLLAPSE_SCALES, SKIP_WEIGHT,
                                     closed_form_slope, comparison_stack, depth_summary,
                                     rank_collapse_curves, residual_of_covariance)
from sims.scales import check_scale
from sims.seeds import run_seed_sequence
from theory.mixit import shaped_relu_nu, uniform_attention_correlation

NAME = "mixit-rank-collapse"



@dataclass(frozen=True)
class ScaleSettings:
    """Sizes of one scale.

    Attributes
    ----------
    width : int
        ``n``.
    heads : int
        ``H``; the head width is ``n / H``.
    seq_len : int
        ``T``, tokens per sequence.
    depths : tuple of int
        Depths at which the curves are shown; the stacks run to the largest.
    networks : int
        Independent stacks per model.
    """

    width: int
    heads: int
    seq_len: int
    depths: tuple
    networks: int

    def estimate_memory_bytes(self):
        """Estimate the peak memory of one layer of all networks, in float64.

        Layers are built and applied one at a time. Per network a layer contains
        ``12 n**2`` weights (four attention matrices and an MLP of width ``4 n``) and
        about 40 arrays of ``T x 4 n`` activations and 4 of ``H x T x T`` attention
        weights. The estimate leaves out the interpreter.
        """
        per_network = (12 * self.width**2 + 40 * self.seq_len * 4 * self.width
                       + 4 * self.heads * self.seq_len**2)
        return 8 * self.networks * per_network


SETTINGS = {scale: ScaleSettings(**sizes) for scale, sizes in RANK_COLLAPSE_SCALES.items()}
"""Sizes per scale, shared with the claim ``mixit.standard-attention-collapses``."""

MODELS = (
    ("standard", "standard softmax, std 0.02", "C0"),
    ("mixit", "MixiT", "C3"),
    ("shaped", "shaped attention", "C2"),
)
"""Simulated models: key (the :class:`sims.rank_collapse.RankCollapseConfig` kind), label
and colour."""

CLOSED_FORMS = (
    ("uniform", "uniform attention, a = 1 (closed form)", False, "-"),
    ("uniform-scaled", r"uniform attention, $a^2 = 1/L$ (closed form)", True, "--"),
)
"""Closed forms: key, label, whether ``a**2 = 1 / L`` and line style."""


def stack_config(settings, kind):
    """Return the stack of ``kind`` at ``settings`` (:func:`sims.mixit_measurements.comparison_stack`)."""
    return comparison_stack(kind, settings.width, settings.heads, settings.seq_len,
                            max(settings.depths))


def shaped_mlp_estimate(settings, depths):
    """Return ``gamma**2 nu(0) L / n``, the leading-order MixiT correlation after ``L`` layers."""
    gamma = branch_weight(SKIP_WEIGHT)
    per_layer = gamma**2 * float(shaped_relu_nu(0.0, 0.0, C_MINUS)) / settings.width
    return per_layer * np.asarray(depths, dtype=np.float64), per_layer


def uniform_closed_form(settings, scaled):
    """Return the closed-form correlation and residual at every depth ``0 ... max(depths)``.

    With ``scaled``, depth ``L`` uses ``a**2 = 1 / L``, so each depth is its own network.
    """
    layers = np.arange(max(settings.depths) + 1)
    rho = np.asarray(uniform_attention_correlation(layers, settings.seq_len, 1.0,
                                                   scale_by_depth=scaled))
    size = settings.seq_len
    # The mean covariance is proportional to (1 - rho) I + rho 1 1^T.
    covariance = (1.0 - rho)[:, None, None] * np.eye(size) + rho[:, None, None]
    return rho, residual_of_covariance(covariance)


def compute(scale, base_seed, cache):
    """Run or load the stacks of every model and summarize them against depth.

    Returns
    -------
    dict
        JSON-ready, with ``config``, ``seeds``, ``models`` (per model the per-depth
        mean, standard error, median and 10 % and 90 % quantiles of the cosine
        similarity and of the residual), ``closed_forms`` (per layer) and ``fits``.

    Raises
    ------
    paper_figures.memory.InsufficientMemoryError
        If the estimated memory of one layer of all networks exceeds what is available.
    """
    settings = SETTINGS[check_scale(scale)]
    require_memory(settings.estimate_memory_bytes(), f"{NAME} at scale {scale!r}")
    depths = list(settings.depths)

    models, fits, entropy = [], {}, {}
    for kind, label, _ in MODELS:
        config = stack_config(settings, kind)
        curves = rank_collapse_curves(config, settings.networks, base_seed, cache)
        cosine = depth_summary(curves["cosine"], depths)
        residual = depth_summary(curves["residual"], depths)
        models.append({"key": kind, "label": label, "cosine": cosine, "residual": residual})
        fits[kind] = _model_fit(settings, kind, cosine)
        identity = {name: getattr(config, name) for name in config.__dataclass_fields__}
        entropy[kind] = [str(run_seed_sequence(base_seed, index, identity).entropy)
                         for index in range(settings.networks)]

    closed_forms = []
    for key, label, scaled, _ in CLOSED_FORMS:
        rho, residual = uniform_closed_form(settings, scaled)
        closed_forms.append({"key": key, "label": label, "scaled": scaled,
                             "layers": list(range(rho.size)), "cosine": rho,
                             "residual": residual})
        last = max(depths)
        # Each depth of the scaled form is its own network, so its slope across depths is
        # that of the family of networks, not of one stack.
        fits[key] = {
            "final_depth": last, "final_mean": float(rho[last]), "final_standard_error": 0.0,
            "theory_final": float(rho[last]),
            "slope_per_layer": closed_form_slope(rho), "slope_standard_error": 0.0,
            "theory_slope_per_layer": closed_form_slope(rho),
            "theory": "closed form (Noci et al. 2022, arXiv 2206.03126), exact in mean",
        }

    return json_ready({
        "config": {
            "scale": scale,
            "scale_settings": asdict(settings),
            "skip_weight": SKIP_WEIGHT,
            "c_minus": C_MINUS,
            "stacks": {kind: {name: getattr(stack_config(settings, kind), name)
                              for name in stack_config(settings, kind).__dataclass_fields__}
                       for kind, _, _ in MODELS},
            "inputs": "i.i.d. N(0, 1) tokens, one sequence per network",
            "measure": "sims.mixit_measurements.rank_collapse_curves",
        },
        "seeds": {"base_seed": base_seed, "seed_indices": list(range(settings.networks)),
                  "network_entropy": entropy},
        "models": models,
        "closed_forms": closed_forms,
        "fits": fits,
    })


def _model_fit(settings, kind, cosine):
    fit = {
        "final_depth": cosine["final"]["depth"],
        "final_mean": cosine["final"]["mean"],
        "final_standard_error": cosine["final"]["standard_error"],
        "slope_per_layer": cosine["slope"]["mean"],
        "slope_standard_error": cosine["slope"]["standard_error"],
        "networks": settings.networks,
    }
    if kind == "standard":
        fit.update({"theory_final": None, "theory_slope_per_layer": None,
                    "theory": "none; its small-logit limit is uniform attention with a "
                              "branch multiplier set by the std 0.02"})
    else:
        values, per_layer = shaped_mlp_estimate(settings, [cosine["final"]["depth"]])
        fit.update({"theory_final": float(values[0]), "theory_slope_per_layer": per_layer,
                    "theory": "leading order: gamma**2 nu(0) L / n from the shaped MLP"})
    return fit


def draw(data):
    """Draw the two panels from the data of :func:`compute` (or its JSON file).

    Returns
    -------
    matplotlib.figure.Figure
    """
    settings = data["config"]["scale_settings"]
    depths = np.array(settings["depths"], dtype=float)
    figure = Figure(figsize=(13.0, 7.6))
    axes = figure.subplots(1, 2)
    figure.subplots_adjust(left=0.07, right=0.98, top=0.86, bottom=0.42, wspace=0.22)
    colours = {kind: colour for kind, _, colour in MODELS}
    styles = {key: style for key, _, _, style in CLOSED_FORMS}

    for ax, measure in zip(axes, ("cosine", "residual")):
        for model in data["models"]:
            summary = model[measure]
            mean = np.array(summary["mean"], dtype=float)
            error = np.array(summary["standard_error"], dtype=float)
            colour = colours[model["key"]]
            ax.fill_between(depths, mean - 2 * error, mean + 2 * error, color=colour, alpha=0.2,
                            linewidth=0)
            ax.plot(depths, mean, color=colour, marker="o", markersize=4, linewidth=1.5)
        for form in data["closed_forms"]:
            layers = np.array(form["layers"], dtype=float)
            shown = layers >= depths[0]
            ax.plot(layers[shown], np.array(form[measure], dtype=float)[shown], color="black",
                    linestyle=styles[form["key"]], linewidth=1.2)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(depths))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(int(depth)) for depth in depths])
        ax.set_xlabel("depth $L$ (layers, each an attention and an MLP block)")
        ax.grid(True, alpha=0.3)

    if "mixit" in data["fits"] and data["fits"]["mixit"]["theory_slope_per_layer"] is not None:
        estimate = data["fits"]["mixit"]["theory_slope_per_layer"] * depths
        axes[0].plot(depths, estimate, color=colours["mixit"], linestyle=":", linewidth=1.2)

    axes[0].set_yscale("symlog", linthresh=1e-2, linscale=1.0)
    lowest = min(min(np.array(model["cosine"]["mean"], dtype=float)
                     - 2 * np.array(model["cosine"]["standard_error"], dtype=float))
                 for model in data["models"])
    axes[0].set_ylim(min(-0.02, 1.2 * lowest), 1.05)
    axes[0].set_ylabel("mean off-diagonal cosine similarity of the tokens")
    axes[0].set_title("token correlation (linear below 0.01, logarithmic above)", fontsize=11)
    axes[1].set_ylim(0.0, 1.02)
    axes[1].set_ylabel(r"rank-collapse residual $\Vert X - 1\bar{x}^T\Vert_F / \Vert X\Vert_F$")
    axes[1].set_title("distance from full rank collapse (0 = all tokens equal)", fontsize=11)

    figure.legend(handles=_legend_handles(data, colours, styles), loc="lower center", ncol=3,
                  frameon=False, bbox_to_anchor=(0.5, 0.19), fontsize=9)
    figure.text(0.07, 0.01, _fit_text(data), ha="left", va="bottom", fontsize=8.5,
                family="monospace", linespacing=1.4)
    figure.suptitle("Rank collapse at initialization: token correlation against depth "
                    "(analogue of MixiT's covariance-against-depth comparison)", fontsize=13,
                    y=0.975)
    figure.text(0.5, 0.93, _setup_line(data), ha="center", va="center", fontsize=9)
    return figure


def _legend_handles(data, colours, styles):
    handles = [Line2D([], [], color=colours[model["key"]], marker="o", markersize=4,
                      label=f"{model['label']}: mean over networks") for model in data["models"]]
    handles.append(Patch(color="0.6", alpha=0.4, label="band: mean ± 2 standard errors"))
    handles += [Line2D([], [], color="black", linestyle=styles[form["key"]], label=form["label"])
                for form in data["closed_forms"]]
    handles.append(Line2D([], [], color=colours["mixit"], linestyle=":",
                          label=r"MixiT leading order $\gamma^2\nu(0)L/n$"))
    return handles


def _fit_text(data):
    labels = {model["key"]: model["label"] for model in data["models"]}
    labels.update({"uniform": "uniform, a = 1", "uniform-scaled": "uniform, a^2 = 1/L"})
    lines = ["model                       cosine at the largest depth | slope per layer "
             "(theory: cosine | slope)"]
    for key, fit in data["fits"].items():
        final = f"{fit['final_mean']:+.4f} ± {fit['final_standard_error']:.4f}"
        slope = f"{fit['slope_per_layer']:+.2e} ± {fit['slope_standard_error']:.1e}"
        if fit["theory_final"] is None:
            theory = "(none)"
        else:
            theory = f"({fit['theory_final']:.4f} | {fit['theory_slope_per_layer']:.2e})"
        lines.append(f"{labels[key][:26]:<27} L = {fit['final_depth']}: {final} | {slope} {theory}")
    return "\n".join(lines)


def _setup_line(data):
    settings = data["config"]["scale_settings"]
    head_width = settings["width"] // settings["heads"]
    return (f"width $n$ = {settings['width']}, {settings['heads']} heads of width {head_width}, "
            f"$T$ = {settings['seq_len']} tokens, i.i.d. N(0, 1) inputs; "
            f"{settings['networks']} networks per model, float64, scale "
            f"{data['config']['scale']}; MixiT and shaped: "
            rf"$\lambda^2 = \gamma^2 = 1/2$, RMSNorm, shaped leaky ReLU MLP "
            f"($c$ = {data['config']['c_minus']:g})")
