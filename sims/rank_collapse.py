"""Rank collapse at initialization in deep stacks of full transformer blocks.

Each layer is an attention block followed by an optional MLP block, both pre-norm
residual blocks built from :mod:`sims.layers`. Three kinds of layer are compared:

* ``"standard"``: GPT-2-style causal softmax attention. LayerNorm, biases, logit scale
  ``1 / sqrt(n_h)``, a GELU MLP of hidden width ``mlp_multiple * n``, every weight drawn
  with std ``init_std`` (0.02) and biases zero, unscaled residual ``x + F(x)``. This is
  the layer of :class:`sims.models.Transformer` under SP with the table's init, and it
  uses that class's parameter names.
* ``"mixit"``: MixiT's fixed random mixing matrices
  (:func:`sims.layers.mixing.mixit_matrices`). RMSNorm, no biases, value and output
  projections drawn with std ``1 / sqrt(fan_in)``, an MLP with the shaped leaky ReLU
  (:class:`sims.layers.activations.ShapedLeakyReLU`), residual
  ``lambda x + gamma F(x)`` with ``lambda**2 + gamma**2 = 1``. The MixiT reference
  implementation draws weights with std 0.02 and rescales linear outputs by
  ``sqrt(base_width / fan_in)``, and its MLP is gated. The std ``1 / sqrt(fan_in)`` and
  the plain MLP here are the idealized block of the signal-propagation theory.
* ``"shaped"``: shaped attention (:class:`sims.layers.attention.ShapedAttention`) with
  query and key weights of std ``1 / sqrt(n)`` and temperature ``tau0 sqrt(n n_h)``,
  otherwise as ``"mixit"``.

Inputs are i.i.d. standard normal tokens. :func:`simulate_rank_collapse` builds and
applies one layer at a time, so memory does not grow with depth, and records the
measures of :mod:`sims.token_metrics` on the residual stream after every layer.
"""

import math
from dataclasses import dataclass

import numpy as np

from sims.hyperparameters import check_positive_int
from sims.layers import (
    GELU, CausalSelfAttention, FixedAttention, LayerNorm, Linear, ResidualBlock, RMSNorm,
    Sequential,
)
from sims.layers.activations import ShapedLeakyReLU
from sims.layers.attention import (
    ShapedAttention, SoftmaxAttention, attention_scale, check_heads, shaped_attention_scale,
)
from sims.layers.mixing import NOISE_SCALES, mixit_matrices
from sims.mixit_coefficients import branch_weight
from sims.models.transformer import PROJECTION_INITS
from sims.sampling import check_generator, standard_normal
from sims.token_metrics import mean_cosine_similarity, rank_collapse_residual, stable_rank

LAYER_KINDS = ("standard", "mixit", "shaped")


@dataclass(frozen=True)
class RankCollapseConfig:
    """Architecture and initialization of a stack of layers (module docstring).

    Attributes
    ----------
    kind : {"standard", "mixit", "shaped"}
    width : int
        ``n``.
    depth : int
        ``L``, the number of layers, each with an attention and an MLP block.
    heads : int
        ``H``, which must divide ``n``.
    seq_len : int
        ``T``, the number of tokens.
    mlp : bool
        Whether each layer has an MLP block.
    mlp_multiple : int
        The MLP's hidden width as a multiple of ``n``.
    init_std : float
        ``"standard"`` only: the std of every weight.
    projection_init : {"table", "gpt2"}
        ``"standard"`` only: ``"gpt2"`` multiplies the std of the attention's output
        projection and of the MLP's second matrix by ``1 / sqrt(2 L)``.
    skip_weight : float
        ``"mixit"`` and ``"shaped"``: ``lambda`` in ``[0, 1]``.
    c_minus : float
        ``"mixit"`` and ``"shaped"``: the shaped leaky ReLU's ``c``.
    noise_scale : {"shaped", "unshaped", "interpolated"}
        ``"mixit"`` only, see :mod:`sims.layers.mixing`.
    sink : bool
        ``"mixit"`` only: whether head 0 is the attention-sink head.
    tau0 : float
        ``"shaped"`` only: the temperature constant.
    """

    kind: str
    width: int
    depth: int
    heads: int
    seq_len: int
    mlp: bool = True
    mlp_multiple: int = 4
    init_std: float = 0.02
    projection_init: str = "table"
    skip_weight: float = math.sqrt(0.5)
    c_minus: float = -1.0
    noise_scale: str = "shaped"
    sink: bool = False
    tau0: float = 1.0

    def __post_init__(self):
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; valid: {', '.join(LAYER_KINDS)}")
        for name in ("width", "depth", "heads", "seq_len", "mlp_multiple"):
            check_positive_int(name, getattr(self, name))
        check_heads(self.width, self.heads)
        branch_weight(self.skip_weight)
        if self.projection_init not in PROJECTION_INITS:
            raise ValueError(f"unknown projection_init {self.projection_init!r}; "
                             f"valid: {', '.join(PROJECTION_INITS)}")
        if self.noise_scale not in NOISE_SCALES:
            raise ValueError(f"unknown noise_scale {self.noise_scale!r}; "
                             f"valid: {', '.join(NOISE_SCALES)}")
        if not (math.isfinite(self.init_std) and self.init_std > 0):
            raise ValueError(f"init_std must be positive and finite, got {self.init_std!r}")

    @property
    def head_width(self):
        """``n_h = n / H``."""
        return self.width // self.heads


