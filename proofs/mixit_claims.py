"""MixiT signal-propagation claims, decided by Monte Carlo over independent networks.

The claims check the derivation of :mod:`theory.mixit` for the idealized MixiT block
(:mod:`sims.idealized_block`: one head, one value matrix, no norm, no MLP,
``lambda**2 = gamma**2 = 1/2``, mixing noise multiplier ``sigma = 1``) and compare full
transformer stacks at initialization (:mod:`sims.rank_collapse`). Dong et al. 2025
(arXiv 2506.01115) state that MixiT's token covariance converges to an SDE and that, unlike
a random softmax transformer, it does not collapse in rank. The formulas tested here are
the suite's own derivation, not the paper's theorem, whose statement was not available.

Monte Carlo rules. A mean over ``K`` networks is compared with its prediction entry by
entry as ``z = (mean - predicted) / standard error``. A row's measured value is the
largest ``|z|`` over the entries it compares, so it passes when every entry agrees within
4 standard errors, fails beyond 5 and is inconclusive between. For ``K`` in the tens of
thousands each ``z`` is close to standard normal when the prediction is right. A row of
``N`` entries then fails falsely with probability at most ``N * 2 (1 - Phi(5)) =
N * 5.7e-7``, and misses a pass with probability at most ``N * 2 (1 - Phi(4)) =
N * 6.3e-5`` (Bonferroni bounds). A contrast row applies the ``grows`` form of the same rule to a prediction
that leaves out the drift: it passes when some entry lies more than 5 standard errors from
that prediction, so the rule is shown to reject it.

The tolerances come from these normal tail bounds and from binomial noise (stated at each
claim), not from a calibration run.
"""

import dataclasses
import math

import numpy as np

from proofs.ledger import Claim, RowResult, Rule
from sims.idealized_block import simulate_idealized_block, tokens_with_covariance
from sims.mixit_coefficients import branch_weight
from sims.mixit_measurements import (RANK_COLLAPSE_SCALES, collapsed_fraction, comparison_stack,
                                     depth_summary, largest_correlation, monte_carlo_mean,
                                     rank_collapse_curves, simulate_uniform_attention)
from sims.scales import check_scale
from sims.seeds import run_seed_sequence
from theory.mixit import exact_mean, mixing_drift

SOURCE_DERIVED = ("Dong et al. 2025 (arXiv 2506.01115), stable signal propagation of MixiT "
                  "[abstract]; mean recursion derived in theory.mixit")
SOURCE_COLLAPSE = ("Dong et al. 2025 (arXiv 2506.01115), token covariance against depth of a "
                   "random transformer and of MixiT [secondary]; Noci et al. 2022 "
                   "(arXiv 2206.03126) for uniform attention")

SKIP_WEIGHT = math.sqrt(0.5)
"""``lambda`` of the idealized block; ``gamma = sqrt(1/2)`` too."""

Z_TOLERANCE = 4.0
"""Largest ``|z|`` that passes a Monte Carlo comparison (module docstring)."""

Z_BAND = 1.0
"""Width of the inconclusive band above :data:`Z_TOLERANCE`."""

COLLAPSE_THRESHOLD = 1.0 - 1e-3
"""A network counts as collapsed when its largest ``|rho_ab|`` exceeds this."""

FRACTION_TOLERANCE = 0.05
"""Largest fraction of collapsed networks that passes ``mixit.no-rank-collapse``.

In the SDE limit ``artanh(rho)`` of a pair diffuses with coefficient ``c_lin = 3/4`` per
unit ``t`` (:mod:`theory.mixit`). Reaching ``|rho| > 1 - 1e-3`` (``|artanh rho| > 3.8``)
from ``rho = 0`` by ``t = 1`` therefore needs a move of at least 3.9 standard deviations
for each pair, because the drift ``(c_lin / 2) tanh`` adds at most 0.375. The expected
fraction is far below 5 %."""

FRACTION_BAND = 0.05
"""Inconclusive band above :data:`FRACTION_TOLERANCE`. With 400 networks at a true fraction
of 5 %, the observed fraction exceeds 10 % with probability 1.4e-5 (binomial)."""

