"""CompleteP claims: depth exponents of the alpha family, decided by simulation.

Every AdamW simulation here trains with the learning rates, multipliers and epsilon of
the transcribed Table 1 (:mod:`proofs.table1`), never with the derived table, so that no
measured exponent is read from the table it tests. SGD, which Table 1 lacks, is decided
by a scan over candidate learning-rate exponents. Predictions come from the derivation
(:func:`theory.completep.depth_exponents`).

Measurements, all on the residual MLP on the corpus in float64:

* ``init-variance``: ``||h^L - h^0||**2 / N`` at initialization
  (:func:`sims.coord_check.coord_check`);
* ``stream update``: ``||h^L_k - h^L_0||**2 / N`` after ``k`` steps in which only the
  in-block parameters train, so that the embedding's own update does not mask the
  blocks' (:func:`sims.coord_check.coord_check`);
* ``block change`` and ``laziness ratio`` of block ``floor(L / 2)`` after ``k`` Adam steps
  on its own weights (:func:`sims.linearization.linearization`);
* ``gradient entries`` of the hidden weights at initialization
  (:func:`sims.gradients.gradient_entries`);
* ``decay per step`` of the hidden weights (:func:`sims.weight_decay.decoupled_decay`).

Each is fitted as a log-log slope against depth per seed (:func:`sims.depth_fits.depth_slope`);
a row's measured value is the mean of the per-seed slopes.
"""

import numpy as np
import sympy
from scipy import stats

from proofs.ledger import Claim, RowResult, Rule
from proofs.table1 import compare_with_derived, table1_column
from sims.coord_check import coord_check, statistic
from sims.depth_fits import depth_slope, depth_sweep, width_slope
from sims.gradients import gradient_entries
from sims.hyperparameters import make_table
from sims.linearization import linearization
from sims.runs import RunConfig
from sims.scales import check_scale
from sims.weight_decay import decoupled_decay
from theory.completep import depth_exponents, derive
from theory.parameterization import IN_BLOCK_GROUPS
from theory.symbols import alpha as alpha_symbol

SOURCE_TABLE1 = "Dey et al. 2025 (arXiv 2505.01618), Table 1 [exact]"
SOURCE_DERIVED = ("Dey et al. 2025 (arXiv 2505.01618), desiderata of its theory section; "
                  "exponents re-derived in theory.completep")

SCALES = {
    "smoke": {"width": 32, "depths": (2, 4, 8, 16), "seeds": 2, "batch_size": 16,
              "probe_size": 64, "sgd_exponents": (-1.0, 0.0, 1.0, 2.0), "widths": (16, 32, 64)},
    "quick": {"width": 128, "depths": (2, 4, 8, 16, 32, 64), "seeds": 4, "batch_size": 64,
              "probe_size": 256, "sgd_exponents": (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0),
              "widths": (64, 128, 256)},
    "paper": {"width": 256, "depths": (2, 4, 8, 16, 32, 64, 128, 256), "seeds": 8,
              "batch_size": 64, "probe_size": 512,
              "sgd_exponents": (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0), "widths": (64, 128, 256, 512)},
}
"""Sweep sizes per scale. Tolerances are calibrated at the quick scale."""

STEPS = (1, 5)
"""Numbers of optimizer steps after which update-size claims are checked. Adam's first
step is sign-like and its size is the learning rate itself; later steps are not."""

SGD_LR = 1e-3
"""Base SGD learning rate of the scan: small enough that the stream update stays in its
linear regime at the candidate exponents near the root, up to the deepest model."""

LINEARIZATION_LR = 1e-4
"""Base Adam learning rate of the linearization claims: small enough that the laziness
ratio stays well below one after the largest number of steps, where its depth exponent
is that of its leading (second-order) term."""

EXAMPLE_ALPHAS = (0.5, 1.0)


def settings_for(scale):
    """Return the sweep sizes of ``scale`` as a new dict."""
    return dict(SCALES[check_scale(scale)])


def _base_run(settings, seed, **changes):
    base = RunConfig(width=settings["width"], depth=2, dtype="float64",
                     batch_size=settings["batch_size"], base_seed=seed)
    return base.replace(**changes)


def _alpha_label(alpha):
    return "SP" if alpha is None else f"alpha={sympy.nsimplify(alpha)}"


