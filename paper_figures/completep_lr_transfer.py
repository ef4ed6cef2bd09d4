"""Figure ``completep-lr-transfer``: depth-wise transfer of the base learning rate.

See :mod:`paper_figures.depth_transfer`, which draws both transfer figures.
"""

from paper_figures import depth_transfer

AXIS = "lr"


def compute(scale, base_seed, cache):
    """Return the figure's data; see :func:`paper_figures.depth_transfer.compute`."""
    return depth_transfer.compute(AXIS, scale, base_seed, cache)


def draw(data):
    """Draw the figure from its data; see :func:`paper_figures.depth_transfer.draw`."""
    return depth_transfer.draw(data)
