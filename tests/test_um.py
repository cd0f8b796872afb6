"""Universal Marginalizer: masks (B.3), chain rule (11), the imputer via registry/direct/save-load, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import assert_saved_without_pickles
from vaeac_bench.methods import Imputer, build, params_for
from vaeac_bench.methods import um as um_module
from vaeac_bench.methods.um import (
    NETWORKS,
    UniversalMarginalizer,
    chain_rule_log_likelihood,
    register_network,
    sequential_sample,
    training_mask,
    um_input,
    um_objective,
)
from vaeac_bench.nn import FeatureLayout, ResidualMLP
from vaeac_bench.schema import Schema

torch.set_num_threads(1)
FAST = {"hidden": 16, "depth": 1, "epochs": 3}


def mixed_data(n: int = 120, seed: int = 0, rate: float = 0.3) -> tuple[np.ndarray, np.ndarray, Schema]:
    """Two correlated real columns and a 3-level categorical that depends on them; MCAR holes."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n)
    X = np.column_stack([t + 0.2 * rng.normal(size=n), 3 * t + 10 + 0.3 * rng.normal(size=n),
                         np.digitize(t, [-0.5, 0.5])])
    schema = Schema.from_kinds(["a", "b", "k"], [0, 0, 3])
    return X, np.where(rng.random(X.shape) < rate, np.nan, X), schema


@pytest.fixture(scope="module")
def data():
    return mixed_data()


def missing_differs(a: np.ndarray, b: np.ndarray, X: np.ndarray) -> bool:
    hole = np.isnan(X)
    return not np.array_equal(a[..., hole], b[..., hole])


# --- training masks (B.3) ------------------------------------------------------------------------------------
def test_naive_masks_are_missing_plus_mcar():
    gen = torch.Generator().manual_seed(0)
    unknown = torch.rand(20000, 6, generator=gen) < 0.1
    b = training_mask(unknown, 0.2, "naive", gen)
    assert torch.all(b[unknown] == 1)
    assert abs(b[~unknown].mean().item() - 0.2) < 0.01


def test_fixed_masks_cover_every_number_of_unobserved_features():
    gen = torch.Generator().manual_seed(0)
    d = 6
    none_missing = torch.zeros(30000, d, dtype=torch.bool)
    naive = training_mask(none_missing, 1.0, "naive", gen).sum(1)
    assert torch.all(naive == d)  # B.3's failure case: p(b) with a fixed count only ever shows d
    fixed = training_mask(none_missing, 1.0, "fixed", gen).sum(1)
    counts = torch.bincount(fixed.long(), minlength=d + 1).float() / len(fixed)
    # b = b0 * b1, b1 ~ Bernoulli(u)^d with u ~ U[0,1]: every count 0..d is equally likely (1/(d+1))
    assert torch.all((counts - 1 / (d + 1)).abs() < 0.01), counts
    unknown = torch.rand(30000, d, generator=gen) < 0.3
    b = training_mask(unknown, 0.2, "fixed", gen)
    assert torch.all(b[unknown] == 1)  # a truly missing cell has no value to show
    assert abs(b[~unknown].mean().item() - 0.1) < 0.01  # MCAR(0.2) thinned by E[u] = 0.5


# --- chain rule and sequential sampling with a known network ---------------------------------------------------
class ConditionalMean(nn.Module):
    """Stub UM for 2 real features: mean of each unobserved feature = the other one's observed value (else 0)."""

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x0, x1 = inp[:, 0], inp[:, 1]  # one-hot input: observed values, 0 where unobserved
        mu = torch.stack([x1, x0], dim=1)
        raw = torch.full_like(mu, math.log(math.e - 1))  # softplus(raw) = 1
        return torch.cat([mu, raw], dim=1)  # layout: means, then raw sigmas


def normal_logpdf(x: float, mu: float) -> float:
    return -0.5 * math.log(2 * math.pi) - 0.5 * (x - mu) ** 2


