"""Symbols shared by the derivations.

The first group follows the CompleteP paper (Dey et al. 2025, arXiv 2505.01618): width N and
depth L enter only through the multipliers ``m_N = N / N_base`` and ``m_L = L / L_base``, and
the residual branches are scaled by ``m_L**-alpha``.

The second group belongs to the MixiT signal-propagation derivation (Dong, Noci, Khodak, Li
2025, arXiv 2506.01115): ``m`` tokens of width ``n`` mixed by ``I + C / sqrt(n)`` inside the
residual block ``lambda_skip * X + gamma * A X W / sqrt(n)``.
"""

import sympy

alpha = sympy.Symbol("alpha", real=True)
"""Residual exponent: each branch is multiplied by ``m_L**-alpha``."""

m_N = sympy.Symbol("m_N", positive=True)
"""Width multiplier ``N / N_base``."""

m_L = sympy.Symbol("m_L", positive=True)
"""Depth multiplier ``L / L_base``."""

L = sympy.Symbol("L", positive=True)
"""Depth (number of residual blocks) in the asymptotic bookkeeping."""

sigma_base = sympy.Symbol("sigma_base", positive=True)
"""Base initialization standard deviation."""

eta_base = sympy.Symbol("eta_base", positive=True)
"""Base learning rate."""

lambda_base = sympy.Symbol("lambda_base", nonnegative=True)
"""Base weight decay."""

epsilon_base = sympy.Symbol("epsilon_base", positive=True)
"""Base Adam epsilon."""

c = sympy.Symbol("c", real=True)
"""Depth exponent of an in-block learning rate, ``eta proportional to L**c``."""


# MixiT signal propagation.

n = sympy.Symbol("n", positive=True)
"""Width of the token representations (the head width in a one-head block)."""

m = sympy.Symbol("m", positive=True, integer=True)
"""Number of tokens, the sequence length ``T`` of the simulations."""

gamma = sympy.Symbol("gamma", positive=True)
"""Branch weight of the residual block; ``lambda_skip**2 + gamma**2 = 1``."""

lambda_skip = sympy.Symbol("lambda_skip", positive=True)
"""Skip weight of the residual block."""

sigma = sympy.Symbol("sigma", positive=True)
"""Scale of the mixing noise: each raw entry has variance ``sigma**2 / m``."""

H = sympy.Symbol("H", positive=True)
"""Number of attention heads, each of width ``n / H``."""

t = sympy.Symbol("t", nonnegative=True)
"""SDE time, depth over width (``l / n``)."""

c_lin = sympy.Symbol("c_lin", positive=True)
"""Coefficient of the linear (Wishart) diffusion ``c_lin * Sigma_lin``."""

rho = sympy.Symbol("rho", real=True)
"""Correlation between two tokens."""

y = sympy.Symbol("y", real=True)
"""``artanh(rho)``."""

s = sympy.Symbol("s", positive=True)
"""Norm ratio ``sqrt(V_11 / V_22)`` of two tokens."""
