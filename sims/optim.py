"""SGD, Adam and AdamW with per-group, per-member hyperparameters.

Each parameter's learning rate is ``lr[k] * scales.groups[group].lr`` for member ``k``,
and its epsilon and weight decay are the base constants times the group's factors, so
that the optimizer applies exactly the table it was built from. A member marked inactive
(for instance diverged) is not touched, and every operation is elementwise within a
member, so a NaN in one member never reaches another.

One update acts on a run of consecutive active members at once, with the per-member
factors (learning rate, decay, clipping) as a column that broadcasts over each member's
row. Each member's entries go through the same operations in the same order as when the
members are updated one at a time, so the result does not depend on how many members
share a call. Updates run in place over cache-sized chunks of the flattened parameters,
so the temporaries stay in cache and the update moves little more than the bytes it must
read and write.
"""

import math

import numpy as np

from sims.hyperparameters import OPTIMIZERS

CHUNK = 1 << 17
"""Elements per chunk of the in-place updates.

The chunk size changes speed only, never the result. Chunks of 2**17 elements (512 KiB
per array in float32, 1 MiB in float64) were the fastest of 2**13 to 2**19 for AdamW on
the parameters of a width-1024, depth-16 residual MLP. That was measured with numpy 2.4
on one thread of a 2-core AMD EPYC with 1 MiB of L2 cache per core and 32 MiB of L3.
Smaller chunks pay numpy's fixed cost per call more often, and larger ones were slower
in both dtypes.
"""


class Optimizer:
    """Common bookkeeping: per-parameter hyperparameters, step count, clipping, masks.

    Parameters
    ----------
    parameters : list of sims.parameters.Parameter
        Frozen parameters are kept out of every update, weight decay included.
    scales : sims.hyperparameters.ShapeScales
    lr : array_like, shape (K,)
        Base learning rate ``eta_base`` of each member.
    weight_decay : float
        Base weight decay ``lambda_base``; the group factor multiplies it.
    grad_clip : float or None
        If set, each member's gradient is rescaled so that its global norm over all
        trainable parameters is at most ``grad_clip``.
    """

    def __init__(self, parameters, scales, lr, weight_decay=0.0, grad_clip=None):
        self.parameters = [p for p in parameters if p.trainable]
        self.lr = np.asarray(lr, dtype=np.float64)
        if self.lr.ndim != 1:
            raise ValueError(f"lr must have one entry per member, got shape {self.lr.shape}")
        if np.any(~np.isfinite(self.lr)) or np.any(self.lr <= 0):
            raise ValueError(f"learning rates must be positive and finite, got {self.lr.tolist()}")
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"grad_clip must be positive, got {grad_clip!r}")
        self.grad_clip = grad_clip
        self.group_lr = {p: scales.groups[p.group].lr for p in self.parameters}
        self.group_decay = {
            p: float(weight_decay) * scales.groups[p.group].weight_decay for p in self.parameters
        }
        self.steps = 0

    def step(self, lr_scale=1.0, active=None):
        """Apply one update to every trainable parameter of every active member.

        Parameters
        ----------
        lr_scale : float
            Schedule factor on every learning rate at this step.
        active : array_like of bool, shape (K,), optional
            Members to update; all by default.
        """
        members = self.lr.shape[0]
        active = np.ones(members, dtype=bool) if active is None else np.asarray(active, dtype=bool)
        self.steps += 1
        clip = self._clip_factors(active)
        for start, stop in _member_runs(active, clip != 1.0):
            run = slice(start, stop)
            # Parameters that share a group's rules and a dtype share their factors.
            factors = {}
            for parameter in self.parameters:
                if parameter.grad is None:
                    continue
                key = (self.group_lr[parameter], self.group_decay[parameter], parameter.value.dtype)
                if key not in factors:
                    lr = self.lr[run] * self.group_lr[parameter] * lr_scale
                    factors[key] = self._member_factors(parameter, lr, clip[run])
                self._update_members(parameter, run, factors[key])

    def _clip_factors(self, active):
        factors = np.ones(self.lr.shape[0])
        if self.grad_clip is None:
            return factors
        squared = np.zeros(self.lr.shape[0])
        for parameter in self.parameters:
            if parameter.grad is not None:
                flat = parameter.grad.reshape(parameter.grad.shape[0], -1)
                squared += np.einsum("ki,ki->k", flat, flat, dtype=np.float64)
        norms = np.sqrt(squared)
        with np.errstate(divide="ignore", invalid="ignore"):
            factors = np.where(norms > self.grad_clip, self.grad_clip / norms, 1.0)
        return np.where(active, factors, 1.0)

    def _member_factors(self, parameter, lr, clip):
        """Return this step's per-member factors for ``parameter`` and its group.

        ``lr`` and ``clip`` hold one float64 entry per member of a run from
        :func:`_member_runs`, so ``clip`` is either all 1 or nowhere 1.
        """
        raise NotImplementedError

    def _update_members(self, parameter, members, factors):
        """Update the members ``members`` (a slice) of ``parameter`` in place."""
        raise NotImplementedError


def _member_runs(active, clipped):
    """Return ``(start, stop)`` of each run of consecutive active members.

    A run also ends where clipping starts or stops, so that the gradients of a run are
    either all clipped or all left as they are.
    """
    labels = np.where(active, 1 + clipped.astype(np.int8), 0)
    edges = (np.flatnonzero(np.diff(labels)) + 1).tolist()
    bounds = zip([0] + edges, edges + [labels.size])
    return [(start, stop) for start, stop in bounds if labels[start]]


