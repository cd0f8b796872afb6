"""VAEACImputer: scikit-learn conformance, DataFrame/array round trips and refusal of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from vaeac_bench import VAEACImputer, make_imputer

TINY = dict(epochs=2, width=8, depth=1, latent_dim=2, validation_samples=2, n_imputations=3)


# Every applicable check runs. The only one scikit-learn skips by itself is check_array_api_input (needs
# SCIPY_ARRAY_API=1 and an array-API namespace; the model is torch-based and takes numpy/pandas only).
@parametrize_with_checks([VAEACImputer(**TINY, random_state=0), make_imputer("mean"),
                          make_imputer("missforest", n_estimators=5, max_iter=2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def mixed_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n)
    size = np.where(colour == "red", 1.0, 3.0) + rng.normal(0, 0.2, n)
    df = pd.DataFrame({
        "size": size,
        "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "colour": pd.Categorical(colour, categories=["red", "green", "blue"]),
        "grade": pd.Categorical(rng.choice(["lo", "hi"], n), categories=["lo", "hi"], ordered=True),
    }, index=pd.RangeIndex(100, 100 + n))
    holes = rng.random(df.shape) < 0.25
    for j, c in enumerate(df.columns):
        df.loc[holes[:, j], c] = None
    return df


def test_dataframe_round_trip_keeps_dtypes_categories_index_and_observed_cells():
    df = mixed_frame()
    imp = VAEACImputer(**TINY, random_state=0)
    out = imp.fit_transform(df)
    assert out.notna().all().all()
    assert list(out.columns) == list(df.columns) and out.index.equals(df.index)
    assert out["colour"].dtype == df["colour"].dtype and out["grade"].dtype == df["grade"].dtype
    assert out["grade"].cat.ordered
    seen = df["size"].notna()
    np.testing.assert_array_equal(out.loc[seen, "size"], df.loc[seen, "size"])
    assert (out["colour"][df["colour"].notna()] == df["colour"].dropna()).all()
    assert list(imp.get_feature_names_out()) == list(df.columns)
    draws = imp.sample(df, 4)
    assert len(draws) == 4 and all(d["colour"].dtype == df["colour"].dtype for d in draws)


def test_array_with_categorical_features_returns_original_level_values():
    rng = np.random.default_rng(1)
    levels = np.array([1.0, 5.0, 10.0])
    X = np.column_stack([rng.normal(size=80), levels[rng.integers(0, 3, 80)]])
    X[rng.random(X.shape) < 0.2] = np.nan
    imp = VAEACImputer(**TINY, categorical_features=[1], random_state=0).fit(X)
    out = imp.transform(X)
    assert set(np.unique(out[:, 1])) <= set(levels) and not np.isnan(out).any()
    assert imp.method_.schema_.n_categories == [0, 3]
    with pytest.raises(ValueError, match=r"categorical column 1 has value 7\.0, unseen during fit"):
        imp.transform(np.array([[0.0, 7.0]]))


def test_transform_is_deterministic_and_sample_seed_gives_other_draws():
    df = mixed_frame()
    imp = VAEACImputer(**TINY, random_state=3).fit(df)
    pd.testing.assert_frame_equal(imp.transform(df), imp.transform(df))
    a = imp.sample(df, 2, random_state=1)[0]
    b = imp.sample(df, 2, random_state=2)[0]
    assert not a["size"].equals(b["size"])


def test_params_reach_the_model_and_set_params_works():
    df = mixed_frame()
    imp = VAEACImputer(**TINY, random_state=0).set_params(width=12, depth=2, alpha=0.5)
    imp.fit(df)
    m = imp.method_
    assert (m.width, m.depth, m.alpha) == (12, 2, 0.5)
    assert m.model_.nets.prior.inp.out_features == 12 and m.model_.objective.alpha == 0.5


def test_save_load_round_trip(tmp_path):
    df = mixed_frame()
    imp = VAEACImputer(**TINY, random_state=0).fit(df)
    imp2 = VAEACImputer.load(imp.save(tmp_path / "imp"))
    pd.testing.assert_frame_equal(imp.transform(df), imp2.transform(df))
    X = np.where(np.random.default_rng(0).random((30, 3)) < 0.2, np.nan, np.arange(90.0).reshape(30, 3) % 4)
    a = VAEACImputer(**TINY, categorical_features=[2], random_state=0).fit(X)
    np.testing.assert_array_equal(a.transform(X), VAEACImputer.load(a.save(tmp_path / "arr")).transform(X))


def test_an_imputer_loaded_inside_torch_inference_mode_imputes_as_the_saved_one(tmp_path):
    import torch

    df = mixed_frame()
    imp = VAEACImputer(**TINY, random_state=0).fit(df)
    path = imp.save(tmp_path / "imp")
    with torch.inference_mode():  # a serving process: every tensor made here is an inference tensor
        loaded = VAEACImputer.load(path)
        pd.testing.assert_frame_equal(imp.transform(df), loaded.transform(df))
        a, b = imp.sample(df, 2), loaded.sample(df, 2)
    for x, y in zip(a, b, strict=True):  # a list of n DataFrames
        pd.testing.assert_frame_equal(x, y)


def test_unknown_category_at_transform_is_refused_with_column_named():
    df = mixed_frame()
    imp = VAEACImputer(**TINY, random_state=0).fit(df)
    bad = df.copy()
    bad["colour"] = pd.Categorical(["purple"] * len(df))
    with pytest.raises(ValueError, match="'colour' has category 'purple', unseen during fit"):
        imp.transform(bad)


def test_column_type_change_between_fit_and_transform_is_refused():
    df = mixed_frame()
    imp = VAEACImputer(**TINY, random_state=0).fit(df)
    bad = df.copy()
    bad["colour"] = bad["colour"].cat.codes.astype(float)
    with pytest.raises(ValueError, match="'colour' was categorical at fit time"):
        imp.transform(bad)
    bad = df.copy()
    bad["size"] = pd.Categorical(["a"] * len(df))
    with pytest.raises(ValueError, match="'size' was real-valued at fit time"):
        imp.transform(bad)
    with pytest.raises(ValueError, match="should match those that were passed during fit"):
        imp.transform(df.rename(columns={"size": "width"}))


# text and bool columns are categorical since issue 13 §1 (tests/test_imputer_dtypes.py); mixed and dates are not
@pytest.mark.parametrize("values, dtype", [(["a", 1], object), ([pd.Timestamp(0), pd.Timestamp(1)], None)])
def test_mixed_and_datetime_columns_are_refused_not_guessed(values, dtype):
    df = pd.DataFrame({"x": [1.0, 2.0] * 10, "t": pd.Series(values * 10, dtype=dtype)})
    with pytest.raises(TypeError, match=r"column 't' has dtype .*astype\('category'\)"):
        VAEACImputer(**TINY).fit(df)


def test_nan_is_missing_and_inf_is_refused_in_real_columns():
    df = mixed_frame()
    bad = df.copy()
    bad.loc[bad.index[0], "size"] = np.inf
    with pytest.raises(ValueError, match="'size' contains inf"):
        VAEACImputer(**TINY).fit(bad)
    X = np.array([[1.0, np.inf], [2.0, 3.0]])
    with pytest.raises(ValueError, match=r"column 1 \(x1\) contains inf"):
        VAEACImputer(**TINY).fit(X)


def test_all_missing_column_at_fit_is_refused_and_all_missing_row_is_imputed():
    df = mixed_frame()
    bad = df.copy()
    bad["size"] = np.nan
    with pytest.raises(ValueError, match=r"\['size'\] have no observed value"):
        VAEACImputer(**TINY).fit(bad)
    imp = VAEACImputer(**TINY, random_state=0).fit(df)
    row = pd.DataFrame({c: pd.Series([None], dtype=df[c].dtype) for c in df.columns})
    out = imp.transform(row)
    assert out.notna().all().all()


def test_fewer_rows_than_a_batch_train_fine():
    df = mixed_frame(n=7)
    out = VAEACImputer(**TINY, random_state=0).fit_transform(df)
    assert out.notna().all().all()
    with pytest.raises(ValueError, match="0 rows"):
        VAEACImputer(**TINY).fit(df.iloc[:0])


def test_bad_parameters_are_refused():
    df = mixed_frame()
    with pytest.raises(ValueError, match="n_imputations"):
        VAEACImputer(**{**TINY, "n_imputations": 0}).fit(df)
    with pytest.raises(ValueError, match="categorical_features names 'nope'"):
        VAEACImputer(**TINY, categorical_features=["nope"]).fit(df)
    with pytest.raises(ValueError, match="random_state must be an int"):
        VAEACImputer(**TINY, random_state=np.random.RandomState(0)).fit(df)
