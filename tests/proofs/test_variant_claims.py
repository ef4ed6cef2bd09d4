"""The trained-variant claims: each rule passes, fails and stays undecided where it should."""

import math

import pytest

from proofs.registry import CLAIMS
from proofs.variant_claims import CLAIMS as VARIANT_CLAIMS
from proofs.variant_claims import HEAD_SCORE_BOUND, RETRIEVAL_GAP_BOUND, _row
from sims.cache import RunCache

DECIDED = {"scale": "quick", "resolves": True}


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


def test_induction_head_rule_passes_a_formed_head_and_fails_uniform_attention():
    claim_id = "frozen-qk.induction-heads-form"
    assert decide(claim_id, [0.92, 0.97, 0.95], "> 0.5", HEAD_SCORE_BOUND) == "pass"
    # MixiT's fixed mixing and uniform attention score near 1 / (i + 1).
    assert decide(claim_id, [0.06, 0.03, 0.08], "> 0.5", HEAD_SCORE_BOUND) == "fail"
    assert decide(claim_id, [0.2, 0.9, 0.95], "> 0.5", HEAD_SCORE_BOUND) == "inconclusive"


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
