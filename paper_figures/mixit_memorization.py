"""Figure ``mixit-memorization``: bits of random labels stored per parameter, per variant.

The analogue of the memorization table of Dong, Noci, Khodak and Li 2025, "Is Random
Attention Sufficient for Sequence Modeling?" (arXiv 2506.01115, Table 4). Two-layer
Standard, Frozen-QK, Frozen-MLP and MixiT transformers train on random labels of pairs of
key tokens (:class:`sims.tasks.Memorization`) at several widths. The bits stored are the
number of labels predicted right times ``log2`` of the number of labels
(:func:`sims.memorization.memorization_capacity`). The runs are those of
:func:`sims.memorization.memorization_sweep`, which the claim
``mixit.memorization-ordering`` reads too.

Left: bits per trainable parameter against the number of trainable parameters. Middle:
bits per parameter, frozen ones included. Right: the fraction of the labels' bits
stored, which shows whether a model had room left (then its bits per parameter are a
lower bound on its capacity) and the final training loss. ``fits`` gives, per variant and
width, the mean and standard deviation over seeds, beside the paper's value.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from paper_figures.output import json_ready
from paper_figures.variant_style import variant_style
from sims.fits import seed_summary
from sims.memorization import memorization_settings, memorization_sweep

NAME = "mixit-memorization"

PAPER_BITS_PER_PARAMETER = {"standard": 2.98, "frozen_qk": 2.25, "mixit": 2.18,
                            "frozen_mlp": 1.13}
"""Bits per parameter reported by Dong et al. 2025, Table 4, for two-layer models on
512 x 512 inputs with 512 labels.

NOTE: whether these count trainable or all parameters is not known here."""

MEASURES = ("bits_per_trainable_parameter", "bits_per_parameter")


def compute(scale, base_seed, cache):
    """Train or load every variant at every width and summarize its bits over seeds.

    Returns
    -------
    dict
        JSON-ready, with ``config``, ``seeds``, ``sweep`` (the records of
        :func:`sims.memorization.memorization_sweep`) and ``fits`` (per variant and width
        the mean and standard deviation over seeds of both measures and of the stored
        fraction, with the paper's value).
    """
    settings = memorization_settings(scale)
    sweep = memorization_sweep(settings, base_seed, cache)

    fits = {}
    for variant, records in sweep.items():
        fits[variant] = {"paper_bits_per_parameter": PAPER_BITS_PER_PARAMETER.get(variant),
                         "widths": {}}
        for record in records:
            summary = {measure: seed_summary(record[measure]) for measure in MEASURES + ("bits",)}
            summary["stored_fraction"] = summary["bits"]["mean"] / record["bits_available"]
            fits[variant]["widths"][str(record["width"])] = summary

    return json_ready({
        "config": {
            "scale": scale,
            "settings": settings.to_json(),
            "model": "two-layer pre-LayerNorm transformer, GELU MLP of width 4 N, learned "
                     "positions, logits scaled by 1 / sqrt(n_h), AdamW without weight "
                     "decay, warmup over the first tenth of the steps, cosine decay",
            "measure": "sims.memorization.memorization_sweep",
        },
        "seeds": {"base_seed": base_seed, "seed_indices": list(range(settings.seeds))},
        "sweep": sweep,
        "fits": fits,
    })


def draw(data):
    """Draw the three panels from the data of :func:`compute` (or its JSON file).

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = Figure(figsize=(15.0, 5.8))
    axes = figure.subplots(1, 3)
    figure.subplots_adjust(left=0.06, right=0.98, top=0.82, bottom=0.27, wspace=0.3)
    titles = {"bits_per_trainable_parameter": "bits per trainable parameter",
              "bits_per_parameter": "bits per parameter, frozen ones included"}

    for index, (variant, records) in enumerate(data["sweep"].items()):
        label, colour = variant_style(variant)
        trainable = np.array([record["trainable_parameters"] for record in records], float)
        for ax, measure in zip(axes, MEASURES):
            values = np.array([record[measure] for record in records], dtype=float)
            ax.plot(trainable, values.mean(axis=1), color=colour, marker="o", label=label)
            for count, seeds in zip(trainable, values):
                ax.plot(np.full(seeds.size, count), seeds, ".", color=colour, alpha=0.5)
        fraction = np.array([np.array(record["bits"], dtype=float) / record["bits_available"]
                             for record in records])
        axes[2].plot(trainable, fraction.mean(axis=1), color=colour, marker="o", label=label)
        for record, count in zip(records, trainable):
            axes[2].annotate(f"loss {np.mean(record['final_loss']):.2f}",
                             (count, np.mean(record["bits"]) / record["bits_available"]),
                             fontsize=7, color=colour, textcoords="offset points",
                             xytext=(4, 4 - 9 * index))

    for ax, measure in zip(axes, MEASURES):
        ax.set_title(titles[measure], fontsize=11)
        ax.set_ylabel("bits / parameter")
    labels = data["config"]["settings"]["task_options"]["labels"]
    axes[2].axhline(1.0 / labels, color="black", linestyle="--", linewidth=1)
    axes[2].set_title("fraction of the labels' bits stored (final training loss;\n"
                      "dashed: what guessing gets right)", fontsize=11)
    axes[2].set_ylim(0.0, 1.05)
    axes[2].margins(x=0.2)
    counts = sorted({record["trainable_parameters"] for records in data["sweep"].values()
                     for record in records})
    for ax in axes:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(counts))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(count) for count in counts], rotation=45, ha="right",
                           fontsize=8)
        ax.set_xlabel("trainable parameters")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=9)

    figure.suptitle("Memorization of random labels: bits per parameter per variant "
                    "(analogue of the MixiT paper's Table 4)", fontsize=13)
    figure.text(0.06, 0.02, _setup_text(data), ha="left", va="bottom", fontsize=8.5)
    return figure


def _setup_text(data):
    settings = data["config"]["settings"]
    options = settings["task_options"]
    paper = ", ".join(f"{variant_style(variant)[0]} {value:g}"
                      for variant, value in PAPER_BITS_PER_PARAMETER.items())
    return (f"scale {data['config']['scale']}: widths "
            f"{', '.join(str(width) for width in settings['widths'])}, two layers, "
            f"{settings['heads']} heads, {settings['steps']} AdamW steps of batch "
            f"{settings['batch_size']} at lr {settings['lr']:g}, {settings['seeds']} seeds "
            f"(dots).\nTask: {options['examples']} inputs (a, b) of {options['keys']} x "
            f"{options['keys']} with uniform labels among {options['labels']}, "
            f"{options['examples'] * np.log2(options['labels']):.0f} bits in all. "
            f"Paper (Table 4, larger models trained to convergence): {paper} bits per "
            f"parameter.\nA model that stores every bit, or that is still improving when "
            f"training stops, measures a lower bound on its capacity. The bits include "
            f"labels right by chance, 1/{options['labels']} of them for a model that "
            f"learned nothing.")
