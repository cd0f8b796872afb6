"""UM (table 5, B.3), GAIN (D.4) and the plain VAE (figure 9) on images, and the galleries the image cells save."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from vaeac_bench.datasets.image_masks import bernoulli
from vaeac_bench.image_cell import pack_bits, unpack_bits
from vaeac_bench.methods.image_gain import ImageGAIN, masked_table
from vaeac_bench.methods.image_methods import ImageVAE
from vaeac_bench.methods.image_um import ImageUM, b3_masks

DATA = Path(os.environ.get("VAEAC_BENCH_DATA", "/work/shared/data"))
HAS_MNIST = (DATA / "mnist" / "mnist.npz").is_file()


def _images(n: int, size: int = 6, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 1, size, size)) < 0.3).astype(np.float32)


def _half(n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Bottom half unobserved (a fixed p(b))."""
    b = np.zeros((n, h, w), dtype=bool)
    b[:, h // 2:] = True
    return b


def test_b3_masks_are_subsets_of_p_b_with_every_size() -> None:
    rng = np.random.default_rng(0)
    b = b3_masks(_half, 2000, 6, 6, 1, rng).astype(bool)
    b0 = _half(2000, 6, 6, rng).reshape(2000, -1)
    assert b.shape == (2000, 36) and not (b & ~b0).any()  # b = b0 ∘ b1 never hides an observed pixel
    sizes = np.bincount(b.sum(1), minlength=19)
    assert (sizes > 0).all()  # u ~ U[0, 1]: every count 0..|b0| occurs (B.3), not only |b0| = 18
    assert 0.4 < b.sum() / b0.sum() < 0.6  # E[u] = 1/2


def _um() -> ImageUM:
    um = ImageUM(hidden=16, depth=1, epochs=2, batch_size=16, random_state=0)
    return um.fit_images(_images(48), _images(8, seed=1), _half, dataset="tiny")


def test_um_samples_sequentially_and_keeps_the_observed_pixels() -> None:
    um = _um()
    x, b = _images(2, seed=2), _half(2, 6, 6, None)
    calls = []
    hook = um.net_.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    s = um.sample_images(x, b, 5, seed=0)
    hook.remove()
    assert s.shape == (5, 2, 1, 6, 6) and set(np.unique(s)) <= {0.0, 1.0}
    assert len(calls) == 18 and calls == [10] * 18  # one network call per hidden pixel (11), all 5·2 rows at once
    obs = ~b[:, None]
    assert np.array_equal(s[:, obs], np.broadcast_to(x[obs], (5, obs.sum())))
    assert um.fit_info_["epochs_run"] == 2 and len(um.history_["val_scores"]) == 2


def test_um_chain_rule_nll_is_a_proper_likelihood() -> None:
    um = _um()
    x, b = _images(4, seed=3), _half(4, 6, 6, None)
    nll = um.nll(x, b, "chain", 1, seed=0)
    assert nll.shape == (4,) and (nll > 0).all() and np.isfinite(nll).all()
    # the conditionals of each step are normalised: summed over all 2^3 completions of 3 hidden pixels, p = 1
    b3 = np.zeros((1, 6, 6), dtype=bool)
    b3[0, 5, :3] = True
    xs = np.repeat(_images(1, seed=4), 8, axis=0)
    for k in range(8):
        xs[k, 0, 5, :3] = [(k >> j) & 1 for j in range(3)]
    total = sum(np.exp(-um.nll(xs[k:k + 1], b3, "chain", 1, seed=7)[0]) for k in range(8))
    assert total == pytest.approx(1.0, abs=1e-4)  # one fixed permutation (same seed): an exact joint
    with pytest.raises(ValueError, match="chain"):
        um.nll(x, b, "is", 10)


def test_um_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    ck = tmp_path / "um.pt"
    a = ImageUM(hidden=16, depth=1, epochs=2, batch_size=16, random_state=0)
    a.fit_images(_images(48), _images(8, seed=1), _half, dataset="tiny", checkpoint=ck)
    assert ck.is_file()
    b = ImageUM(hidden=16, depth=1, epochs=2, batch_size=16, random_state=0)
    b.fit_images(_images(48), _images(8, seed=1), _half, dataset="tiny", checkpoint=ck)  # finished: resumes at 2
    for (k, p), (_, q) in zip(a.net_.state_dict().items(), b.net_.state_dict().items(), strict=True):
        assert torch.equal(p, q), k


@pytest.mark.parametrize("variant", ["modified", "original"])
def test_gain_trains_on_masked_images_only_and_imputes_binary_pixels(variant: str) -> None:
    x = _images(64)
    b = bernoulli(64, 6, 6, np.random.default_rng(0))
    t = masked_table(x, b)
    assert t.shape == (64, 36) and np.array_equal(np.isnan(t), b.reshape(64, -1))
    gain = ImageGAIN(variant=variant, iterations=20, batch_size=16, hidden_dim=8, eval_every=10, random_state=0)
    gain.fit_images(x, x[:4], bernoulli, dataset="tiny")
    assert gain.estimators() == () and gain.fit_info_["epochs_run"] == 20
    s = gain.sample_images(x[:3], b[:3], 4)
    assert s.shape == (4, 3, 1, 6, 6) and set(np.unique(s)) <= {0.0, 1.0}
    obs = ~b[:3, None]
    assert np.array_equal(s[:, obs], np.broadcast_to(x[:3][obs], (4, obs.sum())))
    with pytest.raises(ValueError, match="no likelihood"):
        gain.nll(x, b, "is", 10)


def test_the_plain_vae_ignores_the_mask_it_is_given() -> None:
    vae = ImageVAE(network="fc", epochs=1, batch_size=16, validation_samples=3, random_state=0)
    vae.fit_images(_images(32, size=8), _images(8, size=8, seed=1), bernoulli, dataset="tiny")
    x = _images(3, size=8, seed=2)
    one = vae.nll(x, np.zeros((3, 8, 8), dtype=bool), "is", 5, seed=0)
    other = vae.nll(x, bernoulli(3, 8, 8, np.random.default_rng(1)), "is", 5, seed=0)
    assert np.array_equal(one, other) and (one > 0).all()  # −log p(x) of the whole image either way
    assert "whole image" in vae.fit_info_["nll_scope"]


def test_gallery_bits_round_trip() -> None:
    a = (np.random.default_rng(0).random((6, 8, 1, 5, 7)) < 0.4).astype(np.float32)
    d = pack_bits(a)
    assert d["shape"] == [6, 8, 1, 5, 7] and np.array_equal(unpack_bits(d), a)
    with pytest.raises(ValueError, match="binary"):
        pack_bits(np.array([0.0, 0.5]))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MNIST, reason="MNIST not in the data dir")
