"""The committed corpus: checksum, split and next-symbol examples."""

import hashlib

import numpy as np
import pytest

from sims.data import fixed_batch, load_corpus, sample_batch
from sims.data.corpus import CORPUS_PATH

CORPUS_SHA256 = "6df88539f8c118899bbab03cb41979e373560aeaa4b5b4485f04ef3fdc0aac81"
CORPUS_LENGTH = 947_452
VOCAB_SIZE = 96


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def text():
    return CORPUS_PATH.read_bytes().decode("ascii")


def decode(corpus, codes):
    return "".join(corpus.alphabet[int(code)] for code in codes)


def test_corpus_checksum():
    assert hashlib.sha256(CORPUS_PATH.read_bytes()).hexdigest() == CORPUS_SHA256


def test_vocab_size(corpus):
    assert corpus.vocab_size == VOCAB_SIZE


def test_alphabet_is_sorted_and_distinct(corpus):
    assert list(corpus.alphabet) == sorted(set(corpus.alphabet))


def test_split_sizes(corpus):
    assert len(corpus.train) + len(corpus.heldout) == CORPUS_LENGTH
    assert abs(len(corpus.heldout) - 0.1 * CORPUS_LENGTH) <= 1


def test_splits_are_consecutive_stretches(corpus, text):
    assert decode(corpus, corpus.train) == text[:len(corpus.train)]
    assert decode(corpus, corpus.heldout) == text[len(corpus.train):]


def test_splits_are_read_only(corpus):
    with pytest.raises(ValueError):
        corpus.train[0] = 0


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_examples_are_next_symbols(corpus, text, split):
    codes = corpus.split(split)
    stretch = decode(corpus, codes)
    generators = [np.random.default_rng(seed) for seed in (0, 1)]
    tokens, targets = sample_batch(codes, 12, 20, generators)
    assert tokens.shape == (2, 20, 12)
    assert targets.shape == (2, 20)
    for k in range(2):
        for b in range(20):
            window = decode(corpus, tokens[k, b]) + decode(corpus, [targets[k, b]])
            assert window in stretch, repr(window)


def test_members_draw_their_own_positions(corpus):
    generators = [np.random.default_rng(seed) for seed in (0, 0, 1)]
    tokens, _ = sample_batch(corpus.train, 8, 16, generators)
    np.testing.assert_array_equal(tokens[0], tokens[1])
    assert not np.array_equal(tokens[0], tokens[2])


def test_fixed_batch_repeats_for_a_seed(corpus):
    first = fixed_batch(corpus.train, 4, 8, 123)
    second = fixed_batch(corpus.train, 4, 8, 123)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_context_longer_than_text_raises(corpus):
    with pytest.raises(ValueError, match="context 5"):
        sample_batch(corpus.train[:5], 5, 2, [np.random.default_rng(0)])


def test_unknown_split_raises(corpus):
    with pytest.raises(ValueError, match="'test'"):
        corpus.split("test")
