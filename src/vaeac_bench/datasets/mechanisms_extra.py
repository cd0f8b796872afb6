"""MAR and MNAR missingness mechanisms of Muzellec, Josse, Boyer & Cuturi (ICML 2020, §4 and their
``produce_NA`` utilities), which the HyperImpute benchmark reuses. Issue 13 §3.

Each is ``fn(data, rate, rng) -> bool array`` (True = drop the cell), like :func:`.masks.mcar`, seeded by
``rng`` alone. ``data`` is the ground truth in the numeric layout (NaN where truly missing: such cells are
filled with their column mean as inputs of the logistic models; a categorical column enters as its code).
``rate`` is, as in Muzellec et al., the expected proportion of missing cells *in the columns that receive
missing values*; under MAR (and quantile censoring with ``p_params < 1``) the other columns stay complete, so
the overall proportion is ``rate`` times the share of columns that receive them.

* :func:`mar_logistic`: ``max(⌊p_obs·d⌋, 1)`` random columns stay fully observed; each other column is dropped
  with probability ``sigmoid(x_obs·w + b)``, ``w ~ N(0, I)`` rescaled so ``x_obs·w`` has unit variance and
  ``b`` solved (bisection) so the mean probability is ``rate``.
* :func:`mnar_logistic`: the same logistic model on ``max(⌊p_params·d⌋, 1)`` input columns, which are then
  themselves dropped MCAR with probability ``rate``, so the other columns' missingness depends on values
  that may be missing.
* :func:`mnar_self_masked`: every column is dropped with probability ``sigmoid(w_j x_j + b_j)`` of its own
  value (``w_j`` random sign, rescaled to unit variance, ``b_j`` solved for ``rate``): larger values are more
  often missing where ``w_j > 0``, smaller where ``w_j < 0``.
* :func:`mnar_quantile`: ``max(⌊p_params·d⌋, 1)`` random columns lose cells only in their tails (below the
  ``q`` quantile and/or above the ``1 - q`` quantile, ``cut``). Muzellec et al. drop a tail cell with
  probability ``rate``, which realises ``rate × 2q``; here a tail cell is dropped with probability
  ``rate / t`` (``t`` the tail mass, widened to ``rate`` when ``rate`` exceeds it) so that ``rate`` means
  the same as for the other mechanisms.

Defaults are the authors' experiments': ``p_obs = p_params = 0.3`` for the logistic models, ``q = 0.25``,
``cut = "both"`` and ``p_params = 0.7`` for quantile censoring.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from .masks import check_rate


def _check(data: np.ndarray, rate: float, fraction: float, name: str) -> tuple[np.ndarray, float]:
    """Complete (mean-filled) float data and the checked rate; clear errors for bad arguments."""
    X = np.asarray(data, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"data must be a 2-D array with at least 2 rows, got shape {X.shape}")
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {fraction!r}")
    rate = check_rate(rate)
    means = np.nanmean(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
    return np.where(np.isnan(X), means, X), rate


def _unit_variance(scores: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Rescale each column of ``coeffs`` so that its column of ``scores`` has unit std (the authors' pick_coeffs)."""
    sd = scores.std(axis=0, ddof=1)
    return np.where(sd > 0, coeffs / np.where(sd > 0, sd, 1.0), 0.0)


def _intercept(z: np.ndarray, rate: float) -> float:
    """The ``b`` with mean(sigmoid(z + b)) = rate (bisection on [-50, 50], as the authors' fit_intercepts)."""
    return float(brentq(lambda b: float(np.mean(expit(z + b))) - rate, -50.0 - np.abs(z).max(),
                        50.0 + np.abs(z).max(), xtol=1e-10))


