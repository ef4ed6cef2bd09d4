"""Finite networks of the idealized MixiT block against their proportional-limit SDE, in law.

The network is :func:`sims.idealized_block.simulate_idealized_block` at width ``n`` and
depth ``L = t n``. The limit is the SDE of :mod:`sims.mixit_coefficients`,

    dV = gamma**2 D(V) dt + [c_lin Sigma_lin(V) + gamma**4 Sigma_mix(V)]**(1/2) dB,

solved with :func:`sims.sde.solve_matrix_sde`. Both start from the same token covariance
``V0``. Two scalar functions of ``V(t)`` are compared: the correlation ``rho_13`` of the
first and the last token and the log-norm ``log V_33`` of the last token. The last token
attends to every token, so its statistics depend on every part of the SDE: the mixing
drift, the mixing diffusion and the linear diffusion.

Distances are two-sample Kolmogorov-Smirnov statistics ``D`` (:func:`scipy.stats.ks_2samp`).
For ``k`` network samples against ``m`` SDE samples drawn from the same law,
``sqrt(k m / (k + m)) D`` follows the Kolmogorov distribution as ``k, m`` grow
(:data:`scipy.stats.kstwobign`). Its quantiles give the noise floor: the distance that
Monte Carlo noise alone exceeds with a stated probability. The confidence band of ``D``
comes from the Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant.

The module contains the settings of each scale, the cached simulations and the
statistics. The figure ``mixit-sde-vs-network`` and the claim ``mixit.sde-convergence``
both report them.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from sims.cache import RunCache
from sims.idealized_block import CHUNK_ELEMENTS, simulate_idealized_block, tokens_with_covariance
from sims.mixit_coefficients import (
    idealized_block_covariance, idealized_block_drift, linear_coefficient, linear_covariance,
)
from sims.scales import check_scale
from sims.sde import solve_matrix_sde
from sims.seeds import run_seed_sequence, stream_seed

NETWORK_KIND = "mixit-sde-network"
SDE_KIND = "mixit-sde-paths"

INITIAL_COVARIANCE = ((1.0, 0.6, 0.3), (0.6, 1.0, 0.5), (0.3, 0.5, 1.0))
"""``V0``: three tokens of unit norm with correlations ``rho_12 = 0.6``, ``rho_13 = 0.3``
and ``rho_23 = 0.5``."""

SKIP_WEIGHT = math.sqrt(0.5)
"""``lambda``, so that ``lambda**2 = gamma**2 = 1/2`` and ``c_lin = 3/4``."""

NOISE_MULTIPLIER = 1.0
"""``sigma`` of the mixing noise, the shaped end of the reference implementation's range."""

PASS_LEVEL = 0.99
"""Quantile of the null distribution of the KS statistic that defines the noise floor.
Noise alone exceeds the floor with probability 1 - PASS_LEVEL = 1 %."""

FAIL_LEVEL = 0.999
"""Quantile beyond which a KS distance counts as a real difference (false alarm 0.1 %)."""

BAND_LEVEL = 0.95
"""Coverage of the DKW confidence band of each KS distance and of the bootstrap interval
of the fitted slope."""

THEORY_SLOPE = -1.0
"""Expected log-log slope of the KS distance against width: the finite-width law differs
from the limit at order ``1 / n``."""


@dataclass(frozen=True)
class Quantity:
    """A scalar function of ``V(t)`` whose law is compared.

    Attributes
    ----------
    key : str
        Name in the JSON document.
    label : str
        Axis label, in matplotlib mathtext.
    kind : {"correlation", "log_norm"}
    tokens : tuple of int
        0-indexed tokens: a pair for a correlation, one token for a log-norm.
    """

    key: str
    label: str
    kind: str
    tokens: tuple

    def evaluate(self, covariances):
        """Return the quantity for covariances of shape ``(..., T, T)``.

        The SDE's projection onto the positive semidefinite cone can leave a token of
        norm zero in principle. Its correlation is then set to 0 and its log-norm to
        ``-inf``, which :func:`ks_distance` handles as a very small value.
        """
        if self.kind == "correlation":
            first, second = self.tokens
            scale = np.sqrt(covariances[..., first, first] * covariances[..., second, second])
            correlation = np.divide(covariances[..., first, second], scale,
                                    out=np.zeros_like(scale), where=scale > 0)
            return np.clip(correlation, -1.0, 1.0)
        (token,) = self.tokens
        with np.errstate(divide="ignore"):
            return np.log(covariances[..., token, token])


