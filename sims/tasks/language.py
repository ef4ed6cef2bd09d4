"""Character-level language modeling on the committed corpus."""

import numpy as np

from sims.data import load_corpus, sample_sequences
from sims.hyperparameters import check_positive_int
from sims.tasks.base import Task, TaskBatch, check_generator, check_split


class CharacterModeling(Task):
    """Next-character prediction on windows of the corpus; every position is scored.

    The train split draws windows from the first 90% of the corpus and the test split
    from the last 10% (:func:`sims.data.load_corpus`). A window and its shifted targets
    lie inside one stretch, so the splits share no text. Token ids are the corpus codes.
    """

    name = "language"

    def __init__(self, seq_len=64, vocab_size=None):
        check_positive_int("seq_len", seq_len)
        self.corpus = load_corpus()
        heldout = len(self.corpus.heldout)
        if seq_len >= heldout:
            raise ValueError(f"seq_len {seq_len} must be shorter than the held-out text of "
                             f"{heldout} characters")
        self.seq_len = int(seq_len)
        self._set_vocab(self.corpus.vocab_size, vocab_size)

    def describe(self):
        return {"task": self.name, "seq_len": self.seq_len, "vocab_size": self.vocab_size}

    def sample(self, split, batch_size, generator):
        check_split(split)
        check_positive_int("batch_size", batch_size)
        check_generator(generator)
        codes = self.corpus.train if split == "train" else self.corpus.heldout
        tokens, targets = sample_sequences(codes, self.seq_len, batch_size, [generator])
        return TaskBatch(tokens[0], targets[0], np.ones(tokens[0].shape, dtype=bool))
