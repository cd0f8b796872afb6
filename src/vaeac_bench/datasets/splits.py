"""The tabular protocol of appendix A.2: seeded 3:1 train/test splits, then missingness in both parts.

The target is the last column. A method sees it in train (it is one more feature, B.2) and it is always
hidden at test time; the missingness mechanism is applied to the other features of both parts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..schema import Schema
from ..seeding import rng_for
from .masks import check_rate, get_mechanism
from .spec import Table

TEST_FRACTION = 0.25  # 3:1 train/test (A.2)


def split_indices(n_rows: int, seed: int, test_fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random partition of ``range(n_rows)`` into sorted train and test indices."""
    if n_rows < 2:
        raise ValueError(f"cannot split a table of {n_rows} rows into train and test")
    perm = rng_for("split", seed).permutation(n_rows)
    n_test = max(1, int(round(n_rows * test_fraction)))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _mask_digest(mask: np.ndarray) -> str:
    return hashlib.sha256(np.packbits(mask.astype(bool)).tobytes() + str(mask.shape).encode()).hexdigest()[:16]


@dataclass
class Split:
    """One repetition of the protocol: ground truth and observed versions of train and test."""

    dataset: str
    split: int
    schema: Schema
    task: str
    train_true: np.ndarray
    test_true: np.ndarray
    train_obs: np.ndarray
    test_obs: np.ndarray
    train_dropped: np.ndarray  # cells hidden by the mechanism (bool, same shape as train)
    test_dropped: np.ndarray
    mechanism: str
    rate: float

    @property
    def target_index(self) -> int:
        return len(self.schema) - 1

    @property
    def test_scored(self) -> np.ndarray:
        """Test cells whose imputation is scored: dropped by the mechanism and known in the ground truth."""
        return self.test_dropped & ~np.isnan(self.test_true)

    @property
    def train_scored(self) -> np.ndarray:
        """Training cells scored by the transductive reading (table 10t): dropped and known."""
        return self.train_dropped & ~np.isnan(self.train_true)

    def record(self) -> dict:
        """What identifies this split's data, for the result file (sizes, realised rates, mask digests)."""
        feats = slice(0, self.target_index)
        return {
            "n_train": int(self.train_true.shape[0]),
            "n_test": int(self.test_true.shape[0]),
            "train_dropped_fraction": float(self.train_dropped[:, feats].mean()),
            "test_dropped_fraction": float(self.test_dropped[:, feats].mean()),
            "train_mask_sha": _mask_digest(self.train_dropped),
            "test_mask_sha": _mask_digest(self.test_dropped),
        }


def make_split(table: Table, split: int, mechanism: str = "mcar", rate: float = 0.5,
               test_fraction: float = TEST_FRACTION) -> Split:
    """Build repetition ``split`` of the protocol for ``table`` (everything seeded by name and index)."""
    rate = check_rate(rate)
    mech = get_mechanism(mechanism)
    tr, te = split_indices(table.n_rows, split, test_fraction)
    train_true, test_true = table.data[tr], table.data[te]
    t = table.target_index
    dropped = []
    for part, x in (("train", train_true), ("test", test_true)):
        m = mech(x, rate, rng_for("mask", table.name, split, mechanism, part))
        m = np.asarray(m, dtype=bool).copy()
        m[:, t] = part == "test"  # the target: seen in train, always hidden at test time (A.2, B.2)
        dropped.append(m)
    train_obs = np.where(dropped[0], np.nan, train_true)
    test_obs = np.where(dropped[1], np.nan, test_true)
    return Split(table.name, split, table.schema, table.task, train_true, test_true, train_obs, test_obs,
                 dropped[0], dropped[1], mechanism, rate)
