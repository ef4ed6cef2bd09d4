"""Models composed from :mod:`sims.layers`."""

from sims.models.residual_mlp import ResidualMLP, ResidualMLPShape
from sims.models.transformer import Transformer, TransformerShape

__all__ = ["ResidualMLP", "ResidualMLPShape", "Transformer", "TransformerShape"]
