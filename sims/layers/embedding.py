"""Read-in of token indices: a sum of rows of one embedding matrix."""

import numpy as np

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

    def _rows(self, tokens):
        offsets = np.arange(self.positions) * self.vocab_size
        return tokens + offsets

    def forward(self, tokens):
        if tokens.shape[-1] != self.positions:
            raise ValueError(f"expected {self.positions} tokens per example, got {tokens.shape[-1]}")
        rows = self._rows(tokens)
        members = np.arange(tokens.shape[0]).reshape((-1,) + (1,) * (tokens.ndim - 1))
        y = self.weight.value[members, rows].sum(axis=-2)
        return y, rows

    def backward(self, dy, cache):
        rows = cache
        if self.weight.trainable:
            # The gradient is (multi-hot codes)^T @ dy; a dense multi-hot matrix lets one
            # batched matmul do the scatter-add over repeated tokens.
            members = dy.shape[0]
            rows = rows.reshape(members, -1, self.positions)
            dy = dy.reshape(members, -1, dy.shape[-1])
            codes = np.zeros((members, rows.shape[1], self.weight.shape[0]), dtype=dy.dtype)
            member_index = np.arange(members)[:, None, None]
            example_index = np.arange(rows.shape[1])[None, :, None]
            codes[member_index, example_index, rows] = 1.0
            self.weight.accumulate(np.matmul(codes.transpose(0, 2, 1), dy))
        return None

    def jvp(self, dx, tangents, cache):
        if self.weight not in tangents:
            return None
        rows = cache
        tangent = tangents[self.weight]
        members = np.arange(rows.shape[0]).reshape((-1,) + (1,) * (rows.ndim - 1))
        return tangent[members, rows].sum(axis=-2)
