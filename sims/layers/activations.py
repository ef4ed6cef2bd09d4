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
