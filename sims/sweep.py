"""Run many configurations as ensembles, keeping every finished run in the cache.

Independent ensembles can run in worker processes (``workers`` of :func:`run_ensembles`,
or the environment variable ``DEPTHCHECK_WORKERS``). Each worker is a fresh interpreter
started with one BLAS thread, and the parent stores each ensemble's results as soon as it
finishes, in the order that the ensembles finish. The workers stay up between sweeps
until the process exits or :func:`shutdown_workers` ends them.
"""

import contextlib
import json
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from tqdm import tqdm

from sims.allocator import retain_freed_memory

from sims.runs import table_fingerprint

WORKERS_VARIABLE = "DEPTHCHECK_WORKERS"
"""Environment variable with the default number of worker processes of a sweep."""

BLAS_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
"""Thread-count variables of OpenBLAS, OpenMP, MKL, BLIS and Apple's Accelerate, which the
BLAS library reads once, when numpy is first imported."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One run of one measurement: the run, the table it trains with and the settings.

    Parameters
    ----------
    run : sims.runs.RunConfig
    table : theory.parameterization.ParameterizationTable
        Alpha substituted.
    settings : dict
        JSON-ready settings of the measurement (steps, probe size ...).
    """

    run: object
    table: object
    settings: dict = field(default_factory=dict)

    def cache_config(self):
        return {"run": self.run.to_dict(), "table": table_fingerprint(self.table),
                "settings": self.settings}

    def ensemble_key(self):
        return self.run.ensemble_key() + json.dumps(
            {"table": table_fingerprint(self.table), "settings": self.settings}, sort_keys=True)


class SweepError(RuntimeError):
    """An ensemble of a sweep failed in a worker process.

    The worker's exception, with its traceback, is the ``__cause__``.

    Attributes
    ----------
    kind : str
        Cache namespace of the measurement.
    jobs : list of Job
        The runs of the failed ensemble.
    """

    def __init__(self, kind, jobs, error):
        self.kind = kind
        self.jobs = list(jobs)
        super().__init__(f"{kind}: an ensemble failed in a worker process with "
                         f"{type(error).__name__}: {error}; its runs: {describe_jobs(jobs)}")


def describe_jobs(jobs):
    """Return one line that names the runs of one ensemble.

    The shared configuration comes first, then each run's learning rate, init std and
    seed index, the fields in which members of one ensemble may differ.
    """
    run = jobs[0].run
    shared = f"{run.model}, width {run.width}, depth {run.depth}, {run.parameterization}"
    if run.alpha is not None:
        shared += f" (alpha {run.alpha:g})"
    shared += (f", {run.optimizer}, {run.dtype}, base_seed {run.base_seed}, "
               f"settings {json.dumps(jobs[0].settings, sort_keys=True)}")
    members = "; ".join(f"lr {job.run.lr:g}, init_std {job.run.init_std:g}, "
                        f"seed_index {job.run.seed_index}" for job in jobs)
    return f"{shared}; {members}"


def worker_count(workers=None):
    """Return the number of worker processes of a sweep.

    Parameters
    ----------
    workers : int, optional
        By default the value of ``DEPTHCHECK_WORKERS``, or 1 when it is unset or empty.

    Raises
    ------
    ValueError
        If the number, given or from the environment, is not an integer of at least 1.
    """
    if workers is None:
        text = os.environ.get(WORKERS_VARIABLE, "").strip()
        if not text:
            return 1
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise ValueError(f"invalid {WORKERS_VARIABLE}={text!r}: set it to an integer of "
                             f"at least 1 (the number of worker processes), or unset it")
        return int(text)

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"invalid number of workers {workers!r}: give an integer of at least 1")
    return workers


