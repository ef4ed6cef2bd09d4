"""Symbols shared by the derivations.

The names follow the CompleteP paper (Dey et al. 2025, arXiv 2505.01618): width N and depth L
enter only through the multipliers ``m_N = N / N_base`` and ``m_L = L / L_base``, and the
residual branches are scaled by ``m_L**-alpha``.
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
