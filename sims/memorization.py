"""Memorization capacity of transformer variants: bits of random labels per parameter.

Dong, Noci, Khodak and Li 2025 (arXiv 2506.01115, Table 4) compare how much information
two-layer variants store about random labels, in bits per parameter. Here each variant
of :mod:`sims.variants` trains on the ``memorization`` task of :mod:`sims.tasks` at
several widths; :func:`memorization_capacity` turns the training accuracy into bits,
and bits per trainable and per total parameter.

A model that is trained long enough to stop improving and that cannot store every label
measures a capacity. A model that stores every label (training accuracy 1) measures only
a lower bound, and one stopped while still improving measures what it stored in the
budget. :func:`memorization_sweep` reports the stored fraction of the bits and the final
training loss, so that either case can be seen. The bits include labels that are right
by chance (see :func:`memorization_capacity`).
"""

import math
import numbers
from dataclasses import asdict, dataclass

from sims.cache import RunCache
from sims.runs import RunConfig
from sims.scales import check_scale
from sims.task_training import build_task, train_on_task
from sims.tasks import SCALE_OPTIONS
from sims.variants import PAPER_VARIANTS, ParameterCounts, check_variant

@dataclass(frozen=True)
class MemorizationSettings:
    """Sizes of the memorization sweep at one scale.

    Attributes
    ----------
    widths : tuple of int
        Model widths ``N``; each gives one point per variant.
    depth, heads, batch_size, steps : int
    lr : float
        AdamW's learning rate; no weight decay, since decay works against memorizing.
    seeds : int
    task_options : dict
        Options of the memorization task (:class:`sims.tasks.Memorization`).
    variants : tuple of str
    dtype : str
    """

    widths: tuple
    depth: int
    heads: int
    batch_size: int
    steps: int
    lr: float
    seeds: int
    task_options: dict
    variants: tuple = PAPER_VARIANTS
    dtype: str = "float32"
    init_std: float = 0.02

    def run(self, width, variant, seed_index, base_seed):
        """Return the :class:`sims.runs.RunConfig` of one training run."""
        return RunConfig(
            model="transformer", width=width, depth=self.depth, heads=self.heads, seq_len=2,
            base_width=width, attention_scale="sp", batch_size=self.batch_size, lr=self.lr,
            init_std=self.init_std, weight_decay=0.0, dtype=self.dtype, variant=variant,
            base_seed=base_seed, seed_index=seed_index)

    def to_json(self):
        return asdict(self)


MEMORIZATION_SCALES = {
    "smoke": MemorizationSettings(
        widths=(8,), depth=2, heads=2, batch_size=32, steps=30, lr=0.01, seeds=2,
        task_options=SCALE_OPTIONS["smoke"]["memorization"]),
    "quick": MemorizationSettings(
        widths=(8, 16), depth=2, heads=2, batch_size=128, steps=6000, lr=0.01, seeds=3,
        task_options=SCALE_OPTIONS["quick"]["memorization"]),
    "paper": MemorizationSettings(
        widths=(64, 128, 256), depth=2, heads=4, batch_size=512, steps=40000, lr=0.003,
        seeds=3, task_options=SCALE_OPTIONS["paper"]["memorization"]),
}
"""Settings of the memorization sweep per scale."""


def memorization_settings(scale):
    """Return the :class:`MemorizationSettings` of ``scale``."""
    return MEMORIZATION_SCALES[check_scale(scale)]


