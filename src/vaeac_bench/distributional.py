"""Distributional scores of imputations (issue 13 §4): beyond the error of their mean.

NRMSE/PFC (:mod:`vaeac_bench.metrics`) score one point per cell. These score the imputations as a
distribution, on the cells the benchmark hid (``scored``):

* :func:`wasserstein_per_column`: Wasserstein-1 distance between the imputed values (all draws pooled) and
  the true hidden values of each real column (``scipy.stats.wasserstein_distance``): do the imputations
  look like the data they replace, whatever their row-wise error.
* :func:`crps_per_column`: the continuous ranked probability score of each real cell's draws against its
  true value, averaged per column; the CRPS is the one-dimensional energy score (Gneiting & Raftery, JASA
  2007, eq. 22). With ``m`` draws ``x_i`` and truth ``y``:
  ``CRPS = mean_i |x_i - y| - 1 / (2 m (m - 1)) Σ_{i≠j} |x_i - x_j|`` by default, the *fair* estimator
  (Ferro, QJRMS 2014), unbiased for the CRPS of the distribution the draws come from; ``fair=False`` gives
  the standard ensemble estimator with ``1 / (2 m²) Σ_{i,j}``, which favours too narrow ensembles.
* :func:`interval_coverage`: the fraction of true values inside the central 50 % / 90 % interval of the
  draws (their ``(1 - l) / 2`` and ``(1 + l) / 2`` empirical quantiles, linear interpolation, ends included);
  calibrated multiple imputations cover about ``l``; with ``m`` draws from the true conditional the
  expected coverage is ``l (m - 1) / (m + 1)`` (the quantiles of the draws, not of the distribution), so
  compare methods at the same ``m``.
* :func:`brier_per_column`: the multi-category Brier score (Brier, Monthly Weather Review 1950) of each
  categorical cell's draw frequencies ``p_k``: ``Σ_k (p_k - [y = k])²``, averaged per column (0 best, 2 worst).

Every function takes ``truth`` (rows, D), imputations (n, rows, D) or (rows, D) and ``scored`` (rows, D)
booleans, and returns ``{column name: value}`` for the columns of the kind it scores, ``None`` where a column
has no scored cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import wasserstein_distance

from .schema import Schema

Scores = dict[str, float | None]


def _check(truth: np.ndarray, imputations: np.ndarray, scored: np.ndarray, schema: Schema,
           min_draws: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays as floats/bools of consistent shapes, or one error naming the argument at fault."""
    truth = np.asarray(truth, dtype=float)
    draws = np.asarray(imputations, dtype=float)
    scored = np.asarray(scored)
    if draws.ndim == 2:
        draws = draws[None]
    if truth.ndim != 2 or truth.shape[1] != len(schema):
        raise ValueError(f"truth must be (rows, {len(schema)}) to match the schema, got shape {truth.shape}")
    if draws.ndim != 3 or draws.shape[1:] != truth.shape:
        raise ValueError(f"imputations must be (n, rows, D) or (rows, D) with (rows, D) = {truth.shape}, "
                         f"got shape {np.shape(imputations)}")
    if scored.shape != truth.shape or scored.dtype != bool:
        raise ValueError(f"scored must be a boolean array of shape {truth.shape} (True = a hidden cell to score), "
                         f"got {scored.dtype} of shape {scored.shape}")
    if len(draws) < min_draws:
        raise ValueError(f"imputations holds {len(draws)} draw(s); this score needs at least {min_draws} "
                         "(pass the (n, rows, D) draws of a multiple-imputation method)")
    if np.isnan(truth[scored]).any() or np.isnan(draws[:, scored]).any():
        raise ValueError("truth or imputations hold NaN in scored cells; score only cells with a known true value")
    return truth, draws, scored


def wasserstein_per_column(truth: np.ndarray, imputations: np.ndarray, scored: np.ndarray,
                           schema: Schema) -> Scores:
    """Wasserstein-1 between each real column's imputed values (draws pooled) and its true hidden values."""
    truth, draws, scored = _check(truth, imputations, scored, schema)
    out: Scores = {}
    for j, feat in enumerate(schema):
        if feat.is_categorical:
            continue
        rows = scored[:, j]
        out[feat.name] = float(wasserstein_distance(draws[:, rows, j].ravel(), truth[rows, j])) if rows.any() else None
    return out