QUANTITIES = (
    Quantity("rho_13", r"$\rho_{13}(t)$", "correlation", (0, 2)),
    Quantity("log_v_33", r"$\log V_{33}(t)$", "log_norm", (2,)),
)


@dataclass(frozen=True)
class ComparisonSettings:
    """Sample sizes of one scale.

    Attributes
    ----------
    widths : tuple of int
        Network widths ``n``; each runs ``L = t n`` layers, so ``t n`` must be an integer.
    times : tuple of float
        SDE times ``t`` at which the laws are compared, in increasing order.
    networks : int
        Independent networks per width, ``k``.
    paths : int
        SDE paths of each solve, ``m``.
    steps : int
        Euler-Maruyama steps of the reference solve up to the last time. The step check
        solves again with ``steps // 2`` steps, twice the step size.
    bootstrap : int
        Bootstrap resamples of the fitted slope.
    members_per_call : int
        Networks simulated per call, which bounds the memory of one call.
    """

    widths: tuple
    times: tuple
    networks: int
    paths: int
    steps: int
    bootstrap: int
    members_per_call: int

    def estimate_memory_bytes(self):
        """Estimate the peak memory of the comparison in bytes.

        The samples kept at the end are ``(R, k, 3, 3)`` covariances per width plus three
        SDE solves of ``(R + 1, m, 3, 3)``, with ``R`` recorded times. A network call keeps
        about six ``(members_per_call, 3, n)`` arrays and a buffer of ``CHUNK_ELEMENTS``
        value-matrix entries. An SDE step keeps about eight ``(m, 6, 6)`` arrays of
        diffusion, eigenvectors and square roots. Everything is float64. The interpreter
        and library code are left out.
        """
        tokens = len(INITIAL_COVARIANCE)
        coordinates = tokens * (tokens + 1) // 2
        records = len(self.times)
        kept = 8 * tokens * tokens * (records * self.networks * len(self.widths)
                                      + 3 * (records + 1) * self.paths)
        network_call = 8 * (6 * self.members_per_call * tokens * max(self.widths)
                            + CHUNK_ELEMENTS)
        sde_step = 8 * 8 * self.paths * coordinates * coordinates
        return kept + max(network_call, sde_step)


SCALES = {
    "smoke": ComparisonSettings(widths=(4, 8, 16), times=(0.5, 1.0), networks=2000,
                                paths=2000, steps=40, bootstrap=50, members_per_call=2000),
    "quick": ComparisonSettings(widths=(4, 8, 16, 32, 64), times=(0.5, 1.0), networks=20000,
                                paths=20000, steps=200, bootstrap=200, members_per_call=10000),
    "paper": ComparisonSettings(widths=(4, 8, 16, 32, 64, 128), times=(0.5, 1.0),
                                networks=100000, paths=100000, steps=800, bootstrap=500,
                                members_per_call=10000),
}
"""Sample sizes per scale. At the quick scale (base seed 0) the finite-width KS distance
of ``rho_13`` at ``t = 1`` measured 0.071, 0.033 and 0.018 at ``n = 4, 8, 16`` and 0.008
at ``n = 32, 64``, against a noise floor of 0.016. So the differences are resolved only
up to ``n = 8`` or 16. The quick comparison took 148 s on one core of the development
machine (one BLAS thread). NOTE: the paper-scale settings have never been run. Scaled
from the quick run's speed, they need an estimated hour on one core, most of it for the
networks of width 128."""


def settings_for(scale):
    """Return the :class:`ComparisonSettings` of ``scale``."""
    return SCALES[check_scale(scale)]


def model_config():
    """Return the fixed model of the comparison as a JSON-ready dict."""
    return {
        "initial_covariance": [list(row) for row in INITIAL_COVARIANCE],
        "skip_weight": SKIP_WEIGHT,
        "branch_weight": math.sqrt(1.0 - SKIP_WEIGHT**2),
        "noise_multiplier": NOISE_MULTIPLIER,
        "linear_coefficient": linear_coefficient(SKIP_WEIGHT),
        "tokens": len(INITIAL_COVARIANCE),
        "heads": 1,
        "branch_matrices": 1,
        "norm": None,
        "mlp": None,
        "dtype": "float64",
    }


