"""Measurements behind ``bench_core.py``: model and optimizer speed as ratios to numpy.

Every measurement times its subject and a plain numpy reference in alternating rounds
within one process, so that a busy or throttled machine slows both alike, and reports
the subject's rate as a fraction of the reference's. Import this module only after the
BLAS thread count is set, because OpenBLAS reads it when numpy is first imported.
"""

import datetime
import os
import platform
import time

import numpy as np

from sims.data import load_corpus, sample_batch
from sims.layers import Linear
from sims.runs import RunConfig, build_ensemble

MODEL_WIDTH = 1024
MODEL_DEPTH = 16
MODEL_CONTEXT = 8
MODEL_BATCHES = (64, 256)
DTYPES = ("float32", "float64")

MODEL_TARGET = 0.6
"""Minimum model-to-matmul GFLOP/s ratio at ``MODEL_TARGET_BATCH``."""

MODEL_TARGET_BATCH = 256

ADAMW_TARGET = 0.5
"""Minimum AdamW-to-copy bandwidth ratio."""

ADAMW_ARRAYS_MOVED = 7
"""Arrays that one AdamW update moves: parameter, gradient and both moments read,
parameter and both moments written."""


def machine_description():
    """Describe the CPU, the core count, the C library, Python and numpy's BLAS build.

    Returns
    -------
    dict
        ``cpu``: the ``model name`` of ``/proc/cpuinfo``, or ``platform.processor()``
        where that file is missing. ``cores``: ``os.cpu_count()``. ``usable_cores``: the
        CPU affinity of this process where the platform reports it. ``libc``: name and
        version. ``python`` and ``numpy``: versions. ``blas``: name, version and
        configuration string from ``numpy.show_config``, empty before numpy 1.25.
    """
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    usable_cores = os.cpu_count()
    if hasattr(os, "sched_getaffinity"):
        usable_cores = len(os.sched_getaffinity(0))

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except TypeError:
        # Before numpy 1.25, show_config only prints and takes no mode.
        blas = {}

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable_cores,
        "libc": " ".join(platform.libc_ver()).strip(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": {
            "name": blas.get("name"),
            "version": blas.get("version"),
            "configuration": blas.get("openblas configuration"),
        },
    }


