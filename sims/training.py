"""Training steps of an ensemble on the corpus, with per-member divergence."""

import math

import numpy as np

from sims.data import load_corpus

DIVERGENCE_FACTOR = 3.0
"""A member diverges when its training loss exceeds this multiple of ``log V``, the loss
of the uniform prediction, or is not finite."""


def divergence_bound(vocab_size):
    """Return the loss above which a member counts as diverged."""
    return DIVERGENCE_FACTOR * math.log(vocab_size)


def train_step(ensemble, active, lr_scale=1.0):
    """Draw each member's next batch, compute its gradient and update the active members.

    Members whose loss is not finite or exceeds :func:`divergence_bound` are marked
    inactive before the update and are never updated again; the others go on unaffected.

    Parameters
    ----------
    ensemble : sims.runs.Ensemble
    active : numpy.ndarray of bool, shape (K,)
        Updated in place.
    lr_scale : float
        Schedule factor of this step.

    Returns
    -------
    numpy.ndarray, shape (K,)
        Each member's training loss on its batch, before the update.
    """
    config = ensemble.configs[0]
    corpus = load_corpus()
    tokens, targets = config.draw_examples(corpus.train, config.batch_size,
                                           ensemble.data_generators)
    with np.errstate(all="ignore"):
        loss, _ = ensemble.model.loss_and_gradients(tokens, targets)
        active &= np.isfinite(loss) & (loss <= divergence_bound(corpus.vocab_size))
        ensemble.optimizer.step(lr_scale, active)
    return loss
