"""The parameterization table: every group's init, learning rate, epsilon and weight decay.

Rows follow Table 1 of Dey et al. 2025 (arXiv 2505.01618) for a pre-LN network; the
columns are SP, muP and the alpha family (alpha = 1/2 is depth-muP, alpha = 1 is CompleteP),
each for AdamW and for SGD. The depth exponents come from :func:`theory.completep.derive`
and the width exponents from muP (premise P7 there), so nothing here restates a rule by
hand.

Where Table 1 is silent this table makes a stated choice:

* epsilon of the embedding, final LayerNorm and unembedding is ``epsilon_base`` with no
  factor; ``eps_mode="global"`` instead gives every group the in-block epsilon, as the
  reference implementation (EleutherAI/nanoGPT-mup, branch ``completep``) does with its
  single optimizer-wide epsilon;
* weight decay is ``lambda_base`` for the embedding and unembedding matrices and zero for
  LayerNorm parameters and biases;
* hidden biases start at zero and LayerNorm gains at one. Table 1 lists the pre-LN and
  final-LN init variance as ``sigma_base**2``; here only the absence of width and depth
  factors is taken from that row.

The SGD column has the same init rows and multipliers. Its learning rates use the SGD
depth exponent ``2 alpha - 1`` and muP's SGD width exponents. In both columns the weight
decay of a matrix carries the inverse of its learning rate's width factor, so that the
per-step decay ``eta * lambda_wd`` does not depend on width.
"""

from dataclasses import dataclass, field, replace

import sympy

from theory.completep import derive
from theory.scaling import ScalingRule
from theory.symbols import alpha, epsilon_base, eta_base, lambda_base, sigma_base

PARAMETERIZATIONS = ("sp", "mup", "alpha")
TABLE_OPTIMIZERS = ("adamw", "sgd")
EPS_MODES = ("table", "global")

GROUPS = ("embedding", "pre_ln", "hidden_weight", "hidden_bias", "final_ln", "unembedding")
"""Parameter groups of Table 1; a residual MLP's read-in matrix is in ``embedding``."""

IN_BLOCK_GROUPS = ("pre_ln", "hidden_weight", "hidden_bias")
"""Groups whose parameters sit inside the residual blocks and get depth factors."""

QUANTITIES = ("init_variance", "lr", "eps", "weight_decay")
MULTIPLIERS = ("residual", "unembedding_forward")

# Width exponents of muP with the unembedding multiplier m_N**-1 (premise P7 of the
# derivation), as the mup package implements them (microsoft/mup, mup/optim.py): MuAdam
# divides the learning rate of matrix-like parameters by the width multiplier, MuSGD
# multiplies that of vector-like parameters (one dimension that grows with width:
# embeddings, biases, LayerNorm and the readout) by it. Both scale weight decay inversely
# to the learning rate, so that eta * lambda_wd does not depend on width.
_MUP_INIT_VARIANCE_WIDTH = {"hidden_weight": -1}
_MUP_LR_WIDTH = {
    "adamw": {"hidden_weight": -1},
    "sgd": {
        "embedding": 1, "pre_ln": 1, "hidden_bias": 1, "final_ln": 1, "unembedding": 1,
    },
}
_MUP_EPS_WIDTH = -1


@dataclass(frozen=True)
class ParameterizationTable:
    """One column of the parameterization table.

    Parameters
    ----------
    parameterization : {"sp", "mup", "alpha"}
    optimizer : {"adamw", "sgd"}
    alpha : sympy.Expr
        The residual exponent: ``0`` for SP and muP, the symbol ``alpha`` or a number for
        the alpha family.
    entries : dict
        ``(group, quantity) -> ScalingRule``; the ``eps`` entries are absent under SGD.
    multipliers : dict
        ``"residual"`` (branch multiplier) and ``"unembedding_forward"`` (logit
        multiplier) as ``ScalingRule`` with base ``1``.
    eps_mode : {"table", "global"}
    """

    parameterization: str
    optimizer: str
    alpha: sympy.Expr
    entries: dict = field(default_factory=dict)
    multipliers: dict = field(default_factory=dict)
    eps_mode: str = "table"

    def entry(self, group, quantity):
        """Return the ``ScalingRule`` of one group's quantity.

        Raises
        ------
        KeyError
            If the group or quantity is unknown, or ``eps`` is asked of an SGD table.
        """
        key = (group, quantity)
        if key not in self.entries:
            raise KeyError(f"no entry {quantity!r} for group {group!r} in the "
                           f"{self.parameterization}/{self.optimizer} table")
        return self.entries[key]

    def subs_alpha(self, value):
        """Return the table with the symbol ``alpha`` replaced by ``value``."""
        value = sympy.nsimplify(value) if isinstance(value, float) else sympy.sympify(value)
        return replace(
            self,
            alpha=sympy.sympify(self.alpha).subs(alpha, value),
            entries={key: rule.subs_alpha(value) for key, rule in self.entries.items()},
            multipliers={key: rule.subs_alpha(value) for key, rule in self.multipliers.items()},
        )

    def with_depth_exponent(self, groups, quantity, exponent):
        """Return the table with the depth exponent of ``quantity`` replaced in ``groups``.

        Used to test candidate exponents against simulation, for instance a scan over the
        in-block SGD learning-rate exponent.
        """
        entries = dict(self.entries)
        for group in groups:
            rule = self.entry(group, quantity)
            entries[(group, quantity)] = replace(rule, depth_exponent=sympy.sympify(exponent))
        return replace(self, entries=entries)

    def rows(self):
        """Yield ``(row name, ScalingRule)`` for every entry and multiplier."""
        for (group, quantity), rule in self.entries.items():
            yield f"{group}.{quantity}", rule
        for name, rule in self.multipliers.items():
            yield f"multiplier.{name}", rule


