"""A pre-LN residual MLP on token contexts, with an ensemble axis."""

from dataclasses import dataclass

from sims.hyperparameters import check_positive_int
from sims.layers import (
    ACTIVATIONS, NORMS, Embedding, Linear, ResidualBlock, Sequential, make_activation,
    softmax_cross_entropy,
)


@dataclass(frozen=True)
class ResidualMLPShape:
    """Architecture of :class:`ResidualMLP`.

    Attributes
    ----------
    vocab_size : int
        ``V``, the number of symbols in and out.
    context : int
        Number of preceding tokens the model reads.
    width : int
        ``N``, the residual-stream width.
    depth : int
        ``L``, the number of residual blocks.
    activation : {"gelu", "tanh", "relu"}
    bias : bool
        Whether the two block matrices have biases (group ``hidden_bias``).
    norm : {"layernorm", "rmsnorm"}
    hidden_multiple : int
        Hidden width of a block as a multiple of ``N``.
    """

    vocab_size: int
    context: int
    width: int
    depth: int
    activation: str = "gelu"
    bias: bool = True
    norm: str = "layernorm"
    hidden_multiple: int = 1

    def __post_init__(self):
        check_positive_int("vocab_size", self.vocab_size)
        check_positive_int("context", self.context)
        check_positive_int("width", self.width)
        check_positive_int("depth", self.depth)
        check_positive_int("hidden_multiple", self.hidden_multiple)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; valid: {', '.join(ACTIVATIONS)}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown norm {self.norm!r}; valid: {', '.join(NORMS)}")


class ResidualMLP:
    """Pre-LN residual MLP: read-in, ``L`` two-matrix blocks, final norm, read-out.

    ``h^0 = E[x]`` sums the embeddings of the ``context`` previous tokens (group
    ``embedding``);
    ``h^{l+1} = h^l + m_L**-alpha * W2 phi(W1 LN(h^l) + b1) + b2`` (groups ``pre_ln``,
    ``hidden_weight``, ``hidden_bias``);
    ``logits = m_out * LN(h^L) @ W_out`` (groups ``final_ln``, ``unembedding``), with the
    multipliers of Table 1 of Dey et al. 2025 (arXiv 2505.01618) taken from ``scales``.

    Parameters
    ----------
    shape : ResidualMLPShape
    scales : sims.hyperparameters.ShapeScales
        The parameterization table at this shape; supplies the residual and unembedding
        multipliers here and the init stds to :func:`sims.init.initialize`.
    """

    def __init__(self, shape, scales):
        self.shape = shape
        self.scales = scales
        width = shape.width
        hidden = shape.hidden_multiple * width
        bias_group = "hidden_bias" if shape.bias else None
        norm = NORMS[shape.norm]

        self.embedding = Embedding("embedding", shape.vocab_size, shape.context, width)
        self.blocks = []
        for index in range(shape.depth):
            branch = Sequential([
                norm(f"blocks.{index}.norm", width, "pre_ln"),
                Linear(f"blocks.{index}.fc1", width, hidden, "hidden_weight", bias_group),
                make_activation(shape.activation),
                Linear(f"blocks.{index}.fc2", hidden, width, "hidden_weight", bias_group),
            ])
            self.blocks.append(ResidualBlock(branch, scales.residual_multiplier))
        self.final_norm = norm("final_norm", width, "final_ln")
        self.unembedding = Linear("unembedding", width, shape.vocab_size, "unembedding",
                                  multiplier=scales.unembedding_multiplier)

    def parameters(self):
        """Return every parameter in a fixed order: read-in, blocks, final norm, read-out."""
        collected = self.embedding.parameters()
        for block in self.blocks:
            collected.extend(block.parameters())
        collected.extend(self.final_norm.parameters())
        collected.extend(self.unembedding.parameters())
        return collected

    def zero_grad(self):
        for parameter in self.parameters():
            parameter.zero_grad()

    def forward(self, tokens):
        """Return the logits and a cache with every residual-stream state.

        Parameters
        ----------
        tokens : numpy.ndarray of int, shape (K, B, context)

        Returns
        -------
        logits : numpy.ndarray, shape (K, B, V)
        cache : dict
            ``"stream"``: list of ``h^0 ... h^L``; ``"branch"``: list of the block
            outputs ``F_l`` before the multiplier; plus what the backward pass needs.
        """
        h, embedding_cache = self.embedding.forward(tokens)
        stream = [h]
        branch_outputs = []
        block_caches = []
        for block in self.blocks:
            h, block_cache = block.forward(h)
            stream.append(h)
            branch_outputs.append(block_cache[0])
            block_caches.append(block_cache)
        normalized, norm_cache = self.final_norm.forward(h)
        logits, unembedding_cache = self.unembedding.forward(normalized)
        cache = {
            "stream": stream,
            "branch": branch_outputs,
            "embedding": embedding_cache,
            "blocks": block_caches,
            "final_norm": norm_cache,
            "unembedding": unembedding_cache,
        }
        return logits, cache

    def backward(self, dlogits, cache):
        """Accumulate every trainable parameter's gradient from ``dlogits``."""
        d = self.unembedding.backward(dlogits, cache["unembedding"])
        d = self.final_norm.backward(d, cache["final_norm"])
        for block, block_cache in zip(reversed(self.blocks), reversed(cache["blocks"])):
            d = block.backward(d, block_cache)
        self.embedding.backward(d, cache["embedding"])

    def loss_and_gradients(self, tokens, targets):
        """Return each member's mean cross-entropy, the forward cache, and fill the gradients.

        Returns
        -------
        loss : numpy.ndarray, shape (K,)
        cache : dict
            As returned by :meth:`forward`.
        """
        self.zero_grad()
        logits, cache = self.forward(tokens)
        loss, dlogits = softmax_cross_entropy(logits, targets)
        self.backward(dlogits, cache)
        return loss, cache

    def loss(self, tokens, targets):
        """Return each member's mean cross-entropy without computing gradients."""
        logits, _ = self.forward(tokens)
        loss, _ = softmax_cross_entropy(logits, targets)
        return loss