SCALES = {
    "smoke": {
        "mean": {"width": 8, "depths": (1, 2, 4), "networks": 4_000},
        "drift": {"width": 8, "networks": 20_000},
        "collapse": {"width": 16, "seq_len": 4, "times": (1.0,), "networks": 64},
        "stacks": RANK_COLLAPSE_SCALES["smoke"],
        "stacks_resolve": False,
    },
    "quick": {
        "mean": {"width": 32, "depths": (4, 8, 16), "networks": 50_000},
        "drift": {"width": 32, "networks": 200_000},
        "collapse": {"width": 64, "seq_len": 8, "times": (0.5, 1.0), "networks": 400},
        "stacks": RANK_COLLAPSE_SCALES["quick"],
        "stacks_resolve": True,
    },
    "paper": {
        "mean": {"width": 64, "depths": (8, 16, 32), "networks": 400_000},
        "drift": {"width": 64, "networks": 1_000_000},
        "collapse": {"width": 128, "seq_len": 16, "times": (0.5, 1.0, 2.0), "networks": 1_000},
        "stacks": RANK_COLLAPSE_SCALES["paper"],
        "stacks_resolve": True,
    },
}
"""Sizes per scale: the exact-mean and one-step Monte Carlo, the collapse comparison of
the idealized block with uniform attention, and the transformer stacks of the figure
``mixit-rank-collapse``. ``stacks_resolve`` is false where those stacks are too small to
show the effect, so that ``mixit.standard-attention-collapses`` is not decided there
(:data:`UNRESOLVED_NOTE`)."""

UNRESOLVED_NOTE = (
    "not decided at this scale: at width 32 and depth 8 the standard stack's correlation "
    "(about 0.01 at depth 8 in the quick-scale stacks) is below the spread of 4 networks, "
    "and at widths up to 64 MixiT's MLP drift gamma**2 nu(0) L / n exceeds it")


def settings_for(scale):
    """Return the sizes of ``scale`` as a new dict, with the scale's name under ``scale``."""
    return {"scale": check_scale(scale),
            **{key: dict(value) if isinstance(value, dict) else value
               for key, value in SCALES[scale].items()}}


def claim_covariance():
    """Return the ``V0`` of the Monte Carlo claims: four tokens of unequal norms
    ``(1, 1.3, 0.8, 1.1)`` with correlations ``0.6**|a - b|``."""
    norms = np.array([1.0, 1.3, 0.8, 1.1])
    positions = np.arange(norms.size)
    correlations = 0.6 ** np.abs(positions[:, None] - positions[None, :])
    return correlations * norms[:, None] * norms[None, :]


def largest_z(mean, standard_error, predicted, mask=None):
    """Return ``max |mean - predicted| / standard_error`` over the entries in ``mask``.

    Entries with a zero standard error are left out; a non-finite result means no entry
    was compared, which the rules count as a fail.
    """
    mean, error, predicted = (np.asarray(value, dtype=np.float64)
                              for value in (mean, standard_error, predicted))
    selected = error > 0 if mask is None else (error > 0) & mask
    if not selected.any():
        return math.nan
    return float((np.abs(mean - predicted)[selected] / error[selected]).max())


def _z_row(claim, setting, measured, rule, details):
    return RowResult(claim.id, setting, "|z| = 0 (equal)" if rule.kind == "bounded"
                     else "|z| > 0 (differs)", measured, None, rule,
                     rule.decide(measured, 0.0), details, 0.0)


# mixit.exact-mean-recursion ----------------------------------------------------------

def _evaluate_exact_mean(claim, settings, seed, cache):
    sizes = settings["mean"]
    V0 = claim_covariance()
    gamma = branch_weight(SKIP_WEIGHT)
    result = monte_carlo_mean(V0, sizes["width"], sizes["depths"], SKIP_WEIGHT,
                              sizes["networks"], seed)
    grows = Rule("grows", claim.rule.tolerance, claim.rule.band)
    upper = np.triu(np.ones(V0.shape, dtype=bool))

    rows = []
    for index, depth in enumerate(result["depths"]):
        predicted = exact_mean(V0, depth, sizes["width"], gamma)
        z = largest_z(result["mean"][index], result["standard_error"][index], predicted, upper)
        rows.append(_z_row(claim, f"L={depth}, n={sizes['width']}", z, claim.rule, {
            "networks": result["members"], "t": depth / sizes["width"],
            "monte_carlo_mean": result["mean"][index].tolist(),
            "standard_error": result["standard_error"][index].tolist(),
            "exact_mean": predicted.tolist(), "entries": int(upper.sum()),
        }))

    # Contrast: the prediction without drift, E[V_L] = V0, at the largest depth.
    depth = result["depths"][-1]
    z = largest_z(result["mean"][-1], result["standard_error"][-1], V0, upper)
    rows.append(_z_row(claim, f"L={depth}, no-drift prediction V0 (contrast, grows)", z, grows,
                       {"contrast": True, "networks": result["members"],
                        "monte_carlo_mean": result["mean"][-1].tolist(), "V0": V0.tolist()}))
    return rows


