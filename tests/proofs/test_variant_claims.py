"""The trained-variant claims: each rule passes, fails and stays undecided where it should."""

import importlib.util
import json
import math
import pathlib

import pytest

from proofs.ledger import Rule
from proofs.registry import CLAIMS
from proofs.variant_claims import CLAIMS as VARIANT_CLAIMS
from proofs.variant_claims import (
    HEAD_CONTRAST_BAND, HEAD_SCORE_BOUND, RETRIEVAL_GAP_BOUND, _row,
)
from sims.cache import RunCache

DECIDED = {"scale": "quick", "resolves": True}
ROOT = pathlib.Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "proofs" / "calibration" / "variants.json"


def load_script():
    """Import ``scripts/calibrate_variant_claims.py``, a script and not a package module."""
    path = ROOT / "scripts" / "calibrate_variant_claims.py"
    spec = importlib.util.spec_from_file_location("calibrate_variant_claims", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke_rows(tmp_path_factory):
    cache = RunCache(tmp_path_factory.mktemp("cache"))
    return {claim.id: claim.verify("smoke", 0, cache) for claim in VARIANT_CLAIMS}


def test_every_claim_is_registered():
    for claim in VARIANT_CLAIMS:
        assert CLAIMS[claim.id] is claim


def test_smoke_rows_are_finite_and_undecided(smoke_rows):
    expected_rows = {"frozen-qk.induction-heads-form": 4, "mixit.fails-retrieval": 4,
                     "mixit.matches-arithmetic": 2, "mixit.memorization-ordering": 6}
    for claim_id, rows in smoke_rows.items():
        assert len(rows) == expected_rows[claim_id]
        for row in rows:
            assert math.isfinite(row.measured)
            assert row.verdict == "inconclusive"
            assert row.details["note"].startswith("not decided at this scale")


def test_contrast_rows_are_marked(smoke_rows):
    rows = smoke_rows["frozen-qk.induction-heads-form"]
    assert [row.details["contrast"] for row in rows] == [False, False, True, True]


def decide(claim_id, values, predicted, bound=None):
    claim = CLAIMS[claim_id]
    return _row(claim, DECIDED, "synthetic", values, predicted, {}, bound).verdict


def test_induction_head_rule_fails_uniform_attention_only():
    claim_id = "frozen-qk.induction-heads-form"
    # MixiT's fixed mixing and uniform attention score near 1 / (i + 1).
    assert decide(claim_id, [0.06, 0.03, 0.08], "> 0.5", HEAD_SCORE_BOUND) == "fail"
    # The calibrated band (0.6) leaves even heads formed in every seed undecided.
    assert decide(claim_id, [0.92, 0.97, 0.95], "> 0.5", HEAD_SCORE_BOUND) == "inconclusive"
    assert decide(claim_id, [0.2, 0.9, 0.95], "> 0.5", HEAD_SCORE_BOUND) == "inconclusive"


def test_contrast_rows_pass_for_fixed_mixing():
    claim = CLAIMS["frozen-qk.induction-heads-form"]
    falls = Rule("falls", claim.rule.tolerance, HEAD_CONTRAST_BAND)
    row = _row(claim, DECIDED, "synthetic", [0.02, 0.03, 0.02], "< 0.5", {},
               HEAD_SCORE_BOUND, rule=falls)
    assert row.verdict == "pass"


def test_contrast_rows_fail_if_mixit_formed_heads():
    claim = CLAIMS["frozen-qk.induction-heads-form"]
    falls = Rule("falls", claim.rule.tolerance, claim.rule.band)
    row = _row(claim, DECIDED, "synthetic", [0.9, 0.95, 0.92], "< 0.5", {},
               HEAD_SCORE_BOUND, rule=falls)
    assert row.verdict == "fail"


def test_bands_equal_the_recorded_calibration():
    record = json.loads(CALIBRATION.read_text(encoding="utf-8"))
    assert record["base_seed"] != 0, "the calibration must not reuse the ledger's default seed"
    for claim in VARIANT_CLAIMS:
        assert claim.rule.band == pytest.approx(record["claims"][claim.id]["band"]), claim.id
    contrast_band = record["claims"]["frozen-qk.induction-heads-form"]["contrast_band"]
    assert HEAD_CONTRAST_BAND == pytest.approx(contrast_band)


def test_calibration_band_is_twice_the_largest_standard_error():
    script = load_script()
    rows = [{"contrast": False, "per_seed": [0.0, 0.1, 0.2]},
            {"contrast": True, "per_seed": [0.0, 1.0, 2.0]}]
    # 2 * 0.1 / sqrt(3) = 0.115, rounded up to 0.15; the contrast row is left out.
    assert script.claim_band(rows) == pytest.approx(0.15)
    # 2 * 1 / sqrt(3) = 1.15, rounded up to 1.2: the contrast row alone.
    assert script.claim_band(rows, contrast=True) == pytest.approx(1.2)
    assert script.claim_band([{"contrast": False, "per_seed": [0.5, 0.5, 0.5]}]) == 0.05


def test_retrieval_rule_needs_a_gap_beyond_its_bound():
    claim_id = "mixit.fails-retrieval"
    assert decide(claim_id, [0.85, 0.9, 0.88], "> 0.3", RETRIEVAL_GAP_BOUND) == "pass"
    assert decide(claim_id, [0.02, -0.01, 0.03], "> 0.3", RETRIEVAL_GAP_BOUND) == "fail"


def test_arithmetic_rule_fails_a_clear_gap():
    claim_id = "mixit.matches-arithmetic"
    assert decide(claim_id, [0.01, -0.02, 0.0], 0.0) == "pass"
    assert decide(claim_id, [0.5, 0.45, 0.55], 0.0) == "fail"


def test_memorization_ordering_within_noise_is_inconclusive():
    claim_id = "mixit.memorization-ordering"
    assert decide(claim_id, [-0.03, -0.05, -0.04], "> 0", 0.0) == "fail"
    assert decide(claim_id, [0.2, 0.25, 0.22], "> 0", 0.0) == "pass"
    # Seeds on both sides of the band: the interval over seeds reaches two verdicts.
    assert decide(claim_id, [0.0, 0.06, 0.03], "> 0", 0.0) == "inconclusive"
