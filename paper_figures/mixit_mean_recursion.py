"""Figure ``mixit-mean-recursion``: the exact finite-width mean of MixiT's token covariance.

In the idealized MixiT block (:mod:`sims.idealized_block`: one head, one value matrix, no
norm, no MLP) the mean of ``V = X X^T / n`` after ``L`` blocks is exactly
``(I + (gamma**2 / n) D)**L V0`` at every width (:func:`theory.mixit.exact_mean`), and as
``n -> infinity`` with ``L = t n`` it tends to ``exp(gamma**2 t D) V0``
(:func:`theory.mixit.mean_limit`), with a difference of order ``1 / n``.

The left panel shows the diagonal entries ``E[V_aa]`` after ``L = t n`` blocks against
``n``: the exact recursion, its limit and Monte Carlo means over independent networks with
error bars of two standard errors. At the smallest widths the gap between the recursion
and the limit is many standard errors wide, so the Monte Carlo means tell the exact value
from the limit. The right panel shows the largest entry of ``|exact - limit|`` against
``n`` on log-log axes with its fitted slope (theory -1).

The noise multiplier is ``sigma = 2`` rather than the reference value 1, because the gap
grows with ``sigma**4`` while the Monte Carlo noise grows more slowly: at ``sigma = 1`` and
``T = 2`` the gap at ``n = 2`` is 0.004 against a standard error of 0.004 over 200 000
networks.

``fits`` holds ``convergence`` (slope, its standard error and theory -1, the fitted
widths, and ``n`` times the gap at the largest width) and ``monte_carlo`` (per width the
largest ``|z|`` of the Monte Carlo mean against the exact recursion, theory: within a few
standard errors, and against the limit).
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator
from scipy import stats

from paper_figures.memory import require_memory
from paper_figures.output import json_ready
from sims.mixit_measurements import MONTE_CARLO_BATCH, monte_carlo_mean
from sims.scales import check_scale
from theory.mixit import exact_mean, mean_limit

NAME = "mixit-mean-recursion"

SKIP_WEIGHT = math.sqrt(0.5)
"""``lambda``; the branch weight is ``gamma = sqrt(1/2)`` too."""

NOISE_MULTIPLIER = 2.0
"""``sigma`` of the mixing noise (module docstring)."""

TIME = 1.0
"""Depth over width, ``t = L / n``."""

SEQ_LEN = 4

INITIAL_CORRELATION = 0.5


def initial_covariance():
    """Return ``V0``: unit norms and correlation 1/2 between every pair of tokens."""
    return ((1.0 - INITIAL_CORRELATION) * np.eye(SEQ_LEN)
            + INITIAL_CORRELATION * np.ones((SEQ_LEN, SEQ_LEN)))


@dataclass(frozen=True)
class ScaleSettings:
    """Sizes of one scale.

    Attributes
    ----------
    widths : tuple of int
        Widths ``n`` at which the exact mean and its limit are compared.
    fit_widths : tuple of int
        The widths of the convergence fit, large enough for the ``1 / n`` term to lead.
    monte_carlo_widths : tuple of int
        Widths at which networks are simulated.
    networks : int
        Networks per Monte Carlo width.
    """

    widths: tuple
    fit_widths: tuple
    monte_carlo_widths: tuple
    networks: int

    def estimate_memory_bytes(self):
        """Estimate the peak memory of one Monte Carlo batch, in float64.

        A batch of ``B`` networks needs about six arrays of ``B T n`` tokens and
        ``B T T`` mixing matrices, and ``B`` chunks of the value matrices are at most
        ``sims.idealized_block.CHUNK_ELEMENTS`` numbers.
        """
        batch = min(self.networks, MONTE_CARLO_BATCH)
        width = max(self.monte_carlo_widths)
        return 8 * batch * (6 * SEQ_LEN * width + 4 * SEQ_LEN**2)


SETTINGS = {
    "smoke": ScaleSettings(widths=(4, 8, 16, 32, 64), fit_widths=(16, 32, 64),
                           monte_carlo_widths=(4,), networks=20_000),
    "quick": ScaleSettings(widths=tuple(2**k for k in range(2, 11)),
                           fit_widths=tuple(2**k for k in range(4, 11)),
                           monte_carlo_widths=(4, 8), networks=400_000),
    "paper": ScaleSettings(widths=tuple(2**k for k in range(2, 14)),
                           fit_widths=tuple(2**k for k in range(5, 14)),
                           monte_carlo_widths=(4, 8, 16), networks=4_000_000),
}


def exact_and_limit(width):
    """Return the exact mean after ``L = t n`` blocks at width ``n`` and its limit."""
    gamma = math.sqrt(1.0 - SKIP_WEIGHT**2)
    depth = round(TIME * width)
    V0 = initial_covariance()
    return (exact_mean(V0, depth, width, gamma, NOISE_MULTIPLIER),
            mean_limit(V0, TIME, gamma, NOISE_MULTIPLIER))


def compute(scale, base_seed, cache):
    """Evaluate the recursion and its limit, fit the convergence and run the Monte Carlo.

    ``cache`` is unused: the Monte Carlo takes seconds at the quick scale.

    Returns
    -------
    dict
        JSON-ready, with ``config``, ``seeds``, ``exact`` (per width the exact mean and
        the largest gap to the limit), ``limit``, ``monte_carlo`` and ``fits``.

    Raises
    ------
    paper_figures.memory.InsufficientMemoryError
        If the estimated memory of one Monte Carlo batch exceeds what is available.
    """
    settings = SETTINGS[check_scale(scale)]
    require_memory(settings.estimate_memory_bytes(), f"{NAME} at scale {scale!r}")

    exact, gaps = [], []
    limit = None
    for width in settings.widths:
        value, limit = exact_and_limit(width)
        exact.append(value)
        gaps.append(float(np.abs(value - limit).max()))
    gaps = np.array(gaps)

    fitted = [settings.widths.index(width) for width in settings.fit_widths]
    regression = stats.linregress(np.log(np.array(settings.fit_widths, dtype=float)),
                                  np.log(gaps[fitted]))
    convergence = {
        "slope": regression.slope, "slope_standard_error": regression.stderr,
        "intercept": regression.intercept, "theory_slope": -1.0,
        "widths": list(settings.fit_widths),
        "width_times_gap_at_largest": float(settings.widths[-1] * gaps[-1]),
    }

    monte_carlo, z_fits = [], []
    for width in settings.monte_carlo_widths:
        depth = round(TIME * width)
        result = monte_carlo_mean(initial_covariance(), width, [depth], SKIP_WEIGHT,
                                  settings.networks, base_seed, noise_multiplier=NOISE_MULTIPLIER)
        mean, error = result["mean"][0], result["standard_error"][0]
        value, _ = exact_and_limit(width)
        # Only entries that move have a standard error; the first token's V_11 and the
        # off-diagonal entries are compared too, where their error is positive.
        moving = error > 0
        z_exact = np.abs(mean - value)[moving] / error[moving]
        z_limit = np.abs(mean - limit)[moving] / error[moving]
        monte_carlo.append({"width": width, "depth": depth, "networks": result["members"],
                            "mean": mean, "standard_error": error})
        z_fits.append({"width": width, "largest_z_against_exact": float(z_exact.max()),
                       "largest_z_against_limit": float(z_limit.max()),
                       "entries_compared": int(moving.sum()),
                       "theory": "exact recursion: |z| within a few units"})

    return json_ready({
        "config": {
            "scale": scale, "scale_settings": asdict(settings),
            "model": "idealized MixiT block (sims.idealized_block): one head, one value "
                     "matrix, no norm, no MLP",
            "seq_len": SEQ_LEN, "skip_weight": SKIP_WEIGHT,
            "branch_weight": math.sqrt(1.0 - SKIP_WEIGHT**2),
            "noise_multiplier": NOISE_MULTIPLIER, "t": TIME, "V0": initial_covariance(),
        },
        "seeds": {"base_seed": base_seed,
                  "note": "Monte Carlo batch i at each width draws from seed index i"},
        "exact": {"widths": list(settings.widths), "mean": exact, "largest_gap": gaps},
        "limit": limit,
        "monte_carlo": monte_carlo,
        "fits": {"convergence": convergence, "monte_carlo": z_fits},
    })


def draw(data):
    """Draw the two panels from the data of :func:`compute` (or its JSON file).

    Returns
    -------
    matplotlib.figure.Figure
    """
    widths = np.array(data["exact"]["widths"], dtype=float)
    exact = np.array(data["exact"]["mean"], dtype=float)
    limit = np.array(data["limit"], dtype=float)
    size = limit.shape[-1]

    figure = Figure(figsize=(12.5, 5.8))
    axes = figure.subplots(1, 2)
    figure.subplots_adjust(left=0.07, right=0.98, top=0.83, bottom=0.27, wspace=0.25)

    ax = axes[0]
    for token in range(1, size):
        colour = f"C{token}"
        ax.plot(widths, exact[:, token, token], color=colour, marker="o", markersize=3.5,
                linewidth=1.3)
        ax.axhline(limit[token, token], color=colour, linestyle="--", linewidth=1.0)
        for point in data["monte_carlo"]:
            mean = np.array(point["mean"], dtype=float)[token, token]
            error = np.array(point["standard_error"], dtype=float)[token, token]
            ax.errorbar([point["width"]], [mean], yerr=[2 * error], color=colour, marker="s",
                        markersize=6, markerfacecolor="none", capsize=4, linestyle="none")
        ax.text(widths[-1], limit[token, token], f"  $V_{{{token + 1}{token + 1}}}$",
                va="center", fontsize=9, color=colour)
    _log2_axis(ax, widths)
    ax.set_xlabel("width $n$")
    ax.set_ylabel(f"$E[V_{{aa}}]$ after $L = tn$ blocks, $t$ = {data['config']['t']:g}")
    ax.set_title("exact mean (solid), limit (dashed), Monte Carlo ± 2 s.e. (squares)",
                 fontsize=10)
    ax.grid(True, alpha=0.3)

    ax = axes[1]
    gaps = np.array(data["exact"]["largest_gap"], dtype=float)
    convergence = data["fits"]["convergence"]
    ax.plot(widths, gaps, color="C0", marker="o", markersize=4, linewidth=1.3,
            label=r"$\max_{ab} |E[V_{ab}] - \lim_{n\to\infty}|$")
    fit_widths = np.array(convergence["widths"], dtype=float)
    ax.plot(fit_widths, np.exp(convergence["intercept"]) * fit_widths ** convergence["slope"],
            color="C3", linestyle="--", linewidth=1.2,
            label=f"fit: slope {convergence['slope']:.4f} ± {convergence['slope_standard_error']:.4f}")
    ax.plot(widths, gaps[-1] * widths[-1] / widths, color="0.5", linestyle=":", linewidth=1.2,
            label="theory: slope -1")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("width $n$")
    ax.set_ylabel("largest entry of |exact - limit|")
    ax.set_title("convergence of the exact mean to its limit", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, frameon=False)

    lines = [f"Monte Carlo, {data['monte_carlo'][0]['networks']} networks per width: "
             if data["monte_carlo"] else "no Monte Carlo"]
    for fit in data["fits"]["monte_carlo"]:
        lines.append(f"n = {fit['width']}: largest |z| against the exact mean "
                     f"{fit['largest_z_against_exact']:.2f}, against the limit "
                     f"{fit['largest_z_against_limit']:.2f} ({fit['entries_compared']} entries)")
    lines.append(f"n times the gap at n = {int(widths[-1])}: "
                 f"{convergence['width_times_gap_at_largest']:.4f}")
    figure.text(0.07, 0.02, "\n".join(lines), ha="left", va="bottom", fontsize=9,
                linespacing=1.4)
    figure.legend(handles=[
        Line2D([], [], color="0.3", marker="o", markersize=3.5, label="exact recursion"),
        Line2D([], [], color="0.3", linestyle="--", label=r"limit $\exp(\gamma^2 t D)V_0$"),
        Line2D([], [], color="0.3", marker="s", markerfacecolor="none", linestyle="none",
               label="Monte Carlo mean ± 2 s.e."),
    ], loc="lower right", ncol=3, frameon=False, fontsize=9, bbox_to_anchor=(0.98, 0.02))
    config = data["config"]
    figure.suptitle(r"MixiT: the exact mean $(I + (\gamma^2/n)D)^L V_0$ and its limit as "
                    r"$n \to \infty$ with $L = tn$", fontsize=13, y=0.975)
    figure.text(0.5, 0.905,
                f"idealized block (one head, one value matrix, no norm, no MLP), "
                f"$T$ = {config['seq_len']} tokens, $V_0$: unit norms and correlation "
                f"{INITIAL_CORRELATION:g}, $\\gamma^2$ = {config['branch_weight']**2:.2g}, "
                f"$\\sigma$ = {config['noise_multiplier']:g}, $t$ = {config['t']:g}; "
                f"scale {config['scale']}", ha="center", va="center", fontsize=9)
    return figure


def _log2_axis(ax, widths):
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(widths))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(int(width)) for width in widths])
