"""The multimodal check (appendix C): VAEAC learns a two-mode conditional that a unimodal model cannot."""

from __future__ import annotations

import numpy as np
import pytest

from vaeac_bench.methods import build
from vaeac_bench.schema import Schema
from vaeac_bench.synthetic import Mixture, make_table8, published_table8, render_table8

SCHEMA = Schema.from_kinds(["x1", "x2"], [0, 0])
#: a small C.2-style model: plain ReLU MLPs, learnt output σ, the paper's random masks p(b_i = 1) = 0.5
SMALL = dict(hidden_sizes=(64, 64), skip_connections=False, activation="relu", latent_dim=4, learn_sigma=True,
             mask_prob=0.5, lr=1e-3, epochs=150, validate_every=10, patience=None, validation_samples=5)
MODES = 1.5  # x2 - x1 = ±1.5


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These tests train small models: one thread is faster than two on a shared machine (and comparable)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def two_mode_data(n: int, seed: int) -> np.ndarray:
    """x1 ~ N(0, 1); x2 = x1 ± 1.5 (a fair coin) + N(0, 0.1²): p(x2 | x1) has two modes, x1 ± 1.5.

    x2 depends on x1 on purpose. With x2 independent of x1 (e.g. x2 = ±1.5 alone) and a learnt σ, the
    model sits on a flat saddle: without the latent the generator fits x2's marginal, σ settles at its
    standard deviation, and at that point using z gains nothing to first order (the probabilistic-PCA
    threshold "variance > σ²"), so the latent stays unused for thousands of steps on most seeds. A
    correlated joint gives the latent a first-order use when both features are unobserved, and the
    two-mode conditional is then learnt within a few thousand steps (docs/vaeac.md, "The multimodal check").
    """
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0.0, 1.0, n)
    x2 = x1 + rng.choice([-MODES, MODES], n) + rng.normal(0.0, 0.1, n)
    return np.column_stack([x1, x2])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vaeac_imputes_near_both_modes_while_nn_averages_them(seed):
    """Issue 3 item 7 with the paper's random masks (C.2: p(b1 = 1) = p(b2 = 1) = 0.5) and a learnt σ."""
    X = two_mode_data(2000, seed)
    vaeac = build("vaeac", **SMALL, random_state=seed).fit(X, SCHEMA)
    nn = build("nn", **{**SMALL, "learn_sigma": False, "epochs": 30}, random_state=seed).fit(X, SCHEMA)
    query = two_mode_data(200, seed + 1000)
    x1 = query[:, 0].copy()
    query[:, 1] = np.nan
    dev = vaeac.impute(query, n=10)[..., 1] - x1  # (10, 200) offsets from the conditional's centre
    point = nn.impute(query, n=1)[0, :, 1] - x1
    near = np.minimum(np.abs(dev - MODES), np.abs(dev + MODES)) < 0.5
    between = np.abs(dev) < MODES / 2
    assert near.mean() > 0.7, f"only {near.mean():.2f} of VAEAC imputations lie near a mode"
    assert between.mean() < 0.25, f"{between.mean():.2f} of VAEAC imputations lie between the modes"
    assert (dev > MODES / 2).mean() > 0.25 and (dev < -MODES / 2).mean() > 0.25  # both modes are used
    # the unimodal regressor predicts E[x2 | x1] = x1, between the modes, and never near one
    assert np.mean(np.abs(point) < MODES / 2) > 0.95 and np.mean(np.abs(np.abs(point) - MODES) < 0.5) < 0.05


def test_mixture_true_conditional_density_is_normalised():
    mix = Mixture.draw(0)
    grid = np.linspace(-5, 5, 4001)
    x = np.column_stack([np.full_like(grid, 0.3), grid])
    dens = np.exp(mix.conditional_log_density(x, np.tile([False, True], (grid.size, 1))))
    assert float(np.trapezoid(dens, grid)) == pytest.approx(1.0, abs=1e-3)
    assert np.all(mix.conditional_log_density(x, np.zeros(x.shape, dtype=bool)) == 0)


def test_make_table8_quick_writes_results_then_table_and_figure(tmp_path):
    paths = make_table8(tmp_path / "reports", quick=True, epochs=1, verbose=False, results_dir=tmp_path / "results")
    assert [p.name for p in paths] == ["table08.md", "figure07.png"]
    assert len(list((tmp_path / "results" / "synthetic").rglob("*.json"))) == 3  # one result file per α
    text = paths[0].read_text()
    assert "| α = 0.99 |" in text and "Quick smoke run" in text and "3 current, 0 stale, 0 not run" in text
    assert paths[1].stat().st_size > 10_000
    paper = published_table8()
    assert paper[1.0] == {"nll_is10": (0.22, "0.22"), "nll_mc10": (85.0, "85")}  # from tables/published.csv
    assert "| α = 1 | " in text and "| 0.22 | 85 |" in text and "## Comparison with the paper" in text
    # rendering again from the result files alone gives the same table
    again = render_table8(tmp_path / "results", tmp_path / "again", quick=True, epochs=1)
    assert again[0].read_text() == text


def test_table8_no_run_never_trains_and_says_not_run(tmp_path, monkeypatch):
    import vaeac_bench.synthetic as synthetic
    from vaeac_bench.cli import main

    def no_training(*args, **kwargs):
        raise AssertionError("--no-run trained a model")

    monkeypatch.setattr(synthetic, "compute_synthetic_cell", no_training)
    (tmp_path / "results" / "synthetic" / "alpha-1").mkdir(parents=True)
    (tmp_path / "results" / "synthetic" / "alpha-1" / "x.json").write_text("{}")  # not a result: ignored
    assert main(["--tables", "8", "--no-run", "-q", "--results-dir", str(tmp_path / "results"),
                 "--reports-dir", str(tmp_path / "reports")]) == 0
    text = (tmp_path / "reports" / "table08.md").read_text()
    assert "| α = 1 | not run | not run | 0.22 | 85 | not run |" in text and "0 current, 0 stale, 6 not run" in text
    assert not (tmp_path / "reports" / "figure07.png").exists()
