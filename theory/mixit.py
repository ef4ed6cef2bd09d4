"""Signal propagation in the idealized MixiT block, derived step by step.

MixiT (Dong, Noci, Khodak, Li 2025, "Is Random Attention Sufficient for Sequence Modeling?",
arXiv 2506.01115) replaces the attention matrix by ``I`` plus a fixed, centred random matrix.
The paper states that the covariance of the token representations converges to an SDE in the
joint limit of infinite depth and width. This module derives such an SDE for the idealized
block of the premises ``P1`` and ``P2``: one head, one value matrix, no normalization and no
MLP. The limit is the proportional one, ``n -> infinity`` with depth ``L = t n``. The
derivation then extends the SDE to several heads and to a shaped-ReLU MLP.

NOTE: this derivation has not been compared with the paper's theorem statement, whose
assumptions and constants may differ.

:func:`derive` returns the derivation, premises first. :func:`numbers` evaluates its results
at the settings of the reference implementation (``gamma**2 = 1/2``, ``sigma = 1``). The numeric
functions that simulations compare against are re-exported here from
:mod:`theory.mixit_covariance`, :mod:`theory.mixit_correlation`, :mod:`theory.mixit_norm` and
:mod:`theory.mixit_contrast`.
"""

import functools
import math

import numpy as np
import sympy

from theory import mixit_steps
from theory.derivation import Derivation, Premise
from theory.mixit_contrast import (causal_averaging_matrix, causal_uniform_mean,
                                   mean_offdiagonal_correlation,
                                   shaped_attention_noise_covariance,
                                   shaped_attention_noise_drift, uniform_attention_correlation,
                                   uniform_attention_correlation_limit)
from theory.mixit_correlation import (log_det_diffusion, log_det_drift,
                                      log_det_drift_lower_bound)
from theory.mixit_covariance import (causal_centring_projectors, exact_mean, from_triu,
                                     linear_diffusion_coefficient, mean_limit, mixing_drift,
                                     mixing_noise_covariance, sde_covariance, sde_drift,
                                     shaped_mlp_drift, shaped_relu_nu, sigma_lin, sigma_mix,
                                     to_triu, token_correlation, triu_coordinates,
                                     two_token_mean)
from theory.mixit_norm import log_norm_factor_mean, norm_factor_convergence

__all__ = [
    "causal_averaging_matrix", "causal_centring_projectors", "causal_uniform_mean", "derive",
    "exact_mean", "from_triu", "linear_diffusion_coefficient", "log_det_diffusion",
    "log_det_drift", "log_det_drift_lower_bound", "log_norm_factor_mean", "mean_limit",
    "mean_offdiagonal_correlation", "mixing_drift", "mixing_noise_covariance",
    "norm_factor_convergence", "numbers", "sde_covariance", "sde_drift",
    "shaped_attention_noise_covariance", "shaped_attention_noise_drift", "shaped_mlp_drift",
    "shaped_relu_nu", "sigma_lin", "sigma_mix", "to_triu", "token_correlation",
    "triu_coordinates", "two_token_mean", "uniform_attention_correlation",
    "uniform_attention_correlation_limit",
]

AIMS = (
    ("A1, exact mean",
     "the mean of V after L blocks, exactly at every finite width n, token count m and depth L."),
    ("A2, SDE limit",
     "the drift and diffusion of V per unit t = l / n as n -> infinity with L = t n."),
    ("A3, stability",
     "whether correlations stay in (-1, 1), and V positive definite, at every finite t."),
    ("A4, contrasts",
     "the same quantities for uniform attention and for first-order shaped attention."),
)

