"""Transformer variants trained on the random-attention paper's tasks, side by side.

The analogue of the task tables of Dong, Noci, Khodak and Li 2025 (arXiv 2506.01115,
Tables 1 to 3): every variant of :mod:`sims.variants` trains on every task of
:mod:`sims.tasks` with the same model size, steps and learning-rate grid, over several
seeds. For each task and variant the learning rate is the grid point with the lowest
mean final loss on the training evaluation set, so the choice never looks at the test
split. The reported numbers are that learning rate's test accuracy and test loss per
seed.

The models are pre-LayerNorm transformers at their base width (all width multipliers
are 1) with the ``1 / sqrt(n_h)`` logit scale, learned absolute positions, AdamW with a
linear warmup over the first tenth of the steps and a cosine decay. Sizes per scale are in
:data:`VARIANT_TASK_SCALES`, and the task options are those of
:data:`sims.tasks.SCALE_OPTIONS`.
"""

from dataclasses import asdict, dataclass, field

import numpy as np

from sims.cache import RunCache
from sims.runs import RunConfig
from sims.scales import check_scale
from sims.task_training import build_task, train_on_task
from sims.tasks import SCALE_OPTIONS, check_task_name
from sims.variants import PAPER_VARIANTS

@dataclass(frozen=True)
class ComparisonSettings:
    """Model, training and task sizes of one scale.

    Attributes
    ----------
    width, depth, heads : int
        ``N``, ``L`` (layers) and ``H`` of every model.
    batch_size : int
    lrs : tuple of float
        The learning-rate grid of AdamW, shared by every variant and task.
    seeds : int
        Seed indices per grid point.
    steps : dict
        Training steps per task; the tasks compared are its keys, in order.
    weight_decay : dict
        AdamW's ``lambda_wd`` per task.
    task_options : dict
        Options per task, as for :func:`sims.tasks.make_task`.
    variants : dict
        The variants trained on each task.
    eval_size : int
        Test problems of a stream task.
    dtype : str
    """

    width: int
    depth: int
    heads: int
    batch_size: int
    lrs: tuple
    seeds: int
    steps: dict
    weight_decay: dict
    task_options: dict
    variants: dict
    eval_size: int = 512
    dtype: str = "float32"
    init_std: float = 0.02
    notes: dict = field(default_factory=dict)

    @property
    def tasks(self):
        """The tasks compared, in order."""
        return tuple(self.steps)

    def run(self, task_name, variant, lr, seed_index, base_seed):
        """Return the :class:`sims.runs.RunConfig` of one training run."""
        seq_len = build_task(task_name, self.task_options[task_name], base_seed).seq_len
        return RunConfig(
            model="transformer", width=self.width, depth=self.depth, heads=self.heads,
            seq_len=seq_len, base_width=self.width, attention_scale="sp",
            batch_size=self.batch_size, lr=lr, init_std=self.init_std,
            weight_decay=self.weight_decay[task_name], dtype=self.dtype, variant=variant,
            base_seed=base_seed, seed_index=seed_index)

    def to_json(self):
        return asdict(self)


ALL_VARIANTS = PAPER_VARIANTS + ("embedding_only",)

VARIANT_TASK_SCALES = {
    "smoke": ComparisonSettings(
        width=16, depth=2, heads=2, batch_size=16, lrs=(0.01,), seeds=2,
        steps={"retrieval": 20, "decimal_addition": 20, "modular_addition": 20,
               "language": 10},
        weight_decay={"retrieval": 0.0, "decimal_addition": 0.0, "modular_addition": 1.0,
                      "language": 0.0},
        task_options={name: SCALE_OPTIONS["smoke"][name] for name in SCALE_OPTIONS["smoke"]},
        variants={"retrieval": PAPER_VARIANTS, "decimal_addition": ALL_VARIANTS,
                  "modular_addition": ALL_VARIANTS, "language": PAPER_VARIANTS},
        eval_size=64),
    "quick": ComparisonSettings(
        width=64, depth=2, heads=4, batch_size=64, lrs=(0.003,), seeds=3,
        steps={"retrieval": 3000, "decimal_addition": 1500, "modular_addition": 3000,
               "language": 400},
        weight_decay={"retrieval": 0.0, "decimal_addition": 0.0, "modular_addition": 1.0,
                      "language": 0.0},
        task_options={name: SCALE_OPTIONS["quick"][name] for name in SCALE_OPTIONS["quick"]},
        variants={"retrieval": PAPER_VARIANTS, "decimal_addition": ALL_VARIANTS,
                  "modular_addition": ALL_VARIANTS, "language": PAPER_VARIANTS},
        notes={"retrieval": "4 queries per sequence about 4 pairs (multi-query retrieval); "
                            "one query learns too slowly for this budget",
               "modular_addition": "p = 23 instead of the paper's 599",
               "induction and k-hop induction": "left out at this scale; induction is in "
                                                "the figure frozen-qk-attention-maps"}),
    "paper": ComparisonSettings(
        width=256, depth=5, heads=8, batch_size=64, lrs=(0.001, 0.003), seeds=3,
        steps={"retrieval": 20000, "multihop": 20000, "decimal_addition": 20000,
               "modular_addition": 20000, "language": 20000},
        weight_decay={"retrieval": 0.0, "multihop": 0.0, "decimal_addition": 0.0,
                      "modular_addition": 1.0, "language": 0.0},
        task_options={name: SCALE_OPTIONS["paper"][name] for name in SCALE_OPTIONS["paper"]},
        variants={"retrieval": PAPER_VARIANTS, "multihop": PAPER_VARIANTS,
                  "decimal_addition": ALL_VARIANTS, "modular_addition": ALL_VARIANTS,
                  "language": PAPER_VARIANTS}),
}
"""Settings of the variant comparison per scale."""


