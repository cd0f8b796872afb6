"""The report's figures (issue 13 §6): Demšar's critical difference, ranks, cliques, deterministic small PNGs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vaeac_bench.tables.figures import (
    average_ranks,
    cliques,
    complete_block,
    critical_difference,
    figure_cost,
    figure_missing_rate,
    figure_ranks,
    friedman_p,
)


def test_critical_difference_matches_demsar_by_hand():
    """Demšar (2006) table 5: q_0.05 = 2.569 for k = 4; CD = q sqrt(k (k + 1) / (6 N)); with N = 14 datasets,
    CD = 2.569 * sqrt(20 / 84) = 1.2535. His own example (k = 4 methods, N = 14 data sets, §3.2.2) gives 1.25."""
    assert critical_difference(4, 14) == pytest.approx(2.569 * math.sqrt(20 / 84), abs=2e-3)
    assert critical_difference(4, 14) == pytest.approx(1.2535, abs=2e-3)
    # the q column of his table 5 (alpha = 0.05), k = 2..10
    table5 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
    for k, q in enumerate(table5, start=2):
        assert critical_difference(k, 6) / math.sqrt(k * (k + 1) / 36) == pytest.approx(q, abs=2e-3)
    # alpha = 0.10, k = 4: 2.291
    assert critical_difference(4, 1, alpha=0.10) / math.sqrt(20 / 6) == pytest.approx(2.291, abs=2e-3)
    with pytest.raises(ValueError, match="k >= 2"):
        critical_difference(1, 5)


def test_ranks_ties_and_friedman_by_hand():
    # 3 datasets x 3 methods; lower is better; dataset c ties a and b
    scores = pd.DataFrame({"a": [0.1, 0.2, 0.5], "b": [0.2, 0.1, 0.5], "c": [0.3, 0.3, 0.9]},
                          index=["d1", "d2", "d3"])
    ranks = average_ranks(scores)
    assert ranks.to_dict() == {"a": pytest.approx((1 + 2 + 1.5) / 3), "b": pytest.approx((2 + 1 + 1.5) / 3),
                               "c": 3.0}
    # Friedman chi^2 = 12 N / (k (k+1)) [sum R_j^2 - k (k+1)^2 / 4] with tie correction: scipy's value
    from scipy.stats import friedmanchisquare

    assert friedman_p(scores) == pytest.approx(friedmanchisquare([0.1, 0.2, 0.5], [0.2, 0.1, 0.5],
                                                                 [0.3, 0.3, 0.9]).pvalue)
    assert friedman_p(scores[["a", "b"]]) is None  # the test needs 3+ methods


def test_cliques_are_maximal_runs_within_the_cd():
    ranks = pd.Series({"m1": 1.0, "m2": 1.5, "m3": 2.4, "m4": 3.9})
    assert cliques(ranks, 1.0) == [(0, 1), (1, 2)]  # m1-m2, m2-m3; m4 stands alone
    assert cliques(ranks, 3.0) == [(0, 3)]
    assert cliques(ranks, 0.1) == []


def test_complete_block_drops_the_sparsest_method_or_dataset():
    m = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 3, np.nan], "c": [np.nan, np.nan, np.nan, 1.0]},
                     index=["w", "x", "y", "z"], dtype=float)
    block = complete_block(m)
    assert list(block.columns) == ["a", "b"] and list(block.index) == ["w", "x", "y"]
    assert not block.isna().to_numpy().any()


def _tidy(rates=(0.5,), mechanisms=("mcar",), coverage=False):
    rows = []
    rng = np.random.default_rng(0)
    for mech in mechanisms:
        for rate in rates:
            for d in ("d1", "d2", "d3"):
                for m in ("mean", "vaeac", "knn"):
                    rows.append({"dataset": d, "method": m, "split": 0, "mechanism": mech, "rate": rate,
                                 "nrmse": 0.5 + rate + rng.random() / 10,
                                 "coverage_90": 0.85 if coverage and m == "vaeac" else np.nan})
    return pd.DataFrame(rows)


def test_figures_are_deterministic_small_pngs_and_say_what_is_missing(tmp_path):
    labels = {"mean": "Mean", "vaeac": "VAEAC", "knn": "KNN"}
    a = figure_missing_rate(_tidy(), labels, tmp_path / "a.png").read_bytes()
    b = figure_missing_rate(_tidy(), labels, tmp_path / "b.png").read_bytes()
    assert a == b and a.startswith(b"\x89PNG") and len(a) < 150_000
    assert b"Software" not in a  # no matplotlib version stamp in the file
    full = figure_missing_rate(_tidy((0.1, 0.3, 0.5, 0.7), ("mcar", "mar"), coverage=True), labels,
                               tmp_path / "c.png").read_bytes()
    assert full != a and len(full) < 150_000
    scores = pd.DataFrame({"mean": [1.0, 1.1, 0.9], "vaeac": [0.8, 0.7, 0.85], "knn": [0.9, 0.8, 0.95]},
                          index=["d1", "d2", "d3"])
    path, info = figure_ranks(scores, labels, tmp_path / "r.png")
    assert info["ranks"] == {"vaeac": 1.0, "knn": pytest.approx(7 / 3), "mean": pytest.approx(8 / 3)}
    assert info["cd"] == pytest.approx(critical_difference(3, 3)) and len(path.read_bytes()) < 150_000
    assert path.read_bytes() == figure_ranks(scores, labels, tmp_path / "r2.png")[0].read_bytes()
    _, none = figure_ranks(scores.iloc[:1], labels, tmp_path / "r3.png")
    assert none["cd"] is None  # one dataset: no diagram, a note instead
    cost, n = figure_cost(scores, scores * 10, labels, tmp_path / "cost.png")
    assert n == 3 and len(cost.read_bytes()) < 150_000
