"""The CompleteP derivation: derived exponents and the contrasts of ``depth_exponents``."""

import pytest
import sympy

from theory import depth_exponents, derive
from theory.symbols import alpha


@pytest.fixture(scope="module")
def results():
    return derive().results()


def test_admissible_alpha_is_half_to_one(results):
    assert results["admissible_alpha"] == sympy.Interval(sympy.Rational(1, 2), 1)


def test_complete_alpha_is_one(results):
    assert results["complete_alpha"] == sympy.FiniteSet(1)


@pytest.mark.parametrize("name, expected", [
    ("init_branch_variance_exponent", 1 - 2 * alpha),
    ("adam_lr_depth_exponent", alpha - 1),
    ("sgd_lr_depth_exponent", 2 * alpha - 1),
    ("eps_depth_exponent", -alpha),
    ("adamw_decay_depth_exponent", alpha - 1),
    ("laziness_ratio_exponent", alpha - 1),
])
def test_derived_exponent(results, name, expected):
    assert sympy.simplify(results[name] - expected) == 0


def test_results_are_named_in_steps():
    derivation = derive()
    step_names = set()
    for step in derivation.steps:
        step_names.update(step.results)
    assert step_names == set(derivation.results())


def test_steps_cite_known_premises():
    derivation = derive()
    keys = {premise.key for premise in derivation.premises}
    for step in derivation.steps:
        assert set(step.premises) <= keys, step.title


def test_sp_stream_update_grows_as_depth_squared():
    exponents = depth_exponents(0, "adam", lr_exponent=0)
    assert exponents["stream_update_variance"] == 2


def test_sp_init_variance_grows_with_depth():
    exponents = depth_exponents(0, "adam", lr_exponent=0)
    assert exponents["init_branch_variance"] == 1


def test_alpha_three_halves_block_change():
    exponents = depth_exponents(sympy.Rational(3, 2))
    assert exponents["block_change"] == sympy.Rational(1, 2)


def test_float_alpha_matches_rational():
    assert depth_exponents(1.5) == depth_exponents(sympy.Rational(3, 2))


def test_one_matrix_has_no_second_order():
    exponents = depth_exponents(1, weight_matrices=1)
    assert exponents["remainder_over_output"] == -sympy.oo


def test_one_matrix_laziness_ratio():
    exponents = depth_exponents(1, weight_matrices=1)
    assert exponents["laziness_ratio"] == -sympy.oo


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("value", [sympy.Rational(1, 2), sympy.Rational(3, 4), 1])
def test_derived_lr_keeps_stream_update_order_one(optimizer, value):
    exponents = depth_exponents(value, optimizer)
    assert exponents["stream_update_variance"] == 0


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_completep_is_not_lazy(optimizer):
    exponents = depth_exponents(1, optimizer)
    assert exponents["laziness_ratio"] == 0


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_depth_mup_is_lazy(optimizer):
    exponents = depth_exponents(sympy.Rational(1, 2), optimizer)
    assert exponents["laziness_ratio"] == -sympy.Rational(1, 2)


def test_sgd_gradient_carries_branch_multiplier():
    exponents = depth_exponents(sympy.Rational(3, 4), "sgd")
    assert exponents["gradient_entry"] == -sympy.Rational(3, 4)


def test_sgd_block_change_matches_adam():
    adam = depth_exponents(sympy.Rational(3, 4), "adam")
    sgd = depth_exponents(sympy.Rational(3, 4), "sgd")
    assert sgd["block_change"] == adam["block_change"]


def test_unknown_optimizer_raises():
    with pytest.raises(ValueError, match="'rmsprop'"):
        depth_exponents(1, "rmsprop")
