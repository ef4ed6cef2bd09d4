"""Measure how fast sweeps run: ensembles, worker processes, and the step against PyTorch.

Run from the repository root::

    python benchmarks/bench_sweeps.py [--threads 1] [--quick] [--json results.json]
                                      [--skip-workers] [--skip-torch]

Three measurements in one process, each in alternating rounds so that other load on the
machine slows both sides alike:

* **ensemble**: 8 residual-MLP runs (width 64, depth 4, batch 64, 4 learning rates times
  2 seeds), each trained for 20 AdamW steps with :func:`sims.training.train_step`. They
  train once as one ensemble of ``K = 8`` members and once in a loop that builds and
  trains them one at a time. The speed-up is the loop's time over the ensemble's (target:
  at least 2), in float32 and float64, for the whole runs and for the training steps alone.
* **workers**: a coordinate-check sweep of 8 independent ensembles through
  :func:`sims.sweep.run_ensembles` with 2 worker processes against 1 (the parent alone),
  with no cache. The speed-up includes starting the workers. The BLAS thread count that
  each worker's OpenBLAS reports is recorded too.
* **torch**: the time of one training step (batch drawn, forward, cross-entropy,
  backward, AdamW update) as a ratio to PyTorch's for the same residual MLP at widths
  128 to 1024, in float32 and float64 (target: at most 1). PyTorch runs the model as an
  ``EmbeddingBag`` sum, pre-LN blocks of two ``Linear`` layers with exact GELU, a final
  ``LayerNorm`` and a readout, with ``torch.optim.AdamW`` at its default settings (a loop
  over parameters on the CPU) and, for comparison, with ``fused=True``. Both start from
  the same weights, and the recorded loss difference on one batch checks that they
  compute the same function. The three matrix products of a dense layer are timed in
  both libraries as well. PyTorch is optional: without it this part is skipped.

``--threads`` sets the BLAS threads of this process (and PyTorch's intra-op threads)
before numpy is imported; worker processes always use one.
"""

import ctypes
import json
import os
import resource
import sys
import time

from bench_core import benchmark_parser, set_blas_threads

DEFAULT_ROUNDS = 5
QUICK_ROUNDS = 2

ENSEMBLE_MEMBERS = 8
ENSEMBLE_WIDTH = 64
ENSEMBLE_DEPTH = 4
ENSEMBLE_STEPS = 20
ENSEMBLE_LRS = (1e-3, 1.5e-3, 2e-3, 3e-3)
ENSEMBLE_TARGET = 2.0
"""Minimum speed-up of one ensemble of 8 members over 8 runs one at a time."""

SWEEP_ENSEMBLES = 8
SWEEP_WORKERS = 2
SWEEP_WIDTH = 128
SWEEP_DEPTH = 8
SWEEP_MEMBERS = 4
SWEEP_STEPS = 40

TORCH_WIDTHS = (128, 256, 512, 1024)
TORCH_DEPTH = 4
TORCH_TARGET = 1.0
"""Maximum ratio of the suite's training-step time to PyTorch's."""

TORCH_ROUND_SECONDS = 0.4
"""Approximate time of each side in one round of the PyTorch comparison."""

BATCH = 64
DTYPES = ("float32", "float64")


def parse_arguments(argv=None):
    """Parse the command line; invalid values exit with status 2 and a one-line message."""
    parser = benchmark_parser(
        "Measure the speed-up of ensembles and of worker processes in sweeps, and the "
        "training step's time as a ratio to PyTorch's.", QUICK_ROUNDS, DEFAULT_ROUNDS,
        threads_help="BLAS threads of this process, set before numpy is imported, and "
                     "PyTorch's threads (default 1)")
    parser.add_argument("--skip-workers", action="store_true",
                        help="leave out the worker-process sweep, the longest part")
    parser.add_argument("--skip-torch", action="store_true",
                        help="leave out the comparison with PyTorch")
    return parser.parse_args(argv)


