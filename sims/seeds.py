"""Seeds of runs, derived from what identifies a run rather than from the order of runs.

A run's seed depends on the base seed, the seed index and the model's shape and
parameterization, and not on its learning rate or init std: the points of a
hyperparameter grid share their initial draws and their data order, and a resumed or
re-gridded sweep keeps its seeds.
"""

import hashlib
import json
import numbers

import numpy as np


def check_seed(seed, name="seed"):
    """Return ``seed`` as an int, or raise ``ValueError`` unless it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed!r}")
    return int(seed)


def run_seed_sequence(base_seed, seed_index, identity):
    """Return the ``numpy.random.SeedSequence`` of one run.

    Parameters
    ----------
    base_seed, seed_index : int
        Non-negative integers.
    identity : dict
        JSON-serializable description of the model's shape and parameterization.

    Returns
    -------
    numpy.random.SeedSequence
        Its entropy is the first 128 bits of the SHA-256 of the canonical JSON of the
        three inputs.
    """
    key = json.dumps(
        {"base_seed": check_seed(base_seed, "base seed"),
         "seed_index": check_seed(seed_index, "seed index"),
         "identity": identity},
        sort_keys=True,
    )
    entropy = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:16], "big")
    return np.random.SeedSequence(entropy)


def run_generators(base_seed, seed_index, identity):
    """Return independent ``(init, data)`` generators of one run."""
    init_sequence, data_sequence = run_seed_sequence(base_seed, seed_index, identity).spawn(2)
    return np.random.default_rng(init_sequence), np.random.default_rng(data_sequence)


def stream_seed(base_seed, name):
    """Return a seed for a named stream shared by all runs of a base seed, e.g. a probe batch."""
    key = json.dumps({"base_seed": check_seed(base_seed, "base seed"), "stream": name})
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
