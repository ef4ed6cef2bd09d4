"""Training runs for hyperparameter-transfer sweeps, and the optimum of a loss curve.

Each run trains for a fixed number of steps (a fixed token budget) on the corpus with a
learning-rate schedule and reports its final loss on a fixed training set and on a fixed
held-out set, each the same for every run of a base seed. The points of a learning-rate
or init-std grid differ only in ``lr`` or ``init_std``, so they share their initial draws
and data order (see :mod:`sims.seeds`) and train together as one ensemble.
"""

import math
import numbers

import numpy as np

from sims.cache import RunCache
from sims.data import load_corpus
from sims.layers import softmax_cross_entropy
from sims.runs import RunConfig, build_ensemble
from sims.scales import check_scale
from sims.schedules import lr_factor
from sims.seeds import stream_seed
from sims.sweep import Job, run_ensembles
from sims.training import train_step

KIND = "transfer"

CURVE_POINTS = 20
"""Number of windows over which the training loss curve is averaged."""


def train_and_evaluate(runs, steps, schedule="cosine", warmup=0, eval_size=1024, table=None,
                       cache=RunCache(None), max_members=32):
    """Train every run for ``steps`` steps and evaluate its final losses.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
    steps : int
        Training steps; the token budget is ``steps * batch_size`` next-token targets for
        the residual MLP and ``steps * batch_size * seq_len`` for the transformer.
    schedule : {"constant", "cosine"}
        See :func:`sims.schedules.lr_factor`.
    warmup : int
        Linear warmup steps.
    eval_size : int
        Examples in each of the fixed training and held-out evaluation sets.
    table : theory.parameterization.ParameterizationTable, optional
        Each run's derived table by default.
    cache : sims.cache.RunCache

    Returns
    -------
    list of dict
        One per run: ``train_loss`` and ``heldout_loss`` (final mean cross-entropy in nats
        on the evaluation sets; NaN if the run diverged), ``loss_curve`` (the training
        loss averaged over ``CURVE_POINTS`` windows of steps), ``diverged`` and
        ``diverged_step`` (-1 if it did not diverge).

    Raises
    ------
    ValueError
        If ``steps`` or ``eval_size`` is not an integer of at least 1 (a token budget
        smaller than one batch), or the schedule and warmup are invalid.
    """
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"a token budget of {steps!r} steps is smaller than one batch: "
                         f"give an integer number of steps of at least 1")
    if isinstance(eval_size, bool) or not isinstance(eval_size, numbers.Integral) or eval_size < 1:
        raise ValueError(f"invalid eval_size {eval_size!r}: give an integer of at least 1")
    settings = {"steps": int(steps), "schedule": schedule, "warmup": int(warmup),
                "eval_size": int(eval_size)}
    lr_factor(schedule, 0, steps, warmup)
    jobs = [Job(run, run.default_table() if table is None else table, settings) for run in runs]
    return run_ensembles(KIND, jobs, _run_group, cache, max_members, "training runs")


def _run_group(jobs):
    settings = jobs[0].settings
    steps = settings["steps"]
    members = len(jobs)
    ensemble = build_ensemble([job.run for job in jobs], jobs[0].table)
    config = ensemble.configs[0]

    active = np.ones(members, dtype=bool)
    diverged_step = np.full(members, -1)
    losses = np.full((members, steps), np.nan)
    for step in range(steps):
        was_active = active.copy()
        factor = lr_factor(settings["schedule"], step, steps, settings["warmup"])
        losses[:, step] = train_step(ensemble, active, factor)
        diverged_step[was_active & ~active] = step

    corpus = load_corpus()
    final = {}
    for split in ("train", "heldout"):
        tokens, targets = config.fixed_examples(corpus.split(split), settings["eval_size"],
                                                stream_seed(config.base_seed, f"eval-{split}"))
        final[split] = _evaluate(ensemble.model, tokens, targets, members)

    windows = np.array_split(np.arange(steps), min(CURVE_POINTS, steps))
    results = []
    for k in range(members):
        diverged = bool(diverged_step[k] >= 0)
        results.append({
            "train_loss": float("nan") if diverged else float(final["train"][k]),
            "heldout_loss": float("nan") if diverged else float(final["heldout"][k]),
            "loss_curve": np.array([np.mean(losses[k, window]) for window in windows]),
            "diverged": diverged,
            "diverged_step": int(diverged_step[k]),
        })
    return results


