"""Causal multi-head self-attention with a replaceable attention pattern.

Self-attention splits into two parts. The *attention pattern* maps the input ``x`` of
shape ``(K, B, T, N)`` to one causal ``T x T`` matrix ``A`` per head, of shape
``(K, B, H, T, T)``. Under softmax each row of ``A`` is a probability distribution. The
*value path* mixes the heads' values with it and projects back,
``y = concat_h(A_h (x W_V)_h) W_O`` (Vaswani et al. 2017, Eq. 1 and the multi-head
equation of Section 3.2.2). Only the pattern differs between softmax attention
with trained queries and keys, the same with frozen ones (Frozen-QK), and fixed random
mixing (MixiT; Dong, Noci, Khodak and Li 2025, arXiv 2506.01115), so each is an
:class:`AttentionPattern` that :class:`CausalSelfAttention` takes as a component.
"""

import math

import numpy as np

from sims.layers.base import Layer
from sims.layers.linear import Linear

ATTENTION_SCALES = ("mup", "sp")
"""Names of the logit scales that :func:`attention_scale` computes."""


def attention_scale(name, head_width):
    """Return the logit scale ``1 / n_h`` (``"mup"``) or ``1 / sqrt(n_h)`` (``"sp"``).

    ``1 / sqrt(n_h)`` is the scaled dot product of Vaswani et al. 2017 (Section 3.2.1).
    muP uses ``1 / n_h`` instead: training correlates queries with keys, so ``q . k``
    grows like ``n_h`` rather than ``sqrt(n_h)``, and ``1 / n_h`` keeps the logits of
    order one at any width (Yang et al. 2022, "Tensor Programs V", arXiv 2203.03466).
    The CompleteP reference implementation (EleutherAI/nanoGPT-mup, branch ``completep``, ``model.py``) uses
    ``1 / n_h`` whenever muP is on, the alpha family included, and ``1 / sqrt(n_h)``
    otherwise.

    Raises
    ------
    ValueError
        If ``name`` is not one of ``ATTENTION_SCALES``.
    """
    if name == "mup":
        return 1.0 / head_width
    if name == "sp":
        return 1.0 / math.sqrt(head_width)
    raise ValueError(f"unknown attention scale {name!r}; valid: {', '.join(ATTENTION_SCALES)}")


def check_heads(width, heads):
    """Return the head width ``n_h = N / H``.

    Raises
    ------
    ValueError
        If ``H`` does not divide ``N``.
    """
    if width % heads != 0:
        raise ValueError(f"width {width} is not divisible by the number of heads {heads}; "
                         f"choose heads among the divisors of the width")
    return width // heads


def split_heads(x, heads):
    """Reshape ``(..., T, N)`` to ``(..., H, T, n_h)``.

    Head ``h`` gets the columns ``h n_h ... (h + 1) n_h - 1``.
    """
    head_width = x.shape[-1] // heads
    return np.swapaxes(x.reshape(x.shape[:-1] + (heads, head_width)), -2, -3)


def merge_heads(x):
    """Invert :func:`split_heads`: ``(..., H, T, n_h)`` to ``(..., T, H n_h)``."""
    x = np.swapaxes(x, -2, -3)
    return x.reshape(x.shape[:-2] + (x.shape[-2] * x.shape[-1],))


class AttentionPattern(Layer):
    """The part of self-attention that produces the attention matrices.

    ``forward(x) -> (A, cache)`` maps the input of shape ``(K, B, T, N)`` to ``A``, whose
    shape is ``(K, B, H, T, T)`` or broadcasts to it (for instance ``(1, 1, H, T, T)`` for
    a pattern that ignores the input). Row ``i`` of each head contains the weights that
    position ``i`` gives to positions ``0 ... i``, and entries above the diagonal are zero.
    ``backward(dA, cache)`` returns the input gradient, or ``None`` when ``A`` does not
    depend on the input, and ``jvp`` returns the tangent of ``A`` or ``None`` when it is
    zero.

    Attributes
    ----------
    heads : int
        ``H``, the number of heads.
    depends_on_input : bool
        Whether ``A`` is a function of ``x``. With no input dependence and no trainable
        parameter, :class:`CausalSelfAttention` skips the gradient with respect to ``A``.
    """

    depends_on_input = True

    def needs_backward(self):
        """Return whether :meth:`backward` has any gradient to compute."""
        return self.depends_on_input or any(p.trainable for p in self.parameters())


