"""Euler-Maruyama for matrix SDEs whose solution is a covariance matrix.

The equation is ``dV = b(V) dt + Sigma(V)^(1/2) dB`` for symmetric positive semidefinite
``T x T`` matrices ``V``, with ``B`` a standard Brownian motion on the ``T (T + 1) / 2``
upper-triangular coordinates (in the order of ``numpy.triu_indices(T)``) and ``Sigma(V)``
the covariance of the coordinates' increments per unit time. Drift and diffusion are
callables, so any covariance SDE fits, for instance the MixiT one of
:mod:`sims.mixit_coefficients` or of :mod:`theory.mixit`.

Scheme
------
Each step of size ``h`` does three things.

1. Diffusion square root: ``Sigma(V)`` is diagonalized with ``numpy.linalg.eigh``, and
   ``S = Q diag(sqrt(lambda_+)) Q^T`` is the symmetric square root, where ``lambda_+`` sets
   to zero every eigenvalue below ``d`` epsilons of the dtype times the largest one in
   magnitude. Those are negative eigenvalues, which only rounding or a nearly singular
   ``V`` produce, and rounding errors of zero eigenvalues, whose square roots (about
   ``1e-8`` of the scale in float64) would otherwise push a singular ``V`` off its
   singular set. Unlike a Cholesky factor, ``S`` exists for a singular ``Sigma``, which
   is the case whenever ``V`` is singular.
2. Euler-Maruyama update of the coordinates: ``v <- v + b(V) h + sqrt(h) S xi`` with
   ``xi ~ N(0, I)``, and ``V`` rebuilt as a symmetric matrix from ``v``.
3. Projection onto the positive semidefinite cone: where the updated ``V`` has a negative
   eigenvalue, the eigenvalue is set to zero, ``V <- Q diag(max(lambda, 0)) Q^T``. This is
   the nearest positive semidefinite matrix in the Frobenius norm. A ``V`` without a
   negative eigenvalue is left exactly as step 2 made it.

Without the projection this is the Euler-Maruyama scheme, of weak order 1 in ``h`` for
smooth coefficients. The projection changes the law of paths that reach the boundary of
the cone, so results near a singular ``V`` carry a bias that is not controlled here.
"""

import math
from dataclasses import dataclass

import numpy as np

from sims.sampling import check_generator, standard_normal

SYMMETRY_TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}
"""Largest ``|V - V^T| / max|V|`` accepted for an initial ``V``, by dtype."""

PSD_TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}
"""Most negative eigenvalue, relative to ``max|V|``, accepted for an initial ``V``."""


def upper_indices(size):
    """Return the row and column indices of the upper-triangular coordinates, ``numpy.triu_indices(size)``."""
    return np.triu_indices(size)


def to_upper(matrix):
    """Return the upper-triangular coordinates of symmetric matrices, shape ``(..., T (T + 1) / 2)``."""
    rows, columns = upper_indices(matrix.shape[-1])
    return matrix[..., rows, columns]


def from_upper(coordinates, size):
    """Return the symmetric ``(..., T, T)`` matrices with the given upper-triangular coordinates."""
    rows, columns = upper_indices(size)
    if coordinates.shape[-1] != rows.size:
        raise ValueError(f"{size} x {size} symmetric matrices have {rows.size} coordinates, "
                         f"got {coordinates.shape[-1]}")
    matrix = np.empty(coordinates.shape[:-1] + (size, size), dtype=coordinates.dtype)
    matrix[..., rows, columns] = coordinates
    matrix[..., columns, rows] = coordinates
    return matrix


@dataclass
class MatrixSDEPaths:
    """Recorded states of a batch of SDE paths.

    Attributes
    ----------
    times : numpy.ndarray, shape (R,)
        Times of the records.
    values : numpy.ndarray, shape (R, P, T, T)
        ``values[r, p]`` is path ``p``'s ``V`` at ``times[r]``.
    projections : int
        Number of path-steps at which the projection onto the positive semidefinite cone
        changed ``V``.
    """

    times: np.ndarray
    values: np.ndarray
    projections: int


def symmetric_psd_root(matrix):
    """Return the symmetric square root of symmetric matrices, with eigenvalues near or below zero set to zero.

    Parameters
    ----------
    matrix : numpy.ndarray, shape (..., d, d)

    Returns
    -------
    numpy.ndarray, shape (..., d, d)
        ``Q diag(sqrt(lambda_+)) Q^T``, where ``lambda_+`` is ``lambda`` for eigenvalues
        above ``d`` epsilons of the dtype times the largest eigenvalue in magnitude, and
        zero otherwise.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    size = matrix.shape[-1]
    threshold = size * np.finfo(eigenvalues.dtype).eps * np.abs(eigenvalues).max(
        axis=-1, keepdims=True)
    kept = np.where(eigenvalues > threshold, eigenvalues, 0)
    scaled = eigenvectors * np.sqrt(kept)[..., None, :]
    return scaled @ np.swapaxes(eigenvectors, -1, -2)


def project_psd(matrix):
    """Return the nearest positive semidefinite matrices in the Frobenius norm, and a mask.

    Matrices with a negative eigenvalue are rebuilt with those eigenvalues set to zero and
    symmetrized. The others are returned unchanged.

    Returns
    -------
    projected : numpy.ndarray, shape (..., T, T)
    changed : numpy.ndarray of bool, shape (...)
        Which matrices were rebuilt.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    changed = eigenvalues[..., 0] < 0
    if not np.any(changed):
        return matrix, changed
    projected = matrix.copy()
    vectors = eigenvectors[changed]
    rebuilt = (vectors * np.clip(eigenvalues[changed], 0, None)[..., None, :]) @ np.swapaxes(
        vectors, -1, -2)
    projected[changed] = 0.5 * (rebuilt + np.swapaxes(rebuilt, -1, -2))
    return projected, changed


