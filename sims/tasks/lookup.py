"""Tasks that look tokens up in the context: retrieval, induction and k-hop induction."""

import numpy as np

from sims.tasks.base import StreamTask, check_fraction, check_int_at_least


def _distinct_tokens(generator, count, alphabet, size):
    """Return ``count`` rows of ``size`` distinct ids drawn uniformly from ``0 ... alphabet - 1``."""
    return np.argsort(generator.random((count, alphabet)), axis=1)[:, :size].astype(np.int64)


class Retrieval(StreamTask):
    """Needle-in-a-haystack retrieval: key-value pairs, then a query key; answer its value.

    Content: ``n`` pairs ``k_1 v_1 ... k_n v_n`` with distinct keys, the query marker and
    a query key ``k_j``; the answer is ``v_j``. ``n`` is uniform in
    ``min_pairs ... pairs`` and ``j`` uniform in ``1 ... n``; values are uniform with
    repetition. Only the answer is scored.

    Token ids: keys ``0 ... keys - 1``, values ``keys ... keys + values - 1``, then the
    query marker and the pad token. The shortest ``seq_len`` is ``2 pairs + 2``.

    Raises
    ------
    ValueError
        If ``pairs`` exceeds ``keys`` (keys must be distinct) or what ``seq_len`` holds,
        or if ``min_pairs`` is not in ``1 ... pairs``.
    """

    name = "retrieval"

    def __init__(self, pairs=8, min_pairs=1, keys=32, values=32, seq_len=None,
                 vocab_size=None, test_fraction=0.1):
        self.pairs = check_int_at_least("pairs", pairs, 1)
        self.min_pairs = check_int_at_least("min_pairs", min_pairs, 1)
        self.keys = check_int_at_least("keys", keys, 1)
        self.values = check_int_at_least("values", values, 1)
        self.test_fraction = check_fraction("test_fraction", test_fraction)
        if self.min_pairs > self.pairs:
            raise ValueError(f"min_pairs {min_pairs} exceeds pairs {pairs}")
        if self.pairs > self.keys:
            raise ValueError(f"pairs {pairs} exceeds the {keys} distinct keys; "
                             f"pass keys >= {pairs}")
        if seq_len is not None and seq_len < 2 * self.pairs + 2:
            raise ValueError(f"{pairs} key-value pairs do not fit in seq_len {seq_len}: "
                             f"they need seq_len >= 2 * pairs + 2 = {2 * self.pairs + 2}; "
                             f"at most {max(0, (seq_len - 2) // 2)} pairs fit")
        self.query_token = self.keys + self.values
        self.pad_token = self.query_token + 1
        self._set_vocab(self.pad_token + 1, vocab_size)
        self._set_seq_len(2 * self.pairs + 2, seq_len, f"{pairs} key-value pairs")

    def describe(self):
        return {"task": self.name, "pairs": self.pairs, "min_pairs": self.min_pairs,
                "keys": self.keys, "values": self.values, "seq_len": self.seq_len,
                "vocab_size": self.vocab_size, "test_fraction": self.test_fraction}

    def _draw(self, count, generator):
        slots = self.pairs
        keys = _distinct_tokens(generator, count, self.keys, slots)
        values = self.keys + generator.integers(0, self.values, size=(count, slots))
        used = generator.integers(self.min_pairs, self.pairs + 1, size=count)
        # Row r uses the last used[r] slots; the query picks one of them.
        query_slot = slots - 1 - generator.integers(0, used)
        unused = np.arange(slots)[None, :] < (slots - used)[:, None]

        content = np.empty((count, 2 * slots + 3), dtype=np.int64)
        content[:, 0:2 * slots:2] = np.where(unused, self.pad_token, keys)
        content[:, 1:2 * slots:2] = np.where(unused, self.pad_token, values)
        rows = np.arange(count)
        content[:, -3] = self.query_token
        content[:, -2] = keys[rows, query_slot]
        content[:, -1] = values[rows, query_slot]
        return self._pack(content, 1)


class Induction(StreamTask):
    """Induction on a repeated random sequence.

    Content: ``r r``, where ``r`` contains ``length`` distinct ids drawn uniformly from
    ``0 ... alphabet - 1``. Every prediction inside the second copy is scored: the target
    after the token ``r_i`` of the second copy is ``r_{i+1}``, which is the token that
    followed ``r_i`` in the first copy, so the context determines every scored target.
    There are ``length - 1`` scored positions. Token ids: the alphabet and then the pad
    token. The shortest ``seq_len`` is ``2 length - 1``.

    Raises
    ------
    ValueError
        If ``length`` exceeds ``alphabet`` (the tokens of ``r`` are distinct), or the
        repeated sequence does not fit in ``seq_len``.
    """

    name = "induction"

    def __init__(self, length=16, alphabet=32, seq_len=None, vocab_size=None, test_fraction=0.1):
        self.length = check_int_at_least("length", length, 2)
        self.alphabet = check_int_at_least("alphabet", alphabet, 2)
        self.test_fraction = check_fraction("test_fraction", test_fraction)
        if self.length > self.alphabet:
            raise ValueError(f"length {length} exceeds the alphabet of {alphabet} distinct "
                             f"tokens; pass alphabet >= {length}")
        self.pad_token = self.alphabet
        self._set_vocab(self.alphabet + 1, vocab_size)
        self._set_seq_len(2 * self.length - 1, seq_len,
                          f"a sequence of length {length} and its repeat")

    def describe(self):
        return {"task": self.name, "length": self.length, "alphabet": self.alphabet,
                "seq_len": self.seq_len, "vocab_size": self.vocab_size,
                "test_fraction": self.test_fraction}

    def _draw(self, count, generator):
        sequence = _distinct_tokens(generator, count, self.alphabet, self.length)
        return self._pack(np.concatenate([sequence, sequence], axis=1), self.length - 1)