def test_chain_rule_log_likelihood_follows_eq_11():
    lt = FeatureLayout.from_schema(Schema.from_kinds(["u", "v"], [0, 0]), learn_sigma=True).tensors()
    x = torch.tensor([[0.3, 1.7]] * 200)
    both = torch.ones(200, 2)
    ll = chain_rule_log_likelihood(ConditionalMean(), lt, x, both, torch.Generator().manual_seed(0))
    first_u = normal_logpdf(0.3, 0.0) + normal_logpdf(1.7, 0.3)
    first_v = normal_logpdf(1.7, 0.0) + normal_logpdf(0.3, 1.7)
    hits_u = torch.isclose(ll, torch.tensor(first_u), atol=1e-5)
    hits_v = torch.isclose(ll, torch.tensor(first_v), atol=1e-5)
    assert torch.all(hits_u | hits_v) and 60 < hits_u.sum() < 140  # a uniformly random permutation per row
    one = torch.tensor([[0.0, 1.0]] * 3)  # only v unobserved: a single conditional
    ll1 = chain_rule_log_likelihood(ConditionalMean(), lt, x[:3], one)
    assert torch.allclose(ll1, torch.tensor(normal_logpdf(1.7, 0.3)), atol=1e-5)
    nan_x = x[:3].clone()
    nan_x[:, 0] = float("nan")  # an unknown unobserved value is marginalised, never conditioned on
    ll2 = chain_rule_log_likelihood(ConditionalMean(), lt, nan_x, both[:3])
    assert torch.allclose(ll2, torch.tensor(normal_logpdf(1.7, 0.0)), atol=1e-5)


def test_sequential_sampling_conditions_on_earlier_draws():
    lt = FeatureLayout.from_schema(Schema.from_kinds(["u", "v"], [0, 0]), learn_sigma=True).tensors()
    x = torch.full((500, 2), float("nan"))
    x[:250, 0] = 2.0  # rows 0..249 observe u; the rest observe nothing
    b = torch.isnan(x).float()
    out = sequential_sample(ConditionalMean(), lt, x, b, torch.Generator().manual_seed(0), most_probable=True)
    assert torch.all(out[:250, 0] == 2.0) and torch.allclose(out[:250, 1], torch.tensor(2.0))
    assert torch.all(out[250:] == 0.0)  # first draw from the marginal (0), the second copies it
    drawn = sequential_sample(ConditionalMean(), lt, x[250:], b[250:], torch.Generator().manual_seed(0))
    # sampling: the second feature is centred on the first draw, so the pair is strongly correlated
    corr = np.corrcoef(drawn[:, 0].numpy(), drawn[:, 1].numpy())[0, 1]
    assert 0.5 < corr < 0.9  # theoretical value 1/sqrt(2) for x ~ N(0,1), y | x ~ N(x, 1)


def test_objective_10_counts_only_unobserved_known_cells():
    lt = FeatureLayout.from_schema(Schema.from_kinds(["u", "v"], [0, 0]), learn_sigma=True).tensors()
    x = torch.tensor([[0.3, 1.7], [0.3, float("nan")]])
    b = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    obj = um_objective(ConditionalMean(), lt, x, b)
    assert obj[0].item() == pytest.approx(normal_logpdf(1.7, 0.3), abs=1e-5)
    assert obj[1].item() == pytest.approx(normal_logpdf(0.3, 0.0), abs=1e-5)


