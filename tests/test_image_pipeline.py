"""Issue 10 through the shared design: image VAEAC on VAEACModel, registries, image cells, resume after a kill."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vaeac_bench.datasets import MECHANISMS, SPECS
from vaeac_bench.datasets.image_masks import bernoulli
from vaeac_bench.datasets.image_registry import dataset_kind, image_mask
from vaeac_bench.methods import GROUPS, build, get
from vaeac_bench.methods.vaeac.image import (
    FCArch,
    ImageTrainConfig,
    ImageVAEACModel,
    image_batch,
    train_image_model,
)
from vaeac_bench.methods.vaeac.model import ObjectiveConfig

DATA = Path(os.environ.get("VAEAC_BENCH_DATA", "/work/shared/data"))
HAS_MNIST = (DATA / "mnist" / "mnist.npz").is_file()


def _images(n: int, size: int = 8, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 1, size, size)) < 0.3).astype(np.float32)


@pytest.mark.parametrize("network", ["fc", "conv"])
def test_pixel_layout_likelihood_is_bernoulli(network: str) -> None:
    arch = FCArch(latent_dim=4, hidden=16) if network == "fc" else None
    model = ImageVAEACModel((1, 8, 8), network, arch, ObjectiveConfig(min_prob=0.0),
                            generator=torch.Generator().manual_seed(1))
    model.eval()
    x = torch.as_tensor(_images(5))
    b = torch.as_tensor(bernoulli(5, 8, 8, np.random.default_rng(0))).float().reshape(5, -1)
    batch = image_batch(x)
    mu, _, ctx = model.prior(batch, b)
    z = mu.unsqueeze(0).expand(3, *mu.shape)
    logits = model.nets.generator(z, ctx)
    from vaeac_bench.nn import log_prob

    got = log_prob(model.decode(z, ctx), batch.x, b, model.lt, min_prob=0.0)
    want = (-F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").flatten(-3) * b).sum(-1)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("min_prob", [1e-4, 0.0])
def test_direct_bernoulli_likelihood_equals_the_generic_pixel_layout_path(min_prob: float) -> None:
    """The binary model's rec_log_prob shortcut computes the tabular guarded categorical likelihood exactly."""
    from vaeac_bench.methods.vaeac.model import VAEACModel

    model = ImageVAEACModel((1, 8, 8), "fc", FCArch(4, 16), ObjectiveConfig(min_prob=min_prob))
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(7, 64, generator=g) < 0.3).float()
    w = (torch.rand(7, 64, generator=g) < 0.5).float()
    logits = torch.randn(5, 7, 64, generator=g) * 12  # |l| up to ~40: many pixels beyond the 1e-4 clamp (9.2 nats)
    params = torch.stack([torch.zeros_like(logits), logits], dim=-1).flatten(-2)  # decode's pixel layout (0, l)
    want = VAEACModel.rec_log_prob(model, params, x, w)
    got = model.rec_log_prob(params, x, w)
    assert got.shape == (5, 7)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)
    if min_prob:  # the guard binds: no pixel costs more than -log(1e-4 / (1 + 1e-4)) nats
        per_pixel = model.rec_log_prob(params, x, torch.ones_like(w)) / 64
        assert per_pixel.min() >= -9.3 and torch.isfinite(got).all()


def test_gaussian_image_model_keeps_its_own_likelihood() -> None:
    """CelebA's Gaussian layout is not binary: rec_log_prob falls back to the layout's likelihood."""
    from vaeac_bench.methods.celeba_model import GaussianImageVAEACModel, celeba_arch
    from vaeac_bench.methods.vaeac.model import VAEACModel

    model = GaussianImageVAEACModel((3, 64, 64), celeba_arch(64, 1, 4), ObjectiveConfig())
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3 * 64 * 64, generator=g)
    params = torch.randn(2, 2 * 3 * 64 * 64, generator=g)
    w = torch.ones_like(x)
    torch.testing.assert_close(model.rec_log_prob(params, x, w), VAEACModel.rec_log_prob(model, params, x, w))