def test_quick_um_and_gain_cells_through_the_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaeac_bench.runner import compute_cell, plan

    monkeypatch.setenv("VAEAC_BENCH_DATA", str(DATA))
    monkeypatch.setenv("VAEAC_BENCH_CHECKPOINTS", str(tmp_path / "ck"))
    for m in ("um-image", "gain-image", "gain-original-image"):
        rec = compute_cell(plan(["mnist"], [m], [0], "mnist_line", 0.0, 1, True)[0])
        assert rec["kind"] == "image" and rec["timing"]["sample100_one_object_s"] > 0
        gal = {k: unpack_bits(v) for k, v in rec["gallery"].items()}
        assert gal["samples"].shape == (6, 8, 1, 28, 28) and gal["mask"].shape == (8, 28, 28)
        if m == "um-image":
            assert set(rec["nll"]) == {"chain"} and 0 < rec["metrics"]["nll_chain"] < 700 * 9.3
        else:
            assert rec["nll"] == {} and rec["budget"]["epochs_run"] == 200


def _gallery_record(method: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    truth = (rng.random((8, 1, 5, 5)) < 0.4).astype(np.float32)
    mask = rng.random((8, 5, 5)) < 0.5
    samples = (rng.random((6, 8, 1, 5, 5)) < 0.4).astype(np.float32)
    return {"dataset": "mnist", "method": method, "budget": {"epochs_run": 3, "paper_epochs": 30},
            "gallery": {"truth": pack_bits(truth), "mask": pack_bits(mask), "samples": pack_bits(samples)},
            "history": {"val_epochs": [1, 2, 3], "val_scores": [-90.0, -80.0, -75.0]}}


def test_gallery_mosaic_shows_input_grey_samples_and_truth() -> None:
    from vaeac_bench.tables.image_figures import GREY, gallery_mosaic

    r = _gallery_record("um-image", 0)
    m = gallery_mosaic(r)
    truth, mask = unpack_bits(r["gallery"]["truth"])[:, 0], unpack_bits(r["gallery"]["mask"]).astype(bool)
    assert m.shape == (8 * 6 - 1, 8 * 6 + 1)
    assert np.array_equal(m[0:5, 0:5], np.where(mask[0], GREY, truth[0]))  # input: unobserved pixels grey
    assert np.array_equal(m[6:11, 44:49], truth[1])  # ground truth: the last tile, after a wider gap
    assert np.array_equal(gallery_mosaic(r, ink_white=False)[0:5, 6:11],
                          1 - unpack_bits(r["gallery"]["samples"])[0, 0, 0])


def test_image_figures_are_deterministic_small_and_need_their_records(tmp_path: Path) -> None:
    from vaeac_bench.tables.image_figures import render_image_figures

    recs = [_gallery_record(m, i) for i, m in enumerate(("vaeac-image-fc", "gsnn-image-fc", "um-image",
                                                          "vae-image-fc"))]
    a = render_image_figures(recs, tmp_path / "a")
    b = render_image_figures(recs, tmp_path / "b")
    assert [p.name for p in a] == ["figure01.png", "figure08.png", "figure09.png", "figure12.png"]  # no GAIN: no 11
    assert all(p.read_bytes() == q.read_bytes() and p.stat().st_size < 150_000 for p, q in zip(a, b, strict=True))
    recs[0]["gallery"]["samples"] = pack_bits(np.zeros((6, 8, 1, 5, 5)))
    c = render_image_figures(recs, tmp_path / "c")
    assert c[0].read_bytes() != a[0].read_bytes()  # the figure is drawn from the record's arrays


def test_gain_samples_follow_their_seed() -> None:
    x = _images(64)
    b = bernoulli(64, 6, 6, np.random.default_rng(0))
    gain = ImageGAIN(iterations=20, batch_size=16, hidden_dim=8, eval_every=10, random_state=0)
    gain.fit_images(x, x[:4], bernoulli, dataset="tiny")
    raw: list[np.ndarray] = []  # the generator's outputs before the argmax (its noise barely flips a pixel)
    decode = gain.model_._decode
    gain.model_._decode = lambda g: (raw.append(g.copy()), decode(g))[1]
    one = gain.sample_images(x[:8], b[:8], 3, seed=1)
    assert np.array_equal(one, gain.sample_images(x[:8], b[:8], 3, seed=1))  # same seed, same samples
    gain.sample_images(x[:8], b[:8], 3, seed=2)
    assert np.array_equal(raw[0], raw[3]) and not np.array_equal(raw[0], raw[6])  # another seed, other noise
    assert not np.array_equal(raw[0], raw[1])  # and fresh noise for every sample of a call
    obs = ~b[:8, None]
    assert np.array_equal(one[:, obs], np.broadcast_to(x[:8][obs], (3, obs.sum())))
    with pytest.raises(ValueError, match="n_samples"):
        gain.sample_images(x[:2], b[:2], 0)
