"""``sample`` draws from the learnt conditional (issue 13 §1): every mode, in the right proportions.

The slow tests fit ``VAEACImputer()`` with its defaults (the benchmark's training schedule), with σ = 1 (A.2)
and with a learnt σ, on known multimodal conditionals: the paper's synthetic 2-D mixture (appendix C.2,
:mod:`vaeac_bench.synthetic`) and a mixed real/categorical table of our design. Both fail today (strict xfail;
the measurements are in docs/estimators.md, "Multiple imputation").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaeac_bench import VAEACImputer

TINY = dict(epochs=2, width=8, depth=1, latent_dim=2, validation_samples=2, n_imputations=3, verbose=0)


def _mode_shares(draws: np.ndarray, centres: np.ndarray, width: float) -> np.ndarray:
    """Share of draws within ``width`` of each centre (draws elsewhere count for none)."""
    return np.array([(np.abs(draws - c) < width).mean() for c in centres])


def test_imputer_defaults_are_the_benchmark_configuration_plus_a_progress_bar():
    from vaeac_bench.methods import build

    imp = VAEACImputer()
    bench = build("vaeac").get_params()
    mine = {k: v for k, v in imp.get_params().items() if k in bench}
    assert mine.pop("verbose") == 1 and bench.pop("verbose") == 0
    assert mine == bench  # early stopping, validation schedule, σ = 1: what run-bench measures


def test_progress_bar_by_default_and_off_with_verbose_0(capsys):
    df = pd.DataFrame({"x": np.arange(40.0), "y": np.r_[np.nan, np.arange(39.0)]})
    VAEACImputer(**{**TINY, "verbose": 1}, random_state=0).fit(df)
    err = capsys.readouterr().err
    assert "vaeac" in err and "epoch" in err
    VAEACImputer(**TINY, random_state=0).fit(df)
    assert "vaeac" not in capsys.readouterr().err


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=120), "y": rng.normal(size=120)})
    df.loc[::3, "y"] = np.nan
    return df


def test_sample_with_fixed_sigma_is_the_reference_sampler():
    df = _frame()
    imp = VAEACImputer(**TINY, random_state=0).fit(df)
    draws = np.stack([d.to_numpy() for d in imp.sample(df, 5)])
    np.testing.assert_array_equal(draws, imp.method_.impute(df.to_numpy(), n=5))


def test_sample_with_learnt_sigma_draws_the_output_noise():
    df = _frame()
    imp = VAEACImputer(**TINY, learn_sigma=True, random_state=0).fit(df)
    hidden = df["y"].isna().to_numpy()
    draws = np.stack([d["y"].to_numpy() for d in imp.sample(df, 30)])
    noiseless = imp.method_.impute(df.to_numpy(), n=30)[:, :, 1]
    assert draws[:, hidden].std(axis=0).mean() > 3 * noiseless[:, hidden].std(axis=0).mean() + 1e-6
    observed = df["y"].to_numpy()[~hidden]
    np.testing.assert_array_equal(draws[:, ~hidden], np.broadcast_to(observed, draws[:, ~hidden].shape))
    np.testing.assert_array_equal(draws, np.stack([d["y"].to_numpy() for d in imp.sample(df, 30)]))


# Measured (docs/estimators.md, "Multiple imputation"): under the default settings the latent code collapses on
# these small tables, with σ = 1 and with a learnt σ alike, so the draws miss modes. Strict xfail: the day a
# configuration passes, these fail until the marker is removed and the default is switched to it.
COLLAPSE = pytest.mark.xfail(strict=True, raises=AssertionError,
                             reason="latent collapse under the default settings (docs/estimators.md)")
CONFIGS = [pytest.param({}, id="sigma1"), pytest.param({"learn_sigma": True}, id="learnt-sigma")]


@pytest.mark.slow
@COLLAPSE
@pytest.mark.parametrize("config", CONFIGS)
def test_draws_show_every_mode_of_the_paper_mixture_in_proportion(config):
    from vaeac_bench.synthetic import VARIANCE_SMALL, Mixture

    mix = Mixture.draw(seed=0, variance=VARIANCE_SMALL)
    X = mix.sample(3000, seed=1)
    imp = VAEACImputer(random_state=0, verbose=0, **config).fit(X)
    for x1 in (-0.62, -0.97, -0.21):  # the three most multimodal conditionals p(x2 | x1) of this mixture
        lw = -0.5 * (x1 - mix.means[:, 0]) ** 2 / mix.variance
        w = np.exp(lw - lw.max())
        w /= w.sum()
        keep = w > 0.1
        draws = imp.sample(np.array([[x1, np.nan]]), 1000)[:, 0, 1]
        shares = _mode_shares(draws, mix.means[keep, 1], 0.25)
        assert np.all(shares > 0.5 * w[keep]), (x1, w[keep], shares)  # every mode is present
        assert np.abs(shares - w[keep]).sum() < 0.3, (x1, w[keep], shares)  # in about the right proportions


@pytest.mark.slow
@COLLAPSE
@pytest.mark.parametrize("config", CONFIGS)
def test_draws_show_every_mode_of_a_mixed_real_categorical_table(config):
    rng = np.random.default_rng(0)
    n = 1000
    c = rng.random(n) < 0.4  # P(c = "b") = 0.4
    side = np.where(rng.random(n) < 0.5, -2.0, 2.0)
    x = np.where(c, 0.0, side) + 0.3 * rng.normal(size=n)  # c = "a": x is -2 or +2 (50/50); c = "b": x near 0
    df = pd.DataFrame({"c": pd.Categorical(np.where(c, "b", "a")), "x": x})
    imp = VAEACImputer(random_state=0, verbose=0, **config).fit(df)
    query = pd.DataFrame({"c": pd.Categorical(["a", None, None], categories=["a", "b"]), "x": [np.nan, np.nan, 2.0]})
    draws = imp.sample(query, 1000)
    xa = np.array([d["x"].iloc[0] for d in draws])
    shares = _mode_shares(xa, np.array([-2.0, 2.0]), 0.9)
    assert np.all(np.abs(shares - 0.5) < 0.15), shares  # x | c = a: both modes, half each
    cat = np.array([d["c"].iloc[1] for d in draws])
    xb = np.array([d["x"].iloc[1] for d in draws])
    joint = np.array([((cat == "a") & (np.abs(xb + 2) < 0.9)).mean(), ((cat == "a") & (np.abs(xb - 2) < 0.9)).mean(),
                      ((cat == "b") & (np.abs(xb) < 0.9)).mean()])
    assert np.abs(joint - [0.3, 0.3, 0.4]).sum() < 0.3, joint  # nothing observed: the three joint modes
    assert (np.array([d["c"].iloc[2] for d in draws]) == "a").mean() > 0.9  # x = 2 only happens with c = a
