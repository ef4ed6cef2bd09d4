"""Sweeps in worker processes: equal results, kept ensembles after a failure, options."""

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from sims.cache import RunCache
from sims.cli_options import run_options
from sims.coord_check import coord_check
from sims.runs import RunConfig
from sims.sweep import WORKERS_VARIABLE, Job, SweepError, run_ensembles, shutdown_workers

SMALL_RUN = RunConfig(width=8, depth=1, context=4, batch_size=8, base_width=4, base_depth=1,
                      lr=1e-2)
FAILING_SEED = 0


def report_process(jobs):
    """Return the id of the process that ran each job."""
    return [{"pid": os.getpid()} for _ in jobs]


def fail_one_job(jobs):
    """Write a marker per finished job; raise for the job with seed index ``FAILING_SEED``.

    The failing job waits first, so the other worker finishes jobs in the meantime.
    """
    run = jobs[0].run
    if run.seed_index == FAILING_SEED:
        time.sleep(1.0)
        raise ValueError(f"failure on purpose for seed index {run.seed_index}")
    markers = pathlib.Path(jobs[0].settings["markers"])
    for job in jobs:
        (markers / str(job.run.seed_index)).touch()
    return [{"seed_index": job.run.seed_index, "curve": np.arange(3.0)} for job in jobs]


def unset_workers_variable(monkeypatch):
    """Unset the variable for one test; setting it first makes monkeypatch restore it."""
    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    monkeypatch.delenv(WORKERS_VARIABLE)


def sweep_runs():
    return [SMALL_RUN.replace(depth=depth, seed_index=seed, lr=lr)
            for depth in (1, 2, 3) for seed in (0, 1) for lr in (1e-2, 3e-3)]


def test_two_workers_equal_one_process_bit_for_bit(monkeypatch):
    runs = sweep_runs()

    monkeypatch.setenv(WORKERS_VARIABLE, "1")
    alone = coord_check(runs, steps=2, probe_size=16, max_members=2)
    monkeypatch.setenv(WORKERS_VARIABLE, "2")
    together = coord_check(runs, steps=2, probe_size=16, max_members=2)

    assert len(together) == len(alone)
    for run, first, second in zip(runs, alone, together):
        assert first.keys() == second.keys()
        for name in first:
            if isinstance(first[name], np.ndarray):
                assert np.array_equal(first[name], second[name], equal_nan=True), (run, name)
            else:
                assert first[name] == second[name], (run, name)


def test_ensembles_run_in_worker_processes():
    jobs = [Job(run, run.default_table()) for run in sweep_runs()[:4]]

    results = run_ensembles("test-workers", jobs, report_process, RunCache(None),
                            max_members=1, workers=2)

    assert len(results) == len(jobs)
    assert os.getpid() not in {result["pid"] for result in results}


def test_shutdown_workers_starts_new_pool():
    jobs = [Job(run, run.default_table()) for run in sweep_runs()[:2]]

    before = run_ensembles("test-workers", jobs, report_process, RunCache(None),
                           max_members=1, workers=2)
    shutdown_workers()
    after = run_ensembles("test-workers", jobs, report_process, RunCache(None),
                          max_members=1, workers=2)

    assert not {r["pid"] for r in before} & {r["pid"] for r in after}


def test_worker_environment_restored_after_sweep(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv(WORKERS_VARIABLE, "2")
    jobs = [Job(run, run.default_table()) for run in sweep_runs()[:2]]

    run_ensembles("test-workers", jobs, report_process, RunCache(None), max_members=1)

    assert "OPENBLAS_NUM_THREADS" not in os.environ
    assert os.environ[WORKERS_VARIABLE] == "2"


def test_failed_worker_keeps_finished_ensembles(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    cache = RunCache(tmp_path / "cache")
    settings = {"markers": str(markers)}
    jobs = [Job(SMALL_RUN.replace(seed_index=seed), SMALL_RUN.default_table(), settings)
            for seed in range(5)]

    with pytest.raises(SweepError) as raised:
        run_ensembles("test-workers", jobs, fail_one_job, cache, max_members=1, workers=2)

    finished = {int(path.name) for path in markers.iterdir()}
    cached = {job.run.seed_index for job in jobs
              if cache.load("test-workers", job.cache_config()) is not None}
    assert finished
    assert cached == finished
    assert FAILING_SEED not in cached
    assert f"seed_index {FAILING_SEED}" in str(raised.value)
    assert "failure on purpose" in str(raised.value)
    assert isinstance(raised.value.__cause__, ValueError)
    assert [job.run.seed_index for job in raised.value.jobs] == [FAILING_SEED]


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "2 workers"])
def test_invalid_workers_variable_is_named(monkeypatch, value):
    monkeypatch.setenv(WORKERS_VARIABLE, value)
    jobs = [Job(SMALL_RUN, SMALL_RUN.default_table())]

    with pytest.raises(ValueError) as raised:
        run_ensembles("test-workers", jobs, report_process, RunCache(None))

    assert WORKERS_VARIABLE in str(raised.value)
    assert repr(value) in str(raised.value)


