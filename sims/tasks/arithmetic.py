"""Decimal addition, modular addition and memorization of random labels."""

import numpy as np
import sympy

from sims.tasks.base import (
    FiniteTask, StreamTask, TaskBatch, check_fraction, check_generator, check_int_at_least,
)

MAX_DIGITS = 18
"""Operands of more digits would overflow int64 sums."""


def digits_least_first(numbers, count):
    """Return the ``count`` decimal digits of each number, least significant first."""
    powers = 10 ** np.arange(count, dtype=np.int64)
    return (np.asarray(numbers, dtype=np.int64)[:, None] // powers) % 10


class DecimalAddition(StreamTask):
    """Addition of two ``digits``-digit decimal numbers, written least significant digit first.

    Content: ``a_0 ... a_{d-1} + b_0 ... b_{d-1} = s_0 ... s_d`` with ``a`` and ``b``
    uniform in ``0 ... 10**d - 1`` (leading zeros written), ``s = a + b`` in ``d + 1``
    digits, and ``x_0`` the least significant digit of ``x``. Writing digits least
    significant first lets each answer digit depend only on digits already seen. The
    ``d + 1`` answer digits are scored, each with the earlier ones given (teacher forcing).

    Token ids: digits ``0 ... 9``, ``+`` = 10, ``=`` = 11, pad = 12. The shortest
    ``seq_len`` is ``3 d + 2``.

    Raises
    ------
    ValueError
        If ``digits`` is not in ``1 ... 18`` or the problem does not fit in ``seq_len``.
    """

    name = "decimal_addition"
    plus_token = 10
    equals_token = 11

    def __init__(self, digits=3, seq_len=None, vocab_size=None, test_fraction=0.1):
        self.digits = check_int_at_least("digits", digits, 1)
        if self.digits > MAX_DIGITS:
            raise ValueError(f"digits {digits} exceeds the maximum {MAX_DIGITS}, above which "
                             f"sums overflow int64")
        self.test_fraction = check_fraction("test_fraction", test_fraction)
        self.pad_token = 12
        self._set_vocab(13, vocab_size)
        self._set_seq_len(3 * self.digits + 2, seq_len, f"a sum of {digits}-digit numbers")

    def describe(self):
        return {"task": self.name, "digits": self.digits, "seq_len": self.seq_len,
                "vocab_size": self.vocab_size, "test_fraction": self.test_fraction}

    def _draw(self, count, generator):
        d = self.digits
        a = generator.integers(0, 10**d, size=count)
        b = generator.integers(0, 10**d, size=count)
        content = np.concatenate([
            digits_least_first(a, d),
            np.full((count, 1), self.plus_token),
            digits_least_first(b, d),
            np.full((count, 1), self.equals_token),
            digits_least_first(a + b, d + 1),
        ], axis=1)
        return self._pack(content, d + 1)


class ModularAddition(FiniteTask):
    """Addition modulo a prime ``p``: from ``a`` and ``b``, predict ``(a + b) mod p``.

    Tokens ``[a, b]``, targets ``[b, (a + b) mod p]``; only the second target is scored.
    Token ids are the residues ``0 ... p - 1``. All ``p**2`` ordered pairs are shuffled by
    the generator and the first ``round(train_fraction p**2)`` form the train split, the
    rest the test split, so no pair is in both.

    Raises
    ------
    ValueError
        If ``p`` is not prime, exceeds ``vocab_size``, or a split would be empty.
    """

    name = "modular_addition"

    def __init__(self, generator, p=97, train_fraction=0.95, vocab_size=None):
        check_generator(generator)
        self.p = check_int_at_least("p", p, 2)
        if not sympy.isprime(self.p):
            raise ValueError(f"p = {p} is not prime; pass a prime such as "
                             f"{sympy.prevprime(self.p) if self.p > 2 else 2} or "
                             f"{sympy.nextprime(self.p)}")
        if vocab_size is not None and vocab_size < self.p:
            raise ValueError(f"p = {p} is too large for vocab_size {vocab_size}: the residues "
                             f"need p <= vocab_size")
        self.train_fraction = check_fraction("train_fraction", train_fraction)
        self._set_vocab(self.p, vocab_size)
        self.seq_len = 2
        pairs = self.p * self.p
        train_size = int(round(self.train_fraction * pairs))
        if not 0 < train_size < pairs:
            raise ValueError(f"train_fraction {train_fraction} leaves a split of the {pairs} "
                             f"pairs empty")
        order = generator.permutation(pairs)
        self._splits = {"train": self._examples(order[:train_size]),
                        "test": self._examples(order[train_size:])}

    def describe(self):
        return {"task": self.name, "p": self.p, "train_fraction": self.train_fraction,
                "vocab_size": self.vocab_size}

    def _examples(self, indices):
        a, b = np.divmod(indices.astype(np.int64), self.p)
        tokens = np.stack([a, b], axis=1)
        targets = np.stack([b, (a + b) % self.p], axis=1)
        mask = np.zeros(tokens.shape, dtype=bool)
        mask[:, 1] = True
        return TaskBatch(tokens, targets, mask)


class Memorization(FiniteTask):
    """Memorization of random labels for a fixed set of random two-token inputs.

    An input is a pair ``(a, b)`` with ``a`` in ``0 ... keys - 1`` and ``b`` in
    ``keys ... 2 keys - 1``, one of ``keys**2`` inputs. The generator draws
    ``examples + test_examples`` distinct inputs and a label for each, uniform in
    ``0 ... labels - 1`` and written as the id ``2 keys + label``. The first ``examples``
    form the train split, the set to memorize, which contains ``examples * log2(labels)``
    bits. The test split contains the other inputs with their own random labels, so its
    accuracy measures chance (``1 / labels``), not generalization.

    Tokens ``[a, b]``, targets ``[b, label id]``; only the label is scored.

    Raises
    ------
    ValueError
        If ``examples + test_examples`` exceeds the ``keys**2`` distinct inputs.
    """

    name = "memorization"

    def __init__(self, generator, keys=32, labels=32, examples=512, test_examples=None,
                 vocab_size=None):
        check_generator(generator)
        self.keys = check_int_at_least("keys", keys, 1)
        self.labels = check_int_at_least("labels", labels, 2)
        self.example_count = check_int_at_least("examples", examples, 1)
        if self.example_count > self.keys**2:
            raise ValueError(f"examples {examples} exceeds the {self.keys**2} distinct inputs "
                             f"of keys = {keys}; pass keys >= "
                             f"{int(np.ceil(np.sqrt(self.example_count)))}")
        if test_examples is None:
            test_examples = min(self.example_count, self.keys**2 - self.example_count)
        self.test_count = check_int_at_least("test_examples", test_examples, 0)
        inputs = self.keys**2
        if self.example_count + self.test_count > inputs:
            raise ValueError(f"examples + test_examples = {self.example_count + self.test_count} "
                             f"exceeds the {inputs} distinct inputs of keys = {keys}; pass "
                             f"keys >= {int(np.ceil(np.sqrt(self.example_count + self.test_count)))}")
        self._set_vocab(2 * self.keys + self.labels, vocab_size)
        self.seq_len = 2

        chosen = generator.choice(inputs, size=self.example_count + self.test_count, replace=False)
        labels_drawn = generator.integers(0, self.labels, size=chosen.size)
        a, b = np.divmod(chosen.astype(np.int64), self.keys)
        tokens = np.stack([a, self.keys + b], axis=1)
        targets = np.stack([self.keys + b, 2 * self.keys + labels_drawn], axis=1)
        mask = np.zeros(tokens.shape, dtype=bool)
        mask[:, 1] = True
        cut = self.example_count
        self._splits = {"train": TaskBatch(tokens[:cut], targets[:cut], mask[:cut]),
                        "test": TaskBatch(tokens[cut:], targets[cut:], mask[cut:])}

    @property
    def bits(self):
        """Information content of the train labels, ``examples * log2(labels)`` bits."""
        return self.example_count * float(np.log2(self.labels))

    def describe(self):
        return {"task": self.name, "keys": self.keys, "labels": self.labels,
                "examples": self.example_count, "test_examples": self.test_count,
                "vocab_size": self.vocab_size}