class SGD(Optimizer):
    """Plain SGD with decoupled weight decay: ``p <- (1 - eta lambda) p - eta g``.

    Without momentum, decoupled decay equals an L2 penalty ``lambda p / 2`` in the loss.
    """

    def _member_factors(self, parameter, lr, clip):
        decay = None
        if self.group_decay[parameter]:
            # Rounded to the parameter's dtype, as a Python float factor would be.
            decay = (1.0 - lr * self.group_decay[parameter]).astype(parameter.value.dtype)
        # lr * clip stays float64, so the product with the gradient is formed in float64.
        return decay, lr * clip

    def _update_members(self, parameter, members, factors):
        decay, rate = factors
        value = parameter.value[members]
        column = (-1,) + (1,) * (value.ndim - 1)
        if decay is not None:
            value *= decay.reshape(column)
        value -= rate.reshape(column) * parameter.grad[members]


class AdamW(Optimizer):
    """AdamW as PyTorch implements it (Loshchilov and Hutter 2019).

    ``p <- p (1 - eta lambda)``, then with ``m <- b1 m + (1 - b1) g``,
    ``v <- b2 v + (1 - b2) g**2`` and bias corrections ``1 - b**t``:
    ``p <- p - eta m_hat / (sqrt(v_hat) + eps)``. With ``weight_decay = 0`` this is Adam.

    Parameters
    ----------
    eps : float
        Base epsilon ``epsilon_base``; the group factor multiplies it.
    betas : tuple of float
        ``(b1, b2)``; the default (0.9, 0.95) is that of the CompleteP reference code.
    """

    def __init__(self, parameters, scales, lr, eps=1e-8, weight_decay=0.0, betas=(0.9, 0.95),
                 grad_clip=None):
        super().__init__(parameters, scales, lr, weight_decay, grad_clip)
        self.betas = tuple(float(b) for b in betas)
        self.group_eps = {p: float(eps) * scales.groups[p.group].eps for p in self.parameters}
        self.first_moment = {p: np.zeros_like(p.value) for p in self.parameters}
        self.second_moment = {p: np.zeros_like(p.value) for p in self.parameters}
        self._scratch = None

    def _member_factors(self, parameter, lr, clip):
        # Step size and decay are rounded to the parameter's dtype, as Python float factors
        # would be. The clipping factors stay float64, so a clipped gradient is float64.
        dtype = parameter.value.dtype
        step_size = (lr / (1.0 - self.betas[0]**self.steps)).astype(dtype)[:, None]
        decay = (1.0 - lr * self.group_decay[parameter]).astype(dtype)[:, None]
        if not np.any(decay != 1.0):
            decay = None
        if np.all(clip == 1.0):
            return step_size, decay, None
        return step_size, decay, clip[:, None]

    def _update_members(self, parameter, members, factors):
        step_size, decay, clip = factors
        beta1, beta2 = self.betas
        inverse_root_correction = 1.0 / math.sqrt(1.0 - beta2**self.steps)
        eps = self.group_eps[parameter]

        count = step_size.shape[0]
        value = parameter.value[members].reshape(count, -1)
        grad = parameter.grad[members].reshape(count, -1)
        first = self.first_moment[parameter][members].reshape(count, -1)
        second = self.second_moment[parameter][members].reshape(count, -1)
        columns = max(1, CHUNK // count)
        dtype = value.dtype
        if self._scratch is None or self._scratch.dtype != dtype or self._scratch.size < count * columns:
            self._scratch = np.empty(max(CHUNK, count * columns), dtype=dtype)

        for start in range(0, value.shape[1], columns):
            stop = min(start + columns, value.shape[1])
            p, g = value[:, start:stop], grad[:, start:stop]
            m, v = first[:, start:stop], second[:, start:stop]
            scratch = self._scratch[: count * (stop - start)].reshape(count, stop - start)
            if clip is not None:
                g = g * clip

            m *= beta1
            np.multiply(g, 1.0 - beta1, out=scratch)
            m += scratch

            v *= beta2
            np.multiply(g, g, out=scratch)
            scratch *= 1.0 - beta2
            v += scratch

            np.sqrt(v, out=scratch)
            scratch *= inverse_root_correction
            scratch += eps
            np.divide(m, scratch, out=scratch)
            scratch *= step_size
            if decay is not None:
                p *= decay
            p -= scratch


def make_optimizer(name, parameters, scales, lr, base, betas=(0.9, 0.95), grad_clip=None):
    """Build the optimizer ``name`` from the base constants of ``base``.

    Parameters
    ----------
    name : {"adamw", "adam", "sgd"}
        ``"adam"`` is AdamW without weight decay.
    parameters : list of sims.parameters.Parameter
    scales : sims.hyperparameters.ShapeScales
    lr : array_like, shape (K,)
        Per-member base learning rate.
    base : sims.hyperparameters.BaseHyperparameters
        Supplies ``eps`` and ``weight_decay``.
    betas : tuple of float
        Adam's ``(b1, b2)``; ignored by SGD.
    grad_clip : float or None
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    if name == "sgd":
        return SGD(parameters, scales, lr, weight_decay=base.weight_decay, grad_clip=grad_clip)
    weight_decay = 0.0 if name == "adam" else base.weight_decay
    return AdamW(parameters, scales, lr, eps=base.eps, weight_decay=weight_decay, betas=betas,
                 grad_clip=grad_clip)
