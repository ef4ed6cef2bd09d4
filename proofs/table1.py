"""Table 1 of the CompleteP paper, transcribed as data.

Source: N. Dey et al., "Don't be lazy: CompleteP enables compute-efficient deep
transformers", arXiv 2505.01618, Table 1 ("Summary of SP, muP, and alpha in {0.5, 1} for a
pre-LN transformer language model"), as published with the reference implementation:
repository EleutherAI/nanoGPT-mup, branch ``completep`` (commit 6f8bc3b, May 2025), file
``assets/parameterization_summary.png``, whose README says the code implements that table.

Every entry is written as the table prints it, in the symbols of
:mod:`theory.symbols`. "Hidden" means every linear layer inside the residual blocks.
The AdamW epsilon row applies to the residual blocks only; the table has no SGD column.

The claims ledger simulates AdamW with these learning rates, not with the derived table,
so that a measured exponent never comes from the table it tests.
"""

from dataclasses import dataclass, replace

import sympy

from theory.parameterization import IN_BLOCK_GROUPS, build_table
from theory.scaling import ScalingRule
from theory.symbols import alpha, epsilon_base, eta_base, lambda_base, m_L, m_N, sigma_base

SOURCE = ("Dey et al. 2025, arXiv 2505.01618, Table 1; transcribed from "
          "EleutherAI/nanoGPT-mup@6f8bc3b:assets/parameterization_summary.png")

COLUMNS = ("sp", "mup", "alpha")


@dataclass(frozen=True)
class Table1Row:
    """One printed row of Table 1.

    Attributes
    ----------
    label : str
        The row's label as printed.
    keys : tuple of str
        Rows of :meth:`theory.parameterization.ParameterizationTable.rows` that it sets,
        e.g. ``("hidden_weight.lr",)``; the epsilon row sets all in-block groups.
    entries : dict
        Column (``"sp"``, ``"mup"``, ``"alpha"``) to the printed sympy expression.
    """

    label: str
    keys: tuple
    entries: dict


def _row(label, keys, sp, mup, alpha_family):
    return Table1Row(label, tuple(keys), {"sp": sp, "mup": mup, "alpha": alpha_family})


sigma2 = sigma_base**2

ROWS = (
    _row("Embed Init. Var.", ["embedding.init_variance"], sigma2, sigma2, sigma2),
    _row("Embed LR (AdamW)", ["embedding.lr"], eta_base, eta_base, eta_base),
    _row("Pre-LN Init. Var.", ["pre_ln.init_variance"], sigma2, sigma2, sigma2),
    _row("Pre-LN LR (AdamW)", ["pre_ln.lr"], eta_base, eta_base, eta_base * m_L**(alpha - 1)),
    _row("Hidden Init. Var.", ["hidden_weight.init_variance"],
         sigma2, sigma2 * m_N**-1, sigma2 * m_N**-1),
    _row("Hidden LR (AdamW)", ["hidden_weight.lr"],
         eta_base, eta_base * m_N**-1, eta_base * m_N**-1 * m_L**(alpha - 1)),
    _row("Hidden Bias LR (AdamW)", ["hidden_bias.lr"],
         eta_base, eta_base, eta_base * m_L**(alpha - 1)),
    _row("Hidden WD (AdamW)", ["hidden_weight.weight_decay"],
         lambda_base, lambda_base * m_N, lambda_base * m_N),
    _row("MHA Residual and MLP Residual (branch multiplier)", ["multiplier.residual"],
         sympy.S.One, sympy.S.One, m_L**-alpha),
    _row("Final-LN Init. Var.", ["final_ln.init_variance"], sigma2, sigma2, sigma2),
    _row("Final-LN LR (AdamW)", ["final_ln.lr"], eta_base, eta_base, eta_base),
    _row("Unembed Init. Var.", ["unembedding.init_variance"], sigma2, sigma2, sigma2),
    _row("Unembed LR (AdamW)", ["unembedding.lr"], eta_base, eta_base, eta_base),
    _row("Unembed Fwd. (logit multiplier)", ["multiplier.unembedding_forward"],
         sympy.S.One, m_N**-1, m_N**-1),
    _row("AdamW eps (residual blocks)", [f"{group}.eps" for group in IN_BLOCK_GROUPS],
         epsilon_base, epsilon_base * m_N**-1, epsilon_base * m_N**-1 * m_L**-alpha),
)

