"""Figure ``mixit-variants-tasks``: test accuracy of each transformer variant on each task.

The analogue of the task tables of Dong, Noci, Khodak and Li 2025, "Is Random Attention
Sufficient for Sequence Modeling?" (arXiv 2506.01115, Tables 1 to 3). Standard,
Frozen-QK, Frozen-MLP and MixiT transformers, and the embedding-only random transformer,
train with the same budget on in-context retrieval, decimal and modular addition and
character-level language modeling, and at the paper scale on k-hop induction. The runs, the learning-rate choice (the
grid point with the lowest training loss) and the sizes are those of
:func:`sims.variant_comparison.compare_variants`, which the claims
``mixit.fails-retrieval`` and ``mixit.matches-arithmetic`` read too.

One panel per task shows each variant's test accuracy as a bar (mean over seeds) with one
dot per seed and a dashed line at chance. The language panel shows the test loss in nats
per character instead, for which lower is better. ``fits`` gives, per task and variant,
the mean and standard deviation over seeds, with the paper's reported value where one is
known (its models are larger and trained far longer, so the values are a reference, not a
prediction for this scale).
"""

import textwrap

import numpy as np
from matplotlib.figure import Figure

from paper_figures.output import json_ready
from paper_figures.variant_style import variant_style
from sims.task_training import build_task
from sims.fits import seed_summary
from sims.variant_comparison import chance_accuracy, compare_variants, comparison_settings

NAME = "mixit-variants-tasks"

TASK_TITLES = {
    "retrieval": "retrieval",
    "induction": "induction, varying lengths",
    "multihop": "k-hop induction",
    "decimal_addition": "decimal addition",
    "modular_addition": "modular addition",
    "language": "character language modeling",
}

PAPER_VALUES = {
    ("retrieval", "standard"): 1.00, ("retrieval", "frozen_qk"): 0.970,
    ("retrieval", "mixit"): 0.112,
    ("multihop", "standard"): 0.9999, ("multihop", "frozen_qk"): 0.967,
    ("multihop", "mixit"): 0.486,
}
"""Accuracies reported by Dong et al. 2025, Table 1 (30 key-value pairs; 16 hops; models of
5 layers)."""


def compute(scale, base_seed, cache):
    """Train or load every variant on every task of ``scale`` and summarize over seeds.

    Returns
    -------
    dict
        JSON-ready, with ``config`` and ``seeds``, and:

        - ``tasks``: per task its metric, chance level and options, and per variant the
          chosen learning rate, the per-seed values and the parameter counts;
        - ``fits``: per task and variant the mean and standard deviation over seeds,
          with the paper's value where known.
    """
    settings = comparison_settings(scale)
    table = compare_variants(settings, base_seed, cache)

    tasks, fits = [], {}
    for task_name, records in table.items():
        task = build_task(task_name, settings.task_options[task_name], base_seed)
        metric = "test_loss" if task_name == "language" else "test_accuracy"
        title = TASK_TITLES[task_name]
        if task_name == "retrieval" and task.queries > 1:
            title = f"retrieval, {task.queries} queries per sequence"
        entry = {"task": task_name, "title": title, "metric": metric,
                 "chance": chance_accuracy(task), "uniform_loss": float(np.log(task.vocab_size)),
                 "options": task.describe(), "steps": settings.steps[task_name],
                 "weight_decay": settings.weight_decay[task_name], "variants": records}
        tasks.append(entry)
        fits[task_name] = {}
        for variant, record in records.items():
            summary = seed_summary(record[metric])
            summary["metric"] = metric
            summary["lr"] = record["lr"]
            summary["paper"] = PAPER_VALUES.get((task_name, variant))
            fits[task_name][variant] = summary

    return json_ready({
        "config": {
            "scale": scale,
            "settings": settings.to_json(),
            "model": "pre-LayerNorm transformer, GELU MLP of width 4 N, learned absolute "
                     "positions, logits scaled by 1 / sqrt(n_h), AdamW, warmup over the "
                     "first tenth of the steps, cosine decay",
            "learning_rate_choice": "lowest mean final loss on the training evaluation set",
            "measure": "sims.variant_comparison.compare_variants",
        },
        "seeds": {"base_seed": base_seed, "seed_indices": list(range(settings.seeds))},
        "tasks": tasks,
        "fits": fits,
    })


