"""Models composed from :mod:`sims.layers`."""

from sims.models.residual_mlp import ResidualMLP, ResidualMLPShape

__all__ = ["ResidualMLP", "ResidualMLPShape"]
