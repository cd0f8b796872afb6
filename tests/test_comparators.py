"""Issue 13 §2 comparators (KNN, iterative/Bayesian ridge, SoftImpute, Sinkhorn): accuracy, seeds, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import correlated_mixed
from vaeac_bench import methods as M
from vaeac_bench.methods.base import Imputer
from vaeac_bench.methods.iterative import IterativeImputer
from vaeac_bench.methods.knn import KNNImputer
from vaeac_bench.methods.simple import MeanModeImputer
from vaeac_bench.methods.sinkhorn import SinkhornImputer, batch_size_for, pick_epsilon
from vaeac_bench.methods.softimpute import SoftImputeImputer, soft_impute
from vaeac_bench.metrics import score_imputations

# small budgets: the defaults are the authors' (tests of the defaults below), these keep the suite fast
FAST = {
    "knn": lambda **kw: KNNImputer(**kw),
    "iterative": lambda **kw: IterativeImputer(sample_posterior=True, **kw),
    "softimpute": lambda **kw: SoftImputeImputer(**kw),
    "sinkhorn": lambda **kw: SinkhornImputer(n_iter=100, **kw),
}
SEEDED = {"iterative", "sinkhorn"}
TARGETS = {"knn": "knn:KNNImputer", "iterative": "iterative:IterativeImputer",
           "softimpute": "softimpute:SoftImputeImputer", "sinkhorn": "sinkhorn:SinkhornImputer"}


def _make(name: str, seed: int | None = 0) -> Imputer:
    return FAST[name](**({"random_state": seed} if name in SEEDED else {}))


@pytest.fixture(scope="module")
def table():
    return correlated_mixed(n=240, seed=1, missing=0.3)


@pytest.fixture(scope="module")
def fitted(table):
    _, obs, schema = table
    return {name: _make(name).fit(obs, schema) for name in FAST}


@pytest.fixture(scope="module")
def mean_score(table):
    truth, obs, schema = table
    return score_imputations(truth, MeanModeImputer().fit(obs, schema).impute(obs), np.isnan(obs), schema)


@pytest.mark.parametrize("name", sorted(FAST))
def test_beats_mean_mode_on_correlated_data(name, table, fitted, mean_score):
    truth, obs, schema = table
    score = score_imputations(truth, fitted[name].impute(obs, n=3), np.isnan(obs), schema)
    assert score.nrmse < 0.7 * mean_score.nrmse, (name, score.nrmse, mean_score.nrmse)
    assert score.pfc < mean_score.pfc, (name, score.pfc, mean_score.pfc)


@pytest.mark.parametrize("name", sorted(FAST))
def test_unseen_rows_are_imputed_well_and_categoricals_are_level_codes(name, fitted, mean_score):
    truth, obs, schema = correlated_mixed(n=60, seed=7, missing=0.3)
    out = fitted[name].impute(obs, n=2)
    assert np.isfinite(out).all()
    codes = out[..., 3]
    assert set(np.unique(codes)) <= {0.0, 1.0, 2.0}
    score = score_imputations(truth, out, np.isnan(obs), schema)
    mean = score_imputations(truth, MeanModeImputer().fit(obs, schema).impute(obs), np.isnan(obs), schema)
    assert score.nrmse < mean.nrmse


@pytest.mark.parametrize("name", sorted(SEEDED))
def test_same_random_state_same_result_and_different_state_differs(name, table, fitted):
    _, obs, schema = table
    again = _make(name, seed=0).fit(obs, schema).impute(obs, n=2)
    np.testing.assert_array_equal(again, fitted[name].impute(obs, n=2))
    other = _make(name, seed=1).fit(obs, schema).impute(obs, n=2)
    assert not np.array_equal(other, again)


def test_iterative_draws_differ_with_sample_posterior_and_not_without(table, fitted):
    _, obs, schema = table
    draws = fitted["iterative"].impute(obs, n=3)
    missing = np.isnan(obs[:, 0])
    assert np.std(draws[:, missing, 0], axis=0).mean() > 0.01  # proper multiple imputation: draws vary
    same = IterativeImputer(sample_posterior=False, random_state=0).fit(obs, schema).impute(obs, n=3)
    np.testing.assert_array_equal(same[0], same[2])


@pytest.fixture
def registered(request):
    """Register the comparator under test for the duration of the test unless the registry already has it."""
    name = request.param
    M.get("mean")  # loads the built-in entries whichever registry version this is
    target = f"vaeac_bench.methods.{TARGETS[name]}"
    added = not any(M.REGISTRY[k].target == target for k in list(M.REGISTRY))
    if added:
        M.register(M.MethodSpec(f"test-{name}", target))
    yield name
    if added:
        M.REGISTRY.unregister(f"test-{name}") if hasattr(M.REGISTRY, "unregister") else M.REGISTRY.pop(f"test-{name}")


@pytest.mark.parametrize("registered", sorted(FAST), indirect=True)
def test_save_load_round_trip(registered, table, fitted, tmp_path):
    name = registered
    new = correlated_mixed(n=40, seed=9)[1]
    before = fitted[name].impute(new, n=2)
    fitted[name].save(tmp_path / name)
    loaded = Imputer.load(tmp_path / name)
    assert type(loaded) is type(fitted[name])
    np.testing.assert_allclose(loaded.impute(new, n=2), before)


@pytest.mark.parametrize(("name", "bad", "word"), [
    ("knn", {"n_neighbors": 0}, "n_neighbors"), ("knn", {"weights": "gaussian"}, "weights"),
    ("iterative", {"max_iter": 0}, "max_iter"), ("iterative", {"sample_posterior": "yes"}, "sample_posterior"),
    ("softimpute", {"shrinkage": -1.0}, "shrinkage"), ("softimpute", {"tol": 0.0}, "tol"),
    ("sinkhorn", {"batch_size": 1}, "batch_size"), ("sinkhorn", {"lr": 0.0}, "lr"),
    ("sinkhorn", {"eps_quantile": 1.5}, "eps_quantile"),
])
def test_refuses_bad_parameters_naming_them(name, bad, word, table):
    _, obs, schema = table
    klass = type(_make(name))
    with pytest.raises(ValueError, match=f"'{word}' parameter"):
        klass(**bad).fit(obs, schema)


def test_defaults_are_the_authors():
    knn = KNNImputer()
    assert (knn.n_neighbors, knn.weights) == (5, "uniform")  # scikit-learn's
    it = IterativeImputer()
    assert (it.max_iter, it.tol, it.sample_posterior) == (10, 1e-3, False)  # scikit-learn's
    sk = SinkhornImputer()  # Muzellec et al. (2020)
    assert (sk.n_iter, sk.batch_size, sk.lr, sk.eps_quantile, sk.eps_multiplier, sk.noise) == \
        (3000, 128, 1e-2, 0.5, 0.05, 0.1)


def test_soft_impute_recovers_a_low_rank_matrix():
    rng = np.random.default_rng(0)
    full = rng.normal(size=(80, 2)) @ rng.normal(size=(2, 10))
    holes = rng.random(full.shape) < 0.3
    Z = np.where(holes, np.nan, full)
    completed, n_iter = soft_impute(Z, lam=0.5, max_iter=200, tol=1e-7)
    err = np.sqrt(np.mean((completed[holes] - full[holes]) ** 2)) / full.std()
    assert err < 0.15 and 1 < n_iter <= 200
    np.testing.assert_array_equal(completed[~holes], full[~holes])
    zero, _ = soft_impute(Z, lam=1e6, max_iter=5, tol=1e-7)  # λ above σ_max: the zero solution
    np.testing.assert_array_equal(zero[holes], 0.0)


def test_softimpute_default_lambda_is_a_fiftieth_of_the_top_singular_value(table, fitted):
    _, obs, _ = table
    Z = fitted["softimpute"].layout_.encode(obs)
    assert fitted["softimpute"].lambda_ == pytest.approx(np.linalg.norm(np.nan_to_num(Z), 2) / 50)


def test_sinkhorn_epsilon_and_batch_rules():
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [np.nan, 0.0]])
    # mean-imputed row 4 = (1/3, 0); half squared distances, median of the non-zero ones, times 0.05
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1 / 3, 0.0]])
    d = (((pts[:, None] - pts[None]) ** 2).sum(-1) / 2).ravel()
    assert pick_epsilon(Z, np.random.default_rng(0)) == pytest.approx(0.05 * np.median(d[d > 0]))
    assert batch_size_for(1000, 128) == 128 and batch_size_for(200, 128) == 64 and batch_size_for(100, 128) == 32


def test_sinkhorn_without_geomloss_names_the_extra(table, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_geomloss(name, *args, **kwargs):
        if name.startswith("geomloss"):
            raise ImportError("No module named 'geomloss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_geomloss)
    _, obs, schema = table
    with pytest.raises(ImportError, match=r"vaeac-bench\[comparators\]"):
        SinkhornImputer(n_iter=1).fit(obs, schema)
