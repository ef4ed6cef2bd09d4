"""The registered figures: name, one-line description and the module that makes it.

A figure joins by adding one :class:`FigureEntry` to :data:`FIGURES`. Its module
provides two functions:

* ``compute(scale, base_seed, cache)`` runs or loads the simulations and returns the
  JSON-ready data behind the figure: ``config``, ``seeds``, the curves and ``fits``
  (each fitted quantity with its theory value);
* ``draw(data)`` returns a :class:`matplotlib.figure.Figure` drawn from that data alone,
  so that the JSON file written beside the picture redraws it.
"""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class FigureEntry:
    """One figure of the registry.

    Attributes
    ----------
    name : str
        The figure's name on the command line and the stem of its files.
    description : str
        One line for ``python -m paper_figures list``.
    module : str
        Dotted name of the module with ``compute`` and ``draw``; imported only when
        the figure is made, so that ``list`` stays fast.
    """

    name: str
    description: str
    module: str

    def load(self):
        """Import and return the figure's module."""
        return importlib.import_module(self.module)


FIGURES = (
    FigureEntry(
        "completep-depth-coord-check",
        "mean |h^L| of the final residual stream against depth over the first AdamW steps, "
        "for SP/muP, alpha = 1/2 and alpha = 1 (CompleteP Figure 7)",
        "paper_figures.completep_depth_coord_check",
    ),
    FigureEntry(
        "completep-depth-coord-check-transformer",
        "the depth coordinate check on a pre-LN transformer: mean |h^L| against depth over "
        "the first AdamW steps, for SP, alpha = 1/2 and alpha = 1 (CompleteP Figure 7)",
        "paper_figures.completep_depth_coord_check_transformer",
    ),
    FigureEntry(
        "completep-linearization",
        "a block's distance from its linearization after one Adam step against depth, for "
        "SP, alpha = 1/2 and alpha = 1, on the residual MLP and a transformer "
        "(CompleteP Figure 6)",
        "paper_figures.completep_linearization",
    ),
    FigureEntry(
        "completep-lr-transfer",
        "final training loss against the base learning rate for several depths, for SP, "
        "muP, alpha = 1/2 and alpha = 1, with GELU and tanh (CompleteP's transfer figures)",
        "paper_figures.completep_lr_transfer",
    ),
    FigureEntry(
        "completep-init-transfer",
        "final training loss against the base init std for several depths, for SP, muP, "
        "alpha = 1/2 and alpha = 1, with GELU and tanh (CompleteP's transfer figures)",
        "paper_figures.completep_init_transfer",
    ),
    FigureEntry(
        "mixit-rank-collapse",
        "mean token cosine similarity and rank-collapse residual against depth at "
        "initialization: standard softmax, MixiT, shaped attention and the uniform-attention "
        "closed form",
        "paper_figures.mixit_rank_collapse",
    ),
    FigureEntry(
        "mixit-mean-recursion",
        "the exact finite-width mean of MixiT's token covariance against its n -> infinity "
        "limit, its 1/n convergence and a Monte Carlo check",
        "paper_figures.mixit_mean_recursion",
    ),
    FigureEntry(
        "mixit-sde-vs-network",
        "laws of a token correlation and a log norm in finite MixiT networks against the "
        "covariance SDE, with the Kolmogorov-Smirnov distance against width",
        "paper_figures.mixit_sde_vs_network",
    ),
    FigureEntry(
        "mixit-variants-tasks",
        "test accuracy of Standard, Frozen-QK, Frozen-MLP, MixiT and embedding-only "
        "transformers on retrieval, arithmetic and language modeling (MixiT paper's task "
        "tables)",
        "paper_figures.mixit_variants_tasks",
    ),
    FigureEntry(
        "frozen-qk-attention-maps",
        "previous-token and induction heads of a trained two-layer Frozen-QK model next to "
        "the explicit construction's, with scores per variant (MixiT paper Figure 3)",
        "paper_figures.frozen_qk_attention_maps",
    ),
    FigureEntry(
        "mixit-memorization",
        "bits of random labels stored per trainable and per total parameter, per variant "
        "(MixiT paper Table 4)",
        "paper_figures.mixit_memorization",
    ),
)


def figure_names():
    """Return the names of the registered figures, in registry order."""
    return [entry.name for entry in FIGURES]


def find_figure(name):
    """Return the entry named ``name``.

    Raises
    ------
    KeyError
        If no figure has that name; the message lists the valid names.
    """
    for entry in FIGURES:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown figure {name!r}; valid: {', '.join(figure_names())}")
