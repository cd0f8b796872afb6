"""Mean/mode imputation: the floor every method must beat."""

from __future__ import annotations

import numpy as np

from ..schema import Schema
from .base import Imputer


class MeanModeImputer(Imputer):
    """Fill a real column with its training mean and a categorical column with its training mode.

    Deterministic, so it is a single-imputation method.
    """

    multiple = False

    def __init__(self) -> None:
        pass

    def _fit(self, X: np.ndarray, schema: Schema) -> None:
        fill = np.empty(X.shape[1])
        for j, feat in enumerate(schema):
            col = X[~np.isnan(X[:, j]), j]
            if feat.is_categorical:
                fill[j] = np.bincount(col.astype(int), minlength=feat.n_categories).argmax()
            else:
                fill[j] = col.mean()
        self.fill_ = fill

    def _impute(self, X: np.ndarray, n: int) -> np.ndarray:
        out = np.where(np.isnan(X), self.fill_, X)
        return out[None]

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"fill": self.fill_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.fill_ = state["fill"]
