"""VAEAC / GSNN / NN: behaviour of the model, the training loop and the registry adapter (tiny budgets)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import assert_saved_without_pickles
from vaeac_bench.methods import build, get
from vaeac_bench.methods.base import Imputer
from vaeac_bench.methods.vaeac import (
    ArchConfig,
    Batch,
    ObjectiveConfig,
    VAEACMethod,
    VAEACModel,
    default_epochs,
    iwae_log_likelihood,
    mc_log_likelihood,
)
from vaeac_bench.methods.vaeac.training import epoch_indices, split_validation
from vaeac_bench.nn import FeatureLayout
from vaeac_bench.schema import Schema

TINY = dict(width=16, depth=2, latent_dim=4, epochs=3, validation_samples=4)


def mixed_data(n: int = 150, seed: int = 0, missing: float = 0.3) -> tuple[np.ndarray, np.ndarray, Schema]:
    """Real columns correlated with a categorical one; returns (truth, observed, schema)."""
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 3, n)
    a = c + rng.normal(0, 0.3, n)
    b = 2 * a + rng.normal(0, 0.3, n)
    d = (a > 1).astype(float)
    X = np.column_stack([a, c, b, d]).astype(float)
    obs = X.copy()
    obs[rng.random(X.shape) < missing] = np.nan
    obs[np.isnan(obs).all(axis=1), 0] = X[np.isnan(obs).all(axis=1), 0]
    return X, obs, Schema.from_kinds(["a", "c", "b", "d"], [0, 3, 0, 2])


def test_registry_entries_share_one_class_with_paper_objectives():
    for name, alpha, delta in (("vaeac", 1.0, False), ("gsnn", 0.0, False), ("nn", 0.0, True)):
        spec = get(name)
        assert spec.load_class() is VAEACMethod
        m = build(name)
        assert m.alpha == alpha and m.delta_prior == delta
        assert (m.width, m.depth, m.latent_dim, m.activation) == (256, 10, 64, "leaky_relu")
        assert (m.lr, m.batch_size, m.validation_fraction, m.mask_prob) == (3e-4, 64, 0.25, 0.2)
        assert m.multiple is (not delta)
        assert build(name, quick=True).epochs is not None


def test_reference_architecture_parameter_counts_match_the_authors_code():
    """Yeast: 8 real + one 10-level column; the reference counts are 700,288 / 697,984 (facts §1.3)."""
    schema = Schema.from_kinds([f"r{i}" for i in range(8)] + ["cls"], [0] * 8 + [10])
    model = VAEACModel(FeatureLayout.from_schema(schema))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model.nets.proposal) == 700_288
    assert count(model.nets.prior) == 697_984
    # generator: reference 1,468,632 with 2 outputs per real column; σ is fixed here, so 8·(283+0) fewer
    assert count(model.nets.generator) == 1_468_632 - 8 * (256 + 27 + 1)


def test_fused_and_concatenating_generators_compute_the_same_function():
    _, obs, schema = mixed_data(40)
    lay = FeatureLayout.from_schema(schema)
    arch = ArchConfig(width=16, depth=3, latent_dim=4)
    m_fast = VAEACModel(lay, arch, fused=True, generator=torch.Generator().manual_seed(1))
    m_ref = VAEACModel(lay, arch, fused=False, generator=torch.Generator().manual_seed(1))
    batch = Batch.from_values(torch.tensor(obs, dtype=torch.float32), m_fast)
    r = torch.rand(batch.missing.shape, generator=torch.Generator().manual_seed(2))
    b = torch.maximum(batch.missing, (r < 0.3).float())
    noise = torch.randn(1, 40, 4, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(m_fast.loss(batch, b, noise=noise), m_ref.loss(batch, b, noise=noise))
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    torch.testing.assert_close(m_fast.iwae(batch, b, 5, g1), m_ref.iwae(batch, b, 5, g2))


def test_alpha_zero_builds_no_proposal_and_delta_prior_needs_alpha_zero():
    lay = FeatureLayout.from_schema(Schema.from_kinds(["a", "b"], [0, 0]))
    assert VAEACModel(lay, ArchConfig(width=8, depth=1, latent_dim=2), ObjectiveConfig(alpha=0.0)).nets.proposal is None
    with pytest.raises(ValueError, match="alpha=0"):
        ObjectiveConfig(alpha=1.0, delta_prior=True)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ObjectiveConfig(alpha=1.5)


@pytest.mark.parametrize("name", ["vaeac", "gsnn", "nn"])
def test_fit_impute_shapes_observed_cells_kept_and_categoricals_valid(name):
    _, obs, schema = mixed_data()
    m = build(name, **TINY, random_state=0).fit(obs, schema)
    imp = m.impute(obs, n=10)
    assert imp.shape == ((1 if name == "nn" else 10), *obs.shape)
    seen = ~np.isnan(obs)
    assert np.array_equal(imp[:, seen], np.broadcast_to(obs[seen], imp[:, seen].shape))
    assert set(np.unique(imp[..., 1])) <= {0.0, 1.0, 2.0} and set(np.unique(imp[..., 3])) <= {0.0, 1.0}
    if name != "nn":  # the imputations differ through z
        assert np.ptp(imp[:, np.isnan(obs[:, 0]), 0], axis=0).max() > 0


def test_same_seed_gives_identical_numbers_and_other_seed_differs():
    _, obs, schema = mixed_data()
    a = build("vaeac", **TINY, random_state=7).fit(obs, schema)
    b = build("vaeac", **TINY, random_state=7).fit(obs, schema)
    c = build("vaeac", **TINY, random_state=8).fit(obs, schema)
    assert a.history_.val_scores == b.history_.val_scores
    np.testing.assert_array_equal(a.impute(obs, 5), b.impute(obs, 5))
    assert not np.array_equal(a.impute(obs, 5), c.impute(obs, 5))


def test_two_models_in_one_process_do_not_interfere():
    """Interleaving two models' calls changes nothing (no class-level skip memory, no global RNG)."""
    _, obs, schema = mixed_data()
    _, obs2, schema2 = mixed_data(seed=1)
    alone = build("vaeac", **TINY, random_state=3).fit(obs, schema).impute(obs, 4)
    m1 = build("vaeac", **TINY, random_state=3).fit(obs, schema)
    m2 = build("vaeac", **{**TINY, "width": 8}, random_state=4).fit(obs2, schema2)
    torch.manual_seed(999)  # the global RNG is not used either
    m2.impute(obs2, 3)
    np.testing.assert_array_equal(m1.impute(obs, 4), alone)


