"""Dense layers: ``y = multiplier * (x @ W) + b`` for each ensemble member."""

import numpy as np

from sims.layers.base import Layer
from sims.parameters import Parameter


def _as_matrix(x):
    """View ``(K, ..., n)`` as ``(K, rows, n)`` so that one batched matmul serves any shape."""
    return x.reshape(x.shape[0], -1, x.shape[-1])


class Linear(Layer):
    """A dense layer with an optional bias and a constant forward multiplier.

    Parameters
    ----------
    name : str
        Prefix of the parameter names.
    fan_in, fan_out : int
    weight_group : str
        Table group of the weight, e.g. ``"hidden_weight"`` or ``"unembedding"``.
    bias_group : str or None
        Table group of the bias; ``None`` for no bias. Biases start at zero.
    multiplier : float
        Constant factor on ``x @ W``, e.g. the unembedding forward multiplier ``1 / m_N``.
        The bias is added after it.
    """

    def __init__(self, name, fan_in, fan_out, weight_group, bias_group=None, multiplier=1.0):
        self.weight = Parameter(f"{name}.weight", weight_group, (fan_in, fan_out))
        self.bias = None
        if bias_group is not None:
            self.bias = Parameter(f"{name}.bias", bias_group, (fan_out,), init="zeros")
        self.multiplier = float(multiplier)

    def own_parameters(self):
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def forward(self, x):
        y = np.matmul(_as_matrix(x), self.weight.value)
        if self.multiplier != 1.0:
            y *= self.multiplier
        y = y.reshape(x.shape[:-1] + (y.shape[-1],))
        if self.bias is not None:
            y += self._broadcast_bias(self.bias.value, y.ndim)
        return y, x

    def backward(self, dy, cache):
        x = cache
        dy_matrix = _as_matrix(dy)
        if self.weight.trainable:
            grad_weight = np.matmul(_as_matrix(x).transpose(0, 2, 1), dy_matrix)
            if self.multiplier != 1.0:
                grad_weight *= self.multiplier
            self.weight.accumulate(grad_weight)
        if self.bias is not None and self.bias.trainable:
            self.bias.accumulate(dy_matrix.sum(axis=1))
        dx = np.matmul(dy_matrix, self.weight.value.transpose(0, 2, 1))
        if self.multiplier != 1.0:
            dx *= self.multiplier
        return dx.reshape(x.shape)

    def jvp(self, dx, tangents, cache):
        x = cache
        dy = None
        if dx is not None:
            dy = np.matmul(_as_matrix(dx), self.weight.value)
        if self.weight in tangents:
            term = np.matmul(_as_matrix(x), tangents[self.weight])
            dy = term if dy is None else dy + term
        if dy is not None:
            dy *= self.multiplier
            dy = dy.reshape(x.shape[:-1] + (dy.shape[-1],))
        if self.bias is not None and self.bias in tangents:
            term = self._broadcast_bias(tangents[self.bias], x.ndim)
            if dy is None:
                dy = np.broadcast_to(term, x.shape[:-1] + (term.shape[-1],)).copy()
            else:
                dy = dy + term
        return dy

    @staticmethod
    def _broadcast_bias(bias, ndim):
        return bias.reshape((bias.shape[0],) + (1,) * (ndim - 2) + (bias.shape[-1],))
