"""MICE, the paper's multiple-imputation baseline (§5.1), through miceforest's chained LightGBM models.

The paper used van Buuren's R package; miceforest is the maintained Python implementation of the same
chained-equations scheme (each variable modelled on all others, iterated, with predictive mean matching
for real columns), and it imputes unseen rows with the models learnt on the training set.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from ..schema import Schema
from .refit import RefitOnLoad


@contextmanager
def _quiet_miceforest() -> Iterator[None]:
    """Silence miceforest's own pandas PerformanceWarning, and only that.

    miceforest 6.0.5 adds one column per (dataset, iteration) to its candidate-prediction frames
    (``ImputationKernel._record_candidate_preds``), which pandas reports as a fragmented frame: dozens of
    identical lines per cell on wide tables (issue 9, item 9). The frames are miceforest's, not ours.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.PerformanceWarning, module=r"miceforest\.")
        yield


class _PredictOnlyModels(dict):
    """miceforest's per-(variable, iteration, dataset) model store, keeping each booster as a predict-only copy.

    miceforest trains with ``keep_training_booster=True`` and stores the training booster itself, which keeps
    LightGBM's training state (binned data, histogram pool) alive: one per column, iteration and chain, 10-16 GB
    on Digits (issue 12, item 5). Only ``predict`` is used on a stored model (``impute_new_data``), so it is stored
    as the same trees reloaded from their text form, which predicts identically and frees the training state.
    """

    def __init__(self, num_threads: int):
        super().__init__()
        self.num_threads = num_threads

    def __setitem__(self, key: Any, booster: Any) -> None:
        import lightgbm as lgb

        # the training params travel along: miceforest reads the model's seed back at impute time
        light = lgb.Booster(model_str=booster.model_to_string(num_iteration=-1),
                            params={**booster.params, "num_threads": self.num_threads})
        super().__setitem__(key, light)


def _kernel_class() -> type:
    """miceforest's ``ImputationKernel`` with single-threaded mean matching (imported lazily: miceforest is heavy)."""
    import miceforest as mf
    from scipy.spatial import KDTree

    class _Kernel(mf.ImputationKernel):
        @staticmethod
        def _mean_match_nearest_neighbors(mean_match_candidates: int, bachelor_preds: pd.DataFrame,
                                          candidate_preds: pd.DataFrame, candidate_values: pd.Series,
                                          random_state: np.random.RandomState,
                                          hashed_seeds: np.ndarray | None = None) -> pd.Series:
            """miceforest 6.0.5's predictive mean matching, with the k-d tree queried on one thread.

            The original queries with ``workers=-1``: a thread per core started for every column, iteration and
            chain (a fifth of a small cell's time, and it ignores the one-thread-per-job limit); the neighbours
            found, and so the draws, are the same.
            """
            assert mean_match_candidates > 0, "Do not use nearest_neighbors with 0 mmc."
            n = bachelor_preds.shape[0]
            tree = KDTree(candidate_preds, leafsize=16, balanced_tree=False)
            _, knn = tree.query(bachelor_preds, k=mean_match_candidates, workers=1)
            if mean_match_candidates == 1:
                choice = knn
            else:
                ind = (random_state.randint(mean_match_candidates, size=n) if hashed_seeds is None
                       else hashed_seeds % mean_match_candidates)
                choice = knn[np.arange(n), ind]
            return candidate_values.iloc[choice]

    return _Kernel


def to_frame(X: np.ndarray, schema: Schema) -> pd.DataFrame:
    """Numeric layout -> DataFrame with categorical columns as pandas ``category`` (codes as levels)."""
    cols = {}
    for j, feat in enumerate(schema):
        if feat.is_categorical:
            codes = np.where(np.isnan(X[:, j]), -1, X[:, j]).astype(int)
            cols[f"c{j}"] = pd.Categorical.from_codes(codes, categories=list(range(feat.n_categories)))
        else:
            cols[f"c{j}"] = X[:, j].astype(float)
    # object column labels: pandas 3's default Arrow-backed string index makes each of miceforest's many
    # column look-ups several times slower (same labels, same data)
    return pd.DataFrame(cols, columns=pd.Index(list(cols), dtype=object))


