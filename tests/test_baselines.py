"""The paper's baselines: mean/mode, MICE (miceforest) and MissForest, tested directly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import correlated_mixed
from vaeac_bench.methods.mice import MICEImputer
from vaeac_bench.methods.missforest import MissForestImputer
from vaeac_bench.methods.simple import MeanModeImputer
from vaeac_bench.metrics import score_imputations
from vaeac_bench.schema import Feature, Schema

FAST_MICE = {"iterations": 2, "num_datasets": 3, "boosting_rounds": 10}


def _score(est, truth, obs, schema, n=1):
    imps = est.impute(obs, n=n)
    return score_imputations(truth, imps, np.isnan(obs), schema)


def test_mean_mode_fills_with_training_mean_and_mode():
    from vaeac_bench.schema import Feature, Schema

    schema = Schema((Feature("a", "real"), Feature("k", "categorical", ("x", "y", "z"))))
    X = np.array([[1.0, 2], [3.0, 2], [np.nan, 0], [5.0, np.nan]])
    out = MeanModeImputer().fit(X, schema).impute(np.array([[np.nan, np.nan]]), n=5)
    assert out.shape == (1, 1, 2)  # single imputation whatever n is asked
    np.testing.assert_array_equal(out[0], [[3.0, 2.0]])


@pytest.fixture(scope="module")
def table():
    return correlated_mixed(n=300, seed=2, missing=0.3)


def test_missforest_beats_mean_on_correlated_data(table):
    truth, obs, schema = table
    mean = _score(MeanModeImputer().fit(obs, schema), truth, obs, schema)
    mf = _score(MissForestImputer(n_estimators=30, random_state=0).fit(obs, schema), truth, obs, schema)
    assert mf.nrmse < 0.5 * mean.nrmse
    assert mf.pfc < 0.5 * mean.pfc


def test_missforest_treats_categories_as_labels_not_numbers():
    """Codes in an order unrelated to the signal: a classifier recovers them, a regression on codes would not."""
    truth, obs, schema = correlated_mixed(n=300, seed=3, missing=0.3)
    relabel = np.array([2, 0, 1])  # low->2, mid->0, high->1: 'mid' is no longer between the others
    for arr in (truth, obs):
        ok = ~np.isnan(arr[:, 3])
        arr[ok, 3] = relabel[arr[ok, 3].astype(int)]
    est = MissForestImputer(n_estimators=30, random_state=0).fit(obs, schema)
    assert all(type(est.forests_[j]).__name__ == ("RandomForestClassifier" if j == 3 else "RandomForestRegressor")
               for j in range(4))
    assert _score(est, truth, obs, schema).pfc < 0.15


def test_missforest_hyper_parameters_reach_the_forests(table):
    truth, obs, schema = table
    est = MissForestImputer(n_estimators=7, max_iter=2, min_samples_leaf_regression=9, random_state=0).fit(obs, schema)
    assert est.n_iter_ <= 2
    assert all(f.n_estimators == 7 for f in est.forests_.values())
    assert est.forests_[0].min_samples_leaf == 9 and est.forests_[3].min_samples_leaf == 1
    # missForest's mtry = floor(sqrt(p)) for every variable type, p the number of variables (not randomForest's p/3)
    p = len(schema)
    assert est.forests_[0].max_features == est.forests_[3].max_features == int(np.sqrt(p))
    two = MissForestImputer(n_estimators=3, max_iter=1, mtry=2, random_state=0).fit(obs, schema)
    assert two.forests_[0].max_features == 2
    with pytest.raises(ValueError, match="The .max_iter. parameter of MissForestImputer"):
        MissForestImputer(max_iter=0).fit(obs, schema)


def _scripted(changes):
    """A fake sweep: the state is the sweep count, the change comes from ``changes``; returns (kept, index)."""
    it = iter(changes)
    return lambda max_iter: MissForestImputer._iterate(lambda k: (k + 1, next(it)), 0, max_iter)


@pytest.mark.parametrize(("changes", "max_iter", "kept"), [
    # both types present: go on while either difference decreases; stop at the first sweep where neither does
    # and keep the previous imputation (Stekhoven & Bühlmann 2012; R missForest's stopCriterion)
    ([(0.5, 0.4), (0.3, 0.2), (0.35, 0.25), (0.1, 0.1)], 10, 2),
    ([(0.5, 0.4), (0.3, 0.5), (0.2, 0.6), (0.25, 0.7)], 10, 3),  # only the real change fell: go on
    ([(0.5, 0.4), (0.5, 0.4)], 10, 1),  # equal is "not decreased" (R uses new < old to continue)
    ([(0.5, np.nan), (0.4, np.nan), (0.45, np.nan)], 10, 2),  # a type without missing cells does not count
    ([(0.5, 0.4), (0.3, 0.2), (0.9, 0.9)], 4, 2),
    ([(0.5, 0.4), (0.3, 0.2), (0.9, 0.9)], 3, 3),  # as R: at max_iter the last sweep is kept even if it grew
    ([(0.5, 0.4), (0.3, 0.2), (0.1, 0.1), (0.0, 0.0)], 3, 3),  # max_iter reached: the last imputation
])
def test_missforest_stopping_rule_matches_stekhoven_and_buehlmann(changes, max_iter, kept):
    state, index, run = _scripted(changes)(max_iter)
    assert (state, index) == (kept, kept) and run == min(kept + 1, max_iter)


def test_missforest_imputes_its_training_data_with_its_own_fit(table):
    truth, obs, schema = table
    est = MissForestImputer(n_estimators=10, random_state=0).fit(obs, schema)
    np.testing.assert_array_equal(est.impute(obs)[0], est.train_imputed_)


def test_mice_beats_mean_and_gives_different_imputations(table):
    truth, obs, schema = table
    est = MICEImputer(random_state=0, **FAST_MICE).fit(obs, schema)
    mean = _score(MeanModeImputer().fit(obs, schema), truth, obs, schema)
    test = obs[:100]
    imps = est.impute(test, n=3)
    s = score_imputations(truth[:100], imps, np.isnan(test), schema)
    assert s.nrmse < 0.6 * mean.nrmse
    missing = np.isnan(test[:, 1])
    assert not np.array_equal(imps[0][missing, 1], imps[1][missing, 1])  # real multiple imputation


def test_mice_hyper_parameters_reach_miceforest(table):
    truth, obs, schema = table
    est = MICEImputer(iterations=3, num_datasets=2, boosting_rounds=4, mean_match_candidates=2, random_state=0)
    est.fit(obs, schema)
    k = est.kernel_
    assert k.iteration_count() == 3 and k.num_datasets == 2
    assert k.get_model(variable="c0", dataset=0, iteration=3).num_trees() == 4
    assert k.mean_match_candidates["c0"] == 2
    assert k.mean_match_strategy["c3"] == "fast" and k.mean_match_strategy["c0"] == "normal"
    with pytest.raises(ValueError, match="set num_datasets >= 5"):
        est.impute(obs, n=5)


def test_mice_new_rows_use_the_learnt_models_not_the_random_initial_fill(table):
    """Guards the miceforest 6.0.5 quirk: new-data imputations must come from the last iteration."""
    truth, obs, schema = table
    est = MICEImputer(random_state=0, **FAST_MICE).fit(obs[:200], schema)
    test_obs, test_truth = obs[200:], truth[200:]
    s = score_imputations(test_truth, est.impute(test_obs, n=3), np.isnan(test_obs), schema)
    mean = score_imputations(test_truth, MeanModeImputer().fit(obs[:200], schema).impute(test_obs),
                             np.isnan(test_obs), schema)
    assert s.nrmse < 0.7 * mean.nrmse  # the random initial fill scores about 1.4 x the mean's NRMSE


def test_mice_on_a_fully_observed_many_class_column_emits_no_warning():
    """miceforest's fragmented-frame PerformanceWarning (dozens per wide cell) is silenced, and nothing else."""
    rng = np.random.default_rng(0)
    n = 60
    c = rng.integers(0, 10, n).astype(float)
    X = np.column_stack([c + rng.normal(0, 0.3, n), 2 * c + rng.normal(0, 0.3, n), c])
    X[:, :2][rng.random((n, 2)) < 0.3] = np.nan  # the class column stays observed, as a target in training
    schema = Schema((Feature("a", "real"), Feature("b", "real"),
                     Feature("c", "categorical", tuple(str(i) for i in range(10)))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = MICEImputer(iterations=2, boosting_rounds=2, random_state=0).fit(X, schema)
        est.impute(X[:30], n=10)


def test_mice_lean_kernel_imputes_exactly_as_plain_miceforest(table, monkeypatch):
    """The predict-only model store and one-thread mean matching (issue 12, item 5) change no imputation."""
    import lightgbm as lgb
    import miceforest as mf

    from vaeac_bench.methods import mice

    truth, obs, schema = table
    params = dict(iterations=2, num_datasets=2, boosting_rounds=3, random_state=0)
    lean = MICEImputer(**params).fit(obs[:200], schema)
    models = lean.kernel_.models
    assert isinstance(models, mice._PredictOnlyModels) and len(models) == 2 * 2 * len(schema)
    # reloaded trees, not the training boosters: no training data behind them, seeds kept for mean matching
    assert all(isinstance(m, lgb.Booster) and m.params["num_threads"] == 1 and "seed" in m.params
               for m in models.values())
    monkeypatch.setattr(mice, "_kernel_class", lambda: mf.ImputationKernel)
    monkeypatch.setattr(mice, "_PredictOnlyModels", lambda num_threads: {})
    plain = MICEImputer(**params).fit(obs[:200], schema)
    assert type(plain.kernel_.models) is dict
    np.testing.assert_array_equal(lean.impute(obs[200:], n=2), plain.impute(obs[200:], n=2))
    np.testing.assert_array_equal(lean.impute(obs[:200], n=2), plain.impute(obs[:200], n=2))
