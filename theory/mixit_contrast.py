"""Contrast models for MixiT: uniform attention and first-order shaped attention.

Uniform averaging is what softmax attention reduces to at small initialization, where the
logits are near zero. Its residual model ``X' = X + a U X W / sqrt(n)`` (``U`` the averaging
matrix, ``W`` Gaussian) adds the same positive mass to every entry of ``V`` and drives the
token correlation to one geometrically in depth unless ``a**2`` shrinks like ``1 / L``
(Noci et al. 2022, "Signal propagation in transformers", arXiv 2206.03126).

Shaped attention (Noci et al. 2023, "The shaped transformer", arXiv 2306.17759) centres the
softmax at the identity and scales the logits by a temperature ``tau = tau0 sqrt(n n_k)``.
To first order in ``1 / tau`` it is ``I`` plus a centred random matrix, like MixiT, but with
noise that depends on the input.
"""

import numpy as np
import sympy

from theory.mixit_covariance import (as_covariance, causal_centring_projectors, check_integer,
                                     check_nonnegative, token_correlation)


# ---------------------------------------------------------------------------
# Uniform attention
# ---------------------------------------------------------------------------

def uniform_attention_correlation(depth, seq_len, branch_multiplier=1.0, scale_by_depth=False):
    """Return ``rho_L = ((1 + a**2)**L - 1) / (m + (1 + a**2)**L - 1)`` for uniform attention.

    The model is ``X' = X + a (1 1^T / m) X W / sqrt(n)`` with ``W`` Gaussian, started from
    orthogonal tokens of equal norm, ``V0 = I``. Its mean is exactly
    ``E[V_L] = I + ((1 + a**2)**L - 1) / m * 1 1^T``, and ``rho_L`` is the correlation of
    that mean, ``E[V_ab] / sqrt(E[V_aa] E[V_bb])`` (a ratio of expectations, not the mean
    correlation).

    Parameters
    ----------
    depth : int or array_like of int
        ``L >= 0``; ``L = 0`` gives 0.
    seq_len : int
        Number of tokens ``m >= 2``.
    branch_multiplier : float
        ``a``, or ``a0`` with ``scale_by_depth``.
    scale_by_depth : bool
        Use ``a**2 = a0**2 / L``, the ``1 / sqrt(L)`` branch scaling; then
        ``rho_L -> (e**(a0**2) - 1) / (m + e**(a0**2) - 1)`` as ``L -> infinity``.

    Returns
    -------
    float or numpy.ndarray
    """
    seq_len = check_integer(seq_len, "seq_len", 2)
    multiplier = check_nonnegative(branch_multiplier, "branch_multiplier")
    depth_array = np.asarray(depth)
    if not np.issubdtype(depth_array.dtype, np.integer) or np.any(depth_array < 0):
        raise ValueError(f"depth must be an integer >= 0 or an array of them; got {depth!r}")
    depth_float = depth_array.astype(np.float64)
    if scale_by_depth:
        # a**2 = a0**2 / L; L = 0 has no blocks, and its growth factor is 1 whatever a is.
        squared = np.divide(multiplier**2, depth_float, out=np.zeros_like(depth_float),
                            where=depth_float > 0)
    else:
        squared = np.full_like(depth_float, multiplier**2)
    growth = np.expm1(depth_float * np.log1p(squared))
    result = growth / (seq_len + growth)
    return float(result) if result.ndim == 0 else result


def uniform_attention_correlation_limit(seq_len, branch_multiplier=1.0):
    """Return ``(e**(a0**2) - 1) / (m + e**(a0**2) - 1)``, the ``L -> infinity`` limit under
    ``a**2 = a0**2 / L``."""
    seq_len = check_integer(seq_len, "seq_len", 2)
    multiplier = check_nonnegative(branch_multiplier, "branch_multiplier")
    growth = np.expm1(multiplier**2)
    return float(growth / (seq_len + growth))


def causal_averaging_matrix(m):
    """Return the causal averaging matrix, ``A[a, j] = 1 / a`` for ``j <= a`` (1-based)."""
    m = check_integer(m, "m", 1)
    return np.tril(np.ones((m, m))) / np.arange(1, m + 1)[:, None]


