"""Training runs of transformer variants on the algorithmic tasks of :mod:`sims.tasks`.

Each run trains a transformer (any variant of :mod:`sims.variants`) for a fixed number of
steps with AdamW (or the run's optimizer), a linear warmup and a learning-rate schedule,
on the masked cross-entropy: only answer positions (``TaskBatch.mask``) contribute to the
loss and the gradient. Every member draws its training batches from its own data
generator, so members are independent runs. The final loss and accuracy are measured on
fixed train and test evaluation sets, the same for every run of a base seed.

A finite task (``modular_addition``, ``memorization``) draws its example set once, from a
generator seeded by :func:`sims.seeds.stream_seed` of the base seed and the task's name,
so all runs of a base seed see the same examples and labels.
"""

import numbers

import numpy as np

from sims.cache import RunCache
from sims.layers import masked_softmax_cross_entropy
from sims.runs import build_ensemble
from sims.schedules import lr_factor
from sims.seeds import stream_seed
from sims.sweep import Job, run_ensembles
from sims.tasks import FINITE_TASKS, FiniteTask, check_task_name, make_task
from sims.training import divergence_bound
from sims.variants import parameter_counts

KIND = "task-training"

CURVE_POINTS = 20
"""Number of windows over which the training loss curve is averaged."""

EVAL_CHUNK = 256
"""Examples per forward pass during evaluation."""


def build_task(task_name, options, base_seed):
    """Build task ``task_name`` with ``options``, its fixed examples drawn for ``base_seed``.

    A finite task's generator is seeded with ``stream_seed(base_seed, "task-" + name)``,
    so every run of a base seed gets the same task. Stream tasks draw nothing here.
    """
    check_task_name(task_name)
    generator = None
    if task_name in FINITE_TASKS:
        generator = np.random.default_rng(stream_seed(base_seed, f"task-{task_name}"))
    return make_task(task_name, generator, **options)


def evaluation_sets(task, base_seed, eval_size):
    """Return the fixed ``{"train": TaskBatch, "test": TaskBatch}`` evaluation sets.

    A finite task is evaluated on every example of each split (a split may be empty). A
    stream task is evaluated on ``eval_size`` problems of each split, drawn from
    ``stream_seed(base_seed, "task-eval-" + split)``.
    """
    sets = {}
    for split in ("train", "test"):
        if isinstance(task, FiniteTask):
            sets[split] = task.examples(split)
        else:
            generator = np.random.default_rng(stream_seed(base_seed, f"task-eval-{split}"))
            sets[split] = task.sample(split, eval_size, generator)
    return sets


def train_on_task(runs, task_name, steps, options=None, schedule="cosine", warmup=0,
                  eval_size=512, table=None, cache=RunCache(None), max_members=32):
    """Train every run on a task with the masked loss and evaluate loss and accuracy.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
        Transformer runs (``model="transformer"``, any ``variant``). Runs that differ only
        in ``lr``, ``init_std`` and ``seed_index`` train together as one ensemble. The
        model's vocabulary is the task's ``vocab_size``, whatever the corpus's is.
    task_name : str
        A name in :data:`sims.tasks.TASKS`.
    steps : int
        Training steps of ``batch_size`` examples each.
    options : dict, optional
        Keyword options of the task, e.g. from :func:`sims.tasks.task_options`; the task
        class's defaults when omitted.
    schedule : {"constant", "cosine"}
        See :func:`sims.schedules.lr_factor`.
    warmup : int
        Linear warmup steps.
    eval_size : int
        Problems in each evaluation set of a stream task; finite tasks are evaluated on
        their whole splits (see :func:`evaluation_sets`).
    table : theory.parameterization.ParameterizationTable, optional
        Each run's derived table by default.
    cache : sims.cache.RunCache
    max_members : int
        Largest ensemble.

    Returns
    -------
    list of dict
        One per run, in the order of ``runs``. For each split ``S`` in ``train`` and
        ``test`` it contains:

        - ``S_loss``: the masked mean cross-entropy in nats.
        - ``S_accuracy``: the fraction of answer positions whose argmax prediction equals
          the target.
        - ``S_sequence_accuracy``: the fraction of examples with every answer position
          right, equal to ``S_accuracy`` for one-token answers.
        - ``S_examples``: the size of the evaluation set.

        The three measurements are NaN if the run diverged or the split is empty. Each
        result also contains ``loss_curve`` (the masked training loss averaged over
        ``CURVE_POINTS`` windows of steps), ``diverged``, ``diverged_step`` (-1 if the run
        did not diverge), and ``trainable_parameters`` and ``total_parameters`` of one
        member (see :func:`sims.variants.parameter_counts`).

    Raises
    ------
    ValueError
        For an unknown task or invalid task options, ``steps`` or ``eval_size`` that is
        not an integer of at least 1, an invalid schedule or warmup, a run that is not a
        transformer, or a run whose ``seq_len`` is shorter than the task's.
    """
    jobs = task_jobs(runs, task_name, steps, options, schedule, warmup, eval_size, table)
    return run_ensembles(KIND, jobs, _run_group, cache, max_members, f"{task_name} training")


