"""GAIN: both variants through the registry and directly, persistence, hyper-parameters, losses, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import assert_saved_without_pickles
from vaeac_bench.methods import Imputer, build, params_for, resolve
from vaeac_bench.methods.gain import DEFAULTS, GAINImputer, gain_hint
from vaeac_bench.metrics import score_imputations
from vaeac_bench.schema import Schema

torch.set_num_threads(1)
FAST = {"iterations": 60, "eval_every": 20}


def mixed_data(n: int = 160, seed: int = 0, rate: float = 0.3) -> tuple[np.ndarray, np.ndarray, Schema]:
    """Three correlated real columns, a 3-level and a binary categorical that depend on them; MCAR holes."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n)
    real = np.stack([t + 0.2 * rng.normal(size=n), 2 * t + 0.3 * rng.normal(size=n) + 5, rng.normal(size=n)], 1)
    cat3 = np.digitize(t, [-0.5, 0.5]).astype(float)
    binary = (t > 0).astype(float)
    X = np.column_stack([real, cat3, binary])
    miss = rng.random(X.shape) < rate
    schema = Schema.from_kinds(["a", "b", "c", "k3", "bin"], [0, 0, 0, 3, 2])
    return X, np.where(miss, np.nan, X), schema


@pytest.fixture(scope="module")
def data():
    return mixed_data()


def missing_differs(a: np.ndarray, b: np.ndarray, X: np.ndarray) -> bool:
    hole = np.isnan(X)
    return not np.array_equal(a[..., hole], b[..., hole])


# --- registry -------------------------------------------------------------------------------------------
def test_registry_entries_carry_the_paper_settings():
    assert params_for("gain") == {"variant": "modified", "alpha": 10.0, "hint_rate": 0.01,
                                  "validation_fraction": 0.05, "iterations": 10000, "batch_size": 128}
    assert resolve("gain-original") == [f"gain-original-a{a}" for a in ("0.1", "0.5", "1", "2", "10")]
    for a in (0.1, 0.5, 1.0, 2.0, 10.0):
        m = build(f"gain-original-a{a:g}")
        assert isinstance(m, GAINImputer)
        assert (m.variant, m.alpha, m.hint_rate, m.validation_fraction) == ("original", a, 0.9, 0.0)
    assert build("gain", quick=True).iterations == 200


@pytest.mark.parametrize("name", ["gain", "gain-original-a2"])
def test_registry_build_fits_and_imputes(name, data):
    X, Xo, schema = data
    m = build(name, quick=True, iterations=80, random_state=0).fit(Xo, schema)
    imp = m.impute(Xo, n=10)
    assert imp.shape == (10, *X.shape)
    obs = ~np.isnan(Xo)
    assert np.array_equal(imp[:, obs], np.broadcast_to(Xo[obs], (10, obs.sum())))
    for j in (3, 4):  # categorical columns hold valid integer codes
        col = imp[:, :, j]
        assert np.all(col == np.round(col)) and col.min() >= 0 and col.max() <= schema[j].n_categories - 1
    # min-max scaling + sigmoid outputs: real imputations stay in the training range
    for j in range(3):
        assert np.nanmin(Xo[:, j]) - 1e-6 <= imp[:, :, j].min() and imp[:, :, j].max() <= np.nanmax(Xo[:, j]) + 1e-6
    assert missing_differs(imp[0], imp[1], Xo)  # multiple imputation by resampling the noise


# --- determinism and persistence ----------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["modified", "original"])
def test_same_seed_same_imputations_and_save_load(variant, data, tmp_path):
    _, Xo, schema = data
    a = GAINImputer(variant=variant, random_state=3, **FAST).fit(Xo, schema)
    b = GAINImputer(variant=variant, random_state=3, **FAST).fit(Xo, schema)
    c = GAINImputer(variant=variant, random_state=4, **FAST).fit(Xo, schema)
    ia = a.impute(Xo, n=3)
    assert np.array_equal(ia, b.impute(Xo, n=3))
    assert missing_differs(ia, c.impute(Xo, n=3), Xo)
    a.save(tmp_path / "m")
    loaded = Imputer.load(tmp_path / "m")
    assert isinstance(loaded, GAINImputer) and loaded.get_params() == a.get_params()
    assert np.array_equal(loaded.impute(Xo, n=3), ia)
    assert loaded.best_iteration_ == a.best_iteration_
    assert_saved_without_pickles(tmp_path / "m")


def test_unseeded_model_still_reloads_identically(data, tmp_path):
    _, Xo, schema = data
    m = GAINImputer(**FAST).fit(Xo, schema)
    m.save(tmp_path / "m")
    assert np.array_equal(Imputer.load(tmp_path / "m").impute(Xo, 2), m.impute(Xo, 2))


