"""Every CompleteP claim can fail: its own rule rejects a contrast case at the smoke scale.

In each contrast case the derived depth exponent differs from the tested prediction by
at least 1/2. With base seeds 0, 1, 2 and 7 every contrast measured at the smoke scale
fell beyond tolerance plus band. The measurements share one run cache per module, so
each simulation runs once.
"""

import json
import math
import pathlib

import pytest

from proofs import completep_claims
from proofs.completep_claims import (
    STEPS, init_variance_fit, linearization_fits, settings_for, sgd_exponent_scan,
    stream_update_fits,
)
from proofs.ledger import VERDICTS, Rule
from proofs.registry import CLAIMS
from proofs.table1 import table1_column
from sims.cache import RunCache
from sims.depth_fits import depth_slope, depth_sweep
from sims.runs import RunConfig
from sims.weight_decay import decoupled_decay
from theory.parameterization import IN_BLOCK_GROUPS

SEED = 0


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return RunCache(tmp_path_factory.mktemp("run-cache"))


@pytest.fixture(scope="module")
def settings():
    return settings_for("smoke")


def rule_of(claim_id, kind=None):
    """Return the claim's rule, or a rule of ``kind`` with its tolerance and band."""
    rule = CLAIMS[claim_id].rule
    if kind is None:
        return rule
    return Rule(kind, rule.tolerance, rule.band)


def measured_row(rows, setting):
    matching = [row for row in rows if row.setting == setting]
    assert len(matching) == 1, f"no single row {setting!r} in {[row.setting for row in rows]}"
    return matching[0]


def test_stable_init_rejects_quarter_alpha(settings, cache):
    slope = init_variance_fit(settings, SEED, cache, 0.25)["slope"]
    rule = rule_of("completep.stable-init", "bounded")
    assert rule.decide(slope, 0.0) == "fail", f"init-variance slope {slope:+.3f} at alpha = 1/4"


@pytest.mark.parametrize("steps", STEPS)
def test_update_bounded_rejects_alpha_three_halves(settings, cache, steps):
    fit = linearization_fits(settings, SEED, cache, 1.5)[steps]["change_rms"]
    rule = rule_of("completep.update-bounded", "bounded")
    assert rule.decide(fit["slope"], 0.0) == "fail", (
        f"block-change slope {fit['slope']:+.3f} at alpha = 3/2 after {steps} steps")


@pytest.mark.parametrize("shift", [-0.5, 0.5])
def test_adam_lr_rejects_shifted_exponent(settings, cache, shift):
    alpha = 1.0
    table = table1_column("alpha", alpha)
    exponent = float(table.entry("hidden_weight", "lr").depth_exponent) + shift
    table = table.with_depth_exponent(IN_BLOCK_GROUPS, "lr", exponent)
    fits = stream_update_fits(settings, SEED, cache, alpha, table)
    rule = rule_of("completep.adam-lr-exponent")
    for steps in STEPS:
        slope = fits[steps]["slope"]
        assert rule.decide(slope, 0.0) == "fail", (
            f"stream-update slope {slope:+.3f} with rate exponent {exponent:+g} after {steps} steps")


@pytest.mark.parametrize("steps", STEPS)
def test_laziness_rejects_half_alpha(settings, cache, steps):
    # At alpha = 1/2 the laziness ratio falls as L**(-1/2), so a prediction of 0 is wrong.
    slope = linearization_fits(settings, SEED, cache, 0.5)[steps]["laziness_ratio"]["slope"]
    rule = rule_of("completep.laziness-exponent")
    assert rule.decide(slope, 0.0) == "fail", f"laziness slope {slope:+.3f} at alpha = 1/2"


@pytest.mark.parametrize("steps", STEPS)
def test_sgd_lr_rejects_adam_exponent(settings, cache, steps):
    alpha = 1.0
    root = sgd_exponent_scan(settings, SEED, cache, alpha)[steps]["root"]
    rule = rule_of("completep.sgd-lr-exponent")
    adam_exponent = alpha - 1
    assert rule.decide(root, adam_exponent) == "fail", f"SGD root {root:+.3f} at alpha = 1"


def test_init_variance_rejects_zero_exponent(settings, cache):
    slope = init_variance_fit(settings, SEED, cache, 1.0)["slope"]
    rule = rule_of("completep.init-variance-exponent")
    assert rule.decide(slope, 0.0) == "fail", f"init-variance slope {slope:+.3f} at alpha = 1"


def test_eps_rejects_no_depth_factor(cache):
    rows = CLAIMS["completep.eps-exponent"].verify("smoke", SEED, cache)
    slope = measured_row(rows, "alpha=1").measured
    rule = rule_of("completep.eps-exponent")
    assert rule.decide(slope, 0.0) == "fail", f"gradient-entry slope {slope:+.3f} at alpha = 1"


def decay_depth_slopes(settings, cache, alpha):
    """Fit the depth slope of the per-step decay of hidden weights under Table 1.

    The runs are those of the depth rows of ``completep.adamw-decay-exponent``: float64
    AdamW runs of the smoke-scale width and batch size, one per depth and seed index.
    """
    base = RunConfig(width=settings["width"], depth=2, dtype="float64",
                     batch_size=settings["batch_size"], base_seed=SEED,
                     parameterization="alpha", alpha=alpha)
    runs = depth_sweep(base, settings["depths"], settings["seeds"])
    results = decoupled_decay(runs, steps=max(STEPS), table=table1_column("alpha", alpha),
                              cache=cache)
    return {
        steps: depth_slope(runs, [result["decay_per_step"][steps - 1] for result in results])["slope"]
        for steps in STEPS
    }


@pytest.mark.parametrize("steps", STEPS)
def test_decay_rejects_zero_exponent(settings, cache, steps):
    # Table 1's in-block rate m_L**(alpha - 1) makes the decay fall as L**(-1/2) here.
    slope = decay_depth_slopes(settings, cache, 0.5)[steps]
    rule = rule_of("completep.adamw-decay-exponent")
    assert rule.decide(slope, 0.0) == "fail", f"decay slope {slope:+.3f} at alpha = 1/2"


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_claim_rows_at_smoke_scale(cache, claim_id):
    claim = CLAIMS[claim_id]
    rows = claim.verify("smoke", SEED, cache)
    assert rows, f"{claim_id} returned no rows"
    for row in rows:
        assert row.claim == claim_id
        assert math.isfinite(row.measured), f"{row.setting}: measured {row.measured!r}"
        assert row.verdict in VERDICTS, f"{row.setting}: verdict {row.verdict!r}"
        # A row may use the bounded or grows variant of the claim's rule, never other
        # numbers. Only a contrast row may use the contrast band that a calibration records.
        assert row.rule.tolerance == claim.rule.tolerance, row.setting
        if row.rule.band != claim.rule.band:
            assert row.details.get("contrast"), row.setting
            assert row.rule.band == recorded_contrast_band(claim_id), row.setting


def recorded_contrast_band(claim_id):
    """Return the contrast band of ``claim_id`` in ``proofs/calibration/variants.json``."""
    path = pathlib.Path(__file__).resolve().parents[2] / "proofs" / "calibration" / "variants.json"
    return json.loads(path.read_text(encoding="utf-8"))["claims"][claim_id]["contrast_band"]


def test_settings_for_returns_copy():
    # The calibration script changes the seed count of the dict it receives.
    settings = settings_for("smoke")
    assert settings == completep_claims.SCALES["smoke"]
    assert settings is not completep_claims.SCALES["smoke"]
