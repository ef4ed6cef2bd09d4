"""Run many configurations as ensembles, keeping every finished run in the cache."""

import json
from dataclasses import dataclass, field

from tqdm import tqdm

from sims.allocator import retain_freed_memory

from sims.runs import table_fingerprint


@dataclass(frozen=True)
class Job:
    """One run of one measurement: the run, the table it trains with and the settings.

    Parameters
    ----------
    run : sims.runs.RunConfig
    table : theory.parameterization.ParameterizationTable
        Alpha substituted.
    settings : dict
        JSON-ready settings of the measurement (steps, probe size ...).
    """

    run: object
    table: object
    settings: dict = field(default_factory=dict)

    def cache_config(self):
        return {"run": self.run.to_dict(), "table": table_fingerprint(self.table),
                "settings": self.settings}

    def ensemble_key(self):
        return self.run.ensemble_key() + json.dumps(
            {"table": table_fingerprint(self.table), "settings": self.settings}, sort_keys=True)


def run_ensembles(kind, configs, run_ensemble, cache, max_members=16, description=None):
    """Return one result per configuration, running only those not in the cache.

    Missing runs are grouped by :meth:`Job.ensemble_key` into ensembles of
    at most ``max_members``; ``run_ensemble(group)`` trains one group and returns one
    result per member. Each result is stored as soon as its ensemble finishes, so an
    interrupted sweep loses at most the ensemble in progress.

    Parameters
    ----------
    kind : str
        Cache namespace of the measurement, e.g. ``"coord-check"``.
    configs : list of Job
    run_ensemble : callable
        ``list of configs -> list of results`` (dicts of arrays and JSON values).
    cache : sims.cache.RunCache
    max_members : int
    description : str, optional
        Label of the progress bar on stderr.

    Returns
    -------
    list of dict
        In the order of ``configs``.
    """
    # Training steps free and reallocate megabytes of activations and gradients; the
    # process keeps that memory instead of faulting it in again (see sims.allocator).
    retain_freed_memory()
    results = [cache.load(kind, config.cache_config()) for config in configs]
    missing = {}
    for index, (config, result) in enumerate(zip(configs, results)):
        if result is None:
            missing.setdefault(config.ensemble_key(), []).append(index)

    groups = []
    for indices in missing.values():
        for start in range(0, len(indices), max_members):
            groups.append(indices[start:start + max_members])

    with tqdm(total=sum(len(g) for g in groups), desc=description or kind, unit="run",
              disable=None, leave=False) as bar:
        for indices in groups:
            group = [configs[i] for i in indices]
            group_results = run_ensemble(group)
            for index, config, result in zip(indices, group, group_results):
                cache.store(kind, config.cache_config(), result)
                results[index] = result
            bar.update(len(group))
    return results