def from_frame(df: pd.DataFrame, schema: Schema) -> np.ndarray:
    out = np.empty((len(df), len(schema)))
    for j, feat in enumerate(schema):
        col = df[f"c{j}"]
        out[:, j] = col.astype(float).to_numpy() if not feat.is_categorical else col.astype(int).to_numpy()
    return out


class MICEImputer(RefitOnLoad):
    """Chained-equations multiple imputation (miceforest ``ImputationKernel``).

    ``num_datasets`` chains are run on the training data (n=10 in the paper, §5.1); ``impute`` returns the
    first ``n`` of them applied to new rows. Every column gets a model, including columns fully observed
    in training (the target is hidden at test time). Real columns use predictive mean matching (mice's
    default ``pmm``); categorical ones draw from the predicted class probabilities (``fast``, as mice's
    ``polyreg``/``logreg`` do): miceforest's nearest-neighbour matching on class odds fails with an
    infinite odds ratio when a rare class is predicted with probability 1.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "iterations": [Interval(Integral, 1, None, closed="left")],
        "num_datasets": [Interval(Integral, 1, None, closed="left")],
        "mean_match_candidates": [Interval(Integral, 0, None, closed="left")],
        # miceforest's strategies for categorical columns (see the class docstring for why "fast")
        "categorical_strategy": [StrOptions({"fast", "normal", "shap"})],
        "boosting_rounds": [Interval(Integral, 1, None, closed="left"), None],
        "num_threads": [Interval(Integral, 1, None, closed="left")],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
    }

    def __init__(self, iterations: int = 5, num_datasets: int = 10, mean_match_candidates: int = 5,
                 categorical_strategy: str = "fast", boosting_rounds: int | None = None, num_threads: int = 1,
                 random_state: int | None = None):
        self.iterations = iterations
        self.boosting_rounds = boosting_rounds
        self.categorical_strategy = categorical_strategy
        self.num_datasets = num_datasets
        self.mean_match_candidates = mean_match_candidates
        self.num_threads = num_threads
        self.random_state = random_state

    def _not_config(self) -> set[str]:
        return super()._not_config() | {"num_threads"}

    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        self._remember(X)
        df = to_frame(X, schema)
        cols = list(df.columns)
        schema_map = {c: [o for o in cols if o != c] for c in cols}
        self.kernel_ = _kernel_class()(
            df, num_datasets=int(self.num_datasets), variable_schema=schema_map,
            mean_match_candidates=int(self.mean_match_candidates), random_state=self.random_state,
            mean_match_strategy={c: self.categorical_strategy if f.is_categorical else "normal"
                                 for c, f in zip(cols, schema, strict=True)},
        )
        self.kernel_.models = _PredictOnlyModels(int(self.num_threads))
        # force_col_wise: skip LightGBM's per-model timing of row- vs column-wise histograms (same trees)
        lgb = {"num_threads": int(self.num_threads), "force_col_wise": True}
        if self.boosting_rounds is not None:  # LightGBM rounds per model (miceforest's default otherwise)
            lgb["num_iterations"] = int(self.boosting_rounds)
        with _quiet_miceforest():
            self.kernel_.mice(int(self.iterations), verbose=False, **lgb)

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        if n > int(self.num_datasets):
            raise ValueError(f"n={n} imputations requested but this MICE kernel ran {self.num_datasets} chains; "
                             f"set num_datasets >= {n}")
        if X.shape == self.train_data_.shape and np.array_equal(X, self.train_data_, equal_nan=True):
            # the data MICE was run on: its chains' own completed datasets are the MICE imputations
            return np.stack([from_frame(self.kernel_.complete_data(dataset=i), self.schema_) for i in range(n)])
        seed = None if self.random_state is None else int(self.random_state) + 1
        with _quiet_miceforest():
            # (save_all_iterations_data=False is not an option here: miceforest 6.0.5 then deletes the
            # iteration-0 values its own complete_data reads, since it never advances the new data's count)
            done = self.kernel_.impute_new_data(to_frame(X, self.schema_), random_state=seed, verbose=False)
        # miceforest 6.0.5 does not advance the iteration count of data imputed by impute_new_data, so the
        # default iteration (-1 = "latest") returns the random initial fill; ask for the last one explicitly
        last = int(self.iterations)
        return np.stack([from_frame(done.complete_data(dataset=i, iteration=last), self.schema_) for i in range(n)])
