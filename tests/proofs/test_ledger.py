"""Decision rules of the claims ledger at their boundaries, and a claim's overall verdict.

Tolerances and bands here are dyadic fractions, so that ``measured - predicted`` lands
exactly on a boundary in floating point.
"""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs.ledger import RowResult, Rule, claim_verdict

TOLERANCE = 0.25
BAND = 0.125


@pytest.mark.parametrize("measured, expected", [
    (1.0, "pass"),            # exact agreement
    (1.25, "pass"),           # exactly at the tolerance, above
    (0.75, "pass"),           # exactly at the tolerance, below
    (1.3, "inconclusive"),    # inside the band
    (0.7, "inconclusive"),
    (1.375, "inconclusive"),  # exactly at tolerance + band
    (1.5, "fail"),            # beyond the band
    (0.5, "fail"),
    (math.nan, "fail"),
])
def test_equal_rule_boundaries(measured, expected):
    rule = Rule("equal", TOLERANCE, BAND)
    assert rule.decide(measured, 1.0) == expected


@pytest.mark.parametrize("measured, expected", [
    (-5.0, "pass"),           # far below the bound
    (0.0, "pass"),
    (0.25, "pass"),           # exactly at the tolerance
    (0.3, "inconclusive"),
    (0.375, "inconclusive"),  # exactly at tolerance + band
    (0.5, "fail"),
    (math.nan, "fail"),
])
def test_bounded_rule_boundaries(measured, expected):
    rule = Rule("bounded", TOLERANCE, BAND)
    assert rule.decide(measured, 0.0) == expected


@pytest.mark.parametrize("measured, expected", [
    (-1.0, "fail"),
    (0.0, "fail"),
    (0.25, "fail"),           # exactly at the tolerance
    (0.3, "inconclusive"),
    (0.375, "inconclusive"),  # exactly at tolerance + band: not yet beyond it
    (0.5, "pass"),
    (math.nan, "fail"),
])
def test_grows_rule_boundaries(measured, expected):
    rule = Rule("grows", TOLERANCE, BAND)
    assert rule.decide(measured, 0.0) == expected


@pytest.mark.parametrize("measured, predicted, expected", [
    (17, 17, "pass"),
    (17.0, 17, "pass"),
    (16, 17, "fail"),
    (math.nan, 17, "fail"),
])
def test_exact_rule(measured, predicted, expected):
    assert Rule("exact").decide(measured, predicted) == expected


def test_exact_rule_ignores_tolerance():
    assert Rule("exact", 1.0, 1.0).decide(16.5, 17) == "fail"


def test_zero_band_has_no_inconclusive():
    rule = Rule("equal", TOLERANCE, 0.0)
    assert rule.decide(1.25, 1.0) == "pass"
    assert rule.decide(1.26, 1.0) == "fail"


@pytest.mark.parametrize("arguments", [
    ("approximately",),
    ("equal", -0.1, 0.05),
    ("equal", 0.1, -0.05),
    ("equal", math.nan, 0.05),
    ("bounded", 0.1, math.inf),
])
def test_rule_rejects_invalid_definition(arguments):
    with pytest.raises(ValueError):
        Rule(*arguments)


@pytest.mark.parametrize("kind", ["equal", "bounded", "grows"])
@pytest.mark.parametrize("measured, predicted", [
    (math.nan, 0.0), (math.inf, 0.0), (-math.inf, 0.0), (0.0, math.nan),
])
def test_non_finite_values_fail(kind, measured, predicted):
    assert Rule(kind, TOLERANCE, BAND).decide(measured, predicted) == "fail"


def test_claim_verdict_needs_rows():
    with pytest.raises(ValueError):
        claim_verdict([])


def _rows(*verdicts):
    rule = Rule("equal", TOLERANCE, BAND)
    return [RowResult("claim", f"row {index}", 0.0, 0.0, None, rule, verdict)
            for index, verdict in enumerate(verdicts)]


@pytest.mark.parametrize("verdicts, expected", [
    (("pass",), "pass"),
    (("pass", "pass"), "pass"),
    (("pass", "inconclusive"), "inconclusive"),
    (("inconclusive", "inconclusive"), "inconclusive"),
    (("pass", "fail"), "fail"),
    (("inconclusive", "fail", "pass"), "fail"),
    (("fail",), "fail"),
])
def test_claim_verdict(verdicts, expected):
    assert claim_verdict(_rows(*verdicts)) == expected


def test_row_json_has_ledger_columns():
    row = _rows("pass")[0]
    document = row.to_json()
    assert document["tolerance"] == TOLERANCE
    assert document["band"] == BAND
    assert document["verdict"] == "pass"
    assert document["rule"] == "equal"


@pytest.mark.parametrize("kind, seed_values, expected", [
    ("equal", [1.0, 1.0], "pass"),                  # no spread: the mean's own verdict
    ("equal", [0.9, 1.1], "pass"),                  # interval 1 -+ 0.2, inside the tolerance
    ("equal", [-2.0, 4.0], "inconclusive"),         # interval covers pass and fail
    ("equal", [2.0, 2.25], "fail"),                 # interval beyond tolerance + band
    ("grows", [2.0, 2.25], "pass"),
    ("grows", [0.0, 2.5], "inconclusive"),
    ("falls", [0.0, 0.125], "pass"),
    ("equal", [1.0], "inconclusive"),               # one seed shows no noise
    ("equal", [1.0, math.nan], "fail"),
])
def test_decide_over_seeds(kind, seed_values, expected):
    rule = Rule(kind, TOLERANCE, BAND)
    assert rule.decide_over_seeds(seed_values, 1.0) == expected


@given(st.lists(st.floats(-4, 4), min_size=2, max_size=6),
       st.sampled_from(["equal", "bounded", "grows", "falls"]))
def test_decide_over_seeds_never_contradicts_the_mean(seed_values, kind):
    # A decided verdict over seeds is the verdict of the mean itself.
    rule = Rule(kind, TOLERANCE, BAND)
    verdict = rule.decide_over_seeds(seed_values, 1.0)
    if verdict != "inconclusive":
        assert verdict == rule.decide(sum(seed_values) / len(seed_values), 1.0)
