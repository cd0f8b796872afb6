"""Column types through ``make_imputer`` (issue 13 §1): integer codes, nullable dtypes, constants, float limits.

Each case runs for mean and VAEAC (tiny budget) and, where it costs little, for other registered methods, so
the rules are the wrapper's and hold whatever the method does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaeac_bench import make_imputer

TINY_VAEAC = dict(epochs=2, width=8, depth=1, latent_dim=2, validation_samples=2, n_imputations=3)
BUDGETS = {"mean": {}, "vaeac": TINY_VAEAC, "knn": {}, "missforest": dict(n_estimators=5, max_iter=2),
           "iterative": dict(max_iter=2, n_imputations=2), "softimpute": {},
           "mice": dict(iterations=1, num_datasets=2, n_imputations=2)}
METHODS = list(BUDGETS)
CORE = ["mean", "vaeac"]
N = 40


def imputer(method: str, **params):
    return make_imputer(method, **BUDGETS[method], random_state=0, **params)


def with_holes(col, seed: int = 0, rate: float = 0.3) -> pd.Series:
    """``col`` as a Series with about ``rate`` of its cells missing (never the first two)."""
    s = pd.Series(col)
    hide = np.random.default_rng(seed).random(len(s)) < rate
    hide[:2] = False
    return s.mask(hide)


def frame(k: pd.Series, seed: int = 1) -> pd.DataFrame:
    """A real column ``a`` (with holes) beside the column under test ``k``."""
    a = with_holes(np.random.default_rng(seed).normal(size=len(k)), seed=seed + 7)
    return pd.DataFrame({"a": a, "k": k})


def imputed(df: pd.DataFrame, out: pd.DataFrame, col: str = "k") -> pd.Series:
    """The imputed cells of ``col``; the observed ones must come back unchanged."""
    seen = df[col].notna()
    pd.testing.assert_series_equal(out.loc[seen, col], df.loc[seen, col])
    assert (~seen).any()
    return out.loc[~seen, col]


# -- integer-coded categoricals and undeclared integer columns ------------------------------------------
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["float64", "Int64"])
def test_declared_integer_codes_are_imputed_with_their_levels_and_dtype(method, dtype):
    codes = np.random.default_rng(0).choice([1, 3, 5], N)
    df = frame(with_holes(codes).astype(dtype))
    imp = imputer(method, categorical_features=["k"]).fit(df)
    assert imp.schema_[1].is_categorical and imp.schema_[1].n_categories == 3
    out = imp.transform(df)
    assert out["k"].dtype == df["k"].dtype
    assert set(imputed(df, out).tolist()) <= {1, 3, 5}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["float64", "Int64"])
def test_undeclared_integer_column_is_imputed_with_observed_values_never_fractions(method, dtype):
    # float64 is how pandas stores an int column with missing cells; the codes are low-cardinality and uneven
    codes = np.random.default_rng(0).choice([0, 4, 10], N)
    df = frame(with_holes(codes).astype(dtype))
    imp = imputer(method).fit(df)
    assert not imp.schema_[1].is_categorical  # modelled as an ordered number (documented), not guessed as classes
    out = imp.transform(df)
    assert out["k"].dtype == df["k"].dtype
    assert set(imputed(df, out).tolist()) <= {0, 4, 10}
    for draw in imp.sample(df, 2):
        assert set(imputed(df, draw).tolist()) <= {0, 4, 10}


def test_numpy_int_column_at_fit_keeps_its_dtype_and_gets_observed_values_at_transform():
    codes = np.random.default_rng(0).choice([2, 7], N)
    df = frame(pd.Series(codes, dtype="int64"))
    imp = imputer("mean").fit(df)
    assert imp.fit_transform(df)["k"].dtype == np.int64
    holes = df.assign(k=with_holes(codes))  # float64 with NaN, as pandas makes it
    assert set(imputed(holes, imp.transform(holes)).tolist()) <= {2, 7}


def test_fractional_float_column_stays_real():
    vals = np.random.default_rng(0).choice([0.5, 1.25], N)
    df = frame(with_holes(vals))
    out = imputer("mean").fit_transform(df)
    got = imputed(df, out)
    assert not set(got.tolist()) <= {0.5, 1.25}  # the mean, not snapped to an observed value
    np.testing.assert_allclose(got, df["k"].mean())


# -- nullable and text dtypes keep their dtype ---------------------------------------------------------
NULLABLE = {
    "Int64": (lambda r: pd.array(r.integers(0, 100, N), dtype="Int64"), None),
    "Float64": (lambda r: pd.array(r.normal(size=N), dtype="Float64"), None),
    "boolean": (lambda r: pd.array(r.random(N) < 0.5, dtype="boolean"), {False, True}),
    "string": (lambda r: pd.array(r.choice(["x", "y", "z"], N), dtype="string"), {"x", "y", "z"}),
    "str": (lambda r: pd.Series(r.choice(["x", "y", "z"], N), dtype="str"), {"x", "y", "z"}),
    "object text": (lambda r: pd.Series(r.choice(["x", "y", "z"], N).tolist(), dtype=object), {"x", "y", "z"}),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", list(NULLABLE))
def test_nullable_and_text_dtypes_round_trip(method, kind):
    make, levels = NULLABLE[kind]
    df = frame(with_holes(make(np.random.default_rng(3))))
    dtype = df["k"].dtype
    imp = imputer(method).fit(df)
    assert imp.schema_[1].is_categorical == (levels is not None)
    out = imp.transform(df)
    assert out["k"].dtype == dtype and out["k"].notna().all()
    got = imputed(df, out)
    if kind == "Int64":
        assert set(got.tolist()) <= set(df["k"].dropna().tolist())
    elif levels is not None:
        assert set(got.tolist()) <= levels
    assert all(d["k"].dtype == dtype for d in imp.sample(df, 2))


def test_plain_bool_column_is_categorical_and_stays_bool():
    df = frame(pd.Series(np.random.default_rng(0).random(N) < 0.5))
    imp = imputer("mean").fit(df)
    assert imp.schema_[1].is_categorical and imp.fit_transform(df)["k"].dtype == bool


# -- constant columns ----------------------------------------------------------------------------------
CONSTANT = {
    "real": with_holes(np.full(N, 3.7)),
    "Int64": with_holes(np.full(N, 7)).astype("Int64"),
    "category with an unseen level": with_holes(pd.Categorical(["a"] * N, categories=["a", "b"])),
    "boolean": with_holes(pd.array([True] * N, dtype="boolean")),  # one level: MICE's LightGBM cannot fit it
    "string": with_holes(pd.array(["only"] * N, dtype="string")),
    "huge": with_holes(np.full(N, -1.5e308)),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", list(CONSTANT))
def test_constant_column_is_imputed_with_its_constant(method, case):
    df = frame(CONSTANT[case])
    value = df["k"].dropna().iloc[0]
    imp = imputer(method).fit(df)
    out = imp.transform(df)
    assert out["k"].dtype == df["k"].dtype
    assert (imputed(df, out) == value).all()  # exactly, not 3.7000000000000006
    for draw in imp.sample(df, 2):
        assert (imputed(df, draw) == value).all()


def test_constant_column_of_an_array_is_imputed_with_its_constant():
    X = np.column_stack([np.random.default_rng(0).normal(size=N), np.full(N, 0.1)])
    X[::3, 1] = np.nan
    out = imputer("vaeac").fit_transform(X)
    np.testing.assert_array_equal(out[:, 1], 0.1)


# -- values near the float limits ----------------------------------------------------------------------
def extreme(case: str) -> np.ndarray:
    r = np.random.default_rng(5)
    return {"1e308": r.uniform(-1, 1, N) * 1.7e308, "1e-310": r.normal(size=N) * 1e-310,
            "1e-12": r.normal(size=N) * 1e-12}[case]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", ["1e308", "1e-310", "1e-12"])
def test_values_near_the_float_limits_are_imputed_on_their_own_scale(method, case):
    vals = extreme(case)
    df = frame(with_holes(vals))
    imp = imputer(method).fit(df)
    top = np.abs(df["k"]).max()
    for out in [imp.transform(df), *imp.sample(df, 2)]:
        got = imputed(df, out).to_numpy()
        assert np.isfinite(out.to_numpy()).all()
        # on the column's own scale: before, VAEAC gave -inf for 1e308 and values near 1 for 1e-310
        assert (np.abs(got) / 4 <= top).all() and np.abs(got).max() > top / 1e6


def test_mean_of_huge_and_subnormal_columns_is_exact_where_a_naive_mean_overflows_or_underflows():
    big = np.array([1.7e308, 1.6e308, np.nan, 1.5e308])
    tiny = np.array([3e-320, 5e-320, np.nan, 1e-320])
    out = imputer("mean").fit_transform(pd.DataFrame({"big": big, "tiny": tiny}))
    with np.errstate(over="ignore"):
        assert np.isinf(np.nanmean(big))  # the naive mean overflows
    assert out.loc[2, "big"] == pytest.approx(1.6e308) and out.loc[2, "tiny"] == pytest.approx(3e-320, rel=1e-3)


def test_a_method_returning_nan_is_an_error_naming_the_column():
    df = frame(with_holes(np.random.default_rng(0).normal(size=N)))
    imp = imputer("mean").fit(df)
    imp.method_.impute = lambda X, n=1: np.full((1, *X.shape), np.nan)
    with pytest.raises(RuntimeError, match=r"'mean' returned NaN/inf imputations in column\(s\) \['a', 'k'\]"):
        imp.transform(df)


# -- all-missing and changed columns -------------------------------------------------------------------
EMPTY = {"float": pd.Series([np.nan] * N), "object None": pd.Series([None] * N, dtype=object),
         "Int64": pd.Series([pd.NA] * N, dtype="Int64"), "string": pd.Series([None] * N, dtype="string"),
         "category": pd.Series(pd.Categorical([None] * N, categories=["a", "b"]))}


@pytest.mark.parametrize("method", CORE)
@pytest.mark.parametrize("case", list(EMPTY))
def test_all_missing_column_at_fit_is_refused_naming_it(method, case):
    with pytest.raises(ValueError, match=r"\['k'\] have no observed value at fit time"):
        imputer(method).fit(frame(EMPTY[case]))
    X = np.column_stack([np.ones(N), np.full(N, np.nan)])
    with pytest.raises(ValueError, match=r"\['x1'\] have no observed value"):
        imputer(method).fit(X)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("method", CORE)
def test_column_unseen_at_fit_or_missing_at_transform_is_refused_naming_it(method):
    df = frame(with_holes(np.random.default_rng(0).normal(size=N)))
    imp = imputer(method).fit(df)
    with pytest.raises(ValueError, match=r"unseen at fit time:\n- extra"):
        imp.transform(df.assign(extra=1.0))
    with pytest.raises(ValueError, match=r"seen at fit time, yet now missing:\n- k"):
        imp.transform(df[["a"]])
    with pytest.raises(ValueError, match="same order"):
        imp.transform(df[["k", "a"]])
    with pytest.raises(ValueError, match="3 features"):
        imp.transform(np.ones((2, 3)))


def test_column_rules_survive_save_and_load(tmp_path):
    from vaeac_bench.imputer import MethodImputer

    df = pd.DataFrame({"n": with_holes(np.random.default_rng(0).choice([0, 4, 10], N)).astype("Int64"),
                       "c": with_holes(np.full(N, 3.7)), "b": with_holes(extreme("1e308")),
                       "t": with_holes(np.random.default_rng(1).choice(["x", "y"], N)).astype("string"),
                       "one": with_holes(pd.array([True] * N, dtype="boolean"))})
    imp = imputer("mean").fit(df)
    again = MethodImputer.load(imp.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(again.transform(df), imp.transform(df))
    assert again.scale_exp_[2] < 0 and again.constants_[1] == 3.7
    assert again.schema_ == imp.schema_ and again.schema_[4].is_categorical  # not the method's (real) view


# -- sample: every draw decoded at once, as one draw at a time would be -------------------------------------
@pytest.mark.parametrize("index", [None, list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN")])
def test_sample_frames_equal_each_draw_decoded_on_its_own(monkeypatch, index):
    """``sample`` finishes and decodes the n draws stacked (one call each, issue 12 §6): frame k must be what
    finishing and decoding the method's draw k alone gives (dtypes, levels, observed cells, the input's index)."""
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": with_holes(rng.normal(size=N)),
                       "n": with_holes(rng.integers(0, 9, N)).astype("Int64"),
                       "c": with_holes(rng.choice(["x", "y", "z"], N)).astype("category"),
                       "t": with_holes(rng.choice(["low", "high"], N)).astype(object)})
    if index is not None:
        df.index = index
    imp = imputer("vaeac", categorical_features=["t"]).fit(df)
    method, captured = imp.method_, {}
    original = method.sample_standardised

    def draws(*args, **kwargs):  # record the method's draws (n, rows, D) in its standardised units
        captured["s"] = original(*args, **kwargs)
        return captured["s"]

    monkeypatch.setattr(method, "sample_standardised", draws)
    frames = imp.sample(df, n=4, random_state=5)
    monkeypatch.undo()
    codes = imp._encode(df, fitting=False)
    raw = method.scaler_.inverse_transform(captured["s"])
    assert len(frames) == 4 and raw.shape == (4, len(df), df.shape[1])
    for k, got in enumerate(frames):  # draw k finished and decoded on its own, as sample() did before
        alone = imp._decode(imp._finish(raw[k], codes), df)
        pd.testing.assert_frame_equal(got, alone)
        assert got.index.equals(df.index) and (got.dtypes == df.dtypes).all()
        for col in df.columns:
            imputed(df, got, col)  # observed cells come back unchanged


@pytest.mark.parametrize("as_frame", [False, True])
def test_sample_in_chunks_of_draws_equals_all_at_once_and_keeps_empty_input(monkeypatch, as_frame):
    """Draws are finished and decoded in chunks of about ``DRAW_CHUNK_ROWS`` rows (bounding the memory): a small
    chunk gives what one chunk gives, and a table with no rows samples to n empty tables of its columns."""
    import vaeac_bench.imputer as imputer_module

    rng = np.random.default_rng(4)
    df = pd.DataFrame({"a": with_holes(rng.normal(size=N)),
                       "c": with_holes(rng.choice(["x", "y"], N)).astype("category")})
    X = df if as_frame else df.assign(c=df["c"].cat.codes.replace(-1, np.nan)).to_numpy(dtype=float)
    imp = imputer("vaeac", **({} if as_frame else {"categorical_features": [1]})).fit(X)
    whole = imp.sample(X, n=5, random_state=2)
    monkeypatch.setattr(imputer_module, "DRAW_CHUNK_ROWS", 2 * N)  # two draws per chunk: chunks of 2, 2, 1
    chunked = imp.sample(X, n=5, random_state=2)
    if as_frame:
        assert len(chunked) == 5
        for a, b in zip(whole, chunked, strict=True):
            pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(whole, chunked)
    empty = imp.sample(X[:0], n=3)
    if as_frame:
        assert len(empty) == 3 and all(e.shape == (0, 2) and (e.dtypes == df.dtypes).all() for e in empty)
    else:
        assert empty.shape == (3, 0, 2)


@pytest.mark.parametrize("copy_on_write", [True, False])
def test_sampled_frames_are_independent_of_each_other(monkeypatch, copy_on_write):
    """The frames are slices of one frame (copies where pandas has no copy-on-write): editing one draw leaves
    the others as they were, without a warning."""
    import warnings

    import vaeac_bench.imputer as imputer_module

    monkeypatch.setattr(imputer_module, "_copy_on_write", lambda: copy_on_write)
    df = frame(with_holes(np.random.default_rng(5).normal(size=N)))
    imp = imputer("vaeac").fit(df)
    frames = imp.sample(df, n=3, random_state=1)
    before = [f.copy() for f in frames]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames[0].iloc[0, 0] = 1e6
    assert frames[0].iloc[0, 0] == 1e6
    for f, b in zip(frames[1:], before[1:], strict=True):
        pd.testing.assert_frame_equal(f, b)