def _logistic_masks(X: np.ndarray, inputs: np.ndarray, targets: np.ndarray, rate: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Bernoulli masks of the ``targets`` columns from a random logistic model of the ``inputs`` columns."""
    coeffs = rng.standard_normal((len(inputs), len(targets)))
    coeffs = _unit_variance(X[:, inputs] @ coeffs, coeffs)
    z = X[:, inputs] @ coeffs
    probs = np.column_stack([expit(z[:, k] + _intercept(z[:, k], rate)) for k in range(len(targets))])
    return rng.random(probs.shape) < probs


def mar_logistic(data: np.ndarray, rate: float, rng: np.random.Generator, *, p_obs: float = 0.3) -> np.ndarray:
    """MAR: a logistic model of always-observed columns drops cells of the others (Muzellec et al.'s MAR_mask)."""
    X, rate = _check(data, rate, p_obs, "p_obs")
    n, d = X.shape
    mask = np.zeros((n, d), dtype=bool)
    if rate == 0.0 or d < 2:
        if d < 2 and rate > 0:
            raise ValueError("mar_logistic needs at least 2 columns (one stays observed to drive the others)")
        return mask
    d_obs = min(max(int(p_obs * d), 1), d - 1)
    observed = rng.choice(d, d_obs, replace=False)
    targets = np.setdiff1d(np.arange(d), observed)
    mask[:, targets] = _logistic_masks(X, observed, targets, rate, rng)
    return mask


def mnar_logistic(data: np.ndarray, rate: float, rng: np.random.Generator, *, p_params: float = 0.3) -> np.ndarray:
    """MNAR: a logistic model of input columns that are themselves dropped MCAR (MNAR_mask_logistic)."""
    X, rate = _check(data, rate, p_params, "p_params")
    n, d = X.shape
    mask = np.zeros((n, d), dtype=bool)
    if rate == 0.0:
        return mask
    if d < 2:
        raise ValueError("mnar_logistic needs at least 2 columns (inputs and masked columns)")
    d_params = min(max(int(p_params * d), 1), d - 1)
    inputs = rng.choice(d, d_params, replace=False)
    targets = np.setdiff1d(np.arange(d), inputs)
    mask[:, targets] = _logistic_masks(X, inputs, targets, rate, rng)
    mask[:, inputs] = rng.random((n, d_params)) < rate  # the inputs go missing too: missingness depends on them
    return mask


def mnar_self_masked(data: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """MNAR: each cell's drop probability is a logistic function of its own value (MNAR_self_mask_logistic)."""
    X, rate = _check(data, rate, 1.0, "fraction")
    n, d = X.shape
    if rate == 0.0:
        return np.zeros((n, d), dtype=bool)
    w = rng.standard_normal(d)
    coeffs = _unit_variance(X * w, w)
    z = X * coeffs
    probs = np.column_stack([expit(z[:, j] + _intercept(z[:, j], rate)) for j in range(d)])
    return rng.random((n, d)) < probs


def mnar_quantile(data: np.ndarray, rate: float, rng: np.random.Generator, *, q: float = 0.25,
                  p_params: float = 0.7, cut: Literal["both", "upper", "lower"] = "both") -> np.ndarray:
    """MNAR: cells are dropped only in the tails of chosen columns (quantile censoring, MNAR_mask_quantiles)."""
    X, rate = _check(data, rate, p_params, "p_params")
    if cut not in ("both", "upper", "lower"):
        raise ValueError(f"cut must be 'both', 'upper' or 'lower', got {cut!r}")
    if not 0.0 < float(q) <= 0.5:
        raise ValueError(f"q (the tail quantile) must be in (0, 0.5], got {q!r}")
    n, d = X.shape
    mask = np.zeros((n, d), dtype=bool)
    if rate == 0.0:
        return mask
    columns = rng.choice(d, min(max(int(p_params * d), 1), d), replace=False)
    tail = max(float(q) * (2 if cut == "both" else 1), rate)  # the tail mass, widened to hold the rate
    for j in columns:
        col = X[:, j]
        if cut == "both":
            lo, hi = np.quantile(col, [tail / 2, 1 - tail / 2])
            in_tail = (col <= lo) | (col >= hi)
        elif cut == "upper":
            in_tail = col >= np.quantile(col, 1 - tail)
        else:
            in_tail = col <= np.quantile(col, tail)
        share = in_tail.mean()  # ties can make the tail larger than its nominal mass
        mask[:, j] = in_tail & (rng.random(n) < min(rate / share, 1.0))
    return mask


#: the names the CLI's ``--mechanism`` would use (the lead registers them with ``register_mechanism``)
EXTRA_MECHANISMS = {"mar": mar_logistic, "mnar-logistic": mnar_logistic, "mnar-selfmask": mnar_self_masked,
                    "mnar-quantile": mnar_quantile}
