"""Pointwise activations with their derivatives.

Each activation is a layer without parameters. ``forward`` caches what the derivative
needs, and ``backward`` and ``jvp`` multiply by ``phi'(z)``.
"""

import math

import numpy as np
from scipy import special

from sims.layers.base import Layer


class PointwiseActivation(Layer):
    """An activation without parameters whose derivatives multiply by ``phi'(z)``.

    Subclasses implement ``forward(z) -> (phi(z), cache)`` and ``derivative(cache)``.
    """

    def derivative(self, cache):
        raise NotImplementedError

    def backward(self, dy, cache):
        return dy * self.derivative(cache)

    def jvp(self, dz, tangents, cache):
        if dz is None:
            return None
        return dz * self.derivative(cache)


class GELU(PointwiseActivation):
    """Exact GELU, ``phi(z) = z Phi(z)`` with ``Phi`` the standard normal CDF.

    ``phi'(z) = Phi(z) + z exp(-z**2 / 2) / sqrt(2 pi)`` (Hendrycks and Gimpel 2016).
    """

    name = "gelu"

    def forward(self, z):
        cdf = special.ndtr(z)
        return z * cdf, (z, cdf)

    def derivative(self, cache):
        z, cdf = cache
        density = np.exp(-0.5 * z * z)
        density *= 1.0 / math.sqrt(2.0 * math.pi)
        density *= z
        density += cdf
        return density


class Tanh(PointwiseActivation):
    """``phi(z) = tanh(z)``, ``phi'(z) = 1 - tanh(z)**2``."""

    name = "tanh"

    def forward(self, z):
        y = np.tanh(z)
        return y, y

    def derivative(self, cache):
        return 1.0 - cache * cache


class ReLU(PointwiseActivation):
    """``phi(z) = max(z, 0)``; the derivative at ``z = 0`` is taken as 0."""

    name = "relu"

    def forward(self, z):
        mask = z > 0
        return z * mask, mask

    def derivative(self, cache):
        return cache


class ShapedLeakyReLU(PointwiseActivation):
    """Shaped leaky ReLU: ``phi(z) = g z`` for ``z > 0`` and ``g s z`` otherwise.

    ``s = 1 + c / sqrt(n)`` is the negative slope, which is also the derivative taken at
    ``z = 0``. The negative slope
    ``s`` tends to one as the width ``n`` grows, so the activation is a perturbation of
    the identity of order ``1 / sqrt(n)`` (Li, Nica and Roy 2022, "The neural covariance
    SDE", arXiv 2206.02768). The gain ``g = sqrt(2 / (1 + s**2))`` gives
    ``E[phi(z)**2] = 1`` for ``z ~ N(0, 1)``. It is PyTorch's ``calculate_gain("leaky_relu",
    s)``, which the MixiT reference implementation (princeton-pli/MixiT,
    ``modeling_llama.py``) multiplies in. That implementation uses this activation inside a
    gated MLP, ``c_minus = -1`` by default and the hidden size as ``n``.

    Parameters
    ----------
    width : int
        ``n``.
    c_minus : float
        ``c``.
    """

    name = "shaped_leaky_relu"

    def __init__(self, width, c_minus=-1.0):
        if width < 1:
            raise ValueError(f"width must be at least 1, got {width!r}")
        self.negative_slope = 1.0 + float(c_minus) / math.sqrt(width)
        self.gain = math.sqrt(2.0 / (1.0 + self.negative_slope ** 2))

    def forward(self, z):
        slope = np.where(z > 0, self.gain, self.gain * self.negative_slope).astype(z.dtype, copy=False)
        return z * slope, slope

    def derivative(self, cache):
        return cache


ACTIVATIONS = {"gelu": GELU, "tanh": Tanh, "relu": ReLU}


def make_activation(name):
    """Return a new activation layer by name.

    Raises
    ------
    ValueError
        If ``name`` is not one of ``ACTIVATIONS``.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()
