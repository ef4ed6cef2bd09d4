"""The MixiT SDE claims: each rule passes and fails on synthetic measurements, and the
rows at the smoke scale are finite."""

import math

import numpy as np
import pytest

from proofs import mixit_sde_claims
from proofs.ledger import VERDICTS
from proofs.mixit_sde_claims import (
    CLAIMS, COVARIANCE_CASES, CONTRASTS, KS_RULE, covariance_excess, ks_row,
    predicted_covariances, settings_for, slope_row,
)
from sims.cache import RunCache

CLAIM_IDS = ("mixit.one-step-covariance", "mixit.sde-convergence", "mixit.sde-convergence-rate")
BY_ID = {claim.id: claim for claim in CLAIMS}


@pytest.fixture(scope="module")
def smoke_rows(tmp_path_factory):
    cache = RunCache(tmp_path_factory.mktemp("sde-claims-cache"))
    return {claim.id: claim.verify("smoke", 0, cache) for claim in CLAIMS}


def test_claim_ids():
    assert tuple(claim.id for claim in CLAIMS) == CLAIM_IDS


def one_step_row(measured_scale, contrast=False):
    """Return a one-step row whose measurement is the prediction times ``measured_scale``."""
    predicted = predicted_covariances(np.array(COVARIANCE_CASES["independent"]), 1.0)["derived"]
    measurement = {"measured": measured_scale * predicted,
                   "standard_error": np.full(predicted.shape, 1e-4)}
    return mixit_sde_claims._one_step_row(BY_ID["mixit.one-step-covariance"], "test",
                                          measurement, predicted, contrast)


@pytest.mark.parametrize("measured_scale, expected", [
    (1.0, "pass"), (1.04, "pass"), (1.06, "inconclusive"), (1.2, "fail"), (0.8, "fail"),
])
def test_one_step_rule(measured_scale, expected):
    assert one_step_row(measured_scale).verdict == expected


@pytest.mark.parametrize("measured_scale, expected", [(1.2, "pass"), (1.0, "fail")])
def test_one_step_contrast_rule(measured_scale, expected):
    row = one_step_row(measured_scale, contrast=True)
    assert row.verdict == expected
    assert row.details["contrast"] is True


def test_covariance_excess_subtracts_standard_errors():
    predicted = np.array([[2.0, 0.5], [0.5, 1.0]])
    measured = predicted + np.array([[0.0, 0.1], [0.1, 0.0]])
    standard_error = np.full((2, 2), 0.01)
    result = covariance_excess(measured, standard_error, predicted, standard_errors=4.0)
    assert result["excess"] == pytest.approx((0.1 - 0.04) / 2.0)
    assert result["max_relative_error"] == pytest.approx(0.05)
    assert result["max_standard_errors"] == pytest.approx(10.0)
    assert result["entry"] == [0, 1]


@pytest.mark.parametrize("name, case, sigma", CONTRASTS)
def test_contrasts_differ_beyond_tolerance(name, case, sigma):
    # Each wrong prediction must differ from the derived one by more than tolerance plus
    # band, or the contrast row could not reject it even without noise.
    rule = BY_ID["mixit.one-step-covariance"].rule
    predictions = predicted_covariances(np.array(COVARIANCE_CASES[case]), sigma)
    derived = predictions["derived"]
    difference = np.abs(predictions[name] - derived).max() / np.abs(derived).max()
    assert difference > rule.tolerance + rule.band


def slope_record(slope, interval, resolved=True):
    return {"slope": slope, "interval": list(interval), "widths": [4, 8, 16],
            "above_floor": 3 if resolved else 1, "resolved": resolved, "theory": -1.0}


@pytest.mark.parametrize("interval, resolved, expected", [
    ((-1.2, -0.8), True, "pass"),
    ((0.1, 0.4), True, "fail"),
    ((-0.8, -0.2), True, "inconclusive"),
    ((-1.2, -0.8), False, "inconclusive"),
])
def test_slope_rule(interval, resolved, expected):
    row = slope_row("mixit.sde-convergence-rate", "test", slope_record(sum(interval) / 2, interval,
                                                                   resolved))
    assert row.verdict == expected
    assert row.bound == -0.5


def ks_record(scaled):
    return {"ks": scaled / 100.0, "scaled": scaled, "band": [0.0, 0.05], "noise_floor": 0.016,
            "p_value": 0.5, "sizes": [20000, 20000]}


@pytest.mark.parametrize("scaled, expected", [(1.0, "pass"), (1.8, "inconclusive"),
                                              (2.5, "fail")])
def test_ks_rule(scaled, expected):
    assert ks_row("mixit.sde-convergence", "test", ks_record(scaled)).verdict == expected


@pytest.mark.parametrize("scaled, expected", [(2.5, "pass"), (1.8, "inconclusive"),
                                              (1.0, "fail")])
def test_ks_contrast_rule(scaled, expected):
    row = ks_row("mixit.sde-convergence", "test", ks_record(scaled), contrast=True)
    assert row.verdict == expected
    assert row.details["contrast"] is True


def test_ks_rule_thresholds_are_kolmogorov_quantiles():
    assert KS_RULE.tolerance == pytest.approx(1.6276236, rel=1e-6)
    assert KS_RULE.tolerance + KS_RULE.band == pytest.approx(1.9494746, rel=1e-6)


@pytest.mark.parametrize("claim_id", CLAIM_IDS)
def test_smoke_rows_finite(smoke_rows, claim_id):
    rows = smoke_rows[claim_id]
    assert rows
    for row in rows:
        assert row.claim == claim_id
        assert math.isfinite(row.measured), row.setting
        assert row.verdict in VERDICTS, row.setting


def test_smoke_rows_include_contrasts(smoke_rows):
    # The rate claim decides slopes, which have no contrast case.
    for claim_id in ("mixit.one-step-covariance", "mixit.sde-convergence"):
        assert any(row.details.get("contrast") for row in smoke_rows[claim_id]), claim_id


def test_settings_reject_unknown_scale():
    with pytest.raises(ValueError, match="huge"):
        settings_for("huge")
