"""The verdict of reports/beyond.md (issue 13 §7): VAEAC paired with the best cheap imputer and the best other
method per dataset over the same splits, on hand-made scores whose calls are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaeac_bench.tables.beyond import _paired, compared, render_verdict, verdict


def _rows(dataset, method, scores, fit, mechanism="mcar", rate=0.3, cpu=None, user=False):
    return [{"dataset": dataset, "method": method, "split": s, "mechanism": mechanism, "rate": rate,
             "stale": False, "user_table": user, "n_draws": 10, "imputation": v, "nrmse": v, "pfc": np.nan,
             "r2": np.nan, "accuracy": np.nan, "w1": np.nan, "w1_point": np.nan, "crps": np.nan,
             "coverage_50": np.nan, "coverage_90": 0.8, "brier": np.nan, "fit_s": fit,
             "cpu_fit_s": fit if cpu is None else cpu} for s, v in enumerate(scores)]


def _frame(*groups):
    return pd.DataFrame([r for g in groups for r in g])


def test_paired_calls_win_tie_and_loss_by_a_paired_t_test():
    v = pd.Series([0.50, 0.52, 0.49, 0.51, 0.50])
    assert _paired(v, v + 0.10 + np.array([0, .01, -.01, .005, 0]))[0] == "win"  # clearly lower: better
    assert _paired(v + 0.10 + np.array([0, .01, -.01, .005, 0]), v)[0] == "loss"
    noisy = v + np.array([0.05, -0.05, 0.04, -0.04, 0.0])  # mean difference 0, spread: a tie
    call, diff, n = _paired(v, noisy)
    assert call == "tie" and diff == pytest.approx(0.0) and n == 5
    assert _paired(v, v)[0] == "tie" and _paired(v, v + 0.1)[0] == "win"  # no spread: zero ties, else sure
    assert _paired(v.iloc[:1], v.iloc[:1] + 1)[0] == "—"  # one split: no call


def test_verdict_picks_the_best_rival_per_dataset_and_the_time_ratio():
    jitter = np.array([0, .01, -.01, .005, -.005])
    df = _frame(
        _rows("iris", "vaeac", 0.40 + jitter, fit=10.0),
        _rows("iris", "mean", 1.0 + jitter, fit=0.01),
        _rows("iris", "iterative", 0.50 - jitter, fit=2.0),  # the best cheap one here: VAEAC still wins
        _rows("iris", "missforest", 0.30 + jitter, fit=5.0),  # the best other: VAEAC loses to it
        _rows("glass", "vaeac", 0.60 + jitter, fit=20.0),
        _rows("glass", "knn", 0.60 + jitter[::-1], fit=0.5),  # same mean: a tie
        _rows("concrete", "vaeac", 0.1 + jitter, fit=1.0),  # not a compared dataset: left out
        _rows("concrete", "mean", 0.9 + jitter, fit=1.0),
    )
    v = verdict(df, "vaeac").set_index("dataset")
    assert set(v.index) == {"iris", "glass"}
    assert v.loc["iris", "cheap_method"] == "iterative" and v.loc["iris", "cheap_call"] == "win"
    assert v.loc["iris", "best_method"] == "missforest" and v.loc["iris", "best_call"] == "loss"
    assert v.loc["iris", "time_ratio"] == pytest.approx(5.0)
    assert v.loc["glass", "cheap_call"] == "tie" and v.loc["glass", "time_ratio"] == pytest.approx(40.0)
    text = "\n".join(render_verdict(df, {"vaeac": "VAEAC"}))
    assert "| mcar | 0.3 | 2 | 1 / 1 / 0 | 0 / 1 / 1 |" in text
    assert "beats the best cheap imputer in 1, ties in 1 and loses in 0" in text
    assert "It wins on iris (mcar 0.3)" in text
    assert "No results of `vaeac-default`" in text  # the other configuration has not run


def test_a_rival_missing_some_splits_is_not_compared_and_user_tables_count():
    df = _frame(_rows("mine.csv", "vaeac", [0.5, 0.6, 0.55], fit=3.0, user=True),
                _rows("mine.csv", "mean", [0.9, 0.95], fit=0.01, user=True))  # 2 of 3 splits: no pairing
    assert list(compared(df).dataset.unique()) == ["mine.csv"]
    (row,) = verdict(df, "vaeac").to_dict("records")
    assert row["cheap_method"] is None and row["cheap_call"] == "—"


def test_the_grid_script_runs_the_datasets_the_report_compares():
    """scripts/beyond_grid.sh's default datasets are tables.beyond.GRID_DATASETS (one list, no drift)."""
    import re
    from pathlib import Path

    from vaeac_bench.tables.beyond import GRID_DATASETS

    script = (Path(__file__).resolve().parents[1] / "scripts" / "beyond_grid.sh").read_text()
    (default,) = re.findall(r'^DATASETS="\$\{DATASETS:-([^}]*)\}"', script, flags=re.M)
    assert tuple(default.split(",")) == GRID_DATASETS
