"""Residual blocks: ``h_out = skip_weight * h + branch_weight * F(h)``."""

from sims.layers.base import Layer


class ResidualBlock(Layer):
    """A residual block with a branch ``F`` and constant skip and branch weights.

    With ``skip_weight = 1`` and ``branch_weight = m_L**-alpha`` this is the alpha-family
    update of Dey et al. 2025 (arXiv 2505.01618, Table 1). Other rules, such as
    ``lambda_skip * h + gamma * F(h)`` with ``lambda_skip**2 + gamma**2 = 1``, use the same
    class.

    Parameters
    ----------
    branch : Layer
        ``F``, including its normalization.
    branch_weight : float
    skip_weight : float
    """

    def __init__(self, branch, branch_weight, skip_weight=1.0):
        self.branch = branch
        self.branch_weight = float(branch_weight)
        self.skip_weight = float(skip_weight)

    def children(self):
        return [self.branch]

    def forward(self, h):
        branch_output, branch_cache = self.branch.forward(h)
        out = branch_output * self.branch_weight
        if self.skip_weight == 1.0:
            out += h
        else:
            out += self.skip_weight * h
        return out, (branch_output, branch_cache)

    def backward(self, dy, cache):
        _, branch_cache = cache
        dh = self.branch.backward(dy * self.branch_weight, branch_cache)
        if self.skip_weight == 1.0:
            dh += dy
        else:
            dh += self.skip_weight * dy
        return dh

    def jvp(self, dx, tangents, cache):
        _, branch_cache = cache
        d_branch = self.branch.jvp(dx, tangents, branch_cache)
        terms = []
        if d_branch is not None:
            terms.append(self.branch_weight * d_branch)
        if dx is not None:
            terms.append(self.skip_weight * dx)
        if not terms:
            return None
        return sum(terms[1:], terms[0])
