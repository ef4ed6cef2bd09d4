"""``RunConfig`` validation, the run cache and interrupted or divergent sweeps."""

import re

import numpy as np
import pytest

from sims.cache import RunCache
from sims.coord_check import coord_check
from sims.runs import RunConfig
from sims.sweep import Job, run_ensembles
from sims.training import divergence_bound


@pytest.mark.parametrize("field, value", [
    ("width", 0), ("width", 2.5), ("width", -3), ("width", True),
    ("depth", 0), ("depth", 1.5),
    ("lr", 0.0), ("lr", -1e-3), ("lr", float("nan")), ("lr", float("inf")),
    ("init_std", 0.0),
    ("batch_size", 0),
    ("dtype", "float16"),
    ("seed_index", -1),
])
def test_run_config_rejects_invalid_value(field, value):
    settings = {"width": 8, "depth": 2, field: value}
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        RunConfig(**settings)


def test_run_config_rejects_unknown_group():
    with pytest.raises(ValueError, match="'attention'"):
        RunConfig(width=8, depth=2, trainable_groups=("attention",))


def test_run_config_drops_alpha_outside_alpha_family():
    assert RunConfig(width=8, depth=2, parameterization="mup").alpha is None


def test_member_fields_share_ensemble_key():
    config = RunConfig(width=8, depth=2)
    other = config.replace(lr=0.5, init_std=0.3, seed_index=4)
    assert config.ensemble_key() == other.ensemble_key()


def test_shape_changes_ensemble_key():
    config = RunConfig(width=8, depth=2)
    assert config.ensemble_key() != config.replace(depth=3).ensemble_key()


def test_cache_round_trips_arrays_and_scalars(tmp_path):
    cache = RunCache(tmp_path)
    result = {
        "curve": np.linspace(0.0, 1.0, 7),
        "counts": np.arange(6, dtype=np.int64).reshape(2, 3),
        "zero_dimensional": np.array(2.5),
        "loss": 1.25, "steps": 3, "diverged": False, "label": "gelu", "nothing": None,
        "list": [1, 2.5],
    }
    cache.store("kind", {"width": 8}, result)
    loaded = RunCache(tmp_path).load("kind", {"width": 8})

    assert set(loaded) == set(result)
    for name in ("curve", "counts", "zero_dimensional"):
        np.testing.assert_array_equal(loaded[name], result[name], err_msg=name)
        assert loaded[name].dtype == result[name].dtype, name
    for name in ("loss", "steps", "diverged", "label", "nothing", "list"):
        assert loaded[name] == result[name], name


def test_cache_misses_other_config(tmp_path):
    cache = RunCache(tmp_path)
    cache.store("kind", {"width": 8}, {"loss": 1.0})
    assert cache.load("kind", {"width": 16}) is None


def test_cache_misses_other_kind(tmp_path):
    cache = RunCache(tmp_path)
    cache.store("kind", {"width": 8}, {"loss": 1.0})
    assert cache.load("other", {"width": 8}) is None


def test_disabled_cache_stores_nothing(tmp_path):
    cache = RunCache(None)
    cache.store("kind", {"width": 8}, {"loss": 1.0})
    assert cache.load("kind", {"width": 8}) is None


def test_cache_leaves_no_temporary_files(tmp_path):
    RunCache(tmp_path).store("kind", {"width": 8}, {"loss": 1.0, "curve": np.ones(3)})
    names = sorted(path.suffix for path in (tmp_path / "kind").iterdir())
    assert names == [".json", ".npz"]


def make_jobs():
    jobs = []
    for width in (8, 12):
        run = RunConfig(width=width, depth=2, base_width=4)
        jobs.append(Job(run, run.default_table(), {"steps": 1}))
    return jobs


class Interrupted(Exception):
    pass


def test_interrupted_sweep_keeps_finished_ensemble(tmp_path):
    cache = RunCache(tmp_path)
    jobs = make_jobs()
    calls = []

    def run_then_fail(group):
        calls.append([job.run.width for job in group])
        if len(calls) == 2:
            raise Interrupted
        return [{"width": job.run.width, "curve": np.full(3, job.run.width)} for job in group]

    with pytest.raises(Interrupted):
        run_ensembles("test-sweep", jobs, run_then_fail, cache)

    stored = cache.load("test-sweep", jobs[0].cache_config())
    assert stored is not None
    assert stored["width"] == 8
    assert cache.load("test-sweep", jobs[1].cache_config()) is None


def test_resumed_sweep_runs_only_missing(tmp_path):
    cache = RunCache(tmp_path)
    jobs = make_jobs()

    def run_first(group):
        if group[0].run.width != 8:
            raise Interrupted
        return [{"width": 8}]

    with pytest.raises(Interrupted):
        run_ensembles("test-sweep", jobs, run_first, cache)

    resumed = []

    def run_rest(group):
        resumed.extend(job.run.width for job in group)
        return [{"width": job.run.width} for job in group]

    results = run_ensembles("test-sweep", jobs, run_rest, cache)
    assert resumed == [12]
    assert [result["width"] for result in results] == [8, 12]


def test_sweep_groups_members_of_one_ensemble(tmp_path):
    base = RunConfig(width=8, depth=2, base_width=4)
    jobs = [Job(base.replace(lr=lr), base.default_table(), {}) for lr in (1e-3, 1e-2, 1e-1)]
    groups = []

    def record(group):
        groups.append(len(group))
        return [{} for _ in group]

    run_ensembles("test-sweep", jobs, record, RunCache(None), max_members=2)
    assert groups == [2, 1]


DIVERGENCE_RUN = RunConfig(width=8, depth=2, context=4, batch_size=8, base_width=4,
                           optimizer="adam", lr=1e-2)


@pytest.fixture(scope="module")
def divergence_results():
    absurd = DIVERGENCE_RUN.replace(lr=1e4)
    together = coord_check([DIVERGENCE_RUN, absurd], steps=4, probe_size=8)
    alone = coord_check([DIVERGENCE_RUN], steps=4, probe_size=8)
    return together, alone


def test_absurd_lr_is_marked_diverged(divergence_results):
    together, _ = divergence_results
    assert together[1]["diverged"]
    assert together[1]["diverged_step"] >= 1


def test_diverged_loss_exceeds_bound(divergence_results):
    together, _ = divergence_results
    step = together[1]["diverged_step"]
    loss = together[1]["train_loss"][step]
    assert not loss <= divergence_bound(96)


def test_sane_lr_is_not_diverged(divergence_results):
    together, _ = divergence_results
    assert not together[0]["diverged"]
    assert together[0]["diverged_step"] == -1


def test_divergence_leaves_other_member_unchanged(divergence_results):
    together, alone = divergence_results
    for name, value in alone[0].items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(together[0][name], value, rtol=1e-12, err_msg=name)