def comparison_settings(scale):
    """Return the :class:`ComparisonSettings` of ``scale``."""
    return VARIANT_TASK_SCALES[check_scale(scale)]


def compare_variants(settings, base_seed, cache=RunCache(None), tasks=None):
    """Train every variant on every task and report each one's best learning rate.

    Parameters
    ----------
    settings : ComparisonSettings
    base_seed : int
    cache : sims.cache.RunCache
    tasks : sequence of str, optional
        A subset of ``settings.tasks``; all by default.

    Returns
    -------
    dict
        ``{task: {variant: record}}``. A record has ``lr`` (the chosen grid point),
        ``train_loss``, ``test_loss``, ``test_accuracy`` and ``test_sequence_accuracy``
        (lists over seeds, NaN where a run diverged), ``diverged`` (count over all grid
        points), ``grid`` (``{lr: mean final training loss}``), and the
        ``trainable_parameters`` and ``total_parameters`` of one model.

    Raises
    ------
    ValueError
        For a task that ``settings`` does not contain.
    """
    tasks = settings.tasks if tasks is None else tuple(tasks)
    for task_name in tasks:
        check_task_name(task_name)
        if task_name not in settings.steps:
            raise ValueError(f"task {task_name!r} is not in this comparison; valid: "
                             f"{', '.join(settings.tasks)}")

    table = {}
    for task_name in tasks:
        variants = settings.variants[task_name]
        keys = [(variant, lr, seed) for variant in variants for lr in settings.lrs
                for seed in range(settings.seeds)]
        runs = [settings.run(task_name, variant, lr, seed, base_seed)
                for variant, lr, seed in keys]
        steps = settings.steps[task_name]
        results = train_on_task(runs, task_name, steps, settings.task_options[task_name],
                                warmup=steps // 10, eval_size=settings.eval_size, cache=cache)
        by_key = dict(zip(keys, results))
        table[task_name] = {variant: _best_learning_rate(settings, variant, by_key)
                            for variant in variants}
    return table


def _best_learning_rate(settings, variant, by_key):
    """Return the record of ``variant`` at the grid point with the lowest mean train loss.

    A grid point with a diverged seed has an infinite mean, so it is chosen only when
    every point diverged.
    """
    grid = {}
    for lr in settings.lrs:
        losses = [by_key[(variant, lr, seed)]["train_loss"] for seed in range(settings.seeds)]
        grid[lr] = float(np.mean(losses)) if np.all(np.isfinite(losses)) else float("inf")
    chosen = min(settings.lrs, key=lambda lr: grid[lr])
    seeds = [by_key[(variant, chosen, seed)] for seed in range(settings.seeds)]
    record = {"lr": chosen, "grid": {str(lr): loss for lr, loss in grid.items()}}
    for name in ("train_loss", "test_loss", "test_accuracy", "test_sequence_accuracy"):
        record[name] = [result[name] for result in seeds]
    record["diverged"] = sum(by_key[(variant, lr, seed)]["diverged"]
                             for lr in settings.lrs for seed in range(settings.seeds))
    record["trainable_parameters"] = seeds[0]["trainable_parameters"]
    record["total_parameters"] = seeds[0]["total_parameters"]
    return record


def chance_accuracy(task):
    """Return the accuracy of a uniform guess among the task's possible targets.

    ``1 / values`` for retrieval, ``1 / alphabet`` for induction and k-hop induction,
    ``1 / 10`` per digit for decimal addition, ``1 / p`` for modular addition and
    ``1 / labels`` for memorization. Character-level language modeling has no fixed
    set of targets and gives NaN.
    """
    answers = {"retrieval": "values", "induction": "alphabet", "multihop": "alphabet",
               "modular_addition": "p", "memorization": "labels"}
    if task.name == "decimal_addition":
        return 0.1
    if task.name in answers:
        return 1.0 / getattr(task, answers[task.name])
    return float("nan")
