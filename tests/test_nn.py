"""Shared torch blocks: layout, one-hot encoding, masked mixed likelihood, seeded initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaeac_bench.encoding import one_hot as np_one_hot
from vaeac_bench.nn import (
    FeatureLayout,
    SplitLinear,
    build_seeded,
    categorical_log_probs,
    kl_normal,
    log_normal,
    log_prob,
    normal_gamma_regulariser,
    observed_input,
    one_hot,
    sample,
)
from vaeac_bench.schema import Schema

SCHEMA = Schema.from_kinds(["a", "c3", "b", "c2"], [0, 3, 0, 2])
X = np.array([[0.5, 2.0, -1.0, 1.0],
              [np.nan, 0.0, 2.0, np.nan],
              [1.5, np.nan, np.nan, 0.0]])


def test_layout_widths_and_indices():
    lay = FeatureLayout.from_schema(SCHEMA)
    assert lay.in_width == 1 + 3 + 1 + 2
    assert lay.out_width == 2 + 5  # σ fixed: one mean per real column
    assert FeatureLayout.from_schema(SCHEMA, learn_sigma=True).out_width == 4 + 5
    assert lay.real_idx.tolist() == [0, 2] and lay.cat_idx.tolist() == [1, 3] and lay.max_k == 3


def test_torch_one_hot_matches_numpy_encoding():
    lt = FeatureLayout.from_schema(SCHEMA).tensors()
    got = one_hot(torch.tensor(X, dtype=torch.float32), lt).numpy()
    np.testing.assert_allclose(got, np_one_hot(X, SCHEMA), atol=0)


def test_observed_input_hides_unobserved_cells_and_appends_mask():
    lt = FeatureLayout.from_schema(SCHEMA).tensors()
    x = torch.tensor(X[:1], dtype=torch.float32)
    b = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    enc = observed_input(one_hot(x, lt), b, lt)
    # a: 0.5 | c3 hidden -> all zeros | b: -1 | c2 = level 1 | mask
    assert enc.tolist() == [[0.5, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]]


def test_log_prob_matches_hand_computation_and_skips_unscored_cells():
    lay = FeatureLayout.from_schema(SCHEMA)
    lt = lay.tensors()
    params = torch.tensor([[0.1, -0.3, 1.0, 2.0, 0.5, 0.0, 3.0]])
    x = torch.tensor([[0.5, 2.0, -1.0, 1.0]])
    w = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    got = float(log_prob(params, x, w, lt))
    gauss = -0.5 * math.log(2 * math.pi) - 0.5 * (0.5 - 0.1) ** 2
    p3 = torch.softmax(torch.tensor([1.0, 2.0, 0.5]), 0)[2].item()
    p2 = torch.softmax(torch.tensor([0.0, 3.0]), 0)[1].item()
    assert got == pytest.approx(gauss + math.log(p3) + math.log(p2), rel=1e-5)
    # a NaN in an unscored cell does not leak into the sum
    x2 = x.clone()
    x2[0, 2] = float("nan")
    assert float(log_prob(params, x2, w, lt)) == pytest.approx(got)


def test_categorical_probabilities_are_clamped_at_1e_minus_4():
    lt = FeatureLayout.from_schema(Schema.from_kinds(["c"], [3])).tensors()
    logp = categorical_log_probs(torch.tensor([[100.0, 0.0, -100.0]]), lt)
    p = logp.exp()[0, 0]
    assert float(p.sum()) == pytest.approx(1.0)
    assert float(p.min()) == pytest.approx(1e-4 / (1 + 2e-4), rel=1e-3)


def test_sample_most_probable_gives_means_and_argmax():
    lt = FeatureLayout.from_schema(SCHEMA).tensors()
    params = torch.tensor([[0.1, -0.3, 1.0, 2.0, 0.5, 0.0, 3.0]])
    assert sample(params, lt).tolist() == [[pytest.approx(0.1), 1.0, pytest.approx(-0.3), 1.0]]
    g = torch.Generator().manual_seed(0)
    draws = sample(params.expand(2000, -1), lt, most_probable=False, generator=g)
    assert abs(float(draws[:, 0].mean()) - 0.1) < 0.1 and 0.8 < float(draws[:, 0].std()) < 1.2  # σ = 1
    assert set(draws[:, 1].unique().tolist()) <= {0.0, 1.0, 2.0}


def test_split_linear_equals_linear_on_concatenation_with_same_init():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    lin = build_seeded(lambda: torch.nn.Linear(5 + 4, 3), g1)
    spl = build_seeded(lambda: SplitLinear(5, 4, 3), g2)
    np.testing.assert_array_equal(lin.weight.detach().numpy(),
                                  torch.cat([spl.weight_a, spl.weight_b], 1).detach().numpy())
    a, b = torch.randn(7, 5), torch.randn(7, 4)
    torch.testing.assert_close(spl(a, b), lin(torch.cat([a, b], 1)))


def test_seeded_build_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    m1 = build_seeded(lambda: torch.nn.Linear(8, 8), torch.Generator().manual_seed(0))
    assert torch.equal(torch.rand(3), expected)
    m2 = build_seeded(lambda: torch.nn.Linear(8, 8), torch.Generator().manual_seed(0))
    assert torch.equal(m1.weight, m2.weight)


def test_gaussian_helpers():
    mu_q, s_q = torch.tensor([[0.3, -1.0]]), torch.tensor([[0.5, 2.0]])
    mu_p, s_p = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    q = torch.distributions.Normal(mu_q, s_q)
    p = torch.distributions.Normal(mu_p, s_p)
    torch.testing.assert_close(kl_normal(mu_q, s_q, mu_p, s_p), torch.distributions.kl_divergence(q, p).sum(-1))
    z = torch.tensor([[0.1, 0.2]])
    torch.testing.assert_close(log_normal(z, mu_q, s_q), q.log_prob(z).sum(-1))
    reg = normal_gamma_regulariser(torch.tensor([[1e4]]), torch.tensor([[1.0]]))
    assert float(reg) == pytest.approx(-0.5 - 1e-4)


def test_one_residual_mlp_for_vaeac_and_the_um():
    """Item 22: the UM's network and VAEAC's prior trunk are one class, seeded identically."""
    from vaeac_bench.methods.um import make_mlp
    from vaeac_bench.methods.vaeac.networks import ArchConfig, Trunk
    from vaeac_bench.nn import ResidualMLP, build_seeded

    um = build_seeded(lambda: make_mlp(7, 10, hidden=16, depth=3), torch.Generator().manual_seed(0))
    arch = ArchConfig(width=16, depth=3, latent_dim=5)
    prior = build_seeded(lambda: Trunk(7, arch), torch.Generator().manual_seed(0))
    assert type(um) is ResidualMLP and isinstance(prior, ResidualMLP)
    for (ka, a), (kb, b) in zip(um.state_dict().items(), prior.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)
    x = torch.randn(4, 7)
    assert torch.equal(um(x), prior(x)[0])