def task_jobs(runs, task_name, steps, options=None, schedule="cosine", warmup=0, eval_size=512,
              table=None):
    """Check the arguments of :func:`train_on_task` and return its :class:`sims.sweep.Job` list.

    Raises
    ------
    ValueError
        As :func:`train_on_task` does.
    """
    check_task_name(task_name)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"invalid steps {steps!r}: give an integer number of training steps "
                         f"of at least 1")
    if isinstance(eval_size, bool) or not isinstance(eval_size, numbers.Integral) or eval_size < 1:
        raise ValueError(f"invalid eval_size {eval_size!r}: give an integer of at least 1")
    lr_factor(schedule, 0, steps, warmup)
    options = dict(options or {})

    tasks = {}
    for run in runs:
        if run.base_seed not in tasks:
            tasks[run.base_seed] = build_task(task_name, options, run.base_seed)
        _check_run_fits_task(run, tasks[run.base_seed])

    settings = {"task": task_name, "task_options": options, "steps": int(steps),
                "schedule": schedule, "warmup": int(warmup), "eval_size": int(eval_size)}
    return [Job(run, run.default_table() if table is None else table, settings) for run in runs]


def loss_curve(losses):
    """Return the mean of ``losses`` over ``CURVE_POINTS`` windows of consecutive steps."""
    windows = np.array_split(np.arange(len(losses)), min(CURVE_POINTS, len(losses)))
    return np.array([np.mean(losses[window]) for window in windows])


def _check_run_fits_task(run, task):
    if run.model != "transformer":
        raise ValueError(f"task training needs model 'transformer', got model {run.model!r}")
    if run.seq_len < task.seq_len:
        raise ValueError(f"run seq_len {run.seq_len} is shorter than the seq_len "
                         f"{task.seq_len} of task {task.name!r}; set the run's seq_len to "
                         f"at least {task.seq_len}")


def train_ensemble(jobs):
    """Train one ensemble of task-training jobs and return it with its training record.

    The jobs are those that :func:`train_on_task` groups into one ensemble: runs that
    differ only in ``lr``, ``init_std`` and ``seed_index``, with the same settings.

    Returns
    -------
    dict
        ``ensemble`` (the trained :class:`sims.runs.Ensemble`), ``task``, ``losses``
        (the masked training loss of each member at each step, shape ``(K, steps)``) and
        ``diverged_step`` (per member, -1 if it did not diverge).
    """
    settings = jobs[0].settings
    steps = settings["steps"]
    members = len(jobs)
    task = build_task(settings["task"], settings["task_options"], jobs[0].run.base_seed)
    ensemble = build_ensemble([job.run for job in jobs], jobs[0].table,
                              vocab_size=task.vocab_size)
    batch_size = ensemble.configs[0].batch_size
    bound = divergence_bound(task.vocab_size)

    active = np.ones(members, dtype=bool)
    diverged_step = np.full(members, -1)
    losses = np.full((members, steps), np.nan)
    for step in range(steps):
        batches = [task.sample("train", batch_size, generator)
                   for generator in ensemble.data_generators]
        tokens = np.stack([batch.tokens for batch in batches])
        targets = np.stack([batch.targets for batch in batches])
        mask = np.stack([batch.mask for batch in batches])
        factor = lr_factor(settings["schedule"], step, steps, settings["warmup"])
        with np.errstate(all="ignore"):
            loss, _ = ensemble.model.loss_and_gradients(tokens, targets, mask)
            was_active = active.copy()
            active &= np.isfinite(loss) & (loss <= bound)
            ensemble.optimizer.step(factor, active)
        losses[:, step] = loss
        diverged_step[was_active & ~active] = step
    return {"ensemble": ensemble, "task": task, "losses": losses,
            "diverged_step": diverged_step}


