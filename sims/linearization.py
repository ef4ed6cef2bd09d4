"""How far one block's change is from its linearization in its own weights.

Each run uses one fixed batch. The measured block is residual block ``floor(L / 2)``
(counting from 0) of the residual MLP, or the attention block (by default) or the MLP
block of layer ``floor(L / 2)`` of a transformer. Only its weight matrices move, while its
norm parameters and biases stay fixed, and each step uses the gradient of the full
network's training loss on the batch. Because no earlier block moves, the block's input
``u`` keeps its value before the steps. After ``k`` steps, with ``dW`` the accumulated
change of the moving matrices,

* ``dF = F(W + dW; u) - F(W; u)``, the block's change;
* ``dF_lin = J_W F(W; u) dW``, its first-order term, computed exactly in forward mode;
* ``R = dF - dF_lin``, the remainder.

Every norm is an RMS over the batch's coordinates. The measured ratios are
``laziness_ratio = ||R|| / ||dF_lin||`` (theory ``L**(alpha - 1)`` under the table's
learning rates) and ``remainder_over_output = ||R|| / ||F||`` (theory ``L**(2 alpha - 2)``).
Run in float64: the remainder is a difference of nearly equal numbers.
"""

import numpy as np

from sims.cache import RunCache
from sims.data import load_corpus
from sims.layers import Linear
from sims.layers.activations import PointwiseActivation
from sims.runs import build_ensemble
from sims.sweep import Job, run_ensembles

KIND = "linearization"


BLOCKS = ("attention", "mlp")
"""Which residual block of a transformer layer is measured."""


def measured_block_index(config, block="attention"):
    """Return the index (from 0) in ``model.blocks`` of the measured residual block.

    The residual MLP's block ``floor(L / 2)``; for a transformer, whose layer ``l`` holds
    blocks ``2 l`` (attention) and ``2 l + 1`` (MLP), the ``block`` of layer ``floor(L / 2)``.
    """
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; valid: {', '.join(BLOCKS)}")
    layer = config.depth // 2
    if config.model == "transformer":
        return 2 * layer + (0 if block == "attention" else 1)
    return layer


QUANTITIES = ("output_rms", "change_rms", "linear_rms", "remainder_rms", "laziness_ratio",
              "remainder_over_output", "weight_change", "reference_measure")

MOVING = ("both", "first")
"""Which weight matrices of the measured block train: both, or only the first as in the
reference implementation's linearization notebook."""


def linearization(runs, steps=1, table=None, cache=RunCache(None), max_members=16,
                  moving="both", block="attention"):
    """Measure the block's change against its linearization for every run.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
        ``optimizer`` and ``lr`` set the steps; ``batch_size`` the fixed batch.
    steps : int
        Number of optimizer steps ``k``; every quantity is recorded after each of them.
    table : theory.parameterization.ParameterizationTable, optional
        Table to train with; each run's derived table by default.
    cache : sims.cache.RunCache
    moving : {"both", "first"}
        The block's matrices that train: all of its trainable weight matrices, or only
        the first matrix of an MLP block.
    block : {"attention", "mlp"}
        The transformer block to measure; ignored for the residual MLP.

    Returns
    -------
    list of dict
        One per run, each quantity an array of shape ``(k,)`` whose entry ``s - 1``
        is the value after ``s`` steps: ``output_rms`` (``||F||``), ``change_rms``
        (``||dF||``), ``linear_rms`` (``||dF_lin||``), ``remainder_rms`` (``||R||``),
        ``laziness_ratio``, ``remainder_over_output``, ``weight_change`` (Frobenius norm
        of ``dW`` over the moving matrices) and ``reference_measure`` (see
        :func:`reference_measure`; NaN for an attention block); plus ``block`` (the index) and ``diverged`` (a
        non-finite loss or quantity at any step).
    """
    if moving not in MOVING:
        raise ValueError(f"unknown moving {moving!r}; valid: {', '.join(MOVING)}")
    if block not in BLOCKS:
        raise ValueError(f"unknown block {block!r}; valid: {', '.join(BLOCKS)}")
    settings = {"steps": int(steps), "moving": moving, "block": block}
    jobs = [Job(run, run.default_table() if table is None else table, settings) for run in runs]
    return run_ensembles(KIND, jobs, _run_group, cache, max_members, "linearization")


