"""The layer interface: an explicit forward pass and a hand-written backward pass.

Every array carries the leading ensemble axis ``K``: member ``k`` of an input only meets
member ``k`` of the parameters, so members never mix and a NaN in one stays there.
"""


class Layer:
    """A unit with an explicit forward, backward and forward-mode derivative.

    Subclasses implement

    * ``forward(x) -> (y, cache)``, where ``cache`` holds what the derivatives need;
    * ``backward(dy, cache) -> dx``, which also accumulates each trainable parameter's
      gradient with :meth:`sims.parameters.Parameter.accumulate`;
    * ``jvp(dx, tangents, cache) -> dy``, the directional derivative of the output along
      an input tangent ``dx`` (``None`` for zero) and parameter tangents ``tangents``
      (a dict from :class:`~sims.parameters.Parameter` to an array of its value's shape;
      parameters not in it do not move).
    """

    def own_parameters(self):
        """Return the parameters that this layer holds directly."""
        return []

    def children(self):
        """Return the layers that this layer is built from."""
        return []

    def parameters(self):
        """Return every parameter of this layer and its children, in a fixed order."""
        collected = list(self.own_parameters())
        for child in self.children():
            collected.extend(child.parameters())
        return collected

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dy, cache):
        raise NotImplementedError

    def jvp(self, dx, tangents, cache):
        raise NotImplementedError


class Sequential(Layer):
    """Layers applied one after another."""

    def __init__(self, layers):
        self.layers = list(layers)

    def children(self):
        return self.layers

    def forward(self, x):
        caches = []
        for layer in self.layers:
            x, cache = layer.forward(x)
            caches.append(cache)
        return x, caches

    def backward(self, dy, cache):
        for layer, layer_cache in zip(reversed(self.layers), reversed(cache)):
            dy = layer.backward(dy, layer_cache)
        return dy

    def jvp(self, dx, tangents, cache):
        for layer, layer_cache in zip(self.layers, cache):
            dx = layer.jvp(dx, tangents, layer_cache)
        return dx