# --- every hyper-parameter reaches the method -----------------------------------------------------------------
@pytest.mark.parametrize("param,value", [
    ("alpha", 0.5), ("hint_rate", 0.5), ("iterations", 40), ("batch_size", 32), ("learning_rate", 1e-2),
    ("noise_scale", 0.5), ("hidden_dim", 3), ("validation_fraction", 0.2), ("random_state", 1),
])
@pytest.mark.parametrize("variant", ["modified", "original"])
def test_each_hyper_parameter_changes_the_result(variant, param, value, data):
    _, Xo, schema = data
    kw = {"variant": variant, "random_state": 0, "validation_fraction": 0.0, **FAST}
    base = GAINImputer(**kw).fit(Xo, schema).impute(Xo, 2)
    other = GAINImputer(**{**kw, param: value}).fit(Xo, schema)
    assert missing_differs(base, other.impute(Xo, 2), Xo), f"{param}={value} had no effect"


def test_resolved_values_follow_variant_and_overrides(data):
    _, Xo, schema = data
    mod = GAINImputer(variant="modified", **FAST).fit(Xo, schema)
    assert (mod.alpha_, mod.hint_rate_, mod.hint_fill_, mod.validation_fraction_) == (10.0, 0.01, 0.5, 0.05)
    assert list(mod.widths_) == [1, 1, 1, 3, 2]  # one-hot categoricals
    assert mod.G_[0].in_features == 8 + 5 and mod.G_[0].out_features == 8  # hidden width = data width
    orig = GAINImputer(variant="original", **FAST).fit(Xo, schema)
    assert (orig.alpha_, orig.hint_rate_, orig.hint_fill_, orig.validation_fraction_) == (100.0, 0.9, 0.0, 0.0)
    assert list(orig.widths_) == [1] * 5 and orig.best_iteration_ == FAST["iterations"]
    over = GAINImputer(variant="original", alpha=0.1, hint_rate=0.3, hidden_dim=9, validation_fraction=0.1,
                       **FAST).fit(Xo, schema)
    assert (over.alpha_, over.hint_rate_, over.validation_fraction_) == (0.1, 0.3, 0.1)
    assert over.G_[0].out_features == 9
    assert DEFAULTS["modified"]["alpha"] == 10.0


def test_eval_every_sets_the_checkpoint_grid(data):
    _, Xo, schema = data
    m = GAINImputer(iterations=60, eval_every=20, random_state=0).fit(Xo, schema)
    assert [it for it, _ in m.history_] == [20, 40, 60]
    assert m.best_iteration_ in (20, 40, 60)
    m = GAINImputer(iterations=60, eval_every=7, random_state=0).fit(Xo, schema)
    assert [it for it, _ in m.history_] == [7, 14, 21, 28, 35, 42, 49, 56, 60]


def test_fit_info_counts_iterations_and_reports_the_held_out_error(data, tmp_path):
    _, Xo, schema = data
    m = GAINImputer(iterations=60, eval_every=20, random_state=0).fit(Xo, schema)
    info = json.loads(json.dumps(m.fit_info_))
    assert info["unit"] == "iteration" and info["epochs_run"] == info["max_epochs"] == 60 and info["n_scores"] == 3
    assert info["best_epoch"] == m.best_iteration_ and info["best_score"] == min(s for _, s in m.history_)
    assert info["best_score"] == m.validation_score_
    assert GAINImputer.load(m.save(tmp_path / "g")).fit_info_ == m.fit_info_
    orig = GAINImputer(variant="original", iterations=30, random_state=0).fit(Xo, schema)
    assert orig.fit_info_["n_scores"] == 0 and orig.fit_info_["best_epoch"] == 30  # nothing held out: the last


def test_ties_keep_the_earliest_iteration(data, monkeypatch):
    _, Xo, schema = data
    monkeypatch.setattr(GAINImputer, "_validation_score", lambda self, X, encoded=None: 0.25)
    m = GAINImputer(iterations=60, eval_every=20, random_state=0).fit(Xo, schema)
    assert m.best_iteration_ == 20 and m.validation_score_ == 0.25


