"""Character-level next-token prediction on the committed text corpus."""

import functools
import hashlib
import pathlib
from dataclasses import dataclass

import numpy as np

from sims.hyperparameters import check_positive_int

CORPUS_PATH = pathlib.Path(__file__).with_name("corpus.txt")
CORPUS_SHA256 = "6df88539f8c118899bbab03cb41979e373560aeaa4b5b4485f04ef3fdc0aac81"
HELDOUT_FRACTION = 0.1


@dataclass(frozen=True)
class Corpus:
    """The corpus as integer codes, split into a training and a held-out stretch.

    Attributes
    ----------
    alphabet : str
        The distinct symbols in sorted order; code ``i`` is ``alphabet[i]``.
    train, heldout : numpy.ndarray of uint8
        The first 90% and the last 10% of the text.
    """

    alphabet: str
    train: np.ndarray
    heldout: np.ndarray

    @property
    def vocab_size(self):
        return len(self.alphabet)

    def split(self, name):
        """Return the codes of ``"train"`` or ``"heldout"``."""
        if name not in ("train", "heldout"):
            raise ValueError(f"unknown split {name!r}; valid: train, heldout")
        return self.train if name == "train" else self.heldout


@functools.lru_cache(maxsize=1)
def load_corpus():
    """Load and check the committed corpus.

    Raises
    ------
    RuntimeError
        If the file's SHA-256 differs from ``CORPUS_SHA256``.
    """
    raw = CORPUS_PATH.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CORPUS_SHA256:
        raise RuntimeError(f"{CORPUS_PATH} has SHA-256 {digest}, expected {CORPUS_SHA256}; "
                           "restore it from the repository")
    text = raw.decode("ascii")
    alphabet = "".join(sorted(set(text)))
    lookup = np.zeros(128, dtype=np.uint8)
    lookup[[ord(symbol) for symbol in alphabet]] = np.arange(len(alphabet), dtype=np.uint8)
    codes = lookup[np.frombuffer(raw, dtype=np.uint8)]
    cut = int(round(len(codes) * (1.0 - HELDOUT_FRACTION)))
    train = codes[:cut]
    heldout = codes[cut:]
    train.setflags(write=False)
    heldout.setflags(write=False)
    return Corpus(alphabet, train, heldout)


def sample_batch(codes, context, batch_size, generators):
    """Draw next-token examples: ``context`` symbols and the symbol that follows them.

    Member ``k`` draws its positions from ``generators[k]``.

    Parameters
    ----------
    codes : numpy.ndarray of uint8
        A split of the corpus.
    context, batch_size : int
    generators : list of numpy.random.Generator

    Returns
    -------
    tokens : numpy.ndarray of int64, shape (K, batch_size, context)
    targets : numpy.ndarray of int64, shape (K, batch_size)
    """
    check_positive_int("context", context)
    check_positive_int("batch_size", batch_size)
    if context >= len(codes):
        raise ValueError(f"context {context} must be shorter than the text ({len(codes)} symbols)")
    positions = np.stack([
        generator.integers(context, len(codes), size=batch_size) for generator in generators
    ])
    return _examples(codes, positions, context)


def sample_sequences(codes, seq_len, batch_size, generators):
    """Draw windows of ``seq_len`` symbols and the windows shifted by one symbol.

    Member ``k`` draws its start positions from ``generators[k]``. Position ``t`` of a
    target sequence is the symbol that follows position ``t`` of its input sequence.

    Parameters
    ----------
    codes : numpy.ndarray of uint8
        A split of the corpus.
    seq_len, batch_size : int
    generators : list of numpy.random.Generator

    Returns
    -------
    tokens, targets : numpy.ndarray of int64, shape (K, batch_size, seq_len)
    """
    check_positive_int("seq_len", seq_len)
    check_positive_int("batch_size", batch_size)
    if seq_len >= len(codes):
        raise ValueError(f"seq_len {seq_len} must be shorter than the text ({len(codes)} symbols)")
    starts = np.stack([
        generator.integers(0, len(codes) - seq_len, size=batch_size) for generator in generators
    ])
    window = starts[..., None] + np.arange(seq_len)
    return codes[window].astype(np.int64), codes[window + 1].astype(np.int64)


def fixed_batch(codes, context, batch_size, seed):
    """Return one batch drawn from ``seed``, the same for every member (shape ``(1, B, ...)``)."""
    return sample_batch(codes, context, batch_size, [np.random.default_rng(seed)])


def _examples(codes, positions, context):
    offsets = np.arange(-context, 0)
    tokens = codes[positions[..., None] + offsets].astype(np.int64)
    targets = codes[positions].astype(np.int64)
    return tokens, targets