def openblas_threads():
    """Return the thread count that the loaded OpenBLAS reports, or None.

    Reads the shared libraries mapped into this process (Linux only) and calls the
    library's ``openblas_get_num_threads`` under the names of numpy's bundled
    scipy-openblas build and of plain OpenBLAS builds.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    except OSError:
        return None
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                     "openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(library, name):
                return int(getattr(library, name)())
    return None


def report_blas_threads(jobs):
    """Return the OpenBLAS thread count of this process once per job (a sweep's run function).

    OpenBLAS is loaded by then, because unpickling the jobs imports ``sims`` and numpy.
    """
    return [{"blas_threads": openblas_threads()} for _ in jobs]


def clocks():
    """Return the wall-clock and process CPU time, in seconds."""
    return time.perf_counter(), time.process_time()


def elapsed(start):
    """Return the wall and CPU seconds since ``start``, as returned by :func:`clocks`."""
    wall, cpu = clocks()
    return wall - start[0], cpu - start[1]


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return 0.5 * (ordered[middle - 1] + ordered[middle])


def ensemble_configs(dtype):
    """Return the 8 runs of the ensemble measurement: 4 learning rates times 2 seeds."""
    from sims.runs import RunConfig

    base = RunConfig(width=ENSEMBLE_WIDTH, depth=ENSEMBLE_DEPTH, batch_size=BATCH, dtype=dtype)
    return [base.replace(lr=lr, seed_index=seed) for seed in (0, 1) for lr in ENSEMBLE_LRS]


def train_runs(configs):
    """Build one ensemble of ``configs`` and train it; return the clocks of both phases."""
    import numpy as np

    from sims.runs import build_ensemble
    from sims.training import train_step

    start = clocks()
    ensemble = build_ensemble(configs)
    build = elapsed(start)

    start = clocks()
    active = np.ones(len(configs), dtype=bool)
    for _ in range(ENSEMBLE_STEPS):
        train_step(ensemble, active)
    steps = elapsed(start)
    return {"build": build, "steps": steps}


def measure_ensemble(dtype, rounds):
    """Measure one ensemble of 8 runs against training the 8 runs one at a time.

    Each round trains the ensemble once and the loop once. A side's time is its build
    time (models, initial weights, optimizers) plus its training steps.

    Returns
    -------
    dict
        The setting, and for each clock (``wall``, ``cpu``) and scope (``total``,
        ``steps``): the median ``speedup`` (loop time over ensemble time) and the
        per-round values, with ``ensemble_seconds`` and ``loop_seconds``.
    """
    configs = ensemble_configs(dtype)
    train_runs(configs)
    train_runs(configs[:1])

    records = []
    for _ in range(rounds):
        together = train_runs(configs)
        alone = [train_runs([config]) for config in configs]
        records.append((together, alone))

    summary = {}
    for clock_index, clock in enumerate(("wall", "cpu")):
        for scope, phases in (("total", ("build", "steps")), ("steps", ("steps",))):
            ensemble_seconds = [sum(together[p][clock_index] for p in phases)
                                for together, _ in records]
            loop_seconds = [sum(run[p][clock_index] for run in alone for p in phases)
                            for _, alone in records]
            speedups = [loop / together for loop, together in zip(loop_seconds, ensemble_seconds)]
            summary[f"{clock}_{scope}"] = {
                "speedup": median(speedups),
                "round_speedups": speedups,
                "ensemble_seconds": ensemble_seconds,
                "loop_seconds": loop_seconds,
            }
    return {
        "dtype": dtype,
        "members": ENSEMBLE_MEMBERS,
        "width": ENSEMBLE_WIDTH,
        "depth": ENSEMBLE_DEPTH,
        "batch": BATCH,
        "steps": ENSEMBLE_STEPS,
        "learning_rates": list(ENSEMBLE_LRS),
        "target": ENSEMBLE_TARGET,
        **summary,
    }


def sweep_runs():
    """Return the runs of the worker measurement: 8 ensembles (base seeds) of 4 members."""
    from sims.runs import RunConfig

    base = RunConfig(width=SWEEP_WIDTH, depth=SWEEP_DEPTH, batch_size=BATCH, dtype="float32")
    return [base.replace(base_seed=seed, seed_index=member)
            for seed in range(SWEEP_ENSEMBLES) for member in range(SWEEP_MEMBERS)]


def run_sweep(workers):
    """Run the coordinate-check sweep without a cache.

    The wall time includes starting the worker processes. They are ended after the
    sweep, outside the wall time, so that every round starts them afresh.

    Returns
    -------
    wall : float
        Seconds.
    cpu : float
        CPU seconds of this process and of the workers, which are counted once they
        have exited.
    results : list of dict
    """
    from sims.cache import RunCache
    from sims.coord_check import coord_check
    from sims.sweep import shutdown_workers

    # The command lines pass --workers to the sweeps through this variable.
    previous = os.environ.get("DEPTHCHECK_WORKERS")
    os.environ["DEPTHCHECK_WORKERS"] = str(workers)
    try:
        cpu_start = process_and_children_cpu()
        start = time.perf_counter()
        results = coord_check(sweep_runs(), SWEEP_STEPS, cache=RunCache(None),
                              max_members=SWEEP_MEMBERS)
        wall = time.perf_counter() - start
        shutdown_workers()
        cpu = process_and_children_cpu() - cpu_start
    finally:
        if previous is None:
            del os.environ["DEPTHCHECK_WORKERS"]
        else:
            os.environ["DEPTHCHECK_WORKERS"] = previous
    return wall, cpu, results


def process_and_children_cpu():
    """Return the CPU seconds of this process and of its exited, waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def same_results(first, second):
    """Return whether two lists of results hold equal values, arrays bit for bit."""
    import numpy as np

    for a, b in zip(first, second, strict=True):
        if a.keys() != b.keys():
            return False
        for name in a:
            if isinstance(a[name], np.ndarray):
                if not np.array_equal(a[name], b[name], equal_nan=True):
                    return False
            elif a[name] != b[name]:
                return False
    return True


def measure_workers(rounds):
    """Measure the sweep with ``SWEEP_WORKERS`` worker processes against one process.

    Returns
    -------
    dict
        The setting and ``speedup``, the median over rounds of the one-process wall time
        over the workers' wall time, with the per-round values, wall and CPU seconds,
        and the 1-minute load average when each round started. ``identical`` is true
        when both gave the same results bit for bit in every round.
        ``worker_blas_threads`` lists the OpenBLAS thread counts that the workers
        reported.
    """
    from sims.cache import RunCache
    from sims.sweep import Job, run_ensembles, shutdown_workers

    probe_jobs = [Job(run, run.default_table()) for run in sweep_runs()[::SWEEP_MEMBERS][:SWEEP_WORKERS]]
    probes = run_ensembles("blas-threads", probe_jobs, report_blas_threads, RunCache(None),
                           max_members=1, workers=SWEEP_WORKERS)
    shutdown_workers()

    seconds = {"one_process": {"wall": [], "cpu": []}, "workers": {"wall": [], "cpu": []}}
    loads, identical = [], True
    for _ in range(rounds):
        loads.append(os.getloadavg()[0])
        wall, cpu, one = run_sweep(1)
        seconds["one_process"]["wall"].append(wall)
        seconds["one_process"]["cpu"].append(cpu)
        wall, cpu, two = run_sweep(SWEEP_WORKERS)
        seconds["workers"]["wall"].append(wall)
        seconds["workers"]["cpu"].append(cpu)
        identical = identical and same_results(one, two)

    speedups = [one / two for one, two in zip(seconds["one_process"]["wall"],
                                              seconds["workers"]["wall"])]
    return {
        "ensembles": SWEEP_ENSEMBLES,
        "members": SWEEP_MEMBERS,
        "width": SWEEP_WIDTH,
        "depth": SWEEP_DEPTH,
        "batch": BATCH,
        "steps": SWEEP_STEPS,
        "dtype": "float32",
        "workers": SWEEP_WORKERS,
        "speedup": median(speedups),
        "round_speedups": speedups,
        "seconds": seconds,
        "load_averages": loads,
        "identical": identical,
        "worker_blas_threads": [probe["blas_threads"] for probe in probes],
    }


def torch_model(torch, model):
    """Return a PyTorch copy of a one-member :class:`sims.models.ResidualMLP`.

    The copy has the same weights (linear weights transposed to PyTorch's ``(out, in)``
    layout) and the same multipliers.

    Returns
    -------
    module : torch.nn.Module
        Maps token contexts ``(B, P)`` to logits ``(B, V)``.
    pairs : list of (sims.parameters.Parameter, torch.nn.Parameter)
        Each suite parameter with its PyTorch counterpart, in the suite's order.
    """
    nn = torch.nn
    shape = model.shape
    dtype = torch.float64 if model.embedding.weight.value.dtype.itemsize == 8 else torch.float32

    class ResidualMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("offsets", torch.arange(shape.context) * shape.vocab_size)
            self.embedding = nn.EmbeddingBag(shape.context * shape.vocab_size, shape.width,
                                             mode="sum", dtype=dtype)
            self.norms = nn.ModuleList()
            self.fc1 = nn.ModuleList()
            self.fc2 = nn.ModuleList()
            for block in model.blocks:
                norm, fc1, _, fc2 = block.branch.layers
                self.norms.append(nn.LayerNorm(shape.width, eps=norm.eps, dtype=dtype))
                self.fc1.append(nn.Linear(*fc1.weight.shape, dtype=dtype))
                self.fc2.append(nn.Linear(*fc2.weight.shape, dtype=dtype))
            self.final_norm = nn.LayerNorm(shape.width, eps=model.final_norm.eps, dtype=dtype)
            self.readout = nn.Linear(*model.unembedding.weight.shape, bias=False, dtype=dtype)
            self.branch_multiplier = model.blocks[0].branch_weight
            self.readout_multiplier = model.unembedding.multiplier

        def forward(self, tokens):
            h = self.embedding(tokens + self.offsets)
            for norm, fc1, fc2 in zip(self.norms, self.fc1, self.fc2):
                h = h + self.branch_multiplier * fc2(nn.functional.gelu(fc1(norm(h))))
            return self.readout_multiplier * self.readout(self.final_norm(h))

    module = ResidualMLP()
    pairs = [(model.embedding.weight, module.embedding.weight)]
    for block, norm, fc1, fc2 in zip(model.blocks, module.norms, module.fc1, module.fc2):
        ours_norm, ours_fc1, _, ours_fc2 = block.branch.layers
        pairs += [(ours_norm.gain, norm.weight), (ours_norm.bias, norm.bias),
                  (ours_fc1.weight, fc1.weight), (ours_fc1.bias, fc1.bias),
                  (ours_fc2.weight, fc2.weight), (ours_fc2.bias, fc2.bias)]
    pairs += [(model.final_norm.gain, module.final_norm.weight),
              (model.final_norm.bias, module.final_norm.bias),
              (model.unembedding.weight, module.readout.weight)]

    with torch.no_grad():
        for ours, theirs in pairs:
            value = torch.from_numpy(ours.value[0])
            if value.ndim == 2 and ours is not model.embedding.weight:
                # The suite stores a linear weight as (in, out), PyTorch as (out, in).
                value = value.T
            theirs.copy_(value)
    return module, pairs


def torch_optimizer(torch, optimizer, pairs, fused):
    """Return ``torch.optim.AdamW`` with the suite optimizer's per-parameter settings."""
    groups = [{"params": [theirs], "lr": float(optimizer.lr[0]) * optimizer.group_lr[ours],
               "eps": optimizer.group_eps[ours], "weight_decay": optimizer.group_decay[ours]}
              for ours, theirs in pairs]
    return torch.optim.AdamW(groups, betas=optimizer.betas, fused=fused)


def measure_torch_width(torch, dtype, width, rounds):
    """Time the suite's training step against PyTorch's at one width and dtype.

    Returns
    -------
    dict
        The setting, ``steps_per_round`` and ``loss_difference``, the absolute difference
        of the two models' initial losses on one batch. For each PyTorch optimizer
        (``default``, ``fused``): the median ``ratio`` of the suite's step time to
        PyTorch's by wall time, ``cpu_ratio`` by CPU time, and the per-round times.
    """
    import numpy as np

    from sims.data import load_corpus, sample_batch
    from sims.runs import RunConfig, build_ensemble
    from sims.training import train_step

    corpus = load_corpus()
    config = RunConfig(width=width, depth=TORCH_DEPTH, batch_size=BATCH, dtype=dtype)
    ensemble = build_ensemble([config])
    module, pairs = torch_model(torch, ensemble.model)
    optimizers = {
        "default": torch_optimizer(torch, ensemble.optimizer, pairs, fused=None),
        "fused": torch_optimizer(torch, ensemble.optimizer, pairs, fused=True),
    }

    tokens, targets = sample_batch(corpus.train, config.context, BATCH, [np.random.default_rng(0)])
    ours_loss = float(ensemble.model.loss(tokens, targets)[0])
    with torch.no_grad():
        logits = module(torch.from_numpy(tokens[0]))
        theirs_loss = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets[0])))

    active = np.ones(1, dtype=bool)
    torch_generator = [np.random.default_rng(1)]

    def ours_step():
        train_step(ensemble, active)

    def torch_step(optimizer):
        batch_tokens, batch_targets = sample_batch(corpus.train, config.context, BATCH,
                                                   torch_generator)
        optimizer.zero_grad(set_to_none=True)
        logits = module(torch.from_numpy(batch_tokens[0]))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(batch_targets[0]))
        loss.backward()
        optimizer.step()

    sides = {"ours": ours_step}
    for name, optimizer in optimizers.items():
        sides[name] = lambda optimizer=optimizer: torch_step(optimizer)
    for step in sides.values():
        step()
    start = time.perf_counter()
    ours_step()
    steps = max(2, round(TORCH_ROUND_SECONDS / (time.perf_counter() - start)))

    seconds = {name: {"wall": [], "cpu": []} for name in sides}
    for _ in range(rounds):
        for name, step in sides.items():
            start = clocks()
            for _ in range(steps):
                step()
            wall, cpu = elapsed(start)
            seconds[name]["wall"].append(wall / steps)
            seconds[name]["cpu"].append(cpu / steps)

    record = {
        "dtype": dtype, "width": width, "depth": TORCH_DEPTH, "batch": BATCH,
        "target": TORCH_TARGET, "loss_difference": abs(ours_loss - theirs_loss),
        "steps_per_round": steps, "ours_seconds": seconds["ours"],
    }
    for name in optimizers:
        ratios = {clock: [ours / theirs for ours, theirs in zip(seconds["ours"][clock],
                                                                seconds[name][clock])]
                  for clock in ("wall", "cpu")}
        record[name] = {
            "ratio": median(ratios["wall"]),
            "cpu_ratio": median(ratios["cpu"]),
            "round_ratios": ratios["wall"],
            "torch_seconds": seconds[name],
        }
    return record