def draw(data):
    """Draw one panel per task from the data of :func:`compute` (or its JSON file).

    Returns
    -------
    matplotlib.figure.Figure
    """
    tasks = data["tasks"]
    columns = 3
    rows = -(-len(tasks) // columns)
    figure = Figure(figsize=(4.6 * columns, 3.6 * rows + 1.6))
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    figure.subplots_adjust(left=0.06, right=0.98, top=1 - 1.0 / (3.6 * rows + 1.6),
                           bottom=0.55 / (3.6 * rows + 1.6), hspace=0.55, wspace=0.25)

    for ax, entry in zip(axes, tasks):
        _draw_task(ax, entry)
    for ax in axes[len(tasks):]:
        ax.set_axis_off()
    if len(tasks) < axes.size:
        axes[len(tasks)].text(0.0, 0.95, _setup_text(data), ha="left", va="top", fontsize=8.5,
                              transform=axes[len(tasks)].transAxes)
    else:
        figure.text(0.06, 0.005, _setup_text(data).replace("\n", "; "), ha="left",
                    va="bottom", fontsize=7)

    figure.suptitle("Transformer variants on the random-attention paper's tasks: test "
                    "accuracy over seeds (analogue of its Tables 1 to 3)", fontsize=13)
    return figure


def _draw_task(ax, entry):
    variants = list(entry["variants"])
    positions = np.arange(len(variants))
    metric = entry["metric"]
    for position, variant in zip(positions, variants):
        colour = variant_style(variant)[1]
        values = np.array(entry["variants"][variant][metric], dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size:
            ax.bar(position, finite.mean(), color=colour, alpha=0.55, width=0.7)
        ax.plot(np.full(finite.size, position), finite, "o", color=colour, markersize=4)
        diverged = values.size - finite.size
        if diverged:
            ax.text(position, 0.02, f"{diverged} diverged", rotation=90, ha="center",
                    va="bottom", fontsize=7)

    if metric == "test_accuracy":
        ax.axhline(entry["chance"], color="black", linestyle="--", linewidth=1)
        ax.set_ylim(0.0, 1.05)
        ax.set_ylabel("test accuracy (dashed: chance)")
    else:
        ax.axhline(entry["uniform_loss"], color="black", linestyle="--", linewidth=1)
        ax.set_ylabel("test loss, nats per character\n(dashed: uniform guess; lower is better)")
    ax.set_xticks(positions)
    ax.set_xticklabels([variant_style(variant)[0] for variant in variants], rotation=25, ha="right",
                       fontsize=9)
    ax.set_title(f"{entry['title']}\n{_options_text(entry)}", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)


def _options_text(entry):
    options = {name: value for name, value in entry["options"].items()
               if name not in ("task", "vocab_size", "test_fraction")}
    text = ", ".join(f"{name} {value}" for name, value in options.items())
    return textwrap.fill(f"{text}; {entry['steps']} steps", 60, break_long_words=False)


def _setup_text(data):
    settings = data["config"]["settings"]
    lines = [
        f"scale {data['config']['scale']}: width {settings['width']}, "
        f"{settings['depth']} layers, {settings['heads']} heads,",
        f"batch {settings['batch_size']}, {settings['seeds']} seeds, {settings['dtype']}",
        f"learning-rate grid {', '.join(f'{lr:g}' for lr in settings['lrs'])}; "
        "per task and variant",
        "the point with the lowest training loss",
        "bars: mean over seeds; dots: seeds",
        "Frozen-QK: W^Q, W^K frozen at N(0, 1/N)",
        "MixiT: fixed random mixing matrices",
        "embedding only: only embeddings, positions",
        "and unembedding train",
    ]
    for task, note in settings["notes"].items():
        lines.append(textwrap.fill(f"{task}: {note}", 52))
    return "\n".join(lines)