@pytest.mark.parametrize("workers", [0, -2, 1.5, "2", True])
def test_invalid_workers_argument_is_named(workers):
    jobs = [Job(SMALL_RUN, SMALL_RUN.default_table())]

    with pytest.raises(ValueError, match="invalid number of workers"):
        run_ensembles("test-workers", jobs, report_process, RunCache(None), workers=workers)


def test_workers_option_exports_variable(monkeypatch):
    unset_workers_variable(monkeypatch)
    parser = argparse.ArgumentParser(parents=[run_options()])

    assert parser.parse_args([]).workers == 1
    assert parser.parse_args(["--workers", "3"]).workers == 3
    assert os.environ[WORKERS_VARIABLE] == "3"


def test_workers_option_default_from_variable(monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, "4")
    parser = argparse.ArgumentParser(parents=[run_options()])

    assert parser.parse_args([]).workers == 4


@pytest.mark.parametrize("arguments, variable", [
    (["--workers", "0"], None),
    (["--workers", "many"], None),
    ([], "zero"),
])
def test_workers_option_rejects_invalid_count(monkeypatch, capsys, arguments, variable):
    if variable is None:
        unset_workers_variable(monkeypatch)
    else:
        monkeypatch.setenv(WORKERS_VARIABLE, variable)
    parser = argparse.ArgumentParser(parents=[run_options()])

    with pytest.raises(SystemExit) as raised:
        parser.parse_args(arguments)

    assert raised.value.code == 2
    message = capsys.readouterr().err
    assert "invalid worker count" in message
    assert WORKERS_VARIABLE in message


INTERRUPTED_SWEEP = textwrap.dedent("""
    import sys
    import time

    from sims.cache import RunCache
    from sims.runs import RunConfig
    from sims.sweep import Job, run_ensembles


    def finish_first_only(jobs):
        if jobs[0].run.seed_index > 0:
            time.sleep(120)
        return [{"seed_index": job.run.seed_index} for job in jobs]


    if __name__ == "__main__":
        runs = [RunConfig(width=8, depth=1, base_width=4, base_depth=1, seed_index=seed)
                for seed in range(4)]
        jobs = [Job(run, run.default_table()) for run in runs]
        try:
            run_ensembles("interrupted", jobs, finish_first_only, RunCache(sys.argv[1]),
                          max_members=1, workers=2)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(130)
""")


def stored_seed_indices(folder):
    """Return the seed indices of the runs stored in a cache folder of one kind.

    Reads the entries' JSON files, so that the result does not depend on this process's
    hash of the source, which another process computes afresh.
    """
    return sorted(json.loads(path.read_text())["scalars"]["seed_index"]
                  for path in folder.glob("*.json"))


def living_processes_in_session(session):
    """Return the ids of processes of ``session`` that are running (not zombies)."""
    pids = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_keeps_finished_ensembles(tmp_path):
    script = tmp_path / "interrupted_sweep.py"
    script.write_text(INTERRUPTED_SWEEP)
    entries = tmp_path / "cache" / "interrupted"

    # A new session, as a terminal's foreground job, with the default SIGINT handling.
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "cache")], start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not stored_seed_indices(entries):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first ensemble did not finish in 60 s"
        time.sleep(0.1)
    time.sleep(0.5)

    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    assert stdout.strip() == "interrupted"
    assert stored_seed_indices(entries) == [0]
    # The resource tracker of multiprocessing exits only after the parent, so allow a
    # few seconds for the session to empty.
    deadline = time.monotonic() + 10
    while living_processes_in_session(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert living_processes_in_session(process.pid) == []
