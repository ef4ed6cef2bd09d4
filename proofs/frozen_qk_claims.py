"""Frozen-QK expressivity claims, decided on the explicit constructions of :mod:`proofs.frozen_qk`.

Dong et al. 2025 (arXiv 2506.01115) state that one attention layer with frozen random
query and key weights followed by an MLP approximates continuous causal
sequence-to-sequence functions, and that MixiT's fixed mixing cannot. Their proof was not
available, so each claim checks a construction derived in :mod:`proofs.frozen_qk`.

Tolerances. An identity that holds in real arithmetic (a logit residual, an output
difference) is measured relative to the norms it scales with. In float64 at these sizes
such a value stays below 1e-15 (measured up to 4e-16), so the tolerance 1e-12
(about 4500 machine epsilons) leaves room for rounding while every contrast case, which
breaks the identity, measures 1e-2 or more. Ranks and accuracies are integers or exact
fractions and are compared exactly. Attention masses are compared with derived lower
bounds, which the construction meets strictly. No rule here is calibrated from a run.
"""

import math

import numpy as np

from proofs import frozen_qk
from proofs.ledger import Claim, RowResult, Rule
from sims.scales import check_scale
from sims.seeds import stream_seed

SOURCE = ("Dong et al. 2025 (arXiv 2506.01115), Frozen-QK universal approximation and "
          "MixiT's failure [secondary summary]; constructions derived in proofs.frozen_qk")

MACHINE_TOLERANCE = 1e-12
"""Largest relative residual that counts as zero (module docstring)."""

SCALES = {
    "smoke": {
        "reduction": {"shapes": ((16, 1, 3, 6), (24, 2, 4, 9)), "draws": 2},
        "ranks": {"shapes": ((2, 6), (3, 5)), "heads": (1, 2, 3, 4, 5), "head_width": 8},
        "blind_spot": {"shapes": ((8, 6, 2, 4),), "weight_draws": 3},
        "induction": {"shapes": ((153, 32, 17, 25, 12.0),), "sequences": 20,
                      "contrast_beta": 1.0},
    },
    "quick": {
        "reduction": {"shapes": ((16, 1, 3, 6), (24, 2, 4, 9), (64, 4, 6, 32), (33, 2, 8, 5)),
                      "draws": 8},
        "ranks": {"shapes": ((2, 6), (3, 5), (4, 8), (6, 4)), "heads": (1, 2, 3, 4, 5, 6, 7),
                  "head_width": 16},
        "blind_spot": {"shapes": ((8, 6, 2, 4), (16, 12, 4, 4), (32, 20, 8, 4)),
                       "weight_draws": 8},
        "induction": {"shapes": ((153, 32, 17, 25, 12.0), (140, 32, 17, 25, 12.0),
                                 (400, 64, 33, 41, 14.0)),
                      "sequences": 300, "contrast_beta": 1.0},
    },
    "paper": {
        "reduction": {"shapes": ((16, 1, 3, 6), (64, 4, 6, 32), (512, 8, 16, 128)), "draws": 32},
        "ranks": {"shapes": ((2, 6), (3, 5), (4, 8), (6, 4), (8, 16)),
                  "heads": tuple(range(1, 17)), "head_width": 16},
        "blind_spot": {"shapes": ((8, 6, 2, 4), (32, 20, 8, 4), (128, 64, 16, 8)),
                       "weight_draws": 32},
        "induction": {"shapes": ((153, 32, 17, 25, 12.0), (400, 64, 33, 41, 14.0),
                                 (800, 128, 65, 101, 16.0)),
                      "sequences": 1000, "contrast_beta": 1.0},
    },
}
"""Sizes per scale. Shapes are ``(n, H, n_h, T)`` for the reduction, ``(d, T)`` for the
ranks, ``(n, T, H, n_h)`` for the blind spot and ``(n, n_h, V, T, beta)`` for the
induction head (``V`` counts the beginning-of-sequence token)."""


def settings_for(scale):
    """Return the sizes of ``scale`` as a new dict, with the scale's name under ``scale``."""
    return {"scale": check_scale(scale),
            **{key: dict(value) for key, value in SCALES[scale].items()}}


def _generator(seed, name):
    return np.random.default_rng(stream_seed(seed, "frozen-qk:" + name))


def _row(claim, setting, predicted, measured, rule, details, bound=None):
    reference = predicted if bound is None else bound
    return RowResult(claim.id, setting, predicted, measured, None, rule,
                     rule.decide(measured, reference), details, bound)


