"""asv benchmarks for GAIN and the Universal Marginalizer (scikit-learn ``asv_benchmarks`` style).

* GAIN: training throughput (iterations per second) of both variants, and imputation time.
* UM: training time against sequential-sampling time. Sampling costs |b| network calls per object (eq. (11)),
  so its share grows with the number of features -- the point of the paper's table 5.

Synthetic data only (no dataset files needed); one torch thread, as in the benchmark runner.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from vaeac_bench.methods.gain import GAINImputer
from vaeac_bench.methods.um import UniversalMarginalizer
from vaeac_bench.schema import Schema


def _data(n_rows: int, n_features: int, seed: int = 0) -> tuple[np.ndarray, Schema]:
    """Correlated real features plus one 4-level categorical, half of the cells missing (the paper's rate)."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n_rows, 1))
    real = t + 0.3 * rng.normal(size=(n_rows, n_features - 1))
    cat = np.digitize(t[:, 0], [-1.0, 0.0, 1.0]).astype(float)
    X = np.column_stack([real, cat])
    X[rng.random(X.shape) < 0.5] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    schema = Schema.from_kinds([f"x{i}" for i in range(n_features)], [0] * (n_features - 1) + [4])
    return X, schema


class GAINSuite:
    """Training throughput and imputation time of both GAIN variants."""

    param_names = ["variant", "n_features"]
    params = (["modified", "original"], [8, 32])
    timeout = 300
    iterations = 500

    def setup(self, variant: str, n_features: int) -> None:
        torch.set_num_threads(1)
        self.X, self.schema = _data(2000, n_features)
        self.model = GAINImputer(variant=variant, iterations=self.iterations, random_state=0)
        self.fitted = GAINImputer(variant=variant, iterations=50, random_state=0).fit(self.X, self.schema)

    def time_fit(self, variant: str, n_features: int) -> None:
        self.model.fit(self.X, self.schema)

    def time_impute_10(self, variant: str, n_features: int) -> None:
        self.fitted.impute(self.X, n=10)

    def track_iterations_per_second(self, variant: str, n_features: int) -> float:
        t0 = time.perf_counter()
        self.model.fit(self.X, self.schema)
        return self.iterations / (time.perf_counter() - t0)

    track_iterations_per_second.unit = "iterations/s"


class UMSuite:
    """UM training time vs its sequential sampling time (|b| network calls per object)."""

    param_names = ["n_features"]
    params = ([8, 32, 64],)
    timeout = 600
    steps = 300

    def setup(self, n_features: int) -> None:
        torch.set_num_threads(1)
        self.X, self.schema = _data(1000, n_features)
        kw = {"epochs": None, "steps": self.steps, "validation_fraction": 0.0, "random_state": 0}
        self.model = UniversalMarginalizer(**kw)
        self.fitted = UniversalMarginalizer(**{**kw, "steps": 20, "epochs": 1}).fit(self.X, self.schema)

    def time_fit(self, n_features: int) -> None:
        self.model.fit(self.X, self.schema)

    def time_impute_10(self, n_features: int) -> None:
        self.fitted.impute(self.X, n=10)

    def time_chain_rule_log_likelihood(self, n_features: int) -> None:
        self.fitted.log_likelihood(np.nan_to_num(self.X), np.isnan(self.X))

    def track_sampling_seconds_per_training_step(self, n_features: int) -> float:
        """Seconds to draw 10 imputations of 1000 rows, in units of one training step's time."""
        t0 = time.perf_counter()
        self.model.fit(self.X, self.schema)
        per_step = (time.perf_counter() - t0) / (self.model.epochs_ * int(np.ceil(len(self.X) / 64)))
        t0 = time.perf_counter()
        self.fitted.impute(self.X, n=10)
        return (time.perf_counter() - t0) / per_step

    track_sampling_seconds_per_training_step.unit = "training steps"