def _table(alpha):
    return table1_column("sp") if alpha is None else table1_column("alpha", alpha)


def _sweep(settings, seed, alpha, **changes):
    parameterization = "sp" if alpha is None else "alpha"
    base = _base_run(settings, seed, parameterization=parameterization, alpha=alpha, **changes)
    return depth_sweep(base, settings["depths"], settings["seeds"])


def _row(claim, setting, predicted, fit, rule, bound=None, **details):
    """Return a decided row; a directional rule compares the slope with ``bound``."""
    measured = float(fit["slope"])
    details.update({
        "seed_slopes": fit["seed_slopes"], fit["axis"]: fit["points"],
        "mean_curve_slope": fit["mean_curve_slope"],
    })
    reference = float(predicted) if bound is None else float(bound)
    return RowResult(claim.id, setting, float(predicted), measured, float(fit["spread"]),
                     rule, rule.decide(measured, reference), details, bound)


# Measurements shared by several claims ------------------------------------------------

def init_variance_fit(settings, seed, cache, alpha):
    """Fit the depth slope of ``||h^L - h^0||**2 / N`` at initialization under Table 1."""
    runs = _sweep(settings, seed, alpha)
    results = coord_check(runs, steps=0, probe_size=settings["probe_size"],
                          table=_table(alpha), cache=cache)
    return depth_slope(runs, statistic(results, "branch_sum_variance", 0))


def stream_update_fits(settings, seed, cache, alpha, table, optimizer="adamw", lr=None):
    """Fit the depth slope of ``||Delta h^L||**2 / N`` after each number of ``STEPS``.

    Only the in-block parameters train. Returns a dict from the number of steps to the fit.
    """
    changes = {"optimizer": optimizer, "trainable_groups": IN_BLOCK_GROUPS}
    if lr is not None:
        changes["lr"] = lr
    runs = _sweep(settings, seed, alpha, **changes)
    results = coord_check(runs, steps=max(STEPS), probe_size=settings["probe_size"],
                          table=table, cache=cache)
    return {
        steps: depth_slope(runs, statistic(results, "stream_update", steps))
        for steps in STEPS
    }


def linearization_fits(settings, seed, cache, alpha):
    """Fit the depth slopes of the measured block's change and laziness ratio (Adam).

    Returns a dict from the number of steps to a dict of fits by quantity.
    """
    runs = _sweep(settings, seed, alpha, optimizer="adam", lr=LINEARIZATION_LR)
    results = linearization(runs, steps=max(STEPS), table=_table(alpha), cache=cache)
    fits = {}
    for steps in STEPS:
        fits[steps] = {
            name: depth_slope(runs, [r[name][steps - 1] for r in results])
            for name in ("change_rms", "laziness_ratio", "remainder_over_output")
        }
    return fits


# Claims ------------------------------------------------------------------------------

def _evaluate_table1(claim, settings, seed, cache):
    rows = []
    comparisons = compare_with_derived()
    for column in ("sp", "mup", "alpha"):
        selected = [c for c in comparisons if c.column == column]
        agreeing = sum(c.agrees for c in selected)
        mismatches = [
            {"row": c.label, "key": c.key, "table1": c.table1, "derived": c.derived}
            for c in selected if not c.agrees
        ]
        rows.append(RowResult(
            claim.id, f"column {column}", len(selected), agreeing, None, claim.rule,
            claim.rule.decide(agreeing, len(selected)), {"mismatches": mismatches},
        ))
    return rows


def _evaluate_init_exponent(claim, settings, seed, cache):
    rows = []
    for alpha in (None, 0.25, 0.5, 1.0):
        predicted = depth_exponents(0 if alpha is None else alpha)["init_branch_variance"]
        fit = init_variance_fit(settings, seed, cache, alpha)
        rows.append(_row(claim, _alpha_label(alpha), predicted, fit, claim.rule))
    return rows


