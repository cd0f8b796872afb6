"""Persistence for methods whose fitted state is a tree ensemble: store the data, refit on load.

Tree ensembles (LightGBM in miceforest, scikit-learn forests) have no pickle-free format that restores
them exactly across versions, and the suite never writes pickles. Their fit is deterministic given the
training matrix and ``random_state``, so the saved state is that matrix; loading refits and gives the
same imputations (a test checks it).
"""

from __future__ import annotations

import numpy as np

from .base import Imputer


class RefitOnLoad(Imputer):
    """Mixin base: ``save`` stores the training matrix, ``load`` refits with the same parameters."""

    def _remember(self, X: np.ndarray) -> None:
        self.train_data_ = np.array(X, dtype=float, copy=True)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"train_data": self.train_data_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._fit(np.asarray(state["train_data"], dtype=float), self.schema_)