def test_um_input_is_one_hot_of_observed_cells_plus_mask():
    lt = FeatureLayout.from_schema(Schema.from_kinds(["r", "k"], [0, 3])).tensors()
    x = torch.tensor([[1.5, 2.0], [1.5, 2.0], [float("nan"), 1.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert um_input(x, b, lt).tolist() == [[1.5, 0, 0, 1, 0, 0], [1.5, 0, 0, 0, 0, 1], [0, 0, 1, 0, 1, 0]]


# --- the fix matters (B.3) --------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [1.0, 0.8])
def test_fixed_masks_give_a_clearly_better_chain_rule_likelihood(rate):
    """Strongly dependent features: the naive UM never sees the masks the chain rule asks for."""
    rng = np.random.default_rng(0)
    n, d = 1200, 6
    X = rng.normal(size=(n, 1)) + 0.1 * rng.normal(size=(n, d))
    schema = Schema.from_kinds([f"x{i}" for i in range(d)], [0] * d)
    test_b = np.random.default_rng(1).random((200, d)) < rate  # test masks from the same p(b)
    ll = {}
    for mode in ("naive", "fixed"):
        um = UniversalMarginalizer(mask_training=mode, missing_rate=rate, hidden=64, depth=2, epochs=30,
                                   random_state=0).fit(X[:1000], schema)
        ll[mode] = um.log_likelihood(X[1000:], test_b).mean()
    assert ll["fixed"] > ll["naive"] + 1.5, ll


# --- the imputer -----------------------------------------------------------------------------------------
def test_registry_entries():
    assert params_for("um") == {"mask_training": "fixed", "missing_rate": 0.2, "sampling": "most_probable"}
    assert params_for("um-naive")["mask_training"] == "naive"
    assert build("um", quick=True).epochs == 5


@pytest.mark.parametrize("name", ["um", "um-naive"])
def test_registry_build_fits_and_imputes(name, data):
    X, Xo, schema = data
    m = build(name, quick=True, hidden=16, depth=1, random_state=0).fit(Xo, schema)
    imp = m.impute(Xo, n=10)
    assert imp.shape == (10, *X.shape)
    obs = ~np.isnan(Xo)
    assert np.array_equal(imp[:, obs], np.broadcast_to(Xo[obs], (10, obs.sum())))
    k = imp[:, :, 2]
    assert np.all(k == np.round(k)) and k.min() >= 0 and k.max() <= 2
    assert np.isfinite(imp).all()


def test_sampling_modes(data):
    _, Xo, schema = data
    m = UniversalMarginalizer(random_state=0, **FAST).fit(Xo, schema)
    drawn = m.impute(Xo, n=4)
    assert missing_differs(drawn[0], drawn[1], Xo)
    m.set_params(sampling="most_probable")
    modes = m.impute(Xo, n=4)
    one_missing = np.isnan(Xo).sum(1) == 1  # a single unobserved feature: the permutation cannot matter
    assert np.array_equal(modes[0][one_missing], modes[1][one_missing])
    assert missing_differs(modes[0], drawn[0], Xo)


@pytest.mark.parametrize("mode", ["fixed", "naive"])
def test_same_seed_same_imputations_and_save_load(mode, data, tmp_path):
    _, Xo, schema = data
    a = UniversalMarginalizer(mask_training=mode, random_state=5, **FAST).fit(Xo, schema)
    b = UniversalMarginalizer(mask_training=mode, random_state=5, **FAST).fit(Xo, schema)
    c = UniversalMarginalizer(mask_training=mode, random_state=6, **FAST).fit(Xo, schema)
    ia = a.impute(Xo, n=3)
    assert np.array_equal(ia, b.impute(Xo, n=3))
    assert missing_differs(ia, c.impute(Xo, n=3), Xo)
    a.save(tmp_path / "m")
    loaded = Imputer.load(tmp_path / "m")
    assert isinstance(loaded, UniversalMarginalizer) and loaded.get_params() == a.get_params()
    assert np.array_equal(loaded.impute(Xo, n=3), ia)
    assert np.array_equal(loaded.log_likelihood(mixed_data()[0], np.isnan(Xo)), a.log_likelihood(mixed_data()[0],
                                                                                                  np.isnan(Xo)))
    assert_saved_without_pickles(tmp_path / "m")


def test_fit_does_not_touch_the_global_torch_rng(data):
    _, Xo, schema = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    UniversalMarginalizer(random_state=0, **FAST).fit(Xo, schema).impute(Xo, 2)
    assert torch.equal(torch.rand(3), expected)


def test_log_likelihood_is_in_data_units(data):
    X, Xo, schema = data
    scaled = X.copy()
    scaled[:, :2] *= 2.0  # exact in floating point: the standardised data are identical
    mask = np.isnan(Xo)
    a = UniversalMarginalizer(random_state=0, **FAST).fit(Xo, schema)
    b = UniversalMarginalizer(random_state=0, **FAST).fit(np.where(mask, np.nan, scaled), schema)
    n_real = mask[:, :2].sum(1)
    np.testing.assert_allclose(b.log_likelihood(scaled, mask), a.log_likelihood(X, mask) - n_real * np.log(2.0),
                               rtol=1e-5, atol=1e-4)


def tiny_net(n_in: int, n_out: int, width: int = 8) -> nn.Module:
    """A custom UM network factory (the image issue plugs a conv net in the same way)."""
    return nn.Sequential(nn.Linear(n_in, width), nn.Tanh(), nn.Linear(width, n_out))


@pytest.fixture(autouse=True)
def _tiny_registered(monkeypatch):
    """``network="tiny"`` for these tests only (registered by name, as a user would)."""
    monkeypatch.setattr(um_module, "NETWORKS", dict(um_module.NETWORKS))
    register_network("tiny", tiny_net)


@pytest.mark.parametrize("param,value", [
    ("mask_training", "naive"), ("missing_rate", 0.6), ("hidden", 24), ("depth", 2), ("epochs", 2),
    ("batch_size", 16), ("learning_rate", 1e-2), ("validation_fraction", 0.3), ("learn_sigma", False),
    ("sampling", "most_probable"), ("network", "tiny"), ("network_kwargs", {"hidden": 12}),
    ("impute_batch", 50), ("random_state", 1),
])
def test_each_hyper_parameter_changes_the_result(param, value, data):
    _, Xo, schema = data
    kw = {"random_state": 0, "validation_fraction": 0.0, **FAST}  # no checkpoint choice hides a change
    base = UniversalMarginalizer(**kw).fit(Xo, schema)
    other = UniversalMarginalizer(**{**kw, param: value}).fit(Xo, schema)
    assert missing_differs(base.impute(Xo, 2), other.impute(Xo, 2), Xo), f"{param}={value} had no effect"


def test_structure_follows_hyper_parameters(data):
    _, Xo, schema = data
    m = UniversalMarginalizer(hidden=24, depth=3, epochs=None, steps=40, batch_size=16, random_state=0).fit(Xo, schema)
    net = m.net_.net
    assert isinstance(net, ResidualMLP) and len(net.layers) == 3 and net.inp.out_features == 24
    assert net.inp.in_features == (1 + 1 + 3) + 3  # one-hot data + mask
    assert net.head.out_features == 2 + 2 + 3  # means, learnt sigmas, logits
    assert m.epochs_ == 20  # ceil(40 steps / 6 batches) = 7, raised to the minimum of 20 epochs
    assert len(m.history_) == 20 and 1 <= m.best_epoch_ <= 20
    m = UniversalMarginalizer(learn_sigma=False, network="tiny", network_kwargs={"width": 5},
                              epochs=1, random_state=0).fit(Xo, schema)
    assert m.net_.net[0].out_features == 5 and m.net_.net[2].out_features == 2 + 3


def test_values_outside_the_training_range_cannot_blow_up_sequential_sampling():
    rng = np.random.default_rng(0)
    n = 300
    t = rng.normal(size=n)
    X = np.column_stack([t, t + 0.1 * rng.normal(size=n), t + 0.1 * rng.normal(size=n), np.zeros(n)])
    schema = Schema.from_kinds(["a", "b", "c", "const"], [0, 0, 0, 0])
    Xo = np.where(rng.random(X.shape) < 0.3, np.nan, X)
    Xo[:, 3] = 0.0  # constant in training: standardised with the 1e-9 std floor
    m = UniversalMarginalizer(random_state=0, **FAST).fit(Xo, schema)
    test = Xo[:50].copy()
    test[:, 3] = 16.0  # would be 1.6e10 after standardisation
    test[:, 1] = np.nan
    imp = m.impute(test, n=3)
    assert np.abs(imp[:, :, :3]).max() < 10
    assert np.array_equal(m.net_.low[:3].numpy() <= 0, [True] * 3) and m.net_.low[3] == m.net_.high[3] == 0


# --- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,match", [
    ({"mask_training": "douglas"}, "'mask_training' parameter"),
    ({"missing_rate": 1.5}, "missing_rate"),
    ({"hidden": 0}, "hidden"),
    ({"depth": -1}, "depth"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 1.5}, "batch_size"),
    ({"learning_rate": -1}, "learning_rate"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"sampling": "greedy"}, "'sampling' parameter"),
    ({"network": "resnet"}, r"network must be a registered name, one of \['mlp', 'tiny'\]"),
    ({"network": "os:system"}, "network must be a registered name"),
    ({"network": "test_um:tiny_net"}, "network must be a registered name"),
    ({"patience": 0}, "patience"),
    ({"max_extensions": -1}, "max_extensions"),
    ({"network_kwargs": [1]}, "network_kwargs"),
])
def test_bad_hyper_parameters_are_named(kw, match, data):
    _, Xo, schema = data
    with pytest.raises(ValueError, match=match):
        UniversalMarginalizer(**kw).fit(Xo, schema)


