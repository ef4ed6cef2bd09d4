"""``python -m sims describe``: every group in the output, usage errors on one line."""

import json
import subprocess
import sys

import pytest

from theory.parameterization import GROUPS


def run_sims(*arguments):
    return subprocess.run([sys.executable, "-m", "sims", *arguments],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("arguments", [
    ("--param", "sp"),
    ("--param", "mup", "--optimizer", "sgd"),
    ("--param", "alpha", "--alpha", "0.5", "--optimizer", "adam"),
])
def test_describe_prints_every_group(arguments):
    completed = run_sims("describe", *arguments, "--width", "256", "--depth", "8")
    assert completed.returncode == 0, completed.stderr
    rows = [line.split()[0] for line in completed.stdout.splitlines()[3:]]
    assert rows == list(GROUPS)


def test_describe_json_values():
    completed = run_sims("describe", "--param", "alpha", "--alpha", "0.5", "--width", "256",
                         "--depth", "8", "--json")
    report = json.loads(completed.stdout)
    groups = {row["group"]: row for row in report["groups"]}
    assert report["m_N"] == 2.0
    assert report["m_L"] == 4.0
    assert report["residual_multiplier"] == pytest.approx(0.5)
    # Adam in-block lr: eta_base * m_N**-1 * m_L**(alpha - 1) = 1e-3 / 2 / 2.
    assert groups["hidden_weight"]["lr"] == pytest.approx(2.5e-4)
    assert groups["embedding"]["lr"] == pytest.approx(1e-3)


def test_describe_sgd_has_no_eps():
    completed = run_sims("describe", "--param", "mup", "--optimizer", "sgd", "--width", "64",
                         "--depth", "2", "--json")
    report = json.loads(completed.stdout)
    assert all(row["eps"] is None for row in report["groups"])


@pytest.mark.parametrize("arguments, named_value", [
    (("--param", "ntk", "--width", "8", "--depth", "2"), "'ntk'"),
    (("--param", "alpha", "--alpha", "one", "--width", "8", "--depth", "2"), "'one'"),
    (("--param", "alpha", "--alpha", "nan", "--width", "8", "--depth", "2"), "'nan'"),
    (("--param", "alpha", "--width", "0", "--depth", "2"), "'0'"),
    (("--param", "alpha", "--width", "2.5", "--depth", "2"), "'2.5'"),
    (("--param", "alpha", "--width", "8", "--depth", "-1"), "'-1'"),
    (("--param", "sp", "--alpha", "1", "--width", "8", "--depth", "2"), "'sp'"),
    (("--param", "mup", "--optimizer", "lion", "--width", "8", "--depth", "2"), "'lion'"),
    (("--param", "alpha", "--alpha", "300", "--width", "512", "--depth", "32"), "m_L**299"),
    (("--param", "alpha", "--width", "1" + "0" * 400, "--depth", "2"), "too large"),
    (("--param", "alpha", "--width", "8", "--depth", "2", "--init-std", "abc"), "'abc'"),
])
def test_describe_rejects_invalid_input(arguments, named_value):
    completed = run_sims("describe", *arguments)
    lines = completed.stderr.strip().splitlines()
    assert completed.returncode == 2
    assert len(lines) == 1, completed.stderr
    assert named_value in lines[0]
    assert completed.stdout == ""


def test_describe_rejects_negative_lr():
    completed = run_sims("describe", "--param", "mup", "--width", "8", "--depth", "2",
                         "--lr", "-1")
    assert completed.returncode == 2


def test_closed_pipe_exits_quietly():
    # A main that meets a closed pipe, as "python -m sims describe ... | head -1" can.
    program = ("import sys\n"
               "from theory._argparse import run_command_line\n"
               "def main():\n"
               "    raise BrokenPipeError\n"
               "sys.exit(run_command_line(main))\n")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 141
    assert completed.stderr == ""