class SoftmaxAttention(AttentionPattern):
    """Causal softmax attention: ``A_h = softmax(scale * q_h k_h^T + M)``.

    ``q = x W_Q + b_Q`` and ``k = x W_K + b_K`` (Vaswani et al. 2017, Section 3.2), split
    into ``H`` heads of width ``n_h``. The causal mask ``M`` is ``-inf`` above the
    diagonal and zero elsewhere. The softmax subtracts each row's maximum before
    exponentiating, so large logits do not overflow. Freezing the query and key weights
    (``trainable = False``; Frozen-QK, Dong et al. 2025) keeps ``A`` input-dependent, so
    the input gradient still flows through it, but their weight gradients are skipped.

    Parameters
    ----------
    name : str
        Prefix of the parameter names: ``{name}.query.weight`` and ``{name}.key.weight``.
    width : int
        ``N``.
    heads : int
        ``H``; it must divide ``N``.
    scale : float
        Logit scale, e.g. from :func:`attention_scale`.
    bias_group : str or None
        Table group of the query and key biases; ``None`` for no biases.
    weight_group : str
        Table group of the query and key weights.
    """

    def __init__(self, name, width, heads, scale, bias_group=None, weight_group="hidden_weight"):
        check_heads(width, heads)
        self.heads = int(heads)
        self.scale = float(scale)
        self.query = Linear(f"{name}.query", width, width, weight_group, bias_group)
        self.key = Linear(f"{name}.key", width, width, weight_group, bias_group)

    def children(self):
        return [self.query, self.key]

    def forward(self, x):
        q, query_cache = self.query.forward(x)
        k, key_cache = self.key.forward(x)
        q_heads = split_heads(q, self.heads)
        k_heads = split_heads(k, self.heads)

        logits = np.matmul(q_heads, np.swapaxes(k_heads, -1, -2))
        logits *= self.scale
        length = x.shape[-2]
        causal = np.tril(np.ones((length, length), dtype=bool))
        logits = np.where(causal, logits, -np.inf)

        # The diagonal is never masked, so a row maximum is finite unless the member's
        # logits are not. After the shift, exp maps the masked entries to exact zeros.
        logits -= logits.max(axis=-1, keepdims=True)
        probabilities = np.exp(logits, out=logits)
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        return probabilities, (probabilities, q_heads, k_heads, query_cache, key_cache)

    def backward(self, d_probabilities, cache):
        probabilities, q_heads, k_heads, query_cache, key_cache = cache

        # Softmax Jacobian: dS = A * (dA - rowsum(dA * A)). Masked entries have A = 0,
        # so their logit gradient is zero.
        d_logits = d_probabilities * probabilities
        d_logits -= probabilities * d_logits.sum(axis=-1, keepdims=True)
        d_logits *= self.scale

        dq = merge_heads(np.matmul(d_logits, k_heads))
        dk = merge_heads(np.matmul(np.swapaxes(d_logits, -1, -2), q_heads))
        dx = self.query.backward(dq, query_cache)
        dx += self.key.backward(dk, key_cache)
        return dx

    def jvp(self, dx, tangents, cache):
        probabilities, q_heads, k_heads, query_cache, key_cache = cache
        dq = self.query.jvp(dx, tangents, query_cache)
        dk = self.key.jvp(dx, tangents, key_cache)
        if dq is None and dk is None:
            return None

        # d(q k^T) = dq k^T + q dk^T.
        d_logits = None
        if dq is not None:
            d_logits = np.matmul(split_heads(dq, self.heads), np.swapaxes(k_heads, -1, -2))
        if dk is not None:
            term = np.matmul(q_heads, np.swapaxes(split_heads(dk, self.heads), -1, -2))
            d_logits = term if d_logits is None else d_logits + term
        d_logits *= self.scale

        # The softmax Jacobian is symmetric, so the formula of the backward pass applies.
        d_probabilities = d_logits * probabilities
        d_probabilities -= probabilities * d_probabilities.sum(axis=-1, keepdims=True)
        return d_probabilities


