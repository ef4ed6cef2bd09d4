"""Per-group hyperparameters: the parameterization table evaluated at one shape.

The simulators take every multiplier from :func:`theory.parameterization.build_table`
(or from another :class:`~theory.parameterization.ParameterizationTable` with the same
rows, such as a transcription of the paper's Table 1), evaluated at
``m_N = N / N_base`` and ``m_L = L / L_base``.
"""

import math
import numbers
from dataclasses import dataclass

from theory.parameterization import GROUPS, PARAMETERIZATIONS, build_table

OPTIMIZERS = ("adamw", "adam", "sgd")
"""``adam`` uses the AdamW column of the table with no weight decay."""


@dataclass(frozen=True)
class BaseShape:
    """The base model's width ``N_base`` and depth ``L_base``."""

    width: int = 128
    depth: int = 2

    def __post_init__(self):
        check_positive_int("base width", self.width)
        check_positive_int("base depth", self.depth)


@dataclass(frozen=True)
class BaseHyperparameters:
    """The tunable base constants of the table.

    Defaults: ``init_std`` (sigma_base), ``weight_decay`` (lambda_base) and the AdamW
    betas are those of the reference implementation of CompleteP (EleutherAI/nanoGPT-mup,
    branch ``completep``); ``eps`` (epsilon_base) is PyTorch's AdamW default, since that
    reference uses 1e-12, below float32's resolution of typical second moments.
    """

    init_std: float = 0.02
    lr: float = 1e-3
    eps: float = 1e-8
    weight_decay: float = 0.1


@dataclass(frozen=True)
class GroupScales:
    """Factors that multiply the base constants for one parameter group.

    ``eps`` is ``None`` under SGD, which has no epsilon.
    """

    init_std: float
    lr: float
    eps: float
    weight_decay: float


@dataclass(frozen=True)
class ShapeScales:
    """The table evaluated at one width and depth.

    Attributes
    ----------
    groups : dict
        Group name to :class:`GroupScales`.
    residual_multiplier : float
        Branch multiplier ``m_L**-alpha``.
    unembedding_multiplier : float
        Logit multiplier (``1 / m_N`` under muP and the alpha family).
    width_multiplier, depth_multiplier : float
        ``m_N`` and ``m_L``.
    """

    groups: dict
    residual_multiplier: float
    unembedding_multiplier: float
    width_multiplier: float
    depth_multiplier: float


def check_positive_int(name, value):
    """Raise ``ValueError`` unless ``value`` is an integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def check_alpha(alpha):
    """Return ``alpha`` as a float, or raise ``ValueError`` if it is not a finite number."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"--alpha must be a number, got {alpha!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"--alpha must be finite, got {alpha!r}")
    return value


def make_table(parameterization, alpha=None, optimizer="adamw", eps_mode="table"):
    """Build the table column for a parameterization and optimizer, alpha substituted.

    Parameters
    ----------
    parameterization : {"sp", "mup", "alpha"}
    alpha : float, optional
        Residual exponent of the alpha family; defaults to 1 (CompleteP). Not allowed for
        SP and muP.
    optimizer : {"adamw", "adam", "sgd"}
    eps_mode : {"table", "global"}

    Returns
    -------
    theory.parameterization.ParameterizationTable
    """
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"unknown parameterization {parameterization!r}; "
                         f"valid: {', '.join(PARAMETERIZATIONS)}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if parameterization == "alpha":
        alpha = 1.0 if alpha is None else check_alpha(alpha)
    elif alpha is not None:
        raise ValueError(f"--alpha applies only to the alpha family, not to {parameterization!r}")
    column = "sgd" if optimizer == "sgd" else "adamw"
    return build_table(parameterization, column, alpha, eps_mode)


def evaluate_table(table, width, depth, base_shape=BaseShape(), optimizer="adamw"):
    """Evaluate a table column at ``m_N = width / N_base`` and ``m_L = depth / L_base``.

    Parameters
    ----------
    table : theory.parameterization.ParameterizationTable
        With ``alpha`` substituted by a number.
    width, depth : int
    base_shape : BaseShape
    optimizer : {"adamw", "adam", "sgd"}
        ``"adam"`` zeroes every weight decay.

    Returns
    -------
    ShapeScales
    """
    check_positive_int("width", width)
    check_positive_int("depth", depth)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    m_N = width / base_shape.width
    m_L = depth / base_shape.depth

    groups = {}
    for group in GROUPS:
        init_variance = table.entry(group, "init_variance")
        init_std = 0.0 if init_variance.is_zero() else math.sqrt(init_variance.factor(m_N, m_L))
        eps = None
        if (group, "eps") in table.entries:
            eps = table.entry(group, "eps").factor(m_N, m_L)
        decay_rule = table.entry(group, "weight_decay")
        weight_decay = 0.0
        if optimizer != "adam" and not decay_rule.is_zero():
            weight_decay = decay_rule.factor(m_N, m_L)
        groups[group] = GroupScales(
            init_std=init_std,
            lr=table.entry(group, "lr").factor(m_N, m_L),
            eps=eps,
            weight_decay=weight_decay,
        )

    return ShapeScales(
        groups=groups,
        residual_multiplier=table.multipliers["residual"].factor(m_N, m_L),
        unembedding_multiplier=table.multipliers["unembedding_forward"].factor(m_N, m_L),
        width_multiplier=m_N,
        depth_multiplier=m_L,
    )