def _evaluate(model, tokens, targets, members, chunk=256):
    """Return each member's mean loss on a fixed set, evaluated in chunks of examples."""
    total = np.zeros(members)
    count = tokens.shape[1]
    with np.errstate(all="ignore"):
        for start in range(0, count, chunk):
            part_tokens = tokens[:, start:start + chunk]
            part_targets = targets[:, start:start + chunk]
            logits, _ = model.forward(np.broadcast_to(part_tokens, (members,) + part_tokens.shape[1:]))
            loss, _ = softmax_cross_entropy(
                logits, np.broadcast_to(part_targets, (members,) + part_targets.shape[1:]))
            total += loss * part_tokens.shape[1]
    return total / count


def grid_optimum(log2_values, losses):
    """Locate the minimum of a loss curve on a log2 grid.

    The grid minimum and its two neighbours determine a parabola in ``log2 x`` whose vertex
    is the sub-grid optimum. At an edge of the grid, or where the three points do not
    curve upward, the grid minimum itself is returned. Non-finite losses (diverged runs)
    count as worse than any finite one.

    Parameters
    ----------
    log2_values : array_like, shape (n,)
        Increasing grid, e.g. ``log2`` of learning rates.
    losses : array_like, shape (n,)

    Returns
    -------
    dict
        ``optimum`` (log2 of the optimum), ``grid_optimum`` (log2 of the grid minimum),
        ``best_loss`` (the smallest loss seen on the grid), ``interior`` (whether the
        vertex was fitted), ``parabola_loss`` (the vertex's loss, lower than ``best_loss``
        on lopsided curves; NaN at an edge), or all NaN when no loss is finite.
    """
    x = np.asarray(log2_values, dtype=float)
    y = np.asarray(losses, dtype=float)
    finite = np.isfinite(y)
    if not finite.any():
        nan = float("nan")
        return {"optimum": nan, "grid_optimum": nan, "best_loss": nan, "interior": False,
                "parabola_loss": nan}

    index = int(np.argmin(np.where(finite, y, np.inf)))
    result = {"optimum": float(x[index]), "grid_optimum": float(x[index]),
              "best_loss": float(y[index]), "interior": False, "parabola_loss": float("nan")}
    if index == 0 or index == len(x) - 1 or not finite[index - 1:index + 2].all():
        return result

    a, b, c = np.polyfit(x[index - 1:index + 2], y[index - 1:index + 2], 2)
    if a <= 0:
        return result
    vertex = -b / (2 * a)
    result.update({"optimum": float(vertex), "interior": True,
                   "parabola_loss": float(c - b * b / (4 * a))})
    return result