def _run_group(jobs):
    settings = jobs[0].settings
    members = len(jobs)
    base_seed = jobs[0].run.base_seed
    trained = train_ensemble(jobs)
    ensemble, task = trained["ensemble"], trained["task"]
    losses, diverged_step = trained["losses"], trained["diverged_step"]

    final = {split: evaluate_on_task(ensemble.model, examples, members)
             for split, examples in evaluation_sets(task, base_seed,
                                                    settings["eval_size"]).items()}
    counts = parameter_counts(ensemble.model)
    results = []
    for k in range(members):
        diverged = bool(diverged_step[k] >= 0)
        result = {}
        for split, measured in final.items():
            for name in ("loss", "accuracy", "sequence_accuracy"):
                result[f"{split}_{name}"] = float("nan") if diverged else float(measured[name][k])
            result[f"{split}_examples"] = measured["examples"]
        result.update({
            "loss_curve": loss_curve(losses[k]),
            "diverged": diverged,
            "diverged_step": int(diverged_step[k]),
            "trainable_parameters": counts.trainable,
            "total_parameters": counts.total,
        })
        results.append(result)
    return results


def evaluate_on_task(model, examples, members):
    """Measure each member's masked loss and accuracies on one fixed set of examples.

    Parameters
    ----------
    model : sims.models.Transformer
    examples : sims.tasks.TaskBatch
        The same examples for every member; each example has at least one masked position.
    members : int
        ``K``, the model's ensemble size.

    Returns
    -------
    dict
        ``loss``, ``accuracy`` and ``sequence_accuracy``, arrays of shape ``(K,)`` as
        described in :func:`train_on_task` (NaN for an empty set), and ``examples``.
    """
    count = len(examples)
    if count == 0:
        empty = np.full(members, np.nan)
        return {"loss": empty, "accuracy": empty.copy(), "sequence_accuracy": empty.copy(),
                "examples": 0}

    loss_sum = np.zeros(members)
    correct_positions = np.zeros(members)
    correct_examples = np.zeros(members)
    scored_positions = 0
    with np.errstate(all="ignore"):
        for start in range(0, count, EVAL_CHUNK):
            tokens = examples.tokens[start:start + EVAL_CHUNK]
            targets = examples.targets[start:start + EVAL_CHUNK]
            mask = examples.mask[start:start + EVAL_CHUNK]
            chunk_shape = (members,) + tokens.shape
            logits, _ = model.forward(np.broadcast_to(tokens, chunk_shape))
            loss, _ = masked_softmax_cross_entropy(
                logits, np.broadcast_to(targets, chunk_shape), mask)
            chunk_positions = int(mask.sum())
            loss_sum += loss * chunk_positions
            scored_positions += chunk_positions

            right = (logits.argmax(axis=-1) == targets) | ~mask
            correct_positions += (right & mask).sum(axis=(1, 2))
            correct_examples += right.all(axis=-1).sum(axis=-1)
    return {"loss": loss_sum / scored_positions,
            "accuracy": correct_positions / scored_positions,
            "sequence_accuracy": correct_examples / count,
            "examples": count}
