"""Measure the simulator's core speed as ratios to plain numpy on the same machine.

Run from the repository root::

    python benchmarks/bench_core.py [--threads 1] [--quick] [--json results.json]
                                    [--wall-figures] [--wall-tests]

Two ratios are measured in one process:

* the residual MLP's forward and backward pass (width 1024, depth 16, batch 64 and 256,
  float32 and float64) in GFLOP/s, as a fraction of ``np.matmul`` on its hidden-layer
  shape (target: at least 0.6 at batch 256);
* one AdamW update of a parameter set of that model's size in GB/s, as a fraction of
  ``np.copyto`` of as many elements (target: at least 0.5).

``--wall-figures`` and ``--wall-tests`` also time ``python -m paper_figures all --scale
quick --no-cache`` and the test suite (``python -m pytest`` with
``HYPOTHESIS_PROFILE=ci``) as subprocesses, which inherit the thread settings. Both take
long and are off by default. A command that exits with a non-zero status is reported as
not available, with its last line of output.
"""

import argparse
import json
import os
import pathlib
import shlex
import subprocess
import sys
import tempfile
import time

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_ROUNDS = 7
QUICK_ROUNDS = 3


def positive_int(text):
    """Parse a command-line value as a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def benchmark_parser(description, quick_rounds, default_rounds,
                     threads_help="BLAS threads, set before numpy is imported (default 1)"):
    """Return a parser with the options every benchmark shares: threads, quick and json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=positive_int, default=1, help=threads_help)
    parser.add_argument("--quick", action="store_true",
                        help=f"{quick_rounds} timing round(s) per case instead of {default_rounds}")
    parser.add_argument("--json", type=pathlib.Path, metavar="PATH",
                        help="write every measurement, the machine and the date to this JSON file")
    return parser


def parse_arguments(argv=None):
    """Parse the command line; invalid values exit with status 2 and a one-line message."""
    parser = benchmark_parser(
        "Measure the residual MLP and the AdamW update as fractions of numpy's matmul and "
        "copy speed on this machine.", QUICK_ROUNDS, DEFAULT_ROUNDS)
    parser.add_argument("--wall-figures", action="store_true",
                        help="also time 'python -m paper_figures all --scale quick --no-cache'")
    parser.add_argument("--wall-tests", action="store_true",
                        help="also time 'python -m pytest' with HYPOTHESIS_PROFILE=ci")
    return parser.parse_args(argv)


def set_blas_threads(threads):
    """Set the BLAS thread count for this process and its subprocesses.

    Raises
    ------
    RuntimeError
        If numpy is already imported, because OpenBLAS has then read its thread count.
    """
    if "numpy" in sys.modules:
        raise RuntimeError("numpy was imported before the BLAS thread count was set; "
                           "run the benchmark as a script")
    for variable in BLAS_THREAD_VARIABLES:
        os.environ[variable] = str(threads)


def time_command(command, extra_environment):
    """Run ``command`` from the repository root and return its wall time.

    Returns
    -------
    dict
        ``command``, ``status`` (``"ok"`` or ``"not available"``), ``seconds``,
        ``returncode`` and, when not available, ``reason``: the last line of output.
    """
    environment = dict(os.environ, **extra_environment)
    start = time.perf_counter()
    try:
        completed = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True,
                                   text=True, check=False)
    except OSError as error:
        return {"command": shlex.join(command), "status": "not available", "seconds": None,
                "returncode": None, "reason": str(error)}
    seconds = time.perf_counter() - start

    record = {"command": shlex.join(command), "status": "ok", "seconds": seconds,
              "returncode": completed.returncode}
    if completed.returncode != 0:
        lines = (completed.stderr.strip() or completed.stdout.strip() or "no output").splitlines()
        record.update(status="not available", seconds=None, reason=lines[-1])
    return record


