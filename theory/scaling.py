"""Scaling rules: a base constant times powers of the width and depth multipliers."""

from dataclasses import dataclass

import sympy

from theory.symbols import alpha, m_L, m_N


@dataclass(frozen=True)
class ScalingRule:
    """A hyperparameter ``base * m_N**width_exponent * m_L**depth_exponent``.

    The exponents are kept apart from the base constant so that they can be compared,
    fitted and printed on their own. Exponents are sympy expressions, possibly in ``alpha``.

    Parameters
    ----------
    base : sympy.Expr
        Base constant, e.g. ``eta_base`` or ``sigma_base**2``; ``0`` for a quantity that
        is zero at every shape (a bias initialized at zero, no weight decay).
    width_exponent, depth_exponent : sympy.Expr
        Powers of ``m_N`` and ``m_L``.
    """

    base: sympy.Expr
    width_exponent: sympy.Expr = sympy.S.Zero
    depth_exponent: sympy.Expr = sympy.S.Zero

    def __post_init__(self):
        object.__setattr__(self, "base", sympy.sympify(self.base))
        object.__setattr__(self, "width_exponent", sympy.sympify(self.width_exponent))
        object.__setattr__(self, "depth_exponent", sympy.sympify(self.depth_exponent))

    def expression(self):
        """Return the rule as one sympy expression in ``m_N``, ``m_L`` and ``alpha``."""
        return self.base * m_N**self.width_exponent * m_L**self.depth_exponent

    def subs_alpha(self, value):
        """Return the rule with ``alpha`` replaced by ``value`` (a number or expression)."""
        value = sympy.nsimplify(value) if isinstance(value, float) else sympy.sympify(value)
        return ScalingRule(
            self.base,
            sympy.simplify(self.width_exponent.subs(alpha, value)),
            sympy.simplify(self.depth_exponent.subs(alpha, value)),
        )

    def factor(self, width_multiplier, depth_multiplier, alpha_value=None):
        """Evaluate ``m_N**a * m_L**b`` as a float, leaving the base constant out.

        Parameters
        ----------
        width_multiplier, depth_multiplier : float
            ``m_N`` and ``m_L``.
        alpha_value : float, optional
            Needed when an exponent depends on ``alpha``.

        Raises
        ------
        ValueError
            If an exponent still contains ``alpha`` and no ``alpha_value`` is given, or
            if the factor overflows a float.
        """
        exponents = (self.width_exponent, self.depth_exponent)
        if alpha_value is not None:
            exponents = tuple(e.subs(alpha, sympy.nsimplify(alpha_value)) for e in exponents)
        free = set().union(*(e.free_symbols for e in exponents))
        if free:
            names = ", ".join(sorted(str(s) for s in free))
            raise ValueError(f"exponent depends on {names}; pass a value for it")
        width_exponent, depth_exponent = (float(e) for e in exponents)
        try:
            return float(width_multiplier) ** width_exponent * float(depth_multiplier) ** depth_exponent
        except OverflowError:
            raise ValueError(
                f"m_N**{width_exponent:g} * m_L**{depth_exponent:g} overflows a float at "
                f"m_N = {width_multiplier:g}, m_L = {depth_multiplier:g}; use a smaller "
                "exponent or multiplier") from None

    def is_zero(self):
        """Return whether the quantity is zero at every shape."""
        return self.base == 0

    def __str__(self):
        return sympy.sstr(self.expression())
