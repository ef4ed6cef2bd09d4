"""``python -m proofs verify``: the ledger in text and JSON, exit statuses, usage errors.

Every command runs in a temporary folder, so that the default ``./.suite-cache`` lands
there.
"""

import json
import subprocess
import sys

import pytest

from proofs.registry import CLAIMS

TABLE1 = "completep.table1-agreement"
ROW_KEYS = ("setting", "predicted", "measured", "tolerance", "verdict")


def run_proofs(directory, *arguments):
    return subprocess.run([sys.executable, "-m", "proofs", *arguments], cwd=directory,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def table1_run(tmp_path_factory):
    """Run ``verify`` on the Table 1 claim once and return the folder and the process."""
    directory = tmp_path_factory.mktemp("verify-text")
    completed = run_proofs(directory, "verify", "--scale", "smoke", "--no-cache", TABLE1)
    return directory, completed


def test_verify_prints_ledger(table1_run):
    _, completed = table1_run
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert f"{TABLE1}: pass" in lines
    header = next(line for line in lines if "predicted" in line)
    for column in ("setting", "predicted", "measured", "rule", "verdict"):
        assert column in header.split(), f"column {column!r} missing from {header!r}"
    rows = [line.split() for line in lines if line.strip().startswith("column ")]
    assert [row[1] for row in rows] == ["sp", "mup", "alpha"]
    assert all(row[-1] == "pass" for row in rows), rows


def test_verify_no_cache_writes_nothing(table1_run):
    directory, _ = table1_run
    assert list(directory.iterdir()) == []


def test_verify_json_rows(tmp_path):
    completed = run_proofs(tmp_path, "verify", "--scale", "smoke", "--no-cache", "--json", TABLE1)
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["scale"] == "smoke"
    assert [claim["id"] for claim in document["claims"]] == [TABLE1]
    claim = document["claims"][0]
    assert claim["verdict"] == "pass"
    assert len(claim["rows"]) == 3
    for row in claim["rows"]:
        missing = [key for key in ROW_KEYS if key not in row]
        assert missing == [], f"row {row.get('setting')!r} lacks {missing}"


@pytest.mark.parametrize("arguments, named_value", [
    (("verify", "--scale", "smoke", "completep.no-such-claim"), "'completep.no-such-claim'"),
    (("verify", "--scale", "huge", TABLE1), "'huge'"),
    (("verify", "--scale", "smoke", "--seed", "-1", TABLE1), "'-1'"),
    (("verify", "--scale", "smoke", "--seed", "1.5", TABLE1), "'1.5'"),
    (("verify", "--scale", "smoke", "--seed", "abc", TABLE1), "'abc'"),
    (("verify", "--scale", "smoke", "--seed", "1_000", TABLE1), "'1_000'"),
    (("verify", "--scale", "smoke", "--seed", "+3", TABLE1), "'+3'"),
])
def test_verify_rejects_invalid_input(tmp_path, arguments, named_value):
    completed = run_proofs(tmp_path, *arguments)
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1, completed.stderr
    assert named_value in completed.stderr
    assert completed.stdout == ""


def test_verify_every_claim(tmp_path):
    completed = run_proofs(tmp_path, "verify", "--scale", "smoke", "--json",
                           "--cache", str(tmp_path / "cache"))
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode in (0, 1), completed.stderr
    document = json.loads(completed.stdout)
    assert [claim["id"] for claim in document["claims"]] == list(CLAIMS)
    failed = [claim["id"] for claim in document["claims"] if claim["verdict"] == "fail"]
    assert completed.returncode == (1 if failed else 0), f"failed claims: {failed}"
    assert any((tmp_path / "cache").iterdir()), "the cache folder stayed empty"


def test_list_names_every_claim(tmp_path):
    completed = run_proofs(tmp_path, "list")
    assert completed.returncode == 0
    for claim_id in CLAIMS:
        assert claim_id in completed.stdout


def test_verify_runs_repeated_claim_once(tmp_path):
    completed = run_proofs(tmp_path, "verify", "--scale", "smoke", "--no-cache", "--json",
                           TABLE1, TABLE1)
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert [claim["id"] for claim in document["claims"]] == [TABLE1]