@dataclass
class RankCollapseCurves:
    """Measures of the residual stream after each layer.

    Every array has shape ``(L + 1, K, B)``: index ``l`` is the stream after ``l``
    layers (0 is the input), ``K`` the members and ``B`` the sequences of each member.

    Attributes
    ----------
    config : RankCollapseConfig
    cosine : numpy.ndarray
        :func:`sims.token_metrics.mean_cosine_similarity`.
    residual : numpy.ndarray
        :func:`sims.token_metrics.rank_collapse_residual`.
    stable_rank : numpy.ndarray
        :func:`sims.token_metrics.stable_rank`.
    """

    config: RankCollapseConfig
    cosine: np.ndarray
    residual: np.ndarray
    stable_rank: np.ndarray


def _attention_pattern(config, name, members, generator, dtype):
    width, heads = config.width, config.heads
    if config.kind == "standard":
        scale = attention_scale("sp", config.head_width)
        return SoftmaxAttention(name, width, heads, scale, "hidden_bias")
    if config.kind == "shaped":
        scale = shaped_attention_scale(width, config.head_width, config.tau0)
        return ShapedAttention(name, width, heads, scale)
    matrices = mixit_matrices(members, heads, config.seq_len, config.head_width, generator,
                              noise_scale=config.noise_scale, sink=config.sink, dtype=dtype)
    return FixedAttention(matrices)


def build_layer(config, layer, members, generator, dtype=np.float64):
    """Build layer ``layer`` of the stack with its parameters drawn.

    Parameters
    ----------
    config : RankCollapseConfig
    layer : int
        The layer's index, used in its parameter names ``layers.{layer}...``.
    members : int
        ``K``.
    generator : numpy.random.Generator or sequence of K of them
        Draws, in this order, the mixing matrices (``"mixit"``) and every ``"normal"``
        parameter in the order of ``parameters()`` (:mod:`sims.sampling`).
    dtype : {numpy.float64, numpy.float32}

    Returns
    -------
    list of sims.layers.ResidualBlock
        The attention block, then the MLP block if ``config.mlp``.
    """
    check_generator(generator, members)
    width = config.width
    hidden = config.mlp_multiple * width
    prefix = f"layers.{layer}"
    standard = config.kind == "standard"
    norm = LayerNorm if standard else RMSNorm
    bias_group = "hidden_bias" if standard else None
    if standard:
        skip, branch = 1.0, 1.0
    else:
        skip, branch = config.skip_weight, branch_weight(config.skip_weight)

    pattern = _attention_pattern(config, f"{prefix}.attention", members, generator, dtype)
    attention = CausalSelfAttention(f"{prefix}.attention", width, pattern, bias=standard)
    blocks = [ResidualBlock(Sequential([norm(f"{prefix}.attention_norm", width, "pre_ln"),
                                        attention]), branch, skip)]
    projections = [attention.proj.weight]
    if config.mlp:
        activation = GELU() if standard else ShapedLeakyReLU(width, config.c_minus)
        fc2 = Linear(f"{prefix}.mlp.fc2", hidden, width, "hidden_weight", bias_group)
        projections.append(fc2.weight)
        blocks.append(ResidualBlock(Sequential([
            norm(f"{prefix}.mlp_norm", width, "pre_ln"),
            Linear(f"{prefix}.mlp.fc1", width, hidden, "hidden_weight", bias_group),
            activation,
            fc2,
        ]), branch, skip))

    for block in blocks:
        for parameter in block.parameters():
            shape = (members,) + parameter.shape
            if parameter.init == "zeros":
                parameter.value = np.zeros(shape, dtype=dtype)
            elif parameter.init == "ones":
                parameter.value = np.ones(shape, dtype=dtype)
            else:
                if standard:
                    std = config.init_std
                    if config.projection_init == "gpt2" and parameter in projections:
                        std /= math.sqrt(2 * config.depth)
                else:
                    std = 1.0 / math.sqrt(parameter.shape[0])
                parameter.value = standard_normal(generator, shape, dtype)
                parameter.value *= dtype(std)
    return blocks


def simulate_rank_collapse(config, members, generator, *, batch=1, dtype=np.float64):
    """Propagate i.i.d. standard normal tokens through a fresh stack and measure each layer.

    Parameters
    ----------
    config : RankCollapseConfig
    members : int
        ``K`` independent stacks.
    generator : numpy.random.Generator or sequence of K of them
        Draws the tokens, shape ``(K, B, T, n)``, first and then each layer's draws
        (:func:`build_layer`) in layer order.
    batch : int
        ``B``, input sequences per member.
    dtype : {numpy.float64, numpy.float32}

    Returns
    -------
    RankCollapseCurves
    """
    check_positive_int("members", members)
    check_positive_int("batch", batch)
    if config.seq_len < 2:
        raise ValueError("rank collapse needs at least two tokens, so set seq_len >= 2")
    dtype = np.dtype(dtype).type
    check_generator(generator, members)

    x = standard_normal(generator, (members, batch, config.seq_len, config.width), dtype)
    shape = (config.depth + 1, members, batch)
    cosine, residual, rank = np.empty(shape), np.empty(shape), np.empty(shape)
    cosine[0], residual[0], rank[0] = (mean_cosine_similarity(x), rank_collapse_residual(x),
                                       stable_rank(x))
    for layer in range(config.depth):
        for block in build_layer(config, layer, members, generator, dtype):
            x, _ = block.forward(x)
        cosine[layer + 1] = mean_cosine_similarity(x)
        residual[layer + 1] = rank_collapse_residual(x)
        rank[layer + 1] = stable_rank(x)
    return RankCollapseCurves(config=config, cosine=cosine, residual=residual, stable_rank=rank)
