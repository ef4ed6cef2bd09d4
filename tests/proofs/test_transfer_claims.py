"""The transfer claims' rows: decided over seeds, inconclusive at the grid's edge, able to fail."""

import numpy as np
import pytest

from proofs.registry import CLAIMS
from proofs.transfer_claims import _row, settings_for
from sims.transfer import TRANSFER_SCALES


def sweep_with(seed_drifts, edge_optima=0):
    """Return the fields of a transfer sweep that a row reads, with the given drifts."""
    drifts = np.asarray(seed_drifts, dtype=float)
    trend = {"drift": float(drifts.mean()), "spread": float(drifts.std(ddof=1)),
             "seed_drifts": drifts.tolist(), "seeds": len(drifts)}
    sweep = {"depths": [2, 16], "optimum": [-8.0, -8.0], "optimum_spread": [0.1, 0.1],
             "best_loss": [2.0, 1.9], "edge_optima": edge_optima,
             "diverged": np.zeros((2, len(drifts), 4), dtype=bool),
             "drift": trend, "best_loss_trend": trend}
    return sweep, trend


def decide(claim_id, seed_drifts, edge_optima=0, signed=False):
    claim = CLAIMS[claim_id]
    sweep, trend = sweep_with(seed_drifts, edge_optima)
    return _row(claim, "test", sweep, trend, 0.0, claim.rule, 0.0, signed=signed)


@pytest.mark.parametrize("claim_id, seed_drifts, signed, expected", [
    ("completep.transfer-optimum-fixed", [0.1, -0.1, 0.05], False, "pass"),
    ("completep.transfer-optimum-fixed", [1.6, 1.4, 1.5], False, "fail"),
    ("completep.transfer-optimum-fixed", [-1.0, 1.0, 0.2], False, "inconclusive"),
    ("completep.transfer-optimum-drifts", [-1.6, -1.4, -1.5], True, "pass"),
    ("completep.transfer-optimum-drifts", [0.1, -0.1, 0.0], True, "fail"),
    ("completep.deeper-better", [-0.2, -0.15, -0.25], False, "pass"),
    ("completep.deeper-better", [0.05, 0.04, 0.06], False, "fail"),
])
def test_rows_can_pass_and_fail(claim_id, seed_drifts, signed, expected):
    row = decide(claim_id, seed_drifts, signed=signed)
    assert row.verdict == expected, (row.measured, row.spread)


def test_signed_row_reports_magnitude_and_sign():
    row = decide("completep.transfer-optimum-drifts", [-1.6, -1.4], signed=True)
    assert row.measured == pytest.approx(1.5)
    assert row.details["signed_drift"] == pytest.approx(-1.5)


def test_edge_optimum_is_inconclusive():
    row = decide("completep.transfer-optimum-fixed", [0.0, 0.0, 0.01], edge_optima=1)
    assert row.verdict == "inconclusive"
    assert row.details["edge_optima"] == 1


@pytest.mark.parametrize("scale", sorted(TRANSFER_SCALES))
def test_settings_carry_scale(scale):
    settings = settings_for(scale)
    assert settings["scale"] == scale
    assert settings["seeds"] >= 2, "a multi-seed rule needs at least two seeds"