def timestamp():
    """Return the current UTC time in ISO 8601 form, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _seconds(function, calls=1):
    """Return the wall time and the process CPU time of ``calls`` calls of ``function``."""
    wall_start = time.perf_counter()
    cpu_start = time.process_time()
    for _ in range(calls):
        function()
    return time.perf_counter() - wall_start, time.process_time() - cpu_start


def measure_rounds(reference, subject, reference_calls, rounds):
    """Time ``reference_calls`` calls of ``reference``, then one of ``subject``, per round.

    Choose ``reference_calls`` so that both take about as long, because other processes
    on the machine then slow both alike. A short reference would more often run alone.

    Returns
    -------
    dict
        ``"wall"`` and ``"cpu"``: for each clock, a pair of lists of seconds per round,
        reference first.
    """
    reference()
    subject()

    times = {"wall": ([], []), "cpu": ([], [])}
    for _ in range(rounds):
        reference_wall, reference_cpu = _seconds(reference, reference_calls)
        subject_wall, subject_cpu = _seconds(subject)
        times["wall"][0].append(reference_wall)
        times["wall"][1].append(subject_wall)
        times["cpu"][0].append(reference_cpu)
        times["cpu"][1].append(subject_cpu)
    return times


def summarize_rounds(times, reference_work, subject_work):
    """Turn per-round times into rates and ratios, by wall time and by CPU time.

    Each round gives one ratio of the subject's rate to the reference's, and the median
    of these ratios is the result. The CPU-time ratio leaves out the time that other processes held
    the cores, but it counts the idle spinning of BLAS worker threads, so it is
    meaningful with one BLAS thread only.

    Parameters
    ----------
    times : dict
        As returned by :func:`measure_rounds`.
    reference_work, subject_work : float
        Work (FLOPs or bytes) of the reference calls of one round and of one subject call.

    Returns
    -------
    dict
        For each clock: the median rates ``reference_rate`` and ``subject_rate`` (work per
        second), the median ``ratio``, and ``round_ratios``, ``reference_seconds`` and
        ``subject_seconds`` per round.
    """
    summary = {}
    for clock, (reference_seconds, subject_seconds) in times.items():
        reference_rates = [reference_work / seconds for seconds in reference_seconds]
        subject_rates = [subject_work / seconds for seconds in subject_seconds]
        round_ratios = [subject / reference for subject, reference in zip(subject_rates, reference_rates)]
        summary[clock] = {
            "reference_rate": float(np.median(reference_rates)),
            "subject_rate": float(np.median(subject_rates)),
            "ratio": float(np.median(round_ratios)),
            "round_ratios": round_ratios,
            "reference_seconds": list(reference_seconds),
            "subject_seconds": list(subject_seconds),
        }
    return summary


def count_pass_flops(model, batch):
    """Count the FLOPs of one forward and backward pass from the model's matrix products.

    A ``B x n`` by ``n x m`` product costs ``2 B n m``. Each dense layer costs that in the
    forward pass and twice that in the backward pass (weight gradient and input
    gradient). The read-in counts as the product of the one-hot codes, ``B x (P V)``, with
    its ``P V x N`` matrix: once forward and once for its weight gradient, since no input
    gradient exists. Norms, activations, the loss and the optimizer add no FLOPs here.

    Parameters
    ----------
    model : sims.models.ResidualMLP
    batch : int
        Examples per member; the count is for one member.

    Returns
    -------
    int
    """
    rows, width = model.embedding.weight.shape
    flops = 2 * (2 * batch * rows * width)

    linears = [model.unembedding]
    for block in model.blocks:
        linears.extend(layer for layer in block.branch.layers if isinstance(layer, Linear))
    for linear in linears:
        fan_in, fan_out = linear.weight.shape
        flops += 3 * (2 * batch * fan_in * fan_out)
    return flops


def measure_model(dtype, batch, rounds):
    """Measure the residual MLP's forward and backward pass against ``np.matmul``.

    The model is the default :class:`sims.runs.RunConfig` at width ``MODEL_WIDTH``, depth
    ``MODEL_DEPTH`` and context ``MODEL_CONTEXT`` (GELU, biases, LayerNorm, one ensemble
    member) on the corpus vocabulary. Each round times one call of
    :meth:`~sims.models.ResidualMLP.loss_and_gradients` and as many products of a
    ``(1, B, N)`` by a ``(1, N, N)`` array, the shape of the model's hidden layers with
    its ensemble axis, as add up to the model's FLOPs.

    Parameters
    ----------
    dtype : {"float32", "float64"}
    batch : int
    rounds : int

    Returns
    -------
    dict
        The shape and ``flops_per_pass``. By wall time: the median rates in GFLOP/s
        (``matmul_gflops``, ``model_gflops``) and the median ``ratio`` of model to
        matmul. ``cpu_ratio`` is that ratio by CPU time. ``target`` is ``MODEL_TARGET``
        at ``MODEL_TARGET_BATCH`` and None otherwise. ``wall`` and ``cpu`` hold the
        per-round times and ratios of each clock.
    """
    config = RunConfig(width=MODEL_WIDTH, depth=MODEL_DEPTH, context=MODEL_CONTEXT,
                       batch_size=batch, dtype=dtype)
    ensemble = build_ensemble([config])
    model = ensemble.model
    corpus = load_corpus()
    tokens, targets = sample_batch(corpus.train, config.context, batch, ensemble.data_generators)
    flops = count_pass_flops(model, batch)

    rng = np.random.default_rng(0)
    activations = rng.standard_normal((1, batch, MODEL_WIDTH)).astype(dtype)
    weight = rng.standard_normal((1, MODEL_WIDTH, MODEL_WIDTH)).astype(dtype)
    matmul_flops = 2 * batch * MODEL_WIDTH * MODEL_WIDTH

    def run_matmul():
        np.matmul(activations, weight)

    def run_model():
        model.loss_and_gradients(tokens, targets)

    matmul_calls = max(1, round(flops / matmul_flops))
    times = measure_rounds(run_matmul, run_model, matmul_calls, rounds)
    summary = summarize_rounds(times, matmul_calls * matmul_flops, flops)
    return {
        "dtype": dtype,
        "batch": batch,
        "width": MODEL_WIDTH,
        "depth": MODEL_DEPTH,
        "context": MODEL_CONTEXT,
        "vocab_size": corpus.vocab_size,
        "flops_per_pass": flops,
        "matmul_gflops": summary["wall"]["reference_rate"] / 1e9,
        "model_gflops": summary["wall"]["subject_rate"] / 1e9,
        "ratio": summary["wall"]["ratio"],
        "cpu_ratio": summary["cpu"]["ratio"],
        "target": MODEL_TARGET if batch == MODEL_TARGET_BATCH else None,
        "wall": summary["wall"],
        "cpu": summary["cpu"],
    }


def measure_adamw(dtype, rounds):
    """Measure one :meth:`sims.optim.AdamW.step` against ``np.copyto`` of as many elements.

    The parameters are those of the width-``MODEL_WIDTH``, depth-``MODEL_DEPTH`` residual
    MLP with the default AdamW settings of :class:`sims.runs.RunConfig` (weight decay on,
    one member). Their gradients are fixed normal draws of scale 1e-3. The update is
    credited with ``ADAMW_ARRAYS_MOVED`` times the parameters' bytes and the copy with
    twice its array's bytes (one read, one write). Each round times one update and as
    many copies as move about as many bytes.

    Parameters
    ----------
    dtype : {"float32", "float64"}
    rounds : int

    Returns
    -------
    dict
        ``parameters`` (element count) and ``bytes_per_step``. By wall time: the median
        bandwidths in GB/s (``copy_gbps``, ``adamw_gbps``) and the median ``ratio`` of
        AdamW to copy. ``cpu_ratio`` is that ratio by CPU time, and ``target`` is
        ``ADAMW_TARGET``. ``wall`` and ``cpu`` hold the per-round times and ratios of
        each clock.
    """
    config = RunConfig(width=MODEL_WIDTH, depth=MODEL_DEPTH, context=MODEL_CONTEXT, dtype=dtype)
    ensemble = build_ensemble([config])
    optimizer = ensemble.optimizer
    rng = np.random.default_rng(0)
    for parameter in optimizer.parameters:
        parameter.grad = (1e-3 * rng.standard_normal(parameter.value.shape)).astype(dtype)

    elements = sum(parameter.value.size for parameter in optimizer.parameters)
    itemsize = np.dtype(dtype).itemsize
    adamw_bytes = ADAMW_ARRAYS_MOVED * elements * itemsize
    source = np.ones(elements, dtype=dtype)
    destination = np.empty_like(source)
    copy_bytes = 2 * source.nbytes

    def run_copy():
        np.copyto(destination, source)

    def run_adamw():
        optimizer.step()

    copy_calls = max(1, round(adamw_bytes / copy_bytes))
    times = measure_rounds(run_copy, run_adamw, copy_calls, rounds)
    summary = summarize_rounds(times, copy_calls * copy_bytes, adamw_bytes)
    return {
        "dtype": dtype,
        "parameters": elements,
        "bytes_per_step": adamw_bytes,
        "copy_gbps": summary["wall"]["reference_rate"] / 1e9,
        "adamw_gbps": summary["wall"]["subject_rate"] / 1e9,
        "ratio": summary["wall"]["ratio"],
        "cpu_ratio": summary["cpu"]["ratio"],
        "target": ADAMW_TARGET,
        "wall": summary["wall"],
        "cpu": summary["cpu"],
    }
