"""Figure ``frozen-qk-attention-maps``: induction heads of a trained Frozen-QK model and of
the explicit construction.

The analogue of the attention maps of a two-layer Frozen-QK model in Dong, Noci, Khodak and
Li 2025, "Is Random Attention Sufficient for Sequence Modeling?" (arXiv 2506.01115,
Figure 3). Two-layer transformers train on induction with varying lengths and filler
tokens (:class:`sims.tasks.Induction`), where neither a fixed offset nor token counts
give the next token. The variants are Frozen-QK (query and key weights frozen at
``N(0, 1/N)``), Standard and MixiT, several seeds each. The runs are those of
:func:`sims.induction_heads.induction_head_runs`, which the claim
``frozen-qk.induction-heads-form`` reads too.

Top row: on one test sequence, the trained Frozen-QK model's layer-1 head with the
highest previous-token score and its layer-2 head with the highest induction score.
Bottom row: the same two maps of the explicit construction of
:func:`proofs.frozen_qk.induction_construction`, whose frozen random ``W^Q, W^K`` are
reached through solved embeddings, on a sequence ``BOS r r``. Right column: the two
scores of :mod:`sims.induction_heads` for every variant (one dot per seed), the
construction and uniform causal attention.
"""

import numpy as np
from matplotlib.figure import Figure

from paper_figures.output import json_ready
from paper_figures.variant_style import variant_style
from proofs.frozen_qk import induction_construction, induction_forward, repeated_sequences
from sims.fits import seed_summary
from sims.induction_heads import (
    SCORES, best_heads, induction_head_runs, induction_head_settings, induction_score,
    previous_token_score, uniform_scores,
)
from sims.seeds import stream_seed

NAME = "frozen-qk-attention-maps"

CONSTRUCTION = {"half_length": 8, "vocab_size": 17, "head_width": 32, "width": 160,
                "beta": 12.0, "sequences": 64}
"""The construction's shape: ``BOS r r`` with ``|r| = 8`` of 16 tokens (``T = 17``),
``n_h = 32 >= T + 1``, ``n = 160 >= max(4 n_h, 3 V + T)``, ``beta = 12``."""


def construction_maps(base_seed):
    """Solve the construction and measure its two heads on repeated sequences.

    Returns
    -------
    dict
        ``maps``: layer 1 and layer 2 on the first sequence, and ``tokens``: that
        sequence. ``previous_token`` and ``induction``: the scores of the two layers'
        heads over all sequences, and ``uniform``: those of uniform attention.
        ``accuracy``: the readout's accuracy on the second halves.
        ``gram_condition``: ``cond(G^T G)`` of the frozen weights.
    """
    shape = CONSTRUCTION
    generator = np.random.default_rng(stream_seed(base_seed, "induction-construction"))
    seq_len = 2 * shape["half_length"] + 1
    construction = induction_construction(shape["width"], shape["head_width"],
                                          shape["vocab_size"], seq_len, shape["beta"],
                                          generator)
    sequences = repeated_sequences(shape["sequences"], shape["half_length"],
                                   shape["vocab_size"], generator)

    layer_maps, correct, scored = [], 0, 0
    for sequence in sequences:
        first, second, readout = induction_forward(construction, sequence)
        layer_maps.append(np.stack([first, second]))
        positions = np.arange(shape["half_length"] + 1, seq_len - 1)
        correct += int((readout[positions].argmax(axis=1) == sequence[positions + 1]).sum())
        scored += positions.size
    layer_maps = np.stack(layer_maps)  # (B, 2 layers, T, T)
    per_layer = layer_maps.transpose(1, 0, 2, 3)[:, :, None]  # (2, B, 1 head, T, T)
    return {
        "maps": layer_maps[0],
        "tokens": sequences[0],
        "previous_token": [float(previous_token_score(per_layer[layer], sequences)[0])
                           for layer in range(2)],
        "induction": [float(induction_score(per_layer[layer], sequences)[0])
                      for layer in range(2)],
        "uniform": uniform_scores(sequences),
        "accuracy": correct / scored,
        "gram_condition": construction["gram_condition"],
    }


def compute(scale, base_seed, cache):
    """Train or load the two-layer models, solve the construction and score both.

    Returns
    -------
    dict
        JSON-ready, with ``config`` and ``seeds``, and:

        - ``trained``: per variant and seed, the test accuracy, both score tables of
          shape ``(L, H)`` and the best heads;
        - ``maps``: the Frozen-QK maps of seed 0 on its first test sequence;
        - ``construction``: see :func:`construction_maps`;
        - ``fits``: per variant the mean and standard deviation over seeds of the best
          heads' scores and of the accuracy, with the construction's and uniform
          attention's scores.
    """
    settings = induction_head_settings(scale)
    by_variant = induction_head_runs(settings, base_seed, cache)

    trained, fits = {}, {}
    for variant, results in by_variant.items():
        records = []
        for result in results:
            records.append({"test_accuracy": result["test_accuracy"],
                            "previous_token": result["previous_token"],
                            "induction": result["induction"], "best": best_heads(result),
                            "diverged": result["diverged"]})
        trained[variant] = records
        fits[variant] = {"accuracy": _seed_fit([r["test_accuracy"] for r in records])}
        for score in SCORES:
            fits[variant][score] = _seed_fit([r["best"][score]["score"] for r in records])

    frozen = by_variant["frozen_qk"][0]
    best = best_heads(frozen)
    construction = construction_maps(base_seed)
    fits["construction"] = {"previous_token": construction["previous_token"][0],
                            "induction": construction["induction"][1],
                            "accuracy": construction["accuracy"]}
    fits["uniform"] = {"previous_token": frozen["uniform_previous_token"],
                       "induction": frozen["uniform_induction"]}

    return json_ready({
        "config": {
            "scale": scale,
            "settings": settings.to_json(),
            "construction": CONSTRUCTION,
            "measure": "sims.induction_heads.induction_head_runs",
            "scores": "previous-token: mean A[i, i-1]; induction: mean mass on the "
                      "tokens after earlier occurrences of the current token",
        },
        "seeds": {"base_seed": base_seed, "seed_indices": list(range(settings.seeds))},
        "trained": trained,
        "maps": {"tokens": frozen["tokens"],
                 "previous_token": frozen["maps"][0, best["previous_token"]["head"]],
                 "induction": frozen["maps"][-1, best["induction"]["head"]],
                 "heads": best},
        "construction": construction,
        "fits": fits,
    })