def _check_initial(initial, paths, dtype):
    initial = np.asarray(initial)
    if initial.ndim not in (2, 3) or initial.shape[-1] != initial.shape[-2]:
        raise ValueError(f"initial V must have shape (T, T) or (P, T, T), got shape {initial.shape}")
    if initial.ndim == 2:
        if paths is None:
            raise ValueError("pass paths, the number of paths, with a single initial (T, T) V")
        initial = np.broadcast_to(initial, (paths,) + initial.shape)
    elif paths is not None and paths != initial.shape[0]:
        raise ValueError(f"paths is {paths}, but the initial V contains {initial.shape[0]} "
                         f"paths; pass matching values or omit paths")
    initial = np.array(initial, dtype=dtype)
    if not np.all(np.isfinite(initial)):
        raise ValueError("initial V must be finite")

    scale = max(float(np.max(np.abs(initial))), np.finfo(dtype).tiny)
    asymmetry = float(np.max(np.abs(initial - np.swapaxes(initial, -1, -2)))) / scale
    if asymmetry > SYMMETRY_TOLERANCE[dtype]:
        raise ValueError(f"initial V must be symmetric, but max |V - V^T| / max |V| is "
                         f"{asymmetry:.3g}")
    initial = 0.5 * (initial + np.swapaxes(initial, -1, -2))
    smallest = float(np.linalg.eigvalsh(initial)[..., 0].min()) / scale
    if smallest < -PSD_TOLERANCE[dtype]:
        raise ValueError(f"initial V must be positive semidefinite, but its smallest "
                         f"eigenvalue relative to max |V| is {smallest:.3g}")
    return initial


def solve_matrix_sde(initial, drift, covariance, duration, steps, generator, *, paths=None,
                     record_every=1, dtype=np.float64):
    """Integrate ``dV = b(V) dt + Sigma(V)^(1/2) dB`` for a batch of paths (module docstring).

    Parameters
    ----------
    initial : numpy.ndarray, shape (T, T) or (P, T, T)
        ``V`` at time 0, symmetric positive semidefinite: one for all paths (with
        ``paths``) or one per path.
    drift : callable
        ``drift(V)`` maps ``(P, T, T)`` to the drift ``b(V)``, either as matrices of shape
        ``(P, T, T)``, of which only the upper triangle is used, or as upper-triangular
        coordinates of shape ``(P, d)``, as ``theory.mixit.sde_drift`` returns them.
    covariance : callable
        ``covariance(V)`` maps ``(P, T, T)`` to ``Sigma(V)``, shape ``(P, d, d)`` with
        ``d = T (T + 1) / 2``, over upper-triangular coordinates.
    duration : float
        Final time, positive.
    steps : int
        Number of steps of size ``h = duration / steps``.
    generator : numpy.random.Generator or sequence of P of them
        Draws one ``(P, d)`` array of standard normal numbers per step
        (:mod:`sims.sampling`).
    paths : int, optional
        ``P``, required with a single initial ``(T, T)``.
    record_every : int
        Record ``V`` at time 0 and after every ``record_every`` steps. The final state is
        always recorded.
    dtype : {numpy.float64, numpy.float32}

    Returns
    -------
    MatrixSDEPaths

    Raises
    ------
    ValueError
        For an initial ``V`` that is not symmetric positive semidefinite within
        ``SYMMETRY_TOLERANCE`` and ``PSD_TOLERANCE``, a non-positive duration or step
        count, or drift and covariance values of the wrong shape.
    """
    dtype = np.dtype(dtype).type
    state = _check_initial(initial, paths, dtype)
    count, size = state.shape[0], state.shape[-1]
    coordinates = size * (size + 1) // 2
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be positive and finite, got {duration!r}")
    for name, value in (("steps", steps), ("record_every", record_every)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    check_generator(generator, count)

    step_size = duration / steps
    root_step = math.sqrt(step_size)
    recorded_steps = sorted(set(range(0, steps + 1, record_every)) | {steps})
    times = np.array(recorded_steps, dtype=np.float64) * step_size
    values = np.empty((len(recorded_steps), count, size, size), dtype=dtype)
    values[0] = state
    record_index = 1
    projections = 0

    noise = np.empty((count, coordinates), dtype=dtype)
    for step in range(1, steps + 1):
        drift_value = np.asarray(drift(state))
        if drift_value.shape == state.shape:
            drift_value = to_upper(drift_value)
        elif drift_value.shape != (count, coordinates):
            raise ValueError(f"drift(V) returned shape {drift_value.shape}; expected "
                             f"{state.shape} or {(count, coordinates)}")
        covariance_value = np.asarray(covariance(state))
        if covariance_value.shape != (count, coordinates, coordinates):
            raise ValueError(f"covariance(V) returned shape {covariance_value.shape}; expected "
                             f"{(count, coordinates, coordinates)}")

        root = symmetric_psd_root(covariance_value)
        standard_normal(generator, noise.shape, dtype, out=noise)
        increment = drift_value * step_size
        increment += root_step * np.matmul(root, noise[..., None])[..., 0]
        state = from_upper((to_upper(state) + increment).astype(dtype, copy=False), size)
        state, changed = project_psd(state)
        projections += int(np.count_nonzero(changed))

        if record_index < len(recorded_steps) and recorded_steps[record_index] == step:
            values[record_index] = state
            record_index += 1
    return MatrixSDEPaths(times=times, values=values, projections=projections)
