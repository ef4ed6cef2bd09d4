"""Log-log slope fits over seeds, and the mean and spread of a value over seeds."""

import numpy as np
from scipy import stats


def loglog_slope(x, y):
    """Fit ``log y = slope * log x + intercept`` by least squares.

    Returns
    -------
    scipy.stats._stats_py.LinregressResult
        ``slope``, ``intercept``, ``stderr`` and the rest of :func:`scipy.stats.linregress`.

    Raises
    ------
    ValueError
        If fewer than two points are positive and finite.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        raise ValueError(f"a log-log fit needs two positive finite points, got {int(keep.sum())}")
    return stats.linregress(np.log(x[keep]), np.log(y[keep]))


def seed_slopes(x, y):
    """Fit a log-log slope per seed and summarize the spread.

    Parameters
    ----------
    x : array_like, shape (n,)
        E.g. depths.
    y : array_like, shape (seeds, n)
        The measured quantity, one row per seed. Non-positive or non-finite entries
        (diverged runs) are left out of that seed's fit.

    Returns
    -------
    dict
        ``slope``: mean of the per-seed slopes; ``spread``: their standard deviation
        (``ddof=1``; 0 for one seed); ``seed_slopes``: the list of them;
        ``mean_curve_slope``: slope of the fit to the geometric mean over seeds;
        ``seeds``: the number of seeds that could be fitted.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    slopes = []
    for row in y:
        try:
            slopes.append(float(loglog_slope(x, row).slope))
        except ValueError:
            continue
    if not slopes:
        raise ValueError("no seed has two positive finite points to fit")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rows = np.where(y > 0, np.log(np.where(y > 0, y, 1.0)), np.nan)
    geometric_mean = np.exp(np.nanmean(log_rows, axis=0)) if np.isfinite(log_rows).any() else y[0]
    return {
        "slope": float(np.mean(slopes)),
        "spread": float(np.std(slopes, ddof=1)) if len(slopes) > 1 else 0.0,
        "seed_slopes": slopes,
        "mean_curve_slope": float(loglog_slope(x, geometric_mean).slope),
        "seeds": len(slopes),
    }


def seed_summary(values):
    """Return the mean and the standard deviation (``ddof = 1``) over seeds of finite values.

    Returns
    -------
    dict
        ``mean``, ``std`` (NaN for fewer than two finite values) and ``finite`` (how many
        values entered).
    """
    finite = np.asarray([value for value in values if np.isfinite(value)], dtype=float)
    if finite.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "finite": 0}
    std = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
    return {"mean": float(np.mean(finite)), "std": std, "finite": int(finite.size)}
