"""The mixture output family (nn/mixture.py): K complete rows per latent draw, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaeac_bench.nn import FeatureLayout, log_prob
from vaeac_bench.nn.mixture import (
    MixtureLayout,
    mixture_log_prob,
    mixture_sample,
    sigma_positions,
)
from vaeac_bench.schema import Schema

SCHEMA = Schema.from_kinds(["x", "c"], [0, 2])  # one real column, one binary categorical


def _normal_logpdf(x: float, mu: float, sigma: float) -> float:
    return -0.5 * math.log(2 * math.pi) - math.log(sigma) - 0.5 * ((x - mu) / sigma) ** 2


def _softplus_inv(s: float) -> float:
    return s + math.log(-math.expm1(-s))


def _two_components(w1: float = 0.3) -> torch.Tensor:
    """One row: component 1 = (x ~ N(-2, 0.5²), c = 0 w.p. 0.9), component 2 = (N(8, 1), c = 1 w.p. 0.8)."""
    logits = [math.log(w1), math.log(1 - w1)]
    comp1 = [-2.0, _softplus_inv(0.5), math.log(0.9), math.log(0.1)]
    comp2 = [8.0, _softplus_inv(1.0), math.log(0.2), math.log(0.8)]
    return torch.tensor([logits + comp1 + comp2], dtype=torch.float64)


def test_layout_widths_and_sigma_positions():
    lay = MixtureLayout.from_schema(SCHEMA, n_components=2)
    assert lay.component_width == 1 + 1 + 2 and lay.out_width == 2 * (1 + 4)
    np.testing.assert_array_equal(sigma_positions(lay), [3, 7])  # after the 2 logits: (μ, raw σ, 2 logits) × 2
    np.testing.assert_array_equal(sigma_positions(FeatureLayout.from_schema(SCHEMA, learn_sigma=True)), [1])
    assert sigma_positions(FeatureLayout.from_schema(SCHEMA)).size == 0


def test_layout_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        MixtureLayout.from_schema(SCHEMA, n_components=0)
    base = FeatureLayout.from_schema(SCHEMA)
    with pytest.raises(ValueError, match="learn_sigma=True"):
        MixtureLayout(base.n_features, base.real_idx, base.cat_idx, base.cat_sizes, base.src_col, base.level, False, 2)


def test_log_prob_matches_the_hand_computed_mixture():
    lay = MixtureLayout.from_schema(SCHEMA, n_components=2)
    params = _two_components()
    x = torch.tensor([[0.5, 1.0]], dtype=torch.float64)
    got = float(mixture_log_prob(params, x, torch.ones_like(x), lay.tensors()))
    want = math.log(0.3 * math.exp(_normal_logpdf(0.5, -2, 0.5)) * 0.1
                    + 0.7 * math.exp(_normal_logpdf(0.5, 8, 1)) * 0.8)
    assert got == pytest.approx(want, rel=1e-6)
    # a masked (weight 0) cell is marginalised out: only x is scored, and NaN there is harmless
    x2 = torch.tensor([[0.5, float("nan")]], dtype=torch.float64)
    got = float(mixture_log_prob(params, x2, torch.tensor([[1.0, 0.0]], dtype=torch.float64), lay.tensors()))
    want = math.log(0.3 * math.exp(_normal_logpdf(0.5, -2, 0.5)) + 0.7 * math.exp(_normal_logpdf(0.5, 8, 1)))
    assert got == pytest.approx(want, rel=1e-6)


def test_one_component_is_the_papers_family_with_a_learnt_sigma():
    gauss = FeatureLayout.from_schema(SCHEMA, learn_sigma=True)
    mix = MixtureLayout.from_schema(SCHEMA, n_components=1)
    g = torch.Generator().manual_seed(0)
    params = torch.randn(3, 5, gauss.out_width, generator=g)
    x = torch.tensor([[0.1, 1.0], [2.0, 0.0], [-1.0, 1.0], [0.0, float("nan")], [1.5, 0.0]])
    w = (~torch.isnan(x)).float()
    with_logit = torch.cat([torch.zeros(3, 5, 1), params], dim=-1)
    torch.testing.assert_close(mixture_log_prob(with_logit, x, w, mix.tensors()),
                               log_prob(params, x, w, gauss.tensors()))
    from vaeac_bench.nn import sample

    torch.testing.assert_close(mixture_sample(with_logit, mix.tensors()), sample(params, gauss.tensors()))


def test_draws_follow_the_weights_and_keep_the_columns_coupled():
    lay = MixtureLayout.from_schema(SCHEMA, n_components=2)
    n = 20000
    params = _two_components(0.3).expand(n, -1).float()
    d = mixture_sample(params, lay.tensors(), most_probable=False, generator=torch.Generator().manual_seed(1))
    first = d[:, 0] < 3.0  # component 1 sits at -2 (sd 0.5), component 2 at +8 (sd 1): 10 and 5 sd apart
    se = math.sqrt(0.3 * 0.7 / n)
    assert abs(float(first.float().mean()) - 0.3) < 4 * se
    # within a component the category follows that component: the row is drawn whole, not column by column
    assert abs(float((d[first, 1] == 0).float().mean()) - 0.9) < 0.02
    assert abs(float((d[~first, 1] == 1).float().mean()) - 0.8) < 0.02
    assert abs(float(d[first, 0].std()) - 0.5) < 0.03 and abs(float(d[~first, 0].std()) - 1.0) < 0.03


def test_most_probable_is_the_mixture_mean_and_the_marginal_mode():
    lay = MixtureLayout.from_schema(SCHEMA, n_components=2)
    d = mixture_sample(_two_components(0.3), lay.tensors())
    assert float(d[0, 0]) == pytest.approx(0.3 * -2 + 0.7 * 8)
    assert float(d[0, 1]) == 1.0  # P(c = 1) = 0.3 · 0.1 + 0.7 · 0.8 = 0.59
    d = mixture_sample(_two_components(0.8), lay.tensors())
    assert float(d[0, 1]) == 0.0  # P(c = 0) = 0.8 · 0.9 + 0.2 · 0.2 = 0.76


def test_the_model_finds_the_family_on_the_layout_and_the_papers_layout_has_none():
    from vaeac_bench.methods.vaeac.model import VAEACModel

    assert not hasattr(FeatureLayout.from_schema(SCHEMA), "log_prob")  # the paper's functions (nn/likelihood.py)
    lay = MixtureLayout.from_schema(SCHEMA, n_components=2)
    model = VAEACModel(lay)
    params = _two_components().float()
    x = torch.tensor([[0.5, 1.0]])
    torch.testing.assert_close(model.rec_log_prob(params, x, torch.ones_like(x)),
                               mixture_log_prob(params, x, torch.ones_like(x), lay.tensors()))


def test_a_mixture_vaeac_trains_and_its_nll_estimators_run():
    from vaeac_bench.product import ProductVAEAC

    rng = np.random.default_rng(0)
    X = np.c_[rng.integers(0, 2, 200).astype(float), rng.normal(size=200)]
    X[rng.random(X.shape) < 0.2] = np.nan
    m = ProductVAEAC(n_components=3, sigma_max=None, width=16, depth=1, latent_dim=4, epochs=2,
                     random_state=0).fit(X, Schema.from_kinds(["c", "x"], [2, 0]))
    assert isinstance(m.model_.layout, MixtureLayout) and m.model_.layout.n_components == 3
    b = np.zeros(X.shape, dtype=bool)
    b[:, 1] = True
    for est in ("iwae", "mc"):
        assert np.isfinite(m.log_likelihood(np.nan_to_num(X), b, n_samples=4, estimator=est)).all()
    draws = m.impute(X, 3)
    assert draws.shape == (3, *X.shape) and np.isfinite(draws).all()
