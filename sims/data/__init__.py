"""The committed text corpus and the task generators."""

from sims.data.corpus import Corpus, fixed_batch, load_corpus, sample_batch, sample_sequences

__all__ = ["Corpus", "fixed_batch", "load_corpus", "sample_batch", "sample_sequences"]
