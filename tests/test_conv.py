"""Convolutional and FC image VAEAC networks: shapes, gradients, skips, what the prior sees, BatchNorm eval mode."""

from __future__ import annotations

import pytest
import torch

from vaeac_bench.nn.conv import (
    CONV_ARCHS,
    BernoulliImageModel,
    ConvArch,
    ConvImageNetworks,
    FCImageNetworks,
    stage_sizes,
)

TINY_105 = ConvArch(64, (4, 4, 8, 8, 8, 8), blocks=1)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def data(n: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = seeded(seed)
    x = (torch.rand(n, 1, h, w, generator=g) < 0.3).float()
    b = (torch.rand(n, 1, h, w, generator=g) < 0.5).float()
    return x, b


def models() -> list:
    return [
        pytest.param(BernoulliImageModel(ConvImageNetworks(28, 28, CONV_ARCHS["mnist"], generator=seeded())), 28,
                     id="conv28"),
        pytest.param(BernoulliImageModel(ConvImageNetworks(105, 105, TINY_105, generator=seeded())), 105,
                     id="conv105"),
        pytest.param(BernoulliImageModel(FCImageNetworks(28, 28, 16, 64, generator=seeded())), 28, id="fc28"),
    ]


@pytest.mark.parametrize("model,size", models())
def test_shapes_and_backward(model: BernoulliImageModel, size: int) -> None:
    x, b = data(3, size, size)
    mu_p, sig_p, ctx = model.prior(x, b)
    mu_q, sig_q = model.proposal(x, b)
    d = mu_p.shape[-1]
    assert mu_p.shape == sig_p.shape == mu_q.shape == (3, d) and (sig_p > 0).all()
    z = mu_q + sig_q * torch.randn(5, 3, d, generator=seeded(1))
    logits = model.decode(z, ctx)
    assert logits.shape == (5, 3, 1, size, size)
    assert model.decode(mu_p, ctx).shape == (3, 1, size, size)
    ll = model.log_likelihood(logits, x, b)
    assert ll.shape == (5, 3) and (ll < 0).all()
    (-ll.mean() + (mu_p ** 2).mean()).backward()
    for part in ("prior", "proposal", "generator"):
        grads = [p.grad for p in getattr(model.nets, part).parameters()]
        assert all(g is not None for g in grads), part
        assert sum(float(g.abs().sum()) for g in grads) > 0, part


def test_latent_sizes_follow_a3() -> None:
    assert CONV_ARCHS["mnist"].latent_dim == 16 and CONV_ARCHS["omniglot"].latent_dim == 64
    assert stage_sizes(105, 105, 6)[-1] == (3, 3) and stage_sizes(28, 28, 4)[-1] == (3, 3)
    with pytest.raises(ValueError, match="too small"):
        stage_sizes(28, 28, 6)


@pytest.mark.parametrize("model,size", models()[::2])
def test_prior_ignores_hidden_pixels_and_generator_uses_observed(model: BernoulliImageModel, size: int) -> None:
    model.eval()
    x, b = data(4, size, size)
    flipped = torch.where(b > 0, 1.0 - x, x)  # change every unobserved pixel
    with torch.no_grad():
        mu1, s1, ctx1 = model.prior(x, b)
        mu2, s2, ctx2 = model.prior(flipped, b)
        torch.testing.assert_close(mu1, mu2)
        torch.testing.assert_close(s1, s2)
        # skip connections: with z fixed, the logits still depend on the observed pixels
        other = torch.where(b > 0, x, 1.0 - x)
        _, _, ctx3 = model.prior(other, b)
        z = torch.zeros_like(mu1)
        assert not torch.allclose(model.decode(z, ctx1), model.decode(z, ctx3))


def test_batchnorm_eval_mode_makes_samples_independent_of_the_batch() -> None:
    model = BernoulliImageModel(ConvImageNetworks(28, 28, CONV_ARCHS["mnist"], generator=seeded()))
    x, b = data(6, 28, 28)
    z = torch.randn(6, 16, generator=seeded(2))

    def logits_of_first(n: int) -> torch.Tensor:
        with torch.no_grad():
            _, _, ctx = model.prior(x[:n], b[:n])
            return model.decode(z[:n], ctx)[0]

    model.train()
    assert not torch.allclose(logits_of_first(6), logits_of_first(2))  # batch statistics leak across images
    model.eval()
    torch.testing.assert_close(logits_of_first(6), logits_of_first(1), rtol=1e-4, atol=1e-4)


def test_initial_scales_are_moderate() -> None:
    """He init is for the conv blocks only: on the heads it gave logit std ~15 and IWAE overflowing to 1e7 nats."""
    model = BernoulliImageModel(ConvImageNetworks(28, 28, CONV_ARCHS["mnist"], generator=seeded()))
    x, b = data(32, 28, 28)
    with torch.no_grad():
        mu, sigma, ctx = model.prior(x, b)
        assert model.decode(mu, ctx).std() < 6 and mu.abs().max() < 10


def test_seeded_initialisation() -> None:
    a = ConvImageNetworks(28, 28, CONV_ARCHS["mnist"], generator=seeded(3)).state_dict()
    b = ConvImageNetworks(28, 28, CONV_ARCHS["mnist"], generator=seeded(3)).state_dict()
    c = ConvImageNetworks(28, 28, CONV_ARCHS["mnist"], generator=seeded(4)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_gsnn_networks_have_no_proposal() -> None:
    nets = ConvImageNetworks(28, 28, ConvArch(16, (4, 8), with_proposal=False), generator=seeded())
    assert nets.proposal is None
    x, b = data(2, 28, 28)
    with pytest.raises(RuntimeError, match="MC estimator"):
        BernoulliImageModel(nets).proposal(x, b)
    with pytest.raises(ValueError, match="latent_dim"):
        ConvArch(0)


def test_fc_generator_broadcasts_the_row_term_over_samples_as_the_literal_concatenation() -> None:
    """FCGenerator computes inp(concat(z, cond)) as z·W_zᵀ + (cond·W_cᵀ + b): the same logits, any sample shape."""
    import torch.nn.functional as F

    nets = FCImageNetworks(8, 8, 4, 32, generator=seeded(5))
    x = (torch.rand(3, 1, 8, 8, generator=seeded(6)) < 0.3).float()
    b = (torch.rand(3, 1, 8, 8, generator=seeded(7)) < 0.5).float()
    _, ctx = nets.run_prior(torch.cat([x * (1 - b), b], dim=1))
    gen = nets.generator
    for shape in [(3, 4), (5, 3, 4)]:
        z = torch.randn(shape, generator=seeded(8))
        cond = ctx.prior_input.flatten(1).expand(*shape[:-1], -1)
        want = gen.out(F.leaky_relu(gen.inp(torch.cat([z, cond], dim=-1)))).view(*shape[:-1], 1, 8, 8)
        torch.testing.assert_close(gen(z, ctx), want, rtol=1e-5, atol=1e-5)
