"""Figure ``completep-depth-coord-check-transformer``: the depth coordinate check on a transformer.

The analogue of Figure 7 of Dey et al. 2025, "Don't be lazy: CompleteP enables
compute-efficient deep transformers" (arXiv 2505.01618), on the model that the paper
trains: a pre-LN decoder-only transformer (:class:`sims.models.Transformer`), here on the
suite's character corpus. It is the figure ``completep-depth-coord-check`` with the
transformer in place of the residual MLP, and the two share their implementation
(:mod:`paper_figures.completep_depth_coord_check`). The figure shows the mean absolute
coordinate of the final residual stream ``h^L`` (the state after the ``2 L`` residual
blocks of ``L`` layers) against depth ``L``, at initialization and after each of the
first 10 AdamW steps, in three panels (SP, alpha = 1/2, alpha = 1), and fits two depth
slopes per panel against their theory values from
:func:`theory.completep.depth_exponents`:

* ``||h^L - h^0||**2 / N`` at initialization, theory ``1 - 2 alpha``;
* ``||Delta h^L||**2 / N`` after the first step, theory 0 for the alpha family and 2 for SP.

Both blocks of a layer carry the branch multiplier ``m_L**-alpha``, so a sum over the
``2 L`` blocks has the same depth exponent as a sum over ``L``.

The setup follows the paper's: ``N_base = N`` (``m_N = 1``), ``L_base = 2``, 4 attention
heads, an MLP of width ``4 N`` with GELU and biases, untied embeddings, AdamW at
``lr = 1e-3`` with weight decay 0.1 and betas (0.9, 0.95), 10 steps, float32. It differs
from the paper's in its size (width 256, head width 64, sequences of 1024 tokens there),
in the data, and in that no gradient is clipped (the paper clips the gradient norm at 1).

SP scales the attention logits by ``1 / sqrt(n_h)``, and muP and the alpha family by
``1 / n_h`` (:class:`sims.runs.RunConfig` picks the scale from the parameterization, as the
CompleteP reference implementation does). At ``m_N = 1`` that logit scale is the only
difference between SP and muP here, so the first panel is SP alone. Every hidden matrix,
the attention's output projection and the MLP's second matrix included, starts with the
table's init std; the reference implementation instead scales the output projections'
std by ``1 / sqrt(2 L)`` under SP.

At the quick scale (base seed 0, width 64, depths 2 to 64, 3 seeds) the initial slopes
match their theory values: +1.09, +0.01 and -1.00 for SP, alpha = 1/2 and alpha = 1.
After the first step SP grows more slowly than its asymptotic ``L**2`` (+1.48), as on the
residual MLP, and alpha = 1/2 stays flat (+0.07). The update of alpha = 1 falls (-0.34),
but it flattens with depth: its local slope is -0.52 between depths 2 and 4 and -0.12
between 32 and 64, as a finite-depth correction that approaches a constant would give.
"""

from dataclasses import dataclass

import numpy as np

from paper_figures.completep_depth_coord_check import (
    CoordCheckFigure, Panel, ScaleSettings, compute_figure, draw,
)
from sims.runs import DTYPES

NAME = "completep-depth-coord-check-transformer"

__all__ = ["NAME", "SETTINGS", "PANELS", "FIGURE", "TransformerScaleSettings", "compute",
           "draw"]


@dataclass(frozen=True)
class TransformerScaleSettings(ScaleSettings):
    """:class:`~paper_figures.completep_depth_coord_check.ScaleSettings` of a transformer.

    ``batch_size`` and ``probe_size`` count sequences of ``seq_len`` tokens.

    Attributes
    ----------
    seq_len : int
        ``T``, tokens per sequence.
    heads : int
        ``H``; the head width is ``n_h = N / H``.
    mlp_multiple : int
        Hidden width of the MLP as a multiple of ``N``.
    """

    seq_len: int
    heads: int
    mlp_multiple: int = 4

    def run_options(self):
        """Return the :class:`sims.runs.RunConfig` fields that select and size the transformer."""
        return {"model": "transformer", "seq_len": self.seq_len, "heads": self.heads,
                "hidden_multiple": self.mlp_multiple}

    def estimate_memory_bytes(self):
        """Estimate the peak memory of the largest ensemble that the figure trains.

        One ensemble contains the seeds of one panel and depth. The estimate is

            seeds * itemsize * L * (4 (4 + 2 m) N**2 + 28 B T N + 2 B H T**2)

        at the largest depth, with ``B`` the larger of the probe and training batches and
        ``m`` the MLP multiple: four copies (value, gradient, AdamW's two moments) of a
        layer's ``(4 + 2 m) N**2`` weights, 28 arrays of shape ``(B, T, N)`` and two
        attention arrays of shape ``(B, H, T, T)`` per layer. The counts of arrays were
        fitted to the peak resident memory of the coordinate check at ``N`` = 64 and
        128, ``T`` = 32 and 128 and ``B`` = 16 and 64 (depth 16, two seeds, float32) and
        rounded up. The estimate leaves out the interpreter and the embeddings.
        """
        depth = max(self.depths)
        batch = max(self.probe_size, self.batch_size)
        weights = _WEIGHT_COPIES * (4 + 2 * self.mlp_multiple) * self.width**2
        activations = _ACTIVATIONS_PER_LAYER * batch * self.seq_len * self.width
        attention = _ATTENTION_ARRAYS_PER_LAYER * batch * self.heads * self.seq_len**2
        itemsize = np.dtype(DTYPES[self.dtype]).itemsize
        return self.seeds * itemsize * depth * (weights + activations + attention)


_WEIGHT_COPIES = 4
"""Copies of every weight the optimizer keeps: value, gradient and AdamW's two moments."""

_ACTIVATIONS_PER_LAYER = 28
"""Arrays of shape (batch, T, N) that a layer keeps, fitted to measured peaks."""

_ATTENTION_ARRAYS_PER_LAYER = 2
"""Arrays of shape (batch, H, T, T) that a layer keeps, fitted to measured peaks."""


SETTINGS = {
    "smoke": TransformerScaleSettings(width=32, depths=(2, 4, 8), seeds=2, steps=3,
                                      probe_size=4, batch_size=4, dtype="float32",
                                      seq_len=16, heads=4),
    "quick": TransformerScaleSettings(width=64, depths=(2, 4, 8, 16, 32, 64), seeds=3, steps=10,
                                      probe_size=16, batch_size=16, dtype="float32",
                                      seq_len=32, heads=4),
    # The paper's width, heads, depths, seeds and steps. Sequences of 256 tokens in place
    # of the paper's 1024 keep the estimate near 16 GiB.
    "paper": TransformerScaleSettings(width=256, depths=(2, 4, 8, 16, 32, 64), seeds=3,
                                      steps=10, probe_size=8, batch_size=8, dtype="float32",
                                      seq_len=256, heads=4),
}

PANELS = (
    Panel("sp", "SP (no depth factors)", "sp", None),
    Panel("alpha-1/2", r"$\alpha$ = 1/2", "alpha", 0.5),
    Panel("completep", r"$\alpha$ = 1 (CompleteP)", "alpha", 1.0),
)

FIGURE = CoordCheckFigure(
    NAME, "pre-LN decoder-only transformer (sims.models.Transformer) on the character corpus",
    PANELS, SETTINGS)


def compute(scale, base_seed, cache):
    """Run or load the transformer's coordinate checks and fit the depth slopes.

    See :func:`paper_figures.completep_depth_coord_check.compute_figure` for the data
    returned and the errors raised.
    """
    return compute_figure(FIGURE, scale, base_seed, cache)