def _run_group(jobs):
    steps = jobs[0].settings["steps"]
    members = len(jobs)
    ensemble = build_ensemble([job.run for job in jobs], jobs[0].table)
    model = ensemble.model
    config = ensemble.configs[0]
    index = measured_block_index(config, jobs[0].settings["block"])
    block = model.blocks[index]
    is_mlp_block = _is_mlp_branch(block.branch)
    moving = [p for p in block.parameters() if p.group == "hidden_weight" and p.trainable]
    if jobs[0].settings["moving"] == "first":
        if not is_mlp_block:
            raise ValueError("moving='first' needs an MLP block; measure block='mlp'")
        moving = moving[:1]
    for parameter in model.parameters():
        parameter.trainable = parameter in moving

    corpus = load_corpus()
    tokens, targets = config.draw_examples(corpus.train, config.batch_size,
                                           ensemble.data_generators)
    initial = {parameter: parameter.value.copy() for parameter in moving}
    records = {name: np.full((members, steps), np.nan) for name in QUANTITIES}
    finite = np.ones(members, dtype=bool)

    with np.errstate(all="ignore"):
        loss, cache = model.loss_and_gradients(tokens, targets)
        block_input = cache["stream"][index]
        output, branch_cache = block.branch.forward(block_input)
        output_rms = _rms(output)
        for step in range(steps):
            ensemble.optimizer.step()
            loss, _ = model.loss_and_gradients(tokens, targets)
            finite &= np.isfinite(loss)

            tangents = {parameter: parameter.value - initial[parameter] for parameter in moving}
            moved, _ = block.branch.forward(block_input)
            change = moved - output
            linear = _jvp_at(block.branch, tangents, branch_cache, initial)
            remainder = change - linear

            values = {
                "output_rms": output_rms,
                "change_rms": _rms(change),
                "linear_rms": _rms(linear),
                "remainder_rms": _rms(remainder),
                "weight_change": np.sqrt(sum(
                    (t.reshape(members, -1) ** 2).sum(axis=1) for t in tangents.values()
                )),
            }
            values["reference_measure"] = np.full(members, np.nan)
            if is_mlp_block:
                _, first, activation, second = block.branch.layers
                values["reference_measure"] = reference_measure(
                    output, moved, branch_cache, activation, tangents[first.weight],
                    initial.get(second.weight, second.weight.value))
            values["laziness_ratio"] = values["remainder_rms"] / values["linear_rms"]
            values["remainder_over_output"] = values["remainder_rms"] / output_rms
            for name, value in values.items():
                records[name][:, step] = value
                if name != "reference_measure":
                    finite &= np.isfinite(value)

    results = []
    for k in range(members):
        result = {name: records[name][k] for name in QUANTITIES}
        result["block"] = index
        result["diverged"] = bool(not finite[k])
        results.append(result)
    return results


def _jvp_at(branch, tangents, cache, values):
    """Return the branch's forward-mode derivative at the parameter ``values`` given.

    The layers read their current parameter values in ``jvp``. After the optimizer's
    steps those are ``W + dW``, so the values before the steps are put back for the
    call. Taken at ``W + dW``, the derivative would absorb the cross term
    ``dW2 (phi'(z) * dW1 u)`` of the second-order remainder.
    """
    current = {parameter: parameter.value for parameter in values}
    try:
        for parameter, value in values.items():
            parameter.value = value
        return branch.jvp(None, tangents, cache)
    finally:
        for parameter, value in current.items():
            parameter.value = value


def _is_mlp_branch(branch):
    """Return whether ``branch`` is norm, matrix, pointwise activation, matrix."""
    layers = getattr(branch, "layers", [])
    return (len(layers) == 4 and isinstance(layers[1], Linear)
            and isinstance(layers[2], PointwiseActivation) and isinstance(layers[3], Linear))


def reference_measure(output, moved, branch_cache, activation, first_change, second_weight):
    """Return the linearization distance that the reference implementation reports.

    The CompleteP reference code (EleutherAI/nanoGPT-mup, branch ``completep``, notebook
    ``completep_examples/relative_distance_from_linearization.ipynb``) measures one
    coordinate, ``F[0, 0]`` (first example, first output unit), and takes as its
    first-order term the sum over all entries of the gradient of ``F[0, 0]`` with respect
    to the first matrix, each multiplied by the change of the weight in the same input
    position that feeds output unit 0:

        ft = sum_j dW1[j, 0] u[0, j] sum_i phi'(z[0, i]) W2[i, 0],
        distance = |F1[0, 0] - (F0[0, 0] + ft)| / |F0[0, 0] + ft|.

    This equals the true first-order term only when the block has one matrix; for the
    two-matrix blocks used there and here it is not the Taylor term of the block, so the
    distance tracks the size of the weight change rather than the block's nonlinearity.

    Parameters
    ----------
    output, moved : numpy.ndarray, shape (K, B, N) or (K, B, T, N)
        The block's output before and after the steps; ``F[0, 0]`` is taken at the first
        example (and the first position of a sequence).
    branch_cache : list
        The branch's forward cache before the steps (norm, first matrix, activation,
        second matrix).
    activation : sims.layers.activations.PointwiseActivation
    first_change : numpy.ndarray, shape (K, N, hidden)
        ``dW1``.
    second_weight : numpy.ndarray, shape (K, hidden, N)
        ``W2`` before the steps.

    Returns
    -------
    numpy.ndarray, shape (K,)
    """
    _, first_input, activation_cache, _ = branch_cache
    slope = _first_row(activation.derivative(activation_cache))
    downstream = (slope * second_weight[:, :, 0]).sum(axis=1)
    first_order = (first_change[:, :, 0] * _first_row(first_input)).sum(axis=1) * downstream
    linearized = _first_row(output)[:, 0] + first_order
    return np.abs(_first_row(moved)[:, 0] - linearized) / np.abs(linearized)


def _first_row(x):
    """Return each member's first row (first example, and first position of a sequence)."""
    return x.reshape(x.shape[0], -1, x.shape[-1])[:, 0, :]


def _rms(x):
    flat = x.reshape(x.shape[0], -1)
    return np.sqrt((flat * flat).mean(axis=1))