def test_save_load_round_trip_gives_identical_imputations_and_estimates(tmp_path):
    _, obs, schema = mixed_data()
    m = build("vaeac", **TINY, random_state=1).fit(obs, schema)
    path = m.save(tmp_path / "m")
    assert_saved_without_pickles(path)
    m2 = Imputer.load(path)
    assert isinstance(m2, VAEACMethod) and m2.history_.best_epoch == m.history_.best_epoch
    np.testing.assert_array_equal(m.impute(obs, 6), m2.impute(obs, 6))
    b = np.zeros(obs.shape, dtype=bool)
    b[:, 2] = True
    np.testing.assert_allclose(m.log_likelihood(obs, b, 5), m2.log_likelihood(obs, b, 5))


def test_hyper_parameters_reach_the_model():
    _, obs, schema = mixed_data(60)
    m = build("vaeac", width=12, depth=3, latent_dim=5, activation="elu", epochs=2, max_extensions=0, batch_size=16,
              validation_fraction=0.5, random_state=0).fit(obs, schema)
    nets = m.model_.nets
    assert nets.prior.inp.out_features == 12 and len(nets.prior.layers) == 3
    assert nets.prior.head.out_features == 10 and len(nets.generator.blocks) == 4
    assert isinstance(nets.prior.act, torch.nn.ELU)
    assert m.history_.n_validation == 30 and m.history_.epochs_run == 2
    mlp = build("vaeac", hidden_sizes=(20, 10), skip_connections=False, latent_dim=3, epochs=1,
                random_state=0).fit(obs, schema)
    assert [layer.out_features for layer in mlp.model_.nets.prior.layers] == [10]