# ---------------------------------------------------------------------------
# Simulations
# ---------------------------------------------------------------------------

def network_identity(width):
    """Return what identifies the networks of one width, the input of their seed."""
    return {"model": "mixit-idealized-block", "width": width, **model_config()}


def sde_identity(steps, mixing):
    """Return what identifies one SDE solve, the input of its seed."""
    return {"model": "mixit-covariance-sde", "steps": steps, "mixing": mixing, **model_config()}


def _depths(width, times):
    depths = []
    for time in times:
        depth = round(time * width)
        if abs(depth - time * width) > 1e-9 * max(1.0, time * width):
            raise ValueError(f"t * n must be an integer depth; got t={time!r}, n={width}. "
                             f"Choose times and widths whose products are integers")
        depths.append(depth)
    return depths


def network_covariances(settings, width, base_seed, cache=RunCache(None)):
    """Simulate ``settings.networks`` networks of width ``width`` and return ``V(t)``.

    Each network runs ``L = t n`` layers for the largest ``t`` and records ``V`` after
    ``t n`` layers for every ``t`` of ``settings.times``. Networks are simulated
    ``members_per_call`` at a time, each batch with its own generator spawned from the
    run's seed, so the first networks do not depend on how many there are in total.

    Returns
    -------
    numpy.ndarray, shape (len(times), networks, 3, 3)
    """
    depths = _depths(width, settings.times)
    config = {**model_config(), "width": width, "times": list(settings.times),
              "networks": settings.networks, "members_per_call": settings.members_per_call,
              "base_seed": base_seed}
    stored = cache.load(NETWORK_KIND, config)
    if stored is not None:
        return stored["covariances"]

    sequence = run_seed_sequence(base_seed, 0, network_identity(width))
    calls = -(-settings.networks // settings.members_per_call)
    tokens = tokens_with_covariance(np.array(INITIAL_COVARIANCE), width)
    covariances = np.empty((len(depths), settings.networks) + tokens.shape[:1] * 2)
    for call, child in zip(range(calls), sequence.spawn(calls)):
        start = call * settings.members_per_call
        stop = min(settings.networks, start + settings.members_per_call)
        batch = np.broadcast_to(tokens, (stop - start,) + tokens.shape)
        trajectory = simulate_idealized_block(batch, max(depths), SKIP_WEIGHT,
                                              np.random.default_rng(child),
                                              noise_multiplier=NOISE_MULTIPLIER, layers=depths)
        covariances[:, start:stop] = trajectory.covariances
    cache.store(NETWORK_KIND, config, {"covariances": covariances})
    return covariances


def linear_sde_drift(covariance):
    """Return the zero drift of the residual-linear SDE, the MixiT SDE without mixing."""
    return np.zeros_like(covariance)


def linear_sde_covariance(covariance):
    """Return the residual-linear diffusion ``c_lin Sigma_lin(V)``, without ``Sigma_mix``."""
    return linear_coefficient(SKIP_WEIGHT) * linear_covariance(covariance)


def _mixit_drift(covariance):
    return idealized_block_drift(covariance, SKIP_WEIGHT, NOISE_MULTIPLIER)


def _mixit_covariance(covariance):
    return idealized_block_covariance(covariance, SKIP_WEIGHT, NOISE_MULTIPLIER)


def sde_covariances(settings, steps, base_seed, cache=RunCache(None), mixing=True):
    """Solve the SDE for ``settings.paths`` paths and return ``V(t)`` at ``settings.times``.

    Parameters
    ----------
    steps : int
        Euler-Maruyama steps up to the last time. Every time must be a whole number of
        steps.
    mixing : bool
        The MixiT SDE if true. Otherwise the residual-linear SDE without the mixing
        drift and the mixing diffusion, ``dV = (c_lin Sigma_lin(V))**(1/2) dB``, which is
        the contrast that the comparison must tell apart from the network.

    Returns
    -------
    numpy.ndarray, shape (len(times), paths, 3, 3)
    """
    duration = settings.times[-1]
    step_indices = [round(time / duration * steps) for time in settings.times]
    for time, index in zip(settings.times, step_indices):
        if abs(index - time / duration * steps) > 1e-9 * steps:
            raise ValueError(f"t = {time!r} is not a whole number of the {steps} steps "
                             f"up to t = {duration!r}; choose a step count that divides "
                             f"every time")
    config = {**model_config(), "times": list(settings.times), "paths": settings.paths,
              "steps": steps, "mixing": mixing, "base_seed": base_seed}
    stored = cache.load(SDE_KIND, config)
    if stored is not None:
        return stored["covariances"]

    generator = np.random.default_rng(run_seed_sequence(base_seed, 0, sde_identity(steps, mixing)))
    drift, diffusion = ((_mixit_drift, _mixit_covariance) if mixing
                        else (linear_sde_drift, linear_sde_covariance))
    record_every = math.gcd(*step_indices)
    solution = solve_matrix_sde(np.array(INITIAL_COVARIANCE), drift, diffusion, duration, steps,
                                generator, paths=settings.paths, record_every=record_every)
    records = [index // record_every for index in step_indices]
    covariances = solution.values[records]
    cache.store(SDE_KIND, config, {"covariances": covariances,
                                   "projections": solution.projections})
    return covariances


def comparison_samples(settings, base_seed, cache=RunCache(None)):
    """Run or load every simulation of the comparison and return the quantities' samples.

    Returns
    -------
    dict
        ``network[width][time_index][key]``, ``sde``, ``sde_coarse`` (twice the step)
        and ``sde_linear`` (the residual-linear contrast), each ``[time_index][key]``:
        1-D arrays of each :data:`QUANTITIES` member.
    """
    def quantities(covariances):
        return [{quantity.key: quantity.evaluate(record) for quantity in QUANTITIES}
                for record in covariances]

    return {
        "network": {width: quantities(network_covariances(settings, width, base_seed, cache))
                    for width in settings.widths},
        "sde": quantities(sde_covariances(settings, settings.steps, base_seed, cache)),
        "sde_coarse": quantities(sde_covariances(settings, settings.steps // 2, base_seed, cache)),
        "sde_linear": quantities(sde_covariances(settings, settings.steps, base_seed, cache,
                                                 mixing=False)),
    }


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------

def ks_distance(first, second):
    """Return the two-sample Kolmogorov-Smirnov distance ``sup_x |F_1(x) - F_2(x)|``."""
    return float(stats.ks_2samp(first, second, method="asymp").statistic)


def effective_size(first_size, second_size):
    """Return ``k m / (k + m)``, the sample size that scales the two-sample KS statistic."""
    return first_size * second_size / (first_size + second_size)


def noise_floor(first_size, second_size, level=PASS_LEVEL):
    """Return the ``level`` quantile of the KS distance between two samples of one law.

    This is ``K_level / sqrt(k m / (k + m))``, with ``K_level`` the quantile of the
    Kolmogorov distribution, the large-sample limit of the scaled statistic.
    """
    return float(stats.kstwobign.ppf(level)) / math.sqrt(effective_size(first_size, second_size))


def dkw_half_width(first_size, second_size, level=BAND_LEVEL):
    """Return ``e`` such that ``|D_hat - D| <= e`` with probability at least ``level``.

    By the Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant, an empirical
    distribution function of ``k`` samples lies within ``sqrt(log(2 / a) / (2 k))`` of its
    law everywhere with probability at least ``1 - a``. Each sample gets
    ``a = (1 - level) / 2``, and the triangle inequality bounds the error of ``D_hat`` by
    the sum of the two widths.
    """
    alpha = (1.0 - level) / 2.0
    return sum(math.sqrt(math.log(2.0 / alpha) / (2.0 * size))
               for size in (first_size, second_size))


def ks_comparison(first, second):
    """Return the KS distance of two samples with its band, noise floors and p-value.

    Returns
    -------
    dict
        ``ks``; ``scaled``, ``sqrt(k m / (k + m)) ks``; ``p_value`` from the Kolmogorov
        distribution; ``band``, the DKW interval ``[max(0, ks - e), ks + e]``;
        ``noise_floor`` (false alarm ``1 - PASS_LEVEL``) and ``fail_floor`` (false alarm
        ``1 - FAIL_LEVEL``); ``sizes``.
    """
    first_size, second_size = len(first), len(second)
    distance = ks_distance(first, second)
    scaled = distance * math.sqrt(effective_size(first_size, second_size))
    half_width = dkw_half_width(first_size, second_size)
    return {
        "ks": distance,
        "scaled": scaled,
        "p_value": float(stats.kstwobign.sf(scaled)),
        "band": [max(0.0, distance - half_width), distance + half_width],
        "noise_floor": noise_floor(first_size, second_size),
        "fail_floor": noise_floor(first_size, second_size, FAIL_LEVEL),
        "sizes": [first_size, second_size],
    }


def width_slope(widths, network_samples, sde_sample, floors, resamples, generator):
    """Fit the log-log slope of the KS distance against width, with a bootstrap interval.

    Only widths whose KS distance exceeds its noise floor enter the fit, because below
    the floor the distance measures Monte Carlo noise rather than the network's
    difference from the limit. With fewer than two such widths the fit uses every width
    and ``resolved`` is false, because the slope then measures mostly noise. The
    interval resamples every network sample and the SDE sample with replacement and
    refits over the same widths (:func:`scipy.stats.bootstrap`, percentile method,
    coverage ``BAND_LEVEL``).

    Returns
    -------
    dict
        ``slope``, ``interval``, ``widths`` (those fitted), ``above_floor`` (how many
        widths exceed their floor), ``resolved`` and ``theory``.
    """
    distances = [ks_distance(sample, sde_sample) for sample in network_samples]
    above = [index for index, (distance, floor) in enumerate(zip(distances, floors))
             if distance > floor]
    resolved = len(above) >= 2
    fitted = above if resolved else list(range(len(widths)))
    log_widths = np.log([widths[index] for index in fitted])

    def slope(*samples):
        *networks, sde = samples
        logs = np.log([ks_distance(network, sde) for network in networks])
        return stats.linregress(log_widths, logs).slope

    samples = [network_samples[index] for index in fitted] + [sde_sample]
    result = stats.bootstrap(samples, slope, n_resamples=resamples, vectorized=False,
                             paired=False, confidence_level=BAND_LEVEL, method="percentile",
                             rng=generator)
    return {
        "slope": float(slope(*samples)),
        "interval": [float(result.confidence_interval.low),
                     float(result.confidence_interval.high)],
        "widths": [widths[index] for index in fitted],
        "above_floor": len(above),
        "resolved": resolved,
        "theory": THEORY_SLOPE,
    }


def comparison_statistics(settings, samples, base_seed):
    """Return every KS statistic of the comparison, per time and quantity.

    Returns
    -------
    dict
        ``times`` and ``widths``, and ``by_time[time_index][key]`` with

        * ``network``: per width, :func:`ks_comparison` of the networks against the SDE;
        * ``slope``: :func:`width_slope` over the widths;
        * ``step_check``: the SDE at twice the step against the reference SDE;
        * ``measured_floor``: the two halves of the reference SDE sample against each
          other, a measured check of the noise floor;
        * ``linear_contrast``: the residual-linear SDE against the networks of the
          largest width.
    """
    generator = np.random.default_rng(stream_seed(base_seed, "mixit-sde-bootstrap"))
    widths = list(settings.widths)
    by_time = []
    for time_index, _ in enumerate(settings.times):
        record = {}
        for quantity in QUANTITIES:
            key = quantity.key
            reference = samples["sde"][time_index][key]
            networks = [samples["network"][width][time_index][key] for width in widths]
            per_width = [ks_comparison(network, reference) for network in networks]
            half = len(reference) // 2
            record[key] = {
                "network": per_width,
                "slope": width_slope(widths, networks, reference,
                                     [entry["noise_floor"] for entry in per_width],
                                     settings.bootstrap, generator),
                "step_check": ks_comparison(samples["sde_coarse"][time_index][key], reference),
                "measured_floor": ks_comparison(reference[:half], reference[half:]),
                "linear_contrast": ks_comparison(networks[-1],
                                                 samples["sde_linear"][time_index][key]),
            }
        by_time.append(record)
    return {"times": list(settings.times), "widths": widths, "by_time": by_time}


def comparison_config(settings):
    """Return the model and the scale's sample sizes as a JSON-ready dict."""
    return {
        "model": model_config(),
        "scale_settings": asdict(settings),
        "quantities": [asdict(quantity) for quantity in QUANTITIES],
        "pass_level": PASS_LEVEL,
        "fail_level": FAIL_LEVEL,
        "band_level": BAND_LEVEL,
    }
