"""Measure the MixiT signal-propagation simulations: Monte Carlo batching, draws, the SDE.

Run from the repository root::

    python benchmarks/bench_mixit.py [--threads 1] [--quick] [--json results.json]
                                     [--bit-generator PCG64]

Three measurements in one process, in float64 and float32:

* **Monte Carlo**: :func:`sims.idealized_block.simulate_idealized_block` for 1000
  independent networks of width 64, depth 64 and 8 tokens, with ``lambda**2 = 1/2`` and
  ``V`` recorded after every layer. It runs once batched on the ensemble axis and once as
  a plain loop that calls it for one network at a time. Both sides draw from one generator, and each round
  runs both, so other load on the machine slows both alike. The speed-up is the loop's
  time over the batched time, the median over rounds.
* **Draws**: within the same runs, a wrapper around the generator times every call that
  draws random numbers and counts the numbers drawn. The share is the draw time over the
  run's time. The achieved rate (numbers per second while drawing) is compared with
  numpy's raw rate: ``Generator.standard_normal(out=buffer)`` on a buffer of the size of
  one chunk of value matrices, timed in the same rounds for as long as the batched run
  draws.
* **SDE**: :func:`sims.sde.solve_matrix_sde` with the MixiT drift and diffusion of
  :mod:`sims.mixit_coefficients`, for 1000 paths of ``3 x 3`` and of ``8 x 8`` matrices
  from ``V_0 = (I + 1 1^T) / 2`` to time 0.25. The rate is path-steps per second.

``--threads`` sets the BLAS threads before numpy is imported (default 1).
``--bit-generator`` chooses the numpy bit generator of every timed draw (default PCG64).
"""

import json
import math
import os
import sys
import time

from bench_core import benchmark_parser, set_blas_threads

DEFAULT_ROUNDS = 3
QUICK_ROUNDS = 1

MEMBERS = 1000
WIDTH = 64
DEPTH = 64
TOKENS = 8
SKIP_WEIGHT = math.sqrt(0.5)

SDE_PATHS = 1000
SDE_DURATION = 0.25
"""Depth-to-width ratio ``L / n`` integrated. 12 layers of width 64 give about 0.19."""
SDE_CASES = ((3, 100), (8, 25))
"""``(T, steps)`` of each SDE measurement."""

DTYPES = ("float64", "float32")

BIT_GENERATORS = ("PCG64", "PCG64DXSM", "SFC64", "Philox", "MT19937")
"""numpy bit generators that ``--bit-generator`` accepts. ``numpy.random.default_rng`` uses PCG64."""


def parse_arguments(argv=None):
    """Parse the command line; invalid values exit with status 2 and a one-line message."""
    parser = benchmark_parser(
        "Measure the MixiT Monte Carlo batched against a loop over networks, its share of "
        "time in random draws, and the SDE solver's rate.", QUICK_ROUNDS, DEFAULT_ROUNDS)
    parser.add_argument("--bit-generator", choices=BIT_GENERATORS, default="PCG64",
                        help="numpy bit generator behind every timed draw (default PCG64, "
                             "the one numpy.random.default_rng uses)")
    return parser.parse_args(argv)


def make_generator(bit_generator, seed):
    """Return a ``numpy.random.Generator`` on the named bit generator, seeded with ``seed``."""
    import numpy as np

    return np.random.Generator(getattr(np.random, bit_generator)(seed))


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return 0.5 * (ordered[middle - 1] + ordered[middle])


