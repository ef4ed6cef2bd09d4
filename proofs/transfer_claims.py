"""CompleteP's depth-wise transfer claims, decided from the transfer sweeps.

The claims read the sweeps of the figures ``completep-lr-transfer`` and
``completep-init-transfer`` (:func:`sims.transfer.depth_transfer_sweeps`). Each gives the
final training loss after a fixed token budget on a log2 grid of the base learning rate
``eta_base`` or the base init std ``sigma_base``, at several depths and seeds, with the
derived table.
Every claim is decided separately for GELU and tanh, because the two activations show
different parts of the effect.

Per seed, the optimum of each depth is the vertex of a parabola through the grid minimum
and its neighbours (:func:`sims.transfer.grid_optimum`), and its drift is the slope of a
straight line through ``(log2 L, optimum)`` times ``log2(L_max / L_min)``
(:func:`sims.transfer.optimum_drift`): the optimum's move from the shallowest to the
deepest model in log2 units. The best loss's change is fitted the same way, in nats.

Multi-seed rule: a row's measured value is the mean over seeds, and its verdict must hold
over the whole interval of the mean plus or minus two standard errors
(:meth:`proofs.ledger.Rule.decide_over_seeds`); an effect within the seed noise is
inconclusive. A row whose optima lie on an edge of the grid is inconclusive too, since
the optimum may lie beyond the grid.

The tolerances are set from the quick-scale grid, whose step is 1 in log2, not from a
calibration run: a drift within 0.5 in log2 counts as fixed, one beyond 0.75 as moved,
and a best loss that falls by more than 0.02 nats as better. Calibrating them as the
other CompleteP claims are (16 seeds at the quick scale) would take hours of sweeps.
"""

from proofs.ledger import Claim, RowResult, Rule
from sims.scales import check_scale
from sims.transfer import TRANSFER_SCALES, depth_transfer_sweeps

SOURCE_TRANSFER = ("Dey et al. 2025 (arXiv 2505.01618), depth-wise transfer sweeps of the "
                   "learning rate and the init std (Figures 2 and 3) [secondary]")

ACTIVATIONS = ("gelu", "tanh")
AXES = ("lr", "init_std")
AXIS_LABELS = {"lr": "learning rate", "init_std": "init std"}
LABELS = {("sp", None): "SP", ("mup", None): "muP", ("alpha", 0.5): "alpha=1/2",
          ("alpha", 1.0): "alpha=1"}
COMPLETEP = ("alpha", 1.0)
DRIFTING = (("sp", None), ("mup", None), ("alpha", 0.5))


def settings_for(scale):
    """Return the transfer sweep sizes of ``scale``, with the scale's name under ``scale``."""
    return {"scale": check_scale(scale), **TRANSFER_SCALES[scale]}


def _row(claim, setting, sweep, trend, predicted, rule, bound, signed=False):
    """Return one decided row for the drift (or trend) ``trend`` of one sweep.

    With ``signed``, the seeds' values are multiplied by the sign of their mean, so that a
    ``grows`` rule against 0 tests whether the quantity moved in either direction.
    """
    seed_values = list(trend["seed_drifts"])
    measured = trend["drift"]
    if signed and measured < 0:
        seed_values = [-value for value in seed_values]
        measured = -measured
    verdict = rule.decide_over_seeds(seed_values, bound)
    note = rule.seed_note(verdict, seed_values, bound)
    if sweep["edge_optima"]:
        verdict = "inconclusive"
        edges = sweep["edge_optima"]
        note = (f"{edges} of the per-seed optima {'lies' if edges == 1 else 'lie'} on the "
                f"grid's edge, so the optimum may lie beyond the grid")

    details = {
        "seed_values": trend["seed_drifts"],
        "depths": sweep["depths"],
        "optimum": sweep["optimum"],
        "optimum_spread": sweep["optimum_spread"],
        "best_loss": sweep["best_loss"],
        "edge_optima": sweep["edge_optima"],
        "diverged_runs": int(sweep["diverged"].sum()),
    }
    if signed:
        details["signed_drift"] = trend["drift"]
    if note:
        details["note"] = note
    return RowResult(claim.id, setting, float(predicted), float(measured),
                     float(trend["spread"]), rule, verdict, details, float(bound))


def _evaluate_fixed(claim, settings, seed, cache):
    rows = []
    for axis in AXES:
        sweeps = depth_transfer_sweeps(axis, settings["scale"], seed, ACTIVATIONS, cache)
        for activation in ACTIVATIONS:
            sweep = sweeps[(activation,) + COMPLETEP]
            rows.append(_row(claim, f"{activation}, {AXIS_LABELS[axis]}, alpha=1", sweep,
                             sweep["drift"], 0.0, claim.rule, 0.0))
    return rows


def _evaluate_drifts(claim, settings, seed, cache):
    sweeps = depth_transfer_sweeps("lr", settings["scale"], seed, ACTIVATIONS, cache)
    rows = []
    for activation in ACTIVATIONS:
        for panel in DRIFTING:
            sweep = sweeps[(activation,) + panel]
            rows.append(_row(claim, f"{activation}, learning rate, {LABELS[panel]}, |drift|", sweep,
                             sweep["drift"], 0.0, claim.rule, 0.0, signed=True))
    return rows


def _evaluate_deeper_better(claim, settings, seed, cache):
    sweeps = depth_transfer_sweeps("lr", settings["scale"], seed, ACTIVATIONS, cache)
    rows = []
    for activation in ACTIVATIONS:
        sweep = sweeps[(activation,) + COMPLETEP]
        rows.append(_row(claim, f"{activation}, learning rate, alpha=1", sweep,
                         sweep["best_loss_trend"], 0.0, claim.rule, 0.0))
    return rows


CLAIMS = (
    Claim(
        "completep.transfer-optimum-fixed",
        "Under alpha = 1 (CompleteP) the optimal base learning rate and the optimal base "
        "init std do not move with depth: their drift from the shallowest to the deepest "
        "model is within 0.5 of 0 in log2 units (half a step of the quick-scale grid).",
        SOURCE_TRANSFER,
        "sims.transfer.depth_transfer_sweeps",
        Rule("equal", 0.5, 0.25),
        _evaluate_fixed,
        settings_for,
    ),
    Claim(
        "completep.transfer-optimum-drifts",
        "Under SP, muP and alpha = 1/2 the optimal base learning rate moves with depth: "
        "the size of its drift from the shallowest to the deepest model exceeds 0.75 in "
        "log2 units, in either direction.",
        SOURCE_TRANSFER,
        "sims.transfer.depth_transfer_sweeps",
        Rule("grows", 0.5, 0.25),
        _evaluate_drifts,
        settings_for,
    ),
    Claim(
        "completep.deeper-better",
        "Under alpha = 1 (CompleteP) deeper models reach a lower final training loss at "
        "their best base learning rate.",
        SOURCE_TRANSFER,
        "sims.transfer.depth_transfer_sweeps",
        Rule("falls", 0.0, 0.02),
        _evaluate_deeper_better,
        settings_for,
    ),
)
"""The transfer claims, by id."""
