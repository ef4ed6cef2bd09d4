"""Transformer variants that differ in which components train.

The variants of Dong, Noci, Khodak and Li 2025 ("Is random attention sufficient for
sequence modeling?", arXiv 2506.01115), built on :class:`sims.models.Transformer`:

* ``"standard"``: every parameter trains.
* ``"frozen_qk"``: the attention's query and key weights and biases keep their initial
  values. The weights are drawn from ``N(0, 1 / N)`` whatever the base init std and the
  parameterization (``Parameter.fixed_std``), the init of Dong et al. 2025, and the
  biases start at zero. After the pre-norm the queries and keys then have entries of
  order one, so the logits are of order one under the ``1 / sqrt(n_h)`` scale and the
  attention is random and input-dependent. (With the small init of trained matrices,
  std 0.02, the frozen logits would be close to 0 and the attention close to uniform.)
* ``"frozen_mlp"``: the MLP's two matrices and their biases keep their initial values;
  the MLP's pre-norm trains.
* ``"mixit"``: each head's attention matrix is a fixed random MixiT matrix
  (:func:`sims.layers.mixing.mixit_pattern_factory`), so there are no query and key
  weights; everything else trains. An optional attention-sink head replaces head 0.
* ``"embedding_only"``: only the token and position embeddings and the unembedding
  train, with softmax attention (random, frozen queries and keys, drawn as in
  ``"frozen_qk"``) or MixiT attention; the other frozen matrices keep the table's init.

Every variant uses the Transformer's learned absolute position embedding. The reference
implementation (princeton-pli/MixiT) uses it only for MixiT and uses rotary position
embeddings for the others.
"""

from dataclasses import dataclass

import numpy as np

from sims.layers.mixing import NOISE_SCALES, mixit_pattern_factory
from sims.models import Transformer

VARIANTS = ("standard", "frozen_qk", "frozen_mlp", "mixit", "embedding_only")
"""Names of the variants that :func:`build_variant` builds."""

PAPER_VARIANTS = ("standard", "frozen_qk", "frozen_mlp", "mixit")
"""The four variants that Dong et al. 2025 compare in their task tables."""

VARIANT_LABELS = {"standard": "Standard", "frozen_qk": "Frozen-QK", "frozen_mlp": "Frozen-MLP",
                  "mixit": "MixiT", "embedding_only": "embedding only"}
"""Display name of each variant."""

EMBEDDING_ONLY_ATTENTIONS = ("softmax", "mixit")
"""Attention patterns of the ``"embedding_only"`` variant."""

_EMBEDDING_PREFIXES = ("token_embedding.", "position_embedding.", "unembedding.")


@dataclass(frozen=True)
class ParameterCounts:
    """Numbers of scalar parameters of one ensemble member.

    Attributes
    ----------
    trainable : int
        Entries the optimizer updates.
    total : int
        All entries, frozen ones included. MixiT's fixed mixing matrices are constants,
        not parameters, and are not counted.
    """

    trainable: int
    total: int

    @property
    def frozen(self):
        """Entries that keep their initial values."""
        return self.total - self.trainable


def check_variant(name):
    """Return ``name``, or raise ``ValueError`` listing the valid variants."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; valid: {', '.join(VARIANTS)}")
    return name


def is_frozen(variant, parameter_name):
    """Return whether ``variant`` freezes the parameter named ``parameter_name``."""
    check_variant(variant)
    if variant == "frozen_qk":
        return ".attention.query." in parameter_name or ".attention.key." in parameter_name
    if variant == "frozen_mlp":
        return ".mlp." in parameter_name
    if variant == "embedding_only":
        return not parameter_name.startswith(_EMBEDDING_PREFIXES)
    return False


def parameter_counts(model):
    """Return the :class:`ParameterCounts` of one member of ``model``."""
    trainable = 0
    total = 0
    for parameter in model.parameters():
        size = int(np.prod(parameter.shape, dtype=np.int64))
        total += size
        if parameter.trainable:
            trainable += size
    return ParameterCounts(trainable, total)


def build_variant(variant, shape, scales, *, mixit_seeds=0, sink=False, noise_scale="shaped",
                  noise_multiplier=1.0, mix_weight=1.0, identity=True,
                  embedding_only_attention="softmax", dtype=np.float64):
    """Build the transformer of ``variant`` with its trainable flags set, not yet initialized.

    Draw its parameters afterwards with :func:`sims.init.initialize`.

    Parameters
    ----------
    variant : str
        One of ``VARIANTS``.
    shape : sims.models.TransformerShape
    scales : sims.hyperparameters.ShapeScales
    mixit_seeds : int or sequence of int
        Seeds of the MixiT matrices (see :func:`mixit_pattern_factory`): one seed shared
        by every member, or one per member. Used by ``"mixit"`` and by
        ``"embedding_only"`` with MixiT attention.
    sink, noise_scale, noise_multiplier, mix_weight, identity, dtype
        Options of :func:`sims.layers.mixing.mixit_matrices`. ``sink`` makes head 0 of
        every layer the attention-sink head.
    embedding_only_attention : {"softmax", "mixit"}
        The attention pattern of ``"embedding_only"``.

    Returns
    -------
    sims.models.Transformer

    Raises
    ------
    ValueError
        For an unknown variant, attention or noise scale.
    """
    check_variant(variant)
    if embedding_only_attention not in EMBEDDING_ONLY_ATTENTIONS:
        raise ValueError(f"unknown embedding_only_attention {embedding_only_attention!r}; "
                         f"valid: {', '.join(EMBEDDING_ONLY_ATTENTIONS)}")
    if noise_scale not in NOISE_SCALES:
        raise ValueError(f"unknown noise scale {noise_scale!r}; valid: {', '.join(NOISE_SCALES)}")

    uses_mixit = variant == "mixit" or (
        variant == "embedding_only" and embedding_only_attention == "mixit")
    make_pattern = None
    if uses_mixit:
        make_pattern = mixit_pattern_factory(
            mixit_seeds, shape.heads, shape.seq_len, shape.head_width, noise_scale=noise_scale,
            noise_multiplier=noise_multiplier, mix_weight=mix_weight, identity=identity,
            sink=sink, dtype=dtype)

    model = Transformer(shape, scales, make_pattern)
    for parameter in model.parameters():
        parameter.trainable = not is_frozen(variant, parameter.name)
        if not parameter.trainable and _is_query_or_key_weight(parameter.name):
            parameter.fixed_std = 1.0 / np.sqrt(shape.width)
    return model


def _is_query_or_key_weight(parameter_name):
    return parameter_name.endswith((".attention.query.weight", ".attention.key.weight"))
