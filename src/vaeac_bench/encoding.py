"""Feature encoding shared by the neural methods (VAEAC/GSNN/NN, GAIN, UM).

Real columns are standardised with statistics of their observed training cells; categorical columns are
one-hot encoded (a missing categorical becomes the all-zero vector, as in the reference code, §1.1 of
``reference-code-facts.md``).
"""

from __future__ import annotations

import numpy as np

from .schema import Schema

STD_FLOOR = 1e-9  # below this a training column counts as constant


class Standardizer:
    """Standardise real columns with the mean and unbiased std of their observed cells.

    Categorical columns pass through untouched. ``ddof=1`` follows the authors' code. A column that is
    constant in the training data is centred but not scaled: the reference code floors the std at 1e-9,
    which turns any other value of that column at test time into an input near 1e9 (Digits has pixels
    that are constant in a training split and not in its test split).
    """

    def __init__(self, ddof: int = 1):
        self.ddof = ddof

    def fit(self, X: np.ndarray, schema: Schema) -> Standardizer:
        real = schema.real_mask
        self.mean_ = np.zeros(X.shape[1])
        self.std_ = np.ones(X.shape[1])
        for j in np.where(real)[0]:
            col = X[~np.isnan(X[:, j]), j]
            if col.size:
                self.mean_[j] = col.mean()
                sd = float(col.std(ddof=self.ddof)) if col.size > self.ddof else 0.0
                self.std_[j] = sd if sd > STD_FLOOR else 1.0
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.std_

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return X * self.std_ + self.mean_

    def get_state(self) -> dict[str, np.ndarray]:
        return {"std_mean": self.mean_, "std_std": self.std_}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> Standardizer:
        obj = cls()
        obj.mean_, obj.std_ = np.asarray(state["std_mean"]), np.asarray(state["std_std"])
        return obj


def widths(schema: Schema) -> list[int]:
    """Width of each column in the one-hot layout: 1 for real, K for categorical."""
    return [f.n_categories if f.is_categorical else 1 for f in schema]


def one_hot(X: np.ndarray, schema: Schema) -> np.ndarray:
    """Concatenate real columns (NaN -> 0) and one-hot categorical columns (NaN -> all zeros)."""
    blocks = []
    for j, feat in enumerate(schema):
        col = X[:, j]
        if feat.is_categorical:
            block = np.zeros((X.shape[0], feat.n_categories))
            ok = ~np.isnan(col)
            block[np.where(ok)[0], col[ok].astype(int)] = 1.0
        else:
            block = np.nan_to_num(col, nan=0.0)[:, None]
        blocks.append(block)
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((X.shape[0], 0))


def from_one_hot(Z: np.ndarray, schema: Schema) -> np.ndarray:
    """Inverse of :func:`one_hot`: real columns as they are, categoricals by argmax of their block."""
    out = np.empty((Z.shape[0], len(schema)))
    pos = 0
    for j, w in enumerate(widths(schema)):
        block = Z[:, pos:pos + w]
        out[:, j] = block.argmax(axis=1) if schema[j].is_categorical else block[:, 0]
        pos += w
    return out
