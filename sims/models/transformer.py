"""A pre-LN decoder-only transformer with an ensemble axis."""

import math
from dataclasses import dataclass

import numpy as np

from sims.hyperparameters import check_positive_int
from sims.layers import (
    ACTIVATIONS, NORMS, Embedding, Linear, PositionEmbedding, ResidualBlock, Sequential,
    TiedUnembedding, make_activation, masked_softmax_cross_entropy, softmax_cross_entropy,
)
from sims.layers.attention import (
    ATTENTION_SCALES, CausalSelfAttention, SoftmaxAttention, attention_scale, check_heads,
)
from sims.parameters import Parameter

PROJECTION_INITS = ("table", "gpt2")
"""``"table"``: every hidden matrix starts with the table's init std. ``"gpt2"``: the
attention's output projection and the MLP's second matrix start with ``1 / sqrt(2 L)``
times it."""


@dataclass(frozen=True)
class TransformerShape:
    """Architecture of :class:`Transformer`.

    Attributes
    ----------
    vocab_size : int
        ``V``, the number of symbols in and out.
    seq_len : int
        ``T``, the longest sequence the model reads; it sizes the position embedding.
    width : int
        ``N``, the residual-stream width.
    depth : int
        ``L``, the number of layers. Each layer holds two residual blocks.
    heads : int
        ``H``, the number of attention heads; it must divide ``N``.
    mlp_multiple : int
        Hidden width of the MLP as a multiple of ``N``.
    activation : {"gelu", "tanh", "relu"}
    bias : bool
        Whether the attention's query, key, value and output projections and the MLP's two
        matrices have biases (group ``hidden_bias``).
    norm : {"layernorm", "rmsnorm"}
        The pre-norms of both blocks and the final norm.
    tied_embeddings : bool
        Whether the unembedding reuses the transposed token-embedding matrix, as the
        CompleteP reference implementation does, instead of a matrix of its own. The tied
        matrix stays in the group ``embedding``.
    attention_scale : {"mup", "sp"}
        Logit scale ``1 / n_h`` or ``1 / sqrt(n_h)``; see
        :func:`sims.layers.attention.attention_scale`. The reference implementation uses
        ``"sp"`` for SP and ``"mup"`` for muP and the alpha family.
    projection_init : {"table", "gpt2"}
        ``"gpt2"`` multiplies the init std of the attention's output projection and of
        the MLP's second matrix by ``1 / sqrt(2 L)``. This is the GPT-2-style init of the
        matrices that write into the residual stream, which the reference implementation
        applies to every ``c_proj`` weight when muP is off, that is for SP.
    """

    vocab_size: int
    seq_len: int
    width: int
    depth: int
    heads: int
    mlp_multiple: int = 4
    activation: str = "gelu"
    bias: bool = True
    norm: str = "layernorm"
    tied_embeddings: bool = False
    attention_scale: str = "mup"
    projection_init: str = "table"

    def __post_init__(self):
        check_positive_int("vocab_size", self.vocab_size)
        check_positive_int("seq_len", self.seq_len)
        check_positive_int("width", self.width)
        check_positive_int("depth", self.depth)
        check_positive_int("heads", self.heads)
        check_positive_int("mlp_multiple", self.mlp_multiple)
        check_heads(self.width, self.heads)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; "
                             f"valid: {', '.join(ACTIVATIONS)}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown norm {self.norm!r}; valid: {', '.join(NORMS)}")
        if self.attention_scale not in ATTENTION_SCALES:
            raise ValueError(f"unknown attention_scale {self.attention_scale!r}; "
                             f"valid: {', '.join(ATTENTION_SCALES)}")
        if self.projection_init not in PROJECTION_INITS:
            raise ValueError(f"unknown projection_init {self.projection_init!r}; "
                             f"valid: {', '.join(PROJECTION_INITS)}")
        for name in ("bias", "tied_embeddings"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}")

    @property
    def head_width(self):
        """``n_h = N / H``."""
        return self.width // self.heads


