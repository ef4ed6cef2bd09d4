"""Sympy versions of the MixiT covariance objects, for exact and symbolic checks.

These build the same quantities as :mod:`theory.mixit_covariance` from a sympy matrix, so
that statements of the form "zero exactly when" can be checked in rational arithmetic and the
Ito computations can run on symbols. Indices are 0-based as in the numeric module, while
token ``a`` in the formulas is 1-based.
"""

import itertools

import sympy


def symmetric_matrix(m, name="V"):
    """Return an ``m x m`` symmetric matrix of real symbols ``V_ab``, 1-based labels.

    Diagonal symbols are positive, off-diagonal ones real.
    """
    def entry(i, j):
        a, b = min(i, j) + 1, max(i, j) + 1
        return sympy.Symbol(f"{name}_{a}{b}", positive=(a == b), real=True)

    return sympy.Matrix(m, m, entry)


def centring_projector(a, m):
    """Return ``Pi_a = P_a - 1_a 1_a^T / a`` as an ``m x m`` sympy matrix (``a`` is 1-based)."""
    projector = sympy.zeros(m, m)
    for j in range(a):
        for k in range(a):
            projector[j, k] = (1 if j == k else 0) - sympy.Rational(1, a)
    return projector


def mixing_noise(G):
    """Return the causally masked, row-centred noise ``C`` built from the square matrix ``G``.

    ``C[a, j] = 1{j <= a} (G[a, j] - mean_{k <= a} G[a, k])``.
    """
    m = G.shape[0]
    C = sympy.zeros(m, m)
    for a in range(m):
        mean = sum(G[a, k] for k in range(a + 1)) / (a + 1)
        for j in range(a + 1):
            C[a, j] = G[a, j] - mean
    return C


def mixing_drift(V, sigma):
    """Return ``D(V) = diag((sigma**2 / m) tr(Pi_a V))`` for a sympy matrix ``V``."""
    m = V.shape[0]
    entries = [sigma**2 / m * (centring_projector(a, m) * V).trace() for a in range(1, m + 1)]
    return sympy.diag(*[sympy.expand(entry) for entry in entries])


def sigma_lin(V, a, b, c, d):
    """Return ``Sigma_lin(V)[a, b, c, d] = V_ac V_bd + V_ad V_bc`` (0-based indices)."""
    return V[a, c] * V[b, d] + V[a, d] * V[b, c]


def sigma_mix(V, sigma, a, b, c, d):
    """Return ``Sigma_mix(V)[a, b, c, d]`` (0-based indices), as in
    :func:`theory.mixit_covariance.sigma_mix`."""
    m = V.shape[0]

    def sandwich(token):
        return V * centring_projector(token + 1, m) * V

    total = 0
    if a == c:
        total += sandwich(a)[b, d]
    if a == d:
        total += sandwich(a)[b, c]
    if b == c:
        total += sandwich(b)[a, d]
    if b == d:
        total += sandwich(b)[a, c]
    return sympy.expand(sigma**2 / m * total)


def triu_pairs(m):
    """Return the SDE coordinates ``(a, b)``, ``a <= b``, in ``numpy.triu_indices`` order."""
    return [(a, b) for a in range(m) for b in range(a, m)]


def sde_coefficients(V, sigma, gamma, c_lin, heads=1):
    """Return ``(coordinates, drift, covariance)`` of the SDE on the upper triangle of ``V``.

    Drift ``gamma**2 H D(V)`` and covariance ``c_lin Sigma_lin + gamma**4 Sigma_mix``, as
    sympy matrices on the coordinates ``V[a, b]``, ``a <= b``.
    """
    m = V.shape[0]
    pairs = triu_pairs(m)
    coordinates = [V[a, b] for a, b in pairs]
    drift_matrix = gamma**2 * heads * mixing_drift(V, sigma)
    drift = sympy.Matrix([drift_matrix[a, b] for a, b in pairs])
    covariance = sympy.Matrix(len(pairs), len(pairs), lambda i, j: (
        c_lin * sigma_lin(V, *pairs[i], *pairs[j])
        + gamma**4 * sigma_mix(V, sigma, *pairs[i], *pairs[j])))
    return coordinates, drift, covariance