class TimedGenerator:
    """A ``numpy.random.Generator`` wrapper that times its draws and counts the numbers drawn.

    The simulations accept it in place of a generator, because they only call
    ``standard_normal`` and ``random``. Each call adds two ``time.perf_counter`` readings.
    """

    def __init__(self, generator):
        self.generator = generator
        self.seconds = 0.0
        self.numbers = 0

    def _timed(self, method, *args, **kwargs):
        start = time.perf_counter()
        result = method(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        self.numbers += result.size
        return result

    def standard_normal(self, *args, **kwargs):
        return self._timed(self.generator.standard_normal, *args, **kwargs)

    def random(self, *args, **kwargs):
        return self._timed(self.generator.random, *args, **kwargs)


def monte_carlo_sides(dtype):
    """Return the batched and the looped Monte Carlo as functions of a generator."""
    import numpy as np

    from sims.idealized_block import simulate_idealized_block

    tokens = np.random.default_rng(0).standard_normal((MEMBERS, TOKENS, WIDTH))

    def batched(generator):
        simulate_idealized_block(tokens, DEPTH, SKIP_WEIGHT, generator, dtype=dtype)

    def looped(generator):
        for member in range(MEMBERS):
            simulate_idealized_block(tokens[member:member + 1], DEPTH, SKIP_WEIGHT, generator,
                                     dtype=dtype)

    return batched, looped


def raw_draw_rate(generator, dtype, numbers):
    """Return numbers per second of ``standard_normal(out=buffer)`` over about ``numbers`` numbers.

    The buffer has the size of one chunk of value matrices in the batched simulation.
    """
    import numpy as np

    from sims.idealized_block import CHUNK_ELEMENTS

    chunk_members = max(1, min(MEMBERS, CHUNK_ELEMENTS // (WIDTH * WIDTH)))
    buffer = np.empty(chunk_members * WIDTH * WIDTH, dtype=dtype)
    calls = max(1, round(numbers / buffer.size))
    start = time.perf_counter()
    for _ in range(calls):
        generator.standard_normal(out=buffer, dtype=dtype)
    return calls * buffer.size / (time.perf_counter() - start)


def measure_monte_carlo(dtype, rounds, bit_generator):
    """Time the batched and the looped Monte Carlo and the raw draw rate in alternating rounds.

    Returns
    -------
    dict
        The setting, and per side (``batched``, ``looped``) the seconds, draw seconds and
        numbers drawn of each round. ``speedup`` is the median of looped over batched
        seconds and ``draw_share`` per side the median of draw seconds over run seconds.
        ``achieved_rate`` and ``raw_rate`` are medians in numbers per second, and
        ``rate_ratio`` is the median of their per-round ratios. ``load_averages`` lists
        the 1-minute load average at the start of each round.
    """
    import numpy as np

    from sims.idealized_block import simulate_idealized_block

    batched, looped = monte_carlo_sides(dtype)
    # A short run first, so that neither side pays for first calls into numpy and BLAS.
    simulate_idealized_block(np.ones((MEMBERS // 10, TOKENS, WIDTH)), 2, SKIP_WEIGHT,
                             np.random.default_rng(1), dtype=dtype)

    record = {side: {"seconds": [], "draw_seconds": [], "numbers": []}
              for side in ("batched", "looped")}
    raw_rates, loads = [], []
    for round_index in range(rounds):
        loads.append(os.getloadavg()[0])
        for side, run in (("batched", batched), ("looped", looped)):
            generator = TimedGenerator(make_generator(bit_generator, [2, round_index]))
            start = time.perf_counter()
            run(generator)
            record[side]["seconds"].append(time.perf_counter() - start)
            record[side]["draw_seconds"].append(generator.seconds)
            record[side]["numbers"].append(generator.numbers)
        raw_rates.append(raw_draw_rate(make_generator(bit_generator, [3, round_index]), dtype,
                                       record["batched"]["numbers"][-1]))

    achieved = [numbers / seconds for numbers, seconds in
                zip(record["batched"]["numbers"], record["batched"]["draw_seconds"])]
    return {
        "dtype": dtype,
        "bit_generator": bit_generator,
        "members": MEMBERS,
        "width": WIDTH,
        "depth": DEPTH,
        "tokens": TOKENS,
        **record,
        "speedup": median([loop / batch for loop, batch in
                           zip(record["looped"]["seconds"], record["batched"]["seconds"])]),
        "draw_share": {side: median([draw / total for draw, total in
                                     zip(record[side]["draw_seconds"], record[side]["seconds"])])
                       for side in record},
        "achieved_rate": median(achieved),
        "raw_rate": median(raw_rates),
        "rate_ratio": median([ours / raw for ours, raw in zip(achieved, raw_rates)]),
        "load_averages": loads,
    }


def measure_sde(dtype, size, steps, rounds, bit_generator):
    """Time :func:`sims.sde.solve_matrix_sde` with the MixiT coefficients.

    Returns
    -------
    dict
        The setting, the seconds of each round, ``path_steps_per_second`` (median) and the
        number of projections in the last round.
    """
    from functools import partial

    import numpy as np

    from sims.mixit_coefficients import idealized_block_covariance, idealized_block_drift
    from sims.sde import solve_matrix_sde

    drift = partial(idealized_block_drift, skip_weight=SKIP_WEIGHT)
    covariance = partial(idealized_block_covariance, skip_weight=SKIP_WEIGHT)
    initial = 0.5 * np.eye(size) + 0.5
    solve_matrix_sde(initial, drift, covariance, SDE_DURATION, 1, np.random.default_rng(0),
                     paths=SDE_PATHS, dtype=dtype)

    seconds, projections = [], 0
    for round_index in range(rounds):
        start = time.perf_counter()
        paths = solve_matrix_sde(initial, drift, covariance, SDE_DURATION, steps,
                                 make_generator(bit_generator, [4, round_index]), paths=SDE_PATHS,
                                 record_every=steps, dtype=dtype)
        seconds.append(time.perf_counter() - start)
        projections = paths.projections
    return {
        "dtype": dtype,
        "size": size,
        "paths": SDE_PATHS,
        "steps": steps,
        "duration": SDE_DURATION,
        "seconds": seconds,
        "path_steps_per_second": SDE_PATHS * steps / median(seconds),
        "projections": projections,
    }


def print_monte_carlo_table(records):
    print(f"Idealized MixiT block, {MEMBERS} networks (width {WIDTH}, depth {DEPTH}, "
          f"{TOKENS} tokens): batched against a loop over networks")
    print(f"{'dtype':8} {'batched s':>9} {'loop s':>7} {'speed-up':>8} {'draw share':>10} "
          f"{'loop draw share':>15} {'draws M/s':>9} {'numpy M/s':>9} {'ratio':>6}")
    for record in records:
        print(f"{record['dtype']:8} {median(record['batched']['seconds']):9.2f} "
              f"{median(record['looped']['seconds']):7.2f} {record['speedup']:8.2f} "
              f"{record['draw_share']['batched']:10.2f} {record['draw_share']['looped']:15.2f} "
              f"{record['achieved_rate'] / 1e6:9.1f} {record['raw_rate'] / 1e6:9.1f} "
              f"{record['rate_ratio']:6.2f}")
    loads = [load for record in records for load in record["load_averages"]]
    print(f"load average at the start of each round: {', '.join(f'{x:.2f}' for x in loads)}")


def print_sde_table(records):
    print(f"Matrix SDE solver, MixiT coefficients, {SDE_PATHS} paths, duration {SDE_DURATION}, "
          f"V_0 = (I + 1 1^T) / 2")
    print(f"{'dtype':8} {'T':>3} {'steps':>5} {'seconds':>8} {'path-steps/s':>12} "
          f"{'projections':>11}")
    for record in records:
        print(f"{record['dtype']:8} {record['size']:3d} {record['steps']:5d} "
              f"{median(record['seconds']):8.2f} {record['path_steps_per_second']:12.0f} "
              f"{record['projections']:11d}")


def main(argv=None):
    """Run every measurement, print the tables, write the JSON file and return 0."""
    arguments = parse_arguments(argv)
    set_blas_threads(arguments.threads)

    # Imported here, after the thread count is set, because OpenBLAS reads it once.
    from bench_sweeps import openblas_threads
    from core_measurements import machine_description, timestamp

    rounds = QUICK_ROUNDS if arguments.quick else DEFAULT_ROUNDS
    results = {
        "date": timestamp(),
        "machine": machine_description(),
        "threads": arguments.threads,
        "blas_threads": openblas_threads(),
        "bit_generator": arguments.bit_generator,
        "load_average": os.getloadavg(),
        "rounds": rounds,
    }
    print(f"{results['date']}  {results['machine']['cpu']}, {results['machine']['usable_cores']} "
          f"usable cores, {arguments.threads} BLAS thread(s), {rounds} round(s) per case, "
          f"{arguments.bit_generator}, load average {results['load_average'][0]:.2f}\n")

    results["monte_carlo"] = [measure_monte_carlo(dtype, rounds, arguments.bit_generator)
                              for dtype in DTYPES]
    print_monte_carlo_table(results["monte_carlo"])
    print()

    results["sde"] = [measure_sde(dtype, size, steps, rounds, arguments.bit_generator)
                      for dtype in DTYPES for size, steps in SDE_CASES]
    print_sde_table(results["sde"])

    results["load_average_after"] = os.getloadavg()
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