class Transformer:
    """Pre-LN decoder-only transformer: embeddings, ``L`` layers, final norm, unembedding.

    ``h^0 = E[x_t] + P[t]``: token and learned position embeddings (group ``embedding``).
    Layer ``l`` applies two residual blocks, attention and then MLP,
    ``h <- h + m_L**-alpha * Attn(LN(h))`` and ``h <- h + m_L**-alpha * MLP(LN(h))``
    with ``MLP(u) = phi(u W_1 + b_1) W_2 + b_2`` (groups ``pre_ln``, ``hidden_weight``,
    ``hidden_bias``). ``logits = m_out * LN(h^{2L}) W_out`` (groups ``final_ln``,
    ``unembedding``); with tied embeddings ``W_out = E^T``. Both blocks of a layer carry
    the multiplier ``m_L**-alpha``, as in Table 1 of Dey et al. 2025 (arXiv 2505.01618) and
    its reference implementation. The multipliers ``m_L**-alpha`` and ``m_out`` come from
    ``scales``.

    Parameters
    ----------
    shape : TransformerShape
    scales : sims.hyperparameters.ShapeScales
        The parameterization table at this shape; supplies the residual and unembedding
        multipliers here and the init stds to :func:`sims.init.initialize`.
    make_pattern : callable, optional
        ``make_pattern(name, layer)`` returns the
        :class:`~sims.layers.attention.AttentionPattern` of layer ``layer`` (from 0), with
        ``name`` as the prefix of its parameter names. The default is causal softmax
        attention with the shape's heads, attention scale and biases. A custom pattern
        sets the number of heads itself and ignores ``shape.attention_scale``.

    Attributes
    ----------
    blocks : list of sims.layers.ResidualBlock
        The ``2 L`` residual blocks in order: block ``2 l`` is the attention block of layer
        ``l`` and block ``2 l + 1`` its MLP block.
    """

    def __init__(self, shape, scales, make_pattern=None):
        self.shape = shape
        self.scales = scales
        width = shape.width
        hidden = shape.mlp_multiple * width
        bias_group = "hidden_bias" if shape.bias else None
        norm = NORMS[shape.norm]
        if make_pattern is None:
            make_pattern = self._softmax_pattern
        projection_multiplier = 1.0
        if shape.projection_init == "gpt2":
            projection_multiplier = 1.0 / math.sqrt(2 * shape.depth)

        self.token_embedding = Embedding("token_embedding", shape.vocab_size, 1, width)
        self.position_embedding = PositionEmbedding("position_embedding", shape.seq_len, width)

        self.blocks = []
        for layer in range(shape.depth):
            prefix = f"layers.{layer}"
            pattern = make_pattern(f"{prefix}.attention", layer)
            attention = CausalSelfAttention(f"{prefix}.attention", width, pattern, shape.bias)
            attention.proj.weight.init_multiplier = projection_multiplier
            self.blocks.append(ResidualBlock(
                Sequential([norm(f"{prefix}.attention_norm", width, "pre_ln"), attention]),
                scales.residual_multiplier,
            ))

            fc2 = Linear(f"{prefix}.mlp.fc2", hidden, width, "hidden_weight", bias_group)
            fc2.weight.init_multiplier = projection_multiplier
            self.blocks.append(ResidualBlock(
                Sequential([
                    norm(f"{prefix}.mlp_norm", width, "pre_ln"),
                    Linear(f"{prefix}.mlp.fc1", width, hidden, "hidden_weight", bias_group),
                    make_activation(shape.activation),
                    fc2,
                ]),
                scales.residual_multiplier,
            ))

        self.final_norm = norm("final_norm", width, "final_ln")
        if shape.tied_embeddings:
            self.unembedding = TiedUnembedding(self.token_embedding.weight,
                                               scales.unembedding_multiplier)
        else:
            self.unembedding = Linear("unembedding", width, shape.vocab_size, "unembedding",
                                      multiplier=scales.unembedding_multiplier)

    def _softmax_pattern(self, name, layer):
        shape = self.shape
        scale = attention_scale(shape.attention_scale, shape.head_width)
        bias_group = "hidden_bias" if shape.bias else None
        return SoftmaxAttention(name, shape.width, shape.heads, scale, bias_group)

    def parameters(self):
        """Return every parameter once, in a fixed order.

        The order is embeddings, blocks, final norm, unembedding. Within a layer it is
        attention norm, query, key, value, output projection, MLP norm, first and second
        MLP matrix. A tied unembedding adds nothing.
        """
        collected = self.token_embedding.parameters()
        collected.extend(self.position_embedding.parameters())
        for block in self.blocks:
            collected.extend(block.parameters())
        collected.extend(self.final_norm.parameters())
        collected.extend(self.unembedding.parameters())
        return collected

    def zero_grad(self):
        for parameter in self.parameters():
            parameter.zero_grad()

    def check_tokens(self, tokens):
        """Return ``tokens`` as an integer array, or raise ``ValueError`` if they are invalid."""
        tokens = np.asarray(tokens)
        if tokens.ndim != 3:
            raise ValueError(f"tokens must have shape (K, B, T), got shape {tokens.shape}")
        if not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"tokens must be integers, got dtype {tokens.dtype}")
        length = tokens.shape[-1]
        if length > self.shape.seq_len:
            raise ValueError(f"sequence length {length} exceeds the model's seq_len "
                             f"{self.shape.seq_len}; shorten the sequences or build a longer model")
        if length < 1:
            raise ValueError("tokens must contain at least one position per sequence, got length 0")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.shape.vocab_size):
            raise ValueError(f"token ids must lie in 0 ... {self.shape.vocab_size - 1}, "
                             f"got {tokens.min()} ... {tokens.max()}")
        return tokens

    def forward(self, tokens):
        """Return the logits and a cache with every residual-stream state.

        Parameters
        ----------
        tokens : numpy.ndarray of int, shape (K, B, T)
            ``T`` may be shorter than ``shape.seq_len``.

        Returns
        -------
        logits : numpy.ndarray, shape (K, B, T, V)
        cache : dict
            ``"stream"``: list of the ``2 L + 1`` states ``h^0 ... h^{2L}``;
            ``"branch"``: list of the ``2 L`` block outputs before the multiplier;
            ``"attention"``: list of the ``L`` attention matrices, shape
            ``(K, B, H, T, T)`` or broadcastable to it; plus what the backward pass needs.

        Raises
        ------
        ValueError
            If ``tokens`` is not a ``(K, B, T)`` integer array with ``1 <= T <= seq_len``
            and ids in ``0 ... V - 1``.
        """
        tokens = self.check_tokens(tokens)
        h, token_cache = self.token_embedding.forward(tokens[..., None])
        h, position_cache = self.position_embedding.forward(h)

        stream = [h]
        branch_outputs = []
        attention_matrices = []
        block_caches = []
        for index, block in enumerate(self.blocks):
            h, block_cache = block.forward(h)
            stream.append(h)
            branch_outputs.append(block_cache[0])
            block_caches.append(block_cache)
            if index % 2 == 0:
                # An attention block's cache is (branch output, [norm cache, attention
                # cache]), and the attention cache starts with the attention matrices.
                attention_matrices.append(block_cache[1][1][0])

        normalized, norm_cache = self.final_norm.forward(h)
        logits, unembedding_cache = self.unembedding.forward(normalized)
        cache = {
            "stream": stream,
            "branch": branch_outputs,
            "attention": attention_matrices,
            "token_embedding": token_cache,
            "position_embedding": position_cache,
            "blocks": block_caches,
            "final_norm": norm_cache,
            "unembedding": unembedding_cache,
        }
        return logits, cache

    def backward(self, dlogits, cache):
        """Accumulate every trainable parameter's gradient from ``dlogits``.

        With tied embeddings the token-embedding matrix receives the sum of its gradient
        as unembedding and as embedding.
        """
        d = self.unembedding.backward(dlogits, cache["unembedding"])
        d = self.final_norm.backward(d, cache["final_norm"])
        for block, block_cache in zip(reversed(self.blocks), reversed(cache["blocks"])):
            d = block.backward(d, block_cache)
        d = self.position_embedding.backward(d, cache["position_embedding"])
        self.token_embedding.backward(d, cache["token_embedding"])

    def loss_and_gradients(self, tokens, targets, mask=None):
        """Fill every trainable parameter's gradient of each member's mean cross-entropy.

        The mean runs over the ``B T`` predictions of a member, or, with a ``mask``, over
        the predictions where the mask is true (see
        :func:`sims.layers.loss.masked_softmax_cross_entropy`).

        Parameters
        ----------
        tokens, targets : numpy.ndarray of int, shape (K, B, T)
            ``targets[k, b, t]`` is the token that should follow ``tokens[k, b, :t + 1]``.
        mask : numpy.ndarray of bool, shape (K, B, T) or broadcastable to it, optional
            True where a target is scored; every target by default.

        Returns
        -------
        loss : numpy.ndarray, shape (K,)
            Each member's mean cross-entropy.
        cache : dict
            As returned by :meth:`forward`.
        """
        self.zero_grad()
        logits, cache = self.forward(tokens)
        loss, dlogits = self._loss(logits, targets, mask)
        self.backward(dlogits, cache)
        return loss, cache

    def loss(self, tokens, targets, mask=None):
        """Return each member's mean cross-entropy, masked as in :meth:`loss_and_gradients`."""
        logits, _ = self.forward(tokens)
        loss, _ = self._loss(logits, targets, mask)
        return loss

    def _loss(self, logits, targets, mask):
        targets = self._check_targets(targets, logits)
        if mask is None:
            return softmax_cross_entropy(logits, targets)
        return masked_softmax_cross_entropy(logits, targets, mask)

    def _check_targets(self, targets, logits):
        targets = np.asarray(targets)
        if targets.shape != logits.shape[:-1]:
            raise ValueError(f"targets have shape {targets.shape}; expected {logits.shape[:-1]}, "
                             f"the shape of the tokens")
        return targets
