"""Random draws for an ensemble: one generator for all members, or one generator per member.

Monte Carlo over independent networks spends most of its time drawing random numbers, so
the draws go into large arrays with a leading member axis ``K``. Every function here takes
``generator`` in one of two forms:

* a single ``numpy.random.Generator``. The whole ``(K, ...)`` array comes from it in one
  call, which is the fastest way to draw.
* a list or tuple of ``K`` generators. Member ``k`` draws its slice from ``generator[k]``,
  so an ensemble gives each member the same draws as a separate run with that generator.

Draws are made directly in the requested dtype (``float32`` or ``float64``, the two that
``numpy.random.Generator`` supports), not drawn in float64 and cast.
"""

import numpy as np

DRAW_DTYPES = (np.float32, np.float64)


def per_member(generator):
    """Return whether ``generator`` is a sequence of one generator per member."""
    return isinstance(generator, (list, tuple))


def check_generator(generator, members):
    """Raise ``ValueError`` unless ``generator`` serves ``members`` members.

    A single generator serves any number of members. A sequence must have exactly one
    generator per member.
    """
    if per_member(generator):
        if len(generator) != members:
            raise ValueError(f"got {len(generator)} generators for {members} members; "
                             f"pass one generator per member or a single generator")
    elif not hasattr(generator, "standard_normal"):
        raise ValueError(f"generator must be a numpy.random.Generator or a list of them, "
                         f"got {type(generator).__name__}")


def member_slice(generator, start, stop):
    """Return the generators of members ``start ... stop - 1``.

    A single generator is returned unchanged, because it serves consecutive slices in
    turn: drawing ``(a, ...)`` and then ``(b, ...)`` gives the same numbers as drawing
    ``(a + b, ...)`` at once.
    """
    if per_member(generator):
        return generator[start:stop]
    return generator


def _check_dtype(dtype):
    dtype = np.dtype(dtype).type
    if dtype not in DRAW_DTYPES:
        raise ValueError(f"draws must be float32 or float64, got {np.dtype(dtype).name}")
    return dtype


def standard_normal(generator, shape, dtype=np.float64, out=None):
    """Draw an array of standard normal numbers whose first axis is the member axis.

    Parameters
    ----------
    generator : numpy.random.Generator or sequence of them
        See the module docstring. A sequence must have ``shape[0]`` generators.
    shape : tuple of int
        ``(K, ...)``.
    dtype : {numpy.float64, numpy.float32}
    out : numpy.ndarray, optional
        C-contiguous array of ``shape`` and ``dtype`` to fill in place.

    Returns
    -------
    numpy.ndarray
        ``out`` if given, else a new array.
    """
    dtype = _check_dtype(dtype)
    shape = tuple(shape)
    check_generator(generator, shape[0])
    if out is None:
        out = np.empty(shape, dtype=dtype)
    if per_member(generator):
        for member, member_generator in enumerate(generator):
            member_generator.standard_normal((1,) + shape[1:], dtype=dtype,
                                             out=out[member:member + 1])
    else:
        generator.standard_normal(shape, dtype=dtype, out=out)
    return out


def uniform(generator, shape, dtype=np.float64):
    """Draw an array of uniform numbers on ``[0, 1)`` whose first axis is the member axis.

    ``generator`` is as in :func:`standard_normal`.
    """
    dtype = _check_dtype(dtype)
    shape = tuple(shape)
    check_generator(generator, shape[0])
    out = np.empty(shape, dtype=dtype)
    if per_member(generator):
        for member, member_generator in enumerate(generator):
            member_generator.random((1,) + shape[1:], dtype=dtype, out=out[member:member + 1])
    else:
        generator.random(shape, dtype=dtype, out=out)
    return out
