"""The matrix layout the classical comparators share: standardised reals and one-hot categoricals, NaN kept.

KNN, iterative, SoftImpute and Sinkhorn imputers work on a real matrix. Real columns are standardised with
the mean and std of their observed training cells (so distances and penalties weigh columns alike); a
categorical column becomes its one-hot block, all NaN where the cell is missing; decoding takes the
argmax of each block (the most probable level) and undoes the standardisation.
"""

from __future__ import annotations

import numpy as np

from ..encoding import Standardizer, widths
from ..schema import Schema


class OneHotLayout:
    """Encode the suite's numeric layout into standardised one-hot columns with NaN for missing, and back."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.widths = widths(schema)
        self.starts = np.concatenate([[0], np.cumsum(self.widths)[:-1]]).astype(int)

    def fit(self, X: np.ndarray) -> OneHotLayout:
        """Learn the standardisation of the real columns from their observed cells."""
        self.scaler = Standardizer().fit(X, self.schema)
        return self

    @property
    def n_columns(self) -> int:
        return int(sum(self.widths))

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Standardised reals and one-hot categoricals; every column of a missing cell's block is NaN."""
        Xs = self.scaler.transform(X)
        Z = np.empty((X.shape[0], self.n_columns))
        for j, feat in enumerate(self.schema):
            s, w = self.starts[j], self.widths[j]
            col = Xs[:, j]
            if feat.is_categorical:
                block = np.zeros((X.shape[0], w))
                ok = ~np.isnan(col)
                block[np.where(ok)[0], col[ok].astype(int)] = 1.0
                block[~ok] = np.nan
                Z[:, s:s + w] = block
            else:
                Z[:, s] = col
        return Z

    def decode(self, Z: np.ndarray) -> np.ndarray:
        """Back to the numeric layout: argmax of each categorical block, real columns de-standardised."""
        out = np.empty((Z.shape[0], len(self.schema)))
        for j, feat in enumerate(self.schema):
            s, w = self.starts[j], self.widths[j]
            out[:, j] = Z[:, s:s + w].argmax(axis=1) if feat.is_categorical else Z[:, s]
        return self.scaler.inverse_transform(out)  # the scaler leaves categorical codes as they are

    def get_state(self) -> dict[str, np.ndarray]:
        return self.scaler.get_state()

    def set_state(self, state: dict[str, np.ndarray]) -> OneHotLayout:
        self.scaler = Standardizer.from_state(state)
        return self


def draw_seeds(random_state: int | None, n: int) -> list[int]:
    """``n`` independent integer seeds derived from ``random_state`` (the same seeds for the same state)."""
    seq = np.random.SeedSequence(random_state)
    return [int(s.generate_state(1)[0]) for s in seq.spawn(n)]
