"""MIWAE (issue 13 §2): accuracy on dependent data, the bound's pieces, determinism, persistence, bad params."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import correlated_mixed
from vaeac_bench.methods import InvalidParameterError, build
from vaeac_bench.methods.base import Imputer
from vaeac_bench.methods.miwae import MIWAEImputer, student_t_log_prob
from vaeac_bench.methods.simple import MeanModeImputer
from vaeac_bench.metrics import score_imputations

FAST = {"epochs": 30, "n_importance": 200}


@pytest.fixture(scope="module")
def table():
    return correlated_mixed(n=240, seed=1, missing=0.3)


@pytest.fixture(scope="module")
def fitted(table):
    _, obs, schema = table
    return MIWAEImputer(random_state=0, **FAST).fit(obs, schema)


def test_beats_mean_mode_on_correlated_mixed_data(table, fitted):
    truth, obs, schema = table
    hidden = np.isnan(obs)
    mean = score_imputations(truth, MeanModeImputer().fit(obs, schema).impute(obs), hidden, schema)
    single = score_imputations(truth, fitted.impute(obs), hidden, schema)
    assert single.nrmse < 0.5 * mean.nrmse, (single.nrmse, mean.nrmse)
    assert single.pfc < mean.pfc, (single.pfc, mean.pfc)


def test_multiple_imputations_are_draws_around_the_single_one(table, fitted):
    truth, obs, schema = table
    hidden = np.isnan(obs)
    draws = fitted.impute(obs, n=20)
    real_hidden = hidden[:, :3]
    spread = draws[:, :, :3].std(axis=0)[real_hidden]
    assert spread.mean() > 0.01  # SIR draws carry the observation noise, not one repeated value
    mean_of_draws = draws.mean(axis=0)
    single = fitted.impute(obs)[0]
    # the average of the draws estimates the same conditional mean as the self-normalised IS mean
    assert np.abs(mean_of_draws[:, :3] - single[:, :3])[real_hidden].mean() < 0.5 * np.nanstd(obs[:, :3])
    assert score_imputations(truth, draws, hidden, schema).nrmse < 0.5


def test_student_t_log_prob_matches_torch():
    x, loc, scale, df = torch.randn(50), torch.randn(50), torch.rand(50) + 0.1, torch.rand(50) * 5 + 3
    want = torch.distributions.StudentT(df, loc, scale).log_prob(x)
    torch.testing.assert_close(student_t_log_prob(x, loc, scale, df), want)


def test_bound_ignores_the_values_of_missing_cells(table, fitted):
    _, obs, _ = table
    rows = obs[:30]
    enc = fitted._encode(rows)
    g1, g2 = (torch.Generator().manual_seed(5) for _ in range(2))
    wide, real, m_real, codes, m_cat = enc
    noisy = real + (1 - m_real) * 100.0  # change only hidden real cells of the likelihood input
    b1 = fitted._bound(enc, g1)
    b2 = fitted._bound((wide, noisy, m_real, codes, m_cat), g2)
    torch.testing.assert_close(b1, b2)


def test_same_seed_same_result_other_seed_differs(table, fitted):
    _, obs, schema = table
    again = MIWAEImputer(random_state=0, **FAST).fit(obs, schema)
    np.testing.assert_array_equal(again.impute(obs, n=2), fitted.impute(obs, n=2))
    other = MIWAEImputer(random_state=1, **FAST).fit(obs, schema)
    assert not np.array_equal(other.impute(obs, n=2), again.impute(obs, n=2))


def test_save_and_load_give_identical_imputations(table, fitted, tmp_path):
    _, obs, _ = table
    fitted.save(tmp_path / "m")
    loaded = Imputer.load(tmp_path / "m")
    assert isinstance(loaded, MIWAEImputer)
    np.testing.assert_array_equal(loaded.impute(obs, n=3), fitted.impute(obs, n=3))
    np.testing.assert_array_equal(loaded.impute(obs), fitted.impute(obs))
    assert loaded.fit_info_ == fitted.fit_info_


def test_fit_info_reports_the_budget(fitted):
    info = fitted.fit_info_
    assert 1 <= info["epochs_run"] <= FAST["epochs"] and info["initial_max_epochs"] == FAST["epochs"]
    assert info["best_score"] is not None and np.isfinite(info["best_score"])


def test_gaussian_observation_model_and_real_only_data(table):
    truth, obs, schema = table
    real = schema.select([0, 1, 2])
    est = MIWAEImputer(observation="gaussian", epochs=10, n_importance=50, random_state=0).fit(obs[:, :3], real)
    out = est.impute(obs[:, :3], n=2)
    assert np.isfinite(out).all() and out.shape == (2, *obs[:, :3].shape)


@pytest.mark.parametrize("params, name", [({"n_samples": 0}, "n_samples"), ({"observation": "laplace"}, "observation"),
                                          ({"latent_dim": 0}, "latent_dim"), ({"learning_rate": -1.0}, "learning_rate"),
                                          ({"validation_fraction": 1.0}, "validation_fraction")])
def test_bad_parameters_are_refused_by_name(table, params, name):
    _, obs, schema = table
    with pytest.raises(InvalidParameterError, match=name):
        MIWAEImputer(**params).fit(obs, schema)


def test_registry_entry_has_the_authors_defaults_and_lists_its_code():
    from vaeac_bench.methods import REGISTRY

    est = build("miwae")
    assert (est.n_samples, est.hidden_dim, est.batch_size, est.learning_rate, est.observation) == (
        20, 128, 64, 1e-3, "student_t")
    assert "methods/miwae.py" in REGISTRY["miwae"].code and "nn/harness.py" in REGISTRY["miwae"].code


def test_checkpoint_does_not_change_the_result_and_a_finished_run_resumes_as_done(table, tmp_path):
    _, obs, schema = table
    kw = dict(epochs=6, n_importance=50, validate_every=2, random_state=4)
    plain = MIWAEImputer(**kw).fit(obs, schema).impute(obs, n=2)
    ck = tmp_path / "miwae.pt"
    first = MIWAEImputer(**kw, checkpoint=str(ck)).fit(obs, schema)
    assert ck.is_file() and "checkpoint" not in first.config()["params"]
    np.testing.assert_array_equal(first.impute(obs, n=2), plain)
    resumed = MIWAEImputer(**kw, checkpoint=str(ck)).fit(obs, schema)  # the checkpoint says done: no more epochs
    np.testing.assert_array_equal(resumed.impute(obs, n=2), plain)