def test_vaeac_and_gsnn_share_the_hybrid_objective() -> None:
    x = torch.as_tensor(_images(6))
    b = torch.as_tensor(bernoulli(6, 8, 8, np.random.default_rng(1))).float().reshape(6, -1)
    vaeac = ImageVAEACModel((1, 8, 8), "fc", FCArch(4, 16), ObjectiveConfig(alpha=1.0))
    gsnn = ImageVAEACModel((1, 8, 8), "fc", FCArch(4, 16), ObjectiveConfig(alpha=0.0))
    assert vaeac.nets.proposal is not None and gsnn.nets.proposal is None
    assert vaeac.n_noise() == 1 and gsnn.n_noise() == 1
    for m in (vaeac, gsnn):
        loss = m.loss(image_batch(x), b, torch.Generator().manual_seed(0))
        loss.backward()
        assert torch.isfinite(loss)
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.nets.prior.parameters())
    # VAEACModel's own estimators score images: IWAE (18) for VAEAC; GSNN has none
    assert vaeac.iwae(image_batch(x), b, 4, torch.Generator().manual_seed(0)).shape == (6,)
    with pytest.raises(RuntimeError, match="no proposal"):
        gsnn.iwae(image_batch(x), b, 4)


def test_samples_do_not_depend_on_the_batch_in_eval_mode() -> None:
    est = build("vaeac-image", epochs=1, max_train=16, max_val=4, validation_samples=2, random_state=0)
    train = _images(16, size=28, seed=2)
    est.fit_images(train, _images(4, size=28, seed=3), image_mask("mnist_line"), dataset="mnist")
    x = _images(3, size=28, seed=4)
    b = image_mask("rectangle")(3, 28, 28, np.random.default_rng(0))
    alone = est.sample_images(x[:1], b[:1], 4, seed=7)
    batched = est.sample_images(x, b, 4, seed=7)
    probs_alone = est.model_.pixel_probs(torch.as_tensor(x[:1]), torch.as_tensor(b[:1, None]).float(), 1, z_mean=True)
    probs_batch = est.model_.pixel_probs(torch.as_tensor(x), torch.as_tensor(b[:, None]).float(), 1, z_mean=True)
    assert torch.allclose(probs_alone[:, 0], probs_batch[:, 0], atol=1e-6)
    assert alone.shape == (4, 1, 1, 28, 28) and batched.shape == (4, 3, 1, 28, 28)
    observed = ~b[:, None].astype(bool)
    assert np.array_equal(batched[:, observed], np.broadcast_to(x[observed], (4, int(observed.sum()))))


def test_image_entries_are_in_the_shared_registries() -> None:
    assert GROUPS["images"] == ("vaeac-image", "vaeac-image-fc", "gsnn-image", "gsnn-image-fc", "naive-bayes-image",
                                "vae-image-fc", "um-image", "gain-image", "gain-original-image")
    assert SPECS.groups["images"] == ("mnist", "omniglot", "omniglot28")
    assert [dataset_kind(d) for d in ("mnist", "omniglot", "omniglot28", "iris")] == ["image"] * 3 + ["table"]
    assert SPECS.get("omniglot").height == 105 and SPECS.get("omniglot28").height == 28
    assert get("vaeac-image-fc").params["network"] == "fc" and get("gsnn-image").params["alpha"] == 0.0
    for m in GROUPS["images"]:
        assert "methods/image_methods.py" in get(m).code
    # image masks are mechanisms of the one mask registry, with the mechanism signature
    assert "mnist_line" in MECHANISMS and "mcar" in MECHANISMS
    data = np.zeros((4, 1, 28, 28))
    m = MECHANISMS.get("mnist_line")(data, 0.0, np.random.default_rng(0))
    assert m.shape == data.shape and m.dtype == bool
    assert np.all((~m).reshape(4, 28, 28).sum(axis=(1, 2)) == 3 * 28)  # only a 3-row band is observed
    with pytest.raises(ValueError, match="images"):
        MECHANISMS.get("rectangle")(np.zeros((5, 3)), 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="not an image mask"):
        image_mask("mcar")


