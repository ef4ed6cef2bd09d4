"""Embeddings: token read-in, learned positions and the tied unembedding."""

import numpy as np
from scipy import sparse

from sims.layers.base import Layer
from sims.parameters import Parameter


class Embedding(Layer):
    """Map ``P`` token indices per example to ``sum_j E[j * V + x_j]``.

    This is the read-in matrix ``E`` of shape ``(P * V, N)`` applied to the concatenated
    one-hot codes of ``P`` tokens from a vocabulary of ``V``; with ``P = 1`` it is an
    ordinary token embedding. The input holds integer indices of shape ``(K, B, P)``.

    Parameters
    ----------
    name : str
    vocab_size : int
        ``V``.
    positions : int
        ``P``, the number of tokens read per example.
    width : int
        ``N``.
    group : str
        Table group; ``"embedding"`` in Table 1.
    """

    def __init__(self, name, vocab_size, positions, width, group="embedding"):
        self.vocab_size = int(vocab_size)
        self.positions = int(positions)
        self.weight = Parameter(f"{name}.weight", group, (positions * vocab_size, width))

    def own_parameters(self):
        return [self.weight]

    def _codes(self, tokens):
        """Return the multi-hot codes of all members as one sparse block-diagonal matrix.

        Row ``k * B + b`` contains a 1 in column ``k * P * V + j * V + x_j`` for each position
        ``j`` of example ``b`` of member ``k``, so ``codes @ E`` stacks every member's
        read-in and ``codes.T @ dy`` every member's gradient. The columns of each row
        ascend with ``j``, so both products add their terms in the order of positions
        and of examples, as a dense sum or matrix product would.
        """
        members, positions = tokens.shape[0], self.positions
        table_rows = positions * self.vocab_size
        columns = (tokens.reshape(members, -1, positions)
                   + np.arange(positions) * self.vocab_size
                   + (np.arange(members) * table_rows)[:, None, None])
        examples = columns.shape[1]
        row_starts = np.arange(0, columns.size + 1, positions)
        return sparse.csr_array(
            (np.ones(columns.size, dtype=self.weight.value.dtype), columns.reshape(-1), row_starts),
            shape=(members * examples, members * table_rows),
        )

    def _apply_codes(self, codes, table, shape):
        """Return ``sum_j table[k, j * V + x_j]`` for every example, with the input's batch shape."""
        members, table_rows, width = table.shape
        return (codes @ table.reshape(members * table_rows, width)).reshape(shape + (width,))

    def forward(self, tokens):
        if tokens.shape[-1] != self.positions:
            raise ValueError(f"expected {self.positions} tokens per example, got {tokens.shape[-1]}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}), got ids from "
                             f"{tokens.min()} to {tokens.max()}")
        codes = self._codes(tokens)
        batch_shape = tokens.shape[:-1]
        return self._apply_codes(codes, self.weight.value, batch_shape), (codes, batch_shape)

    def backward(self, dy, cache):
        codes, _ = cache
        if self.weight.trainable:
            # The gradient is codes^T @ dy: one sparse product does the scatter-add over
            # repeated tokens, in the dtype of dy.
            members, width = dy.shape[0], dy.shape[-1]
            gradient = codes.T @ dy.reshape(-1, width)
            self.weight.accumulate(gradient.reshape(members, self.weight.shape[0], width))
        return None

    def jvp(self, dx, tangents, cache):
        if self.weight not in tangents:
            return None
        codes, batch_shape = cache
        return self._apply_codes(codes, tangents[self.weight], batch_shape)


class PositionEmbedding(Layer):
    """Add a learned vector per position: ``y[..., t, :] = x[..., t, :] + P[t]``.

    ``P`` has shape ``(T, N)``. An input of length ``t <= T`` uses its first ``t`` rows.

    Parameters
    ----------
    name : str
    seq_len : int
        ``T``.
    width : int
        ``N``.
    group : str
        Table group; ``"embedding"`` in the CompleteP reference implementation.
    """

    def __init__(self, name, seq_len, width, group="embedding"):
        self.weight = Parameter(f"{name}.weight", group, (seq_len, width))

    def own_parameters(self):
        return [self.weight]

    def _rows(self, rows, ndim):
        # Shape (K, 1, ..., 1, t, N): one singleton axis per batch axis of the input.
        return rows.reshape(rows.shape[:1] + (1,) * (ndim - 3) + rows.shape[1:])

    def forward(self, x):
        length = x.shape[-2]
        return x + self._rows(self.weight.value[:, :length], x.ndim), x.shape

    def backward(self, dy, cache):
        if self.weight.trainable:
            length = dy.shape[-2]
            batch_axes = tuple(range(1, dy.ndim - 2))
            grad = np.zeros_like(self.weight.value)
            grad[:, :length] = dy.sum(axis=batch_axes)
            self.weight.accumulate(grad)
        return dy

    def jvp(self, dx, tangents, cache):
        shape = cache
        if self.weight not in tangents:
            return dx
        term = self._rows(tangents[self.weight][:, :shape[-2]], len(shape))
        if dx is None:
            return np.broadcast_to(term, shape).copy()
        return dx + term


class TiedUnembedding(Layer):
    """Logits from the token-embedding matrix: ``y = multiplier * x E^T``.

    ``E`` of shape ``(V, N)`` belongs to the token embedding. This layer lists no
    parameters of its own, so the model lists ``E`` once, and its backward pass adds its
    gradient to the one that the embedding's backward pass adds.

    Parameters
    ----------
    weight : sims.parameters.Parameter
        The token embedding's matrix ``E``.
    multiplier : float
        Logit multiplier, e.g. ``1 / m_N``.
    """

    def __init__(self, weight, multiplier=1.0):
        self.weight = weight
        self.multiplier = float(multiplier)

    def forward(self, x):
        x_matrix = x.reshape(x.shape[0], -1, x.shape[-1])
        y = np.matmul(x_matrix, np.swapaxes(self.weight.value, -1, -2))
        y *= self.multiplier
        return y.reshape(x.shape[:-1] + (y.shape[-1],)), x

    def backward(self, dy, cache):
        x = cache
        x_matrix = x.reshape(x.shape[0], -1, x.shape[-1])
        dy_matrix = dy.reshape(dy.shape[0], -1, dy.shape[-1])
        if self.weight.trainable:
            grad = np.matmul(np.swapaxes(dy_matrix, -1, -2), x_matrix)
            grad *= self.multiplier
            self.weight.accumulate(grad)
        dx = np.matmul(dy_matrix, self.weight.value)
        dx *= self.multiplier
        return dx.reshape(x.shape)

    def jvp(self, dx, tangents, cache):
        x = cache
        dy = None
        if dx is not None:
            dy = np.matmul(dx.reshape(x.shape[0], -1, x.shape[-1]),
                           np.swapaxes(self.weight.value, -1, -2))
        if self.weight in tangents:
            term = np.matmul(x.reshape(x.shape[0], -1, x.shape[-1]),
                             np.swapaxes(tangents[self.weight], -1, -2))
            dy = term if dy is None else dy + term
        if dy is None:
            return None
        dy *= self.multiplier
        return dy.reshape(x.shape[:-1] + (dy.shape[-1],))
