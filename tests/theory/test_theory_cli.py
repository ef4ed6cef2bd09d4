"""``python -m theory``: text and JSON output, and usage errors."""

import json
import subprocess
import sys

import pytest


def run_theory(*arguments):
    return subprocess.run([sys.executable, "-m", "theory", *arguments],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def text_output():
    return run_theory("completep")


@pytest.fixture(scope="module")
def json_output():
    return run_theory("completep", "--json")


def test_text_exits_zero(text_output):
    assert text_output.returncode == 0, text_output.stderr


def test_text_premises_before_first_step(text_output):
    stdout = text_output.stdout
    assert "Premises" in stdout
    assert "Step 1" in stdout
    assert stdout.index("Premises") < stdout.index("Step 1")


def test_text_lists_every_premise(text_output):
    for number in range(1, 10):
        assert f"P{number} (" in text_output.stdout, f"P{number}"


def test_text_shows_adam_lr_exponent(text_output):
    assert "adam_lr_depth_exponent = alpha - 1" in text_output.stdout


def test_json_exits_zero(json_output):
    assert json_output.returncode == 0, json_output.stderr


def test_json_has_results(json_output):
    document = json.loads(json_output.stdout)
    assert document["results"]["complete_alpha"] == "{1}"
    assert document["results"]["sgd_lr_depth_exponent"] == "2*alpha - 1"


def test_json_has_table_columns(json_output):
    document = json.loads(json_output.stdout)
    assert set(document["tables"]) == {"adamw", "sgd"}


def test_unknown_derivation_exits_two():
    completed = run_theory("nonesuch")
    assert completed.returncode == 2


def test_unknown_derivation_message_is_one_line():
    completed = run_theory("nonesuch")
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "'nonesuch'" in lines[0]
    assert "completep" in lines[0]
