"""asv benchmarks of the baselines and of one runner cell: fit time, imputation latency, peak memory.

Datasets are embedded scikit-learn ones (no data files needed): iris (150 x 5) and diabetes (442 x 11).
"""

from __future__ import annotations

from vaeac_bench.methods import build, seed

from .common import protocol_split, scored_nrmse, single_thread


class BaselineSuite:
    """MICE, MissForest and mean/mode on a real protocol split (registry budgets): imputing and its accuracy."""

    param_names = ["method", "dataset"]
    params = (["mean", "missforest", "mice"], ["iris", "diabetes"])
    timeout = 1200
    number = 1
    repeat = 1

    def setup(self, method: str, dataset: str) -> None:
        single_thread()
        self.split = protocol_split(dataset)
        self.fitted = seed(build(method), 0).fit(self.split.train_obs, self.split.schema)

    def time_impute_test_10(self, method: str, dataset: str) -> None:
        self.fitted.impute(self.split.test_obs, n=10)

    def track_nrmse(self, method: str, dataset: str) -> float:
        return scored_nrmse(self.split, self.fitted.impute(self.split.test_obs, n=10))

    track_nrmse.unit = "NRMSE"


class BaselineFitSuite:
    """Fitting MICE, MissForest and mean/mode: its own suite so that setup fits nothing it does not time."""

    param_names = ["method", "dataset"]
    params = (["mean", "missforest", "mice"], ["iris", "diabetes"])
    timeout = 1200
    number = 1
    repeat = 1

    def setup(self, method: str, dataset: str) -> None:
        single_thread()
        self.split = protocol_split(dataset)

    def time_fit(self, method: str, dataset: str) -> None:
        seed(build(method), 0).fit(self.split.train_obs, self.split.schema)

    def peakmem_fit(self, method: str, dataset: str) -> None:
        seed(build(method), 0).fit(self.split.train_obs, self.split.schema)


class RunnerCellSuite:
    """End-to-end cost of one benchmark cell (load, split, fit, impute test and train, score)."""

    def setup(self) -> None:
        single_thread()

    def time_cell_iris_mean(self) -> None:
        from vaeac_bench.runner import compute_cell, plan

        compute_cell(plan(["iris"], ["mean"], [0])[0])
