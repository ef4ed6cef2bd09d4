"""The three run scales shared by figures and claims.

* ``smoke``: seconds per figure or claim, for end-to-end tests;
* ``quick``: a faithful small version that shows each effect on a laptop (the default);
* ``paper``: the paper's grid as far as one machine's memory allows.
"""

SCALES = ("smoke", "quick", "paper")
DEFAULT_SCALE = "quick"


def check_scale(scale):
    """Return ``scale`` or raise ``ValueError`` naming the valid scales."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    return scale
