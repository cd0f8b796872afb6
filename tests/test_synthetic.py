"""The multimodal check (appendix C): VAEAC learns a two-mode conditional that a unimodal model cannot."""

from __future__ import annotations

import numpy as np
import pytest

from vaeac_bench.methods import build
from vaeac_bench.schema import Schema
from vaeac_bench.synthetic import Mixture, make_table8, published_table8

SCHEMA = Schema.from_kinds(["x1", "x2"], [0, 0])
SMALL = dict(hidden_sizes=(64, 64), skip_connections=False, latent_dim=4, learn_sigma=True, epochs=40,
             validate_every=5, patience=None, validation_samples=5, random_state=0)


def two_mode_data(n: int, seed: int) -> np.ndarray:
    """x1 ~ U(-1, 1); x2 = ±1.5 (a fair coin, independent of x1) + N(0, 0.1²)."""
    rng = np.random.default_rng(seed)
    x1 = rng.uniform(-1, 1, n)
    x2 = rng.choice([-1.5, 1.5], n) + rng.normal(0, 0.1, n)
    return np.column_stack([x1, x2])


@pytest.mark.slow
def test_vaeac_imputes_near_both_modes_while_nn_averages_them():
    """The mask distribution generates x2 from x1 (p(b) is the user's choice, §4.1); with random masks on
    both columns this tiny budget does not suffice (see docs/vaeac.md, open problems)."""
    X = two_mode_data(2000, 0)
    params = {**SMALL, "mask_prob": (0.0, 1.0), "lr": 1e-3, "latent_dim": 2, "epochs": 100, "validate_every": 10}
    vaeac = build("vaeac", **params).fit(X, SCHEMA)
    nn = build("nn", **{**params, "learn_sigma": False, "epochs": 10}).fit(X, SCHEMA)
    query = two_mode_data(200, 1)
    query[:, 1] = np.nan
    imp = vaeac.impute(query, n=10)[..., 1].ravel()
    near = np.minimum(np.abs(imp - 1.5), np.abs(imp + 1.5)) < 0.5
    assert near.mean() > 0.8, f"only {near.mean():.2f} of VAEAC imputations are near a mode"
    assert (imp > 0.75).mean() > 0.2 and (imp < -0.75).mean() > 0.2  # both modes are used
    point = nn.impute(query, n=1)[0, :, 1]
    assert np.abs(point).max() < 0.75  # the unimodal regressor sits between the modes


def test_mixture_true_conditional_density_is_normalised():
    mix = Mixture.draw(0)
    grid = np.linspace(-5, 5, 4001)
    x = np.column_stack([np.full_like(grid, 0.3), grid])
    dens = np.exp(mix.conditional_log_density(x, np.tile([False, True], (grid.size, 1))))
    assert float(np.trapezoid(dens, grid)) == pytest.approx(1.0, abs=1e-3)
    assert np.all(mix.conditional_log_density(x, np.zeros(x.shape, dtype=bool)) == 0)


def test_make_table8_quick_writes_table_and_figure(tmp_path):
    paths = make_table8(tmp_path, quick=True, epochs=1, verbose=False)
    assert [p.name for p in paths] == ["table08.md", "figure07.png"]
    text = paths[0].read_text()
    assert "| α = 0.99 |" in text and "Quick smoke run" in text
    assert paths[1].stat().st_size > 10_000
    assert published_table8()[1.0] == (0.22, 85.0)