def _seed_fit(values):
    """Return :func:`sims.fits.seed_summary` of ``values`` with the values themselves."""
    return dict(seed_summary(values), seeds=[float(value) for value in values])


def draw(data):
    """Draw the four maps and the score panels from the data of :func:`compute`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = Figure(figsize=(15.0, 9.4))
    grid = figure.add_gridspec(2, 3, left=0.05, right=0.98, top=0.88, bottom=0.17,
                               wspace=0.3, hspace=0.42, width_ratios=(1, 1, 1.1))
    maps = data["maps"]
    heads = maps["heads"]
    construction = data["construction"]
    panels = (
        (grid[0, 0], maps["previous_token"], maps["tokens"],
         f"trained Frozen-QK, layer 1, head {heads['previous_token']['head'] + 1}\n"
         f"previous-token score {heads['previous_token']['score']:.2f}"),
        (grid[0, 1], maps["induction"], maps["tokens"],
         f"trained Frozen-QK, layer {heads['induction']['layer'] + 1}, head "
         f"{heads['induction']['head'] + 1}\ninduction score "
         f"{heads['induction']['score']:.2f}"),
        (grid[1, 0], construction["maps"][0], construction["tokens"],
         f"construction, layer 1\nprevious-token score "
         f"{construction['previous_token'][0]:.3f}"),
        (grid[1, 1], construction["maps"][1], construction["tokens"],
         f"construction, layer 2\ninduction score {construction['induction'][1]:.3f}"),
    )
    for spec, matrix, tokens, title in panels:
        _draw_map(figure.add_subplot(spec), np.array(matrix, dtype=float), tokens, title)

    for row, score in enumerate(SCORES):
        _draw_scores(figure.add_subplot(grid[row, 2]), data, score)

    figure.suptitle("Induction heads with frozen random queries and keys: trained against "
                    "constructed (analogue of MixiT paper Figure 3)", fontsize=13)
    figure.text(0.05, 0.015, _setup_text(data), ha="left", va="bottom", fontsize=8.5)
    return figure


def _draw_map(ax, matrix, tokens, title):
    length = matrix.shape[0]
    image = ax.imshow(np.where(np.tril(np.ones((length, length))) > 0, matrix, np.nan),
                      cmap="viridis", vmin=0.0, vmax=1.0)
    labels = [str(int(token)) for token in tokens]
    ax.set_xticks(range(length))
    ax.set_yticks(range(length))
    ax.set_xticklabels(labels, fontsize=6)
    ax.set_yticklabels(labels, fontsize=6)
    ax.set_xlabel("key token")
    ax.set_ylabel("query token")
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)


def _draw_scores(ax, data, score):
    names = list(data["trained"]) + ["construction", "uniform"]
    for position, name in enumerate(names):
        if name in data["trained"]:
            colour = variant_style(name)[1]
            values = np.array([record["best"][score]["score"]
                               for record in data["trained"][name]], dtype=float)
            ax.bar(position, np.nanmean(values), color=colour, alpha=0.5, width=0.7)
            ax.plot(np.full(values.size, position), values, "o", color=colour, markersize=4)
        else:
            value = data["fits"][name][score]
            ax.bar(position, value, color="0.4" if name == "construction" else "0.8",
                   width=0.7)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([variant_style(name)[0] for name in names], rotation=20,
                       ha="right", fontsize=9)
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.05)
    ax.grid(True, axis="y", alpha=0.3)
    heads = "layer-1 heads" if score == "previous_token" else "last-layer heads"
    ax.set_title(f"best {score.replace('_', '-')} score over {heads}\n"
                 "(bars: mean over seeds; dots: seeds)", fontsize=10)


def _setup_text(data):
    settings = data["config"]["settings"]
    options = settings["task_options"]
    accuracy = ", ".join(f"{variant_style(name)[0]} "
                         f"{data['fits'][name]['accuracy']['mean']:.2f}"
                         for name in data["trained"])
    shape = data["config"]["construction"]
    return (f"scale {data['config']['scale']}: two layers, width {settings['width']}, "
            f"{settings['heads']} heads, {settings['steps']} AdamW steps at lr "
            f"{settings['lr']:g}, {settings['seeds']} seeds; induction on r r with |r| from "
            f"{options.get('min_length', options['length'])} to {options['length']} of "
            f"{options['alphabet']} tokens after filler tokens. Mean test accuracy: "
            f"{accuracy}; construction {data['fits']['construction']['accuracy']:.2f}.\n"
            f"Construction: n = {shape['width']}, n_h = {shape['head_width']}, "
            f"V = {shape['vocab_size']} (with BOS), beta = {shape['beta']:g}; "
            f"MixiT's 'attention' is a fixed mixing matrix, whose entries can be negative, "
            f"so its scores can be too.")
