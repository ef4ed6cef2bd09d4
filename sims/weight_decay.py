"""The per-step decoupled weight decay of hidden weights, measured from two trainings.

Two ensembles with the same seeds train on the same batches, one with the run's weight
decay and one without. After ``k`` steps the decay's share of the change of the hidden
weights, ``||W_decay - W_plain||_F / ||W_0||_F``, is close to ``k * eta * lambda_wd``, where
``eta * lambda_wd`` is the per-step product of the hidden group's learning rate and weight
decay. Its depth and width slopes are therefore those of that product.
"""

import numpy as np

from sims.cache import RunCache
from sims.runs import build_ensemble
from sims.sweep import Job, run_ensembles
from sims.training import train_step

KIND = "weight-decay"


def decoupled_decay(runs, steps=1, table=None, cache=RunCache(None), max_members=16):
    """Measure the per-step decoupled decay of the hidden weights of every run.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
        AdamW or SGD runs with a positive ``weight_decay``.
    steps : int
    table : theory.parameterization.ParameterizationTable, optional
    cache : sims.cache.RunCache

    Returns
    -------
    list of dict
        One per run: ``decay_per_step``, an array of shape ``(steps,)`` whose entry
        ``s - 1`` is the relative difference after ``s`` steps divided by ``s``.
    """
    for run in runs:
        if run.optimizer == "adam" or run.weight_decay <= 0:
            raise ValueError(f"measuring weight decay needs optimizer adamw or sgd and a positive "
                             f"weight_decay, got {run.optimizer!r} with {run.weight_decay!r}")
    settings = {"steps": int(steps)}
    jobs = [Job(run, run.default_table() if table is None else table, settings) for run in runs]
    return run_ensembles(KIND, jobs, _run_group, cache, max_members, "weight decay")


def _run_group(jobs):
    steps = jobs[0].settings["steps"]
    runs = [job.run for job in jobs]
    with_decay = build_ensemble(runs, jobs[0].table)
    without_decay = build_ensemble([run.replace(weight_decay=0.0) for run in runs], jobs[0].table)

    def hidden(ensemble):
        return [p for p in ensemble.model.parameters() if p.group == "hidden_weight"]

    initial_norm = np.sqrt(sum(_squared_norms(p.value) for p in hidden(with_decay)))
    decay_per_step = np.zeros((len(jobs), steps))
    active = {id(with_decay): np.ones(len(jobs), dtype=bool),
              id(without_decay): np.ones(len(jobs), dtype=bool)}
    for step in range(steps):
        for ensemble in (with_decay, without_decay):
            train_step(ensemble, active[id(ensemble)])
        difference = np.sqrt(sum(
            _squared_norms(a.value - b.value)
            for a, b in zip(hidden(with_decay), hidden(without_decay))
        ))
        decay_per_step[:, step] = difference / initial_norm / (step + 1)
    return [{"decay_per_step": row} for row in decay_per_step]


def _squared_norms(value):
    flat = value.reshape(value.shape[0], -1)
    return (flat * flat).sum(axis=1)
