"""Issue 13 §3 MAR/MNAR mechanisms (Muzellec et al. 2020): realised rate, seeding and the dependence claimed."""

from __future__ import annotations

import numpy as np
import pytest

from vaeac_bench.datasets.mechanisms_extra import (
    EXTRA_MECHANISMS,
    mar_logistic,
    mnar_logistic,
    mnar_quantile,
    mnar_self_masked,
)

N, D = 6000, 5


@pytest.fixture(scope="module")
def data():
    """Independent columns on different scales: any dependence of a mask on a column comes from the mechanism."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, D)) * np.array([1.0, 10.0, 0.1, 3.0, 1.0]) + np.array([0, 100, -5, 0, 2])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float), b.astype(float))[0, 1])


@pytest.mark.parametrize("name", sorted(EXTRA_MECHANISMS))
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.7])
def test_realised_rate_on_the_masked_columns_hits_the_target(name, rate, data):
    mask = EXTRA_MECHANISMS[name](data, rate, np.random.default_rng(1))
    assert mask.shape == data.shape and mask.dtype == bool
    touched = mask.any(axis=0)
    assert touched.sum() >= 1
    assert mask[:, touched].mean() == pytest.approx(rate, abs=0.025)


@pytest.mark.parametrize("name", sorted(EXTRA_MECHANISMS))
def test_seeded_and_zero_rate(name, data):
    fn = EXTRA_MECHANISMS[name]
    a, b = fn(data, 0.3, np.random.default_rng(5)), fn(data, 0.3, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fn(data, 0.3, np.random.default_rng(6)))
    assert not fn(data, 0.0, np.random.default_rng(5)).any()
    with pytest.raises(ValueError, match="missing rate"):
        fn(data, 1.2, np.random.default_rng(5))


def test_mar_depends_on_fully_observed_columns_only(data):
    mask = mar_logistic(data, 0.3, np.random.default_rng(2))
    observed = np.where(~mask.any(axis=0))[0]
    targets = np.where(mask.any(axis=0))[0]
    assert len(observed) == 1 and len(targets) == D - 1  # max(int(0.3 * 5), 1) = 1 column stays observed
    for j in targets:
        assert abs(_corr(mask[:, j], data[:, observed[0]])) > 0.2  # driven by the observed column
        assert abs(_corr(mask[:, j], data[:, j])) < 0.05  # not by its own (independent) value


def test_mnar_logistic_inputs_are_mcar_and_drive_the_others(data):
    mask = mnar_logistic(data, 0.3, np.random.default_rng(3))
    strengths = np.array([[abs(_corr(mask[:, j], data[:, k])) for k in range(D)] for j in range(D)])
    inputs = np.where(strengths.max(axis=1) < 0.05)[0]  # MCAR columns: unrelated to any value
    assert len(inputs) == 1
    others = np.setdiff1d(np.arange(D), inputs)
    assert all(strengths[j, inputs[0]] > 0.2 for j in others)  # depend on a value that is itself missing
    assert mask[:, inputs[0]].mean() == pytest.approx(0.3, abs=0.025)


def test_self_masked_depends_on_the_own_value_only(data):
    mask = mnar_self_masked(data, 0.3, np.random.default_rng(4))
    for j in range(D):
        own = _corr(mask[:, j], data[:, j])
        assert abs(own) > 0.2
        # the direction is the sign of w_j: the missing cells sit on that side of the observed ones
        assert np.sign(data[mask[:, j], j].mean() - data[~mask[:, j], j].mean()) == np.sign(own)
        assert max(abs(_corr(mask[:, j], data[:, k])) for k in range(D) if k != j) < 0.05


def test_quantile_censoring_drops_only_tail_cells(data):
    mask = mnar_quantile(data, 0.3, np.random.default_rng(5))
    touched = np.where(mask.any(axis=0))[0]
    assert len(touched) == 3  # int(0.7 * 5)
    for j in touched:
        lo, hi = np.quantile(data[:, j], [0.25, 0.75])
        dropped = data[mask[:, j], j]
        assert np.all((dropped <= lo) | (dropped >= hi))
    upper = mnar_quantile(data, 0.1, np.random.default_rng(5), cut="upper", p_params=1.0)
    for j in range(D):
        assert data[upper[:, j], j].min() >= np.quantile(data[:, j], 0.75)
    # a rate above the tail mass widens the tails to hold it: 70 % cannot fit in 2 x 25 %
    wide = mnar_quantile(data, 0.7, np.random.default_rng(5), p_params=1.0)
    assert wide.mean() == pytest.approx(0.7, abs=0.01)


def test_truly_missing_cells_and_bad_arguments(data):
    holes = data.copy()
    holes[::7, 0] = np.nan
    for fn in EXTRA_MECHANISMS.values():
        assert fn(holes, 0.3, np.random.default_rng(0)).shape == data.shape
    with pytest.raises(ValueError, match="p_obs"):
        mar_logistic(data, 0.3, np.random.default_rng(0), p_obs=0.0)
    with pytest.raises(ValueError, match="cut"):
        mnar_quantile(data, 0.3, np.random.default_rng(0), cut="middle")
    with pytest.raises(ValueError, match="q"):
        mnar_quantile(data, 0.3, np.random.default_rng(0), q=0.8)
    with pytest.raises(ValueError, match="2-D"):
        mar_logistic(data[:, 0], 0.3, np.random.default_rng(0))
