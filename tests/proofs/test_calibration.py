"""Claim tolerances equal the recorded calibration, and the calibration script's arithmetic."""

import functools
import importlib.util
import json
import math
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs import completep_claims
from proofs.ledger import Claim, RowResult, Rule
from proofs.registry import CLAIMS

ROOT = pathlib.Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "proofs" / "calibration" / "completep.json"
SCRIPT = ROOT / "scripts" / "calibrate_claims.py"


def load_calibration():
    if not CALIBRATION.exists():
        pytest.fail(f"{CALIBRATION.relative_to(ROOT)} is missing; "
                    "run scripts/calibrate_claims.py to record it")
    return json.loads(CALIBRATION.read_text(encoding="utf-8"))


@functools.cache
def load_script():
    """Import ``scripts/calibrate_claims.py``, which is a script and not a package module."""
    spec = importlib.util.spec_from_file_location("calibrate_claims", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return load_script()


@pytest.mark.parametrize("claim_id", [claim.id for claim in completep_claims.CLAIMS])
def test_tolerance_matches_calibration(claim_id):
    recorded = load_calibration()["claims"].get(claim_id)
    assert recorded is not None, f"{claim_id} is not in {CALIBRATION.name}"
    rule = CLAIMS[claim_id].rule
    assert rule.tolerance == pytest.approx(recorded["tolerance"], abs=1e-12), (
        f"{claim_id}: tolerance {rule.tolerance} in the claim, {recorded['tolerance']} recorded")
    assert rule.band == pytest.approx(recorded["band"], abs=1e-12), (
        f"{claim_id}: band {rule.band} in the claim, {recorded['band']} recorded")


def test_calibration_at_quick_scale():
    assert load_calibration()["scale"] == "quick"


@pytest.mark.parametrize("value, expected", [
    (0.0, 0.0),
    (0.01, 0.05),
    (0.05, 0.05),
    (0.1, 0.1),                 # 0.1 / 0.05 is 2 up to rounding
    (0.3, 0.3),                 # 0.3 / 0.05 is 5.999... in floats
    (0.3000001, 0.35),
    (0.12, 0.15),
    (1.0, 1.0),
])
def test_round_up_cases(script, value, expected):
    assert script.round_up(value) == expected


def test_round_up_other_step(script):
    assert script.round_up(0.11, step=0.1) == 0.2


@given(value=st.floats(0.0, 10.0))
def test_round_up_next_multiple(value):
    rounded = load_script().round_up(value)
    multiples = rounded / 0.05
    assert multiples == pytest.approx(round(multiples), abs=1e-6)
    assert rounded >= value - 1e-9
    assert rounded < value + 0.05 + 1e-9


def fake_claim(rows):
    def evaluate(claim, settings, seed, cache):
        return rows
    return Claim("test.fake", "", "", "", Rule("equal", 0.1, 0.05), evaluate, lambda scale: {})


def test_calibrate_exact_claim(script):
    rows = [RowResult("test.fake", "column sp", 17, 17, None, Rule("exact"), "pass", {})]
    summary = script.calibrate_claim(fake_claim(rows), {}, judged_seeds=4, cache=None)
    assert summary["tolerance"] == 0.0
    assert summary["band"] == 0.0


def test_calibrate_measured_claim(script):
    # Per-seed slopes with mean 1.02 and sample s.d. 0.1 against a prediction of 1:
    # bias 0.02 and, for rows judged on 4 seeds, estimator s.d. 0.1 / sqrt(4) = 0.05.
    # The tolerance is round_up(0.02 + 3 * 0.05) = 0.2 and the band round_up(2 * 0.05) = 0.1.
    rule = Rule("equal", 0.1, 0.05)
    rows = [RowResult("test.fake", "alpha=1", 1.0, 1.02, 0.1, rule, "pass",
                      {"seed_slopes": [0.92, 1.02, 1.12]})]
    summary = script.calibrate_claim(fake_claim(rows), {}, judged_seeds=4, cache=None)
    assert math.isclose(summary["rows"][0]["bias"], 0.02, abs_tol=1e-12)
    assert summary["tolerance"] == 0.2
    assert summary["band"] == 0.1


def test_calibrate_band_has_floor(script):
    # Identical seeds give no spread, but the band is still 0.05.
    rule = Rule("equal", 0.1, 0.05)
    rows = [RowResult("test.fake", "alpha=1", 1.0, 1.0, 0.0, rule, "pass",
                      {"seed_slopes": [1.0, 1.0, 1.0]})]
    summary = script.calibrate_claim(fake_claim(rows), {}, judged_seeds=4, cache=None)
    assert summary["band"] == 0.05