def build_table(parameterization, optimizer="adamw", alpha_value=None, eps_mode="table"):
    """Build one column of the parameterization table from the derivation.

    Parameters
    ----------
    parameterization : {"sp", "mup", "alpha"}
        SP has no width or depth rules; muP has the width rules and no depth rules; the
        alpha family has both, with branch multiplier ``m_L**-alpha``.
    optimizer : {"adamw", "sgd"}
    alpha_value : number, optional
        Substituted for ``alpha`` in the alpha family; left symbolic when omitted.
        Ignored with a ``ValueError`` for SP and muP, whose alpha is 0.
    eps_mode : {"table", "global"}
        ``"table"``: in-block groups get Table 1's epsilon, the rest ``epsilon_base``.
        ``"global"``: every group gets the in-block epsilon.

    Returns
    -------
    ParameterizationTable
    """
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"unknown parameterization {parameterization!r}; "
                         f"valid: {', '.join(PARAMETERIZATIONS)}")
    if optimizer not in TABLE_OPTIMIZERS:
        raise ValueError(f"unknown optimizer column {optimizer!r}; "
                         f"valid: {', '.join(TABLE_OPTIMIZERS)}")
    if eps_mode not in EPS_MODES:
        raise ValueError(f"unknown eps_mode {eps_mode!r}; valid: {', '.join(EPS_MODES)}")
    if alpha_value is not None and parameterization != "alpha":
        raise ValueError(f"alpha is fixed at 0 for {parameterization!r}; "
                         "pass alpha_value only with parameterization 'alpha'")

    width_rules = parameterization in ("mup", "alpha")
    depth_rules = parameterization == "alpha"
    results = derive().results()
    if optimizer == "adamw":
        lr_depth = results["adam_lr_depth_exponent"]
    else:
        lr_depth = results["sgd_lr_depth_exponent"]
    eps_depth = results["eps_depth_exponent"]

    entries = {}
    for group in GROUPS:
        in_block = group in IN_BLOCK_GROUPS
        depth = lr_depth if (in_block and depth_rules) else 0

        init_width = _MUP_INIT_VARIANCE_WIDTH.get(group, 0) if width_rules else 0
        init_base = 0 if group == "hidden_bias" else sigma_base**2
        entries[(group, "init_variance")] = ScalingRule(init_base, init_width, 0)

        lr_width = _MUP_LR_WIDTH[optimizer].get(group, 0) if width_rules else 0
        entries[(group, "lr")] = ScalingRule(eta_base, lr_width, depth)

        if optimizer == "adamw":
            entries[(group, "eps")] = _eps_rule(in_block or eps_mode == "global",
                                                width_rules, depth_rules, eps_depth)

        entries[(group, "weight_decay")] = _weight_decay_rule(group, -lr_width)

    multipliers = {
        "residual": ScalingRule(1, 0, -alpha if depth_rules else 0),
        "unembedding_forward": ScalingRule(1, -1 if width_rules else 0, 0),
    }
    table = ParameterizationTable(
        parameterization, optimizer, alpha if depth_rules else sympy.S.Zero,
        entries, multipliers, eps_mode,
    )
    if alpha_value is not None:
        table = table.subs_alpha(alpha_value)
    return table


def _eps_rule(scaled, width_rules, depth_rules, eps_depth):
    if not scaled:
        return ScalingRule(epsilon_base, 0, 0)
    width = _MUP_EPS_WIDTH if width_rules else 0
    depth = eps_depth if depth_rules else 0
    return ScalingRule(epsilon_base, width, depth)


def _weight_decay_rule(group, width_exponent):
    if group in ("hidden_weight", "embedding", "unembedding"):
        return ScalingRule(lambda_base, width_exponent, 0)
    return ScalingRule(0, 0, 0)