def hop_answer(tokens, hops):
    """Return the ``hops``-hop induction answer at the last position of each row, or -1.

    For a row ``x`` and a position ``i``, ``prev(i)`` is the largest ``j < i`` with
    ``x_j = x_i`` and ``hop(i) = prev(i) + 1``, the position after the latest earlier
    occurrence of the current token. The answer is ``x[hop^k(i)]`` for ``i`` the last
    position and ``k = hops``. One hop is plain induction. A row where some ``prev`` does
    not exist gets -1.
    """
    tokens = np.asarray(tokens)
    answers = np.full(tokens.shape[0], -1, dtype=np.int64)
    for row_index, row in enumerate(tokens):
        position = len(row) - 1
        for _ in range(hops):
            earlier = np.flatnonzero(row[:position] == row[position])
            if earlier.size == 0:
                break
            position = int(earlier[-1]) + 1
        else:
            answers[row_index] = row[position]
    return answers


class MultiHop(StreamTask):
    """k-hop induction: follow ``hops`` induction steps back from the last token.

    The answer is :func:`hop_answer` at the last position. A generated row plants a chain
    of ``hops + 1`` distinct tokens ``c_0 ... c_k`` as the bigrams
    ``(c_{k-1}, c_k), ..., (c_1, c_2), (c_0, c_1)`` in this order, ends with the query
    ``c_0``, and places ``seq_len - 2 k - 1`` filler tokens in the gaps before, between
    and after the bigrams (each filler's gap uniform among the ``k + 1`` gaps, never
    inside a bigram or after the query). Fillers are uniform over the alphabet without
    the chain's tokens, so each chain token ``c_j`` with ``0 < j < k`` occurs exactly
    twice and the hops starting at the query visit ``c_1, c_2, ..., c_k``: the answer is
    ``c_k``. Only the answer is scored.

    Token ids: the alphabet and then the pad token, which this task never places. The
    shortest ``seq_len`` is ``2 hops + 1``.

    Raises
    ------
    ValueError
        If the chain of ``2 hops + 1`` tokens does not fit in ``seq_len``, or the alphabet
        has fewer than ``hops + 1`` tokens (``hops + 2`` when fillers are needed).
    """

    name = "multihop"

    def __init__(self, hops=2, alphabet=32, seq_len=None, vocab_size=None, test_fraction=0.1):
        self.hops = check_int_at_least("hops", hops, 1)
        self.alphabet = check_int_at_least("alphabet", alphabet, 2)
        self.test_fraction = check_fraction("test_fraction", test_fraction)
        if seq_len is not None and seq_len < 2 * self.hops + 1:
            raise ValueError(f"a {hops}-hop chain does not fit in seq_len {seq_len}: it needs "
                             f"seq_len >= 2 * hops + 1 = {2 * self.hops + 1}; at most "
                             f"{max(0, (seq_len - 1) // 2)} hops fit")
        self._set_seq_len(2 * self.hops + 1, seq_len, f"a {hops}-hop chain")
        needed = self.hops + 1 + (1 if self.seq_len > 2 * self.hops + 1 else 0)
        if self.alphabet < needed:
            raise ValueError(f"alphabet {alphabet} is too small for {hops} hops with "
                             f"seq_len {self.seq_len}; pass alphabet >= {needed}")
        self.pad_token = self.alphabet
        self._set_vocab(self.alphabet + 1, vocab_size)

    def describe(self):
        return {"task": self.name, "hops": self.hops, "alphabet": self.alphabet,
                "seq_len": self.seq_len, "vocab_size": self.vocab_size,
                "test_fraction": self.test_fraction}

    def _draw(self, count, generator):
        hops = self.hops
        fillers = self.seq_len - 2 * hops - 1
        chains = _distinct_tokens(generator, count, self.alphabet, hops + 1)
        gaps = generator.integers(0, hops + 1, size=(count, fillers))
        filler_draws = generator.integers(0, self.alphabet - hops - 1, size=(count, fillers))

        content = np.empty((count, self.seq_len + 1), dtype=np.int64)
        for row in range(count):
            chain = chains[row]
            # Map 0 ... alphabet - hops - 2 onto the ids outside the chain, in order.
            outside = np.setdiff1d(np.arange(self.alphabet), chain, assume_unique=True)
            filler_tokens = outside[filler_draws[row]]
            gap_sizes = np.bincount(gaps[row], minlength=hops + 1)
            pieces = []
            used = 0
            for gap, j in enumerate(range(hops - 1, -1, -1)):
                pieces.append(filler_tokens[used:used + gap_sizes[gap]])
                used += gap_sizes[gap]
                pieces.append(chain[[j, j + 1]])
            pieces.append(filler_tokens[used:])
            pieces.append(chain[[0, hops]])
            content[row] = np.concatenate(pieces)
        return self._pack(content, 1)