def run_ensembles(kind, configs, run_ensemble, cache, max_members=16, description=None,
                  workers=None):
    """Return one result per configuration, running only those not in the cache.

    Missing runs are grouped by :meth:`Job.ensemble_key` into ensembles of
    at most ``max_members``; ``run_ensemble(group)`` trains one group and returns one
    result per member. Each result is stored as soon as its ensemble finishes, so an
    interrupted sweep loses at most the ensembles in progress.

    With more than one worker, the ensembles run in that many worker processes, fresh
    interpreters (the ``spawn`` start method) with one BLAS thread each, kept for later
    sweeps. Each worker trains one ensemble at a time, so peak memory grows with the
    number of workers. A worker computes exactly what this process would: the seeds
    come from the configurations, not from the process. NOTE: results equal the
    single-process ones bit for bit only where this process uses one BLAS thread as
    well, because a BLAS may sum in another order with more threads.

    Parameters
    ----------
    kind : str
        Cache namespace of the measurement, e.g. ``"coord-check"``.
    configs : list of Job
    run_ensemble : callable
        ``list of configs -> list of results`` (dicts of arrays and JSON values). With
        workers it must be a module-level function, so that it can be pickled.
    cache : sims.cache.RunCache
    max_members : int
    description : str, optional
        Label of the progress bar on stderr.
    workers : int, optional
        Worker processes; by default ``DEPTHCHECK_WORKERS``, else 1. With 1, or with at
        most one ensemble to run, everything runs in this process.

    Returns
    -------
    list of dict
        In the order of ``configs``.

    Raises
    ------
    ValueError
        If the number of workers is invalid.
    SweepError
        If an ensemble fails in a worker. The ensembles still waiting in this process
        are cancelled. Those running, and up to ``workers + 1`` already queued for the
        workers, finish and are stored first. When the ensembles run in this process,
        the error of ``run_ensemble`` propagates unchanged.
    KeyboardInterrupt
        On Ctrl-C. The worker processes are ended, and every finished ensemble stays in
        the cache.
    """
    workers = worker_count(workers)
    # Training steps free and reallocate megabytes of activations and gradients; the
    # process keeps that memory instead of faulting it in again (see sims.allocator).
    retain_freed_memory()
    results = [cache.load(kind, config.cache_config()) for config in configs]
    missing = {}
    for index, (config, result) in enumerate(zip(configs, results)):
        if result is None:
            missing.setdefault(config.ensemble_key(), []).append(index)

    groups = []
    for indices in missing.values():
        for start in range(0, len(indices), max_members):
            groups.append(indices[start:start + max_members])

    # The bar counts every run of the sweep, so a resumed sweep starts at the number of
    # runs already in the cache.
    cached = len(configs) - sum(len(g) for g in groups)
    with tqdm(total=len(configs), initial=cached, desc=description or kind, unit="run",
              disable=None, leave=False) as bar:

        def store(indices, group_results):
            for index, result in zip(indices, group_results):
                cache.store(kind, configs[index].cache_config(), result)
                results[index] = result
            bar.update(len(indices))

        if workers == 1 or len(groups) < 2:
            for indices in groups:
                store(indices, run_ensemble([configs[i] for i in indices]))
        else:
            _run_in_workers(kind, configs, groups, run_ensemble, workers, store)
    return results


def _run_in_workers(kind, configs, groups, run_ensemble, workers, store):
    """Run each group of indices in the worker pool and ``store`` each result as it arrives."""
    # Largest first, so that the longest ensembles do not start last while other
    # workers sit idle. The order changes no result.
    groups = sorted(groups, key=lambda indices: _estimated_work([configs[i] for i in indices]),
                    reverse=True)

    # The pool starts its processes as tasks are submitted, inside this environment.
    with _worker_environment():
        try:
            futures = _submit(workers, run_ensemble, configs, groups)
            failure = _collect(kind, configs, futures, store)
        except BaseException:
            _POOL.stop()
            raise

    if failure is not None:
        jobs, error = failure
        if isinstance(error, BrokenProcessPool):
            _POOL.stop()
        raise SweepError(kind, jobs, error) from error