def causal_uniform_mean(V0, depth, branch_multiplier=1.0):
    """Return ``E[V_L]`` for causal uniform attention by the exact recursion.

    The model is ``X' = X + a A X W / sqrt(n)`` with ``A`` the causal averaging matrix, so
    ``E[V' | V] = V + a**2 A V A^T`` exactly (the cross terms have mean zero and
    ``E[W W^T] = n I``). The map is linear, so iterating it on ``V0`` gives the exact mean.

    Parameters
    ----------
    V0 : array_like, shape (..., m, m)
        Initial token covariance.
    depth : int
        ``L >= 0``.
    branch_multiplier : float
        ``a``.
    """
    V = as_covariance(V0, "V0")
    depth = check_integer(depth, "depth", 0)
    multiplier = check_nonnegative(branch_multiplier, "branch_multiplier")
    averaging = causal_averaging_matrix(V.shape[-1])
    for _ in range(depth):
        V = V + multiplier**2 * averaging @ V @ averaging.T
    return V


def mean_offdiagonal_correlation(V):
    """Return the mean of ``V_ab / sqrt(V_aa V_bb)`` over the pairs ``a != b``.

    Raises
    ------
    ValueError
        If ``m < 2`` (no pair) or a token has zero norm (its correlation is undefined).
    """
    V = as_covariance(V)
    m = V.shape[-1]
    if m < 2:
        raise ValueError(f"a mean off-diagonal correlation needs m >= 2 tokens; got m = {m}")
    diagonal = np.diagonal(V, axis1=-2, axis2=-1)
    if np.any(diagonal <= 0):
        raise ValueError("every token needs a positive norm for its correlations; "
                         f"min V_aa = {float(diagonal.min()):.6g}")
    correlation = token_correlation(V)
    off_diagonal = ~np.eye(m, dtype=bool)
    return correlation[..., off_diagonal].mean(axis=-1)


def uniform_attention_recursion():
    """Solve the mean recursion of bidirectional uniform attention with sympy.

    With ``V_l = p I + q_l 1 1^T``, ``U V U = (p / m + q) 1 1^T`` because
    ``1^T V 1 = p m + q m**2``, so ``q_{l+1} = (1 + a**2) q_l + a**2 p / m`` and ``p`` stays.

    Returns
    -------
    dict of sympy.Expr
        ``q_L`` for ``p = 1``, ``q_0 = 0``; the correlation ``rho_L = q_L / (1 + q_L)``; and
        its limit under ``a**2 = a0**2 / L``.
    """
    a, a0, p, q = sympy.symbols("a a0 p q", positive=True)
    tokens = sympy.Symbol("m", positive=True, integer=True)
    depth = sympy.Symbol("L", positive=True, integer=True)
    l = sympy.Symbol("l", integer=True, nonnegative=True)

    ones_quadratic = p * tokens + q * tokens**2          # 1^T (p I + q 1 1^T) 1
    added = sympy.simplify(ones_quadratic / tokens**2)   # U V U = added * 1 1^T
    sequence = sympy.Function("q")
    recursion = sequence(l + 1) - (sequence(l) + a**2 * added.subs(q, sequence(l)))
    solution = sympy.rsolve(recursion.subs(p, 1), sequence(l), {sequence(0): 0})
    q_L = sympy.simplify(solution.subs(l, depth))
    rho_L = sympy.simplify(q_L / (1 + q_L))
    limit = sympy.simplify(sympy.limit(rho_L.subs(a, a0 / sympy.sqrt(depth)), depth, sympy.oo))
    return {"added_mass": added, "q_L": q_L, "rho_L": rho_L, "rho_limit_scaled": limit}


# ---------------------------------------------------------------------------
# Shaped attention to first order
# ---------------------------------------------------------------------------

