"""Run configurations and the ensembles that train several of them at once."""

import dataclasses
from dataclasses import dataclass

import numpy as np
import sympy

from sims.data import load_corpus
from sims.hyperparameters import (
    OPTIMIZERS, BaseHyperparameters, BaseShape, check_alpha, check_positive_int, evaluate_table,
    make_table,
)
from sims.layers import ACTIVATIONS, NORMS
from sims.init import initialize
from sims.models import ResidualMLP, ResidualMLPShape
from sims.optim import make_optimizer
from sims.seeds import check_seed, run_generators
from theory.parameterization import EPS_MODES, GROUPS, PARAMETERIZATIONS

DTYPES = {"float32": np.float32, "float64": np.float64}

_MEMBER_FIELDS = ("lr", "init_std", "seed_index")
"""Fields that may differ between the members of one ensemble."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run of the residual MLP on the corpus.

    Model: ``width``, ``depth``, ``context``, ``activation``, ``bias``, ``norm``,
    ``hidden_multiple`` (see :class:`sims.models.ResidualMLPShape`).
    Parameterization: ``parameterization`` (``"sp"``, ``"mup"``, ``"alpha"``), ``alpha``,
    ``optimizer`` (``"adamw"``, ``"adam"``, ``"sgd"``), ``eps_mode``, base shape
    ``base_width`` and ``base_depth``.
    Base constants: ``lr``, ``init_std``, ``eps``, ``weight_decay``, ``betas``.
    Training: ``batch_size``, ``dtype``, ``trainable_groups`` (``None`` for all groups;
    the others are frozen).
    Seeds: ``base_seed`` and ``seed_index``.
    """

    width: int
    depth: int
    context: int = 8
    activation: str = "gelu"
    bias: bool = True
    norm: str = "layernorm"
    hidden_multiple: int = 1
    parameterization: str = "alpha"
    alpha: float = 1.0
    optimizer: str = "adamw"
    eps_mode: str = "table"
    base_width: int = 128
    base_depth: int = 2
    lr: float = 1e-3
    init_std: float = 0.02
    eps: float = 1e-8
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.95)
    batch_size: int = 64
    dtype: str = "float64"
    trainable_groups: tuple = None
    base_seed: int = 0
    seed_index: int = 0

    def __post_init__(self):
        check_positive_int("width", self.width)
        check_positive_int("depth", self.depth)
        check_positive_int("batch_size", self.batch_size)
        check_seed(self.base_seed, "base seed")
        check_seed(self.seed_index, "seed index")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; valid: {', '.join(DTYPES)}")
        check_positive_int("context", self.context)
        check_positive_int("hidden_multiple", self.hidden_multiple)

        if self.parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"unknown parameterization {self.parameterization!r}; "
                             f"valid: {', '.join(PARAMETERIZATIONS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; "
                             f"valid: {', '.join(ACTIVATIONS)}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown norm {self.norm!r}; valid: {', '.join(NORMS)}")
        if self.eps_mode not in EPS_MODES:
            raise ValueError(f"unknown eps_mode {self.eps_mode!r}; valid: {', '.join(EPS_MODES)}")

        if self.parameterization == "alpha":
            alpha = 1.0 if self.alpha is None else check_alpha(self.alpha)
            object.__setattr__(self, "alpha", alpha)
        else:
            object.__setattr__(self, "alpha", None)

        if self.trainable_groups is not None:
            unknown = sorted(set(self.trainable_groups) - set(GROUPS))
            if unknown:
                raise ValueError(f"unknown parameter groups {unknown}; valid: {', '.join(GROUPS)}")
            object.__setattr__(self, "trainable_groups", tuple(sorted(self.trainable_groups)))
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        for name in ("lr", "init_std"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be positive and finite, got {value!r}")

    def replace(self, **changes):
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """Return the configuration as a JSON-ready dict."""
        document = dataclasses.asdict(self)
        document["betas"] = list(self.betas)
        if self.trainable_groups is not None:
            document["trainable_groups"] = list(self.trainable_groups)
        return document

    def model_shape(self, vocab_size):
        return ResidualMLPShape(
            vocab_size=vocab_size, context=self.context, width=self.width, depth=self.depth,
            activation=self.activation, bias=self.bias, norm=self.norm,
            hidden_multiple=self.hidden_multiple,
        )

    def identity(self):
        """Return what a run's seed derives from besides the base seed and seed index."""
        return {
            "model": "residual_mlp", "width": self.width, "depth": self.depth,
            "context": self.context, "activation": self.activation, "bias": self.bias,
            "norm": self.norm, "hidden_multiple": self.hidden_multiple,
            "parameterization": self.parameterization, "alpha": self.alpha,
        }

    def ensemble_key(self):
        """Return a key that is equal for runs that can share one ensemble."""
        document = self.to_dict()
        for name in _MEMBER_FIELDS:
            document.pop(name)
        return repr(sorted(document.items()))

    def default_table(self):
        """Return the derived table column of this run's parameterization and optimizer."""
        return make_table(self.parameterization, self.alpha, self.optimizer, self.eps_mode)


def table_fingerprint(table):
    """Return a JSON-ready description of a table's rules, for cache keys and records."""
    return {name: sympy.sstr(rule.expression()) for name, rule in table.rows()}


@dataclass
class Ensemble:
    """An ensemble of ``K`` runs that share everything but lr, init std and seed index.

    Attributes
    ----------
    configs : list of RunConfig
    model : sims.models.ResidualMLP
    optimizer : sims.optim.Optimizer
    data_generators : list of numpy.random.Generator
        One per member; drawing batches from them reproduces each run's data order.
    scales : sims.hyperparameters.ShapeScales
    table : theory.parameterization.ParameterizationTable
    """

    configs: list
    model: ResidualMLP
    optimizer: object
    data_generators: list
    scales: object
    table: object


def build_ensemble(configs, table=None):
    """Initialize the model and optimizer of an ensemble of runs.

    Parameters
    ----------
    configs : list of RunConfig
        Runs with equal :meth:`RunConfig.ensemble_key`.
    table : theory.parameterization.ParameterizationTable, optional
        Rules to train with, alpha substituted; the derived table of the runs'
        parameterization by default.

    Returns
    -------
    Ensemble
    """
    if not configs:
        raise ValueError("an ensemble needs at least one run")
    keys = {config.ensemble_key() for config in configs}
    if len(keys) != 1:
        raise ValueError("runs of one ensemble may differ only in lr, init_std and seed_index")
    first = configs[0]
    table = first.default_table() if table is None else table

    corpus = load_corpus()
    scales = evaluate_table(table, first.width, first.depth,
                            BaseShape(first.base_width, first.base_depth), first.optimizer)
    model = ResidualMLP(first.model_shape(corpus.vocab_size), scales)
    if first.trainable_groups is not None:
        for parameter in model.parameters():
            parameter.trainable = parameter.group in first.trainable_groups

    generators = [run_generators(c.base_seed, c.seed_index, c.identity()) for c in configs]
    initialize(model.parameters(), scales, np.array([c.init_std for c in configs]),
               [init for init, _ in generators], DTYPES[first.dtype])

    lr = np.array([c.lr for c in configs])
    optimizer = make_optimizer(first.optimizer, model.parameters(), scales, lr,
                               base_hyperparameters(first), betas=first.betas)
    return Ensemble(list(configs), model, optimizer, [data for _, data in generators], scales, table)


def base_hyperparameters(config):
    """Return the base constants of a run as :class:`BaseHyperparameters`."""
    return BaseHyperparameters(config.init_std, config.lr, config.eps, config.weight_decay)