def _submit(workers, run_ensemble, configs, groups):
    """Submit every group to the pool; return a dict from future to group of indices."""

    def submit_all(executor):
        return {executor.submit(run_ensemble, [configs[i] for i in indices]): indices
                for indices in groups}

    try:
        return submit_all(_POOL.executor(workers))
    except BrokenProcessPool:
        # A worker of the kept pool died since the last sweep (killed for memory, for
        # instance), and a broken pool accepts no task. A new pool takes them all.
        _POOL.stop()
        return submit_all(_POOL.executor(workers))


def _collect(kind, configs, futures, store):
    """Store each finished ensemble; return the jobs and error of the first failure, or None.

    After a failure, the futures still waiting in this process are cancelled. Those that
    the pool has already passed to its call queue cannot be cancelled, so they run, and
    they are waited for and stored. Later failures are logged.
    """
    failure = None
    for future in as_completed(futures):
        if future.cancelled():
            continue
        indices = futures[future]
        error = future.exception()
        if error is None:
            store(indices, future.result())
            continue

        jobs = [configs[i] for i in indices]
        if failure is None:
            failure = (jobs, error)
            for other in futures:
                other.cancel()
        else:
            logger.error("%s: another ensemble failed in a worker process with %s: %s; "
                         "its runs: %s", kind, type(error).__name__, error, describe_jobs(jobs))
    return failure


def _estimated_work(jobs):
    """Return a number proportional to an ensemble's work per training step, roughly."""
    run = jobs[0].run
    examples = run.batch_size * (run.seq_len if run.model == "transformer" else 1)
    return len(jobs) * run.depth * run.width**2 * run.hidden_multiple * examples


@contextlib.contextmanager
def _worker_environment():
    """Set the environment that worker processes start with, and restore it afterwards.

    A spawned worker imports numpy while it unpickles its first task, before any
    initializer could set a variable, so the variables must be in this process's
    environment when the workers start. ``DEPTHCHECK_WORKERS=1`` keeps a sweep inside a
    worker from starting workers of its own.
    """
    settings = dict.fromkeys(BLAS_THREAD_VARIABLES, "1")
    settings[WORKERS_VARIABLE] = "1"
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _initialize_worker():
    """Prepare a worker process: its own malloc thresholds, and Ctrl-C left to the parent."""
    retain_freed_memory()
    # Ctrl-C reaches every process of the terminal's foreground group. The parent stops
    # the workers, so that idle workers do not die with tracebacks of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _WorkerPool:
    """The process pool of this process's sweeps, kept between sweeps.

    Starting a worker (a fresh interpreter that imports numpy, scipy and sympy) costs
    about a second of CPU time, so one pool serves every sweep with the same number of
    workers. Its processes exit with this process, or with :func:`shutdown_workers`.
    """

    def __init__(self):
        self._executor = None
        self._workers = None

    def executor(self, workers):
        """Return the pool of at most ``workers`` processes, replacing one of another size.

        The pool starts a process for each submitted task until it has ``workers``.
        """
        if self._executor is not None and self._workers != workers:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_initialize_worker)
            self._workers = workers
        return self._executor

    def shutdown(self):
        """Let the workers finish their tasks and exit."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def stop(self):
        """Cancel the queued tasks and end the worker processes at once."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        terminate_workers = getattr(executor, "terminate_workers", None)
        if terminate_workers is not None:
            terminate_workers()
            return
        # ProcessPoolExecutor has no public way to end running calls before Python 3.14
        # (terminate_workers); its _processes maps process ids to the worker processes.
        for process in list((executor._processes or {}).values()):
            process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)


_POOL = _WorkerPool()


def shutdown_workers():
    """End the worker processes that sweeps keep between runs, releasing their memory.

    The next sweep with workers starts new ones. Call it only between sweeps.
    """
    _POOL.shutdown()
