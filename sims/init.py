"""Initialization of an ensemble's parameters from per-member generators."""

import numpy as np


def initialize(parameters, scales, init_std, generators, dtype=np.float64):
    """Draw every parameter of every ensemble member.

    Member ``k`` draws its standard normal entries from ``generators[k]`` in the order of
    ``parameters``, in float64 whatever ``dtype`` is, and scales them by
    ``init_std[k] * scales.groups[group].init_std * parameter.init_multiplier``, or by
    ``parameter.fixed_std`` where that is set. Members
    with the same generator state therefore start from the same draws whatever their init
    std and dtype, which is what lets the points of a hyperparameter grid share their
    initial weights.

    Parameters
    ----------
    parameters : list of sims.parameters.Parameter
    scales : sims.hyperparameters.ShapeScales
    init_std : array_like, shape (K,)
        Base init std ``sigma_base`` of each member.
    generators : list of numpy.random.Generator
        One per member.
    dtype : numpy dtype
    """
    init_std = np.asarray(init_std, dtype=np.float64)
    members = len(generators)
    if init_std.shape != (members,):
        raise ValueError(f"init_std has shape {init_std.shape}; expected ({members},), one per member")
    if np.any(~np.isfinite(init_std)) or np.any(init_std < 0):
        raise ValueError(f"init_std must be finite and non-negative, got {init_std.tolist()}")

    for parameter in parameters:
        value = np.empty((members,) + parameter.shape, dtype=dtype)
        if parameter.init == "zeros":
            value[...] = 0.0
        elif parameter.init == "ones":
            value[...] = 1.0
        else:
            # Multiplying by an init_multiplier of 1.0 is exact, so parameters without one
            # draw the same values as before the multiplier existed.
            group_std = scales.groups[parameter.group].init_std * parameter.init_multiplier
            for k, generator in enumerate(generators):
                draw = generator.standard_normal(parameter.shape)
                if parameter.fixed_std is None:
                    value[k] = draw * (init_std[k] * group_std)
                else:
                    value[k] = draw * parameter.fixed_std
        parameter.value = value
        parameter.grad = None
