"""Previous-token and induction scores of attention heads, and the trained runs behind them.

An induction head (Olsson et al. 2022, "In-context learning and induction heads") works in
two steps. A head of an early layer copies the previous token into each position. A head
of a later layer then attends from a token to the positions that followed its earlier
occurrences, and so predicts the token found there. The two scores below measure each step
on an attention matrix ``A`` of one head (rows: queries ``i``, columns: keys ``j <= i``):

* previous-token score: the mean of ``A[i, i - 1]`` over the scored rows;
* induction score: the mean over the scored rows ``i`` of
  ``sum_{j >= 1 : x_{j-1} = x_i} A[i, j]``, the mass on the tokens that followed earlier
  occurrences of ``x_i``, over the rows whose token occurred before.

Rows whose token (or, for the previous-token score, whose previous token) is the pad token
are left out. Uniform causal attention scores ``1 / (i + 1)`` and ``c_i / (i + 1)`` on
row ``i`` (``c_i`` the number of matching keys), the baseline that :func:`uniform_scores`
returns.

:func:`train_induction_heads` trains transformer variants on the induction task of
:mod:`sims.tasks` and measures every head of every layer on fixed test sequences.
"""

from dataclasses import asdict, dataclass

import numpy as np

from sims.cache import RunCache
from sims.runs import RunConfig
from sims.scales import check_scale
from sims.sweep import run_ensembles
from sims.task_training import (
    evaluate_on_task, evaluation_sets, loss_curve, task_jobs, train_ensemble,
)
from sims.tasks import SCALE_OPTIONS

KIND = "induction-heads"

SCORES = ("previous_token", "induction")
"""Names of the two scores, in the order of the induction circuit."""


@dataclass(frozen=True)
class InductionHeadSettings:
    """Sizes of the trained induction-head comparison at one scale.

    Attributes
    ----------
    width, depth, heads, batch_size, steps, seeds : int
    lr : float
        AdamW's learning rate, without weight decay.
    variants : tuple of str
        Variants trained; Frozen-QK first.
    task_options : dict
        Options of the induction task.
    eval_size : int
        Test sequences that the scores average over.
    dtype : str
    max_members : int
        Largest ensemble. Two members per ensemble split three seeds into two ensembles,
        so that two worker processes share the variants' runs evenly.
    """

    width: int
    depth: int
    heads: int
    batch_size: int
    steps: int
    seeds: int
    lr: float
    task_options: dict
    variants: tuple = ("frozen_qk", "standard", "mixit")
    eval_size: int = 256
    dtype: str = "float32"
    init_std: float = 0.02
    max_members: int = 32

    def runs(self, base_seed):
        """Return the runs of every variant and seed, variant by variant."""
        seq_len = 2 * self.task_options["length"] - 1
        return [RunConfig(model="transformer", width=self.width, depth=self.depth,
                          heads=self.heads, seq_len=seq_len, base_width=self.width,
                          attention_scale="sp", batch_size=self.batch_size, lr=self.lr,
                          init_std=self.init_std, weight_decay=0.0, dtype=self.dtype,
                          variant=variant, base_seed=base_seed, seed_index=seed)
                for variant in self.variants for seed in range(self.seeds)]

    def to_json(self):
        return asdict(self)


INDUCTION_HEAD_SCALES = {
    "smoke": InductionHeadSettings(width=16, depth=2, heads=2, batch_size=16, steps=20,
                                   seeds=2, lr=0.01, eval_size=32,
                                   task_options=SCALE_OPTIONS["smoke"]["induction"]),
    "quick": InductionHeadSettings(width=64, depth=2, heads=4, batch_size=64, steps=3000,
                                   seeds=3, lr=0.003, max_members=2,
                                   task_options=SCALE_OPTIONS["quick"]["induction"]),
    "paper": InductionHeadSettings(width=256, depth=2, heads=8, batch_size=64, steps=10000,
                                   seeds=3, lr=0.001,
                                   task_options=SCALE_OPTIONS["paper"]["induction"]),
}
"""Settings of the induction-head comparison per scale: two-layer models, as in the
attention maps of Dong et al. 2025 (Figure 3)."""


def induction_head_settings(scale):
    """Return the :class:`InductionHeadSettings` of ``scale``."""
    return INDUCTION_HEAD_SCALES[check_scale(scale)]