def test_a_saved_model_naming_an_unregistered_network_is_refused(data, tmp_path):
    """A model folder from someone else must not make us import a module (issue 9 item 13)."""
    _, Xo, schema = data
    path = UniversalMarginalizer(epochs=1, hidden=8, depth=1, random_state=0).fit(Xo, schema).save(tmp_path / "um")
    meta = json.loads((path / "method.json").read_text())
    assert UniversalMarginalizer.load(path).network == "mlp"  # the honest folder loads
    meta["params"]["network"] = "os:system"
    (path / "method.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="network must be a registered name"):
        UniversalMarginalizer.load(path)


def test_register_network_refuses_clashes_and_import_strings():
    with pytest.raises(ValueError, match="new identifier"):
        register_network("mlp", tiny_net)
    with pytest.raises(ValueError, match="new identifier"):
        register_network("pkg.mod:f", tiny_net)
    assert um_module.NETWORKS["tiny"] is tiny_net and "tiny" not in NETWORKS  # the fixture restores the registry


def test_fit_info_is_json_and_survives_save_load(data, tmp_path):
    _, Xo, schema = data
    m = UniversalMarginalizer(epochs=3, hidden=8, depth=1, random_state=0).fit(Xo, schema)
    info = json.loads(json.dumps(m.fit_info_))
    assert info["epochs_run"] == 3 and info["max_epochs"] == 3 and info["stopped"] == "cap"
    assert info["n_scores"] == 3 and 1 <= info["best_epoch"] <= 3 and info["best_epoch"] == m.best_epoch_
    assert UniversalMarginalizer.load(m.save(tmp_path / "um")).fit_info_ == m.fit_info_


def test_checkpoint_resume_gives_the_uninterrupted_result(data, tmp_path):
    """A fit interrupted after epoch 2 and fitted again with the same checkpoint equals one straight fit."""
    _, Xo, schema = data
    kw = {"epochs": 4, "hidden": 8, "depth": 1, "random_state": 0}
    straight = UniversalMarginalizer(**kw).fit(Xo, schema)
    ck = tmp_path / "um.pt"
    stop_at = {"n": 0}
    orig = um_module.fit_loop

    def interrupted(step, **kwargs):
        def step2(epoch):
            if epoch == 3 and stop_at["n"] == 0:
                stop_at["n"] = 1
                raise KeyboardInterrupt
            return step(epoch)
        return orig(step2, **kwargs)

    um_module.fit_loop = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            UniversalMarginalizer(**kw, checkpoint=str(ck)).fit(Xo, schema)
        assert ck.is_file()
        resumed = UniversalMarginalizer(**kw, checkpoint=str(ck)).fit(Xo, schema)
    finally:
        um_module.fit_loop = orig
    assert resumed.history_ == straight.history_ and resumed.best_epoch_ == straight.best_epoch_
    np.testing.assert_array_equal(resumed.impute(Xo, 2), straight.impute(Xo, 2))


def test_bad_data_is_named(data):
    X, Xo, schema = data
    bad = Xo.copy()
    bad[:, 0] = np.nan
    with pytest.raises(ValueError, match="'a'.*no observed value"):
        UniversalMarginalizer(**FAST).fit(bad, schema)
    m = UniversalMarginalizer(**FAST).fit(Xo, schema)
    with pytest.raises(ValueError, match="mask has shape"):
        m.log_likelihood(X, np.ones((3, 3)))
    with pytest.raises(ValueError, match="categorical column 'k'"):
        m.log_likelihood(np.where(np.isnan(X), 0, X) + np.array([0, 0, 0.5]))
    with pytest.raises(RuntimeError, match="not fitted"):
        UniversalMarginalizer().log_likelihood(X)
