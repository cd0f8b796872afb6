"""CelebA (issue 11): data-source choice, masks and table 6, PSNR, the Gaussian VAEAC, baselines, tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from vaeac_bench.datasets.celeba import (
    SUBSET_FILE,
    center_crop_box,
    channel_stats,
    find_celeba_source,
    load_celeba,
    seeded_split,
)
from vaeac_bench.datasets.sources import DataNotFoundError

DATA = Path(__import__("os").environ.get("VAEAC_BENCH_DATA", "/nonexistent"))
HAVE_SUBSET = (DATA / SUBSET_FILE).is_file()


def _fake_official(root: Path, n: int = 12, partition: bool = True) -> Path:
    """``root/celeba/img_align_celeba/NNNNNN.jpg``: 178x218, red outside the central 128 crop, a colour inside."""
    from PIL import Image

    img_dir = root / "celeba" / "img_align_celeba"
    img_dir.mkdir(parents=True)
    for i in range(n):
        a = np.zeros((218, 178, 3), np.uint8)
        a[..., 0] = 255  # red frame: must be cropped away
        a[45:173, 25:153] = (0, 20 * i % 256, 200)  # the central 128x128 crop (rows 45-172, cols 25-152)
        Image.fromarray(a).save(img_dir / f"{i + 1:06d}.jpg", quality=100, subsampling=0)
    if partition:
        lines = [f"{i + 1:06d}.jpg {0 if i < 8 else 1 if i < 10 else 2}" for i in range(n)]
        (root / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return img_dir


@pytest.mark.parametrize("res", [64, 128])
def test_official_images_in_the_data_dir_are_preferred_cropped_and_partitioned(tmp_path, res):
    _fake_official(tmp_path)
    assert find_celeba_source(tmp_path)[0] == "official"
    d = load_celeba(tmp_path, resolution=res)
    assert d.source == "official" and d.split_rule == "official partition file"
    assert (len(d.train), len(d.val), len(d.test)) == (8, 2, 2)
    assert d.train.shape[1:] == (3, res, res) and d.train.dtype == np.float32
    # the red frame is outside the central 128 crop: no pixel keeps it (JPEG ringing at the very edge aside)
    edge = res // 32
    assert d.train[:, 0, edge:-edge, edge:-edge].max() < 0.1 and abs(d.train[:, 2].mean() - 200 / 255) < 0.03
    assert d.train[:, 0].mean() < 0.03
    assert f"{res}×{res}" in d.describe() and "official" in d.describe()


def test_without_a_partition_file_the_official_images_get_a_seeded_split(tmp_path):
    _fake_official(tmp_path, n=40, partition=False)
    a, b = load_celeba(tmp_path, seed=3), load_celeba(tmp_path, seed=3)
    assert a.split_rule.startswith("seeded split") and np.array_equal(a.test, b.test)
    assert len(a.train) + len(a.val) + len(a.test) == 40
    assert not np.array_equal(load_celeba(tmp_path, seed=4).test, a.test)


def test_an_explicit_official_dir_without_images_is_refused(tmp_path):
    with pytest.raises(DataNotFoundError, match="img_align_celeba"):
        find_celeba_source(official_dir=tmp_path)


def test_no_source_at_all_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("VAEAC_BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="celeba_subset"):
        find_celeba_source(tmp_path)


def test_center_crop_matches_the_usual_preprocessing():
    assert center_crop_box(178, 218, 128) == (25, 45, 153, 173)  # reference CenterCrop(128)
    assert center_crop_box(89, 109, 64) == (12, 22, 76, 86)  # its half-resolution counterpart
    with pytest.raises(ValueError):
        center_crop_box(50, 50, 64)


def test_seeded_split_is_disjoint_and_deterministic():
    tr, va, te = seeded_split(100, (80, 10, 10), 0)
    assert len(set(tr) | set(va) | set(te)) == 100
    assert np.array_equal(te, seeded_split(100, (80, 10, 10), 0)[2])
    with pytest.raises(ValueError):
        seeded_split(10, (8, 2, 2), 0)


@pytest.mark.skipif(not HAVE_SUBSET, reason="the CelebA subset is not in $VAEAC_BENCH_DATA")
def test_the_subset_loads_at_64_only():
    d = load_celeba(max_images=30)
    assert d.source == "subset" and d.train.shape[1:] == (3, 64, 64) and 0 <= d.train.min() < d.train.max() <= 1
    with pytest.raises(ValueError, match="only 64x64"):
        load_celeba(resolution=128)
    mean, std = channel_stats(d.train)
    assert mean.shape == (3,) and (std > 0).all()


# --- masks and table 6 ---------------------------------------------------------------------------------------
def test_gfc_masks_are_registered_and_halved_at_64():
    from vaeac_bench.datasets.image_registry import image_mask
    from vaeac_bench.tables.celeba import gfc_boxes

    assert gfc_boxes(128)["O1"] == (33, 70, 52, 115) and gfc_boxes(128)["O5"] == (61, 99, 52, 73)
    assert gfc_boxes(128)["O2"] == (57, 94, 52, 115)  # the code's O2 (the paper's row is self-contradictory)
    assert gfc_boxes(64)["O1"] == (16, 35, 26, 57)
    m = image_mask("gfc_o3")(4, 64, 64, np.random.default_rng(0))
    assert m.shape == (4, 64, 64) and (m == m[0]).all()


@pytest.mark.parametrize("size,side", [(64, 8), (128, 16)])
def test_gfc_training_rectangles_have_the_scaled_minimum_side(size, side):
    from vaeac_bench.datasets.image_registry import image_mask

    m = image_mask("gfc_train")(400, size, size, np.random.default_rng(1))
    h, w = m.any(2).sum(1), m.any(1).sum(1)
    assert h.min() >= side and w.min() >= side and h.min() < 2 * side  # the bound is tight, not larger


def test_table6_prints_the_paper_beside_the_registry():
    from vaeac_bench.tables.celeba import render_table6

    text = render_table6(64)
    assert "| O1 | Left half of the face | 33 70 52 115 | 33 70 52 115 | 16 35 26 57 |" in text
    assert "57 70 95 115" in text and "contradicts" in text


# --- PSNR ----------------------------------------------------------------------------------------------------
def test_psnr_whole_and_hidden_agree_with_hand_computation():
    from vaeac_bench.psnr import psnr_curves, squared_errors

    truth = np.full((1, 3, 4, 4), 0.5)
    mask = np.zeros((1, 4, 4), bool)
    mask[0, :2] = True  # 8 of 16 pixels hidden
    s = np.repeat(truth[None], 2, 0)
    s[0, 0, :, :2] += 10 / 255  # sample 0: error 10 on every hidden value
    s[1, 0, :, :2] += 5 / 255  # sample 1: error 5
    whole, hidden = squared_errors(s, truth, mask)
    assert np.allclose(hidden[:, 0], [100, 25]) and np.allclose(whole[:, 0], [50, 12.5])
    c = psnr_curves(s, truth, mask)
    assert math.isclose(c["hidden"][0], 10 * math.log10(255**2 / 100))
    assert math.isclose(c["hidden"][1], 10 * math.log10(255**2 / 25))  # best of 2 picks sample 1
    assert math.isclose(c["whole"][1], 10 * math.log10(255**2 / 12.5))


def test_best_of_k_never_decreases():
    from vaeac_bench.psnr import psnr_curves

    rng = np.random.default_rng(0)
    truth = rng.random((5, 3, 8, 8))
    mask = rng.random((5, 8, 8)) < 0.5
    c = psnr_curves(rng.random((10, 5, 3, 8, 8)), truth, mask)
    assert all(b >= a for a, b in zip(c["whole"], c["whole"][1:], strict=False))
    assert all(b >= a for a, b in zip(c["hidden"], c["hidden"][1:], strict=False))


# --- the Gaussian VAEAC ------------------------------------------------------------------------------------------
def test_the_gaussian_likelihood_is_the_normal_density_of_the_hidden_values():
    from vaeac_bench.methods.celeba_model import GaussianImageVAEACModel, celeba_arch
    from vaeac_bench.methods.vaeac.image import EstimatorView, image_batch

    model = GaussianImageVAEACModel((3, 64, 64), celeba_arch(64, 1, 4)).eval()
    x = torch.randn(2, 3, 64, 64)
    b = (torch.rand(2, 1, 64, 64) < 0.5).float().expand(-1, 3, -1, -1)
    view = EstimatorView(model)
    mu, sig, ctx = view.prior(x, b)
    params = view.decode(mu, ctx)
    out = model.nets.generator(mu, ctx)
    m, s = out[:, :3], torch.nn.functional.softplus(out[:, 3:]).clamp_min(1e-2)
    ref = (torch.distributions.Normal(m, s).log_prob(x) * b).flatten(1).sum(1)
    assert torch.allclose(view.log_likelihood(params, x, b), ref, rtol=1e-5, atol=1e-3)
    assert model.loss(image_batch(x), b.flatten(1)).isfinite()


def test_celeba_vaeac_fits_inpaints_keeping_observed_pixels_and_scores(tmp_path):
    from vaeac_bench.datasets.image_registry import image_mask
    from vaeac_bench.methods.celeba import CelebAVAEAC

    rng = np.random.default_rng(0)
    x = rng.random((24, 3, 64, 64)).astype(np.float32)
    est = CelebAVAEAC(epochs=1, batch_size=8, max_val=4, validation_samples=2, random_state=0)
    est.fit_images(x[:16], x[16:20], image_mask("yeh_center"), checkpoint=tmp_path / "ck.pt")
    assert est.fit_info_["epochs_run"] == 1 and est.fit_info_["paper_epochs"] == 50
    mask = image_mask("yeh_center")(4, 64, 64, rng)
    s = est.sample_images(x[20:], mask, 3, seed=1)
    assert s.shape == (3, 4, 3, 64, 64) and 0 <= s.min() and s.max() <= 1
    obs = ~mask[None, :, None]
    assert np.array_equal(np.where(obs, s, 0), np.where(obs, x[20:][None], 0).repeat(3, 0))
    assert not np.array_equal(np.where(obs, 0, s), np.where(obs, 0, x[20:][None]).repeat(3, 0))
    assert np.abs(s[0] - s[1]).max() > 0  # different z, different inpaintings (barely so after one tiny epoch)
    assert np.allclose(s, est.sample_images(x[20:], mask, 3, seed=1))  # seeded
    nll = est.nll(x[20:], mask, "is", 4)
    assert nll.shape == (4,) and np.isfinite(nll).all()


def test_a_subset_trained_vaeac_scores_in_the_whole_training_split_s_space(tmp_path):
    """max_train trains on the first faces, but the channel statistics are the split's (as naive Bayes')."""
    from vaeac_bench.datasets.celeba import channel_stats
    from vaeac_bench.datasets.image_registry import image_mask
    from vaeac_bench.methods.celeba import CelebAVAEAC, GaussianNaiveBayes

    rng = np.random.default_rng(1)
    x = rng.random((20, 3, 64, 64)).astype(np.float32)
    x[8:16] *= 0.5  # the faces left out by max_train are darker: a subset's statistics would differ
    est = CelebAVAEAC(epochs=1, batch_size=8, max_train=8, max_val=2, validation_samples=2, random_state=0)
    est.fit_images(x[:16], x[16:18], image_mask("yeh_center"), checkpoint=tmp_path / "ck.pt")
    nb = GaussianNaiveBayes().fit_images(x[:16], x[16:18], None)
    assert est.fit_info_["n_train"] == 8
    for a, b in zip((est.mean_, est.std_), channel_stats(x[:16]), strict=True):
        assert np.allclose(a, b)
    assert np.allclose(est.mean_, nb.mean_) and np.allclose(est.std_, nb.std_)


def test_gaussian_naive_bayes_nll_is_exact():
    from scipy.stats import norm

    from vaeac_bench.methods.celeba import GaussianNaiveBayes

    rng = np.random.default_rng(0)
    x = rng.random((50, 3, 4, 4))
    nb = GaussianNaiveBayes().fit_images(x, x[:1], None)
    mask = rng.random((2, 4, 4)) < 0.5
    z = (x[:2] - nb.mean_[:, None, None]) / nb.std_[:, None, None]
    ref = -(norm.logpdf(z, nb.mu_, np.sqrt(nb.var_)) * mask[:, None]).reshape(2, -1).sum(1)
    assert np.allclose(nb.nll(x[:2], mask), ref)
    assert nb.nll(x[:2], np.zeros_like(mask)).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="kind must be 'exact'"):
        nb.nll(x[:2], mask, kind="is")


# --- classical baselines (optional extra) ----------------------------------------------------------------------
def _smooth_faces(n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    x = np.stack([np.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 + 0.2 * xx * yy]) for _ in range(n)]).astype(np.float32)
    mask = np.zeros((n, 32, 32), bool)
    mask[:, 10:20, 12:22] = True
    return x, mask


@pytest.mark.parametrize("algo,lib,floor", [("biharmonic", "skimage", 40.0), ("telea", "cv2", 30.0),
                                             ("navier-stokes", "cv2", 30.0)])
def test_classical_inpainting_restores_a_smooth_image(algo, lib, floor):
    pytest.importorskip(lib)
    from vaeac_bench.methods.celeba import ClassicalInpainting
    from vaeac_bench.psnr import psnr_curves

    x, mask = _smooth_faces()
    est = ClassicalInpainting(algo).fit_images(x, x, None)
    s = est.sample_images(x, mask, 2)
    obs = ~mask[None, :, None]
    assert np.array_equal(np.where(obs, s, 0), np.where(obs, x[None], 0).repeat(2, 0))
    grey = np.where(mask[:, None], 0.5, x)[None]
    assert psnr_curves(s, x, mask)["hidden"][0] > max(floor, psnr_curves(grey, x, mask)["hidden"][0] + 5)


def test_an_unknown_classical_algorithm_is_refused():
    from vaeac_bench.methods.celeba import ClassicalInpainting

    with pytest.raises(ValueError, match="algorithm"):
        ClassicalInpainting("magic").fit_images(np.zeros((1, 3, 4, 4)), None, None)
    with pytest.raises(RuntimeError, match="not fitted"):  # never a silent default algorithm
        ClassicalInpainting("magic").inpaint(np.zeros((1, 3, 4, 4)), np.zeros((1, 4, 4), bool))


def test_a_partition_label_outside_0_1_2_is_not_read_as_one(tmp_path):
    from vaeac_bench.datasets.celeba import _partition

    img_dir = _fake_official(tmp_path, n=3, partition=False)
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 12\n000003.jpg 01\n")
    assert _partition(img_dir) == {"000001.jpg": 0}


# --- registries, planning, tables ------------------------------------------------------------------------------
def test_celeba_is_registered_with_its_methods_and_experiments():
    from vaeac_bench.celeba_cell import CELEBA_PAIRS, plan_celeba_cells
    from vaeac_bench.datasets import SPECS, resolve
    from vaeac_bench.datasets.image_registry import dataset_kind
    from vaeac_bench.methods import GROUPS

    assert resolve("celeba") == ["celeba64"] and dataset_kind("celeba64") == "celeba" and SPECS["celeba64"].height == 64
    rest_d, rest_m, cells = plan_celeba_cells(["celeba64", "iris"], ["mean", "vaeac-celeba"], quick=True)
    assert rest_d == ["iris"] and rest_m == ["mean"]
    assert [(c.key.method, c.key.mechanism) for c in cells] == [p for p in CELEBA_PAIRS if p[0] == "vaeac-celeba"]
    assert len(plan_celeba_cells(["celeba64"], [], True)[2]) == len(CELEBA_PAIRS)
    assert set(GROUPS["celeba"]) == {m for m, _ in CELEBA_PAIRS}


def _record(method: str, mask: str, value: float) -> dict:
    from vaeac_bench.celeba_cell import plan_celeba_cells
    from vaeac_bench.provenance import code_digest

    cell = next(c for c in plan_celeba_cells(["celeba64"], [method], False)[2] if c.key.mechanism == mask)
    labels = ("Center", "Pattern", "Random", "Half") if mask == "yeh_mixture" else tuple(f"O{i}" for i in range(1, 7))
    curve = [value + 0.1 * k for k in range(10)]
    return {"result_schema": 1, "kind": "celeba", "dataset": "celeba64", "method": method, "mechanism": mask,
            "rate": 0.0, "split": 0, "config_hash": cell.key.config_hash, "quick": False,
            "data": {"describe": "CelebA 10k subset, 64×64", "resolution": 64, "n_test": 5, "n_nll": 5},
            "budget": {"epochs_run": 3, "paper_epochs": 50}, "eval": {"n_samples": 10},
            "psnr": {lab: {"whole": curve, "hidden": [c - 3 for c in curve]} for lab in labels},
            "nll": {"is100": {"mean": 12345.0, "std": 10.0}, "mc100": {"mean": 23456.0, "std": 20.0}},
            "provenance": {"code_digest": code_digest(method)}}


def test_tables_print_ours_beside_the_paper_with_source_and_epochs():
    from vaeac_bench.tables.celeba import render_table3, render_table4, render_table9_celeba

    recs = [_record("vaeac-celeba", "yeh_mixture", 20.0), _record("vaeac-celeba", "gfc_train", 18.0)]
    t3 = render_table3(recs)
    assert "| VAEAC, 1 sample | 20.0 | 22.1 | 20.0 | 21.4 | 20.0 | 29.3 | 20.0 | 14.9 |" in t3
    assert "| VAEAC, best of 10 | 20.9 | 23.7 |" in t3 and "Context Encoder (paper only) | — | 21.3" in t3
    assert "3 of the paper's 50 epochs" in t3 and "64×64" in t3 and "Biharmonic (scikit-image) | not run" in t3
    assert "| VAEAC, 1 sample | 17.0 |" in t3.split("Hidden-region")[1] or "17.0" in t3.split("Hidden-region")[1]
    assert "| VAEAC, 1 sample | 18.0 | 20.8 |" in render_table4(recs)
    t9 = render_table9_celeba(recs)
    assert "| VAEAC IS-10² | 12345 ± 10 | 34035 ± 1609 |" in t9 and "| VAEAC MC-10⁴ | not computed |" in t9
    assert "older code" not in t3 + t9
    recs[0]["provenance"]["code_digest"] = "0" * 16  # computed by other code: still shown, and flagged
    assert "inpaintings each; **computed by older code**" in render_table3(recs)


def test_a_stale_config_does_not_count(tmp_path):
    import json

    from vaeac_bench.tables.celeba import current_celeba_results

    good, bad = _record("vaeac-celeba", "yeh_mixture", 20.0), _record("vaeac-celeba", "gfc_train", 18.0)
    bad["config_hash"] = "0" * 10
    for i, r in enumerate((good, bad)):
        (tmp_path / f"{i}.json").write_text(json.dumps(r))
    from vaeac_bench.results import RESULT_SCHEMA

    for i, r in enumerate((good, bad)):
        r["result_schema"] = RESULT_SCHEMA
        (tmp_path / f"{i}.json").write_text(json.dumps(r))
    assert [r["mechanism"] for r in current_celeba_results(tmp_path)] == ["yeh_mixture"]


def test_channels_last_is_the_default_layout_and_changes_no_loss_beyond_float_order():
    from vaeac_bench.methods.celeba_model import GaussianImageVAEACModel, celeba_arch
    from vaeac_bench.methods.vaeac.image import image_batch
    from vaeac_bench.methods.vaeac.model import ObjectiveConfig

    def model(cl: bool) -> GaussianImageVAEACModel:
        return GaussianImageVAEACModel((3, 64, 64), celeba_arch(64, 1, 8, 1.0), ObjectiveConfig(alpha=1.0),
                                       generator=torch.Generator().manual_seed(3), channels_last=cl)

    fast, plain = model(True), model(False)
    convs = [m for m in fast.nets.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    b = (torch.rand(2, 3 * 64 * 64, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    losses = [m.loss(image_batch(x), b, torch.Generator().manual_seed(2)).item() for m in (fast, plain)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-3)  # float32: summation order only
    # in float64 the two layouts compute the same function to rounding
    for m in (fast, plain):
        m.nets.to(torch.float64)
        assert all(c.weight.dtype == torch.float64 for c in m.nets.modules() if isinstance(c, torch.nn.Conv2d))
    exact = [m.loss(image_batch(x.double()), b.double(), torch.Generator().manual_seed(2)).item()
             for m in (fast, plain)]
    assert exact[0] == pytest.approx(exact[1], rel=1e-9)


@pytest.mark.skipif(not HAVE_SUBSET, reason="the CelebA subset is not in the data dir")
def test_mc_long_of_a_celeba_cell_uses_its_nll_faces_and_is_tabled(tmp_path, monkeypatch):
    import json

    from vaeac_bench.celeba_cell import plan_celeba_cells
    from vaeac_bench.cli import main
    from vaeac_bench.image_long_mc import attach_long_mc, compute_long_mc, long_mc_path, matches, run_long_mc
    from vaeac_bench.tables.celeba import render_table9_celeba

    monkeypatch.setenv("VAEAC_BENCH_CHECKPOINTS", str(tmp_path / "ck"))
    res, rep = tmp_path / "results", tmp_path / "reports"
    argv = ["--datasets", "celeba", "--methods", "gsnn-celeba,naive-bayes-celeba", "--quick", "--jobs", "1", "-q",
            "--results-dir", str(res), "--reports-dir", str(rep)]
    assert main(argv) == 0
    cells = plan_celeba_cells(["celeba64"], ["gsnn-celeba", "naive-bayes-celeba"], True)[2]
    gsnn = next(c for c in cells if c.key.method == "gsnn-celeba" and c.key.mechanism == "gfc_train")
    # 100 samples stand in for 10⁴ (the same code path, a hundredth of the decoder passes)
    written = run_long_mc(cells, res, 2, samples=100, progress=False)
    path = res / gsnn.key.relpath()
    assert written == [long_mc_path(path, 100)]  # GSNN on gfc_train only: naive Bayes is exact, yeh has no NLL
    record, long = json.loads(path.read_text()), json.loads(written[0].read_text())
    assert matches(long, record) and long["n_objects"] == 2 and np.isfinite(long["per_object"]).all()
    assert long["objects"].endswith(f"of the cell's {record['data']['n_nll']} test objects")
    # the MC estimate on table 9's own faces and masks: MC-100 on object 0 is the record's scale, and deterministic
    assert compute_long_mc(gsnn, record, 2, samples=100)["per_object"] == long["per_object"]
    attach_long_mc([record], res, samples=100)
    assert record["nll"]["mc100"]["n"] == 2
    record["nll"]["mc10000"] = record["nll"].pop("mc100")  # how a 10⁴ result on 2 of the objects is printed
    row = next(line for line in render_table9_celeba([record]).splitlines() if line.startswith("| GSNN MC-10⁴"))
    assert "(first 2 objects)" in row


def test_celeba_eval_scores_1000_faces_and_the_class_defaults_are_the_registered_budget():
    from vaeac_bench.celeba_cell import FULL_EVAL, QUICK_EVAL, CelebAEval
    from vaeac_bench.methods import get
    from vaeac_bench.methods.celeba import CelebAVAEAC

    assert CelebAEval().n_test == 1000 and CelebAEval().n_nll == 1000 and FULL_EVAL == CelebAEval()
    assert QUICK_EVAL.n_test <= 16 and QUICK_EVAL.n_nll <= 16  # the tests' cells stay small
    defaults = CelebAVAEAC().get_params(deep=False)
    assert defaults["max_train"] is None
    for name in ("vaeac-celeba", "gsnn-celeba"):
        params = get(name).params
        assert {k: defaults[k] for k in params if k != "alpha"} == {k: v for k, v in params.items() if k != "alpha"}
    assert defaults["alpha"] == get("vaeac-celeba").params["alpha"]


def test_the_cell_and_its_mc_long_score_the_same_nll_faces(tmp_path, monkeypatch):
    """One place (celeba_cell.nll_objects) chooses table 9's faces and rectangles, for the cell and its MC-10⁴."""
    from types import SimpleNamespace

    from vaeac_bench import celeba_cell
    from vaeac_bench.image_long_mc import compute_long_mc

    rng = np.random.default_rng(0)
    faces = rng.random((26, 3, 64, 64)).astype(np.float32)
    data = SimpleNamespace(train=faces[:16], val=faces[16:20], test=faces[20:], source="subset", resolution=64,
                           split_rule="fake", describe=lambda: "fake faces")
    monkeypatch.setattr(celeba_cell, "load_for", lambda *a, **k: data)
    monkeypatch.setattr(celeba_cell, "QUICK_EVAL", celeba_cell.CelebAEval(  # a smaller smoke budget: fast
        n_test=2, n_samples=2, n_nll=8, is_samples=2, mc_samples=2, timing_samples=2))
    calls = []
    real = celeba_cell.nll_objects

    def spy(*args):
        out = real(*args)
        calls.append((args[1:], out))
        return out

    monkeypatch.setattr(celeba_cell, "nll_objects", spy)
    cell = next(c for c in celeba_cell.plan_celeba_cells(["celeba64"], ["gsnn-celeba"], True)[2]
                if c.key.mechanism == "gfc_train")
    record = celeba_cell.compute_celeba_cell(cell, checkpoint_dir=tmp_path)
    long = compute_long_mc(cell, record, 6, samples=4, checkpoint_dir=tmp_path)
    assert len(calls) == 2 and calls[0][0] == calls[1][0]
    (x0, b0, rule0), (x1, b1, rule1) = calls[0][1], calls[1][1]
    assert np.array_equal(x0, x1) and np.array_equal(b0, b1) and np.array_equal(x0, data.test[:len(x0)])
    # the rule is written once and travels with both results
    assert record["data"]["nll_selection"] == long["test_selection"] == rule0 == rule1
    assert rule0.startswith(f"the first {len(x0)} test faces")
    assert record["data"]["n_nll"] == long["n_objects"] == len(x0) == 6
