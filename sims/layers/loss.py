"""Softmax cross-entropy, one mean loss per ensemble member."""

import numpy as np


def softmax_cross_entropy(logits, targets):
    """Return each member's mean cross-entropy and its gradient with respect to ``logits``.

    ``loss_k = -mean_b log softmax(logits[k, b])[targets[k, b]]``. The log-sum-exp is taken
    after subtracting the row maximum, so large logits do not overflow; a row with a NaN
    or infinite logit gives a NaN loss for its member only.

    Parameters
    ----------
    logits : numpy.ndarray, shape (K, ..., V)
    targets : numpy.ndarray of int, shape (K, ...)

    Returns
    -------
    loss : numpy.ndarray, shape (K,)
    dlogits : numpy.ndarray, shape of ``logits``
        Gradient of ``loss_k`` with respect to member ``k``'s logits.
    """
    members = logits.shape[0]
    flat = logits.reshape(members, -1, logits.shape[-1])
    flat_targets = targets.reshape(members, -1)
    rows = flat.shape[1]

    with np.errstate(invalid="ignore", over="ignore"):
        shifted = flat - flat.max(axis=-1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=-1, keepdims=True)
        log_total = np.log(total)
        picked = np.take_along_axis(shifted, flat_targets[..., None], axis=-1)
        loss = (log_total - picked)[..., 0].mean(axis=-1)

        dlogits = exp / total
    member_index = np.arange(members)[:, None]
    row_index = np.arange(rows)[None, :]
    dlogits[member_index, row_index, flat_targets] -= 1.0
    dlogits /= rows
    return loss, dlogits.reshape(logits.shape)