def test_validation_imputes_only_rows_with_held_out_cells_and_scales_by_the_whole_column(data):
    _, Xo, schema = data
    m = GAINImputer(iterations=20, eval_every=10, random_state=0).fit(Xo, schema)
    rng = np.random.default_rng(1)
    X_train, held = m._hold_out(Xo, rng)
    rows = m._validation_rows(X_train, held)
    assert set(rows) == set(np.flatnonzero(held.any(axis=1))) and len(rows) < len(Xo)  # fewer rows imputed
    for j, cells, truth, is_cat, sd in m._held_columns:
        np.testing.assert_array_equal(truth, Xo[rows, j][cells])  # the hidden true values, row order kept
        np.testing.assert_array_equal(cells, held[rows, j])
        assert sd == (0.0 if is_cat else float(np.nanstd(X_train[:, j])))  # the std of every training row
    # a perfect imputation of the held cells scores 0
    X_rows = X_train[rows]
    m._impute = lambda X, n, seed_key="impute", encoded=None: np.where(held[rows], Xo[rows], 0.0)[None]
    assert m._validation_score(X_rows) == 0.0


def test_checkpoint_resume_equals_an_uninterrupted_fit(data, tmp_path, monkeypatch):
    from vaeac_bench.methods import gain as gain_module

    _, Xo, schema = data
    kw = {"iterations": 60, "eval_every": 20, "random_state": 0}
    straight = GAINImputer(**kw).fit(Xo, schema)
    real_loop = gain_module.fit_loop

    def crash(step, **loop_kw):
        def step2(it):
            if it == 45:
                raise KeyboardInterrupt
            return step(it)
        return real_loop(step2, **loop_kw)

    ck = tmp_path / "gain.pt"
    monkeypatch.setattr(gain_module, "fit_loop", crash)
    with pytest.raises(KeyboardInterrupt):
        GAINImputer(**kw, checkpoint=str(ck)).fit(Xo, schema)
    monkeypatch.setattr(gain_module, "fit_loop", real_loop)
    resumed = GAINImputer(**kw, checkpoint=str(ck)).fit(Xo, schema)
    assert resumed.history_ == straight.history_ and resumed.best_iteration_ == straight.best_iteration_
    np.testing.assert_array_equal(resumed.impute(Xo, 2), straight.impute(Xo, 2))


# --- the pieces of the algorithm ---------------------------------------------------------------------------
def test_hint_forms():
    gen = torch.Generator().manual_seed(0)
    m = (torch.rand(4000, 5, generator=gen) < 0.5).float()
    h = gain_hint(m, 0.9, 0.0, gen)  # authors' code: h = m * B
    assert torch.all(h[m == 0] == 0) and abs(h[m == 1].mean().item() - 0.9) < 0.02
    h = gain_hint(m, 0.01, 0.5, gen)  # A.4: h = b*m + 0.5(1-b)
    revealed = h != 0.5
    assert abs(revealed.float().mean().item() - 0.01) < 0.005
    assert torch.equal(h[revealed], m[revealed])


def test_reconstruction_loss_is_eq_12(data):
    _, Xo, schema = data
    m = GAINImputer(**FAST).fit(Xo, schema)
    x = torch.tensor([[0.2, 0.5, 0.9, 0, 1, 0, 1, 0]])
    g = torch.tensor([[0.1, 0.5, 0.7, 0.2, 0.5, 0.3, 0.6, 0.4]])
    obs = torch.ones(1, 5)
    k3 = 0.2 * (-np.log(0.5 + 1e-8) / 3) + 0.8 * (0.2**2 + 0.5**2 + 0.3**2) / 3
    binary = 0.2 * (-np.log(0.6 + 1e-8) / 2) + 0.8 * (0.4**2 + 0.4**2) / 2  # L2 part = (x - x')^2
    expected = (0.1**2 + 0 + 0.2**2 + k3 + binary) / 5
    assert m._reconstruction(x, g, obs).item() == pytest.approx(expected, rel=1e-5)
    obs = torch.tensor([[1.0, 0, 0, 1, 0]])  # only observed columns count
    assert m._reconstruction(x, g, obs).item() == pytest.approx((0.1**2 + k3) / 2, rel=1e-5)


def test_generator_output_is_a_softmax_per_categorical_block(data):
    _, Xo, schema = data
    m = GAINImputer(**FAST).fit(Xo, schema)
    logits = torch.tensor([[0.3, -2.0, 4.0, 1.0, 2.0, 3.0, 50.0, -50.0]])
    out = m._activate(logits)[0]
    assert torch.allclose(out[:3], torch.sigmoid(logits[0, :3]))
    assert torch.allclose(out[3:6], torch.softmax(logits[0, 3:6], 0))
    assert torch.allclose(out[6:], torch.softmax(logits[0, 6:], 0))


