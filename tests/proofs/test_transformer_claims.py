"""The transformer claims' rows: decided over the per-seed slopes of a figure's fit."""

import pytest

from proofs.registry import CLAIMS
from proofs.transformer_claims import _row


def fit_with(seed_slopes, theory):
    mean = sum(seed_slopes) / len(seed_slopes)
    spread = (sum((s - mean)**2 for s in seed_slopes) / (len(seed_slopes) - 1))**0.5
    return {"theory": theory, "slope": mean, "spread": spread, "seed_slopes": seed_slopes,
            "points": [2, 4, 8], "mean_curve_slope": mean, "excluded": 0}


@pytest.mark.parametrize("claim_id", ["completep.transformer-coord-check",
                                      "completep.transformer-laziness-exponent"])
@pytest.mark.parametrize("seed_slopes, theory, expected", [
    ([-1.02, -0.98, -1.0], -1.0, "pass"),
    ([-0.5, -0.52, -0.48], -1.0, "fail"),
    ([-1.5, -0.5, -1.0], -1.0, "inconclusive"),
])
def test_row_verdict_over_seeds(claim_id, seed_slopes, theory, expected):
    row = _row(CLAIMS[claim_id], "test", fit_with(seed_slopes, theory))
    assert row.verdict == expected
    assert row.predicted == theory
    assert row.details["seed_slopes"] == seed_slopes