def crps(draws: np.ndarray, y: np.ndarray, fair: bool = True) -> np.ndarray:
    """CRPS of each column of ``draws`` (m, cells) against ``y`` (cells); fair (Ferro 2014) or standard estimator."""
    m = draws.shape[0]
    if fair and m < 2:
        raise ValueError("the fair CRPS needs at least 2 draws; pass more draws or fair=False")
    accuracy = np.mean(np.abs(draws - y[None]), axis=0)
    # Σ_{i,j} |x_i - x_j| = 2 Σ_k (2k - m - 1) x_(k) over the sorted draws (k = 1..m): O(m log m), not O(m²)
    ranks = 2 * np.arange(1, m + 1) - m - 1
    pair_sum = 2 * np.tensordot(ranks, np.sort(draws, axis=0), axes=1)
    spread = pair_sum / (2 * m * (m - 1)) if fair else pair_sum / (2 * m * m)
    return accuracy - spread


def crps_per_column(truth: np.ndarray, imputations: np.ndarray, scored: np.ndarray, schema: Schema,
                    fair: bool = True) -> Scores:
    """Mean CRPS (the 1-D energy score) of each real column's draws on its scored cells; lower is better."""
    truth, draws, scored = _check(truth, imputations, scored, schema, min_draws=2 if fair else 1)
    out: Scores = {}
    for j, feat in enumerate(schema):
        if feat.is_categorical:
            continue
        rows = scored[:, j]
        out[feat.name] = float(np.mean(crps(draws[:, rows, j], truth[rows, j], fair))) if rows.any() else None
    return out


def interval_coverage(truth: np.ndarray, imputations: np.ndarray, scored: np.ndarray, schema: Schema,
                      levels: Sequence[float] = (0.5, 0.9)) -> dict[float, Scores]:
    """Per level ``l``: the fraction of each real column's true values inside the draws' central ``l`` interval."""
    truth, draws, scored = _check(truth, imputations, scored, schema, min_draws=2)
    for level in levels:
        if not 0 < float(level) < 1:
            raise ValueError(f"levels must lie strictly between 0 and 1 (e.g. 0.5, 0.9), got {level!r}")
    out: dict[float, Scores] = {float(lv): {} for lv in levels}
    for j, feat in enumerate(schema):
        if feat.is_categorical:
            continue
        rows = scored[:, j]
        for level in out:
            if not rows.any():
                out[level][feat.name] = None
                continue
            lo, hi = np.quantile(draws[:, rows, j], [(1 - level) / 2, (1 + level) / 2], axis=0)
            y = truth[rows, j]
            out[level][feat.name] = float(np.mean((y >= lo) & (y <= hi)))
    return out


def brier_per_column(truth: np.ndarray, imputations: np.ndarray, scored: np.ndarray, schema: Schema) -> Scores:
    """Mean multi-category Brier score of each categorical column's draw frequencies on its scored cells."""
    truth, draws, scored = _check(truth, imputations, scored, schema)
    out: Scores = {}
    for j, feat in enumerate(schema):
        if not feat.is_categorical:
            continue
        rows = scored[:, j]
        if not rows.any():
            out[feat.name] = None
            continue
        k = feat.n_categories
        codes = draws[:, rows, j].astype(int)
        if codes.min() < 0 or codes.max() >= k:
            raise ValueError(f"imputations of column {feat.name!r} hold codes outside 0..{k - 1}")
        freq = np.stack([np.mean(codes == c, axis=0) for c in range(k)], axis=1)  # (cells, K)
        onehot = np.eye(k)[truth[rows, j].astype(int)]
        out[feat.name] = float(np.mean(np.sum((freq - onehot) ** 2, axis=1)))
    return out


def _mean(scores: Scores) -> float | None:
    vals = [v for v in scores.values() if v is not None]
    return float(np.mean(vals)) if vals else None


def distributional_scores(truth: np.ndarray, imputations: np.ndarray, scored: np.ndarray, schema: Schema,
                          levels: Sequence[float] = (0.5, 0.9)) -> dict[str, object]:
    """Every score above as one JSON-ready dict: per column and the mean over columns (draw-based ones need n ≥ 2)."""
    draws = np.asarray(imputations, dtype=float)
    multiple = draws.ndim == 3 and len(draws) >= 2
    w1 = wasserstein_per_column(truth, imputations, scored, schema)
    out: dict[str, object] = {"wasserstein": {"mean": _mean(w1), "columns": w1}}
    if multiple:
        c = crps_per_column(truth, imputations, scored, schema)
        out["crps"] = {"mean": _mean(c), "columns": c, "estimator": "fair"}
        cov = interval_coverage(truth, imputations, scored, schema, levels)
        out["coverage"] = {f"{lv:g}": {"mean": _mean(v), "columns": v} for lv, v in cov.items()}
        b = brier_per_column(truth, imputations, scored, schema)
        out["brier"] = {"mean": _mean(b), "columns": b}
    return out
