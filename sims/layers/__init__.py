"""Layers with explicit forward, backward and forward-mode derivative passes."""

from sims.layers.activations import (
    ACTIVATIONS, GELU, ReLU, ShapedLeakyReLU, Tanh, make_activation,
)
from sims.layers.base import Layer, Sequential
from sims.layers.attention import (
    CausalSelfAttention, FixedAttention, ShapedAttention, SoftmaxAttention,
)
from sims.layers.embedding import Embedding, PositionEmbedding, TiedUnembedding
from sims.layers.linear import Linear
from sims.layers.loss import masked_softmax_cross_entropy, softmax_cross_entropy
from sims.layers.norm import NORMS, LayerNorm, RMSNorm
from sims.layers.residual import ResidualBlock

__all__ = [
    "ACTIVATIONS", "GELU", "NORMS", "CausalSelfAttention", "Embedding", "FixedAttention", "Layer",
    "LayerNorm", "Linear", "PositionEmbedding", "RMSNorm", "ReLU", "ResidualBlock", "Sequential",
    "ShapedAttention", "ShapedLeakyReLU", "SoftmaxAttention", "Tanh", "TiedUnembedding",
    "make_activation", "masked_softmax_cross_entropy", "softmax_cross_entropy",
]

