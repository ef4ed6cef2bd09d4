"""Depth and width sweeps and their log-log slopes, shared by figures and claims."""

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


SWEEP_AXES = ("depth", "width")


def sweep_grid(runs, values, axis="depth"):
    """Arrange one value per run on a grid of seed index by depth ``L`` or width ``N``.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
        Runs that differ only in ``axis`` and ``seed_index``, each pair at most once.
    values : sequence of float
        One per run, in the same order.
    axis : {"depth", "width"}

    Returns
    -------
    points : list of int
        The sorted depths or widths.
    seed_indices : list of int
        Sorted.
    grid : numpy.ndarray, shape (seeds, points)
        NaN where the sweep lacks that run or where its value is not positive and finite
        (a diverged run, or a quantity that a log-log fit cannot take).

    Raises
    ------
    ValueError
        If the runs differ in more than ``axis`` and seed index, or repeat a pair.
    """
    if axis not in SWEEP_AXES:
        raise ValueError(f"unknown sweep axis {axis!r}; valid: {', '.join(SWEEP_AXES)}")
    if len(runs) != len(values):
        raise ValueError(f"got {len(runs)} runs but {len(values)} values")
    shared = {_without(run, axis) for run in runs}
    if len(shared) != 1:
        raise ValueError(f"the runs of a {axis} sweep may differ only in {axis} and seed_index")

    points = sorted({getattr(run, axis) for run in runs})
    seed_indices = sorted({run.seed_index for run in runs})
    grid = np.full((len(seed_indices), len(points)), np.nan)
    filled = np.zeros(grid.shape, dtype=bool)
    for run, value in zip(runs, values):
        row = seed_indices.index(run.seed_index)
        column = points.index(getattr(run, axis))
        if filled[row, column]:
            raise ValueError(f"{axis} {getattr(run, axis)} with seed index {run.seed_index} "
                             "appears twice")
        filled[row, column] = True
        value = float(value)
        if np.isfinite(value) and value > 0:
            grid[row, column] = value
    return points, seed_indices, grid


def depth_grid(runs, values):
    """Return :func:`sweep_grid` over depth."""
    return sweep_grid(runs, values, "depth")


def sweep_slope(runs, values, axis="depth"):
    """Fit the log-log slope against depth or width of one value per run, per seed.

    For every seed index the fit is ``log y = slope * log x + intercept`` over the points
    of :func:`sweep_grid` (:func:`sims.fits.seed_slopes`), with ``x`` the depth ``L`` or
    the width ``N``.

    Returns
    -------
    dict
        The keys of :func:`sims.fits.seed_slopes`, plus ``axis``, ``points`` (the depths
        or widths), ``seed_indices``, ``values`` (the grid as nested lists) and
        ``excluded`` (its number of NaN points).

    Raises
    ------
    ValueError
        If :func:`sweep_grid` raises, or if no seed has two points to fit.
    """
    points, seed_indices, grid = sweep_grid(runs, values, axis)
    fit = seed_slopes(points, grid)
    fit.update({
        "axis": axis,
        "points": points,
        "seed_indices": seed_indices,
        "values": grid.tolist(),
        "excluded": int(np.isnan(grid).sum()),
    })
    return fit


def depth_slope(runs, values):
    """Return :func:`sweep_slope` over depth."""
    return sweep_slope(runs, values, "depth")


def width_slope(runs, values):
    """Return :func:`sweep_slope` over width."""
    return sweep_slope(runs, values, "width")


def _without(run, axis):
    """Return a hashable description of ``run`` that leaves out ``axis`` and the seed index."""
    document = run.to_dict()
    document.pop(axis)
    document.pop("seed_index")
    return repr(sorted(document.items()))
