"""``--device`` plumbing (issue 12 §3), tested on CPU: refused without CUDA, reaching every neural method,
recorded in provenance, never part of a cell's identity."""

from __future__ import annotations

import inspect
import json

import pytest
import torch

import vaeac_bench.runner as runner
from vaeac_bench.cli import main
from vaeac_bench.methods import build, get, resolve
from vaeac_bench.runner import plan, run


def test_cuda_on_a_machine_without_cuda_is_refused_with_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(["--datasets", "iris", "--methods", "vaeac", "--splits", "1", "--quick", "--device", "cuda",
                 "--results-dir", str(tmp_path / "r"), "--reports-dir", str(tmp_path / "p"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("run-bench: error: --device cuda") and "CUDA is not available" in err[0]
    assert not (tmp_path / "r").exists()  # refused before any work


def test_a_bad_device_or_a_scheduler_without_dask_is_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["--device", "tpu"])
    assert exit_.value.code == 2 and "--device takes cpu, cuda, cuda:N or auto; got 'tpu'" in capsys.readouterr().err
    assert main(["--scheduler", "tcp://127.0.0.1:1", "--datasets", "iris", "--methods", "mean", "--tables", "none",
                 "--results-dir", str(tmp_path)]) == 2
    assert "add --backend dask" in capsys.readouterr().err
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got 'cuda:x'"):
        run(plan(["iris"], ["mean"], [0]), tmp_path, device="cuda:x", progress=False)


def _devices_seen(monkeypatch: pytest.MonkeyPatch, cls: type, method: str) -> list[str]:
    """Wrap ``cls.method`` so that each call records the estimator's ``device``; returns the list it fills."""
    seen: list[str] = []
    wrapped = getattr(cls, method)

    def spy(self, *args, **kwargs):
        seen.append(self.device)
        return wrapped(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, spy)
    return seen


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every device but "cpu" resolves to cuda:1, so the placement is checked on a machine without a GPU."""
    import vaeac_bench.nn.harness as harness

    monkeypatch.setattr(harness, "resolve_device", lambda d: torch.device("cuda:1" if d != "cpu" else "cpu"))


def test_cpu_reaches_the_estimator_and_is_recorded(monkeypatch, tmp_path):
    from vaeac_bench.methods.vaeac import VAEACMethod

    seen = _devices_seen(monkeypatch, VAEACMethod, "fit")
    assert main(["--datasets", "iris", "--methods", "vaeac,mean", "--splits", "1", "--quick", "--jobs", "1",
                 "--device", "cpu", "--tables", "none", "--results-dir", str(tmp_path), "-q"]) == 0
    assert seen == ["cpu"]
    for path in tmp_path.rglob("*.json"):
        prov = json.loads(path.read_text())["provenance"]
        assert (prov["device"], prov["device_requested"]) == ("cpu", "cpu")
        assert "device" not in json.loads(path.read_text())["config"]["params"]


def test_every_neural_method_gets_the_resolved_device(fake_cuda):
    neural = [m for m in resolve("all") if "device" in inspect.signature(get(m).load_class()).parameters]
    assert {"vaeac", "gsnn", "nn", "gain", "um"} <= set(neural)
    for m in neural:
        est = build(m, quick=True)
        assert runner._place(est, "auto") == "cuda:1" and est.get_params()["device"] == "cuda:1", m
    mean = build("mean")
    assert runner._place(mean, "cuda") == "cpu" and "device" not in mean.get_params()


def test_the_device_is_not_part_of_a_cells_identity(tmp_path):
    cells = plan(["iris"], ["vaeac"], [0], quick=True)
    first = run(cells, tmp_path, device="cpu", progress=False)
    again = run(cells, tmp_path, device="auto", progress=False)  # same cell, whatever the device
    assert first.computed == [cells[0].label] and again.reused == [cells[0].label] and not again.computed


def test_every_neural_image_method_takes_the_device(fake_cuda):
    # issue 12 §3: the image cells build their estimators through the same _place as the tabular ones
    from vaeac_bench.methods import GROUPS

    for m in GROUPS["images"]:
        est = build(m, quick=True)
        if m == "naive-bayes-image":  # counting pixels: no network, stays on the CPU
            assert runner._place(est, "cuda") == "cpu" and "device" not in est.get_params()
        else:
            assert runner._place(est, "auto") == "cuda:1" and est.get_params()["device"] == "cuda:1", m


def test_the_device_reaches_the_binary_image_cells_and_is_recorded(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    from vaeac_bench.methods.image_methods import ImageVAEAC

    data = Path(os.environ.get("VAEAC_BENCH_DATA", "/work/shared/data"))
    if not (data / "mnist" / "mnist.npz").is_file():
        pytest.skip("MNIST not in the data dir")
    monkeypatch.setenv("VAEAC_BENCH_DATA", str(data))
    monkeypatch.setenv("VAEAC_BENCH_CHECKPOINTS", str(tmp_path / "ck"))
    seen = _devices_seen(monkeypatch, ImageVAEAC, "fit_images")
    cells = plan(["mnist"], ["vaeac-image-fc", "naive-bayes-image"], [0], "mnist_line", 0.0, 1, True)
    summary = run(cells, tmp_path / "res", device="auto", progress=False)  # "auto" is the CPU here
    assert not summary.failed and seen == ["cpu"]
    records = {json.loads(p.read_text())["method"]: json.loads(p.read_text()) for p in (tmp_path / "res").rglob(
        "*.json")}
    for r in records.values():
        assert (r["provenance"]["device"], r["provenance"]["device_requested"]) == ("cpu", "auto"), r["method"]
