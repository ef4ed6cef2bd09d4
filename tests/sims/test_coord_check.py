"""The coordinate check at tiny scale: shapes and values recomputed from one forward pass."""

import numpy as np
import pytest

from sims.cache import RunCache
from sims.coord_check import coord_check, coord_check_records
from sims.data import fixed_batch, load_corpus
from sims.layers import softmax_cross_entropy
from sims.runs import RunConfig, build_ensemble
from sims.seeds import stream_seed

STEPS = 3
PROBE_SIZE = 16
RUN = RunConfig(width=8, depth=3, context=4, batch_size=8, base_width=4, base_depth=1,
                parameterization="alpha", alpha=0.5, lr=1e-2)


@pytest.fixture(scope="module")
def result():
    return coord_check([RUN], STEPS, PROBE_SIZE)[0]


@pytest.fixture(scope="module")
def initial_forward():
    ensemble = build_ensemble([RUN])
    tokens, targets = fixed_batch(load_corpus().train, RUN.context, PROBE_SIZE,
                                  stream_seed(RUN.base_seed, "probe"))
    logits, cache = ensemble.model.forward(tokens)
    return logits, cache, targets


@pytest.mark.parametrize("name, shape", [
    ("stream_mean_abs", (STEPS + 1, RUN.depth + 1)),
    ("stream_rms", (STEPS + 1, RUN.depth + 1)),
    ("branch_mean_abs", (STEPS + 1, RUN.depth)),
    ("branch_rms", (STEPS + 1, RUN.depth)),
    ("branch_sum_variance", (STEPS + 1,)),
    ("stream_update", (STEPS + 1,)),
    ("probe_loss", (STEPS + 1,)),
    ("train_loss", (STEPS,)),
])
def test_result_shape(result, name, shape):
    assert result[name].shape == shape


def test_stream_update_starts_at_zero(result):
    assert result["stream_update"][0] == 0.0


def test_stream_update_grows_after_steps(result):
    assert np.all(result["stream_update"][1:] > 0.0)


def test_not_diverged(result):
    assert result["diverged"] is False
    assert result["diverged_step"] == -1


def test_initial_branch_sum_variance(result, initial_forward):
    _, cache, _ = initial_forward
    accumulated = cache["stream"][-1][0] - cache["stream"][0][0]
    expected = np.mean(np.sum(accumulated**2, axis=-1)) / RUN.width
    assert result["branch_sum_variance"][0] == pytest.approx(expected, rel=1e-12)


def test_initial_stream_rms(result, initial_forward):
    _, cache, _ = initial_forward
    expected = [np.sqrt(np.mean(h[0] ** 2)) for h in cache["stream"]]
    np.testing.assert_allclose(result["stream_rms"][0], expected, rtol=1e-12)


def test_initial_branch_mean_abs(result, initial_forward):
    _, cache, _ = initial_forward
    expected = [np.mean(np.abs(f[0])) for f in cache["branch"]]
    np.testing.assert_allclose(result["branch_mean_abs"][0], expected, rtol=1e-12)


def test_initial_probe_loss(result, initial_forward):
    logits, _, targets = initial_forward
    loss, _ = softmax_cross_entropy(logits, targets)
    assert result["probe_loss"][0] == pytest.approx(float(loss[0]), rel=1e-12)


def test_records_cover_every_site(result):
    records = coord_check_records([RUN], [result])
    expected = (STEPS + 1) * ((RUN.depth + 1) + RUN.depth)
    assert len(records) == expected


def test_cached_result_is_reused(tmp_path, result):
    cache = RunCache(tmp_path)
    first = coord_check([RUN], STEPS, PROBE_SIZE, cache=cache)[0]
    (entry,) = (tmp_path / "coord-check").glob("*.json")
    stored_at = entry.stat().st_mtime_ns
    second = coord_check([RUN], STEPS, PROBE_SIZE, cache=cache)[0]
    assert entry.stat().st_mtime_ns == stored_at
    np.testing.assert_array_equal(second["stream_rms"], first["stream_rms"])
    np.testing.assert_array_equal(first["stream_rms"], result["stream_rms"])


def test_diverged_member_statistics_repeat():
    runs = [RUN, RUN.replace(lr=1e4)]
    diverged = coord_check(runs, STEPS, PROBE_SIZE)[1]
    step = diverged["diverged_step"]
    assert diverged["diverged"]
    frozen = diverged["probe_loss"][step:]
    np.testing.assert_array_equal(frozen, np.full_like(frozen, frozen[0]))
