"""Task generators: answers recomputed, fixed shapes, determinism, disjoint splits, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sims.data import load_corpus
from sims.tasks import (
    FINITE_TASKS, SCALE_OPTIONS, TASKS, hop_answer, make_task, row_hash_fraction, task_options,
)

STREAM_TASKS = [name for name in TASKS if name not in FINITE_TASKS and name != "language"]


def build(name, seed=0, **options):
    return make_task(name, np.random.default_rng(seed), **options)


@pytest.mark.parametrize("scale", ["smoke", "quick"])
@pytest.mark.parametrize("name", list(TASKS))
def test_batch_shapes_and_ranges(name, scale):
    task = build(name, **task_options(name, scale))
    # Memorization has no test split at these scales: its test accuracy would be chance.
    splits = ("train",) if name == "memorization" else ("train", "test")
    for split in splits:
        batch = task.sample(split, 5, np.random.default_rng(1))
        assert batch.tokens.shape == (5, task.seq_len)
        assert batch.targets.shape == (5, task.seq_len)
        assert batch.mask.shape == (5, task.seq_len)
        assert batch.tokens.dtype == np.int64
        assert batch.mask.dtype == bool
        assert batch.tokens.min() >= 0
        assert batch.targets.max() < task.vocab_size
        assert batch.tokens.max() < task.vocab_size
        assert batch.mask.any(axis=1).all()


@pytest.mark.parametrize("name", list(TASKS))
def test_sampling_is_deterministic(name):
    options = task_options(name, "smoke")
    first = build(name, 3, **options).sample("train", 6, np.random.default_rng(9))
    second = build(name, 3, **options).sample("train", 6, np.random.default_rng(9))
    other = build(name, 3, **options).sample("train", 6, np.random.default_rng(10))
    for field in ("tokens", "targets", "mask"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
    assert not np.array_equal(np.stack([first.tokens, first.targets]),
                              np.stack([other.tokens, other.targets]))


@pytest.mark.parametrize("name", STREAM_TASKS + ["language"])
def test_targets_are_next_tokens(name):
    task = build(name, **task_options(name, "quick"))
    batch = task.sample("train", 8, np.random.default_rng(2))
    np.testing.assert_array_equal(batch.targets[:, :-1], batch.tokens[:, 1:])


@given(pairs=st.integers(1, 6), extra=st.integers(0, 5), seed=st.integers(0, 2**32 - 1))
def test_retrieval_answers(pairs, extra, seed):
    task = make_task("retrieval", pairs=pairs, keys=pairs + 2, values=5,
                     seq_len=2 * pairs + 2 + extra)
    batch = task.sample("train", 16, np.random.default_rng(seed))
    for tokens, targets, mask in zip(batch.tokens, batch.targets, batch.mask):
        assert tokens[-2] == task.query_token
        key = tokens[-1]
        assert key < task.keys
        occurrences = np.flatnonzero(tokens[:-2] == key)
        assert occurrences.size == 1
        assert targets[-1] == tokens[occurrences[0] + 1]
        assert task.keys <= targets[-1] < task.keys + task.values
        keys_in_context = tokens[:-2][tokens[:-2] < task.keys]
        assert len(set(keys_in_context)) == keys_in_context.size
        assert 1 <= keys_in_context.size <= pairs
        assert mask.tolist() == [False] * (task.seq_len - 1) + [True]


@given(length=st.integers(2, 8), extra=st.integers(0, 4), seed=st.integers(0, 2**32 - 1))
def test_induction_answers(length, extra, seed):
    task = make_task("induction", length=length, alphabet=length + 3,
                     seq_len=2 * length - 1 + extra)
    batch = task.sample("train", 8, np.random.default_rng(seed))
    assert (batch.mask.sum(axis=1) == length - 1).all()
    for tokens, targets, mask in zip(batch.tokens, batch.targets, batch.mask):
        for position in np.flatnonzero(mask):
            earlier = np.flatnonzero(tokens[:position] == tokens[position])
            assert earlier.size == 1
            assert targets[position] == tokens[earlier[0] + 1]
        assert hop_answer(tokens[None], 1)[0] == targets[-1]


@given(length=st.integers(2, 7), shorter=st.integers(0, 5), extra_alphabet=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
def test_induction_with_varying_lengths_answers(length, shorter, extra_alphabet, seed):
    min_length = max(2, length - shorter)
    task = make_task("induction", length=length, min_length=min_length,
                     alphabet=length + extra_alphabet)
    batch = task.sample("train", 16, np.random.default_rng(seed))
    scored = batch.mask.sum(axis=1)
    assert ((scored >= min_length - 1) & (scored <= length - 1)).all()
    for tokens, targets, mask, count in zip(batch.tokens, batch.targets, batch.mask, scored):
        repeated = count + 1
        copy = np.concatenate([tokens, targets[-1:]])[-2 * repeated:]
        first, second = copy[:repeated], copy[repeated:]
        np.testing.assert_array_equal(first, second)
        assert len(set(first.tolist())) == repeated
        # Fillers before the repeat never use the repeated tokens.
        fillers = tokens[:tokens.size + 1 - 2 * repeated]
        assert not set(fillers.tolist()) & set(first.tolist())
        assert mask.tolist() == [False] * (task.seq_len - count) + [True] * count
        for position in np.flatnonzero(mask):
            earlier = np.flatnonzero(tokens[:position] == tokens[position])
            assert earlier.size == 1
            assert targets[position] == tokens[earlier[0] + 1]


@given(pairs=st.integers(1, 6), queries=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_multi_query_retrieval_answers(pairs, queries, seed):
    queries = min(queries, pairs)
    task = make_task("retrieval", pairs=pairs, min_pairs=queries, queries=queries,
                     keys=pairs + 2, values=5)
    batch = task.sample("train", 16, np.random.default_rng(seed))
    assert (batch.mask.sum(axis=1) == queries).all()
    for tokens, targets, mask in zip(batch.tokens, batch.targets, batch.mask):
        marker = int(np.flatnonzero(tokens == task.query_token)[0])
        context = tokens[:marker]
        queried = tokens[marker + 1::2]
        assert len(set(queried.tolist())) == queries
        for position in np.flatnonzero(mask):
            key = tokens[position]
            occurrence = np.flatnonzero(context == key)
            assert occurrence.size == 1
            assert targets[position] == context[occurrence[0] + 1]


def test_hop_answer_worked_example():
    # Position 5 contains 0; its earlier 0 is at 2, so hop 1 lands on 3 (token 1); the earlier
    # 1 is at 0, so hop 2 lands on 1 (token 2); 2 has no earlier occurrence before 1.
    tokens = np.array([[1, 2, 0, 1, 7, 0]])
    assert hop_answer(tokens, 1).tolist() == [1]
    assert hop_answer(tokens, 2).tolist() == [2]
    assert hop_answer(tokens, 3).tolist() == [-1]


@given(hops=st.integers(1, 5), extra=st.integers(0, 6), seed=st.integers(0, 2**32 - 1))
def test_multihop_answers(hops, extra, seed):
    task = make_task("multihop", hops=hops, alphabet=hops + 4, seq_len=2 * hops + 1 + extra)
    batch = task.sample("train", 8, np.random.default_rng(seed))
    np.testing.assert_array_equal(hop_answer(batch.tokens, hops), batch.targets[:, -1])
    assert (batch.mask.sum(axis=1) == 1).all()
    assert batch.mask[:, -1].all()
    # Fewer hops than planted end on another chain token, never on the answer.
    if hops > 1:
        assert not np.any(hop_answer(batch.tokens, hops - 1) == batch.targets[:, -1])


@given(digits=st.integers(1, 6), extra=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_decimal_addition_answers(digits, extra, seed):
    task = make_task("decimal_addition", digits=digits, seq_len=3 * digits + 2 + extra)
    batch = task.sample("test", 8, np.random.default_rng(seed))
    powers = 10 ** np.arange(digits + 1)
    for tokens, targets, mask in zip(batch.tokens, batch.targets, batch.mask):
        sequence = np.append(tokens, targets[-1])
        problem = sequence[-(3 * digits + 3):]
        a = int(problem[:digits] @ powers[:digits])
        b = int(problem[digits + 1:2 * digits + 1] @ powers[:digits])
        total = int(problem[2 * digits + 2:] @ powers)
        assert problem[digits] == task.plus_token
        assert problem[2 * digits + 1] == task.equals_token
        assert total == a + b
        assert mask.sum() == digits + 1
        assert mask[-(digits + 1):].all()


def test_modular_addition_answers_and_splits():
    task = build("modular_addition", p=13, train_fraction=0.7)
    train, test = task.examples("train"), task.examples("test")
    for split in (train, test):
        a, b = split.tokens[:, 0], split.tokens[:, 1]
        np.testing.assert_array_equal(split.targets[:, 1], (a + b) % 13)
        assert split.mask[:, 1].all()
        assert not split.mask[:, 0].any()
    pairs = [set(map(tuple, split.tokens.tolist())) for split in (train, test)]
    assert pairs[0].isdisjoint(pairs[1])
    assert len(pairs[0]) + len(pairs[1]) == 13 * 13
    assert len(pairs[0]) == round(0.7 * 169)


def test_modular_addition_split_depends_on_generator():
    first = build("modular_addition", 0, p=11).examples("test").tokens
    second = build("modular_addition", 1, p=11).examples("test").tokens
    assert not np.array_equal(first, second)


def test_memorization_examples_and_splits():
    task = build("memorization", keys=10, labels=7, examples=60, test_examples=30)
    train, test = task.examples("train"), task.examples("test")
    assert len(train) == 60
    assert len(test) == 30
    inputs = [set(map(tuple, split.tokens.tolist())) for split in (train, test)]
    assert len(inputs[0]) == 60
    assert len(inputs[1]) == 30
    assert inputs[0].isdisjoint(inputs[1])
    for split in (train, test):
        assert (split.tokens[:, 0] < 10).all()
        assert ((split.tokens[:, 1] >= 10) & (split.tokens[:, 1] < 20)).all()
        assert ((split.targets[:, 1] >= 20) & (split.targets[:, 1] < 27)).all()
    assert task.bits == pytest.approx(60 * np.log2(7))
    batch = task.sample("train", 40, np.random.default_rng(0))
    lookup = {tuple(row): label for row, label in zip(train.tokens.tolist(), train.targets[:, 1])}
    for row, label in zip(batch.tokens.tolist(), batch.targets[:, 1]):
        assert lookup[tuple(row)] == label


def test_language_windows_come_from_their_split():
    corpus = load_corpus()
    task = make_task("language", seq_len=12)
    for split, codes in (("train", corpus.train), ("test", corpus.heldout)):
        text = "".join(corpus.alphabet[c] for c in codes)
        batch = task.sample(split, 4, np.random.default_rng(5))
        assert batch.mask.all()
        for tokens, targets in zip(batch.tokens, batch.targets):
            window = "".join(corpus.alphabet[c] for c in np.append(tokens, targets[-1]))
            assert window in text


@pytest.mark.parametrize("name, options", [
    ("decimal_addition", {"digits": 2}),
    ("retrieval", {"pairs": 2, "keys": 4, "values": 4}),
    ("induction", {"length": 3, "alphabet": 5}),
    ("multihop", {"hops": 1, "alphabet": 4, "seq_len": 4}),
])
def test_stream_splits_share_no_problem(name, options):
    task = make_task(name, **options)
    train = task.sample("train", 300, np.random.default_rng(0))
    test = task.sample("test", 300, np.random.default_rng(1))
    assert (row_hash_fraction(test.tokens) < task.test_fraction).all()
    assert (row_hash_fraction(train.tokens) >= task.test_fraction).all()
    train_rows = set(map(tuple, train.tokens.tolist()))
    test_rows = set(map(tuple, test.tokens.tolist()))
    assert train_rows.isdisjoint(test_rows)


def test_row_hash_separates_rows():
    rows = np.array([[1, 2, 3], [1, 2, 3], [3, 2, 1], [1, 2, 4]])
    fractions = row_hash_fraction(rows)
    assert fractions[0] == fractions[1]
    assert len(set(fractions[[0, 2, 3]].tolist())) == 3
    assert ((fractions >= 0) & (fractions < 1)).all()


@pytest.mark.parametrize("name, options, message", [
    ("retrieval", {"pairs": 5, "keys": 8, "seq_len": 11}, "5 key-value pairs and 1 queries do not fit in seq_len 11"),
    ("retrieval", {"pairs": 9, "keys": 8}, "pairs 9 exceeds the 8 distinct keys"),
    ("retrieval", {"pairs": 3, "min_pairs": 4}, "min_pairs 4 exceeds pairs 3"),
    ("retrieval", {"pairs": 3, "keys": 4, "values": 4, "vocab_size": 9}, "vocab_size 9 is smaller"),
    ("induction", {"length": 9, "alphabet": 8}, "length 9 exceeds the alphabet of 8"),
    ("induction", {"length": 4, "min_length": 5}, "min_length 5 exceeds length 4"),
    ("induction", {"length": 4, "min_length": 2, "alphabet": 4},
     "alphabet 4 leaves no filler token beside a sequence of length 4; pass alphabet >= 5"),
    ("retrieval", {"pairs": 4, "min_pairs": 2, "queries": 3},
     "queries 3 exceeds min_pairs 2"),
    ("retrieval", {"pairs": 3, "min_pairs": 3, "queries": 3, "seq_len": 10},
     "3 key-value pairs and 3 queries do not fit in seq_len 10"),
    ("induction", {"length": 5, "seq_len": 8}, "seq_len 8 is too short"),
    ("multihop", {"hops": 4, "seq_len": 8}, "a 4-hop chain does not fit in seq_len 8"),
    ("multihop", {"hops": 4, "alphabet": 5, "seq_len": 12}, "alphabet 5 is too small"),
    ("decimal_addition", {"digits": 19}, "digits 19 exceeds the maximum 18"),
    ("decimal_addition", {"digits": 3, "seq_len": 10}, "seq_len 10 is too short"),
    ("modular_addition", {"p": 91}, "p = 91 is not prime"),
    ("modular_addition", {"p": 599, "vocab_size": 512}, "p = 599 is too large for vocab_size 512"),
    ("modular_addition", {"p": 5, "train_fraction": 1.5}, "train_fraction must be"),
    ("memorization", {"keys": 4, "examples": 10, "test_examples": 7}, "exceeds the 16 distinct"),
    ("language", {"seq_len": 0}, "seq_len must be an integer >= 1"),
])
def test_invalid_options_raise(name, options, message):
    with pytest.raises(ValueError, match=message):
        build(name, **options)


def test_unknown_task_lists_choices():
    with pytest.raises(ValueError, match="unknown task 'sorting'; valid: retrieval, induction"):
        make_task("sorting")
    with pytest.raises(ValueError, match="unknown scale"):
        task_options("retrieval", "huge")


@pytest.mark.parametrize("name", FINITE_TASKS)
def test_finite_task_needs_generator(name):
    with pytest.raises(ValueError, match="needs a numpy.random.Generator"):
        make_task(name, **task_options(name, "smoke"))


def test_unknown_split_raise():
    task = make_task("induction")
    with pytest.raises(ValueError, match="unknown split 'valid'; valid: train, test"):
        task.sample("valid", 2, np.random.default_rng(0))


def test_scale_presets_cover_every_task():
    for scale, options in SCALE_OPTIONS.items():
        assert set(options) == set(TASKS), scale
    assert task_options("modular_addition", "paper")["p"] == 599
    assert task_options("multihop", "paper")["hops"] == 16


def test_nearly_empty_split_raise():
    # One key and one value leave a single problem, which lies in one split only.
    task = make_task("retrieval", pairs=1, keys=1, values=1)
    problem = task._draw(1, np.random.default_rng(0)).tokens
    empty_split = "train" if row_hash_fraction(problem)[0] < task.test_fraction else "test"
    with pytest.raises(RuntimeError, match=f"found only 0 of 2 {empty_split} problems"):
        task.sample(empty_split, 2, np.random.default_rng(0))


def test_unknown_option_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown option 'bogus' of task 'retrieval'; valid: pairs"):
        make_task("retrieval", bogus=3)


def test_memorization_with_more_examples_than_inputs_raises():
    with pytest.raises(ValueError, match="examples 100 exceeds the 16 distinct inputs"):
        make_task("memorization", np.random.default_rng(0), examples=100, keys=4)