# mixit.zero-offdiagonal-drift --------------------------------------------------------

def _evaluate_one_step(claim, settings, seed, cache):
    sizes = settings["drift"]
    V0 = claim_covariance()
    width = sizes["width"]
    gamma = branch_weight(SKIP_WEIGHT)
    result = monte_carlo_mean(V0, width, [1], SKIP_WEIGHT, sizes["networks"], seed)
    mean, error = result["mean"][0], result["standard_error"][0]
    drift = gamma**2 / width * mixing_drift(V0)
    off_diagonal = ~np.eye(V0.shape[0], dtype=bool) & np.triu(np.ones(V0.shape, dtype=bool))
    diagonal = np.eye(V0.shape[0], dtype=bool)
    details = {"networks": result["members"], "width": width,
               "mean_change": (mean - V0).tolist(), "standard_error": error.tolist(),
               "predicted_change": drift.tolist()}
    grows = Rule("grows", claim.rule.tolerance, claim.rule.band)

    return [
        _z_row(claim, "off-diagonal entries, mean change 0",
               largest_z(mean, error, V0, off_diagonal), claim.rule,
               dict(details, entries=int(off_diagonal.sum()))),
        _z_row(claim, "diagonal entries, mean change (gamma^2/n) d_a",
               largest_z(mean, error, V0 + drift, diagonal), claim.rule,
               dict(details, entries=int(diagonal.sum()))),
        _z_row(claim, "diagonal entries, no-drift prediction 0 (contrast, grows)",
               largest_z(mean, error, V0, diagonal), grows,
               dict(details, entries=int(diagonal.sum()), contrast=True)),
    ]


# mixit.no-rank-collapse ----------------------------------------------------------------

def collapse_comparison(sizes, seed):
    """Simulate the idealized block and causal uniform attention from orthogonal tokens.

    Both models start from ``T`` orthogonal tokens of equal norm (``V0 = I``) and run to
    depth ``L = t n`` for each ``t`` of ``sizes["times"]``. Uniform attention is
    ``X' = X + U X W / sqrt(n)`` with the causal average ``U`` and no depth factor.

    Returns
    -------
    dict
        From ``"mixit"`` and ``"uniform"`` to a dict from ``t`` to the ``(K, T, T)``
        covariances at depth ``t n``.
    """
    width, length, members = sizes["width"], sizes["seq_len"], sizes["networks"]
    depths = [round(time * width) for time in sizes["times"]]
    tokens = np.broadcast_to(tokens_with_covariance(np.eye(length), width),
                             (members, length, width))
    identity = {"width": width, "seq_len": length, "depth": max(depths)}
    mixit_rng = np.random.default_rng(run_seed_sequence(seed, 0, dict(identity, model="mixit")))
    uniform_rng = np.random.default_rng(run_seed_sequence(seed, 0,
                                                          dict(identity, model="uniform")))
    mixit = simulate_idealized_block(tokens, max(depths), SKIP_WEIGHT, mixit_rng,
                                     layers=depths).covariances
    uniform = simulate_uniform_attention(tokens, max(depths), uniform_rng, layers=depths)
    return {"mixit": dict(zip(sizes["times"], mixit)),
            "uniform": dict(zip(sizes["times"], uniform))}


def _evaluate_collapse(claim, settings, seed, cache):
    sizes = settings["collapse"]
    covariances = collapse_comparison(sizes, seed)
    grows = Rule("grows", claim.rule.tolerance, claim.rule.band)
    rows = []
    for time in sizes["times"]:
        depth = round(time * sizes["width"])
        for model, rule, label in (("mixit", claim.rule, "MixiT idealized block"),
                                   ("uniform", grows,
                                    "uniform attention (contrast, grows)")):
            values = covariances[model][time]
            fraction, count, total = collapsed_fraction(values, COLLAPSE_THRESHOLD)
            largest = largest_correlation(values)
            details = {"collapsed": count, "networks": total, "depth": depth,
                       "width": sizes["width"], "seq_len": sizes["seq_len"],
                       "threshold": COLLAPSE_THRESHOLD,
                       "median_largest_rho": float(np.median(largest)),
                       "largest_rho_quantiles": np.quantile(largest, [0.1, 0.5, 0.9]).tolist()}
            if model == "uniform":
                details["contrast"] = True
            rows.append(RowResult(claim.id, f"t={time:g} (L={depth}), {label}", 0.0, fraction,
                                  None, rule, rule.decide(fraction, 0.0), details, 0.0))
    return rows


# mixit.standard-attention-collapses --------------------------------------------------

