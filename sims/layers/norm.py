"""LayerNorm and RMSNorm over the last axis, with a gain and (LayerNorm only) a bias."""

import numpy as np

from sims.layers.base import Layer
from sims.parameters import Parameter


def _broadcast(vector, ndim):
    return vector.reshape((vector.shape[0],) + (1,) * (ndim - 2) + (vector.shape[-1],))


class LayerNorm(Layer):
    """``y = g * (x - mean(x)) / sqrt(var(x) + eps) + b`` (Ba, Kiros and Hinton 2016).

    ``eps`` keeps a zero-variance input finite: it maps to ``b``.

    Parameters
    ----------
    name : str
    width : int
    group : str
        Table group of gain and bias (``"pre_ln"`` or ``"final_ln"``). The gain starts
        at one and the bias at zero.
    eps : float
    """

    def __init__(self, name, width, group, eps=1e-5):
        self.gain = Parameter(f"{name}.gain", group, (width,), init="ones")
        self.bias = Parameter(f"{name}.bias", group, (width,), init="zeros")
        self.eps = float(eps)

    def own_parameters(self):
        return [self.gain, self.bias]

    def forward(self, x):
        centred = x - x.mean(axis=-1, keepdims=True)
        inverse_std = 1.0 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + self.eps)
        normalized = centred * inverse_std
        y = normalized * _broadcast(self.gain.value, x.ndim) + _broadcast(self.bias.value, x.ndim)
        return y, (normalized, inverse_std)

    def backward(self, dy, cache):
        normalized, inverse_std = cache
        reduce_axes = tuple(range(1, dy.ndim - 1))
        if self.gain.trainable:
            self.gain.accumulate((dy * normalized).sum(axis=reduce_axes))
        if self.bias.trainable:
            self.bias.accumulate(dy.sum(axis=reduce_axes))
        d_normalized = dy * _broadcast(self.gain.value, dy.ndim)
        return self._normalize_tangent(d_normalized, normalized, inverse_std)

    def jvp(self, dx, tangents, cache):
        normalized, inverse_std = cache
        dy = None
        if dx is not None:
            d_normalized = self._normalize_tangent(dx, normalized, inverse_std)
            dy = d_normalized * _broadcast(self.gain.value, dx.ndim)
        if self.gain in tangents:
            term = normalized * _broadcast(tangents[self.gain], normalized.ndim)
            dy = term if dy is None else dy + term
        if self.bias in tangents:
            term = np.broadcast_to(_broadcast(tangents[self.bias], normalized.ndim), normalized.shape)
            dy = term.copy() if dy is None else dy + term
        return dy

    @staticmethod
    def _normalize_tangent(d, normalized, inverse_std):
        # The Jacobian of (x - mean) / std is symmetric, so one formula serves the
        # backward pass (on d_normalized) and the forward-mode derivative (on dx).
        mean_d = d.mean(axis=-1, keepdims=True)
        mean_dn = (d * normalized).mean(axis=-1, keepdims=True)
        return inverse_std * (d - mean_d - normalized * mean_dn)


class RMSNorm(Layer):
    """``y = g * x / sqrt(mean(x**2) + eps)`` (Zhang and Sennrich 2019); the gain starts at one."""

    def __init__(self, name, width, group, eps=1e-5):
        self.gain = Parameter(f"{name}.gain", group, (width,), init="ones")
        self.eps = float(eps)

    def own_parameters(self):
        return [self.gain]

    def forward(self, x):
        inverse_rms = 1.0 / np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.eps)
        normalized = x * inverse_rms
        return normalized * _broadcast(self.gain.value, x.ndim), (normalized, inverse_rms)

    def backward(self, dy, cache):
        normalized, inverse_rms = cache
        if self.gain.trainable:
            self.gain.accumulate((dy * normalized).sum(axis=tuple(range(1, dy.ndim - 1))))
        d_normalized = dy * _broadcast(self.gain.value, dy.ndim)
        return self._normalize_tangent(d_normalized, normalized, inverse_rms)

    def jvp(self, dx, tangents, cache):
        normalized, inverse_rms = cache
        dy = None
        if dx is not None:
            dy = self._normalize_tangent(dx, normalized, inverse_rms) * _broadcast(self.gain.value, dx.ndim)
        if self.gain in tangents:
            term = normalized * _broadcast(tangents[self.gain], normalized.ndim)
            dy = term if dy is None else dy + term
        return dy

    @staticmethod
    def _normalize_tangent(d, normalized, inverse_rms):
        return inverse_rms * (d - normalized * (d * normalized).mean(axis=-1, keepdims=True))


NORMS = {"layernorm": LayerNorm, "rmsnorm": RMSNorm}