# frozen-qk.rank-one-reduction ---------------------------------------------------------

def _evaluate_reduction(claim, settings, seed, cache):
    sizes = settings["reduction"]
    generator = _generator(seed, "reduction")
    grows = Rule("grows", claim.rule.tolerance, claim.rule.band)
    rows = []
    for width, heads, head_width, length in sizes["shapes"]:
        residuals, contrasts = [], []
        for _ in range(sizes["draws"]):
            query, key = frozen_qk.frozen_qk_weights(heads, head_width, width, generator)
            result = frozen_qk.rank_one_reduction(query, key, length, generator)
            residuals.append(result["relative_residual"])
            # Contrast: the same tokens with positional vectors outside the kernel.
            shifted = result["tokens"] + generator.standard_normal(result["tokens"].shape)
            logits = frozen_qk.attention_logits(shifted, query, key)
            scalars = shifted @ result["direction"]
            predicted = result["kappa"][:, None, None] * np.outer(scalars, scalars)
            contrasts.append(float(np.linalg.norm(logits - predicted)
                                   / np.linalg.norm(logits)))
        setting = f"n={width}, H={heads}, n_h={head_width}, T={length}"
        details = {"draws": sizes["draws"], "residuals": residuals}
        rows.append(_row(claim, f"{setting}, largest relative residual", 0.0, max(residuals),
                         claim.rule, details))
        rows.append(_row(claim, f"{setting}, positions outside the kernel (contrast, grows)",
                         "> 0 (differs)", min(contrasts), grows,
                         {"contrast": True, "residuals": contrasts}, 0.0))
    return rows


# frozen-qk.jacobian-rank --------------------------------------------------------------

def _evaluate_ranks(claim, settings, seed, cache):
    sizes = settings["ranks"]
    generator = _generator(seed, "ranks")
    grows = Rule("grows", 0.0, 0.0)
    rows = []
    for feature_width, length in sizes["shapes"]:
        for heads in sizes["heads"]:
            result = frozen_qk.feature_jacobian_rank(feature_width, length, heads,
                                                     sizes["head_width"], generator)
            setting = f"d={feature_width}, T={length}, H={heads}"
            for name, label in (("mixit", "MixiT"), ("frozen_qk", "Frozen-QK")):
                entry = result[name]
                rows.append(_row(claim, f"{setting}, {label} rank", entry["predicted"],
                                 entry["rank"], claim.rule,
                                 {"tolerance": entry["tolerance"], "gap": entry["gap"],
                                  "singular_values": entry["singular_values"].tolist()}))
            gain = result["frozen_qk"]["predicted"] - result["mixit"]["predicted"]
            if gain > 0:
                measured = result["frozen_qk"]["rank"] - result["mixit"]["rank"]
                rows.append(_row(claim, f"{setting}, Frozen-QK rank minus MixiT rank (grows)",
                                 gain, measured, grows, {"predicted_gain": gain}, 0.0))
    return rows


# frozen-qk.mixit-blind-spot -----------------------------------------------------------

def _evaluate_blind_spot(claim, settings, seed, cache):
    sizes = settings["blind_spot"]
    generator = _generator(seed, "blind-spot")
    grows = Rule("grows", claim.rule.tolerance, claim.rule.band)
    rows = []
    for width, length, heads, head_width in sizes["shapes"]:
        result = frozen_qk.blind_spot_differences(width, length, heads, head_width, generator,
                                                  sizes["weight_draws"])
        setting = f"n={width}, T={length}, H={heads}, n_h={head_width}"
        details = {"weight_draws": sizes["weight_draws"],
                   "kernel_dimension": result["kernel_dimension"]}
        rows.append(_row(claim, f"{setting}, MixiT largest relative output difference", 0.0,
                         result["mixit"], claim.rule,
                         dict(details, differences=result["mixit_all"])))
        rows.append(_row(claim, f"{setting}, Frozen-QK smallest relative output difference "
                         f"(grows)", "> 0 (differs)", result["frozen_qk"], grows,
                         dict(details, differences=result["frozen_qk_all"]), 0.0))
    return rows


# frozen-qk.induction-head -------------------------------------------------------------

