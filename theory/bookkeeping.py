"""Depth bookkeeping: leading powers of L for sums, optimizer steps and Taylor terms.

Every function takes and returns exponents ``e`` of ``Theta(L**e)`` as sympy expressions.
A size exponent refers to a norm per coordinate and a variance exponent to its square,
so a variance exponent is twice the size exponent of the same quantity.
"""

import sympy


def independent_sum_variance(term_variance, count=sympy.S.One):
    """Variance exponent of a sum of ``L**count`` independent centred terms.

    Independent centred terms add in variance:
    ``Var(sum_l X_l) = L**count * L**term_variance``.
    """
    return sympy.sympify(count) + sympy.sympify(term_variance)


def coherent_sum_size(term_size, count=sympy.S.One):
    """Size exponent of a sum of ``L**count`` aligned terms.

    Aligned terms add in size: ``|sum_l X_l| = L**count * L**term_size``.
    """
    return sympy.sympify(count) + sympy.sympify(term_size)


def adam_step_size(lr):
    """Entry size exponent of one Adam step: the learning rate's exponent alone.

    Adam divides the first moment by the root of the second, so every entry of the
    update is of order one whatever the gradient's scale, and a parameter moves by
    ``Theta(eta)``. At the first step the update is ``eta * g / (|g| + eps)``, which is
    ``eta * sign(g)`` when ``eps`` is small against ``|g|``.
    """
    return sympy.sympify(lr)


def sgd_step_size(lr, gradient):
    """Entry size exponent of one SGD step, ``eta * g``: the two exponents add."""
    return sympy.sympify(lr) + sympy.sympify(gradient)


def taylor_orders(step, weight_matrices):
    """Size exponents of the first- and second-order change of a block in its own weights.

    Parameters
    ----------
    step : sympy.Expr
        Size exponent of the change of each weight entry (after the width rules, a
        change of the block's output of the same order).
    weight_matrices : int
        Number of weight matrices in the block. With two, ``F = W2 phi(W1 u)``, the
        second-order term contains ``dW2 (phi'(W1 u) * (dW1 u))``, bilinear in the two
        changes and non-zero even for a piecewise-linear ``phi``. With one,
        ``F = W phi(u)``, the block is linear in its weight and the second-order term
        vanishes identically, returned as ``-oo``.

    Returns
    -------
    first, second : sympy.Expr
    """
    step = sympy.sympify(step)
    if weight_matrices >= 2:
        return step, 2 * step
    return step, sympy.S.NegativeInfinity