def _evaluate_stable_init(claim, settings, seed, cache):
    bounded = Rule("bounded", claim.rule.tolerance, claim.rule.band)
    grows = Rule("grows", claim.rule.tolerance, claim.rule.band)
    rows = []
    for alpha, rule, statement in ((0.5, bounded, "bounded"), (1.0, bounded, "bounded"),
                                   (0.25, grows, "grows")):
        fit = init_variance_fit(settings, seed, cache, alpha)
        theory = depth_exponents(alpha)["init_branch_variance"]
        rows.append(_row(claim, f"{_alpha_label(alpha)} ({statement})", theory, fit, rule,
                         bound=0.0, contrast=statement == "grows"))
    return rows


def _evaluate_update_bounded(claim, settings, seed, cache):
    bounded = Rule("bounded", claim.rule.tolerance, claim.rule.band)
    grows = Rule("grows", claim.rule.tolerance, claim.rule.band)
    cases = ((0.5, bounded, "bounded"), (1.0, bounded, "bounded"), (1.5, grows, "grows"))
    fits = {alpha: linearization_fits(settings, seed, cache, alpha) for alpha, _, _ in cases}
    rows = []
    for steps in STEPS:
        for alpha, rule, statement in cases:
            theory = depth_exponents(alpha)["block_change"]
            rows.append(_row(claim, f"{_alpha_label(alpha)}, {_steps_label(steps)} ({statement})",
                             theory, fits[alpha][steps]["change_rms"], rule,
                             bound=0.0, contrast=statement == "grows"))
    return rows


def _evaluate_adam_lr(claim, settings, seed, cache):
    cases = [(alpha, None) for alpha in EXAMPLE_ALPHAS]
    alpha = 1.0
    table1_exponent = float(_table(alpha).entry("hidden_weight", "lr").depth_exponent)
    cases += [(alpha, table1_exponent + shift) for shift in (-0.5, 0.5)]
    grows = Rule("grows", claim.rule.tolerance, claim.rule.band)
    falls = Rule("falls", claim.rule.tolerance, claim.rule.band)

    fits = []
    for alpha, exponent in cases:
        table = _table(alpha)
        if exponent is not None:
            table = table.with_depth_exponent(IN_BLOCK_GROUPS, "lr", exponent)
        fits.append(stream_update_fits(settings, seed, cache, alpha, table))

    rows = []
    for steps in STEPS:
        for (alpha, exponent), fit in zip(cases, fits):
            if exponent is None:
                label = f"{_alpha_label(alpha)}, Table 1 rate, {_steps_label(steps)}"
                predicted = depth_exponents(alpha, "adam")["stream_update_variance"]
                rows.append(_row(claim, label, predicted, fit[steps], claim.rule))
                continue

            # A rate exponent off by +-1/2 must make the update grow or fall with depth.
            theory = depth_exponents(alpha, "adam", lr_exponent=exponent)["stream_update_variance"]
            statement = "grows" if theory > 0 else "falls"
            label = (f"{_alpha_label(alpha)}, rate exponent {exponent:+g} ({statement}), "
                     f"{_steps_label(steps)}")
            rule = grows if theory > 0 else falls
            rows.append(_row(claim, label, theory, fit[steps], rule, bound=0.0, contrast=True))
    return rows


def sgd_exponent_scan(settings, seed, cache, alpha):
    """Find the in-block SGD learning-rate exponent under which the stream update is flat.

    For each candidate exponent ``c`` of the scan grid the depth slope ``s(c)`` of
    ``||Delta h^L||**2 / N`` is measured (theory: ``s = 2 (c - c*)``). The root ``c*`` is
    interpolated linearly between the two neighbouring candidates whose slopes change
    sign. Far from the root a large exponent drives the deep models out of the linear
    regime and bends ``s(c)``. The points away from the crossing are therefore left out
    of the root, and the slope of the line through all of them is reported beside it.

    Returns
    -------
    dict
        From the number of steps to ``root`` (NaN if the slopes never change sign),
        ``exponents``, ``slopes`` (per candidate), ``line_slope`` (least squares over
        all candidates) and ``per_seed_roots`` (the root of each seed's slopes).
    """
    exponents = np.asarray(settings["sgd_exponents"], dtype=float)
    derived_table = make_table("alpha", alpha, "sgd")
    fits = []
    for exponent in exponents:
        table = derived_table.with_depth_exponent(IN_BLOCK_GROUPS, "lr", exponent)
        fits.append(stream_update_fits(settings, seed, cache, alpha, table,
                                       optimizer="sgd", lr=SGD_LR))

    scans = {}
    for steps in STEPS:
        slopes = np.array([fit[steps]["slope"] for fit in fits])
        seed_slopes = np.array([fit[steps]["seed_slopes"] for fit in fits])
        scans[steps] = {
            "root": crossing(exponents, slopes),
            "exponents": exponents.tolist(),
            "slopes": slopes.tolist(),
            "line_slope": float(stats.linregress(exponents, slopes).slope),
            "per_seed_roots": [crossing(exponents, column) for column in seed_slopes.T],
        }
    return scans