def test_early_stopping_and_best_epoch_restore():
    _, obs, schema = mixed_data(80)
    m = build("vaeac", **{**TINY, "epochs": 200}, patience=2, lr=3e-2, random_state=0).fit(obs, schema)
    h = m.history_
    assert h.stopped_early and h.epochs_run < 200 and h.epochs_run - h.best_epoch == 2
    assert h.best_score == max(h.val_scores)


def test_reference_mode_validates_before_training_and_every_epoch():
    _, obs, schema = mixed_data(80)
    m = build("vaeac", **TINY, mode="reference", random_state=0).fit(obs, schema)
    assert m.history_.val_epochs == [0, 1, 2, 3]
    assert m.model_.nets.generator.fused is False


def test_training_batches_are_padded_to_full_size():
    g = torch.Generator().manual_seed(0)
    idx = epoch_indices(10, 64, g, torch.device("cpu"))
    assert idx.shape == (1, 64) and set(idx.flatten().tolist()) == set(range(10))
    assert epoch_indices(130, 64, g, torch.device("cpu")).shape == (3, 64)
    tr, va = split_validation(100, 0.25, np.random.default_rng(0))
    assert len(va) == 25 and len(tr) == 75 and not set(tr) & set(va)
    assert split_validation(1, 0.25, np.random.default_rng(0))[1].size == 0


def test_default_epoch_budget_follows_dataset_size():
    assert default_epochs(100) == 500  # tiny tables: the cap
    assert default_epochs(20000) == 50  # large tables: the floor
    assert default_epochs(1113) < default_epochs(300)


def test_estimators_converge_to_one_value_and_small_s_underestimates():
    """IWAE (18) and MC (17) are both consistent: with many samples they agree; IWAE-1 is a lower bound."""
    _, obs, schema = mixed_data(200)
    # reference init: the latent carries information from the start, so S matters
    m = build("vaeac", **{**TINY, "epochs": 10}, mode="reference", random_state=0).fit(obs, schema)
    b = np.zeros(obs.shape, dtype=bool)
    b[:, 2] = True
    iwae = m.log_likelihood(obs, b, n_samples=1000).mean()
    mc = m.log_likelihood(obs, b, n_samples=1000, estimator="mc").mean()
    assert abs(iwae - mc) < 0.05
    assert m.log_likelihood(obs, b, n_samples=1).mean() < iwae - 0.02
    # the tensor-level functions agree with the method (standardised units, no Jacobian)
    Xs = m.scaler_.transform(obs)
    g = torch.Generator().manual_seed(0)
    assert iwae_log_likelihood(m.model_, Xs, b, 5, generator=g).shape == (200,)
    n = build("nn", **TINY, random_state=0).fit(obs, schema)
    ll1 = mc_log_likelihood(n.model_, Xs, b, 1)
    ll9 = mc_log_likelihood(n.model_, Xs, b, 9)
    np.testing.assert_allclose(ll1, ll9, rtol=1e-6)
    with pytest.raises(RuntimeError, match="proposal"):
        iwae_log_likelihood(build("gsnn", **TINY, random_state=0).fit(obs, schema).model_, Xs, b, 3)


def test_bad_input_is_refused_with_the_column_named():
    _, obs, schema = mixed_data(50)
    m = build("vaeac", **TINY, random_state=0)
    bad = obs.copy()
    bad[:, 2] = np.nan
    with pytest.raises(ValueError, match="'b'.*no observed value"):
        m.fit(bad, schema)
    bad = obs.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="'a' contains inf"):
        m.fit(bad, schema)
    bad = obs.copy()
    bad[0, 1] = 5
    with pytest.raises(ValueError, match="'c'"):
        m.fit(bad, schema)
    with pytest.raises(ValueError, match="alpha"):
        build("vaeac", alpha=2.0, epochs=1).fit(obs, schema)


