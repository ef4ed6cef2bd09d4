"""The Frozen-QK claims: smoke rows pass, contrasts are separated, and rules reject bad values."""

import pytest

from proofs import frozen_qk_claims
from proofs.ledger import claim_verdict

CLAIMS = {claim.id: claim for claim in frozen_qk_claims.CLAIMS}


@pytest.fixture(scope="module")
def smoke_rows():
    return {claim_id: claim.verify("smoke", 0, None) for claim_id, claim in CLAIMS.items()}


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_smoke_claim_passes(smoke_rows, claim_id):
    assert claim_verdict(smoke_rows[claim_id]) == "pass"


@pytest.mark.parametrize("claim_id", ["frozen-qk.rank-one-reduction",
                                      "frozen-qk.induction-head"])
def test_smoke_claim_has_contrast(smoke_rows, claim_id):
    assert any(row.details.get("contrast") for row in smoke_rows[claim_id])


def test_machine_rule_rejects_visible_residual():
    rule = CLAIMS["frozen-qk.rank-one-reduction"].rule
    assert rule.decide(1e-16, 0.0) == "pass"
    assert rule.decide(1e-9, 0.0) == "fail"


def test_rank_rule_rejects_off_by_one():
    rule = CLAIMS["frozen-qk.jacobian-rank"].rule
    assert rule.decide(12, 12) == "pass"
    assert rule.decide(11, 12) == "fail"


def test_settings_reject_unknown_scale():
    with pytest.raises(ValueError, match="unknown scale"):
        frozen_qk_claims.settings_for("huge")


@pytest.mark.parametrize("scale", ["smoke", "quick", "paper"])
def test_settings_shapes_are_solvable(scale):
    for width, head_width, vocab_size, length, _ in \
            frozen_qk_claims.settings_for(scale)["induction"]["shapes"]:
        frozen_qk_claims.frozen_qk.check_induction_shape(width, head_width, vocab_size, length)
