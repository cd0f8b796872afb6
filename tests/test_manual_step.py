"""methods/vaeac/manual_step.py: the hand-written loss and gradients equal VAEACModel.loss and autograd.

Checked in float64 on a mixed real/categorical layout for VAEAC (α = 1), GSNN (α = 0) and NN (delta prior),
also where the numerical guards bind (latent σ at its floor, categorical probabilities at min_prob), and over a
few optimiser steps; unsupported models are refused with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaeac_bench.methods.vaeac import ArchConfig, Batch, ObjectiveConfig, VAEACModel
from vaeac_bench.methods.vaeac.manual_step import ManualStep
from vaeac_bench.methods.vaeac.training import draw_mask
from vaeac_bench.nn import FeatureLayout
from vaeac_bench.schema import Schema

SCHEMA = Schema.from_kinds(["a", "b", "c", "d", "e", "f"], [0, 0, 3, 0, 5, 2])
OBJECTIVES = {"vaeac": ObjectiveConfig(alpha=1.0), "gsnn": ObjectiveConfig(alpha=0.0),
              "nn": ObjectiveConfig(alpha=0.0, delta_prior=True)}


def _data(n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.integers(0, 3, n), rng.normal(size=n),
                         rng.integers(0, 5, n), rng.integers(0, 2, n)]).astype(float)
    X[rng.random(X.shape) < 0.3] = np.nan
    return X


def _model(kind: str, guards: bool = False, **arch) -> VAEACModel:
    cfg = ArchConfig(**({"width": 16, "depth": 3, "latent_dim": 4} | arch))
    model = VAEACModel(FeatureLayout.from_schema(SCHEMA), cfg, OBJECTIVES[kind],
                       generator=torch.Generator().manual_seed(3)).double()
    if guards:  # push latent σ below its floor and some category probabilities below min_prob
        with torch.no_grad():
            d = cfg.latent_dim
            for net in (model.nets.prior, model.nets.proposal):
                if net is not None:
                    net.head.bias[d:d + 2] = -12.0
            model.nets.generator.out.bias[3:] = torch.linspace(-12, 12, model.layout.out_width - 3,
                                                               dtype=torch.float64)
    return model


def _case(model: VAEACModel, seed: int = 1) -> tuple[Batch, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    batch = Batch.from_values(torch.tensor(_data(seed=seed)), model)
    b = draw_mask(batch.missing, 0.3, gen)
    noise = torch.randn((model.n_noise(), len(batch), model.arch.latent_dim), generator=gen, dtype=torch.float64)
    return batch, b, noise


def _autograd(model: VAEACModel, batch: Batch, b: torch.Tensor, noise: torch.Tensor) -> tuple[float, dict]:
    model.zero_grad(set_to_none=True)
    loss = model.loss(batch, b, noise=noise)
    loss.backward()
    grads = {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


@pytest.mark.parametrize("guards", [False, True], ids=["plain", "guards-binding"])
@pytest.mark.parametrize("kind", list(OBJECTIVES))
def test_loss_and_every_gradient_equal_autograd(kind: str, guards: bool) -> None:
    model = _model(kind, guards)
    batch, b, noise = _case(model)
    ref_loss, ref = _autograd(model, batch, b, noise)
    loss = ManualStep(model).loss_and_grad(batch, b, noise)
    assert float(loss) == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, ref[name], rtol=1e-9, atol=1e-12, msg=f"gradient of {name}")
    if guards:  # the guards really bound, so their zero gradients were exercised
        from vaeac_bench.nn.likelihood import categorical_log_probs

        with torch.no_grad():
            mu_p, sig_p, ctx = model.prior(batch, b)
            if sig_p is not None:
                assert bool((sig_p == model.objective.latent_sigma_floor).any())
            logits = model.decode(mu_p, ctx)[:, model.layout.n_real:]
            clamped = categorical_log_probs(logits, model.lt).exp() <= 1.01 * model.objective.min_prob
            assert bool(clamped.any())


def test_training_steps_follow_autograds_path() -> None:
    runs = []
    for manual in (False, True):
        model = _model("vaeac")
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        step = ManualStep(model) if manual else None
        for i in range(5):
            batch, b, noise = _case(model, seed=10 + i)
            if manual:
                step.step(batch, b, noise, opt)
            else:
                opt.zero_grad(set_to_none=True)
                model.loss(batch, b, noise=noise).backward()
                opt.step()
        runs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(runs[1], runs[0], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize(("build", "reason"), [
    (lambda: VAEACModel(FeatureLayout.from_schema(SCHEMA), objective=ObjectiveConfig(alpha=0.5)), "alpha 0 or 1"),
    (lambda: VAEACModel(FeatureLayout.from_schema(SCHEMA, learn_sigma=True)), "σ fixed at 1"),
    (lambda: VAEACModel(FeatureLayout.from_schema(SCHEMA), fused=False), "fused residual generator"),
    (lambda: VAEACModel(FeatureLayout.from_schema(SCHEMA), ArchConfig(activation="elu")), "leaky_relu"),
])
def test_unsupported_models_are_refused_with_the_reason(build, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as err:
        ManualStep(build())
    assert "autograd" in str(err.value)


def test_flat_parameters_are_views_and_fused_adam_over_them_matches_per_tensor_adam() -> None:
    from vaeac_bench.methods.vaeac.manual_step import flatten_parameters

    runs = []
    for flat in (False, True):
        model = _model("gsnn")
        step = ManualStep(model)
        if flat:
            before = {k: v.clone() for k, v in model.state_dict().items()}
            fp = flatten_parameters(model)
            assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # same values, same keys
            opt = torch.optim.Adam([fp], lr=1e-2)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for i in range(4):
            step.step(*_case(model, seed=20 + i), opt)
        runs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        if flat:  # the module's parameters moved with the flat one
            torch.testing.assert_close(fp.detach(), runs[-1], rtol=0, atol=0)
    torch.testing.assert_close(runs[1], runs[0], rtol=1e-12, atol=1e-14)


# -- the wired training loop (training.train) ----------------------------------------------------------------
def _fit(kind: str, manual: bool, epochs: int = 3, **kw):  # noqa: ANN202 - (model, history)
    from vaeac_bench.methods.vaeac.training import TrainConfig, train

    model = VAEACModel(FeatureLayout.from_schema(SCHEMA), ArchConfig(width=16, depth=3, latent_dim=4),
                       OBJECTIVES[kind] if isinstance(kind, str) else kind, generator=torch.Generator().manual_seed(3))
    hist = train(model, _data(120, seed=4), TrainConfig(epochs=epochs, batch_size=16, manual_step=manual), seed=7,
                 **kw)
    return model, hist


@pytest.mark.parametrize("name", ["vaeac", "gsnn", "nn"])
def test_registered_methods_train_with_the_manual_step_and_own_their_parameters(name: str) -> None:
    from vaeac_bench.methods import build

    m = build(name, quick=True, epochs=2).fit(_data(80, seed=2), SCHEMA)
    assert m.fit_info_["step"] == "manual"
    params = list(m.model_.parameters())
    assert all(p.grad is None for p in params)  # the flat gradient buffer is gone
    assert len({p.untyped_storage().data_ptr() for p in params}) == len(params)  # no longer views of one tensor


@pytest.mark.parametrize("objective", [ObjectiveConfig(alpha=0.9), ObjectiveConfig(alpha=1.0, sigma_mu=1e4)],
                         ids=["hybrid", "vaeac"])
def test_models_outside_its_scope_and_reference_mode_use_autograd(objective: ObjectiveConfig) -> None:
    from vaeac_bench.methods.vaeac.training import TrainConfig, manual_step

    _, hist = _fit(objective, manual=True, epochs=1)
    assert hist.fit_info["step"] == ("autograd" if objective.alpha == 0.9 else "manual")
    model = VAEACModel(FeatureLayout.from_schema(SCHEMA))
    assert manual_step(model, TrainConfig(epochs=1, mode="reference")) is None
    assert manual_step(model, TrainConfig(epochs=1, bf16=True)) is None
    assert manual_step(model, TrainConfig(epochs=1, manual_step=False)) is None
    assert manual_step(VAEACModel(FeatureLayout.from_schema(SCHEMA, learn_sigma=True)), TrainConfig(epochs=1)) is None


@pytest.mark.parametrize("kind", ["vaeac", "gsnn", "nn"])
def test_the_manual_loop_follows_the_autograd_loop(kind: str) -> None:
    # the same masks, noise and batches: the trained weights and losses differ by float rounding only
    (m_auto, h_auto), (m_man, h_man) = _fit(kind, manual=False), _fit(kind, manual=True)
    assert (h_auto.fit_info["step"], h_man.fit_info["step"]) == ("autograd", "manual")
    np.testing.assert_allclose(h_man.train_loss, h_auto.train_loss, rtol=1e-4)
    for (name, p), q in zip(m_auto.named_parameters(), m_man.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-4, msg=f"parameter {name}")


def test_a_checkpoint_of_the_other_step_is_refused(tmp_path) -> None:
    ck = tmp_path / "fit.pt"
    _fit("vaeac", manual=False, epochs=1, checkpoint=ck)
    with pytest.raises(ValueError, match="another run"):
        _fit("vaeac", manual=True, epochs=1, checkpoint=ck)


def test_a_killed_manual_fit_resumes_to_the_same_weights(tmp_path) -> None:
    ck = tmp_path / "fit.pt"

    def kill(epoch: int, model, hist) -> None:  # noqa: ANN001
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit("vaeac", manual=True, epochs=4, checkpoint=ck, callback=kill)
    resumed, h_res = _fit("vaeac", manual=True, epochs=4, checkpoint=ck)
    whole, h_whole = _fit("vaeac", manual=True, epochs=4)
    assert h_res.train_loss == pytest.approx(h_whole.train_loss, rel=0, abs=0)
    for p, q in zip(resumed.parameters(), whole.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
