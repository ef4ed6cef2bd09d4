"""Common parts of the task generators: batches, splits and the two kinds of task.

Every task writes an example as one sequence ``s`` of ``seq_len + 1`` token ids and
returns it in next-token form: ``tokens = s[:-1]`` and ``targets = s[1:]``, so
``targets[t]`` is the token that should follow ``tokens[: t + 1]``, as
:meth:`sims.models.Transformer.loss_and_gradients` expects. ``mask[t]`` is true where
``targets[t]`` is scored (an answer token). Content shorter than the sequence is padded
on the left with the task's ``pad_token``, so the answer always sits at the end.

A *stream task* draws fresh problems for every batch from an unbounded problem space.
Its train and test splits are fixed by a hash of each example's ``tokens`` row: a row is
in the test split when its hash, read as a number in ``[0, 1)``, is below
``test_fraction``. Equal rows always hash alike, so no problem can appear in both splits.
Sampling a split draws problems and keeps those that fall in it.

A *finite task* draws a fixed set of examples once, from the generator passed to its
constructor, and partitions it into a train and a test split.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from sims.hyperparameters import check_positive_int

SPLITS = ("train", "test")

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_HASH_SEED = np.uint64(0x9E3779B97F4A7C15)
_MAX_DRAW_ROUNDS = 1000
"""Rounds of rejection sampling before a split is declared (nearly) empty."""


@dataclass(frozen=True)
class TaskBatch:
    """A batch of examples in next-token form.

    Attributes
    ----------
    tokens, targets : numpy.ndarray of int64, shape (B, T)
    mask : numpy.ndarray of bool, shape (B, T)
        True where ``targets`` is scored.
    """

    tokens: np.ndarray
    targets: np.ndarray
    mask: np.ndarray

    def __len__(self):
        return self.tokens.shape[0]


def check_split(split):
    """Return ``split``, or raise ``ValueError`` unless it is ``"train"`` or ``"test"``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return split


def check_int_at_least(name, value, minimum):
    """Return ``value`` as an int, or raise ``ValueError`` unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_fraction(name, value):
    """Return ``value`` as a float, or raise ``ValueError`` unless ``0 < value < 1``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def check_generator(generator):
    """Raise ``ValueError`` unless ``generator`` is a ``numpy.random.Generator``."""
    if not isinstance(generator, np.random.Generator):
        raise ValueError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")