def memorization_sweep(settings, base_seed, cache=RunCache(None), variants=None):
    """Train every variant at every width on the memorization task and measure its bits.

    Parameters
    ----------
    settings : MemorizationSettings
    base_seed : int
        Every run of a base seed memorizes the same examples and labels.
    cache : sims.cache.RunCache
    variants : sequence of str, optional
        A subset of ``settings.variants``.

    Returns
    -------
    dict
        ``{variant: [record per width]}``. A record has ``width``,
        ``trainable_parameters``, ``total_parameters`` and, as lists over seeds,
        ``train_accuracy``, ``bits``, ``bits_per_trainable_parameter``,
        ``bits_per_parameter`` and ``final_loss`` (the mean training loss over the last
        twentieth of the steps); also the task's ``bits_available``.
    """
    variants = settings.variants if variants is None else tuple(variants)
    for variant in variants:
        check_variant(variant)
    task = build_task("memorization", settings.task_options, base_seed)

    keys = [(variant, width, seed) for variant in variants for width in settings.widths
            for seed in range(settings.seeds)]
    runs = [settings.run(width, variant, seed, base_seed) for variant, width, seed in keys]
    results = train_on_task(runs, "memorization", settings.steps, settings.task_options,
                            warmup=settings.steps // 10, cache=cache)
    by_key = dict(zip(keys, results))

    sweep = {}
    for variant in variants:
        records = []
        for width in settings.widths:
            seeds = [by_key[(variant, width, seed)] for seed in range(settings.seeds)]
            counts = ParameterCounts(seeds[0]["trainable_parameters"],
                                     seeds[0]["total_parameters"])
            record = {"width": width, "trainable_parameters": counts.trainable,
                      "total_parameters": counts.total, "bits_available": task.bits}
            capacities = [memorization_capacity(result["train_accuracy"], task.example_count,
                                                task.labels, counts) for result in seeds]
            record["train_accuracy"] = [result["train_accuracy"] for result in seeds]
            for name in ("bits", "bits_per_trainable_parameter", "bits_per_parameter"):
                record[name] = [capacity[name] for capacity in capacities]
            record["final_loss"] = [float(result["loss_curve"][-1]) for result in seeds]
            records.append(record)
        sweep[variant] = records
    return sweep


def memorization_capacity(train_accuracy, examples, labels, counts):
    """Return the information a model stored about random labels, per parameter.

    The labels memorized are ``train_accuracy * examples``, and each carries
    ``log2(labels)`` bits. The count includes labels that are right by chance (a fraction
    ``1 / labels`` of the examples for a model that learned nothing), so it is not
    corrected for guessing.

    Parameters
    ----------
    train_accuracy : float
        Fraction of the training examples answered right, e.g. a result's
        ``train_accuracy`` on the ``memorization`` task.
    examples : int
        Training examples, e.g. the task's ``example_count``.
    labels : int
        Number of distinct labels, at least 2.
    counts : sims.variants.ParameterCounts
        The model's trainable and total parameter counts.

    Returns
    -------
    dict
        ``labels_memorized``, ``bits``, ``bits_per_trainable_parameter`` (infinite when
        nothing trains but bits are nonzero) and ``bits_per_parameter``. NaN accuracy
        (a diverged run) gives NaN throughout.

    Raises
    ------
    ValueError
        For an accuracy outside ``[0, 1]``, ``examples < 1``, ``labels < 2`` or a model
        without parameters.
    """
    accuracy = float(train_accuracy)
    if not (math.isnan(accuracy) or 0.0 <= accuracy <= 1.0):
        raise ValueError(f"train_accuracy must lie in [0, 1], got {train_accuracy!r}")
    if isinstance(examples, bool) or not isinstance(examples, numbers.Integral) or examples < 1:
        raise ValueError(f"examples must be an integer of at least 1, got {examples!r}")
    if isinstance(labels, bool) or not isinstance(labels, numbers.Integral) or labels < 2:
        raise ValueError(f"labels must be an integer of at least 2, got {labels!r}")
    if counts.total < 1:
        raise ValueError(f"the model has no parameters ({counts}); capacity per parameter is "
                         f"undefined")

    memorized = accuracy * int(examples)
    bits = memorized * math.log2(int(labels))
    if counts.trainable > 0:
        per_trainable = bits / counts.trainable
    else:
        # No trainable parameter: the ratio is 0/0 for no bits and unbounded otherwise.
        per_trainable = float("nan") if bits == 0 or math.isnan(bits) else math.inf
    return {"labels_memorized": memorized, "bits": bits,
            "bits_per_trainable_parameter": per_trainable,
            "bits_per_parameter": bits / counts.total}