PREMISES = (
    Premise(
        "P1", "idealized MixiT block",
        "Tokens are the rows of X (m x n) and V = X X^T / n. One block maps "
        "X' = lambda_skip X + gamma A X W / sqrt(n) with lambda_skip**2 + gamma**2 = 1 and W "
        "an n x n matrix of independent N(0, 1) entries, drawn afresh in every block.",
    ),
    Premise(
        "P2", "centred causal mixing noise",
        "A = I + C / sqrt(n). C[a, j] = 1{j <= a} (G[a, j] - mean_{k <= a} G[a, k]) with "
        "G[a, j] independent N(0, sigma**2 / m), drawn afresh in every block and independent "
        "of W and X. Token a (1-based) sees tokens 1..a.",
    ),
    Premise(
        "P3", "Gaussian moments",
        "For W with independent N(0, 1) entries: E[W W^T] = n I; "
        "Cov(u^T W v, p^T W q) = (u . p)(v . q); "
        "Cov((W W^T)_ij, (W W^T)_kl) = n (delta_ik delta_jl + delta_il delta_jk); odd "
        "moments vanish (Isserlis' theorem).",
    ),
    Premise(
        "P4", "diffusion limit",
        "A Markov chain on V whose increments have conditional mean b(V) / n and "
        "conditional covariance Sigma(V) / n + o(1 / n), with smooth coefficients and "
        "bounded higher moments, converges over L = t n steps to the SDE "
        "dV = b dt + Sigma**(1/2) dB as n -> infinity with m fixed. This is the standard "
        "diffusion approximation; it is taken as given, not proved here.",
    ),
    Premise(
        "P5", "multi-head block",
        "H heads of width n_h = n / H, each with its own noise A^h = I + C^h / sqrt(n_h), "
        "value matrix W_V^h (n x n_h) and a shared output matrix W_O (n x n), all Gaussian: "
        "X' = lambda_skip X + gamma [A^1 X W_V^1, ..., A^H X W_V^H] W_O / n.",
    ),
    Premise(
        "P6", "shaped ReLU MLP",
        "Block lambda_skip X + gamma phi(X W1 / sqrt(n)) W2 / sqrt(n) with "
        "phi(x) = k (s_+ max(x, 0) + s_- min(x, 0)), s_pm = 1 + c_pm / sqrt(n), "
        "k = (2 / (s_+**2 + s_-**2))**(1/2) (Li, Nica, Roy 2022, arXiv 2206.02768). For "
        "unit-variance Gaussians of correlation rho, "
        "E|u||v| = (2 / pi)(sqrt(1 - rho**2) + rho asin(rho)) and E[u |v|] = 0.",
    ),
    Premise(
        "P7", "non-central chi-square",
        "chi'**2_k(delta) has cumulants kappa_r = 2**(r-1) (r-1)! (k + r delta) and is a "
        "Poisson(delta / 2) mixture of central chi**2_{k + 2j}; E[log chi**2_k] = "
        "log 2 + psi(k / 2).",
    ),
    Premise(
        "P8", "uniform attention",
        "Softmax attention at small initialization averages uniformly: "
        "X' = X + a U X W / sqrt(n) with U = 1 1^T / m (bidirectional) or the causal "
        "averaging matrix U[a, j] = 1{j <= a} / a, W Gaussian (Noci et al. 2022, "
        "arXiv 2206.03126). Tokens start orthogonal with equal norms, V0 = I.",
    ),
    Premise(
        "P9", "shaped attention",
        "A = I + softmax(Y / tau) - (uniform average over the causal support) with "
        "Y = (X W_Q / sqrt(n)) (X W_K / sqrt(n))^T, W_Q and W_K of shape n x n_k with "
        "independent N(0, 1) entries, and tau = tau0 sqrt(n n_k) (Noci et al. 2023, "
        "arXiv 2306.17759).",
    ),
)