def test_image_methods_refuse_tables_by_name() -> None:
    from vaeac_bench.schema import Feature, Schema

    with pytest.raises(TypeError, match="image dataset"):
        build("naive-bayes-image").fit(np.zeros((4, 2)), Schema((Feature("a", "real"), Feature("b", "real"))))


def test_plan_pairs_image_datasets_with_image_methods() -> None:
    from vaeac_bench.image_cell import plan_image_cells

    tab_ds, tab_m, cells = plan_image_cells(["iris", "mnist", "omniglot28"], ["mean", "vaeac"], None, "mcar", True)
    assert tab_ds == ["iris"] and tab_m == ["mean", "vaeac"]
    from vaeac_bench.image_cell import MNIST_ONLY

    assert {(c.key.dataset, c.key.method) for c in cells} == {(d, m) for d in ("mnist", "omniglot28")
                                                              for m in GROUPS["images"]
                                                              if d == "mnist" or m not in MNIST_ONLY}
    assert MNIST_ONLY <= set(GROUPS["images"]) and {"um-image", "gain-image"} <= MNIST_ONLY
    assert {c.key.dataset: c.key.mechanism for c in cells} == {"mnist": "mnist_line", "omniglot28": "rectangle"}
    assert {c.key.split for c in cells} == {0}
    _, tab_m, cells = plan_image_cells(["mnist"], ["naive-bayes-image", "mean"], [1], "rectangle", False)
    assert tab_m == ["mean"] and [(c.key.method, c.key.mechanism, c.key.split) for c in cells] == [
        ("naive-bayes-image", "rectangle", 1)]


class _Killed(Exception):
    pass


