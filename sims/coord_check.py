"""Coordinate check: per-layer activation statistics at init and after each early step.

For each run the harness draws one probe batch from the training text, the same for every
run of a base seed, and trains on the run's own batches. After each step it measures on
the probe batch the mean absolute value and RMS of every residual-stream state ``h^l`` and
of every block output ``F_l`` (before the branch multiplier), together with

* ``branch_sum_variance``: ``||h^L - h^0||**2 / N``, the variance per coordinate of the
  accumulated branch sum (at step 0, theory ``L**(1 - 2 alpha)``);
* ``stream_update``: ``||h^L_s - h^L_0||**2 / N``, the change of the final residual
  stream since initialization.

Both are averaged over the probe examples.
"""

import numpy as np

from sims.cache import RunCache
from sims.data import load_corpus
from sims.layers import softmax_cross_entropy
from sims.runs import build_ensemble
from sims.seeds import stream_seed
from sims.sweep import Job, run_ensembles
from sims.training import train_step

KIND = "coord-check"


def coord_check_jobs(runs, steps, probe_size=256, table=None):
    """Pair runs with their table and the harness settings.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
    steps : int
        Training steps after initialization.
    probe_size : int
        Examples in the probe batch.
    table : theory.parameterization.ParameterizationTable, optional
        Table to train with; each run's derived table by default.
    """
    settings = {"steps": int(steps), "probe_size": int(probe_size)}
    return [Job(run, run.default_table() if table is None else table, settings) for run in runs]


def coord_check(runs, steps, probe_size=256, table=None, cache=RunCache(None), max_members=16):
    """Run the coordinate check for every run, from the cache where possible.

    Returns
    -------
    list of dict
        One per run, with arrays indexed by step ``s = 0 .. steps`` (0 is initialization):
        ``stream_mean_abs``, ``stream_rms`` of shape ``(steps + 1, L + 1)``;
        ``branch_mean_abs``, ``branch_rms`` of shape ``(steps + 1, L)``;
        ``branch_sum_variance``, ``stream_update``, ``probe_loss`` of shape
        ``(steps + 1,)``; ``train_loss`` of shape ``(steps,)``; and ``diverged`` (bool)
        with ``diverged_step`` (the first step whose loss diverged, or -1). After a
        divergence the member is no longer updated and its later statistics repeat.
    """
    jobs = coord_check_jobs(runs, steps, probe_size, table)
    return run_ensembles(KIND, jobs, _run_group, cache, max_members, "coordinate check")


def _run_group(jobs):
    steps = jobs[0].settings["steps"]
    probe_size = jobs[0].settings["probe_size"]
    ensemble = build_ensemble([job.run for job in jobs], jobs[0].table)
    config = ensemble.configs[0]
    members = len(jobs)

    corpus = load_corpus()
    tokens, targets = config.fixed_examples(corpus.train, probe_size,
                                            stream_seed(config.base_seed, "probe"))
    tokens = np.broadcast_to(tokens, (members,) + tokens.shape[1:])
    targets = np.broadcast_to(targets, (members,) + targets.shape[1:])

    records = [_probe_statistics(ensemble.model, tokens, targets, None)]
    first_final_stream = records[0].pop("final_stream")
    train_loss = np.full((members, steps), np.nan)
    diverged_step = np.full(members, -1)
    active = np.ones(members, dtype=bool)
    for step in range(steps):
        was_active = active.copy()
        train_loss[:, step] = train_step(ensemble, active)
        diverged_step[was_active & ~active] = step
        statistics = _probe_statistics(ensemble.model, tokens, targets, first_final_stream)
        statistics.pop("final_stream")
        records.append(statistics)

    results = []
    for k in range(members):
        result = {name: np.stack([r[name][k] for r in records]) for name in records[0]}
        result["train_loss"] = train_loss[k]
        result["diverged"] = bool(diverged_step[k] >= 0)
        result["diverged_step"] = int(diverged_step[k])
        results.append(result)
    return results


def _probe_statistics(model, tokens, targets, first_final_stream):
    """Return per-member statistics of one forward pass on the probe batch.

    Every statistic averages over all axes but the ensemble axis: examples, positions
    (for a transformer) and coordinates. ``||x||**2 / N`` averaged over examples is thus
    the mean square of ``x``.
    """
    with np.errstate(all="ignore"):
        logits, cache = model.forward(tokens)
        probe_loss, _ = softmax_cross_entropy(logits, targets)
        stream = cache["stream"]
        branch = cache["branch"]

        final = stream[-1]
        statistics = {
            "stream_mean_abs": np.stack([_mean_abs(h) for h in stream], axis=1),
            "stream_rms": np.stack([np.sqrt(_mean_square(h)) for h in stream], axis=1),
            "branch_mean_abs": np.stack([_mean_abs(f) for f in branch], axis=1),
            "branch_rms": np.stack([np.sqrt(_mean_square(f)) for f in branch], axis=1),
            "branch_sum_variance": _mean_square(final - stream[0]),
            "probe_loss": probe_loss,
            "final_stream": final.copy(),
        }
        if first_final_stream is None:
            statistics["stream_update"] = np.zeros(final.shape[0])
        else:
            statistics["stream_update"] = _mean_square(final - first_final_stream)
    return statistics


def _mean_abs(x):
    return np.abs(x).reshape(x.shape[0], -1).mean(axis=1)


def _mean_square(x):
    flat = x.reshape(x.shape[0], -1)
    return (flat * flat).mean(axis=1)


def coord_check_records(runs, results):
    """Flatten results into tidy records, one per run, step, site and layer.

    Returns
    -------
    list of dict
        Keys: ``parameterization``, ``alpha``, ``width``, ``depth``, ``seed_index``,
        ``step``, ``site`` (``"stream"`` or ``"branch"``), ``layer``, ``mean_abs``, ``rms``.
    """
    records = []
    for run, result in zip(runs, results):
        for site in ("stream", "branch"):
            mean_abs = result[f"{site}_mean_abs"]
            rms = result[f"{site}_rms"]
            for step in range(mean_abs.shape[0]):
                for layer in range(mean_abs.shape[1]):
                    records.append({
                        "parameterization": run.parameterization, "alpha": run.alpha,
                        "width": run.width, "depth": run.depth, "seed_index": run.seed_index,
                        "step": step, "site": site,
                        "layer": layer if site == "stream" else layer + 1,
                        "mean_abs": float(mean_abs[step, layer]),
                        "rms": float(rms[step, layer]),
                    })
    return records


def statistic(results, name, step):
    """Return one statistic at one step of every run, NaN where the run had diverged.

    A run that diverged at training step ``d`` (its loss at the state after ``d``
    updates exceeded the bound) is frozen at that state, so its statistics from step
    ``d`` on describe a diverged network and are returned as NaN.

    Parameters
    ----------
    results : list of dict
        From :func:`coord_check`.
    name : str
        A per-step statistic, e.g. ``"branch_sum_variance"`` or ``"stream_update"``.
    step : int
        Index into the statistic, ``0`` for initialization.

    Returns
    -------
    list of float
    """
    values = []
    for result in results:
        diverged_step = int(result["diverged_step"])
        if 0 <= diverged_step <= step:
            values.append(float("nan"))
        else:
            values.append(float(np.asarray(result[name])[step]))
    return values