def softmax_expansion_error(k, order=2):
    """Return the error of the second-order expansion of ``softmax(eps s)`` over ``k`` entries.

    The expansion is, for each entry ``j``::

        softmax(eps s)_j = (1 / k) [1 + eps (s_j - sbar) + eps**2 ((s_j - sbar)**2 - var(s)) / 2] + O(eps**3)

    with ``sbar`` the mean and ``var(s)`` the (population) variance of the ``k`` entries.
    The result is the Taylor series of the difference up to ``eps**order``, which is zero
    when the expansion holds. ``order`` may be 1 or 2.
    """
    k = check_integer(k, "k", 1)
    order = check_integer(order, "order", 1)
    if order > 2:
        raise ValueError(f"order must be 1 or 2; got {order}")
    eps = sympy.Symbol("epsilon")
    scores = sympy.symbols(f"s_1:{k + 1}", real=True)
    mean = sum(scores) / k
    variance = sum((score - mean) ** 2 for score in scores) / k
    softmax = sympy.exp(eps * scores[0]) / sum(sympy.exp(eps * score) for score in scores)
    deviation = scores[0] - mean
    expansion = (1 + eps * deviation + (eps**2 * (deviation**2 - variance) / 2 if order == 2 else 0)) / k
    series = sympy.series(softmax - expansion, eps, 0, order + 1).removeO()
    return sympy.simplify(sympy.expand(series))


def shaped_attention_noise_covariance(V, temperature=1.0):
    """Return the covariance of shaped attention's first-order noise, ``[a, j, c, k]``.

    To first order, causal shaped attention is ``A = I + Ctilde / sqrt(n)`` with
    ``Ctilde[a, j] = (1 / (a tau0)) (Pi_a S[a])_j`` and ``S = X W_Q W_K^T X^T / (n sqrt(n_k))``,
    whose entries have ``Cov(S_ij, S_kl) = V_ik V_jl`` exactly. Hence::

        Cov(Ctilde[a, j], Ctilde[c, k]) = V_ac (Pi_a V Pi_c)_jk / (a c tau0**2).

    MixiT's noise has ``delta_ac (sigma**2 / m) Pi_a[j, k]`` instead
    (:func:`theory.mixit_covariance.mixing_noise_covariance`): rows are independent and the
    covariance does not depend on the tokens. At ``V = I`` the two agree up to the row
    weights ``1 / (a**2 tau0**2)`` against ``sigma**2 / m``.

    Parameters
    ----------
    V : array_like, shape (m, m)
        Token covariance.
    temperature : float
        ``tau0 > 0`` in ``tau = tau0 sqrt(n n_k)``.
    """
    V = as_covariance(V)
    tau0 = check_nonnegative(temperature, "temperature")
    if tau0 == 0:
        raise ValueError("temperature must be > 0; got 0")
    m = V.shape[-1]
    projectors = causal_centring_projectors(m)
    sizes = np.arange(1, m + 1)
    sandwich = np.einsum("aij,...jk,ckl->...acil", projectors, V, projectors)
    weights = V / (sizes[:, None] * sizes[None, :] * tau0**2)
    covariance = weights[..., :, :, None, None] * sandwich
    return np.swapaxes(covariance, -3, -2)


def shaped_attention_noise_drift(V, temperature=1.0):
    """Return ``E[Ctilde V Ctilde^T]``, the mean drift of shaped attention's first-order noise.

    ``(E[Ctilde V Ctilde^T])_ab = V_ab tr(Pi_a V Pi_b V) / (a b tau0**2)``. The trace is
    ``>= 0``, so unlike MixiT's diagonal ``D(V)`` this term moves every off-diagonal entry in
    the direction of its sign. The second-order softmax term adds a further drift of the
    same order ``1 / n``, which this function does not include.
    """
    V = as_covariance(V)
    tau0 = check_nonnegative(temperature, "temperature")
    if tau0 == 0:
        raise ValueError("temperature must be > 0; got 0")
    m = V.shape[-1]
    projectors = causal_centring_projectors(m)
    sizes = np.arange(1, m + 1)
    traces = np.einsum("aij,...jk,bkl,...li->...ab", projectors, V, projectors, V)
    return V * traces / (sizes[:, None] * sizes[None, :] * tau0**2)
