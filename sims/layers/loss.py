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


def masked_softmax_cross_entropy(logits, targets, mask):
    """Return each member's cross-entropy averaged over masked positions, and its gradient.

    ``loss_k = -sum_b mask[k, b] log softmax(logits[k, b])[targets[k, b]] / sum_b mask[k, b]``,
    so positions where ``mask`` is false contribute neither to the loss nor to the
    gradient. The log-sum-exp is stabilized as in :func:`softmax_cross_entropy`, and a
    NaN or infinite logit at a position, masked or not, gives a NaN loss for its member
    only. With an all-true mask the result equals :func:`softmax_cross_entropy` up to
    rounding.

    Parameters
    ----------
    logits : numpy.ndarray, shape (K, ..., V)
    targets : numpy.ndarray of int, shape (K, ...)
    mask : array_like of bool, shape (K, ...) or broadcastable to it
        True where a target is scored.

    Returns
    -------
    loss : numpy.ndarray, shape (K,)
    dlogits : numpy.ndarray, shape of ``logits``
        Gradient of ``loss_k`` with respect to member ``k``'s logits; zero at unmasked
        positions.

    Raises
    ------
    ValueError
        If ``mask`` does not broadcast to the shape of ``targets``, or a member has no
        masked position, where its mean loss is undefined.
    """
    targets = np.asarray(targets)
    try:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), targets.shape)
    except ValueError:
        raise ValueError(f"mask of shape {np.shape(mask)} does not broadcast to the targets' "
                         f"shape {targets.shape}") from None
    members = logits.shape[0]
    flat = logits.reshape(members, -1, logits.shape[-1])
    flat_targets = targets.reshape(members, -1)
    flat_mask = mask.reshape(members, -1)
    counts = flat_mask.sum(axis=1)
    if np.any(counts == 0):
        empty = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"members {empty} have no masked position; the mask must select at "
                         f"least one target per member")

    with np.errstate(invalid="ignore", over="ignore"):
        shifted = flat - flat.max(axis=-1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=-1, keepdims=True)
        log_total = np.log(total)
        picked = np.take_along_axis(shifted, flat_targets[..., None], axis=-1)
        per_position = (log_total - picked)[..., 0]
        masked_sum = np.where(flat_mask, per_position, 0).sum(axis=-1)
        loss = (masked_sum / counts).astype(per_position.dtype)
        # A non-finite value at an unmasked position still marks the member as diverged.
        loss[~np.isfinite(per_position).all(axis=-1)] = np.nan

        dlogits = exp / total
    member_index = np.arange(members)[:, None]
    row_index = np.arange(flat.shape[1])[None, :]
    dlogits[member_index, row_index, flat_targets] -= 1.0
    weights = flat_mask / counts[:, None]
    dlogits *= weights[..., None].astype(dlogits.dtype)
    return loss, dlogits.reshape(logits.shape)