def induction_head_runs(settings, base_seed, cache=RunCache(None)):
    """Train every variant and seed of ``settings`` and return ``{variant: [result per seed]}``.

    The results are those of :func:`train_induction_heads`, with warmup over the first
    tenth of the steps.
    """
    runs = settings.runs(base_seed)
    results = train_induction_heads(runs, settings.steps, settings.task_options,
                                    warmup=settings.steps // 10,
                                    eval_size=settings.eval_size, cache=cache,
                                    max_members=settings.max_members)
    by_variant = {variant: [] for variant in settings.variants}
    for run, result in zip(runs, results):
        by_variant[run.variant].append(result)
    return by_variant


def best_heads(result):
    """Return the strongest previous-token head of layer 1 and induction head of the last layer.

    Returns
    -------
    dict
        ``previous_token`` and ``induction``: each a dict with the ``layer`` and ``head``
        (from 0) and its ``score``. A diverged run, whose scores are NaN, gets head 0 and
        a NaN score.
    """
    first = np.asarray(result["previous_token"], dtype=float)[0]
    last = np.asarray(result["induction"], dtype=float)[-1]
    layers = np.asarray(result["induction"]).shape[0]
    return {"previous_token": _best_head(first, 0), "induction": _best_head(last, layers - 1)}


def _best_head(scores, layer):
    """Return the head of ``layer`` with the highest score, or head 0 if every score is NaN."""
    if np.all(np.isnan(scores)):
        return {"layer": layer, "head": 0, "score": float("nan")}
    head = int(np.nanargmax(scores))
    return {"layer": layer, "head": head, "score": float(scores[head])}


def _previous_rows(tokens, pad_token):
    """Return the mask of rows ``i >= 1`` whose token and previous token are not pads."""
    valid = tokens != pad_token if pad_token is not None else np.ones(tokens.shape, bool)
    rows = np.zeros(tokens.shape, dtype=bool)
    rows[..., 1:] = valid[..., 1:] & valid[..., :-1]
    return rows


def _induction_keys(tokens, pad_token):
    """Return the ``(B, T, T)`` mask of keys ``j >= 1`` with ``x_{j-1} = x_i``, ``j <= i``.

    Pad tokens match nothing.
    """
    length = tokens.shape[-1]
    previous = np.concatenate([np.full(tokens.shape[:-1] + (1,), -1), tokens[..., :-1]], -1)
    match = tokens[..., :, None] == previous[..., None, :]
    if pad_token is not None:
        match &= (tokens != pad_token)[..., :, None]
    return match & np.tril(np.ones((length, length), dtype=bool))


def previous_token_score(attention, tokens, pad_token=None):
    """Return the previous-token score of each head.

    Parameters
    ----------
    attention : numpy.ndarray, shape (..., B, H, T, T)
        Causal attention matrices of ``H`` heads on ``B`` sequences.
    tokens : numpy.ndarray of int, shape (B, T)
    pad_token : int, optional
        Rows at a pad token or after one are left out.

    Returns
    -------
    numpy.ndarray, shape (..., H)
        The mean of ``A[i, i - 1]`` over the scored rows of every sequence.

    Raises
    ------
    ValueError
        If no row is scored.
    """
    rows = _previous_rows(tokens, pad_token)
    if not rows.any():
        raise ValueError("no row with a non-pad token and a non-pad previous token to score")
    below = np.diagonal(attention, offset=-1, axis1=-2, axis2=-1)  # (..., B, H, T - 1)
    weights = rows[:, None, 1:]
    return (below * weights).sum(axis=(-3, -1)) / weights.sum(axis=(-3, -1))


def induction_score(attention, tokens, pad_token=None):
    """Return the induction score of each head.

    Parameters
    ----------
    attention : numpy.ndarray, shape (..., B, H, T, T)
    tokens : numpy.ndarray of int, shape (B, T)
    pad_token : int, optional
        Pad tokens are neither scored nor matched.

    Returns
    -------
    numpy.ndarray, shape (..., H)
        The mean over rows ``i`` with at least one key ``j >= 1``, ``j <= i``,
        ``x_{j-1} = x_i`` of the attention mass on those keys.

    Raises
    ------
    ValueError
        If no token occurs twice, so that no row is scored.
    """
    keys = _induction_keys(tokens, pad_token)
    rows = keys.any(axis=-1)
    if not rows.any():
        raise ValueError("no token occurs twice, so no row has an induction target to score")
    mass = (attention * keys[:, None]).sum(axis=-1)  # (..., B, H, T)
    weights = rows[:, None, :]
    return (mass * weights).sum(axis=(-3, -1)) / weights.sum(axis=(-3, -1))


