"""Ensemble draws: one generator or one per member, chunks, dtypes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.sampling import member_slice, standard_normal, uniform

seeds = st.integers(0, 2**32 - 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(seed=seeds, members=st.integers(1, 6), split=st.integers(0, 6), size=st.integers(1, 5))
def test_consecutive_chunks_equal_one_draw(dtype, seed, members, split, size):
    split = min(split, members)
    whole = standard_normal(np.random.default_rng(seed), (members, size), dtype)
    generator = np.random.default_rng(seed)
    out = np.empty((members, size), dtype=dtype)
    standard_normal(member_slice(generator, 0, split), out[:split].shape, dtype, out=out[:split])
    standard_normal(member_slice(generator, split, members), out[split:].shape, dtype,
                    out=out[split:])
    np.testing.assert_array_equal(out, whole)


@pytest.mark.parametrize("draw", [standard_normal, uniform])
@given(seed=seeds, members=st.integers(1, 4))
def test_per_member_generators(draw, seed, members):
    generators = [np.random.default_rng([seed, k]) for k in range(members)]
    together = draw(generators, (members, 3, 2))
    for member in range(members):
        alone = draw([np.random.default_rng([seed, member])], (1, 3, 2))
        np.testing.assert_array_equal(together[member], alone[0])


def test_draws_in_requested_dtype():
    rng = np.random.default_rng(0)
    assert standard_normal(rng, (2, 3), np.float32).dtype == np.float32
    assert uniform(rng, (2,), np.float32).dtype == np.float32
    # A one-dimensional member axis works with per-member generators too.
    assert standard_normal([rng, rng], (2,)).shape == (2,)


def test_invalid_generators_rejected():
    with pytest.raises(ValueError, match="got 1 generators for 2 members"):
        standard_normal([np.random.default_rng(0)], (2, 3))
    with pytest.raises(ValueError, match="generator must be a numpy.random.Generator"):
        standard_normal(7, (2, 3))
    with pytest.raises(ValueError, match="draws must be float32 or float64, got float16"):
        standard_normal(np.random.default_rng(0), (2, 3), np.float16)
