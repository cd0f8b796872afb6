"""Metrics against hand-computed values (appendix A.2, §5.1)."""

from __future__ import annotations

import numpy as np
import pytest

from vaeac_bench.metrics import (
    UNDEFINED_CONSTANT,
    aggregate,
    downstream_score,
    mode,
    score_imputations,
)
from vaeac_bench.schema import Feature, Schema

SCHEMA = Schema((Feature("a", "real"), Feature("b", "real"), Feature("k", "categorical", ("x", "y", "z"))))


def test_nrmse_and_pfc_hand_computed():
    truth = np.array([[1.0, 10.0, 0], [2.0, 20.0, 1], [3.0, 30.0, 2], [4.0, 40.0, 1]])
    imputed = np.array([[1.0, 12.0, 0], [3.0, 20.0, 2], [3.0, 30.0, 2], [2.0, 40.0, 1]])
    scored = np.array([[0, 1, 0], [1, 0, 1], [0, 0, 1], [1, 0, 1]], dtype=bool)
    s = score_imputations(truth, imputed[None], scored, SCHEMA)
    # a: errors 1 and 2 on rows 1,3 -> RMSE sqrt(2.5); population std of [1,2,3,4] = sqrt(1.25)
    nrmse_a = np.sqrt(2.5) / np.sqrt(1.25)
    # b: error 2 on row 0 -> RMSE 2; std of [10,20,30,40] = sqrt(125)
    nrmse_b = 2 / np.sqrt(125)
    assert s.features[0].error == pytest.approx(nrmse_a)
    assert s.features[1].error == pytest.approx(nrmse_b)
    assert s.nrmse == pytest.approx((nrmse_a + nrmse_b) / 2)
    # k: rows 1,2,3 scored; row 1 wrong (2 vs 1) -> PFC 1/3
    assert s.pfc == pytest.approx(1 / 3)
    assert [f.n_scored for f in s.features] == [2, 1, 3]


def test_columns_restrict_the_average_but_not_the_per_feature_errors():
    truth = np.array([[1.0, 10.0, 0], [3.0, 30.0, 1]])
    imputed = np.array([[2.0, 10.0, 0], [3.0, 20.0, 1]])
    scored = np.ones_like(truth, dtype=bool)
    s = score_imputations(truth, imputed[None], scored, SCHEMA, columns=[0])
    assert s.nrmse == pytest.approx(np.sqrt(0.5) / 1.0)
    assert s.pfc is None
    assert s.features[1].error is not None


def test_aggregation_mean_for_real_mode_for_categorical():
    imps = np.array([
        [[1.0, 0.0, 2], [5.0, 1.0, 0]],
        [[3.0, 0.0, 2], [5.0, 3.0, 1]],
        [[5.0, 0.0, 0], [5.0, 5.0, 1]],
    ])
    agg = aggregate(imps, SCHEMA)
    np.testing.assert_allclose(agg[:, :2], [[3.0, 0.0], [5.0, 3.0]])
    np.testing.assert_array_equal(agg[:, 2], [2, 1])


def test_mode_ties_go_to_smallest_and_negative_labels_work():
    np.testing.assert_array_equal(mode(np.array([[2, -1], [1, -1], [1, 3], [2, 3]])), [1, -1])


def test_constant_column_nrmse_is_undefined_not_a_division_by_zero():
    truth = np.array([[5.0, 1.0, 0], [5.0, 2.0, 1], [5.0, 3.0, 2]])
    imputed = truth.copy()
    imputed[0, 0] = 4.0
    scored = np.zeros_like(truth, dtype=bool)
    scored[0, 0] = scored[1, 1] = True
    s = score_imputations(truth, imputed[None], scored, SCHEMA)
    assert s.features[0].error is None and s.features[0].note == UNDEFINED_CONSTANT
    assert s.nrmse == pytest.approx(0.0)  # only column b counts, imputed exactly


def test_downstream_regression_combines_by_mean_and_never_sees_the_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = 3 * X[:, 0] - X[:, 1]
    schema = Schema((Feature("a", "real"), Feature("b", "real")))
    # two test imputations whose mean is the truth: the combined prediction is exact
    noise = rng.normal(size=(100, 2))
    test = np.stack([X[:100] + noise, X[:100] - noise])
    r2 = downstream_score(X[100:][None], y[100:], test, y[:100], schema, "regression")
    assert r2 == pytest.approx(1.0)


def test_downstream_classification_combines_by_mode():
    schema = Schema((Feature("a", "real"),))
    Xtr = np.array([[-2.0], [-1.0], [1.0], [2.0]] * 10)
    ytr = np.array([0, 0, 1, 1] * 10)
    # three imputations of 2 test rows: votes (1,1,0)->1 and (0,0,1)->0
    test = np.array([[[2.0], [-2.0]], [[2.0], [-2.0]], [[-2.0], [2.0]]])
    acc = downstream_score(Xtr[None], ytr, test, np.array([1, 0]), schema, "classification")
    assert acc == 1.0
    acc_wrong = downstream_score(Xtr[None], ytr, test, np.array([0, 1]), schema, "classification")
    assert acc_wrong == 0.0
