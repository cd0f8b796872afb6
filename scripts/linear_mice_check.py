"""Linear chained equations (scikit-learn IterativeImputer, BayesianRidge) on five tables: test-set NRMSE.

A diagnostic for why our MICE column (miceforest, LightGBM forests) is weaker than the paper's R mice on
small, nearly linear tables. Categorical codes are treated as numbers here: it is a check, not a method.
Same splits, masks and metric as the benchmark (5 splits, 50% MCAR, target hidden at test time).

    VAEAC_BENCH_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/linear_mice_check.py
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (enables the import below)
from sklearn.impute import IterativeImputer

from vaeac_bench.datasets import load, make_split
from vaeac_bench.metrics import score_imputations


def main(names: tuple[str, ...] = ("iris", "breast", "boston", "concrete", "diabetes")) -> None:
    """Print mean ± std over the 5 splits of the test-set NRMSE of a linear chained-equations imputer."""
    warnings.filterwarnings("ignore")
    for name in names:
        table = load(name)
        scores = []
        for k in range(5):
            s = make_split(table, k)
            imp = IterativeImputer(max_iter=10, random_state=k, keep_empty_features=True).fit(s.train_obs)
            imputed = imp.transform(s.test_obs)[None]
            score = score_imputations(s.test_true, imputed, s.test_scored, s.schema,
                                      columns=list(range(s.target_index)))
            scores.append(score.nrmse)
        print(f"{name}: {np.mean(scores):.3f} ± {np.std(scores, ddof=1):.3f}", flush=True)


if __name__ == "__main__":
    main()
