"""The CUDA paths themselves (issue 12 §3): run only where CUDA is, as the prepared GPU check does
(``scripts/gpu_check.sh`` on a lent machine); skipped here, where ``tests/test_device.py`` covers the plumbing."""

from __future__ import annotations

import inspect
import json
import math

import numpy as np
import pytest
import torch

from vaeac_bench.methods import GROUPS, build, get, resolve
from vaeac_bench.runner import plan, run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run on a GPU machine)")

IMAGE_OR_FACE = set(GROUPS["images"]) | set(GROUPS["celeba"])
_NEURAL = [m for m in resolve("all") if m not in IMAGE_OR_FACE
           and "device" in inspect.signature(get(m).load_class()).parameters]
#: one registered method per neural tabular class, and the two configurations of each class that differ in kind
NEURAL_TABULAR = sorted(set({get(m).target: m for m in reversed(_NEURAL)}.values()) | {"gsnn", "vaeac-default"})


def test_every_neural_tabular_method_runs_a_cell_on_cuda_and_says_so(tmp_path):
    summary = run(plan(["iris"], NEURAL_TABULAR, [0], quick=True), tmp_path, device="cuda", progress=False)
    assert not summary.failed, summary.failed
    records = [json.loads(p.read_text()) for p in tmp_path.rglob("*.json")]
    assert sorted(r["method"] for r in records) == sorted(NEURAL_TABULAR)
    for r in records:
        prov = r["provenance"]
        assert prov["device"].startswith("cuda") and prov["gpu"] == torch.cuda.get_device_name(0), r["method"]
        assert all(math.isfinite(v) for v in r["metrics"].values() if isinstance(v, float)), r["method"]


def test_a_cuda_fit_matches_the_cpu_fit_in_quality(mixed_table):
    # the same seed on two devices draws different numbers; the fits must still be equally good
    full, obs, schema = mixed_table
    scores = {}
    for device in ("cpu", "cuda"):
        est = build("vaeac", quick=True, device=device, random_state=0).fit(obs, schema)
        imp = est.impute(obs, n=5).mean(axis=0)
        hidden = np.isnan(obs) & ~np.isnan(full)
        real = [j for j, f in enumerate(schema.features) if f.kind == "real"]
        err = (imp - full)[:, real][hidden[:, real]]
        scores[device] = float(np.sqrt(np.mean(err ** 2)))
    assert abs(scores["cuda"] - scores["cpu"]) < 0.25 * scores["cpu"], scores


def test_the_fc_image_vaeac_trains_and_scores_on_cuda():
    from vaeac_bench.datasets.image_registry import image_mask

    rng = np.random.default_rng(0)
    train, val = ((rng.random((n, 1, 28, 28)) < 0.13).astype(np.float32) for n in (128, 32))
    est = build("vaeac-image-fc", quick=True, device="cuda", random_state=0)
    est.fit_images(train, val, image_mask("mnist_line"), dataset="mnist")
    assert next(est.model_.parameters()).device.type == "cuda"
    b = image_mask("mnist_line")(4, 28, 28, np.random.default_rng(1))
    nll = est.nll(val[:4], b, "is", 10)
    assert nll.shape == (4,) and np.isfinite(nll).all()


def test_image_vaeac_sampling_on_cuda_draws_what_the_cpu_draws():
    # the prior noise and the Bernoulli draws come from a CPU stream whatever the device, so the same fitted model
    # inpaints the same pixels on both (up to float rounding of the probabilities near a threshold)
    import copy

    from vaeac_bench.datasets.image_registry import image_mask

    x = (np.random.default_rng(0).random((64, 1, 28, 28)) < 0.13).astype(np.float32)
    est = build("vaeac-image-fc", quick=True, device="cuda", random_state=0)
    est.fit_images(x[:48], x[48:], image_mask("mnist_line"), dataset="mnist")
    b = image_mask("mnist_line")(1, 28, 28, np.random.default_rng(1))
    on_gpu = est.sample_images(x[:1], b, 100, seed=3)
    assert on_gpu.shape == (100, 1, 1, 28, 28)
    cpu = copy.copy(est)
    cpu.model_ = copy.deepcopy(est.model_).cpu()
    assert np.mean(cpu.sample_images(x[:1], b, 100, seed=3) != on_gpu) < 1e-3


@pytest.mark.parametrize("method", ["um-image", "gain-image", "gsnn-image"])
def test_the_other_image_methods_train_and_sample_on_cuda(method):
    from vaeac_bench.datasets.image_registry import image_mask

    x = (np.random.default_rng(0).random((64, 1, 28, 28)) < 0.13).astype(np.float32)
    est = build(method, quick=True, device="cuda", random_state=0)
    if method == "gain-image":
        est.set_params(iterations=20)
    est.fit_images(x[:48], x[48:], image_mask("mnist_line"), dataset="mnist")
    b = image_mask("mnist_line")(2, 28, 28, np.random.default_rng(1))
    out = est.sample_images(x[:2], b, 3)
    assert out.shape == (3, 2, 1, 28, 28) and set(np.unique(out)) <= {0.0, 1.0}
    for kind in est.estimators():
        nll = est.nll(x[:2], b, kind, 5)
        assert nll.shape == (2,) and np.isfinite(nll).all(), kind
