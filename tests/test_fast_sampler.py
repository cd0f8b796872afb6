"""methods/vaeac/fast_sampler.py: the same draws as VAEACModel.sample_imputations, for one row and many."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaeac_bench.methods.vaeac import ArchConfig, Batch, ObjectiveConfig, VAEACModel
from vaeac_bench.methods.vaeac.fast_sampler import FastSampler
from vaeac_bench.nn import FeatureLayout
from vaeac_bench.schema import Schema

SCHEMA = Schema.from_kinds(["a", "b", "c", "d", "e"], [0, 3, 0, 5, 0])


def _model(delta: bool) -> VAEACModel:
    obj = ObjectiveConfig(alpha=0.0, delta_prior=True) if delta else ObjectiveConfig()
    return VAEACModel(FeatureLayout.from_schema(SCHEMA), ArchConfig(width=32, depth=3, latent_dim=6), obj,
                      generator=torch.Generator().manual_seed(5)).double()


def _rows(n: int) -> torch.Tensor:
    rng = np.random.default_rng(n)
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 3, n), rng.normal(size=n), rng.integers(0, 5, n),
                         rng.normal(size=n)]).astype(float)
    X[rng.random(X.shape) < 0.4] = np.nan
    return torch.tensor(X)


@pytest.mark.parametrize("most_probable", [True, False])
@pytest.mark.parametrize("rows", [1, 7])
@pytest.mark.parametrize("delta", [False, True], ids=["vaeac", "nn"])
def test_draws_equal_sample_imputations(delta: bool, rows: int, most_probable: bool) -> None:
    model = _model(delta)
    batch = Batch.from_values(_rows(rows), model)
    ref = model.sample_imputations(batch, 50, most_probable, torch.Generator().manual_seed(9))
    got = FastSampler(model).sample(batch, 50, most_probable, torch.Generator().manual_seed(9))
    assert got.shape == ref.shape == (50, rows, 5)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


def test_a_snapshot_follows_the_weights_only_after_refresh() -> None:
    model = _model(False)
    batch = Batch.from_values(_rows(3), model)
    fast = FastSampler(model)
    with torch.no_grad():
        model.nets.generator.out.bias.add_(1.0)
    ref = model.sample_imputations(batch, 5, True, torch.Generator().manual_seed(1))
    stale = fast.sample(batch, 5, True, torch.Generator().manual_seed(1))
    assert not torch.allclose(stale, ref)
    fast.refresh()
    torch.testing.assert_close(fast.sample(batch, 5, True, torch.Generator().manual_seed(1)), ref)


def test_an_unsupported_model_is_refused() -> None:
    model = VAEACModel(FeatureLayout.from_schema(SCHEMA), fused=False)
    with pytest.raises(ValueError, match="sample_imputations"):
        FastSampler(model)


def test_sampler_for_caches_one_snapshot_and_rebuilds_it_when_the_weights_change() -> None:
    from vaeac_bench.methods.vaeac.fast_sampler import sampler_for

    model = _model(False)
    batch = Batch.from_values(_rows(3), model)
    first = sampler_for(model)
    assert sampler_for(model).__self__ is first.__self__  # cached while the weights are unchanged
    with torch.no_grad():
        model.nets.generator.out.bias.add_(1.0)  # an in-place update (an optimiser step, load_state_dict)
    again = sampler_for(model)
    assert again.__self__ is not first.__self__
    ref = model.sample_imputations(batch, 5, True, torch.Generator().manual_seed(1))
    torch.testing.assert_close(again(batch, 5, True, torch.Generator().manual_seed(1)), ref)
    assert "_fast_sampler" not in model.state_dict()  # the snapshot is not part of the model's state


def test_sampler_for_falls_back_to_sample_imputations() -> None:
    from vaeac_bench.methods.vaeac.fast_sampler import sampler_for

    model = VAEACModel(FeatureLayout.from_schema(SCHEMA), fused=False)
    draw = sampler_for(model)
    assert draw.__func__ is VAEACModel.sample_imputations and draw.__self__ is model


@pytest.mark.parametrize("name", ["vaeac", "nn"])
def test_the_registered_method_samples_what_sample_imputations_draws(name: str) -> None:
    from vaeac_bench.methods import build

    X = _rows(60).numpy()
    m = build(name, quick=True, epochs=1).fit(X, SCHEMA)
    Xs = m.scaler_.transform(X[:9])
    got = m.sample_standardised(Xs, 20, seed=3)
    model = m.model_
    with torch.inference_mode():
        batch = Batch.from_values(torch.as_tensor(Xs, dtype=torch.float32), model)
        ref = model.sample_imputations(batch, 20, m.sample_most_probable, torch.Generator().manual_seed(3))
    np.testing.assert_allclose(got, ref.double().numpy(), rtol=1e-5, atol=1e-5)
