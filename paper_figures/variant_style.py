"""Names and colours of the transformer variants, shared by the figures that compare them."""

from sims.variants import VARIANT_LABELS

VARIANT_COLOURS = {"standard": "C0", "frozen_qk": "C1", "frozen_mlp": "C2", "mixit": "C3",
                   "embedding_only": "C7"}
"""Colour of each variant in every figure."""


def variant_style(name):
    """Return the display name and colour of variant ``name``; other names stay as given, in grey."""
    return VARIANT_LABELS.get(name, name), VARIANT_COLOURS.get(name, "0.5")