def test_training_resumes_after_a_kill_exactly(tmp_path: Path) -> None:
    train, val = _images(32, seed=5), _images(8, seed=6)
    cfg = ImageTrainConfig(epochs=3, batch_size=16, validation_samples=3)

    def fresh() -> ImageVAEACModel:
        return ImageVAEACModel((1, 8, 8), "fc", FCArch(4, 16), generator=torch.Generator().manual_seed(3))

    full = fresh()
    ref = train_image_model(full, train, val, bernoulli, cfg, seed=11)

    calls = {"n": 0}

    def dying(n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 1 + 2 + 1:  # validation masks, epoch 1 (2 batches), then the first batch of epoch 2
            raise _Killed
        return bernoulli(n, h, w, rng)

    ck = tmp_path / "ck.pt"
    with pytest.raises(_Killed):
        train_image_model(fresh(), train, val, dying, cfg, seed=11, checkpoint=ck)
    assert ck.is_file()
    resumed_model = fresh()
    res = train_image_model(resumed_model, train, val, bernoulli, cfg, seed=11, checkpoint=ck)
    assert res.info.epochs_run == 3 and res.val_scores == pytest.approx(ref.val_scores, abs=0)
    for (k, a), (_, b) in zip(full.state_dict().items(), resumed_model.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    # the checkpoint is read with weights_only=True: another configuration's file is refused by name
    with pytest.raises(ValueError, match="another run"):
        train_image_model(fresh(), train, val, bernoulli, ImageTrainConfig(epochs=4, batch_size=16), seed=11,
                          checkpoint=ck)


@pytest.mark.skipif(not HAS_MNIST, reason="MNIST not in the data dir")
def test_quick_image_cell_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaeac_bench.runner import compute_cell, plan

    monkeypatch.setenv("VAEAC_BENCH_DATA", str(DATA))
    monkeypatch.setenv("VAEAC_BENCH_CHECKPOINTS", str(tmp_path / "ck"))
    recs = {}
    for m in ("vaeac-image-fc", "gsnn-image-fc", "naive-bayes-image"):
        cell = plan(["mnist"], [m], [0], "mnist_line", 0.0, 1, True)[0]
        recs[m] = compute_cell(cell)
    v, g, nb = recs["vaeac-image-fc"], recs["gsnn-image-fc"], recs["naive-bayes-image"]
    assert v["kind"] == "image" and v["network"] == "fc" and v["data"]["n_train"] == 128
    assert v["data"]["n_test"] == 16 and v["data"]["hidden_pixels_mean"] == 28 * 28 - 3 * 28
    assert v["data"]["test_selection"].startswith("seeded sample of the whole test set (16 of 10000")
    assert g["data"]["test_selection"] == v["data"]["test_selection"]  # every method scores the same objects
    assert set(v["nll"]) == {"is10", "mc10"} and set(g["nll"]) == {"mc10"} and set(nb["nll"]) == {"exact"}
    assert v["budget"] == {"epochs_run": 1, "paper_epochs": 30, "best_epoch": 1, "note": "1 of the paper's 30 epochs"}
    # 784 - 84 hidden binary pixels: an untrained-ish model sits near 700·log 2 nats, naive Bayes far below
    assert 100 < nb["metrics"]["nll_exact"] < v["metrics"]["nll_is10"] < 700 * np.log(2) * 1.2
    assert v["timing"]["sample100_one_object_s"] > 0 and v["timing"]["epoch_s"] > 0
    assert v["provenance"]["training"]["network"] == "fc"
    json.dumps(v, allow_nan=False)
    # same masks for every method: the exact NB NLL is reproducible, and the checkpoint exists for resuming
    assert list((tmp_path / "ck").rglob("*.pt"))
    assert v["timing"]["resumed"] is False and v["timing"]["fit_s"] > 0
    # a cell that finds an earlier process's checkpoint was not timed whole: its training time is withheld
    again = compute_cell(plan(["mnist"], ["vaeac-image-fc"], [0], "mnist_line", 0.0, 1, True)[0])
    assert again["timing"]["resumed"] is True and again["timing"]["fit_s"] is None
    assert again["timing"]["epoch_s"] is None and again["timing"]["fit_s_this_process"] >= 0
    assert again["nll"] == v["nll"]  # the finished checkpoint's network, scored the same way


def _record(dataset: str, method: str, nll: dict, quick: bool = False, epochs: int = 30) -> dict:
    from vaeac_bench.provenance import code_digest
    from vaeac_bench.results import config_hash
    from vaeac_bench.runner import cell_config

    mask = {"mnist": "mnist_line"}.get(dataset, "rectangle")
    from vaeac_bench.results import RESULT_SCHEMA

    return {"result_schema": RESULT_SCHEMA, "kind": "image", "dataset": dataset, "method": method, "split": 0,
            "mechanism": mask, "rate": 0.0,
            "quick": quick, "config_hash": config_hash(cell_config(dataset, method, mask, 0.0, 1, quick)),
            "nll": nll, "budget": {"epochs_run": epochs, "paper_epochs": 30}, "network": "fc",
            "timing": {"fit_s": 100.0, "sample100_one_object_s": 0.002},
            "provenance": {"code_digest": code_digest(method)}}


def test_image_tables_show_ours_beside_the_paper(tmp_path: Path) -> None:
    from vaeac_bench.results import atomic_write_json
    from vaeac_bench.tables.images import render_image_tables

    res = tmp_path / "results"
    recs = [_record("mnist", "vaeac-image-fc", {"is100": {"mean": 83.4, "std": 20.0}, "mc100": {"mean": 99.0,
                                                                                              "std": 21.0}}),
            _record("mnist", "naive-bayes-image", {"exact": {"mean": 177.2, "std": 41.0}}),
            _record("omniglot28", "gsnn-image", {"mc100": {"mean": 150.0, "std": 30.0}})]
    stale = _record("mnist", "vaeac-image", {"is100": {"mean": 1.0, "std": 0.0}})
    stale["config_hash"] = "0000000000"  # another configuration: never reported
    recs[2]["provenance"]["code_digest"] = "0" * 16  # computed by other code: reported, and flagged
    for i, r in enumerate([*recs, stale]):
        atomic_write_json(res / f"{i}.json", r)
    t5, t9 = render_image_tables(res, tmp_path / "reports")
    text9 = t9.read_text()
    row = next(line for line in text9.splitlines() if line.startswith("| VAEAC IS-10²"))
    assert row.split(" | ")[1:4] == ["not run", "83 ± 20 (30/30 ep)", "61 ± 1"]
    nb = next(line for line in text9.splitlines() if line.startswith("| Naive Bayes"))
    assert "177 ± 41" in nb and "| 205 |" in nb and "| 2490 |" in nb
    assert nb.split(" | ")[1:3] == ["177 ± 41 (no network)", "same"]  # not claimed as a conv result
    gsnn = next(line for line in text9.splitlines() if line.startswith("| GSNN MC-10²"))
    assert gsnn.rstrip(" |").split(" | ")[-2] == "150 ± 30 (30/30 ep, older code)"  # omniglot28: its own column
    assert "Omniglot 28×28 (ours only)" in text9 and "1.0 ± 0.00" not in text9
    text5 = t5.read_text()
    assert "| 83 ± 20 | no GPU lent yet | 61 |" in text5 and "2.0 ms" in text5 and "GPU" in text5
    assert "100 s (30 epochs, 3 s an epoch)" in text5
    recs[0]["timing"] |= {"fit_s": None, "resumed": True}  # trained across runs: its time is not printed
    atomic_write_json(res / "0.json", recs[0])
    t5, _ = render_image_tables(res, tmp_path / "reports")
    assert "not measured (30 epochs, resumed across runs)" in t5.read_text()


def test_cli_accepts_the_image_tables_and_refuses_unknown_ones(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vaeac_bench.cli import main

    assert main(["--tables", "12", "--no-run", "--results-dir", str(tmp_path)]) == 2
    assert "1, 2, 3, 4, 5, 6, 7, 8, 9" in capsys.readouterr().err  # 3, 4, 6: CelebA (issue 11)


def test_scored_objects_are_a_seeded_sorted_sample_of_the_whole_test_set() -> None:
    from vaeac_bench.image_cell import objects_seed, scored_objects, scored_test

    idx = scored_objects(1000, 100, 7)
    assert idx.shape == (100,) and np.array_equal(idx, np.sort(idx)) and len(np.unique(idx)) == 100
    assert 0 <= idx.min() and idx.max() < 1000
    assert np.array_equal(idx, scored_objects(1000, 100, 7))  # deterministic for a seed
    assert not np.array_equal(idx, scored_objects(1000, 100, 8))
    # a test set ordered in 10 blocks (as Omniglot's by character): the sample hits every block, the first 100 one
    blocks = np.repeat(np.arange(10), 100)
    assert set(blocks[idx]) == set(range(10)) and set(blocks[:100]) == {0}
    assert np.array_equal(scored_objects(50, 100, 7), np.arange(50))  # n_test >= n_total: all of them
    assert np.array_equal(scored_objects(50, 50, 7), np.arange(50))
    for args, name in (((0, 1, 0), "n_total"), ((10, 0, 0), "n_test"), ((10, 2, -1), "seed"),
                       ((10.0, 2, 0), "n_total"), ((10, True, 0), "n_test")):
        with pytest.raises(ValueError, match=name):
            scored_objects(*args)
    # the cell's choice: seeded by the dataset only (every method and split scores the same objects)
    test = np.arange(1000).reshape(1000, 1, 1, 1)
    x, rule = scored_test("omniglot", test, 100)
    assert np.array_equal(x.ravel(), scored_objects(1000, 100, objects_seed("omniglot")))
    assert rule == f"seeded sample of the whole test set (100 of 1000, file order), seed {objects_seed('omniglot')}"
    assert scored_test("omniglot", test[:10], 100)[1] == "all 10 test objects"
