"""Depth exponents of the alpha family, derived from three desiderata.

The residual stream of a pre-LN network with ``L`` blocks is
``h^{l+1} = h^l + L**-alpha * F_l(h^l)`` (Dey et al. 2025, arXiv 2505.01618, Table 1
with ``m_L = L / L_base``). The three desiderata D1 (stable initialization), D2 (maximal
residual-stream update) and D3 (complete feature learning) are stated in ``DESIDERATA``.

Each step below is exponent arithmetic on ``Theta(L**e)`` with the rules of
:mod:`theory.bookkeeping`; width exponents are taken from muP as a premise.
"""

import functools

import sympy

from theory import bookkeeping
from theory.derivation import Derivation, Premise, Step
from theory.symbols import alpha, c

DESIDERATA = (
    ("D1, stable initialization",
     "||h^L - h^0||**2 / N stays bounded as the depth L grows."),
    ("D2, maximal residual-stream update",
     "one training step moves h^L by Theta(1), and no block's own output moves by an "
     "amount that grows with L."),
    ("D3, complete feature learning",
     "the second-order change of every block in its own weights is of the same order in L "
     "as its first-order change, so that no block trains in its linearized (lazy) regime."),
)

OPTIMIZERS = ("adam", "adamw", "sgd")
"""Step rules: AdamW steps like Adam, its decoupled decay aside."""

PREMISES = (
    Premise(
        "P1",
        "independent branches at initialization",
        "At initialization every block output F_l is centred and of order one per "
        "coordinate, because the pre-LN normalizes each block's input, and the F_l are "
        "uncorrelated across l, because the blocks' weights are drawn independently.",
    ),
    Premise(
        "P2",
        "coherent updates",
        "After a training step the changes of the L block outputs are driven by the same "
        "loss gradient, so they are aligned and add in size, not in variance.",
    ),
    Premise(
        "P3",
        "Adam is sign-like",
        "Adam divides the first moment by the root of the second, so each entry of its "
        "update is of order one whatever the gradient's scale and a parameter moves by "
        "Theta(eta).",
    ),
    Premise(
        "P4",
        "SGD is gradient-proportional",
        "SGD moves a parameter by eta times its gradient.",
    ),
    Premise(
        "P5",
        "the branch multiplier enters the backward pass",
        "A block's output reaches the stream only through L**-alpha * F_l, so the gradient "
        "of the loss with respect to any in-block parameter carries the factor L**-alpha "
        "once; the stream's own backward signal is of order one in depth.",
    ),
    Premise(
        "P6",
        "two weight matrices per block",
        "Each block is F = W2 phi(W1 LN(h)) plus biases. Its second-order change in its "
        "own weights contains dW2 (phi'(W1 u) * dW1 u), which is non-zero even for a "
        "piecewise-linear phi. A one-matrix block W phi(LN(h)) is linear in its weight.",
    ),
    Premise(
        "P7",
        "muP width exponents",
        "Width exponents are those of muP as the mup package implements them "
        "(microsoft/mup, mup/optim.py): hidden init variance m_N**-1, unembedding forward "
        "multiplier m_N**-1, Adam learning rate m_N**-1 for hidden matrices, SGD learning "
        "rate m_N for vector-like parameters; Table 1 of the CompleteP paper adds Adam "
        "epsilon m_N**-1 for in-block parameters. Every per-coordinate change is then of order one in width, and depth can be "
        "counted at fixed width.",
    ),
    Premise(
        "P8",
        "outside parameters act once",
        "The embedding, the final LayerNorm and the unembedding are applied once, not L "
        "times, and the stream's backward signal is of order one in depth, so their "
        "gradients and their effect on the output carry no power of L.",
    ),
    Premise(
        "P9",
        "weight decay has no depth factor",
        "The decoupled weight decay lambda_wd of hidden weights carries the inverse of "
        "the learning rate's width factor, so that eta * lambda_wd is width-independent, "
        "and no depth factor.",
    ),
)


