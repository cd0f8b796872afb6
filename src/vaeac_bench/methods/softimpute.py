"""SoftImpute: low-rank matrix completion by iterative soft-thresholded SVD (Mazumder, Hastie & Tibshirani,
JMLR 2010, Algorithm 1).

On the standardised, one-hot matrix ``X`` (``_tabular.OneHotLayout``; centred, so the zero start is the
mean imputation) with observed set Ω, repeat ``Z ← S_λ(P_Ω(X) + P_Ω⊥(Z))`` where ``S_λ`` soft-thresholds the
singular values (``max(σ - λ, 0)``), until ``‖Z_new - Z_old‖²_F / ‖Z_old‖²_F < tol`` (the paper's
criterion) or ``max_iter`` sweeps. Missing cells take ``Z``'s values; a categorical cell the argmax level.

λ: the paper computes a warm-started path from λ_max = σ_max(P_Ω(X)), the smallest λ whose solution is zero,
downwards; the authors' R package (``softImpute``: ``lambda0()`` gives λ_max) leaves the choice to the user.
``shrinkage=None`` uses λ = λ_max / 50, the default rule of fancyimpute's SoftImpute, the usual Python
implementation. Rows not seen in training are completed jointly with the training rows at the fitted λ
(SoftImpute is transductive). Single imputation.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval

from ..schema import Schema
from ._tabular import OneHotLayout
from .refit import RefitOnLoad

LAMBDA_FRACTION = 50.0  # λ = σ_max(P_Ω(X)) / 50 (fancyimpute's default rule)


def soft_impute(Z: np.ndarray, lam: float, *, max_iter: int, tol: float, max_rank: int | None = None,
                start: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Complete ``Z`` (NaN = missing) by Algorithm 1; returns the completed matrix and the sweeps run."""
    observed = ~np.isnan(Z)
    filled = np.where(observed, Z, 0.0)
    current = np.zeros_like(filled) if start is None else start
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        U, s, Vt = np.linalg.svd(np.where(observed, filled, current), full_matrices=False)
        s = np.maximum(s - lam, 0.0)
        if max_rank is not None:
            s[max_rank:] = 0.0
        new = (U * s) @ Vt
        denom = float(np.sum(current ** 2))
        change = float(np.sum((new - current) ** 2)) / denom if denom > 0 else np.inf
        current = new
        if change < tol:
            break
    return np.where(observed, filled, current), n_iter


class SoftImputeImputer(RefitOnLoad):
    """SoftImpute (Mazumder et al., 2010) with λ = σ_max / 50 by default; single, deterministic imputation."""

    multiple = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "shrinkage": [Interval(Real, 0, None, closed="left"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_rank": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, shrinkage: float | None = None, max_iter: int = 100, tol: float = 1e-5,
                 max_rank: int | None = None):
        self.shrinkage = shrinkage
        self.max_iter = max_iter
        self.tol = tol
        self.max_rank = max_rank

    def _complete(self, Z: np.ndarray, start: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        return soft_impute(Z, self.lambda_, max_iter=int(self.max_iter), tol=float(self.tol),
                           max_rank=None if self.max_rank is None else int(self.max_rank), start=start)

    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        self._remember(X)
        self.layout_ = OneHotLayout(schema).fit(X)
        Z = self.layout_.encode(X)
        sigma_max = float(np.linalg.norm(np.nan_to_num(Z, nan=0.0), ord=2))
        self.lambda_ = sigma_max / LAMBDA_FRACTION if self.shrinkage is None else float(self.shrinkage)
        self.train_completed_, self.n_iter_ = self._complete(Z)

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        if X.shape == self.train_data_.shape and np.array_equal(X, self.train_data_, equal_nan=True):
            return self.layout_.decode(self.train_completed_)[None]
        Z_train = self.layout_.encode(self.train_data_)
        Z = np.vstack([Z_train, self.layout_.encode(X)])
        start = np.vstack([self.train_completed_, np.zeros((len(X), Z.shape[1]))])
        completed, _ = self._complete(Z, start=start)
        return self.layout_.decode(completed[len(Z_train):])[None]