def shaped_attention_scale(width, key_width, tau0=1.0):
    """Return the logit scale ``1 / tau`` of shaped attention, ``tau = tau0 sqrt(n n_k)``.

    Shaped attention (Noci et al. 2023, "The shaped transformer", arXiv 2306.17759) scales
    the logits by a width-dependent temperature. With query and key weights of variance
    ``1 / n``, the logits ``q . k / tau`` are of order ``1 / sqrt(n)``, so the softmax
    stays close to uniform. ``n`` is the width and ``n_k`` the width of a head's queries
    and keys.

    NOTE: this form of ``tau`` and the ``1 / n`` weight variance were not checked against
    the equations of Noci et al., whose abstract states only that the temperature depends
    on the width.
    """
    if not math.isfinite(tau0) or tau0 <= 0:
        raise ValueError(f"tau0 must be positive and finite, got {tau0!r}")
    return 1.0 / (tau0 * math.sqrt(width * key_width))


def causal_uniform_matrix(length, dtype=np.float64):
    """Return the causal averaging matrix ``U``: ``U[i, j] = 1 / (i + 1)`` for ``j <= i``."""
    support = np.arange(1, length + 1, dtype=dtype)
    return np.tril(np.ones((length, length), dtype=dtype)) / support[:, None]


class ShapedAttention(SoftmaxAttention):
    """Causal shaped attention: ``A_h = I + softmax(scale * q_h k_h^T + M) - U``.

    Noci et al. 2023 ("The shaped transformer", arXiv 2306.17759) centre the softmax at
    the identity: ``U`` is the uniform causal average (:func:`causal_uniform_matrix`), the
    softmax's value at zero logits, so ``A = I`` when the logits vanish. Every row of
    ``A`` sums to one, and its entries can be negative. With ``scale`` from
    :func:`shaped_attention_scale` the logits are small at initialization and ``A`` is
    ``I`` plus a fluctuation of order ``1 / sqrt(n)``. ``I - U`` does not depend on the
    input, so the derivatives are those of :class:`SoftmaxAttention`.

    Parameters are those of :class:`SoftmaxAttention`.
    """

    def forward(self, x):
        probabilities, cache = super().forward(x)
        length = x.shape[-2]
        offset = np.eye(length, dtype=probabilities.dtype)
        offset -= causal_uniform_matrix(length, probabilities.dtype)
        # A new array: the cache keeps the softmax probabilities for the backward pass.
        return probabilities + offset, cache


class FixedAttention(AttentionPattern):
    """A constant causal attention matrix per head, such as MixiT's random mixing matrix.

    The pattern ignores its input and has no parameters, so :class:`CausalSelfAttention`
    skips the gradient with respect to it. For an input of length ``t`` it uses the leading ``t x t`` block of each
    matrix. Because the matrices are causal, position ``i``'s output depends only on
    positions up to ``i`` at any length.

    Parameters
    ----------
    matrices : numpy.ndarray, shape (H, T, T) or (K, H, T, T)
        One matrix per head, shared by the ensemble or one set per member. Entries above
        the diagonal must be zero. Rows need not sum to one.
    """

    depends_on_input = False

    def __init__(self, matrices):
        matrices = np.asarray(matrices)
        if matrices.ndim not in (3, 4) or matrices.shape[-1] != matrices.shape[-2]:
            raise ValueError(f"matrices must have shape (H, T, T) or (K, H, T, T), "
                             f"got {matrices.shape}")
        upper = np.triu(np.ones(matrices.shape[-2:], dtype=bool), k=1)
        if np.any(matrices[..., upper] != 0):
            raise ValueError("matrices must be causal: every entry above the diagonal must be zero")
        self.matrices = matrices
        self.heads = matrices.shape[-3]

    def forward(self, x):
        length = x.shape[-2]
        if length > self.matrices.shape[-1]:
            raise ValueError(f"input length {length} exceeds the matrices' length "
                             f"{self.matrices.shape[-1]}")
        block = self.matrices[..., :length, :length].astype(x.dtype, copy=False)

        # Insert singleton axes for the batch axes of x, between the ensemble axis and H.
        batch_axes = x.ndim - 3
        if block.ndim == 3:
            block = block.reshape((1,) * (batch_axes + 1) + block.shape)
        else:
            block = block.reshape(block.shape[:1] + (1,) * batch_axes + block.shape[1:])
        return block, None

    def backward(self, d_pattern, cache):
        return None

    def jvp(self, dx, tangents, cache):
        return None


