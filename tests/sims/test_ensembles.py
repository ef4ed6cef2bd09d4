"""Ensembles equal separate runs, and seeds depend only on what identifies a run."""

import numpy as np
import pytest

from sims.runs import RunConfig, build_ensemble
from sims.training import train_step

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
"""Relative tolerance per dtype between a member of an ensemble and the same run alone.
Batched and single matrix products may round differently, so the comparison is not
bitwise."""

STEPS = 4


def base_config(dtype="float64", optimizer="adamw"):
    return RunConfig(width=8, depth=3, context=4, batch_size=8, base_width=4, base_depth=1,
                     parameterization="alpha", alpha=0.75, optimizer=optimizer, dtype=dtype)


def member_configs(dtype="float64", optimizer="adamw"):
    base = base_config(dtype, optimizer)
    return [
        base.replace(lr=1e-2, init_std=0.02, seed_index=0),
        base.replace(lr=3e-3, init_std=0.05, seed_index=1),
        base.replace(lr=3e-2, init_std=0.1, seed_index=2),
    ]


def trained_values(configs):
    ensemble = build_ensemble(configs)
    active = np.ones(len(configs), dtype=bool)
    for _ in range(STEPS):
        train_step(ensemble, active)
    return [parameter.value for parameter in ensemble.model.parameters()]


def initial_values(config):
    ensemble = build_ensemble([config])
    return {p.name: p.value[0] for p in ensemble.model.parameters() if p.init == "normal"}


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ensemble_equals_separate_runs(dtype, optimizer):
    configs = member_configs(dtype, optimizer)
    together = trained_values(configs)
    for k, config in enumerate(configs):
        alone = trained_values([config])
        for joint, single in zip(together, alone, strict=True):
            scale = float(np.max(np.abs(joint[k])))
            np.testing.assert_allclose(single[0], joint[k], rtol=0,
                                       atol=TOLERANCE[dtype] * scale, err_msg=f"member {k}")


def test_members_train_differently():
    together = trained_values(member_configs())
    hidden = together[2]
    assert not np.allclose(hidden[0], hidden[1])


def test_seed_does_not_depend_on_lr():
    base = base_config()
    slow = initial_values(base.replace(lr=1e-4))
    fast = initial_values(base.replace(lr=1e-1))
    for name in slow:
        np.testing.assert_array_equal(slow[name], fast[name], err_msg=name)


def test_init_std_scales_shared_draws():
    base = base_config()
    narrow = initial_values(base.replace(init_std=0.02))
    wide = initial_values(base.replace(init_std=0.06))
    for name in narrow:
        np.testing.assert_allclose(wide[name], 3.0 * narrow[name], rtol=1e-12, err_msg=name)


def test_seed_index_changes_draws():
    base = base_config()
    first = initial_values(base.replace(seed_index=0))
    second = initial_values(base.replace(seed_index=1))
    for name in first:
        assert not np.allclose(first[name], second[name]), name


def test_base_seed_changes_draws():
    base = base_config()
    first = initial_values(base.replace(base_seed=0))
    second = initial_values(base.replace(base_seed=1))
    for name in first:
        assert not np.allclose(first[name], second[name]), name


def test_member_order_does_not_change_draws():
    configs = member_configs()
    forward = build_ensemble(configs)
    backward = build_ensemble(configs[::-1])
    for a, b in zip(forward.model.parameters(), backward.model.parameters()):
        np.testing.assert_array_equal(a.value, b.value[::-1], err_msg=a.name)


def test_data_order_does_not_depend_on_lr():
    base = base_config()
    slow = build_ensemble([base.replace(lr=1e-4)])
    fast = build_ensemble([base.replace(lr=1e-1)])
    draws = [ensemble.data_generators[0].integers(0, 2**31, size=8) for ensemble in (slow, fast)]
    np.testing.assert_array_equal(draws[0], draws[1])


def test_float32_ensemble_starts_from_float64_draws():
    draws64 = initial_values(base_config("float64"))
    draws32 = initial_values(base_config("float32"))
    for name in draws64:
        np.testing.assert_array_equal(draws32[name], draws64[name].astype(np.float32),
                                      err_msg=name)