def measure_products(torch, dtype, width, rounds):
    """Time the three matrix products of one dense layer in numpy and in PyTorch.

    The suite stores a weight as ``(in, out)`` and computes ``x @ W``, ``x.T @ dy`` and
    ``dy @ W.T`` with ``np.matmul`` on arrays with the ensemble axis. PyTorch stores it as
    ``(out, in)`` and computes ``x @ W.T`` (``linear``), ``dy.T @ x`` and ``dy @ W``.

    Returns
    -------
    dict
        For each library (``numpy``, ``torch``): the median GFLOP/s of each product
        (``forward``, ``weight_gradient``, ``input_gradient``). ``time_ratio`` is the
        median over rounds of numpy's time for all three over PyTorch's.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, BATCH, width)).astype(dtype)
    dy = rng.standard_normal((1, BATCH, width)).astype(dtype)
    weight = rng.standard_normal((1, width, width)).astype(dtype)
    torch_x, torch_dy = torch.from_numpy(x[0]), torch.from_numpy(dy[0])
    torch_weight = torch.from_numpy(np.ascontiguousarray(weight[0].T))

    products = {
        "numpy": {
            "forward": lambda: np.matmul(x, weight),
            "weight_gradient": lambda: np.matmul(x.transpose(0, 2, 1), dy),
            "input_gradient": lambda: np.matmul(dy, weight.transpose(0, 2, 1)),
        },
        "torch": {
            "forward": lambda: torch.nn.functional.linear(torch_x, torch_weight),
            "weight_gradient": lambda: torch_dy.T @ torch_x,
            "input_gradient": lambda: torch_dy @ torch_weight,
        },
    }
    flops = 2 * BATCH * width * width
    calls = max(3, round(2e8 / flops))
    seconds = {library: {name: [] for name in functions}
               for library, functions in products.items()}
    for functions in products.values():
        for function in functions.values():
            function()
    for _ in range(rounds):
        for library, functions in products.items():
            for name, function in functions.items():
                start = time.perf_counter()
                for _ in range(calls):
                    function()
                seconds[library][name].append((time.perf_counter() - start) / calls)

    record = {library: {name: flops / median(values) / 1e9 for name, values in times.items()}
              for library, times in seconds.items()}
    totals = {library: [sum(values) for values in zip(*times.values())]
              for library, times in seconds.items()}
    record["time_ratio"] = median([ours / theirs for ours, theirs in
                                   zip(totals["numpy"], totals["torch"])])
    return record


def measure_torch(threads, rounds):
    """Run :func:`measure_torch_width` for every dtype and width, or report why not.

    Returns
    -------
    dict
        ``status`` (``"ok"`` or ``"skipped"``), ``reason`` when skipped, and otherwise
        ``torch`` (its version), ``threads`` and ``cases``.
    """
    try:
        import torch
    except ImportError as error:
        return {"status": "skipped",
                "reason": f"PyTorch is not installed ({error}); install it to compare, "
                          f"e.g. pip install torch"}

    torch.set_num_threads(threads)
    cases = []
    for dtype in DTYPES:
        for width in TORCH_WIDTHS:
            case = measure_torch_width(torch, dtype, width, rounds)
            case["products"] = measure_products(torch, dtype, width, rounds)
            cases.append(case)
    return {"status": "ok", "torch": torch.__version__, "threads": torch.get_num_threads(),
            "config": torch.__config__.show(), "cases": cases}


def verdict(value, target, at_least):
    if at_least:
        return f">= {target} {'met' if value >= target else 'MISSED'}"
    return f"<= {target} {'met' if value <= target else 'MISSED'}"


def print_ensemble_table(records):
    print(f"Ensemble of {ENSEMBLE_MEMBERS} against a loop of single runs (width {ENSEMBLE_WIDTH}, "
          f"depth {ENSEMBLE_DEPTH}, batch {BATCH}, {ENSEMBLE_STEPS} AdamW steps)")
    print(f"{'dtype':8} {'scope':6} {'ensemble s':>10} {'loop s':>8} {'speed-up':>8} "
          f"{'round range':>12} {'CPU':>6}  target")
    for record in records:
        for scope in ("total", "steps"):
            wall = record[f"wall_{scope}"]
            cpu = record[f"cpu_{scope}"]
            rounds = wall["round_speedups"]
            print(f"{record['dtype']:8} {scope:6} {median(wall['ensemble_seconds']):10.3f} "
                  f"{median(wall['loop_seconds']):8.3f} {wall['speedup']:8.2f} "
                  f"{min(rounds):5.2f}-{max(rounds):5.2f} {cpu['speedup']:6.2f}  "
                  f"{verdict(wall['speedup'], record['target'], at_least=True)}")


def print_workers_table(record):
    print(f"Sweep of {record['ensembles']} ensembles ({record['members']} members, width "
          f"{record['width']}, depth {record['depth']}, {record['steps']} steps, "
          f"{record['dtype']}) with {record['workers']} workers against 1 process")
    rounds = record["round_speedups"]
    one, workers = record["seconds"]["one_process"], record["seconds"]["workers"]
    print(f"{'1 process s':>11} {'workers s':>10} {'speed-up':>8} {'round range':>12} "
          f"{'CPU s, 1 / workers':>18} {'identical':>9}  worker BLAS threads")
    print(f"{median(one['wall']):11.2f} {median(workers['wall']):10.2f} "
          f"{record['speedup']:8.2f} {min(rounds):5.2f}-{max(rounds):5.2f} "
          f"{median(one['cpu']):8.1f} / {median(workers['cpu']):7.1f} "
          f"{str(record['identical']):>9}  {record['worker_blas_threads']}")
    print(f"load average at the start of each round: "
          f"{', '.join(f'{load:.2f}' for load in record['load_averages'])}")


def print_torch_table(result):
    if result["status"] != "ok":
        print(f"PyTorch comparison skipped: {result['reason']}")
        return
    print(f"Training step time over PyTorch {result['torch']}'s ({result['threads']} thread(s); "
          f"depth {TORCH_DEPTH}, batch {BATCH})")
    print("(fused: against AdamW with fused=True; matmul: numpy's time for a dense layer's "
          "three products over PyTorch's)")
    print(f"{'dtype':8} {'width':>5} {'ours ms':>8} {'ratio':>6} {'round range':>12} "
          f"{'CPU':>6} {'fused':>6} {'matmul':>6} {'loss diff':>9}  target")
    for case in result["cases"]:
        default = case["default"]
        rounds = default["round_ratios"]
        print(f"{case['dtype']:8} {case['width']:5d} {1e3 * median(case['ours_seconds']['wall']):8.2f} "
              f"{default['ratio']:6.2f} {min(rounds):5.2f}-{max(rounds):5.2f} "
              f"{default['cpu_ratio']:6.2f} {case['fused']['ratio']:6.2f} "
              f"{case['products']['time_ratio']:6.2f} {case['loss_difference']:9.1e}  "
              f"{verdict(default['ratio'], case['target'], at_least=False)}")


def main(argv=None):
    """Run every measurement, print the tables, write the JSON file and return 0."""
    arguments = parse_arguments(argv)
    set_blas_threads(arguments.threads)

    # Imported here, after the thread count is set, because OpenBLAS reads it once.
    from core_measurements import machine_description, timestamp
    from sims.allocator import retain_freed_memory

    # Sweeps set this too (sims.sweep.run_ensembles); the benchmark measures that setting.
    retain_freed_memory()

    rounds = QUICK_ROUNDS if arguments.quick else DEFAULT_ROUNDS
    results = {
        "date": timestamp(),
        "machine": machine_description(),
        "threads": arguments.threads,
        "blas_threads": openblas_threads(),
        "load_average": os.getloadavg(),
        "rounds": rounds,
    }
    print(f"{results['date']}  {results['machine']['cpu']}, {results['machine']['usable_cores']} "
          f"usable cores, {arguments.threads} BLAS thread(s), {rounds} rounds per case, "
          f"load average {results['load_average'][0]:.2f}\n")

    results["ensemble"] = [measure_ensemble(dtype, rounds) for dtype in DTYPES]
    print_ensemble_table(results["ensemble"])

    if not arguments.skip_workers:
        print()
        results["workers"] = measure_workers(rounds)
        print_workers_table(results["workers"])

    if not arguments.skip_torch:
        print()
        results["torch"] = measure_torch(arguments.threads, rounds)
        print_torch_table(results["torch"])

    results["load_average_after"] = os.getloadavg()
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