class CausalSelfAttention(Layer):
    """Multi-head self-attention ``y = concat_h(A_h v_h) W_O + b_O`` with ``v = x W_V + b_V``.

    ``A`` comes from the ``pattern`` component (Vaswani et al. 2017, Section 3.2.2, with
    the attention matrix made replaceable). Input and output have shape ``(K, B, T, N)``.
    The value and output projections are dense ``N x N`` layers in the group
    ``hidden_weight``, with biases in ``hidden_bias`` if ``bias`` is set. The attention
    matrices ``A`` are kept in the cache for the backward pass.

    Parameters
    ----------
    name : str
        Prefix of the parameter names: ``{name}.value.weight`` and ``{name}.proj.weight``.
    width : int
        ``N``.
    pattern : AttentionPattern
        With ``H`` heads, where ``H`` divides ``N``.
    bias : bool
        Whether the value and output projections have biases.
    """

    def __init__(self, name, width, pattern, bias=False):
        self.heads = pattern.heads
        check_heads(width, self.heads)
        self.pattern = pattern
        bias_group = "hidden_bias" if bias else None
        self.value = Linear(f"{name}.value", width, width, "hidden_weight", bias_group)
        self.proj = Linear(f"{name}.proj", width, width, "hidden_weight", bias_group)

    def children(self):
        return [self.pattern, self.value, self.proj]

    def forward(self, x):
        pattern, pattern_cache = self.pattern.forward(x)
        v, value_cache = self.value.forward(x)
        v_heads = split_heads(v, self.heads)
        mixed = merge_heads(np.matmul(pattern, v_heads))
        y, proj_cache = self.proj.forward(mixed)
        return y, (pattern, pattern_cache, v_heads, value_cache, proj_cache)

    def backward(self, dy, cache):
        pattern, pattern_cache, v_heads, value_cache, proj_cache = cache
        d_mixed = split_heads(self.proj.backward(dy, proj_cache), self.heads)

        dv = np.matmul(np.swapaxes(pattern, -1, -2), d_mixed)
        dx = self.value.backward(merge_heads(dv), value_cache)

        if self.pattern.needs_backward():
            d_pattern = np.matmul(d_mixed, np.swapaxes(v_heads, -1, -2))
            dx_pattern = self.pattern.backward(d_pattern, pattern_cache)
            if dx_pattern is not None:
                dx += dx_pattern
        return dx

    def jvp(self, dx, tangents, cache):
        pattern, pattern_cache, v_heads, value_cache, proj_cache = cache
        dv = self.value.jvp(dx, tangents, value_cache)
        d_pattern = self.pattern.jvp(dx, tangents, pattern_cache)

        d_mixed = None
        if dv is not None:
            d_mixed = np.matmul(pattern, split_heads(dv, self.heads))
        if d_pattern is not None:
            term = np.matmul(d_pattern, v_heads)
            d_mixed = term if d_mixed is None else d_mixed + term
        if d_mixed is not None:
            d_mixed = merge_heads(d_mixed)
        return self.proj.jvp(d_mixed, tangents, proj_cache)
