"""IS-S / MC-S (eqs. 17-18) on models with a known answer, and the exact naive Bayes NLL against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from vaeac_bench.image_nll import is_nll, mc_nll
from vaeac_bench.methods.naive_bayes import NaiveBayesImages
from vaeac_bench.nn.conv import BernoulliImageModel, ConvArch, ConvImageNetworks

H, W = 2, 3


class LinearGaussian:
    """z ~ N(0, 1); every pixel x_i | z ~ N(z, s²). The proposal is the exact posterior of z given x_b."""

    def __init__(self, s: float = 0.7):
        self.s = s

    def prior(self, x: torch.Tensor, b: torch.Tensor):
        n = x.shape[0]
        return torch.zeros(n, 1), torch.ones(n, 1), None

    def proposal(self, x: torch.Tensor, b: torch.Tensor):
        k = b.flatten(1).sum(1, keepdim=True)
        prec = 1.0 + k / self.s ** 2
        mean = (x * b).flatten(1).sum(1, keepdim=True) / self.s ** 2 / prec
        return mean, prec.rsqrt()

    def decode(self, z: torch.Tensor, ctx: object) -> torch.Tensor:
        return z[..., None, None].expand(*z.shape[:-1], 1, H, W)

    def log_likelihood(self, mean: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        lp = -0.5 * math.log(2 * math.pi) - math.log(self.s) - 0.5 * ((x - mean) / self.s) ** 2
        return (lp * b).flatten(-3).sum(-1)

    def exact(self, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = []
        for xi, bi in zip(x.reshape(len(x), -1), b.reshape(len(b), -1).astype(bool), strict=True):
            k = int(bi.sum())
            cov = self.s ** 2 * np.eye(k) + np.ones((k, k))
            out.append(-multivariate_normal(np.zeros(k), cov).logpdf(xi[bi]) if k else 0.0)
        return np.array(out)


class LatentBernoulli:
    """z ~ N(0, 1); pixel logits a_i z + c_i; the proposal N(0.3, 0.8²) is deliberately not the posterior."""

    def __init__(self, seed: int = 0):
        g = np.random.default_rng(seed)
        self.a = torch.tensor(g.normal(0, 2, size=(1, H, W)), dtype=torch.float32)
        self.c = torch.tensor(g.normal(0, 1, size=(1, H, W)), dtype=torch.float32)

    def prior(self, x: torch.Tensor, b: torch.Tensor):
        n = x.shape[0]
        return torch.zeros(n, 1), torch.ones(n, 1), None

    def proposal(self, x: torch.Tensor, b: torch.Tensor):
        n = x.shape[0]
        return torch.full((n, 1), 0.3), torch.full((n, 1), 0.8)

    def decode(self, z: torch.Tensor, ctx: object) -> torch.Tensor:
        return z[..., None, None] * self.a + self.c

    log_likelihood = staticmethod(BernoulliImageModel.log_likelihood)

    def exact(self, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        nodes, weights = np.polynomial.hermite_e.hermegauss(120)  # ∫ f(z) e^{-z²/2} dz
        logits = nodes[:, None, None, None] * self.a.numpy() + self.c.numpy()  # (Q, 1, H, W)
        out = []
        for xi, bi in zip(x, b, strict=True):
            ll = -np.logaddexp(0, -np.where(xi > 0.5, logits, -logits))  # log sigmoid(±logit)
            per_node = (ll * bi).reshape(len(nodes), -1).sum(1)
            out.append(-(np.log(np.sum(weights * np.exp(per_node))) - 0.5 * np.log(2 * np.pi)))
        return np.array(out)


def gaussian_case(n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(1)
    x = g.normal(size=(n, 1, H, W)).astype(np.float32)
    b = g.random((n, H, W)) < 0.6
    b[0] = True
    return x, b


def test_is_with_the_exact_posterior_is_exact_for_any_sample_count() -> None:
    model = LinearGaussian()
    x, b = gaussian_case()
    want = model.exact(x, b[:, None])
    for s, chunk in ((1, 100), (10, 3)):
        got = is_nll(model, x, b, n_samples=s, sample_chunk=chunk, generator=torch.Generator().manual_seed(0))
        np.testing.assert_allclose(got, want, atol=2e-4)


def test_mc_converges_to_the_exact_gaussian_likelihood() -> None:
    model = LinearGaussian(s=1.5)
    x, b = gaussian_case()
    got = mc_nll(model, x, b, n_samples=20000, sample_chunk=4096, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(got, model.exact(x, b[:, None]), atol=0.03)


def test_is_and_mc_on_a_bernoulli_model_match_quadrature() -> None:
    model = LatentBernoulli()
    g = np.random.default_rng(2)
    x = (g.random((6, 1, H, W)) < 0.5).astype(np.float32)
    b = g.random((6, 1, H, W)) < 0.7
    want = model.exact(x, b)
    gen = torch.Generator().manual_seed(2)
    np.testing.assert_allclose(is_nll(model, x, b, 20000, generator=gen, batch_size=4), want, atol=0.03)
    np.testing.assert_allclose(mc_nll(model, x, b, 20000, generator=gen, batch_size=4), want, atol=0.03)
    # few samples: the MC estimate is an upper bound on the NLL in expectation (Jensen), never far below it
    few = np.mean([mc_nll(model, x, b, 2, generator=gen) for _ in range(200)], axis=0)
    assert (few > want - 0.02).all()


def test_conv_model_scores_nothing_when_nothing_is_hidden_and_restores_train_mode() -> None:
    nets = ConvImageNetworks(28, 28, ConvArch(16, (4, 8), blocks=1), generator=torch.Generator().manual_seed(0))
    model = BernoulliImageModel(nets).train()
    x = (torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    zero = np.zeros((3, 28, 28), bool)
    np.testing.assert_allclose(mc_nll(model, x, zero, 4), 0.0, atol=1e-12)  # log (1/S) Σ 1 = 0
    assert np.isfinite(is_nll(model, x, zero, 4)).all()
    full = np.ones((3, 28, 28), bool)
    nll = mc_nll(model, x, full, 4)
    assert nll.shape == (3,) and np.isfinite(nll).all() and (nll > 0).all()
    assert model.training
    gsnn = BernoulliImageModel(ConvImageNetworks(28, 28, ConvArch(16, (4, 8), with_proposal=False)))
    with pytest.raises(RuntimeError, match="MC estimator"):
        is_nll(gsnn, x, full, 2)


def test_estimator_arguments_are_checked() -> None:
    model = LinearGaussian()
    x, b = gaussian_case()
    with pytest.raises(ValueError, match="n_samples"):
        is_nll(model, x, b, 0)
    with pytest.raises(ValueError, match="same images"):
        mc_nll(model, x, b[:2], 3)


def test_naive_bayes_exact_nll_matches_a_hand_computation() -> None:
    train = np.array([[[1, 0], [0, 0]], [[1, 1], [0, 0]], [[1, 0], [0, 1]]], dtype=np.float32)[:, None]
    nb = NaiveBayesImages().fit(train)
    p = np.array([[4, 2], [1, 2]]) / 5  # (ones + 1) / (3 + 2)
    np.testing.assert_allclose(nb.pixel_prob_[0], p)
    x = np.array([[[0, 1], [1, 0]]], dtype=np.float32)[:, None]
    mask = np.array([[[True, False], [True, True]]])
    want = -(np.log(1 - 0.8) + np.log(0.2) + np.log(1 - 0.4))  # pixels (0,0)=0, (1,0)=1, (1,1)=0
    np.testing.assert_allclose(nb.nll(x, mask), [want])
    draws = nb.sample(np.repeat(x, 2, 0), np.repeat(mask, 2, 0), 4000, np.random.default_rng(0))
    assert draws.shape == (4000, 2, 1, 2, 2)
    assert (draws[:, :, 0, 0, 1] == 1).all()  # observed pixel kept
    np.testing.assert_allclose(draws[:, :, 0, 1, 0].mean(), 0.2, atol=0.02)


def test_naive_bayes_refuses_bad_input() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        NaiveBayesImages().nll(np.zeros((1, 1, 2, 2)), np.ones((1, 2, 2), bool))
    with pytest.raises(ValueError, match="binary"):
        NaiveBayesImages().fit(np.full((2, 1, 2, 2), 0.5))
    with pytest.raises(ValueError, match="alpha"):
        NaiveBayesImages(alpha=0).fit(np.zeros((2, 1, 2, 2)))