@functools.lru_cache(maxsize=1)
def derive():
    """Derive the covariance SDE of the idealized MixiT block, step by step.

    Returns
    -------
    Derivation
        Aims ``A1`` to ``A4``, premises ``P1`` to ``P9`` and the steps.
        :meth:`Derivation.results` contains the closed forms (sympy expressions, or strings
        for formulas over all tokens): ``c_lin_one_matrix``, ``c_lin_two_matrices``,
        ``v22_limit``, ``log_norm_factor_b1``, ``rho_linear_drift``, ``y_linear_drift``,
        ``y_drift_bound``, ``log_det_drift``, ``uniform_rho_L`` and others.
    """
    steps = (
        mixit_steps.step_noise(),
        mixit_steps.step_one_step_mean(),
        mixit_steps.step_drift_properties(),
        mixit_steps.step_depth_mean(),
        mixit_steps.step_two_tokens(),
        mixit_steps.step_one_step_covariance(),
        mixit_steps.step_first_token(),
        mixit_steps.step_sde(),
        mixit_steps.step_multihead(),
        mixit_steps.step_shaped_mlp(),
        mixit_steps.step_correlation(),
        mixit_steps.step_artanh(),
        mixit_steps.step_log_det(),
        mixit_steps.step_uniform_attention(),
        mixit_steps.step_shaped_attention(),
    )
    return Derivation(
        "MixiT: the covariance SDE of token representations, derived step by step",
        PREMISES,
        steps,
        AIMS,
    )


REFERENCE_WIDTHS = (16, 64, 256, 1024)
"""Widths at which :func:`numbers` evaluates finite-width results."""


def numbers():
    """Evaluate the derivation's results at the reference settings, as plain floats.

    The settings are ``gamma**2 = 1/2`` and ``sigma = 1``, which match ``depth.py`` of the
    reference implementation (princeton-pli/MixiT, commit 22ce029): it passes
    ``skip_scaling = sqrt(0.5)``. The two-token mean starts at ``rho_0 = 1/2`` and is read at
    ``t = 1``, and finite widths are those of ``REFERENCE_WIDTHS``.

    Returns
    -------
    dict
        JSON-ready: string keys, float or list values.
    """
    branch_weight = math.sqrt(0.5)
    start = np.array([[1.0, 0.5], [0.5, 1.0]])
    finite = {str(width): float(exact_mean(start, width, width, branch_weight)[1, 1])
              for width in REFERENCE_WIDTHS}
    nu_values = {label: float(shaped_relu_nu(value)) for label, value in
                 (("-1", -1.0), ("0", 0.0), ("1", 1.0))}
    identity = np.eye(8)
    return {
        "settings": {"gamma_squared": 0.5, "sigma": 1.0},
        "c_lin": {
            "one_matrix": linear_diffusion_coefficient(branch_weight, 1),
            "two_matrices": linear_diffusion_coefficient(branch_weight, 2),
        },
        "two_token_mean_V22_at_t1": {
            "rho_0": 0.5,
            "finite_width": finite,
            "limit": float(two_token_mean(start, 1.0, branch_weight)[1, 1]),
            "limit_closed_form": "exp(1/8)",
        },
        "first_token_log_norm_factor": norm_factor_convergence(
            REFERENCE_WIDTHS, sympy.sqrt(sympy.Rational(1, 2))),
        "shaped_relu_nu": {"c_plus": 0.0, "c_minus": -1.0, "values": nu_values},
        "uniform_attention_rho_L": {
            "m=8, a**2=1, L=10": uniform_attention_correlation(10, 8, 1.0),
            "m=8, a**2=0.1, L=10": uniform_attention_correlation(10, 8, math.sqrt(0.1)),
            "m=8, a**2=1/L, L->infinity": uniform_attention_correlation_limit(8, 1.0),
            "m=32, a**2=1, L=5": uniform_attention_correlation(5, 32, 1.0),
        },
        "causal_uniform_attention_mean_correlation": {
            "m=8, a**2=1, L=10": float(mean_offdiagonal_correlation(
                causal_uniform_mean(identity, 10, 1.0))),
            "m=8, a**2=0.1, L=10": float(mean_offdiagonal_correlation(
                causal_uniform_mean(identity, 10, math.sqrt(0.1)))),
        },
        "log_det_drift_lower_bound_m=2": log_det_drift_lower_bound(2, branch_weight),
    }
