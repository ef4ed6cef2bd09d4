"""Tests of the summaries over seeds."""

import math

import pytest

from sims.fits import seed_summary


def test_seed_summary_skips_diverged_seeds():
    summary = seed_summary([0.5, math.nan, 0.7])
    assert summary == {"mean": pytest.approx(0.6), "std": pytest.approx(math.sqrt(0.02)),
                       "finite": 2}
    assert math.isnan(seed_summary([math.nan])["mean"])