def _mix64(z):
    """Apply the SplitMix64 finalizer (Steele, Lea and Flood 2014) to uint64 values."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_hash_fraction(tokens):
    """Return a deterministic pseudo-random number in ``[0, 1)`` for each row of ``tokens``.

    The number depends on the row's length and entries only, so equal rows get equal
    numbers. It serves as the split key of stream tasks.
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    with np.errstate(over="ignore"):
        state = np.full(tokens.shape[0], _HASH_SEED ^ np.uint64(tokens.shape[1]), dtype=np.uint64)
        for column in tokens.T:
            state = _mix64(state ^ column.astype(np.uint64)) & _MASK64
    # The top 53 bits fill a float64 mantissa exactly.
    return (state >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class Task:
    """A task generator with a known vocabulary size and sequence length.

    Attributes
    ----------
    name : str
        The task's name in :data:`sims.tasks.TASKS`.
    vocab_size : int
        Number of token ids; every token and target lies in ``0 ... vocab_size - 1``.
    seq_len : int
        ``T``, the length of every ``tokens`` row.
    pad_token : int or None
        Id of the left padding, or ``None`` for a task that never pads.
    """

    name = None
    pad_token = None

    def _set_vocab(self, required, vocab_size):
        """Set ``vocab_size`` to the ``required`` ids or to a larger model vocabulary."""
        if vocab_size is None:
            self.vocab_size = required
            return
        check_positive_int("vocab_size", vocab_size)
        if vocab_size < required:
            raise ValueError(f"vocab_size {vocab_size} is smaller than the {required} token ids "
                             f"that task {self.name!r} uses with these options; pass at least "
                             f"{required} or shrink the task")
        self.vocab_size = int(vocab_size)

    def _set_seq_len(self, required, seq_len, what):
        """Set ``seq_len`` to the ``required`` length or to a longer, left-padded one."""
        if seq_len is None:
            self.seq_len = required
            return
        check_positive_int("seq_len", seq_len)
        if seq_len < required:
            raise ValueError(f"seq_len {seq_len} is too short for {what}, which needs "
                             f"seq_len >= {required}")
        self.seq_len = int(seq_len)

    def sample(self, split, batch_size, generator):
        """Draw ``batch_size`` examples of ``split`` from ``generator``; return a :class:`TaskBatch`."""
        raise NotImplementedError

    def describe(self):
        """Return the task's name and options as a JSON-ready dict."""
        raise NotImplementedError

    def _pack(self, content, answer_length):
        """Left-pad ``content`` rows to ``seq_len + 1`` and split them into a :class:`TaskBatch`.

        The last ``answer_length`` tokens of each content row are the scored answer.
        """
        count, length = content.shape
        sequences = np.full((count, self.seq_len + 1), self.pad_token, dtype=np.int64)
        sequences[:, self.seq_len + 1 - length:] = content
        mask = np.zeros((count, self.seq_len), dtype=bool)
        mask[:, self.seq_len - answer_length:] = True
        return TaskBatch(sequences[:, :-1], sequences[:, 1:], mask)


class StreamTask(Task):
    """A task that draws fresh problems, split into train and test by a hash of each row.

    Subclasses implement ``_draw(count, generator)``, which returns a :class:`TaskBatch`
    of ``count`` problems from the whole problem space.
    """

    test_fraction = 0.1

    def sample(self, split, batch_size, generator):
        """Draw ``batch_size`` problems of ``split``; see the module docstring.

        Raises
        ------
        RuntimeError
            If the split contains almost no problems, so that rejection sampling finds
            too few of them; choose a larger problem space or another ``test_fraction``.
        """
        check_split(split)
        check_positive_int("batch_size", batch_size)
        check_generator(generator)
        share = self.test_fraction if split == "test" else 1.0 - self.test_fraction
        kept = []
        found = 0
        for _ in range(_MAX_DRAW_ROUNDS):
            count = int(np.ceil(1.2 * (batch_size - found) / share)) + 8
            batch = self._draw(count, generator)
            in_test = row_hash_fraction(batch.tokens) < self.test_fraction
            keep = in_test if split == "test" else ~in_test
            kept.append(TaskBatch(batch.tokens[keep], batch.targets[keep], batch.mask[keep]))
            found += int(keep.sum())
            if found >= batch_size:
                break
        else:
            raise RuntimeError(f"task {self.name!r} found only {found} of {batch_size} {split} "
                               f"problems in {_MAX_DRAW_ROUNDS} rounds; its {split} split is "
                               f"nearly empty")
        return TaskBatch(*(np.concatenate([getattr(b, field) for b in kept])[:batch_size]
                           for field in ("tokens", "targets", "mask")))

    def _draw(self, count, generator):
        raise NotImplementedError


class FiniteTask(Task):
    """A task with a fixed set of examples, split once at construction.

    Subclasses set ``self._splits = {"train": TaskBatch, "test": TaskBatch}``.
    """

    def examples(self, split):
        """Return every example of ``split`` as one :class:`TaskBatch`, in a fixed order."""
        return self._splits[check_split(split)]

    def split_size(self, split):
        """Return the number of examples in ``split``."""
        return len(self.examples(split))

    def sample(self, split, batch_size, generator):
        """Draw ``batch_size`` examples of ``split`` uniformly, with replacement."""
        examples = self.examples(split)
        check_positive_int("batch_size", batch_size)
        check_generator(generator)
        if len(examples) == 0:
            raise ValueError(f"the {split} split of task {self.name!r} is empty")
        rows = generator.integers(0, len(examples), size=batch_size)
        return TaskBatch(examples.tokens[rows], examples.targets[rows], examples.mask[rows])
