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

    With ``queries = q > 1`` the marker is followed by ``q`` questions
    ``k_{j_1} v_{j_1} ... k_{j_q} v_{j_q}`` about distinct pairs, and every answer is
    scored: multi-query associative recall, which gives ``q`` training signals per
    sequence. One query is the needle-in-a-haystack format of Dong et al. 2025.

    Token ids: keys ``0 ... keys - 1``, values ``keys ... keys + values - 1``, then the
    query marker and the pad token. The shortest ``seq_len`` is ``2 pairs + 2 queries``.

    Raises
    ------
    ValueError
        If ``pairs`` exceeds ``keys`` (keys must be distinct) or what ``seq_len`` holds,
        if ``min_pairs`` is not in ``1 ... pairs``, or if ``queries`` exceeds
        ``min_pairs`` (each question asks about a different pair).
    """

    name = "retrieval"

    def __init__(self, pairs=8, min_pairs=1, keys=32, values=32, queries=1, seq_len=None,
                 vocab_size=None, test_fraction=0.1):
        self.pairs = check_int_at_least("pairs", pairs, 1)
        self.min_pairs = check_int_at_least("min_pairs", min_pairs, 1)
        self.queries = check_int_at_least("queries", queries, 1)
        self.keys = check_int_at_least("keys", keys, 1)
        self.values = check_int_at_least("values", values, 1)
        self.test_fraction = check_fraction("test_fraction", test_fraction)
        if self.min_pairs > self.pairs:
            raise ValueError(f"min_pairs {min_pairs} exceeds pairs {pairs}")
        if self.pairs > self.keys:
            raise ValueError(f"pairs {pairs} exceeds the {keys} distinct keys; "
                             f"pass keys >= {pairs}")
        if self.queries > self.min_pairs:
            raise ValueError(f"queries {queries} exceeds min_pairs {self.min_pairs}: each "
                             f"query asks about a different pair; pass queries <= min_pairs")
        shortest = 2 * self.pairs + 2 * self.queries
        if seq_len is not None and seq_len < shortest:
            raise ValueError(f"{pairs} key-value pairs and {queries} queries do not fit in "
                             f"seq_len {seq_len}: they need seq_len >= 2 * pairs + 2 * queries "
                             f"= {shortest}; at most "
                             f"{max(0, (seq_len - 2 * self.queries) // 2)} pairs fit")
        self.query_token = self.keys + self.values
        self.pad_token = self.query_token + 1
        self._set_vocab(self.pad_token + 1, vocab_size)
        self._set_seq_len(shortest, seq_len, f"{pairs} key-value pairs")

    def describe(self):
        return {"task": self.name, "pairs": self.pairs, "min_pairs": self.min_pairs,
                "keys": self.keys, "values": self.values, "queries": self.queries,
                "seq_len": self.seq_len,
                "vocab_size": self.vocab_size, "test_fraction": self.test_fraction}

    def _draw(self, count, generator):
        slots = self.pairs
        keys = _distinct_tokens(generator, count, self.keys, slots)
        values = self.keys + generator.integers(0, self.values, size=(count, slots))
        used = generator.integers(self.min_pairs, self.pairs + 1, size=count)
        # Row r uses the last used[r] slots. Its queries are the first q used slots in a
        # uniform random order of the slots, so they are distinct.
        order = np.argsort(generator.random((count, slots)), axis=1)
        used_order = np.argsort(order >= used[:, None], axis=1, kind="stable")
        query_slot = slots - 1 - np.take_along_axis(order, used_order, axis=1)[:, :self.queries]
        unused = np.arange(slots)[None, :] < (slots - used)[:, None]

        content = np.empty((count, 2 * slots + 1 + 2 * self.queries), dtype=np.int64)
        content[:, 0:2 * slots:2] = np.where(unused, self.pad_token, keys)
        content[:, 1:2 * slots:2] = np.where(unused, self.pad_token, values)
        content[:, 2 * slots] = self.query_token
        content[:, 2 * slots + 1::2] = np.take_along_axis(keys, query_slot, axis=1)
        content[:, 2 * slots + 2::2] = np.take_along_axis(values, query_slot, axis=1)
        batch = self._pack(content, 2 * self.queries - 1)
        # The last 2 q - 1 targets alternate value, key, value: only the values are scored.
        batch.mask[:, self.seq_len - 2 * self.queries + 2::2] = False
        return batch


class Induction(StreamTask):
    """Induction on a repeated random sequence.

    Content: ``r r``, where ``r`` contains ``l`` distinct ids drawn uniformly from
    ``0 ... alphabet - 1``. Every prediction inside the second copy is scored: the target
    after the token ``r_i`` of the second copy is ``r_{i+1}``, which is the token that
    followed ``r_i`` in the first copy, so the context determines every scored target.
    There are ``l - 1`` scored positions. Token ids: the alphabet and then the pad
    token. The shortest ``seq_len`` is ``2 length - 1``.

    The length ``l`` is uniform in ``min_length ... length`` (``length`` by default), and
    the ``2 (length - l)`` positions before ``r r`` hold filler tokens, uniform over the
    alphabet without the tokens of ``r`` (so the alphabet needs ``length + 1`` tokens
    when lengths vary). With one length the earlier copy is always ``l - 1`` positions
    back, so attention to a fixed offset, found from positions alone, solves the task.
    Varying lengths remove that offset. Fillers that look like ``r``'s tokens also
    defeat counting which tokens occurred twice, which uniform attention could do. What
    is left is matching the current token's earlier occurrence: an induction head.

    Raises
    ------
    ValueError
        If ``length`` exceeds ``alphabet`` (the tokens of ``r`` are distinct), the
        repeated sequence does not fit in ``seq_len``, or ``min_length`` is not in
        ``2 ... length``.
    """

    name = "induction"

    def __init__(self, length=16, alphabet=32, min_length=None, seq_len=None, vocab_size=None,
                 test_fraction=0.1):
        self.length = check_int_at_least("length", length, 2)
        self.alphabet = check_int_at_least("alphabet", alphabet, 2)
        self.min_length = self.length if min_length is None else check_int_at_least(
            "min_length", min_length, 2)
        self.test_fraction = check_fraction("test_fraction", test_fraction)
        if self.min_length > self.length:
            raise ValueError(f"min_length {min_length} exceeds length {length}")
        if self.length > self.alphabet:
            raise ValueError(f"length {length} exceeds the alphabet of {alphabet} distinct "
                             f"tokens; pass alphabet >= {length}")
        if self.min_length < self.length and self.alphabet < self.length + 1:
            raise ValueError(f"alphabet {alphabet} leaves no filler token beside a sequence "
                             f"of length {length}; pass alphabet >= {self.length + 1}")
        self.pad_token = self.alphabet
        self._set_vocab(self.alphabet + 1, vocab_size)
        self._set_seq_len(2 * self.length - 1, seq_len,
                          f"a sequence of length {length} and its repeat")

    def describe(self):
        return {"task": self.name, "length": self.length, "min_length": self.min_length,
                "alphabet": self.alphabet, "seq_len": self.seq_len,
                "vocab_size": self.vocab_size, "test_fraction": self.test_fraction}

    def _draw(self, count, generator):
        longest = self.length
        sequence = _distinct_tokens(generator, count, self.alphabet, longest)
        lengths = generator.integers(self.min_length, longest + 1, size=count)
        in_r = np.arange(longest)[None, :] >= (longest - lengths)[:, None]

        # Row r repeats the last l = lengths[r] tokens of its draw, right-aligned: content
        # column c >= start = 2 (longest - l) is token (longest - l) + (c - start) mod l.
        start = 2 * (longest - lengths)[:, None]
        columns = np.arange(2 * longest)[None, :]
        source = (longest - lengths)[:, None] + np.mod(columns - start, lengths[:, None])
        repeated = np.take_along_axis(sequence, source, axis=1)

        # Fillers are uniform over the ids outside the row's r: order the ids with r's
        # tokens last and pick among the first alphabet - l of them.
        is_in_r = np.zeros((count, self.alphabet), dtype=bool)
        is_in_r[np.nonzero(in_r)[0], sequence[in_r]] = True
        outside_first = np.argsort(is_in_r, axis=1, kind="stable")
        choices = (self.alphabet - lengths)[:, None]
        picks = np.floor(generator.random((count, 2 * longest)) * choices).astype(np.int64)
        fillers = np.take_along_axis(outside_first, picks, axis=1)

        content = np.where(columns >= start, repeated, fillers)
        batch = self._pack(content, longest - 1)
        # A row of length l scores its last l - 1 targets only.
        scored_from = self.seq_len - (lengths - 1)
        batch.mask[:] = np.arange(self.seq_len)[None, :] >= scored_from[:, None]
        return batch


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
