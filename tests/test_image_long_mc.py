"""Table 9's MC-10⁴ step (issue 10): computed from a cell's trained network, cached, refused without one."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("VAEAC_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
HAS_MNIST = (DATA / "mnist" / "mnist.npz").is_file()


@pytest.mark.skipif(not HAS_MNIST, reason="MNIST not in the data dir")
def test_mc_long_from_the_cells_network_cached_and_tabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from vaeac_bench.cli import main
    from vaeac_bench.image_cell import plan_image_cells
    from vaeac_bench.image_long_mc import LONG_MC_SAMPLES, compute_long_mc, long_mc_path, matches, run_long_mc

    monkeypatch.setenv("VAEAC_BENCH_DATA", str(DATA))
    monkeypatch.setenv("VAEAC_BENCH_CHECKPOINTS", str(tmp_path / "ck"))
    res, rep = tmp_path / "results", tmp_path / "reports"
    argv = ["--datasets", "mnist", "--methods", "gsnn-image-fc,naive-bayes-image,vae-image-fc", "--quick",
            "--jobs", "1", "-q", "--results-dir", str(res), "--reports-dir", str(rep), "--mc-long", "3"]
    assert main(argv) == 0
    _, _, cells = plan_image_cells(["mnist"], ["gsnn-image-fc", "naive-bayes-image"], None, "mcar", True)
    gsnn = next(c for c in cells if c.key.method == "gsnn-image-fc")
    record_path = res / gsnn.key.relpath()
    record = json.loads(record_path.read_text())
    out = long_mc_path(record_path)
    long = json.loads(out.read_text())
    assert matches(long, record) and long["samples"] == LONG_MC_SAMPLES and long["n_objects"] == 3
    assert len(long["per_object"]) == 3 and 0 < long["nll"]["mean"] < 784 * 0.7  # nats, finite, below 784·log 2
    assert long["test_selection"] == record["data"]["test_selection"]  # the cell's own objects (scored_test)
    # naive Bayes has no Monte Carlo estimator, the plain VAE scores whole images: nothing written for them
    assert not list((res / "mnist" / "naive-bayes-image").glob("*_mc*.json"))
    assert not list((res / "mnist" / "vae-image-fc").glob("*_mc*.json"))
    # the table shows it, with the object count, beside the paper's
    row = next(line for line in (rep / "table9.md").read_text().splitlines() if line.startswith("| GSNN MC-10⁴"))
    assert "3 objects" in row and "141 ± 7" in row
    # deterministic: the same network, objects and seed give the same numbers
    again = compute_long_mc(gsnn, record, 3)
    assert again["per_object"] == long["per_object"]
    # cached: a second run computes nothing
    mtime = out.stat().st_mtime_ns
    assert run_long_mc([gsnn], res, 3, progress=False) == [] and out.stat().st_mtime_ns == mtime
    # never retrains: without the finished checkpoint it is refused (a warning names the fix), nothing written
    for p in (tmp_path / "ck").rglob("*.pt"):
        p.unlink()
    out.unlink()
    with caplog.at_level(logging.WARNING, logger="vaeac_bench"):
        assert run_long_mc([gsnn], res, 3, progress=False) == []
    assert "never retrains" in caplog.text and not out.exists()
    with pytest.raises(FileNotFoundError, match="recompute the cell"):
        compute_long_mc(gsnn, record, 3)


def test_mc_long_of_another_network_is_not_shown(tmp_path: Path) -> None:
    from vaeac_bench.image_long_mc import LONG_MC_SCHEMA, attach_long_mc, long_mc_path
    from vaeac_bench.results import CellKey

    record = {"dataset": "mnist", "method": "gsnn-image-fc", "split": 0, "mechanism": "mnist_line", "rate": 0.0,
              "config_hash": "abc", "provenance": {"code_digest": "d1"}, "nll": {}}
    path = long_mc_path(tmp_path / CellKey("mnist", "gsnn-image-fc", 0, "mnist_line", 0.0, "abc").relpath())
    path.parent.mkdir(parents=True)
    long = {"long_mc_schema": LONG_MC_SCHEMA, "config_hash": "abc", "cell_code_digest": "d0",
            "nll": {"mean": 1.0, "std": 0.0, "n": 3}}
    path.write_text(json.dumps(long))
    attach_long_mc([record], tmp_path)
    assert "mc10000" not in record["nll"]  # computed from an older network (other digest)
    path.write_text(json.dumps(long | {"cell_code_digest": "d1"}))
    attach_long_mc([record], tmp_path)
    assert record["nll"]["mc10000"] == {"mean": 1.0, "std": 0.0, "n": 3}
