"""Learning-rate schedules: the factor on every learning rate at each training step."""

import math

from sims.hyperparameters import check_positive_int

SCHEDULES = ("constant", "cosine")


FINAL_FRACTION = 0.1
"""Factor at the last step of the cosine schedule, as nanoGPT's minimum learning rate."""


def lr_factor(schedule, step, steps, warmup=0):
    """Return the schedule's factor at ``step`` (counted from 0) of ``steps``.

    ``"constant"``: 1 after a linear warmup. ``"cosine"``: a linear warmup over ``warmup``
    steps to 1, then ``f + (1 - f) (1 + cos(pi s)) / 2`` with ``s`` the fraction of the
    remaining steps done and ``f = FINAL_FRACTION``, which falls to ``f`` at the last step
    (Loshchilov and Hutter 2017, without restarts).

    Raises
    ------
    ValueError
        For an unknown schedule, ``steps < 1``, or ``warmup`` outside ``0 .. steps - 1``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    check_positive_int("steps", steps)
    if not 0 <= warmup < steps:
        raise ValueError(f"warmup must lie in 0 .. {steps - 1} for {steps} steps, got {warmup}")

    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    decay_steps = steps - warmup
    fraction = (step - warmup) / max(decay_steps - 1, 1)
    return FINAL_FRACTION + (1.0 - FINAL_FRACTION) * 0.5 * (1.0 + math.cos(math.pi * fraction))
