"""The shared feature encoding of the neural methods."""

from __future__ import annotations

import numpy as np

from vaeac_bench.encoding import Standardizer, from_one_hot, one_hot
from vaeac_bench.schema import Feature, Schema

SCHEMA = Schema((Feature("a", "real"), Feature("k", "categorical", ("x", "y", "z")), Feature("c", "real")))


def test_standardizer_uses_observed_cells_and_unbiased_std():
    X = np.array([[1.0, 0, 5.0], [3.0, 2, 5.0], [np.nan, 1, 5.0]])
    st = Standardizer().fit(X, SCHEMA)
    assert st.mean_[0] == 2.0 and st.std_[0] == np.sqrt(2.0)  # ddof=1 over the two observed cells
    assert st.mean_[1] == 0.0 and st.std_[1] == 1.0  # categorical codes untouched
    np.testing.assert_allclose(st.inverse_transform(st.transform(X)), X, equal_nan=True)


def test_a_column_constant_in_training_is_centred_not_blown_up():
    X = np.array([[1.0, 0, 5.0], [3.0, 2, 5.0]])
    st = Standardizer().fit(X, SCHEMA)
    assert st.std_[2] == 1.0
    assert st.transform(np.array([[2.0, 1, 16.0]]))[0, 2] == 11.0  # not 11e9


def test_one_hot_round_trip_and_missing_categories_are_all_zero():
    X = np.array([[0.5, 2, -1.0], [np.nan, np.nan, 3.0]])
    Z = one_hot(X, SCHEMA)
    np.testing.assert_array_equal(Z, [[0.5, 0, 0, 1, -1.0], [0.0, 0, 0, 0, 3.0]])
    np.testing.assert_array_equal(from_one_hot(Z[:1], SCHEMA), X[:1])
