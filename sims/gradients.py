"""Gradient entries at initialization, the scale that Adam's epsilon must track."""

import numpy as np

from sims.cache import RunCache
from sims.data import load_corpus
from sims.runs import build_ensemble
from sims.sweep import Job, run_ensembles
from theory.parameterization import GROUPS

KIND = "gradient-entries"


def gradient_entries(runs, table=None, cache=RunCache(None), max_members=16):
    """Measure the mean absolute gradient entry of every parameter group at initialization.

    Each run computes the gradient of its training loss on its first batch. In-block
    groups are averaged over all blocks.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
    table : theory.parameterization.ParameterizationTable, optional
        Each run's derived table by default.
    cache : sims.cache.RunCache

    Returns
    -------
    list of dict
        One per run: ``mean_abs_<group>`` for every group, as floats.
    """
    jobs = [Job(run, run.default_table() if table is None else table, {}) for run in runs]
    return run_ensembles(KIND, jobs, _run_group, cache, max_members, "gradient entries")


def _run_group(jobs):
    ensemble = build_ensemble([job.run for job in jobs], jobs[0].table)
    config = ensemble.configs[0]
    corpus = load_corpus()
    tokens, targets = config.draw_examples(corpus.train, config.batch_size,
                                           ensemble.data_generators)
    ensemble.model.loss_and_gradients(tokens, targets)

    totals = {group: np.zeros(len(jobs)) for group in GROUPS}
    counts = {group: 0 for group in GROUPS}
    for parameter in ensemble.model.parameters():
        flat = np.abs(parameter.grad.reshape(len(jobs), -1))
        totals[parameter.group] += flat.sum(axis=1)
        counts[parameter.group] += flat.shape[1]

    results = []
    for k in range(len(jobs)):
        results.append({
            f"mean_abs_{group}": float(totals[group][k] / counts[group])
            for group in GROUPS if counts[group]
        })
    return results
