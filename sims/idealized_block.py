"""Monte Carlo of the idealized MixiT block over many independent networks.

Each of ``K`` networks, one per member of the leading ensemble axis, maps tokens ``X`` of
shape ``(T, n)`` through ``L`` layers of

    X <- lambda X + gamma A X W / sqrt(n),    lambda**2 + gamma**2 = 1,

with a fresh MixiT mixing matrix ``A = I + D / sqrt(n)`` and a fresh value matrix ``W``
with ``N(0, 1)`` entries in every layer. ``A`` has one head of width ``n`` and
``"shaped"`` noise of multiplier ``sigma`` (:func:`sims.layers.mixing.mixit_matrices`).
There is no norm and no MLP. :mod:`sims.mixit_coefficients` gives the mean and covariance of one step
and the SDE limit that this block is compared with.

Almost all of the time goes into drawing the ``K L n**2`` entries of the value matrices.
They are drawn directly in the simulation's dtype, for a chunk of members at a time, into
one reused buffer of about ``CHUNK_ELEMENTS`` numbers, which stays in the processor's
cache while the chunk's matrix products read it.
"""

import math
from dataclasses import dataclass

import numpy as np

from sims.layers.mixing import mixit_matrices
from sims.mixit_coefficients import branch_weight
from sims.sampling import check_generator, member_slice, standard_normal
from sims.token_metrics import token_covariance

CHUNK_ELEMENTS = 2 ** 18
"""Target size, in numbers, of the buffer for one chunk of value matrices."""


@dataclass
class CovarianceTrajectory:
    """Token covariances ``V = X X^T / n`` of an ensemble at recorded layers.

    Attributes
    ----------
    layers : numpy.ndarray of int, shape (R,)
        Number of layers applied before each record, where 0 is the input.
    covariances : numpy.ndarray, shape (R, K, T, T)
        ``covariances[r, k]`` is member ``k``'s ``V`` after ``layers[r]`` layers.
    """

    layers: np.ndarray
    covariances: np.ndarray


def tokens_with_covariance(covariance, width, dtype=np.float64):
    """Return tokens ``X`` of shape ``(..., T, n)`` with ``X X^T / n = V`` up to rounding.

    ``X = sqrt(n) R E``, where ``R`` is the symmetric square root of ``V`` and ``E`` is the
    first ``T`` rows of the ``n x n`` identity. A singular ``V`` is allowed: eigenvalues
    below ``T`` float64 epsilons of the largest one in magnitude are set to zero. They are
    rounding errors of zero eigenvalues, and their square roots, of order ``1e-8``, would
    otherwise split tokens that ``V`` makes equal.

    Raises
    ------
    ValueError
        If ``n < T``, because ``T`` tokens of width ``n < T`` cannot have a covariance of
        full rank.
    """
    covariance = np.asarray(covariance, dtype=np.float64)
    size = covariance.shape[-1]
    if width < size:
        raise ValueError(f"width {width} is smaller than the number of tokens {size}; "
                         f"use a width of at least {size}")
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    threshold = size * np.finfo(np.float64).eps * np.abs(eigenvalues).max(axis=-1, keepdims=True)
    eigenvalues = np.where(eigenvalues > threshold, eigenvalues, 0.0)
    root = (eigenvectors * np.sqrt(eigenvalues)[..., None, :]) @ np.swapaxes(eigenvectors, -1, -2)
    tokens = np.zeros(covariance.shape[:-1] + (width,), dtype=dtype)
    tokens[..., :size] = math.sqrt(width) * root
    return tokens


def simulate_idealized_block(tokens, depth, skip_weight, generator, *, noise_multiplier=1.0,
                             layers=None, dtype=np.float64):
    """Apply ``depth`` layers of the idealized MixiT block to every member's tokens.

    Parameters
    ----------
    tokens : numpy.ndarray, shape (K, T, n)
        Each member's input. A shared input can be passed as
        ``numpy.broadcast_to(x, (K, T, n))``, because it is read, never written.
    depth : int
        ``L``, at least 0.
    skip_weight : float
        ``lambda`` in ``[0, 1]``. The branch weight is ``gamma = sqrt(1 - lambda**2)``.
    generator : numpy.random.Generator or sequence of K of them
        Source of all draws (:mod:`sims.sampling`). In each layer the mixing matrices of
        all members are drawn first, then the value matrices of all members in member
        order. With one generator per member, member ``k`` therefore gets the same
        network as a run of this function on ``tokens[k:k + 1]`` with ``[generator[k]]``,
        and with a single generator the draws do not depend on the chunk size.
    noise_multiplier : float
        ``sigma``: the mixing noise ``C`` has entries of variance ``sigma**2 / T``.
    layers : sequence of int, optional
        Layer counts ``0 ... L`` after which to record ``V``, by default every one.
    dtype : {numpy.float64, numpy.float32}
        Dtype of the draws and of the arithmetic.

    Returns
    -------
    CovarianceTrajectory
        ``V`` at the requested layers, in ``dtype``.

    Raises
    ------
    ValueError
        For tokens that are not a ``(K, T, n)`` array, a negative depth, a skip weight
        outside ``[0, 1]``, a requested layer outside ``0 ... L``, or generators that do
        not match ``K``.
    """
    dtype = np.dtype(dtype).type
    tokens = np.asarray(tokens)
    if tokens.ndim != 3:
        raise ValueError(f"tokens must have shape (K, T, n), got shape {tokens.shape}")
    members, length, width = tokens.shape
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    gamma = branch_weight(skip_weight)
    check_generator(generator, members)
    recorded = np.arange(depth + 1) if layers is None else np.unique(np.asarray(layers, dtype=int))
    if recorded.size and (recorded[0] < 0 or recorded[-1] > depth):
        raise ValueError(f"layers must lie in 0 ... {depth}, got {list(np.asarray(layers))}")

    covariances = np.empty((recorded.size, members, length, length), dtype=dtype)
    x = np.array(tokens, dtype=dtype)
    record_index = 0
    if recorded.size and recorded[0] == 0:
        covariances[0] = token_covariance(x)
        record_index = 1

    chunk = max(1, min(members, CHUNK_ELEMENTS // (width * width)))
    values = np.empty((chunk, width, width), dtype=dtype)
    branch_scale = dtype(gamma / math.sqrt(width))
    skip = dtype(skip_weight)
    for layer in range(1, depth + 1):
        mixing = mixit_matrices(members, 1, length, width, generator, noise_scale="shaped",
                                noise_multiplier=noise_multiplier, dtype=dtype)[:, 0]
        updated = np.empty_like(x)
        for start in range(0, members, chunk):
            stop = min(members, start + chunk)
            chunk_values = values[:stop - start]
            standard_normal(member_slice(generator, start, stop), chunk_values.shape, dtype,
                            out=chunk_values)
            branch = np.matmul(np.matmul(mixing[start:stop], x[start:stop]), chunk_values)
            branch *= branch_scale
            branch += skip * x[start:stop]
            updated[start:stop] = branch
        x = updated
        if record_index < recorded.size and recorded[record_index] == layer:
            covariances[record_index] = token_covariance(x)
            record_index += 1
    return CovarianceTrajectory(layers=recorded, covariances=covariances)
