"""How far one block's change is from its linearization in its own weights.

Each run uses one fixed batch. The measured block is block ``floor(L / 2)`` (counting
from 0) of the residual MLP. Only its two weight matrices move, while its norm parameters
and biases stay fixed, and each step uses the gradient of the full network's training
loss on the batch. Because no earlier block moves, the block's input ``u`` keeps its
value before the steps. After ``k`` steps, with ``dW`` the accumulated change
of the two matrices,

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
from sims.data import load_corpus, sample_batch
from sims.runs import build_ensemble
from sims.sweep import Job, run_ensembles

KIND = "linearization"


def measured_block_index(depth):
    """Return the index (from 0) of the measured block, ``floor(L / 2)``."""
    return depth // 2


QUANTITIES = ("output_rms", "change_rms", "linear_rms", "remainder_rms", "laziness_ratio",
              "remainder_over_output", "weight_change")


def linearization(runs, steps=1, table=None, cache=RunCache(None), max_members=16):
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

    Returns
    -------
    list of dict
        One per run, each quantity an array of shape ``(k,)`` whose entry ``s - 1``
        is the value after ``s`` steps: ``output_rms`` (``||F||``), ``change_rms``
        (``||dF||``), ``linear_rms`` (``||dF_lin||``), ``remainder_rms`` (``||R||``),
        ``laziness_ratio``, ``remainder_over_output``, ``weight_change`` (Frobenius norm
        of ``dW`` over both matrices); plus ``block`` (the index) and ``diverged`` (a
        non-finite loss or quantity at any step).
    """
    settings = {"steps": int(steps)}
    jobs = [Job(run, run.default_table() if table is None else table, settings) for run in runs]
    return run_ensembles(KIND, jobs, _run_group, cache, max_members, "linearization")


def _run_group(jobs):
    steps = jobs[0].settings["steps"]
    members = len(jobs)
    ensemble = build_ensemble([job.run for job in jobs], jobs[0].table)
    model = ensemble.model
    config = ensemble.configs[0]
    index = measured_block_index(config.depth)
    block = model.blocks[index]
    _, fc1, _, fc2 = block.branch.layers
    moving = (fc1.weight, fc2.weight)
    for parameter in model.parameters():
        parameter.trainable = parameter in moving

    corpus = load_corpus()
    tokens, targets = sample_batch(corpus.train, config.context, config.batch_size,
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
            values["laziness_ratio"] = values["remainder_rms"] / values["linear_rms"]
            values["remainder_over_output"] = values["remainder_rms"] / output_rms
            for name, value in values.items():
                records[name][:, step] = value
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


def _rms(x):
    flat = x.reshape(x.shape[0], -1)
    return np.sqrt((flat * flat).mean(axis=1))
