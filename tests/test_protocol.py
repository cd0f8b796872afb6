"""Appendix A.2 protocol: seeded 3:1 splits, 50% MCAR in train and test, target hidden at test only."""

from __future__ import annotations

import numpy as np
import pytest

from vaeac_bench.datasets import MECHANISMS, load, make_split, register_mechanism, split_indices
from vaeac_bench.datasets.masks import get_mechanism


def test_split_is_a_seeded_3_to_1_partition():
    tr, te = split_indices(1000, seed=3)
    assert len(te) == 250 and len(tr) == 750
    assert not set(tr) & set(te) and set(tr) | set(te) == set(range(1000))
    tr2, te2 = split_indices(1000, seed=3)
    np.testing.assert_array_equal(te, te2)
    assert not np.array_equal(te, split_indices(1000, seed=4)[1])


def test_mcar_has_the_stated_rate_and_is_independent_of_the_values():
    rng = np.random.default_rng(0)
    data = np.arange(200_000, dtype=float).reshape(-1, 4)
    m = get_mechanism("mcar")(data, 0.5, rng)
    # 200k Bernoulli(0.5) draws: the fraction is within 5 standard errors of 0.5
    assert abs(m.mean() - 0.5) < 5 * np.sqrt(0.25 / m.size)
    # independent of the value: same rate among small and large values, and per column
    assert abs(m[: len(m) // 2].mean() - m[len(m) // 2:].mean()) < 0.01
    assert np.all(np.abs(m.mean(axis=0) - 0.5) < 0.01)
    assert abs(get_mechanism("mcar")(data, 0.2, rng).mean() - 0.2) < 0.005


def test_rate_is_validated():
    with pytest.raises(ValueError, match="missing rate"):
        get_mechanism("mcar")(np.zeros((2, 2)), 1.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown missingness mechanism 'mnar'"):
        get_mechanism("mnar")


def test_split_masks_features_in_both_parts_and_hides_the_target_at_test_only():
    t = load("digits")
    s = make_split(t, 0)
    feats = slice(0, s.target_index)
    assert abs(np.isnan(s.train_obs[:, feats]).mean() - 0.5) < 0.01
    assert abs(np.isnan(s.test_obs[:, feats]).mean() - 0.5) < 0.02
    assert not np.isnan(s.train_obs[:, -1]).any()  # the target is one more feature in train (B.2)
    assert np.isnan(s.test_obs[:, -1]).all()  # and always unobserved at test time
    np.testing.assert_array_equal(s.test_scored[:, feats], s.test_dropped[:, feats])
    rec = s.record()
    assert rec["n_train"] == 1348 and rec["n_test"] == 449


def test_same_seed_same_data_other_seed_other_data():
    t = load("iris")
    a, b, c = make_split(t, 1), make_split(t, 1), make_split(t, 2)
    np.testing.assert_array_equal(a.test_obs, b.test_obs)
    assert a.record() == b.record()
    assert a.record()["test_mask_sha"] != c.record()["test_mask_sha"]


def test_rate_parameter_and_pluggable_mechanism():
    t = load("breast")
    s = make_split(t, 0, rate=0.2)
    assert abs(np.isnan(s.train_obs[:, :-1]).mean() - 0.2) < 0.02

    @register_mechanism("first-column-only")
    def first_col(data, rate, rng):
        m = np.zeros(data.shape, bool)
        m[:, 0] = rng.random(len(data)) < rate
        return m

    try:
        s = make_split(t, 0, mechanism="first-column-only", rate=0.5)
        assert np.isnan(s.train_obs[:, 0]).any() and not np.isnan(s.train_obs[:, 1:-1]).any()
        assert s.mechanism == "first-column-only"
    finally:
        MECHANISMS.unregister("first-column-only")