def depth_exponents(alpha_value, optimizer="adam", lr_exponent=None, weight_matrices=2):
    """Predict the depth exponents of a network from its alpha and in-block learning rate.

    Parameters
    ----------
    alpha_value : number or sympy.Expr
        Residual exponent; the branch multiplier is ``L**-alpha``.
    optimizer : {"adam", "adamw", "sgd"}
        Optimizer whose step rule applies; AdamW steps like Adam.
    lr_exponent : number or sympy.Expr, optional
        Depth exponent ``c`` of the in-block learning rate. By default the one that
        D2 selects: ``alpha - 1`` for Adam, ``2 alpha - 1`` for SGD.
    weight_matrices : int
        Weight matrices per block (see :func:`theory.bookkeeping.taylor_orders`).

    Returns
    -------
    dict of sympy.Expr
        ``init_branch_variance``: ``||h^L - h^0||**2 / N`` at initialization (1 - 2 alpha);
        ``gradient_entry``: an in-block gradient entry (-alpha);
        ``block_change``: a block's own output change after one step;
        ``stream_update_variance``: ``||Delta h^L||**2 / N`` from the blocks' updates;
        ``laziness_ratio``: ``||Delta F - Delta F_lin|| / ||Delta F_lin||``;
        ``remainder_over_output``: ``||Delta F - Delta F_lin|| / ||F||``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    a = sympy.nsimplify(alpha_value) if isinstance(alpha_value, float) else sympy.sympify(alpha_value)
    r = -a
    gradient = r

    if lr_exponent is None:
        lr_exponent = _derived_lr_exponent(a, optimizer)
    lr_exponent = sympy.nsimplify(lr_exponent) if isinstance(lr_exponent, float) else sympy.sympify(lr_exponent)

    if optimizer in ("adam", "adamw"):
        step = bookkeeping.adam_step_size(lr_exponent)
    else:
        step = bookkeeping.sgd_step_size(lr_exponent, gradient)
    first, second = bookkeeping.taylor_orders(step, weight_matrices)
    stream_update_size = bookkeeping.coherent_sum_size(r + first)

    return {
        "init_branch_variance": bookkeeping.independent_sum_variance(2 * r),
        "gradient_entry": gradient,
        "block_change": first,
        "stream_update_variance": sympy.simplify(2 * stream_update_size),
        "laziness_ratio": sympy.simplify(second - first),
        "remainder_over_output": sympy.simplify(second),
    }


def _derived_lr_exponent(a, optimizer):
    results = derive().results()
    key = "sgd_lr_depth_exponent" if optimizer == "sgd" else "adam_lr_depth_exponent"
    return results[key].subs(alpha, a)


@functools.lru_cache(maxsize=1)
def derive():
    """Derive the depth exponents of CompleteP's alpha family, step by step.

    Returns
    -------
    Derivation
        Premises ``P1`` to ``P9`` and the steps. :meth:`Derivation.results` contains the
        admissible interval, the learning-rate, epsilon and weight-decay exponents and
        the laziness exponent as sympy expressions in ``alpha``.
    """
    r = -alpha
    reals = sympy.S.Reals
    steps = []

    # D1: the branch outputs at initialization are independent, so they add in variance.
    init_variance = bookkeeping.independent_sum_variance(2 * r)
    lower = sympy.solveset(init_variance <= 0, alpha, reals)
    steps.append(Step(
        "stable initialization (D1)",
        ("P1",),
        "At initialization h^L - h^0 is a sum of L independent centred terms "
        "L**-alpha F_l, each of variance L**(-2 alpha) per coordinate, so the variances add.",
        (
            ("variance exponent of ||h^L - h^0||**2 / N", init_variance),
            ("D1 requires", sympy.Le(init_variance, 0)),
        ),
        {"init_branch_variance_exponent": init_variance, "d1_alpha_set": lower},
    ))

    # D2 for Adam: the blocks' changes are aligned, so they add in size.
    adam_step = bookkeeping.adam_step_size(c)
    adam_total = bookkeeping.coherent_sum_size(r + adam_step)
    adam_c = sympy.solve(sympy.Eq(adam_total, 0), c)[0]
    steps.append(Step(
        "maximal update under Adam (D2)",
        ("P2", "P3", "P7"),
        "An in-block learning rate eta ~ L**c moves each weight entry by Theta(L**c), and "
        "with the muP width rules the block's output moves by the same order. The block "
        "adds L**-alpha times that to the stream, and the L aligned contributions add in "
        "size. D2 asks for a total of order one.",
        (
            ("entry change", adam_step),
            ("one block's contribution to Delta h^L", r + adam_step),
            ("L coherent contributions", adam_total),
            ("D2 requires", sympy.Eq(adam_total, 0)),
        ),
        {"adam_lr_depth_exponent": adam_c},
    ))

    # Upper end of the admissible interval: the block-internal change must not grow.
    block_change = adam_step.subs(c, adam_c)
    upper = sympy.solveset(block_change <= 0, alpha, reals)
    admissible = sympy.Intersection(lower, upper)
    steps.append(Step(
        "bounded block-internal change (D2)",
        ("P3",),
        "At that learning rate each block's own output moves by Theta(L**(alpha - 1)); "
        "for alpha > 1 the blocks would have to move by an amount that grows with depth "
        "to deliver their share of the update.",
        (
            ("block-internal change exponent", block_change),
            ("bounded requires", sympy.Le(block_change, 0)),
        ),
        {
            "block_change_exponent": block_change,
            "d2_alpha_set": upper,
            "admissible_alpha": admissible,
        },
    ))

    # D2 for SGD: the gradient carries the branch multiplier once.
    sgd_step = bookkeeping.sgd_step_size(c, r)
    sgd_total = bookkeeping.coherent_sum_size(r + sgd_step)
    sgd_c = sympy.solve(sympy.Eq(sgd_total, 0), c)[0]
    steps.append(Step(
        "maximal update under SGD (D2)",
        ("P2", "P4", "P5", "P7"),
        "Under SGD an in-block weight moves by eta times its gradient, and the gradient "
        "carries L**-alpha, so the step has one more factor L**-alpha than under Adam.",
        (
            ("in-block gradient entry", r),
            ("entry change", sgd_step),
            ("L coherent contributions", sgd_total),
            ("D2 requires", sympy.Eq(sgd_total, 0)),
            ("block-internal change at that rate", sympy.simplify(sgd_step.subs(c, sgd_c))),
        ),
        {"sgd_lr_depth_exponent": sgd_c},
    ))

    # D3: compare the second-order change with the first-order one.
    first, second = bookkeeping.taylor_orders(block_change, weight_matrices=2)
    ratio = sympy.simplify(second - first)
    complete = sympy.Intersection(sympy.solveset(sympy.Eq(ratio, 0), alpha, reals), admissible)
    _, second_one_matrix = bookkeeping.taylor_orders(block_change, weight_matrices=1)
    steps.append(Step(
        "complete feature learning (D3)",
        ("P6",),
        "A block's change in its own weights has a first-order term of the order of the "
        "weight change and, with two weight matrices, a second-order term of its square. "
        "Both reach the stream through L**-alpha. When the exponent of their ratio is "
        "negative, the ratio vanishes with depth and the block trains in its linearized "
        "regime; D3 asks for an exponent of zero.",
        (
            ("one block's first-order contribution to Delta h^L", sympy.simplify(r + first)),
            ("one block's second-order contribution to Delta h^L", sympy.simplify(r + second)),
            ("second order over first order", ratio),
            ("D3 requires", sympy.Eq(ratio, 0)),
            ("with one weight matrix the second-order exponent is", second_one_matrix),
        ),
        {"laziness_ratio_exponent": ratio, "complete_alpha": complete},
    ))

    # Epsilon tracks the gradient entries it is added to.
    steps.append(Step(
        "Adam epsilon",
        ("P5", "P7", "P8"),
        "Epsilon only keeps its role against sqrt(v) if it scales like the gradient "
        "entries of its parameters. In-block entries scale as m_N**-1 L**-alpha; outside "
        "the blocks the gradient carries no power of L.",
        (
            ("in-block gradient entry, depth", r),
            ("outside gradient entry, depth", sympy.S.Zero),
        ),
        {"eps_depth_exponent": r},
    ))

    # Decoupled weight decay shrinks a weight by eta * lambda_wd per step.
    steps.append(Step(
        "per-step decoupled weight decay",
        ("P9",),
        "AdamW multiplies each hidden weight by 1 - eta * lambda_wd per step, so the "
        "per-step decay has the learning rate's depth exponent.",
        (
            ("Adam: exponent of eta * lambda_wd", adam_c),
            ("SGD: exponent of eta * lambda_wd", sgd_c),
        ),
        {"adamw_decay_depth_exponent": adam_c, "sgd_decay_depth_exponent": sgd_c},
    ))

    return Derivation(
        "CompleteP: depth exponents of the alpha family, derived from D1, D2 and D3",
        PREMISES,
        tuple(steps),
        DESIDERATA,
    )
