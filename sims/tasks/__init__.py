"""Task generators for the random-attention experiments, and their registry.

Each task returns fixed-length token arrays, next-token targets and a loss mask
(:class:`TaskBatch`), reproducibly from a ``numpy.random.Generator``, with train and test
splits that share no problem. :func:`make_task` builds a task by name, and
:func:`task_options` returns its options at a suite scale.
"""

import inspect

from sims.scales import SCALES
from sims.tasks.arithmetic import DecimalAddition, Memorization, ModularAddition
from sims.tasks.base import SPLITS, FiniteTask, StreamTask, Task, TaskBatch, row_hash_fraction
from sims.tasks.language import CharacterModeling
from sims.tasks.lookup import Induction, MultiHop, Retrieval, hop_answer

TASKS = {
    task.name: task
    for task in (Retrieval, Induction, MultiHop, DecimalAddition, ModularAddition,
                 Memorization, CharacterModeling)
}
"""Task classes by name."""

FINITE_TASKS = tuple(name for name, task in TASKS.items() if issubclass(task, FiniteTask))
"""Tasks whose fixed example set is drawn at construction, from a generator."""

SCALE_OPTIONS = {
    "smoke": {
        "retrieval": {"pairs": 3, "keys": 8, "values": 8},
        "induction": {"length": 4, "min_length": 2, "alphabet": 8},
        "multihop": {"hops": 2, "alphabet": 8, "seq_len": 8},
        "decimal_addition": {"digits": 2},
        "modular_addition": {"p": 11},
        "memorization": {"keys": 8, "labels": 8, "examples": 48, "test_examples": 0},
        "language": {"seq_len": 16},
    },
    # Quick: multi-query retrieval (4 queries about 4 pairs), because one query per
    # sequence gives too few training signals to learn retrieval in the quick budget.
    "quick": {
        "retrieval": {"pairs": 4, "min_pairs": 4, "queries": 4, "keys": 16, "values": 16},
        "induction": {"length": 8, "min_length": 4, "alphabet": 16},
        "multihop": {"hops": 2, "alphabet": 16, "seq_len": 16},
        "decimal_addition": {"digits": 3},
        "modular_addition": {"p": 23},
        "memorization": {"keys": 64, "labels": 64, "examples": 4096, "test_examples": 0},
        "language": {"seq_len": 32},
    },
    # NOTE: Dong et al. 2025 (arXiv 2506.01115) use 16 hops. The other induction and
    # k-hop options here (lengths, alphabets) are choices of this suite, not theirs.
    "paper": {
        "retrieval": {"pairs": 30, "keys": 255, "values": 255},
        "induction": {"length": 32, "min_length": 8, "alphabet": 64},
        "multihop": {"hops": 16, "alphabet": 64, "seq_len": 64},
        "decimal_addition": {"digits": 10},
        "modular_addition": {"p": 599},
        "memorization": {"keys": 512, "labels": 512, "examples": 512 * 512, "test_examples": 0},
        "language": {"seq_len": 256},
    },
}
"""Options of each task at each scale of the suite."""


def check_task_name(name):
    """Return ``name``, or raise ``ValueError`` listing the valid task names."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    return name


def task_options(name, scale="quick"):
    """Return a copy of the options of task ``name`` at ``scale`` (``smoke``, ``quick``, ``paper``)."""
    check_task_name(name)
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    return dict(SCALE_OPTIONS[scale][name])


def make_task(name, generator=None, **options):
    """Build task ``name`` with ``options``.

    Parameters
    ----------
    name : str
        One of ``TASKS``.
    generator : numpy.random.Generator, optional
        Draws the fixed example set of a finite task (``modular_addition``,
        ``memorization``), which requires it. Other tasks ignore it and draw at
        :meth:`Task.sample` time.
    **options
        Keyword options of the task's class, e.g. from :func:`task_options`.

    Raises
    ------
    ValueError
        For an unknown name or option, a finite task without a generator, or invalid
        option values.
    """
    task = TASKS[check_task_name(name)]
    accepted = [option for option in inspect.signature(task).parameters if option != "generator"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} of task {name!r}; valid: "
                         f"{', '.join(accepted)}")
    if name in FINITE_TASKS:
        if generator is None:
            raise ValueError(f"task {name!r} draws its fixed examples at construction and "
                             f"needs a numpy.random.Generator; pass generator=")
        return task(generator, **options)
    return task(**options)


__all__ = [
    "FINITE_TASKS", "SCALE_OPTIONS", "SPLITS", "TASKS", "CharacterModeling", "DecimalAddition",
    "FiniteTask", "Induction", "Memorization", "ModularAddition", "MultiHop", "Retrieval",
    "StreamTask", "Task", "TaskBatch", "check_task_name", "hop_answer", "make_task",
    "row_hash_fraction", "task_options",
]