def time_figures():
    """Time ``paper_figures all --scale quick --no-cache`` into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-figures-") as folder:
        command = [sys.executable, "-m", "paper_figures", "all", "--scale", "quick",
                   "--no-cache", "--out", folder]
        return time_command(command, {"MPLBACKEND": "Agg"})


def time_tests():
    """Time ``python -m pytest`` with the hypothesis profile and plot backend of the CI."""
    command = [sys.executable, "-m", "pytest"]
    return time_command(command, {"HYPOTHESIS_PROFILE": "ci", "MPLBACKEND": "Agg"})


def format_target(ratio, target):
    if target is None:
        return "-"
    verdict = "met" if ratio >= target else "MISSED"
    return f">= {target} {verdict}"


def print_model_table(records):
    print("Residual MLP forward + backward vs np.matmul (B x N times N x N)")
    print(f"{'dtype':8} {'batch':>5} {'matmul GFLOP/s':>15} {'model GFLOP/s':>14} "
          f"{'ratio':>6} {'round range':>12} {'CPU ratio':>9}  target")
    for record in records:
        rounds = record["wall"]["round_ratios"]
        print(f"{record['dtype']:8} {record['batch']:5d} {record['matmul_gflops']:15.1f} "
              f"{record['model_gflops']:14.1f} {record['ratio']:6.3f} "
              f"{min(rounds):5.3f}-{max(rounds):5.3f} {record['cpu_ratio']:9.3f}  "
              f"{format_target(record['ratio'], record['target'])}")


def print_adamw_table(records):
    print("AdamW update (7 arrays moved) vs np.copyto (2 arrays moved)")
    print(f"{'dtype':8} {'elements':>10} {'copy GB/s':>10} {'AdamW GB/s':>11} "
          f"{'ratio':>6} {'round range':>12} {'CPU ratio':>9}  target")
    for record in records:
        rounds = record["wall"]["round_ratios"]
        print(f"{record['dtype']:8} {record['parameters']:10d} {record['copy_gbps']:10.1f} "
              f"{record['adamw_gbps']:11.1f} {record['ratio']:6.3f} "
              f"{min(rounds):5.3f}-{max(rounds):5.3f} {record['cpu_ratio']:9.3f}  "
              f"{format_target(record['ratio'], record['target'])}")


def print_wall_times(wall):
    print("Wall times")
    for name, record in wall.items():
        if record["status"] == "ok":
            print(f"{name:8} {record['seconds']:9.1f} s  {record['command']}")
        elif record["returncode"] is None:
            print(f"{name:8} not available (the command did not start): {record['reason']}")
        else:
            print(f"{name:8} not available (exit status {record['returncode']}): {record['reason']}")


def main(argv=None):
    """Run every measurement, print the tables, write the JSON file and return 0."""
    arguments = parse_arguments(argv)
    set_blas_threads(arguments.threads)

    # Imported here, after the thread count is set, because OpenBLAS reads it once.
    import core_measurements as measurements
    from sims.allocator import retain_freed_memory

    # Sweeps set this too (sims.sweep.run_ensembles); the benchmark measures that setting.
    retain_freed_memory()

    rounds = QUICK_ROUNDS if arguments.quick else DEFAULT_ROUNDS
    results = {
        "date": measurements.timestamp(),
        "machine": measurements.machine_description(),
        "threads": arguments.threads,
        "rounds": rounds,
    }
    print(f"{results['date']}  {results['machine']['cpu']}, {results['machine']['usable_cores']} "
          f"usable cores, {arguments.threads} BLAS thread(s), {rounds} rounds per case\n")

    results["model"] = [
        measurements.measure_model(dtype, batch, rounds)
        for dtype in measurements.DTYPES
        for batch in measurements.MODEL_BATCHES
    ]
    print_model_table(results["model"])
    print()

    results["adamw"] = [measurements.measure_adamw(dtype, rounds) for dtype in measurements.DTYPES]
    print_adamw_table(results["adamw"])

    wall = {}
    if arguments.wall_figures:
        wall["figures"] = time_figures()
    if arguments.wall_tests:
        wall["tests"] = time_tests()
    if wall:
        print()
        print_wall_times(wall)
    results["wall"] = wall

    if arguments.json is not None:
        arguments.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
