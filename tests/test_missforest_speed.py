"""Issue 12 item 5: MissForest's overhead cuts (float32 predictors built once per column, no per-tree checks)
change no imputed value.

The reference is the previous code path: float64 predictors, rebuilt for the fit and again for the prediction.
scikit-learn's forests convert their input to float32 themselves, so both paths must grow the same trees.
"""

from __future__ import annotations

import numpy as np
import pytest

from vaeac_bench.encoding import one_hot
from vaeac_bench.methods.missforest import MissForestImputer
from vaeac_bench.schema import Schema


def table(n: int = 120, seed: int = 0) -> tuple[np.ndarray, Schema]:
    """Three correlated real columns and a 3-level categorical, 25% MCAR holes."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n)
    X = np.column_stack([t + 0.1 * rng.normal(size=n), 2 * t + rng.normal(size=n), rng.normal(size=n),
                         np.digitize(t, [-0.5, 0.5])]).astype(float)
    X[rng.random(X.shape) < 0.25] = np.nan
    return X, Schema.from_kinds(["a", "b", "c", "k"], [0, 0, 0, 3])


class Float64Path(MissForestImputer):
    """The pre-issue-12 path: float64 predictors, built again for every fit and every prediction, and
    scikit-learn's per-tree input and parameter checks left on."""

    def _fit_column(self, Ximp, j, rows, X_obs, seed, predictors=None):
        predictors = self._predictors(Ximp, j)[rows]
        model = self._forest(self.schema_[j].is_categorical, seed, predictors.shape[1])
        model.fit(predictors, X_obs[rows, j])
        return model

    def _predictors(self, Ximp: np.ndarray, j: int) -> np.ndarray:
        keep = [i for i in range(Ximp.shape[1]) if i != j]
        return one_hot(Ximp[:, keep], self.schema_.select(keep))

    def _sweep(self, Ximp, missing, forests, X_obs=None, seed_base=0):
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


@pytest.mark.parametrize("seed", [0, 1])
def test_float32_predictors_impute_exactly_as_the_float64_path(seed):
    X, schema = table(seed=seed)
    Xnew, _ = table(n=40, seed=seed + 10)
    kw = {"n_estimators": 15, "max_iter": 4, "random_state": seed}
    fast, ref = MissForestImputer(**kw).fit(X, schema), Float64Path(**kw).fit(X, schema)
    assert fast.kept_iter_ == ref.kept_iter_ and fast.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(fast.impute(X, n=1), ref.impute(X, n=1))
    np.testing.assert_array_equal(fast.impute(Xnew, n=1), ref.impute(Xnew, n=1))


def test_same_seed_same_imputations_other_seed_differs():
    X, schema = table()
    kw = {"n_estimators": 15, "max_iter": 4}
    a, b = (MissForestImputer(**kw, random_state=3).fit(X, schema).impute(X, n=1) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    c = MissForestImputer(**kw, random_state=4).fit(X, schema).impute(X, n=1)
    assert not np.array_equal(a, c)