def crossing(x, y):
    """Return where ``y`` first changes sign along increasing ``x``, by linear interpolation.

    Returns NaN if no two neighbouring points bracket zero.
    """
    for i in range(len(x) - 1):
        if y[i] == 0:
            return float(x[i])
        if y[i] < 0 < y[i + 1] or y[i] > 0 > y[i + 1]:
            return float(x[i] + (x[i + 1] - x[i]) * (0 - y[i]) / (y[i + 1] - y[i]))
    if len(y) and y[-1] == 0:
        return float(x[-1])
    return float("nan")


def _evaluate_sgd_lr(claim, settings, seed, cache):
    derived = derive().results()["sgd_lr_depth_exponent"]
    scans = {alpha: sgd_exponent_scan(settings, seed, cache, alpha) for alpha in EXAMPLE_ALPHAS}
    rows = []
    for steps in STEPS:
        for alpha in EXAMPLE_ALPHAS:
            scan = scans[alpha][steps]
            predicted = float(derived.subs(alpha_symbol, alpha))
            roots = scan["per_seed_roots"]
            spread = float(np.nanstd(roots, ddof=1)) if len(roots) > 1 else 0.0
            rows.append(RowResult(
                claim.id, f"{_alpha_label(alpha)}, {_steps_label(steps)}", predicted,
                scan["root"], spread, claim.rule, claim.rule.decide(scan["root"], predicted), scan,
            ))
    return rows


def _evaluate_eps(claim, settings, seed, cache):
    rows = []
    derived = derive().results()["eps_depth_exponent"]
    for alpha in EXAMPLE_ALPHAS:
        runs = _sweep(settings, seed, alpha)
        results = gradient_entries(runs, table=_table(alpha), cache=cache)
        fit = depth_slope(runs, [r["mean_abs_hidden_weight"] for r in results])
        rows.append(_row(claim, _alpha_label(alpha), float(derived.subs(alpha_symbol, alpha)),
                         fit, claim.rule))
    return rows


def _evaluate_decay(claim, settings, seed, cache):
    derived = derive().results()["adamw_decay_depth_exponent"]
    runs = {alpha: _sweep(settings, seed, alpha) for alpha in EXAMPLE_ALPHAS}
    results = {
        alpha: decoupled_decay(runs[alpha], steps=max(STEPS), table=_table(alpha), cache=cache)
        for alpha in EXAMPLE_ALPHAS
    }
    rows = []
    for steps in STEPS:
        for alpha in EXAMPLE_ALPHAS:
            fit = depth_slope(runs[alpha], [r["decay_per_step"][steps - 1] for r in results[alpha]])
            rows.append(_row(claim, f"{_alpha_label(alpha)}, depth, {_steps_label(steps)}",
                             float(derived.subs(alpha_symbol, alpha)), fit, claim.rule))

    alpha = 1.0
    width_runs = [
        _base_run(settings, seed, width=width, depth=8, alpha=alpha, seed_index=seed_index)
        for seed_index in range(settings["seeds"]) for width in settings["widths"]
    ]
    width_results = decoupled_decay(width_runs, steps=1, table=_table(alpha), cache=cache)
    fit = width_slope(width_runs, [r["decay_per_step"][0] for r in width_results])
    rows.append(_row(claim, f"{_alpha_label(alpha)}, width at depth 8, 1 step", 0.0, fit,
                     claim.rule))
    return rows


