"""k-nearest-neighbour imputation: scikit-learn's ``KNNImputer`` (Troyanskaya et al., Bioinformatics 2001).

Each missing cell is the (uniform) mean of that column over the ``n_neighbors`` nearest training rows that
observe it, with the NaN-aware Euclidean distance of scikit-learn. Real columns are standardised and
categoricals one-hot encoded first (``_tabular.OneHotLayout``), so every column weighs alike in the
distance; a categorical cell gets the level with the largest neighbour frequency (argmax of its block).
Defaults are scikit-learn's (5 neighbours, uniform weights, ``nan_euclidean``).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.impute import KNNImputer as _SkKNN
from sklearn.utils._param_validation import Interval, StrOptions

from ..schema import Schema
from ._tabular import OneHotLayout
from .refit import RefitOnLoad


class KNNImputer(RefitOnLoad):
    """scikit-learn ``KNNImputer`` on standardised, one-hot encoded data; single, deterministic imputation."""

    multiple = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "weights": [StrOptions({"uniform", "distance"})],
    }

    def __init__(self, n_neighbors: int = 5, weights: str = "uniform"):
        self.n_neighbors = n_neighbors
        self.weights = weights

    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        self._remember(X)
        self.layout_ = OneHotLayout(schema).fit(X)
        self.knn_ = _SkKNN(n_neighbors=int(self.n_neighbors), weights=self.weights, keep_empty_features=True)
        self.knn_.fit(self.layout_.encode(X))

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        return self.layout_.decode(self.knn_.transform(self.layout_.encode(X)))[None]
