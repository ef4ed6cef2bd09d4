"""Mean, diffusion and SDE coefficients of the token covariance in the idealized MixiT block.

The block acts on ``m`` tokens stored as the rows of ``X`` (shape ``(m, n)``) and on their
covariance ``V = X X^T / n``::

    X' = lambda_skip X + gamma A X W / sqrt(n),     lambda_skip**2 + gamma**2 = 1,
    A  = I + C / sqrt(n),
    C[a, j] = 1{j <= a} (G[a, j] - mean_{k <= a} G[a, k]),   G[a, j] ~ N(0, sigma**2 / m),

with ``W`` an ``n x n`` matrix of independent N(0, 1) entries and fresh draws in every layer.
This is the MixiT attention of Dong, Noci, Khodak, Li 2025 (arXiv 2506.01115) reduced to one
head, one value matrix and no normalization or MLP. ``C`` is the centred random mixing noise,
and every row of ``A`` sums to one. Token ``a`` (1-indexed in formulas, 0-indexed in arrays)
attends to tokens ``1..a``.

The reference implementation (princeton-pli/MixiT, ``modeling_llama.py`` at commit 22ce029)
draws the noise with standard deviation ``1/sqrt(m n_h)`` at the shaped end of its range,
which is this model with ``sigma = 1`` and ``n = n_h``. It differs in three ways that these
functions do not model: it draws each head's standard deviation uniformly between
``1/sqrt(m n_h)`` and ``1/sqrt(m)``, it replaces head 0 by a fixed attention-sink matrix, and
it normalizes the block's input with RMSNorm.

The functions take ``V`` with optional leading batch axes, shape ``(..., m, m)``, and compute
in float64. ``V`` must be finite and symmetric up to rounding. The formulas are polynomial in
``V``, so zero-norm and collinear tokens need no special case, except in
:func:`shaped_mlp_drift`, which divides by token norms. One token (``m = 1``) is valid: its
row of ``A`` is ``e_1``, so the mixing drift and the mixing diffusion are zero.

The SDE coordinates are the ``m (m + 1) / 2`` upper-triangular entries ``V[a, b]``,
``a <= b``, in the order of ``numpy.triu_indices(m)``.
"""

import numpy as np
import scipy.linalg


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------

def as_covariance(V, name="V"):
    """Return ``V`` as a symmetric float64 array of shape ``(..., m, m)``.

    Raises
    ------
    ValueError
        If ``V`` is not a stack of square matrices with ``m >= 1``, has a NaN or infinite
        entry, or is not symmetric. The symmetry tolerance is ``sqrt(eps)`` of the input's
        float type times ``max(1, max |V|)``. Within it, ``V`` is replaced by
        ``(V + V^T) / 2``.
    """
    array = np.asarray(V)
    if array.ndim < 2 or array.shape[-1] != array.shape[-2] or array.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (..., m, m) with m >= 1; "
                         f"got shape {array.shape}")
    eps = np.finfo(array.dtype).eps if np.issubdtype(array.dtype, np.floating) else np.finfo(float).eps
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity; every entry must be finite")
    transposed = np.swapaxes(array, -1, -2)
    asymmetry = float(np.max(np.abs(array - transposed)))
    scale = max(1.0, float(np.max(np.abs(array))))
    if asymmetry > np.sqrt(eps) * scale:
        raise ValueError(f"{name} must be symmetric; max |{name} - {name}^T| = {asymmetry:.3g}")
    return (array + transposed) / 2


def _to_float(value, name):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number; got {value!r}") from None


def check_branch_weight(branch_weight, name="branch_weight"):
    """Return ``branch_weight`` as a float in ``[0, 1]``, or raise ValueError."""
    value = _to_float(branch_weight, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1] because lambda_skip**2 + {name}**2 = 1; "
                         f"got {branch_weight!r}")
    return value


