"""The MixiT claims: each rule passes and fails on synthetic inputs, and smoke rows are finite."""

import math

import numpy as np
import pytest

from proofs import mixit_claims
from proofs.ledger import VERDICTS, Rule
from sims.cache import RunCache

CLAIMS = {claim.id: claim for claim in mixit_claims.CLAIMS}
Z_CLAIMS = ("mixit.exact-mean-recursion", "mixit.zero-offdiagonal-drift")


@pytest.fixture(scope="module")
def smoke_rows(tmp_path_factory):
    cache = RunCache(tmp_path_factory.mktemp("mixit-claims"))
    return {claim_id: claim.verify("smoke", 0, cache) for claim_id, claim in CLAIMS.items()}


def test_largest_z_reads_standard_errors():
    mean = np.array([[1.0, 0.5], [0.5, 2.0]])
    error = np.array([[0.1, 0.1], [0.1, 0.0]])
    # The entry with zero standard error is left out.
    assert mixit_claims.largest_z(mean, error, np.zeros((2, 2))) == pytest.approx(10.0)
    assert math.isnan(mixit_claims.largest_z(mean, np.zeros((2, 2)), mean))


@pytest.mark.parametrize("claim_id", Z_CLAIMS)
@pytest.mark.parametrize("mean_shift, expected", [(0.0, "pass"), (0.45, "inconclusive"),
                                                  (1.0, "fail")])
def test_z_rule_decides_synthetic_means(claim_id, mean_shift, expected):
    # Standard errors of 0.1: a shift of 1.0 is 10 standard errors, 0.45 is 4.5.
    predicted = mixit_claims.claim_covariance()
    error = np.full(predicted.shape, 0.1)
    mean = predicted.copy()
    mean[1, 1] += mean_shift
    z = mixit_claims.largest_z(mean, error, predicted)
    assert CLAIMS[claim_id].rule.decide(z, 0.0) == expected


@pytest.mark.parametrize("z, expected", [(8.0, "pass"), (4.5, "inconclusive"), (2.0, "fail")])
def test_contrast_rule_rejects_only_distant_predictions(z, expected):
    rule = CLAIMS["mixit.exact-mean-recursion"].rule
    grows = Rule("grows", rule.tolerance, rule.band)
    assert grows.decide(z, 0.0) == expected


def synthetic_covariances(members, collapsed):
    """Return ``members`` 3-token covariances, ``collapsed`` of them with rho = 0.9999."""
    rho = np.where(np.arange(members) < collapsed, 0.9999, 0.2)
    covariances = np.broadcast_to(np.eye(3), (members, 3, 3)).copy()
    covariances[:, 0, 1] = covariances[:, 1, 0] = rho
    return covariances


@pytest.mark.parametrize("collapsed, expected", [(0, "pass"), (7, "inconclusive"),
                                                 (30, "fail")])
def test_collapse_rule_decides_synthetic_fractions(collapsed, expected):
    fraction, count, total = mixit_claims.collapsed_fraction(
        synthetic_covariances(100, collapsed), mixit_claims.COLLAPSE_THRESHOLD)
    assert (count, total) == (collapsed, 100)
    assert CLAIMS["mixit.no-rank-collapse"].rule.decide(fraction, 0.0) == expected


@pytest.mark.parametrize("z, expected", [(6.6, "pass"), (3.5, "inconclusive"), (0.4, "fail")])
def test_standard_rule_decides_synthetic_gaps(z, expected):
    assert CLAIMS["mixit.standard-attention-collapses"].rule.decide(z, 0.0) == expected


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_rows_at_smoke_scale_are_finite(smoke_rows, claim_id):
    claim = CLAIMS[claim_id]
    rows = smoke_rows[claim_id]
    assert rows, claim_id
    for row in rows:
        assert row.claim == claim_id
        assert math.isfinite(row.measured), row.setting
        assert row.verdict in VERDICTS, row.setting
        assert row.rule.tolerance == claim.rule.tolerance, row.setting
        assert row.rule.band == claim.rule.band, row.setting


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_each_claim_has_a_contrast_or_comparison(smoke_rows, claim_id):
    rows = smoke_rows[claim_id]
    contrasts = [row for row in rows if row.details.get("contrast")]
    if claim_id == "mixit.standard-attention-collapses":
        assert not contrasts
    else:
        assert len(contrasts) >= 1, claim_id


def test_unresolved_scale_keeps_rule_verdict(smoke_rows):
    for row in smoke_rows["mixit.standard-attention-collapses"]:
        assert row.verdict == "inconclusive"
        assert row.details["verdict_from_rule"] in VERDICTS
        assert "not decided" in row.details["note"]


def test_uniform_attention_collapses_at_smoke(smoke_rows):
    uniform = [row for row in smoke_rows["mixit.no-rank-collapse"] if row.details.get("contrast")]
    assert all(row.measured > 0.5 for row in uniform)


@pytest.mark.parametrize("scale", ["smoke", "quick", "paper"])
def test_settings_are_copies(scale):
    settings = mixit_claims.settings_for(scale)
    assert settings["scale"] == scale
    settings["mean"]["networks"] = 1
    assert mixit_claims.SCALES[scale]["mean"]["networks"] != 1
