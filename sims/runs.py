"""Run configurations and the ensembles that train several of them at once."""

import dataclasses
from dataclasses import dataclass

import numpy as np
import sympy

from sims.data import load_corpus, sample_batch, sample_sequences
from sims.hyperparameters import (
    OPTIMIZERS, BaseHyperparameters, BaseShape, check_alpha, check_positive_int, evaluate_table,
    make_table,
)
from sims.layers import ACTIVATIONS, NORMS
from sims.init import initialize
from sims.models import ResidualMLP, ResidualMLPShape, Transformer, TransformerShape
from sims.optim import make_optimizer
from sims.seeds import check_seed, run_generators, run_seed_sequence
from sims.variants import build_variant, check_variant
from theory.parameterization import EPS_MODES, GROUPS, PARAMETERIZATIONS

DTYPES = {"float32": np.float32, "float64": np.float64}
MODELS = ("residual_mlp", "transformer")

_MEMBER_FIELDS = ("lr", "init_std", "seed_index")
"""Fields that may differ between the members of one ensemble."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run on the corpus.

    Model: ``model`` (``"residual_mlp"`` or ``"transformer"``), ``width``, ``depth``,
    ``activation``, ``bias``, ``norm``, ``hidden_multiple`` (the MLP's hidden width as a
    multiple of ``N``; by default 1 for the residual MLP and 4 for the transformer);
    ``context`` for the residual MLP (see :class:`sims.models.ResidualMLPShape`);
    ``seq_len``, ``heads``, ``tied_embeddings``, ``attention_scale`` (by default ``"sp"``
    under SP and ``"mup"`` otherwise, as in the CompleteP reference implementation) and
    ``projection_init`` for the transformer (see :class:`sims.models.TransformerShape`).
    Parameterization: ``parameterization`` (``"sp"``, ``"mup"``, ``"alpha"``), ``alpha``,
    ``optimizer`` (``"adamw"``, ``"adam"``, ``"sgd"``), ``eps_mode``, base shape
    ``base_width`` and ``base_depth``.
    Base constants: ``lr``, ``init_std``, ``eps``, ``weight_decay``, ``betas``.
    Training: ``batch_size``, ``dtype``, ``trainable_groups`` (``None`` for all groups;
    the others are frozen), ``variant`` (a transformer variant of
    :mod:`sims.variants`; ``"standard"`` trains everything). Runs that differ only in
    their variant share their seeds, so they start from the same draws of the
    parameters they have in common and see the same data order.
    Seeds: ``base_seed`` and ``seed_index``.
    """

    width: int
    depth: int
    context: int = 8
    activation: str = "gelu"
    bias: bool = True
    norm: str = "layernorm"
    hidden_multiple: int = None
    model: str = "residual_mlp"
    seq_len: int = 64
    heads: int = 4
    tied_embeddings: bool = False
    attention_scale: str = None
    projection_init: str = "table"
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
    variant: str = "standard"

    def __post_init__(self):
        check_positive_int("width", self.width)
        check_positive_int("depth", self.depth)
        check_positive_int("batch_size", self.batch_size)
        check_seed(self.base_seed, "base seed")
        check_seed(self.seed_index, "seed index")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}; valid: {', '.join(DTYPES)}")
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; valid: {', '.join(MODELS)}")
        if self.hidden_multiple is None:
            object.__setattr__(self, "hidden_multiple", 4 if self.model == "transformer" else 1)
        if self.attention_scale is None:
            object.__setattr__(self, "attention_scale",
                               "sp" if self.parameterization == "sp" else "mup")
        check_positive_int("context", self.context)
        check_positive_int("hidden_multiple", self.hidden_multiple)
        check_positive_int("seq_len", self.seq_len)
        check_positive_int("heads", self.heads)

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
        check_variant(self.variant)
        if self.variant != "standard" and self.model != "transformer":
            raise ValueError(f"variant {self.variant!r} needs model 'transformer', got "
                             f"model {self.model!r}")

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
        # The standard variant leaves the document as it was before variants existed,
        # so configurations without a variant serialize as before.
        if self.variant == "standard":
            del document["variant"]
        return document

    def model_shape(self, vocab_size):
        """Return the :class:`ResidualMLPShape` or :class:`TransformerShape` of this run."""
        if self.model == "transformer":
            return TransformerShape(
                vocab_size=vocab_size, seq_len=self.seq_len, width=self.width,
                depth=self.depth, heads=self.heads, mlp_multiple=self.hidden_multiple,
                activation=self.activation, bias=self.bias, norm=self.norm,
                tied_embeddings=self.tied_embeddings, attention_scale=self.attention_scale,
                projection_init=self.projection_init,
            )
        return ResidualMLPShape(
            vocab_size=vocab_size, context=self.context, width=self.width, depth=self.depth,
            activation=self.activation, bias=self.bias, norm=self.norm,
            hidden_multiple=self.hidden_multiple,
        )

    def build_model(self, vocab_size, scales, mixit_seeds=None):
        """Return the model of this run, its parameters not yet drawn.

        ``mixit_seeds`` (one seed, or one per ensemble member) seeds the MixiT matrices of
        the ``"mixit"`` variant; by default this run's :meth:`mixit_seed`.
        """
        shape = self.model_shape(vocab_size)
        if self.model == "transformer":
            if self.variant == "standard":
                return Transformer(shape, scales)
            if mixit_seeds is None:
                mixit_seeds = self.mixit_seed()
            return build_variant(self.variant, shape, scales, mixit_seeds=mixit_seeds,
                                 dtype=DTYPES[self.dtype])
        return ResidualMLP(shape, scales)

    def mixit_seed(self):
        """Return the seed of this run's MixiT matrices, from the run's seed sequence.

        It is the third child of :func:`sims.seeds.run_seed_sequence`, whose first two
        seed the init and data generators, so it is independent of both.
        """
        sequence = run_seed_sequence(self.base_seed, self.seed_index, self.identity())
        return int(sequence.spawn(3)[2].generate_state(1, np.uint64)[0] >> np.uint64(1))

    def draw_examples(self, codes, batch_size, generators):
        """Draw each member's next batch: contexts and next symbols, or shifted windows."""
        if self.model == "transformer":
            return sample_sequences(codes, self.seq_len, batch_size, generators)
        return sample_batch(codes, self.context, batch_size, generators)

    def fixed_examples(self, codes, batch_size, seed):
        """Return one batch drawn from ``seed``, of shape ``(1, batch_size, ...)``."""
        return self.draw_examples(codes, batch_size, [np.random.default_rng(seed)])

    def identity(self):
        """Return what a run's seed derives from besides the base seed and seed index."""
        identity = {
            "model": self.model, "width": self.width, "depth": self.depth,
            "activation": self.activation, "bias": self.bias, "norm": self.norm,
            "hidden_multiple": self.hidden_multiple,
            "parameterization": self.parameterization, "alpha": self.alpha,
        }
        if self.model == "transformer":
            identity.update({
                "seq_len": self.seq_len, "heads": self.heads,
                "tied_embeddings": self.tied_embeddings,
                "attention_scale": self.attention_scale,
                "projection_init": self.projection_init,
            })
        else:
            identity["context"] = self.context
        return identity

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
    model : sims.models.ResidualMLP or sims.models.Transformer
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


def build_ensemble(configs, table=None, vocab_size=None):
    """Initialize the model and optimizer of an ensemble of runs.

    Parameters
    ----------
    configs : list of RunConfig
        Runs with equal :meth:`RunConfig.ensemble_key`.
    table : theory.parameterization.ParameterizationTable, optional
        Rules to train with, alpha substituted; the derived table of the runs'
        parameterization by default.
    vocab_size : int, optional
        Number of symbols in and out of the model, e.g. a task's vocabulary; the
        corpus's by default.

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

    if vocab_size is None:
        vocab_size = load_corpus().vocab_size
    scales = evaluate_table(table, first.width, first.depth,
                            BaseShape(first.base_width, first.base_depth), first.optimizer)
    mixit_seeds = None
    if first.variant in ("mixit", "embedding_only"):
        mixit_seeds = [config.mixit_seed() for config in configs]
    model = first.build_model(vocab_size, scales, mixit_seeds)
    if first.trainable_groups is not None:
        # A parameter that the variant freezes stays frozen.
        for parameter in model.parameters():
            parameter.trainable = parameter.trainable and parameter.group in first.trainable_groups

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