def _evaluate_standard(claim, settings, seed, cache):
    sizes = settings["stacks"]
    depth = max(sizes["depths"])
    summaries = {}
    for kind in ("standard", "mixit"):
        config = comparison_stack(kind, sizes["width"], sizes["heads"], sizes["seq_len"], depth)
        curves = rank_collapse_curves(config, sizes["networks"], seed, cache)
        summaries[kind] = depth_summary(curves["cosine"], sizes["depths"])

    standard, mixit = summaries["standard"], summaries["mixit"]
    difference = standard["final"]["mean"] - mixit["final"]["mean"]
    error = math.hypot(standard["final"]["standard_error"], mixit["final"]["standard_error"])
    gap_z = difference / error if error > 0 else math.nan
    slope = standard["slope"]
    slope_z = slope["mean"] / slope["standard_error"] if slope["standard_error"] > 0 else math.nan
    common = {"networks": sizes["networks"], "width": sizes["width"], "heads": sizes["heads"],
              "seq_len": sizes["seq_len"], "depth": depth}
    rows = [
        RowResult(claim.id, f"L={depth}, standard minus MixiT cosine, in standard errors",
                  "> 0 (standard higher)", gap_z, None, claim.rule, claim.rule.decide(gap_z, 0.0),
                  dict(common, standard=standard["final"]["mean"],
                       standard_error_standard=standard["final"]["standard_error"],
                       mixit=mixit["final"]["mean"],
                       standard_error_mixit=mixit["final"]["standard_error"]), 0.0),
        RowResult(claim.id, f"layers 1..{depth}, standard's cosine slope per layer, in "
                  f"standard errors", "> 0 (rises)", slope_z, None, claim.rule,
                  claim.rule.decide(slope_z, 0.0),
                  dict(common, slope_per_layer=slope["mean"],
                       slope_standard_error=slope["standard_error"],
                       network_slopes=slope["values"].tolist()), 0.0),
    ]
    if settings["stacks_resolve"]:
        return rows
    return [dataclasses.replace(row, verdict="inconclusive",
                                details=dict(row.details, verdict_from_rule=row.verdict,
                                             note=UNRESOLVED_NOTE))
            for row in rows]


CLAIMS = (
    Claim(
        "mixit.exact-mean-recursion",
        "In the idealized MixiT block the Monte Carlo mean of V = X X^T / n after L blocks "
        "equals (I + (gamma**2 / n) D)**L V0 at finite width: every upper-triangular entry "
        "lies within 4 standard errors of it (a false fail, beyond 5, has probability below "
        "1e-5 per row). The prediction without drift, V0, is rejected at the largest depth.",
        SOURCE_DERIVED,
        "sims.mixit_measurements.monte_carlo_mean",
        Rule("bounded", Z_TOLERANCE, Z_BAND),
        _evaluate_exact_mean,
        settings_for,
    ),
    Claim(
        "mixit.zero-offdiagonal-drift",
        "In one idealized MixiT block the mean change of every off-diagonal entry of V is "
        "zero and that of the diagonal entry a is (gamma**2 / n) d_a, with D(V) = diag(d_a): "
        "each entry within 4 standard errors of its prediction. The prediction that the "
        "diagonal does not move is rejected.",
        SOURCE_DERIVED,
        "sims.mixit_measurements.monte_carlo_mean",
        Rule("bounded", Z_TOLERANCE, Z_BAND),
        _evaluate_one_step,
        settings_for,
    ),
    Claim(
        "mixit.no-rank-collapse",
        "At a finite depth-to-width ratio t, at most 5 % of idealized MixiT networks started "
        "from orthogonal tokens have a token pair with |rho| > 1 - 1e-3 after L = t n "
        "blocks (fail above 10 %). Causal uniform attention X' = X + U X W / sqrt(n), "
        "without depth scaling, fails that rule at the same depth.",
        SOURCE_COLLAPSE,
        "sims.mixit_measurements.collapsed_fraction",
        Rule("bounded", FRACTION_TOLERANCE, FRACTION_BAND),
        _evaluate_collapse,
        settings_for,
    ),
    Claim(
        "mixit.standard-attention-collapses",
        "Without depth scaling, GPT-2-style causal softmax attention (std 0.02, pre-LN) makes "
        "its tokens more similar with depth than MixiT: at the largest depth its mean "
        "cosine similarity exceeds MixiT's by more than 4 standard errors of the difference, "
        "and its per-network slope against depth exceeds 0 by more than 4 standard errors.",
        SOURCE_COLLAPSE,
        "sims.mixit_measurements.rank_collapse_curves",
        Rule("grows", 3.0, 1.0),
        _evaluate_standard,
        settings_for,
    ),
)
"""The MixiT claims, by id."""