def check_nonnegative(value, name):
    """Return ``value`` as a finite float ``>= 0``, or raise ValueError."""
    number = _to_float(value, name)
    if not (np.isfinite(number) and number >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return number


def check_integer(value, name, minimum):
    """Return ``value`` as an int ``>= minimum``, or raise ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


# ---------------------------------------------------------------------------
# The mixing noise and the exact mean
# ---------------------------------------------------------------------------

def causal_centring_projectors(m):
    """Return the centring projectors ``Pi_a = P_a - 1_a 1_a^T / a`` for ``a = 1..m``.

    ``P_a`` projects onto the first ``a`` coordinates and ``1_a`` is their indicator, so
    ``Pi_a`` centres a vector on the causal support of token ``a``. ``Pi_1 = 0``.

    Returns
    -------
    numpy.ndarray
        Shape ``(m, m, m)``, with ``Pi_a`` at index ``a - 1``.
    """
    m = check_integer(m, "m", 1)
    projectors = np.zeros((m, m, m))
    for index in range(m):
        size = index + 1
        projectors[index, :size, :size] = np.eye(size) - 1.0 / size
    return projectors


def mixing_noise_covariance(m, noise_std=1.0):
    """Return ``Cov(C[a, j], C[c, k]) = delta_ac (sigma**2 / m) Pi_a[j, k]``.

    The row-centred noise is ``C[a] = Pi_a G[a]`` with ``G[a]`` of covariance
    ``(sigma**2 / m) I``, and ``Pi_a`` is a symmetric idempotent, so each row has covariance
    ``(sigma**2 / m) Pi_a`` and distinct rows are independent.

    Returns
    -------
    numpy.ndarray
        Shape ``(m, m, m, m)``, indexed ``[a, j, c, k]``.
    """
    sigma = check_nonnegative(noise_std, "noise_std")
    projectors = causal_centring_projectors(m)
    m = projectors.shape[0]
    covariance = np.zeros((m, m, m, m))
    for a in range(m):
        covariance[a, :, a, :] = sigma**2 / m * projectors[a]
    return covariance


def mixing_drift(V, noise_std=1.0):
    """Return the mixing drift ``D(V) = E[C V C^T]``, a diagonal matrix.

    ``D(V) = diag(d_1, ..., d_m)`` with::

        d_a = (sigma**2 / m) (tr(P_a V) - 1_a^T V 1_a / a)
            = (sigma**2 / m) (1 / n) sum_{j <= a} ||x_j - xbar_{<= a}||**2,

    where ``xbar_{<= a}`` is the mean of tokens ``1..a``. The block's exact one-step mean is
    ``E[V' | V] = V + (gamma**2 / n) D(V)``, which :func:`theory.mixit.derive` checks by
    Gaussian moment expansion.

    Parameters
    ----------
    V : array_like, shape (..., m, m)
        Token covariance.
    noise_std : float
        ``sigma``: each raw noise entry has variance ``sigma**2 / m``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., m, m)``. Off-diagonal entries are zero and ``d_1 = 0`` exactly (the
        first row of ``A`` is ``e_1``). For positive semidefinite ``V``, ``d_a >= 0``, with
        equality exactly when tokens ``1..a`` coincide. ``m = 1`` gives the zero matrix.
    """
    V = as_covariance(V)
    sigma = check_nonnegative(noise_std, "noise_std")
    m = V.shape[-1]
    sizes = np.arange(1, m + 1)
    prefix_trace = np.cumsum(np.diagonal(V, axis1=-2, axis2=-1), axis=-1)
    prefix_block_sum = np.diagonal(np.cumsum(np.cumsum(V, axis=-1), axis=-2), axis1=-2, axis2=-1)
    drift = sigma**2 / m * (prefix_trace - prefix_block_sum / sizes)
    return drift[..., :, None] * np.eye(m)


def _diagonal_generator(V, noise_std):
    """Return the affine generator of the diagonal under ``dv/dt = D(V)``.

    ``D`` acts on the diagonal ``v`` as ``d = K v - k0`` with ``K[a, j] = (sigma**2 / m)
    (1 - 1/a) 1{j <= a}`` and ``k0_a = (sigma**2 / m) (2 / a) sum_{j < k <= a} V[j, k]``,
    while the off-diagonal entries stay fixed. The result has shape ``(..., m + 1, m + 1)``:
    the augmented matrix ``[[K, -k0], [0, 0]]`` that acts on ``(v, 1)``.
    """
    m = V.shape[-1]
    scale = noise_std**2 / m
    sizes = np.arange(1, m + 1)
    lower = np.tril(np.ones((m, m)))
    K = scale * (1.0 - 1.0 / sizes)[:, None] * lower
    strict_upper = np.triu(V, k=1)
    pair_sums = np.diagonal(np.cumsum(np.cumsum(strict_upper, axis=-1), axis=-2), axis1=-2, axis2=-1)
    k0 = scale * 2.0 / sizes * pair_sums

    generator = np.zeros(V.shape[:-2] + (m + 1, m + 1))
    generator[..., :m, :m] = K
    generator[..., :m, m] = -k0
    return generator


def _with_diagonal(V, diagonal):
    result = V.copy()
    m = V.shape[-1]
    result[..., np.arange(m), np.arange(m)] = diagonal
    return result


def exact_mean(V0, depth, width, branch_weight, noise_std=1.0, heads=1):
    """Return the exact mean ``E[V_L] = (I + (gamma**2 H / n) D)**L V0`` after ``L`` blocks.

    ``D`` is linear and the one-step mean is exact, so the tower property gives the depth-L
    mean exactly, for every finite width, token count and depth. Only the diagonal moves, and
    the off-diagonal entries keep their initial values. With ``H`` heads of width
    ``n / H``, each with its own noise ``C^h / sqrt(n / H)`` and Gaussian value and output
    matrices, the per-block drift is ``(gamma**2 / (n / H)) D(V)``.

    Parameters
    ----------
    V0 : array_like, shape (..., m, m)
        Initial token covariance.
    depth : int
        Number of blocks ``L >= 0``.
    width : int
        Width ``n >= 1``, a multiple of ``heads``.
    branch_weight : float
        ``gamma`` in ``[0, 1]``. The skip weight is ``sqrt(1 - gamma**2)``.
    noise_std : float
        ``sigma`` of the mixing noise.
    heads : int
        Number of heads ``H >= 1``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., m, m)``.
    """
    V0 = as_covariance(V0, "V0")
    depth = check_integer(depth, "depth", 0)
    width = check_integer(width, "width", 1)
    heads = check_integer(heads, "heads", 1)
    if width % heads:
        raise ValueError(f"width must be a multiple of heads; got width={width}, heads={heads}")
    gamma = check_branch_weight(branch_weight)
    sigma = check_nonnegative(noise_std, "noise_std")

    m = V0.shape[-1]
    step = np.eye(m + 1) + gamma**2 * heads / width * _diagonal_generator(V0, sigma)
    propagator = np.linalg.matrix_power(step, depth)
    diagonal = np.diagonal(V0, axis1=-2, axis2=-1)
    augmented = np.concatenate([diagonal, np.ones(diagonal.shape[:-1] + (1,))], axis=-1)
    moved = np.einsum("...ij,...j->...i", propagator, augmented)[..., :m]
    return _with_diagonal(V0, moved)


def mean_limit(V0, t, branch_weight, noise_std=1.0, heads=1):
    """Return the proportional limit of the mean, ``E[V_t] = exp(gamma**2 H t D) V0``.

    This is the limit of :func:`exact_mean` as ``n -> infinity`` with depth ``L = floor(t n)``,
    and the difference is of order ``1 / n``. On the diagonal it solves the linear ODE
    ``dv/dt = gamma**2 H (sigma**2 / m) (M v - c)`` with ``M[a, j] = (1 - 1/a) 1{j <= a}`` and
    ``c_a = (2 / a) sum_{j < k <= a} V0[j, k]``. The off-diagonal entries are constant.

    Parameters
    ----------
    V0 : array_like, shape (..., m, m)
        Initial token covariance.
    t : float
        SDE time ``t = L / n >= 0``.
    branch_weight, noise_std, heads
        As in :func:`exact_mean`.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., m, m)``.
    """
    V0 = as_covariance(V0, "V0")
    t = check_nonnegative(t, "t")
    heads = check_integer(heads, "heads", 1)
    gamma = check_branch_weight(branch_weight)
    sigma = check_nonnegative(noise_std, "noise_std")

    m = V0.shape[-1]
    propagator = scipy.linalg.expm(gamma**2 * heads * t * _diagonal_generator(V0, sigma))
    diagonal = np.diagonal(V0, axis1=-2, axis2=-1)
    augmented = np.concatenate([diagonal, np.ones(diagonal.shape[:-1] + (1,))], axis=-1)
    moved = np.einsum("...ij,...j->...i", propagator, augmented)[..., :m]
    return _with_diagonal(V0, moved)


def two_token_mean(V0, t, branch_weight, noise_std=1.0, heads=1, width=None):
    """Return the closed-form mean for two tokens, at finite width or in the limit.

    With ``kappa = gamma**2 H sigma**2 / 4`` and ``u = V_22 + V_11 - 2 V_12 = ||x_2 - x_1||**2 / n``,
    the mean of ``u`` is multiplied by ``1 + kappa / n`` per block, while ``V_11`` and ``V_12``
    keep their means::

        E[V_22] = u0 (1 + kappa / n)**L - V_11 + 2 V_12      (finite n, L = round(t n))
        E[V_22] = u0 exp(kappa t)       - V_11 + 2 V_12      (width=None, the limit)

    Parameters
    ----------
    V0 : array_like, shape (..., 2, 2)
        Initial token covariance.
    t : float
        SDE time ``L / n``. At finite width, ``t * width`` must be an integer depth (up to
        rounding of 1e-9).
    width : int, optional
        Width ``n``; ``None`` gives the limit ``n -> infinity``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., 2, 2)``.
    """
    V0 = as_covariance(V0, "V0")
    if V0.shape[-1] != 2:
        raise ValueError(f"two_token_mean needs V0 of shape (..., 2, 2); got shape {V0.shape}")
    t = check_nonnegative(t, "t")
    heads = check_integer(heads, "heads", 1)
    gamma = check_branch_weight(branch_weight)
    sigma = check_nonnegative(noise_std, "noise_std")
    kappa = gamma**2 * heads * sigma**2 / 4

    v1, v12, v2 = V0[..., 0, 0], V0[..., 0, 1], V0[..., 1, 1]
    u0 = v2 + v1 - 2 * v12
    if width is None:
        growth = np.exp(kappa * t)
    else:
        width = check_integer(width, "width", 1)
        depth = round(t * width)
        if abs(depth - t * width) > 1e-9 * max(1.0, t * width):
            raise ValueError(f"t * width must be an integer depth; got t={t!r}, width={width}")
        growth = (1.0 + kappa / width) ** depth
    return _with_diagonal(V0, np.stack([v1, u0 * growth - v1 + 2 * v12], axis=-1))


# ---------------------------------------------------------------------------
# One-step covariance (diffusion)
# ---------------------------------------------------------------------------

def linear_diffusion_coefficient(branch_weight, branch_matrices=1):
    """Return ``c_lin = 2 lambda_skip**2 gamma**2 + k gamma**4`` for ``k`` branch matrices.

    The cross term between skip and branch contributes ``2 lambda_skip**2 gamma**2`` and each
    independent Gaussian matrix of the branch contributes one Wishart fluctuation
    ``gamma**4``, at leading order in ``1 / n``. With ``lambda_skip**2 = 1 - gamma**2``:
    ``c_lin = gamma**2 (2 - gamma**2)`` for one matrix (a value matrix alone) and
    ``c_lin = 2 gamma**2`` for two (value and output projection).
    """
    gamma = check_branch_weight(branch_weight)
    k = check_integer(branch_matrices, "branch_matrices", 1)
    return 2 * (1 - gamma**2) * gamma**2 + k * gamma**4


def sigma_lin(V):
    """Return ``Sigma_lin(V)[a, b, c, d] = V_ac V_bd + V_ad V_bc``.

    For ``W`` with independent N(0, 1) entries, ``Cov(x_a^T W x_b, x_c^T W x_d) =
    (x_a . x_c)(x_b . x_d)``, so the symmetrized fluctuation ``X (W + W^T) X^T / n**1.5``
    has covariance ``2 Sigma_lin / n`` and the Wishart fluctuation ``X (W W^T / n - I) X^T / n``
    has covariance ``Sigma_lin / n``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., m, m, m, m)``.
    """
    V = as_covariance(V)
    return np.einsum("...ac,...bd->...abcd", V, V) + np.einsum("...ad,...bc->...abcd", V, V)


def sigma_mix(V, noise_std=1.0):
    """Return the mixing diffusion ``Sigma_mix(V)``.

    ``Sigma_mix / n`` is the covariance of the first-order mixing fluctuation
    ``(C V + V C^T) / sqrt(n)``::

        Sigma_mix[a, b, c, d] = (sigma**2 / m) [ delta_ac (V Pi_a V)_bd + delta_ad (V Pi_a V)_bc
                                               + delta_bc (V Pi_b V)_ad + delta_bd (V Pi_b V)_ac ]

    It follows from ``Cov((C V)_ab, (C V)_cd) = delta_ac (sigma**2 / m) (V Pi_a V)_bd``.
    Every entry with an index pair involving only token 1 is zero (``Pi_1 = 0``), and
    ``m = 1`` gives zero.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., m, m, m, m)``.
    """
    V = as_covariance(V)
    sigma = check_nonnegative(noise_std, "noise_std")
    m = V.shape[-1]
    projectors = causal_centring_projectors(m)
    # sandwiched[..., a, b, d] = (V Pi_a V)[b, d]
    sandwiched = np.einsum("...ij,ajk,...kl->...ail", V, projectors, V)
    identity = np.eye(m)
    total = (np.einsum("ac,...abd->...abcd", identity, sandwiched)
             + np.einsum("ad,...abc->...abcd", identity, sandwiched)
             + np.einsum("bc,...bad->...abcd", identity, sandwiched)
             + np.einsum("bd,...bac->...abcd", identity, sandwiched))
    return sigma**2 / m * total


# ---------------------------------------------------------------------------
# Shaped MLP
# ---------------------------------------------------------------------------

def shaped_relu_nu(rho, c_plus=0.0, c_minus=-1.0):
    """Return ``nu(rho) = (c_+ - c_-)**2 / (2 pi) (sqrt(1 - rho**2) - rho arccos(rho))``.

    ``nu`` is the ``1 / n`` correction of the normalized kernel of the shaped ReLU
    ``phi(x) = s_+ max(x, 0) + s_- min(x, 0)``, ``s_pm = 1 + c_pm / sqrt(n)`` (Li, Nica, Roy
    2022, "The neural covariance SDE", arXiv 2206.02768):
    ``E[phi(u) phi(v)] / E[phi(u)**2] = rho + nu(rho) / n + O(n**-1.5)`` for unit-variance
    Gaussians ``u, v`` of correlation ``rho``. ``nu(1) = 0``, ``nu(0) = (c_+ - c_-)**2 / (2 pi)``
    and ``nu(-1) = (c_+ - c_-)**2 / 2``.

    Raises
    ------
    ValueError
        If some ``|rho| > 1 + 1e-12``. Values within that tolerance are clipped to
        ``[-1, 1]``.
    """
    rho = np.asarray(rho, dtype=np.float64)
    if not np.all(np.isfinite(rho)) or np.any(np.abs(rho) > 1 + 1e-12):
        raise ValueError("rho must be a finite correlation in [-1, 1]; "
                         f"got values up to |rho| = {float(np.max(np.abs(rho))):.6g}")
    # Rounding can put a correlation of collinear tokens a few ulps outside [-1, 1], where
    # sqrt and arccos are undefined.
    rho = np.clip(rho, -1.0, 1.0)
    scale = (float(c_plus) - float(c_minus)) ** 2 / (2 * np.pi)
    return scale * (np.sqrt(1 - rho**2) - rho * np.arccos(rho))


def token_correlation(V):
    """Return the correlation matrix ``rho_ab = V_ab / sqrt(V_aa V_bb)``.

    A zero-norm token has no direction: its row and column of the result are 0, except the
    diagonal entry, which is 1. Entries pushed past ``+-1`` by rounding are clipped.

    Raises
    ------
    ValueError
        If a diagonal entry is negative, or if some ``|V_ab|`` exceeds
        ``sqrt(V_aa V_bb)`` by more than a relative ``1e-8`` (``V`` is then not positive
        semidefinite).
    """
    V = as_covariance(V)
    diagonal = np.diagonal(V, axis1=-2, axis2=-1)
    if np.any(diagonal < 0):
        raise ValueError(f"V has a negative diagonal entry ({float(diagonal.min()):.6g}); "
                         "a covariance needs V_aa >= 0")
    scale = np.sqrt(diagonal[..., :, None] * diagonal[..., None, :])
    if np.any(np.abs(V) > scale * (1 + 1e-8) + 1e-300):
        raise ValueError("V is not positive semidefinite: some |V_ab| > sqrt(V_aa V_bb)")
    positive = scale > 0
    correlation = np.divide(V, scale, out=np.zeros_like(V), where=positive)
    m = V.shape[-1]
    correlation[..., np.arange(m), np.arange(m)] = 1.0
    return np.clip(correlation, -1.0, 1.0)


def shaped_mlp_drift(V, c_plus=0.0, c_minus=-1.0):
    """Return the shaped-MLP drift ``nu(rho_ab) sqrt(V_aa V_bb)``.

    A non-gated shaped-ReLU MLP block ``lambda_skip X + gamma phi(X W1 / sqrt(n)) W2 / sqrt(n)``
    (normalized to unit second moment) has ``E[V' | V] = V + (gamma**2 / n) N(V) + O(n**-1.5)``
    with this ``N``. The diagonal is zero because ``nu(1) = 0``. An entry with a zero-norm
    token is 0, the limit of ``nu(rho) sqrt(V_aa V_bb)`` as the norm goes to zero, because
    ``0 <= nu <= (c_+ - c_-)**2 / 2``. Exactly collinear tokens have ``rho = +-1``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., m, m)``.
    """
    correlation = token_correlation(V)
    V = as_covariance(V)
    diagonal = np.diagonal(V, axis1=-2, axis2=-1)
    scale = np.sqrt(diagonal[..., :, None] * diagonal[..., None, :])
    return shaped_relu_nu(correlation, c_plus, c_minus) * scale


# ---------------------------------------------------------------------------
# The proportional-limit SDE on the upper-triangular coordinates
# ---------------------------------------------------------------------------

def triu_coordinates(m):
    """Return the row and column indices ``(a, b)``, ``a <= b``, of the SDE coordinates."""
    m = check_integer(m, "m", 1)
    return np.triu_indices(m)


def to_triu(V):
    """Return the upper-triangular coordinates of ``V``, shape ``(..., m (m + 1) / 2)``."""
    V = as_covariance(V)
    rows, cols = triu_coordinates(V.shape[-1])
    return V[..., rows, cols]


def from_triu(coordinates):
    """Return the symmetric matrix whose upper-triangular coordinates are given.

    Raises
    ------
    ValueError
        If the last axis has a length that is not ``m (m + 1) / 2`` for an integer ``m``.
    """
    coordinates = np.asarray(coordinates, dtype=np.float64)
    length = coordinates.shape[-1] if coordinates.ndim else 0
    m = int(round((np.sqrt(8 * length + 1) - 1) / 2))
    if m < 1 or m * (m + 1) // 2 != length:
        raise ValueError("the last axis must have length m (m + 1) / 2 for an integer m >= 1; "
                         f"got {length}")
    rows, cols = triu_coordinates(m)
    V = np.zeros(coordinates.shape[:-1] + (m, m))
    V[..., rows, cols] = coordinates
    V[..., cols, rows] = coordinates
    return V


def sde_drift(V, branch_weight, noise_std=1.0, heads=1,
              mlp_branch_weight=0.0, c_plus=0.0, c_minus=-1.0):
    """Return the drift of ``dV_t`` per unit ``t = l / n`` on the SDE coordinates.

    ``b(V) = gamma**2 H D(V) + gamma_mlp**2 nu(rho_ab) sqrt(V_aa V_bb)``. The MLP term, for a
    shaped-ReLU MLP block after each attention block, is computed only when
    ``mlp_branch_weight > 0``.

    Parameters
    ----------
    V : array_like, shape (..., m, m)
        Token covariance.
    branch_weight : float
        ``gamma`` of the attention block.
    noise_std : float
        ``sigma`` of the mixing noise.
    heads : int
        Number of heads ``H``. The time ``t`` counts blocks per total width ``n``.
    mlp_branch_weight : float
        ``gamma_mlp`` of the MLP block, ``0`` for no MLP.
    c_plus, c_minus : float
        Shape constants of the shaped ReLU.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., m (m + 1) / 2)``.
    """
    V = as_covariance(V)
    gamma = check_branch_weight(branch_weight)
    heads = check_integer(heads, "heads", 1)
    gamma_mlp = check_branch_weight(mlp_branch_weight, "mlp_branch_weight")
    drift = gamma**2 * heads * mixing_drift(V, noise_std)
    if gamma_mlp > 0:
        drift = drift + gamma_mlp**2 * shaped_mlp_drift(V, c_plus, c_minus)
    return to_triu(drift)


def sde_covariance(V, branch_weight, noise_std=1.0, branch_matrices=1, mlp_branch_weight=0.0):
    """Return the diffusion matrix ``Sigma(V)`` per unit ``t`` on the SDE coordinates.

    ``Sigma = c_lin Sigma_lin + gamma**4 Sigma_mix + 2 gamma_mlp**2 Sigma_lin`` contains the
    attention block's linear and mixing fluctuations and, when ``mlp_branch_weight > 0``,
    the two-matrix MLP block's linear fluctuation. The number of heads does not enter.
    Head ``h`` contributes ``gamma**2 (C^h V + V C^h^T) / (H sqrt(n_h))``, of covariance
    ``gamma**4 Sigma_mix / (H**2 n_h)``, and the ``H`` independent heads add up to
    ``gamma**4 Sigma_mix / n``. For ``m = 1`` only the linear part remains.

    Parameters
    ----------
    V : array_like, shape (..., m, m)
        Token covariance.
    branch_weight : float
        ``gamma`` of the attention block.
    noise_std : float
        ``sigma`` of the mixing noise.
    branch_matrices : int
        Independent Gaussian matrices in the attention branch: 1 for a value matrix alone,
        2 with an output projection (see :func:`linear_diffusion_coefficient`).
    mlp_branch_weight : float
        ``gamma_mlp`` of the MLP block, ``0`` for no MLP.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., k, k)`` with ``k = m (m + 1) / 2``. It is symmetric, and positive
        semidefinite for positive semidefinite ``V``.
    """
    V = as_covariance(V)
    gamma = check_branch_weight(branch_weight)
    gamma_mlp = check_branch_weight(mlp_branch_weight, "mlp_branch_weight")
    linear = linear_diffusion_coefficient(gamma, branch_matrices) + 2 * gamma_mlp**2
    full = linear * sigma_lin(V) + gamma**4 * sigma_mix(V, noise_std)
    rows, cols = triu_coordinates(V.shape[-1])
    return full[..., rows[:, None], cols[:, None], rows[None, :], cols[None, :]]
