"""``crossing``: the root of the SGD exponent scan, by linear interpolation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs.completep_claims import crossing


@pytest.mark.parametrize("y, expected", [
    ([-1.0, 1.0, 3.0], 0.5),        # rising through zero
    ([3.0, -1.0, -2.0], 0.75),      # falling through zero
    ([-3.0, -1.0, 1.0], 1.5),       # in the second interval
    ([-1.0, 1.0, -1.0], 0.5),       # the first of two crossings
    ([-1.0, 0.0, 1.0], 1.0),        # exact zero inside
    ([0.0, 1.0, 2.0], 0.0),         # exact zero first
    ([1.0, 2.0, 0.0], 2.0),         # exact zero last
])
def test_crossing_cases(y, expected):
    assert crossing([0.0, 1.0, 2.0], y) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("y", [
    [1.0, 2.0, 3.0],
    [-1.0, -2.0, -3.0],
    [-1.0, math.nan, 1.0],          # no two neighbours bracket zero
])
def test_crossing_none_is_nan(y):
    assert math.isnan(crossing([0.0, 1.0, 2.0], y))


def test_crossing_empty_is_nan():
    assert math.isnan(crossing([], []))


def test_crossing_uneven_grid():
    x = np.array([-1.0, 0.0, 2.0])
    assert crossing(x, 2 * (x - 1.5)) == pytest.approx(1.5)


def test_crossing_returns_float():
    assert type(crossing(np.arange(3.0), np.array([-1.0, 1.0, 2.0]))) is float


@given(root=st.floats(-0.9, 1.9), slope=st.floats(0.1, 10.0), falling=st.booleans())
def test_crossing_finds_line_root(root, slope, falling):
    # On a straight line the linear interpolation is exact up to rounding.
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    y = slope * (x - root) * (-1 if falling else 1)
    assert crossing(x, y) == pytest.approx(root, abs=1e-9)