def log2_grid(values):
    """Return ``log2`` of a grid of positive finite values, or raise ``ValueError``."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"a grid needs at least two values, got {values.tolist()}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"grid values must be positive and finite, got {values.tolist()}")
    if np.any(np.diff(values) <= 0):
        raise ValueError(f"grid values must increase, got {values.tolist()}")
    return np.array([math.log2(v) for v in values])


GRID_AXES = ("lr", "init_std")


def transfer_sweep(base, depths, axis, values, seeds, steps, schedule="cosine", warmup=0,
                   eval_size=1024, table=None, cache=RunCache(None)):
    """Train a grid of one hyperparameter at several depths and locate each optimum.

    Parameters
    ----------
    base : sims.runs.RunConfig
        Every field but ``depth``, ``seed_index`` and ``axis`` is kept.
    depths : sequence of int
    axis : {"lr", "init_std"}
        The base hyperparameter on the grid (``eta_base`` or ``sigma_base``).
    values : sequence of float
        Increasing grid of positive values.
    seeds : int
        Seed indices ``0 .. seeds - 1``.
    steps, schedule, warmup, eval_size, table, cache
        As in :func:`train_and_evaluate`.

    Returns
    -------
    dict
        ``runs`` (the run configurations, depth-major, then seed, then grid point) and
        ``results`` (their :func:`train_and_evaluate` results, in the same order);
        ``log2_values`` (the grid), ``depths``; ``train_loss`` and ``heldout_loss``
        arrays of shape ``(depths, seeds, grid)`` (NaN where a run diverged);
        ``diverged`` of the same shape; ``optima``: per depth and seed the
        :func:`grid_optimum` of the training loss; ``optimum`` and ``optimum_spread``
        (mean and standard deviation over seeds, in log2 units) and ``best_loss`` (mean
        over seeds of the best grid loss) per depth; ``edge_optima``, how many of the
        per-seed optima lie on an edge of the grid, where the true optimum may lie
        beyond it; ``drift``, the optimum's drift, and ``best_loss_trend``, the best
        loss's change, from the shallowest to the deepest model (see
        :func:`optimum_drift`).
    """
    if axis not in GRID_AXES:
        raise ValueError(f"unknown grid axis {axis!r}; valid: {', '.join(GRID_AXES)}")
    log2_values = log2_grid(values)
    depths = [int(depth) for depth in depths]

    runs = [
        base.replace(depth=depth, seed_index=seed, **{axis: float(value)})
        for depth in depths for seed in range(seeds) for value in values
    ]
    results = train_and_evaluate(runs, steps, schedule, warmup, eval_size, table, cache)
    shape = (len(depths), seeds, len(values))
    train_loss = np.array([r["train_loss"] for r in results]).reshape(shape)
    heldout_loss = np.array([r["heldout_loss"] for r in results]).reshape(shape)
    diverged = np.array([r["diverged"] for r in results]).reshape(shape)

    optima = [[grid_optimum(log2_values, train_loss[d, s]) for s in range(seeds)]
              for d in range(len(depths))]
    optimum = np.array([[o["optimum"] for o in row] for row in optima])
    best = np.array([[o["best_loss"] for o in row] for row in optima])
    grid_ends = (log2_values[0], log2_values[-1])
    edges = sum(1 for row in optima for o in row if o["grid_optimum"] in grid_ends)
    return {
        "axis": axis,
        "runs": runs,
        "results": results,
        "log2_values": log2_values.tolist(),
        "depths": depths,
        "train_loss": train_loss,
        "heldout_loss": heldout_loss,
        "diverged": diverged,
        "optima": optima,
        "optimum": np.nanmean(optimum, axis=1).tolist() if np.isfinite(optimum).any() else [],
        "optimum_spread": _spread(optimum).tolist(),
        "best_loss": np.nanmean(best, axis=1).tolist() if np.isfinite(best).any() else [],
        "best_loss_spread": _spread(best).tolist(),
        "edge_optima": edges,
        "drift": optimum_drift(depths, optimum),
        "best_loss_trend": optimum_drift(depths, best),
    }


def optimum_drift(depths, optimum):
    """Fit how a per-seed quantity moves with ``log2`` depth, in units of its own axis.

    For each seed a straight line through ``(log2 L, optimum)`` is fitted by least
    squares over the depths where the optimum is finite; its slope times
    ``log2(L_max / L_min)`` is that seed's drift from the shallowest to the deepest
    model. A drift of +1 on a log2 learning-rate grid means the optimum doubled.

    Parameters
    ----------
    depths : sequence of int
    optimum : array_like, shape (depths, seeds)

    Returns
    -------
    dict
        ``drift`` (mean over seeds), ``spread`` (standard deviation over seeds, 0 for one
        seed), ``seed_drifts`` and ``seeds`` (how many could be fitted); NaN drift when no
        seed has two finite points.
    """
    x = np.log2(np.asarray(depths, dtype=float))
    optimum = np.asarray(optimum, dtype=float)
    span = x.max() - x.min()
    drifts = []
    for column in optimum.T:
        keep = np.isfinite(column)
        if keep.sum() < 2:
            continue
        slope = np.polyfit(x[keep], column[keep], 1)[0]
        drifts.append(float(slope * span))
    if not drifts:
        return {"drift": float("nan"), "spread": float("nan"), "seed_drifts": [], "seeds": 0}
    return {
        "drift": float(np.mean(drifts)),
        "spread": float(np.std(drifts, ddof=1)) if len(drifts) > 1 else 0.0,
        "seed_drifts": drifts,
        "seeds": len(drifts),
    }


def _spread(values):
    """Return the standard deviation over seeds (axis 1) of finite values, NaN if too few."""
    spreads = []
    for row in np.asarray(values, dtype=float):
        finite = row[np.isfinite(row)]
        spreads.append(float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan"))
    return np.array(spreads)


TRANSFER_PANELS = (("sp", None), ("mup", None), ("alpha", 0.5), ("alpha", 1.0))
"""Parameterizations of the transfer sweeps: SP, muP, alpha = 1/2 and alpha = 1."""

TRANSFER_SCALES = {
    "smoke": {"model": "residual_mlp", "width": 16, "depths": (2, 4), "seeds": 2,
              "steps": 12, "batch_size": 16, "warmup": 2, "eval_size": 64,
              "lr_exponents": (-10, -8, -6, -4), "init_exponents": (-8, -6, -4, -2),
              "fixed_lr": 2.0**-8, "fixed_init_std": 0.02, "dtype": "float32",
              "schedule": "cosine"},
    "quick": {"model": "residual_mlp", "width": 64, "depths": (2, 4, 8, 16), "seeds": 2,
              "steps": 1000, "batch_size": 64, "warmup": 100, "eval_size": 1024,
              "lr_exponents": tuple(range(-12, -4)), "init_exponents": tuple(range(-9, -1)),
              "fixed_lr": 2.0**-8, "fixed_init_std": 0.02, "dtype": "float32",
              "schedule": "cosine"},
    "paper": {"model": "transformer", "width": 128, "heads": 4, "seq_len": 64,
              "depths": (2, 4, 8, 16, 32), "seeds": 3, "steps": 2000, "batch_size": 16,
              "warmup": 200, "eval_size": 1024,
              "lr_exponents": tuple(range(-13, -3)), "init_exponents": tuple(range(-10, 0)),
              "fixed_lr": 2.0**-8, "fixed_init_std": 0.02, "dtype": "float32",
              "schedule": "cosine"},
}
"""Sweep sizes of the depth-transfer figures and claims per scale: the residual MLP at the
smoke and quick scales, the transformer (``heads`` heads, ``seq_len`` tokens) at the paper
scale, with ``N_base = 128`` and ``L_base = 2``, so that SP and muP differ at these widths.
The grids are log2 exponents of ``eta_base`` (``lr_exponents``) and of ``sigma_base``
(``init_exponents``); the other base constant is held at ``fixed_lr`` or
``fixed_init_std``."""


MODEL_KEYS = ("model", "width", "heads", "seq_len")
"""Keys of :data:`TRANSFER_SCALES` that shape the model; the transformer's alone give
``heads`` and ``seq_len``."""


def depth_transfer_sweeps(axis, scale, base_seed, activations, cache=RunCache(None)):
    """Run the depth-transfer sweeps of every parameterization and activation.

    Parameters
    ----------
    axis : {"lr", "init_std"}
    scale : {"smoke", "quick", "paper"}
    base_seed : int
    activations : sequence of str
        E.g. ``("gelu", "tanh")``.
    cache : sims.cache.RunCache

    Returns
    -------
    dict
        ``(activation, parameterization, alpha)`` to the :func:`transfer_sweep` result.
    """
    if axis not in GRID_AXES:
        raise ValueError(f"unknown grid axis {axis!r}; valid: {', '.join(GRID_AXES)}")
    settings = TRANSFER_SCALES[check_scale(scale)]
    exponents = settings["lr_exponents"] if axis == "lr" else settings["init_exponents"]
    values = [2.0**exponent for exponent in exponents]

    shape = {key: settings[key] for key in MODEL_KEYS if key in settings}

    sweeps = {}
    for activation in activations:
        for parameterization, alpha in TRANSFER_PANELS:
            base = RunConfig(
                **shape, depth=settings["depths"][0], activation=activation,
                parameterization=parameterization, alpha=alpha,
                lr=settings["fixed_lr"], init_std=settings["fixed_init_std"],
                batch_size=settings["batch_size"], dtype=settings["dtype"],
                base_seed=base_seed,
            )
            sweeps[(activation, parameterization, alpha)] = transfer_sweep(
                base, settings["depths"], axis, values, settings["seeds"], settings["steps"],
                settings["schedule"], settings["warmup"], settings["eval_size"], cache=cache,
            )
    return sweeps