def test_original_rounds_integer_columns_with_few_values_only():
    rng = np.random.default_rng(0)
    n = 200
    ints = rng.integers(0, 5, n).astype(float)
    halves = rng.integers(0, 5, n) / 4.0  # < 20 values but not integers: left alone (documented)
    X = np.column_stack([ints, halves, rng.normal(size=n), rng.integers(0, 3, n)])
    X[rng.random(X.shape) < 0.3] = np.nan
    schema = Schema.from_kinds(["ints", "quarters", "r", "c"], [0, 0, 0, 3])
    m = GAINImputer(variant="original", **FAST, random_state=0).fit(X, schema)
    assert list(m.round_) == [True, False, False, True]
    imp = m.impute(X, 2)
    assert np.all(imp[:, :, 0] == np.round(imp[:, :, 0]))
    assert not np.all(imp[:, :, 1] * 4 == np.round(imp[:, :, 1] * 4))
    assert set(np.unique(imp[:, :, 3])) <= {0.0, 1.0, 2.0}


def test_held_out_cells_are_hidden_from_training(data):
    _, Xo, schema = data
    m = GAINImputer(validation_fraction=0.1, random_state=0, **FAST).fit(Xo, schema)
    n_obs = int((~np.isnan(Xo)).sum())
    assert m.held_truth_.size == round(0.1 * n_obs)
    assert 1 <= len(m.history_) and np.isfinite(m.validation_score_)


def test_modified_gain_beats_mean_imputation_on_correlated_data():
    rng = np.random.default_rng(0)
    n, d = 800, 5
    X = rng.normal(size=(n, 1)) + 0.3 * rng.normal(size=(n, d))
    miss = rng.random(X.shape) < 0.5
    Xo = np.where(miss, np.nan, X)
    schema = Schema.from_kinds([f"x{i}" for i in range(d)], [0] * d)
    gain = build("gain", iterations=4000, random_state=0).fit(Xo[:600], schema).impute(Xo[600:], 10)
    mean = build("mean").fit(Xo[:600], schema).impute(Xo[600:], 10)
    g = score_imputations(X[600:], gain, miss[600:], schema).nrmse
    mu = score_imputations(X[600:], mean, miss[600:], schema).nrmse
    assert g < 0.8 * mu, (g, mu)


def test_values_outside_the_training_range_are_clipped_for_the_networks(data):
    _, Xo, schema = data
    m = GAINImputer(random_state=0, **FAST).fit(Xo, schema)
    wide, _ = m._encode(np.array([[1e9, -1e9, 0.0, 1.0, 0.0]]))
    assert wide[0, 0] == 1.0 and wide[0, 1] == 0.0


# --- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,match", [
    ({"variant": "tf"}, "'variant' parameter"),
    ({"alpha": -1.0}, "alpha"),
    ({"hint_rate": 1.5}, "hint_rate"),
    ({"iterations": 0}, "iterations"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"eval_every": -3}, "eval_every"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"noise_scale": -0.1}, "noise_scale"),
    ({"hidden_dim": 0}, "hidden_dim"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
])
def test_bad_hyper_parameters_are_named(kw, match, data):
    _, Xo, schema = data
    with pytest.raises(ValueError, match=match):
        GAINImputer(**kw).fit(Xo, schema)


def test_bad_data_is_named(data):
    _, Xo, schema = data
    bad = Xo.copy()
    bad[:, 1] = np.nan
    with pytest.raises(ValueError, match="'b'.*no observed value"):
        GAINImputer(**FAST).fit(bad, schema)
    bad = Xo.copy()
    bad[0, 3] = 7
    with pytest.raises(ValueError, match="'k3'"):
        GAINImputer(**FAST).fit(bad, schema)
    m = GAINImputer(**FAST).fit(Xo, schema)
    with pytest.raises(ValueError, match="columns but the schema has 5"):
        m.impute(Xo[:, :4])
    with pytest.raises(RuntimeError, match="not fitted"):
        GAINImputer().impute(Xo)


def test_a_named_stream_gives_its_own_reproducible_draws(data):
    _, Xo, schema = data
    m = GAINImputer(iterations=20, eval_every=10, random_state=0).fit(Xo, schema)
    default = m.impute(Xo, n=2)
    np.testing.assert_array_equal(default, m.impute(Xo, n=2, stream="impute"))  # the default stream by name
    a, b = m.impute(Xo, n=2, stream="gallery-1"), m.impute(Xo, n=2, stream="gallery-1")
    np.testing.assert_array_equal(a, b)
    assert missing_differs(a, default, Xo) and missing_differs(a, m.impute(Xo, n=2, stream="gallery-2"), Xo)
    np.testing.assert_array_equal(default, m.impute(Xo, n=2))  # a named call leaves the default stream as it was
    with pytest.raises(ValueError, match="stream must be a non-empty string"):
        m.impute(Xo, n=1, stream="")