NORM_INIT_KEYS = ("pre_ln.init_variance", "final_ln.init_variance")
"""Rows whose base constant is not compared: the table prints sigma_base**2 for the
LayerNorm init, while LayerNorm gains start at one and biases at zero, here and in the
reference implementation; only the absence of width and depth factors is compared."""


def as_rule(expression):
    """Split a printed entry into a :class:`~theory.scaling.ScalingRule`.

    The entry must be a monomial ``base * m_N**a * m_L**b``; the exponents may depend on
    ``alpha``.
    """
    expression = sympy.sympify(expression)
    # Split powers of products, e.g. (m_L m_N)**alpha, into one power per base. No
    # simplification follows, since powsimp would merge m_N**alpha * m_L**alpha back.
    factors = sympy.Mul.make_args(sympy.expand_power_base(expression, force=True))
    width_exponent = sympy.S.Zero
    depth_exponent = sympy.S.Zero
    base = sympy.S.One
    for factor in factors:
        root, exponent = factor.as_base_exp()
        if root == m_N:
            width_exponent += exponent
        elif root == m_L:
            depth_exponent += exponent
        else:
            base *= factor
    return ScalingRule(base, width_exponent, depth_exponent)


def table1_column(parameterization, alpha_value=None, eps_mode="table"):
    """Return an AdamW table column in which every row that Table 1 prints is transcribed.

    Rows on which Table 1 is silent (weight decay of other groups, epsilon outside the
    blocks, the zero init of hidden biases) keep the suite's stated choices from
    :func:`theory.parameterization.build_table`.

    Parameters
    ----------
    parameterization : {"sp", "mup", "alpha"}
    alpha_value : number, optional
        Substituted for ``alpha`` in the alpha family.
    eps_mode : {"table", "global"}
    """
    if parameterization not in COLUMNS:
        raise ValueError(f"unknown Table 1 column {parameterization!r}; valid: {', '.join(COLUMNS)}")
    table = build_table(parameterization, "adamw", eps_mode=eps_mode)
    entries = dict(table.entries)
    multipliers = dict(table.multipliers)
    for row in ROWS:
        rule = as_rule(row.entries[parameterization])
        for key in row.keys:
            group, quantity = key.split(".")
            if group == "multiplier":
                multipliers[quantity] = rule
            elif quantity == "eps" and eps_mode == "global":
                continue
            else:
                entries[(group, quantity)] = rule
    table = replace(table, entries=entries, multipliers=multipliers)
    if alpha_value is not None:
        table = table.subs_alpha(alpha_value)
    return table


@dataclass(frozen=True)
class RowComparison:
    """The comparison of one derived row with its Table 1 entry."""

    label: str
    key: str
    column: str
    table1: str
    derived: str
    agrees: bool


def compare_with_derived(derived_tables=None):
    """Compare the derived AdamW table with Table 1, row by row and column by column.

    A row agrees when its width exponent, depth exponent (as expressions in ``alpha``) and
    base constant are equal; for the LayerNorm init rows only the exponents are compared.

    Parameters
    ----------
    derived_tables : dict, optional
        Column name to a :class:`~theory.parameterization.ParameterizationTable`, by
        default :func:`~theory.parameterization.build_table` of each column with
        ``alpha`` symbolic. Passing a modified table is how a test shows that the check
        can fail.

    Returns
    -------
    list of RowComparison
    """
    if derived_tables is None:
        derived_tables = {column: build_table(column, "adamw") for column in COLUMNS}
    comparisons = []
    for row in ROWS:
        for column in COLUMNS:
            expected = as_rule(row.entries[column])
            derived_rows = dict(derived_tables[column].rows())
            for key in row.keys:
                derived = derived_rows[key]
                agrees = (
                    sympy.simplify(derived.width_exponent - expected.width_exponent) == 0
                    and sympy.simplify(derived.depth_exponent - expected.depth_exponent) == 0
                    and (key in NORM_INIT_KEYS or sympy.simplify(derived.base - expected.base) == 0)
                )
                comparisons.append(RowComparison(
                    row.label, key, column, sympy.sstr(expected.expression()),
                    sympy.sstr(derived.expression()), bool(agrees),
                ))
    return comparisons