def uniform_scores(tokens, pad_token=None):
    """Return both scores of uniform causal attention, ``A[i, j] = 1 / (i + 1)``.

    Returns
    -------
    dict
        ``previous_token`` and ``induction``, floats: what a head scores that does not
        look at its input.
    """
    length = tokens.shape[-1]
    uniform = np.tril(np.ones((length, length))) / np.arange(1, length + 1)[:, None]
    attention = np.broadcast_to(uniform, (tokens.shape[0], 1, length, length))
    return {"previous_token": float(previous_token_score(attention, tokens, pad_token)[0]),
            "induction": float(induction_score(attention, tokens, pad_token)[0])}


def head_scores(attention_matrices, tokens, pad_token=None):
    """Return both scores of every head of every layer.

    Parameters
    ----------
    attention_matrices : list of numpy.ndarray
        One ``(K, B, H, T, T)`` array per layer, as in the ``"attention"`` entry of
        :meth:`sims.models.Transformer.forward`'s cache.
    tokens : numpy.ndarray of int, shape (B, T)
    pad_token : int, optional

    Returns
    -------
    dict
        ``previous_token`` and ``induction``, arrays of shape ``(K, L, H)``.
    """
    return {
        "previous_token": np.stack([previous_token_score(a, tokens, pad_token)
                                    for a in attention_matrices], axis=1),
        "induction": np.stack([induction_score(a, tokens, pad_token)
                               for a in attention_matrices], axis=1),
    }


def train_induction_heads(runs, steps, options, schedule="cosine", warmup=0, eval_size=256,
                          cache=RunCache(None), max_members=32):
    """Train runs on the induction task and score every head on fixed test sequences.

    Training is that of :func:`sims.task_training.train_on_task` on the task
    ``"induction"``. After training, each member runs on ``eval_size`` test sequences
    drawn for the base seed (:func:`sims.task_training.evaluation_sets`), which give its
    accuracy and head scores, and on the first of them, whose attention maps are kept.

    Parameters
    ----------
    runs : list of sims.runs.RunConfig
        Transformer runs of any variant.
    steps : int
    options : dict
        Options of the induction task, e.g. ``{"length": 8, "min_length": 4,
        "alphabet": 16}``.
    schedule, warmup, eval_size, cache, max_members
        As in :func:`sims.task_training.train_on_task`.

    Returns
    -------
    list of dict
        One per run, with these entries:

        - ``test_accuracy`` and ``test_loss``;
        - ``previous_token`` and ``induction``: the scores, shape ``(L, H)``;
        - ``maps``: the attention matrices on the first test sequence, shape
          ``(L, H, T, T)``, and ``tokens``: that sequence;
        - ``uniform_previous_token`` and ``uniform_induction``: the scores of uniform
          attention on the same test sequences;
        - ``loss_curve`` and ``diverged``.

        Scores and maps of a diverged run are NaN.

    Raises
    ------
    ValueError
        As :func:`sims.task_training.train_on_task` does.
    """
    jobs = task_jobs(runs, "induction", steps, options, schedule, warmup, eval_size, None)
    return run_ensembles(KIND, jobs, _score_group, cache, max_members, "induction heads")


def _score_group(jobs):
    trained = train_ensemble(jobs)
    ensemble, task, losses = trained["ensemble"], trained["task"], trained["losses"]
    members = len(jobs)
    test = evaluation_sets(task, jobs[0].run.base_seed, jobs[0].settings["eval_size"])["test"]
    measured = evaluate_on_task(ensemble.model, test, members)

    with np.errstate(all="ignore"):
        _, forward_cache = ensemble.model.forward(
            np.broadcast_to(test.tokens, (members,) + test.tokens.shape))
    scores = head_scores(forward_cache["attention"], test.tokens, task.pad_token)
    maps = np.stack([a[:, 0] for a in forward_cache["attention"]], axis=1)  # (K, L, H, T, T)
    baseline = uniform_scores(test.tokens, task.pad_token)

    results = []
    for k in range(members):
        diverged = bool(trained["diverged_step"][k] >= 0)
        result = {
            "test_accuracy": float(measured["accuracy"][k]),
            "test_loss": float(measured["loss"][k]),
            "previous_token": scores["previous_token"][k],
            "induction": scores["induction"][k],
            "maps": maps[k],
        }
        if diverged:
            result = {name: np.nan * np.asarray(value) for name, value in result.items()}
        result.update({
            "tokens": test.tokens[0],
            "uniform_previous_token": baseline["previous_token"],
            "uniform_induction": baseline["induction"],
            "loss_curve": loss_curve(losses[k]),
            "diverged": diverged,
        })
        results.append(result)
    return results
