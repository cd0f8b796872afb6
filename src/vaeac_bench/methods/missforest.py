"""MissForest (Stekhoven & Bühlmann, Bioinformatics 2012) with scikit-learn random forests.

Written here because missingpy 0.2.0 no longer imports with current scikit-learn and the PyPI
``missforest`` package is not faithful (LightGBM by default, trains on imputed targets). As in the
paper's algorithm 1:

1. start from the mean (real) / mode (categorical) of each column;
2. visit the columns in order of increasing missingness; for each, fit a random forest (regressor or
   classifier) on the rows where that column is *observed*, using the current imputation of the other
   columns (categoricals one-hot) as predictors, and predict its missing cells;
3. repeat until the change between successive imputations grows for the first time for both variable
   types (ΔN for real, ΔF for categorical), or ``max_iter`` sweeps; return the previous imputation.

Forest settings follow R's randomForest defaults that missForest uses: ``n_estimators=100``,
``max_features`` sqrt(p) for classification and p/3 for regression, leaf size 1 (classification) and
5 (regression). Unseen rows are imputed inductively with the forests of the last kept sweep (the
benchmark fits on train and imputes test), iterated with the same stopping rule.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.utils._param_validation import Interval

from ..encoding import one_hot
from ..schema import Schema
from .refit import RefitOnLoad


class MissForestImputer(RefitOnLoad):
    """Iterative random-forest imputation; single imputation (the paper notes MissForest is not multiple)."""

    multiple = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "min_samples_leaf_regression": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
    }

    def __init__(self, n_estimators: int = 100, max_iter: int = 10, min_samples_leaf_regression: int = 5,
                 n_jobs: int = 1, random_state: int | None = None):
        self.n_estimators = n_estimators
        self.max_iter = max_iter
        self.min_samples_leaf_regression = min_samples_leaf_regression
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- the algorithm ----------------------------------------------------------------------------
    def _forest(self, categorical: bool, seed: int):
        if categorical:
            return RandomForestClassifier(n_estimators=int(self.n_estimators), max_features="sqrt",
                                          min_samples_leaf=1, n_jobs=self.n_jobs, random_state=seed)
        return RandomForestRegressor(n_estimators=int(self.n_estimators), max_features=1 / 3,
                                     min_samples_leaf=int(self.min_samples_leaf_regression), n_jobs=self.n_jobs,
                                     random_state=seed)

    def _predictors(self, Ximp: np.ndarray, j: int) -> np.ndarray:
        keep = [i for i in range(Ximp.shape[1]) if i != j]
        return one_hot(Ximp[:, keep], self.schema_.select(keep))

    def _initial(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(X), self.init_, X)

    def _change(self, new: np.ndarray, old: np.ndarray, missing: np.ndarray) -> tuple[float, float]:
        """ΔN (real) and ΔF (categorical) of Stekhoven & Bühlmann, NaN where a type is absent."""
        real, cat = self.schema_.real_mask, self.schema_.categorical_mask
        d_n = d_f = np.nan
        if real.any():
            denom = float(np.sum(new[:, real] ** 2))
            d_n = float(np.sum((new[:, real] - old[:, real]) ** 2)) / denom if denom > 0 else 0.0
        n_cat_missing = int(missing[:, cat].sum())
        if cat.any() and n_cat_missing:
            d_f = float(np.sum(new[:, cat] != old[:, cat])) / n_cat_missing
        return d_n, d_f

    @staticmethod
    def _grew(prev: tuple[float, float], cur: tuple[float, float]) -> bool:
        """True once the change grew for every variable type present (the paper's stopping rule)."""
        pairs = [(p, c) for p, c in zip(prev, cur, strict=True) if not (np.isnan(p) or np.isnan(c))]
        return bool(pairs) and all(c > p for p, c in pairs)

    def _sweep(self, Ximp: np.ndarray, missing: np.ndarray, forests: dict[int, object] | None,
               X_obs: np.ndarray | None = None, seed_base: int = 0) -> tuple[np.ndarray, dict[int, object]]:
        """One pass over the columns with missing cells, in order of increasing missingness: fit a forest per
        column (``forests`` None) or apply the given ones, updating the imputation column by column."""
        out = Ximp.copy()
        fitted: dict[int, object] = {}
        for j in map(int, np.argsort(missing.sum(axis=0), kind="stable")):
            miss = missing[:, j]
            if not miss.any():
                continue
            if forests is None:
                fitted[j] = self._fit_column(out, j, ~miss, X_obs, seed_base + j)
            out[miss, j] = (fitted if forests is None else forests)[j].predict(self._predictors(out, j)[miss])
        return out, fitted

    def _fit_column(self, Ximp: np.ndarray, j: int, rows: np.ndarray, X_obs: np.ndarray, seed: int):
        model = self._forest(self.schema_[j].is_categorical, seed)
        model.fit(self._predictors(Ximp, j)[rows], X_obs[rows, j])
        return model

    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        self._remember(X)
        self.schema_ = schema
        missing = np.isnan(X)
        init = np.empty(X.shape[1])
        for j, feat in enumerate(schema):
            col = X[~missing[:, j], j]
            init[j] = np.bincount(col.astype(int)).argmax() if feat.is_categorical else col.mean()
        self.init_ = init
        rng = np.random.default_rng(self.random_state)
        Ximp = self._initial(X)
        prev_change = (np.inf, np.inf)
        kept: dict[int, object] = {}
        self.n_iter_ = 0
        for it in range(int(self.max_iter)):
            new, forests = self._sweep(Ximp, missing, None, X, int(rng.integers(2**31 - 1)))
            change = self._change(new, Ximp, missing)
            if it > 0 and self._grew(prev_change, change):
                break  # the change grew: keep the previous imputation and its forests
            Ximp, kept, prev_change = new, forests, change
            self.n_iter_ += 1
        self.train_imputed_ = Ximp
        # columns complete in training (e.g. the target) still need a forest for unseen rows
        seed = int(rng.integers(2**31 - 1))
        for j in np.where(~missing.any(axis=0))[0]:
            kept[int(j)] = self._fit_column(Ximp, int(j), np.ones(len(X), bool), X, seed + int(j))
        self.forests_ = kept

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        if X.shape == self.train_data_.shape and np.array_equal(X, self.train_data_, equal_nan=True):
            return self.train_imputed_[None]  # MissForest's own imputation of the data it was fitted on
        missing = np.isnan(X)
        Ximp = self._initial(X)
        prev_change = (np.inf, np.inf)
        for _ in range(int(self.max_iter)):
            new, _ = self._sweep(Ximp, missing, self.forests_)
            change = self._change(new, Ximp, missing)
            if self._grew(prev_change, change):
                break
            Ximp, prev_change = new, change
            if all(c == 0.0 or np.isnan(c) for c in change):
                break  # converged exactly
        return Ximp[None]