def _evaluate_laziness(claim, settings, seed, cache):
    alphas = (None, 0.5, 1.0)
    fits = {alpha: linearization_fits(settings, seed, cache, alpha) for alpha in alphas}
    rows = []
    for steps in STEPS:
        for alpha in alphas:
            if alpha is None:
                predicted = depth_exponents(0, "adam", lr_exponent=0)["laziness_ratio"]
            else:
                predicted = depth_exponents(alpha, "adam")["laziness_ratio"]
            rows.append(_row(claim, f"{_alpha_label(alpha)}, {_steps_label(steps)}", predicted,
                             fits[alpha][steps]["laziness_ratio"], claim.rule))
    return rows


def _steps_label(steps):
    return "1 step" if steps == 1 else f"{steps} steps"


# Each tolerance and noise band below is the one that scripts/calibrate_claims.py derived
# and recorded in proofs/calibration/completep.json (quick scale, 16 seeds, base seed 1000).
CLAIMS = (
    Claim(
        "completep.table1-agreement",
        "The parameterization table derived from the three desiderata and muP's width "
        "rules equals Table 1 row by row, for SP, muP and the alpha family.",
        SOURCE_TABLE1,
        "proofs.table1.compare_with_derived",
        Rule("exact"),
        _evaluate_table1,
        settings_for,
    ),
    Claim(
        "completep.init-variance-exponent",
        "At initialization ||h^L - h^0||**2 / N grows with depth as L**(1 - 2 alpha).",
        SOURCE_DERIVED,
        "sims.coord_check.coord_check",
        Rule("equal", 0.05, 0.05),
        _evaluate_init_exponent,
        settings_for,
    ),
    Claim(
        "completep.stable-init",
        "Stable initialization needs alpha >= 1/2: the accumulated branch sum stays "
        "bounded in depth for alpha = 1/2 and 1, and grows for alpha = 1/4.",
        SOURCE_DERIVED,
        "sims.coord_check.coord_check",
        Rule("equal", 0.05, 0.05),
        _evaluate_stable_init,
        settings_for,
    ),
    Claim(
        "completep.update-bounded",
        "Under Table 1's learning rates a block's own output change after an Adam step "
        "stays bounded in depth for alpha <= 1 and grows for alpha = 3/2.",
        SOURCE_DERIVED,
        "sims.linearization.linearization",
        Rule("equal", 0.1, 0.05),
        _evaluate_update_bounded,
        settings_for,
    ),
    Claim(
        "completep.adam-lr-exponent",
        "With the in-block AdamW learning rate m_L**(alpha - 1) of Table 1 the blocks' "
        "update of the final residual stream is of order one in depth; exponents half a "
        "unit off make it grow or shrink.",
        SOURCE_TABLE1,
        "sims.coord_check.coord_check",
        Rule("equal", 0.2, 0.1),
        _evaluate_adam_lr,
        settings_for,
    ),
    Claim(
        "completep.sgd-lr-exponent",
        "Under SGD the in-block learning-rate exponent that keeps the stream update of "
        "order one in depth is 2 alpha - 1.",
        SOURCE_DERIVED,
        "sims.coord_check.coord_check",
        Rule("equal", 0.15, 0.1),
        _evaluate_sgd_lr,
        settings_for,
    ),
    Claim(
        "completep.eps-exponent",
        "In-block gradient entries scale as L**-alpha, the depth factor of Table 1's "
        "in-block Adam epsilon.",
        SOURCE_TABLE1,
        "sims.gradients.gradient_entries",
        Rule("equal", 0.1, 0.05),
        _evaluate_eps,
        settings_for,
    ),
    Claim(
        "completep.adamw-decay-exponent",
        "Under Table 1 the per-step AdamW decay of hidden weights scales as "
        "m_L**(alpha - 1) and does not depend on width.",
        SOURCE_TABLE1,
        "sims.weight_decay.decoupled_decay",
        Rule("equal", 0.05, 0.05),
        _evaluate_decay,
        settings_for,
    ),
    Claim(
        "completep.laziness-exponent",
        "After Adam steps on one block's own weights, its input fixed, the relative "
        "nonlinearity ||dF - dF_lin|| / ||dF_lin|| scales as L**(alpha - 1): it vanishes "
        "with depth for alpha < 1 and stays of order one only at alpha = 1; SP, with no "
        "multiplier and no depth factor in the learning rate, stays of order one too.",
        SOURCE_DERIVED,
        "sims.linearization.linearization",
        Rule("equal", 0.15, 0.1),
        _evaluate_laziness,
        settings_for,
    ),
)