def ito_generator(function, coordinates, drift, covariance):
    """Return the drift and the variance rate of ``f(V_t)`` by Ito's formula.

    For ``dV = b dt + Sigma**(1/2) dB``: ``df = (grad f . b + tr(Hess f Sigma) / 2) dt``
    plus a martingale of rate ``grad f^T Sigma grad f``.
    """
    gradient = sympy.Matrix([sympy.diff(function, x) for x in coordinates])
    hessian = sympy.hessian(function, coordinates)
    drift_rate = gradient.dot(drift) + (hessian * covariance).trace() / 2
    variance_rate = (gradient.T * covariance * gradient)[0, 0]
    return drift_rate, variance_rate


def gaussian_expectation(expression, variances):
    """Return ``E[expression]`` for independent centred Gaussians with the given variances.

    ``expression`` must be a polynomial in the Gaussian symbols, which are the keys of
    ``variances``. Each monomial is replaced by the product of the moments
    ``E[z**k] = variance**(k/2) (k - 1)!!`` for even ``k`` and 0 for odd ``k``.
    """
    generators = list(variances)
    polynomial = sympy.Poly(expression, *generators)
    total = sympy.S.Zero
    for powers, coefficient in polynomial.terms():
        moment = coefficient
        for symbol, power in zip(generators, powers):
            if power % 2:
                moment = sympy.S.Zero
                break
            moment *= variances[symbol] ** (power // 2) * sympy.factorial2(power - 1)
        total += moment
    return sympy.expand(total)


def exact_one_step_mean(m, n, gamma, sigma):
    """Return ``(V, E[V' | X])`` for the block with symbolic tokens, by Gaussian moments.

    Builds ``X`` (``m x n`` real symbols), ``W`` (``n x n``) and the raw noise ``G``, forms
    ``V' = X' X'^T / n`` for ``X' = sqrt(1 - gamma**2) X + gamma (I + C / sqrt(n)) X W / sqrt(n)``
    and takes the expectation over ``W`` and ``G`` exactly. Meant for small ``m`` and ``n``:
    the expansion grows fast.
    """
    X = sympy.Matrix(m, n, lambda i, j: sympy.Symbol(f"x_{i + 1}{j + 1}", real=True))
    W = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"w_{i + 1}{j + 1}", real=True))
    G = sympy.Matrix(m, m, lambda i, j: sympy.Symbol(f"g_{i + 1}{j + 1}", real=True)
                     if j <= i else sympy.S.Zero)
    variances = {W[i, j]: sympy.S.One for i, j in itertools.product(range(n), range(n))}
    variances.update({G[i, j]: sigma**2 / m for i in range(m) for j in range(i + 1)})

    # Plain symbols for lambda_skip and 1 / sqrt(n) keep the polynomial coefficients simple;
    # their values go in after the expectation.
    skip = sympy.Symbol("lambda_skip")
    inverse_root = sympy.Symbol("r")
    values = {skip: sympy.sqrt(1 - gamma**2), inverse_root: 1 / sympy.sqrt(n)}
    A = sympy.eye(m) + mixing_noise(G) * inverse_root
    X_next = skip * X + gamma * A * X * W * inverse_root
    V = X * X.T / n
    V_next = X_next * X_next.T / n
    mean = sympy.Matrix(m, m, lambda i, j: sympy.expand(
        gaussian_expectation(V_next[i, j], variances).subs(values)) if i <= j else sympy.S.Zero)
    for i, j in itertools.product(range(m), range(m)):
        if i > j:
            mean[i, j] = mean[j, i]
    return V.applyfunc(sympy.expand), mean
