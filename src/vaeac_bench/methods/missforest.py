"""MissForest (Stekhoven & Bühlmann, Bioinformatics 2012) with scikit-learn random forests.

Written here because missingpy 0.2.0 no longer imports with current scikit-learn and the PyPI
``missforest`` package is not faithful (LightGBM by default, trains on imputed targets). As in the
paper's algorithm 1:

1. start from the mean (real) / mode (categorical) of each column;
2. visit the columns in order of increasing missingness; for each, fit a random forest (regressor or
   classifier) on the rows where that column is *observed*, using the current imputation of the other
   columns (categoricals one-hot) as predictors, and predict its missing cells;
3. repeat until the change between successive imputations stops decreasing for every variable type
   (ΔN for real, ΔF for categorical; the R package's rule, see :meth:`MissForestImputer._iterate`) and
   return the previous imputation, or stop after ``max_iter`` sweeps and return the last one.

Forest settings follow the missForest R package: ``ntree=100`` trees, ``mtry = floor(sqrt(p))`` candidate
predictors per split for every variable, p the number of variables (missForest's own default, the same for
regression and classification; randomForest's p/3 for regression is *not* what missForest passes), and
randomForest's leaf sizes, 1 (classification) and 5 (regression), since missForest's ``nodesize`` is NULL.
Categorical predictors are one-hot here (scikit-learn trees), so ``mtry`` counts one-hot columns.
Unseen rows are imputed inductively with the forests of the last kept sweep (the benchmark fits on train
and imputes test), iterated with the same stopping rule.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from typing import Any, ClassVar, TypeVar

import numpy as np
from sklearn import config_context
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.utils._param_validation import Interval

from ..encoding import one_hot
from ..schema import Schema
from .refit import RefitOnLoad

S = TypeVar("S")
# scikit-learn checks, for every one of the 100 trees of every forest, that its input is finite and its parameters
# valid; our predictors are imputed (finite by construction) and the parameters checked once at fit: skipping the
# per-tree checks changes no tree (issue 12; tests/test_missforest_speed.py)
_LEAN = {"assume_finite": True, "skip_parameter_validation": True}


class MissForestImputer(RefitOnLoad):
    """Iterative random-forest imputation; single imputation (the paper notes MissForest is not multiple)."""

    multiple = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "min_samples_leaf_regression": [Interval(Integral, 1, None, closed="left")],
        "mtry": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
    }

    def __init__(self, n_estimators: int = 100, max_iter: int = 10, min_samples_leaf_regression: int = 5,
                 mtry: int | None = None, n_jobs: int = 1, random_state: int | None = None):
        self.n_estimators = n_estimators
        self.max_iter = max_iter
        self.min_samples_leaf_regression = min_samples_leaf_regression
        self.mtry = mtry
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- the algorithm ----------------------------------------------------------------------------
    def _forest(self, categorical: bool, seed: int, n_predictors: int):
        # missForest's mtry = floor(sqrt(ncol(xmis))) (R/missForest.R), at most the predictors there are
        p = len(self.schema_)
        mtry = min(int(self.mtry) if self.mtry is not None else max(1, int(np.sqrt(p))), n_predictors)
        if categorical:
            return RandomForestClassifier(n_estimators=int(self.n_estimators), max_features=mtry,
                                          min_samples_leaf=1, n_jobs=self.n_jobs, random_state=seed)
        return RandomForestRegressor(n_estimators=int(self.n_estimators), max_features=mtry,
                                     min_samples_leaf=int(self.min_samples_leaf_regression), n_jobs=self.n_jobs,
                                     random_state=seed)

    def _predictors(self, Ximp: np.ndarray, j: int) -> np.ndarray:
        """Every column but ``j`` (categoricals one-hot), as float32: scikit-learn's forests convert their input
        to float32 in ``fit`` and ``predict`` anyway, so converting once here gives the same trees (issue 12)."""
        keep = [i for i in range(Ximp.shape[1]) if i != j]
        return one_hot(Ximp[:, keep], self.schema_.select(keep)).astype(np.float32)

    def _initial(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(X), self.init_, X)

    def _change(self, new: np.ndarray, old: np.ndarray, missing: np.ndarray) -> tuple[float, float]:
        """ΔN (real) and ΔF (categorical) of Stekhoven & Bühlmann, NaN where a type has no missing cell.

        ΔF is divided by the number of missing categorical cells (the paper's #NA); the R package divides by
        all categorical cells: a constant factor, so the stopping decision is the same.
        """
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
    def _decreased(prev: tuple[float, float], cur: tuple[float, float]) -> bool:
        """Whether the change decreased for at least one variable type present (NaN = type has no missing cell)."""
        return any(c < p for p, c in zip(prev, cur, strict=True) if not np.isnan(c))

    @staticmethod
    def _iterate(step: Callable[[S], tuple[S, tuple[float, float]]], state: S,
                 max_iter: int) -> tuple[S, int, int]:
        """Stekhoven & Bühlmann's outer loop: the kept iterate, its index (0 = the initial fill) and the sweeps run.

        As the missForest R package (``stopCriterion`` in R/missForest.R, Stekhoven & Bühlmann, Bioinformatics
        28(1), 2012): sweep while the difference (ΔN, ΔF) decreased for at least one variable type, i.e. stop
        at the first sweep where it did not decrease (new >= old) for any type, and return the *previous*
        imputation; after ``max_iter`` sweeps return the last one whatever its difference (R checks
        ``iter < maxiter`` first and then returns ``Ximp[[maxiter]]``).
        """
        prev = (np.inf, np.inf)
        for it in range(1, max_iter + 1):
            new, change = step(state)
            if it < max_iter and not MissForestImputer._decreased(prev, change):
                return state, it - 1, it
            state, prev = new, change
        return state, max_iter, max_iter

    def _sweep(self, Ximp: np.ndarray, missing: np.ndarray, forests: dict[int, object] | None,
               X_obs: np.ndarray | None = None, seed_base: int = 0) -> tuple[np.ndarray, dict[int, object]]:
        """One pass over the columns with missing cells, in order of increasing missingness: fit a forest per
        column (``forests`` None) or apply the given ones, updating the imputation column by column."""
        out = Ximp.copy()
        fitted: dict[int, object] = {}
        if Ximp.shape[1] < 2:  # one column: nothing to predict it from, the mean/mode fill stays
            return out, fitted
        for j in map(int, np.argsort(missing.sum(axis=0), kind="stable")):
            miss = missing[:, j]
            if not miss.any():
                continue
            predictors = self._predictors(out, j)  # built once for the fit and the prediction
            if forests is None:
                fitted[j] = self._fit_column(out, j, ~miss, X_obs, seed_base + j, predictors)
            with config_context(**_LEAN):
                out[miss, j] = (fitted if forests is None else forests)[j].predict(predictors[miss])
        return out, fitted

    def _fit_column(self, Ximp: np.ndarray, j: int, rows: np.ndarray, X_obs: np.ndarray, seed: int,
                    predictors: np.ndarray | None = None):
        predictors = (self._predictors(Ximp, j) if predictors is None else predictors)[rows]
        model = self._forest(self.schema_[j].is_categorical, seed, predictors.shape[1])
        with config_context(**_LEAN):
            model.fit(predictors, X_obs[rows, j])
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

        def step(state: tuple[np.ndarray, dict[int, object]]) -> tuple[tuple[np.ndarray, dict[int, object]],
                                                                        tuple[float, float]]:
            new, forests = self._sweep(state[0], missing, None, X, int(rng.integers(2**31 - 1)))
            return (new, forests), self._change(new, state[0], missing)

        # n_iter_: sweeps run (scikit-learn's meaning); kept_iter_: the sweep whose imputation is kept
        (Ximp, kept), self.kept_iter_, self.n_iter_ = self._iterate(step, (self._initial(X), {}), int(self.max_iter))
        self.train_imputed_ = Ximp
        # columns complete in training (e.g. the target) still need a forest for unseen rows
        seed = int(rng.integers(2**31 - 1))
        for j in np.where(~missing.any(axis=0))[0] if X.shape[1] > 1 else ():
            kept[int(j)] = self._fit_column(Ximp, int(j), np.ones(len(X), bool), X, seed + int(j))
        self.forests_ = kept

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        if X.shape == self.train_data_.shape and np.array_equal(X, self.train_data_, equal_nan=True):
            return self.train_imputed_[None]  # MissForest's own imputation of the data it was fitted on
        missing = np.isnan(X)

        def step(Ximp: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
            new, _ = self._sweep(Ximp, missing, self.forests_)
            return new, self._change(new, Ximp, missing)

        return self._iterate(step, self._initial(X), int(self.max_iter))[0][None]
