"""Depth sweeps and their log-log slopes, shared by figures and claims."""

import numpy as np

from sims.fits import seed_slopes


def depth_sweep(base, depths, seeds):
    """Return one run per depth and seed index, seed-major.

    Parameters
    ----------
    base : sims.runs.RunConfig
        Every field but ``depth`` and ``seed_index`` is kept.
    depths : sequence of int
    seeds : int
        Seed indices ``0 .. seeds - 1``.
    """
    return [base.replace(depth=int(depth), seed_index=seed) for seed in range(seeds) for depth in depths]


def depth_grid(runs, values):
    """Arrange one value per run on a grid of seed index by depth ``L``.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
        Runs that differ only in ``depth`` and ``seed_index``, each pair at most once.
    values : sequence of float
        One per run, in the same order.

    Returns
    -------
    depths : list of int
        Sorted.
    seed_indices : list of int
        Sorted.
    grid : numpy.ndarray, shape (seeds, depths)
        NaN where the sweep lacks that run or where its value is not positive and finite
        (a diverged run, or a quantity that a log-log fit cannot take).

    Raises
    ------
    ValueError
        If the runs differ in more than depth and seed index, or repeat a (depth, seed
        index) pair.
    """
    if len(runs) != len(values):
        raise ValueError(f"got {len(runs)} runs but {len(values)} values")
    shared = {_without_depth_and_seed(run) for run in runs}
    if len(shared) != 1:
        raise ValueError("the runs of a depth sweep may differ only in depth and seed_index")

    depths = sorted({run.depth for run in runs})
    seed_indices = sorted({run.seed_index for run in runs})
    grid = np.full((len(seed_indices), len(depths)), np.nan)
    filled = np.zeros(grid.shape, dtype=bool)
    for run, value in zip(runs, values):
        row = seed_indices.index(run.seed_index)
        column = depths.index(run.depth)
        if filled[row, column]:
            raise ValueError(f"depth {run.depth} with seed index {run.seed_index} appears twice")
        filled[row, column] = True
        value = float(value)
        if np.isfinite(value) and value > 0:
            grid[row, column] = value
    return depths, seed_indices, grid


def depth_slope(runs, values):
    """Fit the log-log slope against depth ``L`` of one value per run, per seed.

    For every seed index the fit is ``log y = slope * log L + intercept`` over the points
    of :func:`depth_grid` (:func:`sims.fits.seed_slopes`).

    Returns
    -------
    dict
        The keys of :func:`sims.fits.seed_slopes`, plus ``depths``, ``seed_indices``,
        ``values`` (the grid as nested lists) and ``excluded`` (its number of NaN points).

    Raises
    ------
    ValueError
        If :func:`depth_grid` raises, or if no seed has two points to fit.
    """
    depths, seed_indices, grid = depth_grid(runs, values)
    fit = seed_slopes(depths, grid)
    fit.update({
        "depths": depths,
        "seed_indices": seed_indices,
        "values": grid.tolist(),
        "excluded": int(np.isnan(grid).sum()),
    })
    return fit


def _without_depth_and_seed(run):
    """Return a hashable description of ``run`` that leaves out depth and seed index."""
    document = run.to_dict()
    document.pop("depth")
    document.pop("seed_index")
    return repr(sorted(document.items()))
