"""CompleteP's depth exponents on the transformer, decided from two figures' fits.

The figures ``completep-depth-coord-check-transformer`` and ``completep-linearization``
fit depth slopes on a pre-LN transformer (4 heads, an MLP of width ``4 N``, GELU, untied
embeddings, the derived table) beside their theory values from
:func:`theory.completep.depth_exponents`. These claims read the slopes from the figures'
own computations, so that a figure made beforehand with the same cache makes them cost
nothing:

* the coordinate check: ``||h^L - h^0||**2 / N`` at initialization (theory
  ``1 - 2 alpha``) and ``||Delta h^L||**2 / N`` after the first AdamW step (theory 0 for
  the alpha family, 2 for SP);
* the linearization: the laziness ratio ``||dF - dF_lin|| / ||dF_lin||`` (theory
  ``alpha - 1``, 0 for SP) and the remainder over the output (twice that) of the
  attention and the MLP block of layer ``floor(L / 2)`` after one Adam step.

Multi-seed rule: a row's measured value is the mean of the per-seed slopes, and its
verdict must hold over the whole interval of the mean plus or minus two standard errors
(:meth:`proofs.ledger.Rule.decide_over_seeds`), so a slope within the seed noise of both
verdicts is inconclusive. The tolerance, 0.15, is that of the residual MLP's laziness
claim, whose calibration had the widest seed spread among the exponent claims; the
transformer's own tolerances were not calibrated.
"""

from paper_figures import completep_depth_coord_check_transformer as coord_check_figure
from paper_figures import completep_linearization as linearization_figure
from proofs.ledger import Claim, RowResult, Rule
from sims.scales import check_scale

SOURCE = ("Dey et al. 2025 (arXiv 2505.01618), desiderata of its theory section; "
          "exponents re-derived in theory.completep")

PANEL_LABELS = {"sp": "SP", "alpha-1/2": "alpha=1/2", "completep": "alpha=1"}
COORD_CHECK_QUANTITIES = {"init_branch_variance": "init ||h^L - h^0||^2 / N",
                          "first_stream_update": "step-1 ||dh^L||^2 / N"}
BLOCKS = {"transformer-attention": "attention block", "transformer-mlp": "MLP block"}
LINEARIZATION_QUANTITIES = {"laziness_ratio": "laziness ratio",
                            "remainder_over_output": "remainder over output"}


def settings_for(scale):
    """Return the scale's name under ``scale``; the figures hold the sweep sizes."""
    return {"scale": check_scale(scale)}


def _row(claim, setting, fit):
    """Return one decided row for a figure's depth fit with its theory value."""
    predicted = float(fit["theory"])
    verdict = claim.rule.decide_over_seeds(fit["seed_slopes"], predicted)
    details = {"seed_slopes": fit["seed_slopes"], "depths": fit["points"],
               "mean_curve_slope": fit["mean_curve_slope"], "excluded_runs": fit["excluded"]}
    note = claim.rule.seed_note(verdict, fit["seed_slopes"], predicted)
    if note:
        details["note"] = note
    return RowResult(claim.id, setting, predicted, float(fit["slope"]), float(fit["spread"]),
                     claim.rule, verdict, details)


def _evaluate_coord_check(claim, settings, seed, cache):
    fits = coord_check_figure.compute(settings["scale"], seed, cache)["fits"]
    rows = []
    for quantity, label in COORD_CHECK_QUANTITIES.items():
        for panel, panel_label in PANEL_LABELS.items():
            rows.append(_row(claim, f"{panel_label}, {label}", fits[panel][quantity]))
    return rows


def _evaluate_laziness(claim, settings, seed, cache):
    fits = linearization_figure.compute(settings["scale"], seed, cache)["fits"]
    rows = []
    for block, block_label in BLOCKS.items():
        if block not in fits:
            continue
        for quantity, label in LINEARIZATION_QUANTITIES.items():
            for panel, panel_label in PANEL_LABELS.items():
                rows.append(_row(claim, f"{block_label}, {panel_label}, {label}",
                                 fits[block][quantity][panel]))
    return rows


CLAIMS = (
    Claim(
        "completep.transformer-coord-check",
        "On a pre-LN transformer the residual stream follows the derived depth exponents: "
        "||h^L - h^0||**2 / N at initialization scales as L**(1 - 2 alpha), and the first "
        "AdamW step's update of the final stream is of order one in depth for the alpha "
        "family (SP: L**2).",
        SOURCE,
        "sims.coord_check.coord_check",
        Rule("equal", 0.15, 0.1),
        _evaluate_coord_check,
        settings_for,
    ),
    Claim(
        "completep.transformer-laziness-exponent",
        "On a pre-LN transformer, after one Adam step on the weights of one attention or "
        "MLP block, its input fixed, the laziness ratio scales as L**(alpha - 1) and the "
        "remainder over the block's output as L**(2 alpha - 2); SP's are flat.",
        SOURCE,
        "sims.linearization.linearization",
        Rule("equal", 0.15, 0.1),
        _evaluate_laziness,
        settings_for,
    ),
)
"""The transformer claims, by id."""