def test_all_missing_rows_and_tiny_tables_are_handled():
    truth, obs, schema = mixed_data(50)
    obs = obs.copy()
    obs[3] = np.nan  # an all-missing training row contributes only its KL term
    m = build("vaeac", **TINY, random_state=0).fit(obs[:5], schema)  # fewer rows than a batch: padded
    imp = m.impute(np.full((2, 4), np.nan), n=3)  # all-missing rows: unconditional draws
    assert np.isfinite(imp).all()
    one = build("vaeac", **TINY, random_state=0).fit(truth[:1], schema)  # one row: no validation set
    assert one.history_.n_validation == 0 and one.history_.best_epoch == one.history_.epochs_run


def test_config_is_json_ready_and_excludes_device():
    cfg = build("vaeac", hidden_sizes=(4, 2), skip_connections=False).config()
    assert cfg["params"]["hidden_sizes"] == [4, 2] and "device" not in cfg["params"]


def test_cuda_request_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    _, obs, schema = mixed_data(30)
    with pytest.raises(ValueError, match="CUDA is not available"):
        build("vaeac", **TINY, device="cuda").fit(obs, schema)


def test_an_under_trained_run_is_extended_and_recorded_in_fit_info(tmp_path):
    """Item 10: with the best epoch in the last patience window at the cap the budget grows (+50%, twice)."""
    _, obs, schema = mixed_data(80)
    m = build("vaeac", **{**TINY, "epochs": 4}, validate_every=1, patience=50, random_state=0).fit(obs, schema)
    info = json.loads(json.dumps(m.fit_info_))
    assert (info["initial_max_epochs"], info["max_epochs"], info["extended"]) == (4, 8, 2)
    assert info["epochs_run"] == 8 and info["stopped"] == "cap" and info["under_trained"]
    assert info["n_scores"] == len(m.history_.val_scores) == 8 and info["best_epoch"] == m.history_.best_epoch
    assert type(m).load(m.save(tmp_path / "m")).fit_info_ == m.fit_info_
    ref = build("vaeac", **{**TINY, "epochs": 4}, mode="reference", random_state=0).fit(obs, schema)
    assert ref.fit_info_["extended"] == 0 and ref.fit_info_["max_epochs"] == 4  # the authors' schedule as is


def test_checkpoint_resume_equals_an_uninterrupted_fit(tmp_path, monkeypatch):
    from vaeac_bench.methods.vaeac import training

    _, obs, schema = mixed_data(80)
    kw = {**TINY, "epochs": 4, "validate_every": 1, "max_extensions": 0, "random_state": 0}
    straight = build("vaeac", **kw).fit(obs, schema)
    real_loop = training.fit_loop

    def crash_after_two(step, **loop_kw):
        def step2(epoch):
            if epoch == 3:
                raise KeyboardInterrupt
            return step(epoch)
        return real_loop(step2, **loop_kw)

    ck = tmp_path / "vaeac.pt"
    monkeypatch.setattr(training, "fit_loop", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        build("vaeac", **kw, checkpoint=str(ck)).fit(obs, schema)
    monkeypatch.setattr(training, "fit_loop", real_loop)
    resumed = build("vaeac", **kw, checkpoint=str(ck)).fit(obs, schema)
    assert resumed.history_.val_scores == straight.history_.val_scores
    np.testing.assert_array_equal(resumed.impute(obs, 3), straight.impute(obs, 3))
    assert "checkpoint" not in resumed.config()["params"]  # a path does not change results


def test_prior_and_proposal_are_the_shared_residual_mlp():
    from vaeac_bench.nn import ResidualMLP

    _, obs, schema = mixed_data(40)
    m = build("vaeac", **{**TINY, "epochs": 1}, random_state=0).fit(obs, schema)
    assert isinstance(m.model_.nets.prior, ResidualMLP) and isinstance(m.model_.nets.proposal, ResidualMLP)
