"""Every claim of the ledger, by id."""

from proofs import (
    completep_claims, frozen_qk_claims, mixit_claims, mixit_sde_claims, transfer_claims,
    transformer_claims, variant_claims,
)

CLAIMS = {claim.id: claim
          for claim in (completep_claims.CLAIMS + transformer_claims.CLAIMS
                        + transfer_claims.CLAIMS + mixit_claims.CLAIMS + mixit_sde_claims.CLAIMS
                        + frozen_qk_claims.CLAIMS + variant_claims.CLAIMS)}


def get_claims(ids=None):
    """Return the claims with the given ids, in the order given, or all of them.

    Raises
    ------
    KeyError
        Naming the first unknown id.
    """
    if not ids:
        return list(CLAIMS.values())
    unknown = [claim_id for claim_id in ids if claim_id not in CLAIMS]
    if unknown:
        raise KeyError(unknown[0])
    return [CLAIMS[claim_id] for claim_id in ids]
