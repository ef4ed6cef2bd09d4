"""Parameters with a leading ensemble axis, a Table 1 group and a trainable flag."""

import math
from dataclasses import dataclass

import numpy as np

INITS = ("normal", "zeros", "ones")


@dataclass(eq=False)
class Parameter:
    """One parameter tensor of an ensemble of ``K`` independent networks.

    Parameters
    ----------
    name : str
        Unique dotted name, e.g. ``"blocks.3.fc1.weight"``.
    group : str
        Parameter group of the parameterization table (``"hidden_weight"`` ...), which
        sets the parameter's init, learning rate, epsilon and weight decay.
    shape : tuple of int
        Shape of one member's tensor; ``value`` has shape ``(K,) + shape``.
    init : {"normal", "zeros", "ones"}
        ``"normal"`` draws standard normal entries scaled by the group's init std.
    trainable : bool
        Frozen parameters get no gradient and no optimizer update, weight decay included.
    init_multiplier : float
        Extra factor on the init std of a ``"normal"`` parameter, on top of the group's
        factor from the parameterization table, e.g. ``1 / sqrt(2 L)`` for the GPT-2-style
        init of a transformer's output projections. Ignored by the ``"zeros"`` and
        ``"ones"`` inits.
    fixed_std : float, optional
        Init std of a ``"normal"`` parameter that replaces every factor above (base init
        std, group factor and ``init_multiplier``), e.g. ``1 / sqrt(N)`` for the frozen
        random query and key weights of Frozen-QK.

    Attributes
    ----------
    value : numpy.ndarray or None
        The ensemble's values, set by :func:`sims.init.initialize`.
    grad : numpy.ndarray or None
        Gradient of each member's loss, accumulated by the backward pass; ``None`` after
        :meth:`zero_grad` and for frozen parameters.
    """

    name: str
    group: str
    shape: tuple
    init: str = "normal"
    trainable: bool = True
    init_multiplier: float = 1.0
    fixed_std: float = None
    value: np.ndarray = None
    grad: np.ndarray = None

    def __post_init__(self):
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r} for {self.name}; valid: {', '.join(INITS)}")
        self.shape = tuple(int(n) for n in self.shape)
        self.init_multiplier = float(self.init_multiplier)
        if not math.isfinite(self.init_multiplier) or self.init_multiplier < 0:
            raise ValueError(f"init_multiplier of {self.name} must be finite and "
                             f"non-negative, got {self.init_multiplier!r}")
        if self.fixed_std is not None:
            self.fixed_std = float(self.fixed_std)
            if not math.isfinite(self.fixed_std) or self.fixed_std < 0:
                raise ValueError(f"fixed_std of {self.name} must be finite and "
                                 f"non-negative, got {self.fixed_std!r}")

    @property
    def ensemble_size(self):
        """Number of members ``K`` (the length of the leading axis of ``value``)."""
        return self.value.shape[0]

    def accumulate(self, gradient):
        """Add ``gradient`` to :attr:`grad`; a frozen parameter ignores it.

        The first gradient is stored without a copy and later ones are added to it in
        place, so callers pass a fresh array that they do not use afterwards.
        """
        if not self.trainable:
            return
        if self.grad is None:
            self.grad = gradient
        else:
            self.grad += gradient

    def zero_grad(self):
        """Forget the accumulated gradient."""
        self.grad = None