def _evaluate_induction(claim, settings, seed, cache):
    sizes = settings["induction"]
    generator = _generator(seed, "induction")
    above = Rule("grows", 0.0, 0.0)
    below = Rule("falls", 0.0, 0.0)
    rows = []
    for width, head_width, vocab_size, length, beta in sizes["shapes"]:
        construction = frozen_qk.induction_construction(width, head_width, vocab_size, length,
                                                        beta, generator)
        sequences = frozen_qk.repeated_sequences(sizes["sequences"], (length - 1) // 2,
                                                 vocab_size, generator)
        result = frozen_qk.induction_accuracy(construction, sequences)
        setting = f"n={width}, n_h={head_width}, V={vocab_size}, T={length}, beta={beta:g}"
        details = {"sequences": sizes["sequences"], "scored": result["scored"],
                   "gram_condition": construction["gram_condition"]}
        rows.append(_row(claim, f"{setting}, layer-1 previous-token mass > 1 - (T-1) e^-beta",
                         result["previous_token_bound"], result["previous_token_mass"], above,
                         dict(details, exact=result["previous_token_exact"]),
                         result["previous_token_bound"]))
        rows.append(_row(claim, f"{setting}, layer-2 mass on the induction key > its bound",
                         result["induction_bound"], result["induction_mass"], above,
                         details, result["induction_bound"]))
        rows.append(_row(claim, f"{setting}, accuracy on repeated sequences", 1.0,
                         result["accuracy"], claim.rule, details))

    # Contrast: a small beta leaves the attention too diffuse to copy every token.
    width, head_width, vocab_size, length, _ = sizes["shapes"][0]
    beta = sizes["contrast_beta"]
    construction = frozen_qk.induction_construction(width, head_width, vocab_size, length,
                                                    beta, generator)
    sequences = frozen_qk.repeated_sequences(sizes["sequences"], (length - 1) // 2,
                                             vocab_size, generator)
    result = frozen_qk.induction_accuracy(construction, sequences)
    rows.append(_row(claim, f"n={width}, n_h={head_width}, V={vocab_size}, T={length}, "
                     f"beta={beta:g}, accuracy (contrast, falls)", "< 1", result["accuracy"],
                     below, {"contrast": True, "sequences": sizes["sequences"]}, 1.0))
    return rows


CLAIMS = (
    Claim(
        "frozen-qk.rank-one-reduction",
        "With frozen Gaussian W^Q, W^K (n > 2 H n_h), tokens a_i w + p_i with positional "
        "vectors in the common kernel of every W^Q_h and W^K_h make each head's logits "
        "exactly kappa_h a a^T: the relative residual is below 1e-12. Positional vectors "
        "outside the kernel break the identity.",
        SOURCE,
        "proofs.frozen_qk.rank_one_reduction",
        Rule("bounded", MACHINE_TOLERANCE, 0.0),
        _evaluate_reduction,
        settings_for,
    ),
    Claim(
        "frozen-qk.jacobian-rank",
        "At the last position, the Jacobian of u -> (x_last, head outputs) with one-hot "
        "positions has rank d min(H + 1, T) for MixiT and "
        "d + min(H, d)(T - 1) + (d - min(H, d)) min(H, T - 1) for Frozen-QK, so Frozen-QK "
        "is locally injective from H = d heads on and MixiT only from H = T - 1.",
        SOURCE,
        "proofs.frozen_qk.feature_jacobian_rank",
        Rule("exact"),
        _evaluate_ranks,
        settings_for,
    ),
    Claim(
        "frozen-qk.mixit-blind-spot",
        "For T >= H + 2 two different prefixes built from the kernel of MixiT's last mixing "
        "rows give the same one-layer MixiT output at the last position for every value, "
        "output and MLP weight (relative difference below 1e-12), while one Frozen-QK layer "
        "with the same weights separates them.",
        SOURCE,
        "proofs.frozen_qk.blind_spot_differences",
        Rule("bounded", MACHINE_TOLERANCE, 0.0),
        _evaluate_blind_spot,
        settings_for,
    ),
    Claim(
        "frozen-qk.induction-head",
        "A two-layer induction head on frozen random Q/K, solved by minimum-norm linear "
        "systems (n >= 4 n_h, V <= n_h, T + 1 <= n_h, n >= 3 V + T), puts more than "
        "1 - (T - 1) e^-beta of layer 1's attention on the previous token, meets the derived "
        "bound on layer 2's mass on the induction key, and predicts every repeated token of "
        "repeated random sequences. With beta = 1 it does not.",
        SOURCE,
        "proofs.frozen_qk.induction_accuracy",
        Rule("exact"),
        _evaluate_induction,
        settings_for,
    ),
)
"""The Frozen-QK construction claims, by id."""
