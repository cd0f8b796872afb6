"""Table 9's MC-10⁴ step (issue 10): computed from a cell's trained network, cached, refused without one."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
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
    with pytest.raises(FileNotFoundError, match=r"move the cell.s record \(mnist/gsnn-image-fc/.*\.json under"):
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


def _fitted_image_estimators(tmp_path: Path) -> list[tuple[str, object, np.ndarray, np.ndarray]]:
    """Every kind of estimator MC-10⁴ scores, trained for one tiny epoch on random images: (name, est, x, masks)."""
    from vaeac_bench.datasets.image_registry import image_mask
    from vaeac_bench.methods import build
    from vaeac_bench.methods.celeba import CelebAVAEAC

    rng = np.random.default_rng(0)
    out = []
    binary = (rng.random((40, 1, 28, 28)) < 0.3).astype(np.float32)
    for name in ("vaeac-image-fc", "gsnn-image-fc", "vaeac-image"):
        est = build(name, quick=True)
        est.fit_images(binary[:24], binary[24:28], image_mask("mnist_line"), checkpoint=tmp_path / f"{name}.pt")
        out.append((name, est, binary[28:], image_mask("mnist_line")(12, 28, 28, rng)))
    faces = rng.random((36, 3, 64, 64)).astype(np.float32)
    est = CelebAVAEAC(epochs=1, batch_size=8, max_val=4, validation_samples=2, random_state=0)
    est.fit_images(faces[:16], faces[16:20], image_mask("yeh_center"), checkpoint=tmp_path / "celeba.pt")
    out.append(("vaeac-celeba", est, faces[20:32], image_mask("yeh_center")(12, 64, 64, rng)))
    return out


def test_an_extension_draws_what_one_run_draws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The MC step's own path (the estimator's inputs, the generator advanced past scored objects) gives, for every
    estimator class it scores, exactly ``est.nll``'s numbers: one run or a run resumed at a whole batch."""
    import torch

    import vaeac_bench.image_long_mc as lm
    from vaeac_bench.image_long_mc import BATCH, _nll_inputs, _skip_draws
    from vaeac_bench.image_nll import mc_nll

    monkeypatch.setattr(lm, "SAMPLE_CHUNK", 3)  # small chunks keep it fast; the real run passes 500 to both
    SAMPLE_CHUNK = lm.SAMPLE_CHUNK
    samples, seed = 2 * SAMPLE_CHUNK + 1, 11  # three sample chunks, the last one short
    for name, est, x, b in _fitted_image_estimators(tmp_path):
        whole = est.nll(x, b, "mc", samples, seed=seed, batch_size=BATCH, sample_chunk=SAMPLE_CHUNK)
        view, xi, bi = _nll_inputs(est, x, b)
        gen = torch.Generator().manual_seed(seed)
        assert np.array_equal(mc_nll(view, xi, bi, samples, generator=gen, batch_size=BATCH,
                                     sample_chunk=SAMPLE_CHUNK), whole), name
        gen = torch.Generator().manual_seed(seed)
        _skip_draws(view, xi, BATCH, samples, gen)
        tail = mc_nll(view, xi[BATCH:], bi[BATCH:], samples, generator=gen, batch_size=BATCH,
                      sample_chunk=SAMPLE_CHUNK)
        assert np.array_equal(tail, whole[BATCH:]), name
    with pytest.raises(ValueError, match="whole batch"):
        _skip_draws(view, xi, BATCH + 1, samples, torch.Generator())


@pytest.mark.skipif(not HAS_MNIST, reason="MNIST not in the data dir")
def test_a_killed_mc_long_resumes_and_an_extension_equals_one_run(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import vaeac_bench.image_long_mc as lm
    from vaeac_bench.cli import main
    from vaeac_bench.image_cell import plan_image_cells
    from vaeac_bench.results import atomic_write_json

    monkeypatch.setenv("VAEAC_BENCH_DATA", str(DATA))
    monkeypatch.setenv("VAEAC_BENCH_CHECKPOINTS", str(tmp_path / "ck"))
    res = tmp_path / "results"
    argv = ["--datasets", "mnist", "--methods", "gsnn-image-fc", "--quick", "--jobs", "1", "-q",
            "--results-dir", str(res), "--tables", "none"]
    assert main(argv) == 0
    _, _, cells = plan_image_cells(["mnist"], ["gsnn-image-fc"], None, "mcar", True)
    cell = cells[0]
    record_path = res / cell.key.relpath()
    record = json.loads(record_path.read_text())
    out = lm.long_mc_path(record_path, 300)
    one = lm.compute_long_mc(cell, record, 13, samples=300)  # one uninterrupted run over 13 objects
    assert len(one["per_object"]) == 13 and one["parts"][0]["objects"] == [0, 13]

    # killed after its first save: the partial result is on disk, whole batches only
    monkeypatch.setattr(lm, "SAVE_EVERY", lm.BATCH)
    saves = []

    def save_then_die(part: dict) -> None:
        atomic_write_json(out, part)
        saves.append(part["n_objects"])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lm.compute_long_mc(cell, record, 13, samples=300, on_save=save_then_die)
    partial = json.loads(out.read_text())
    assert saves == [8] and partial["n_objects"] == 8 and partial["per_object"] == one["per_object"][:8]
    # run again: it extends the partial result to the same numbers as the one run, and says which run did what
    assert lm.run_long_mc([cell], res, 13, samples=300, progress=False) == [out]
    done = json.loads(out.read_text())
    assert done["per_object"] == one["per_object"] and done["nll"] == one["nll"]
    assert [p["objects"] for p in done["parts"]] == [[0, 8], [8, 13]] and done["timing"]["nll_s"] > 0
    # a larger N later: the last, partial batch (objects 8-12) is scored again, the first batch kept
    # (a batch's draws depend on its size, so objects 8-12 scored among 8 differ from the 5 of the 13-object run)
    more = lm.compute_long_mc(cell, record, 16, samples=300, previous=done)
    assert more["per_object"] == lm.compute_long_mc(cell, record, 16, samples=300)["per_object"]
    assert more["per_object"][:8] == one["per_object"][:8]
    assert [p["objects"] for p in more["parts"]] == [[0, 8], [8, 16]]
    # another network's or another S's result is never extended: it is recomputed from the start
    other = lm.compute_long_mc(cell, record, 9, samples=300, previous=done | {"config_hash": "other"})
    assert [p["objects"] for p in other["parts"]] == [[0, 9]] and other["per_object"][:8] == one["per_object"][:8]
    # scored by other weights (a network trained again): refused, and the result on disk is kept as it was
    assert done["weights_sha256"] == more["weights_sha256"] == one["weights_sha256"]
    assert len(one["weights_sha256"]) == 64
    atomic_write_json(out, done | {"weights_sha256": "0" * 64})
    before = out.read_bytes()
    assert lm.run_long_mc([cell], res, 16, samples=300, progress=False) == []
    assert out.read_bytes() == before


def test_an_extension_by_other_weights_is_refused() -> None:
    """A result records the weights it scored; a network trained again never extends it (issue 10)."""
    import torch

    import vaeac_bench.image_long_mc as lm

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    digest = lm.weights_sha256(model)
    assert digest == lm.weights_sha256(model) and len(digest) == 64
    with torch.no_grad():
        model[0].weight[0, 0] += 1e-7  # the smallest change a retrain on another CPU makes
    other = lm.weights_sha256(model)
    assert other != digest
    scored = {"n_objects": 736, "weights_sha256": digest, "parts": [{"cpu": "AMD EPYC"}]}
    lm._check_same_weights(scored, digest, "cell")  # the same weights, any CPU: extended
    with pytest.raises(RuntimeError, match=r"other weights .*736 objects already scored.*trained again"):
        lm._check_same_weights(scored, other, "cell")
    # written before digests: refused even where this CPU has the same name, since two hosts named "AMD EPYC"
    # trained the same cell to different weights (2026-12-06)
    legacy = {"n_objects": 736, "parts": [{"cpu": "AMD EPYC"}, {"cpu": "AMD EPYC"}]}
    with pytest.raises(RuntimeError, match=r"736 objects .*no weights digest .*\['AMD EPYC'\].*same name"):
        lm._check_same_weights(legacy, digest, "cell")


@pytest.mark.skipif(not HAS_MNIST, reason="MNIST not in the data dir")
def test_mc_long_in_parallel_processes_equals_one_run_and_resumes_from_shards(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--mc-long N --jobs 2``: worker processes score interleaved batches with the noise one run draws for
    them, save shard files, and a later run (any --jobs) uses what a killed one saved; the result is the same."""
    import vaeac_bench.image_long_mc as lm
    from vaeac_bench.cli import main
    from vaeac_bench.image_cell import plan_image_cells
    from vaeac_bench.results import atomic_write_json

    monkeypatch.setenv("VAEAC_BENCH_DATA", str(DATA))
    monkeypatch.setenv("VAEAC_BENCH_CHECKPOINTS", str(tmp_path / "ck"))
    res = tmp_path / "results"
    assert main(["--datasets", "mnist", "--methods", "gsnn-image-fc", "--quick", "--jobs", "1", "-q",
                 "--results-dir", str(res), "--tables", "none"]) == 0
    cell = plan_image_cells(["mnist"], ["gsnn-image-fc"], None, "mcar", True)[2][0]
    record_path = res / cell.key.relpath()
    record = json.loads(record_path.read_text())
    out = lm.long_mc_path(record_path, 300)
    one = lm.compute_long_mc(cell, record, 16, samples=300)  # two batches (--quick keeps 16 test objects)

    # two worker processes: the same numbers; each saved its batches in a shard file, absorbed once written
    assert lm.run_long_mc([cell], res, 16, samples=300, progress=False, jobs=2) == [out]
    par = json.loads(out.read_text())
    assert par["per_object"] == one["per_object"] and par["weights_sha256"] == one["weights_sha256"]
    assert par["parts"][0]["objects"] == [0, 16] and par["parts"][0]["workers"] == 2
    assert par["parts"][0]["nll_s"] > 0 and lm.shard_paths(out) == []

    # a killed parallel run: only the second worker's batch (objects 8-15) reached its shard file
    out.unlink()
    digest = one["weights_sha256"]
    shard = out.with_name(f"{out.stem}.shard1.json")
    lm._shard_worker(cell, record, 16, 300, None, None, 1, "cpu", [8], shard, digest)
    saved = json.loads(shard.read_text())
    assert list(saved["batches"]) == ["8"] and saved["batches"]["8"][0] == one["per_object"][8:16]
    # a later run uses it and scores only the rest: a marked shard shows its values were taken, not recomputed
    atomic_write_json(shard, saved | {"batches": {"8": [[-1.0] * 8, 1.0]}})
    marked = lm.compute_long_mc(cell, record, 16, samples=300, out=out)
    assert marked["per_object"][8:16] == [-1.0] * 8 and marked["per_object"][:8] == one["per_object"][:8]
    atomic_write_json(shard, saved)
    assert lm.run_long_mc([cell], res, 16, samples=300, progress=False, jobs=1) == [out]
    assert json.loads(out.read_text())["per_object"] == one["per_object"] and not shard.exists()

    # a shard of other weights (a network trained again) is refused; one of another S is ignored and kept
    out.unlink()
    atomic_write_json(shard, saved | {"weights_sha256": "0" * 64})
    with pytest.raises(RuntimeError, match="other weights"):
        lm.compute_long_mc(cell, record, 16, samples=300, out=out)
    atomic_write_json(shard, saved | {"samples": 100})
    assert lm.compute_long_mc(cell, record, 16, samples=300, out=out)["per_object"] == one["per_object"]
    with pytest.raises(ValueError, match="jobs > 1 needs out="):
        lm.compute_long_mc(cell, record, 16, samples=300, jobs=2)


def test_table9_says_which_mc_long_is_missing_and_what_it_would_cost() -> None:
    """A '—' in table 9's MC-10⁴ rows comes with its cost, from the record's own MC-10² time: 100x its share."""
    from vaeac_bench.tables.images import long_mc_missing, render_table9

    def rec(dataset: str, method: str, nll: dict, nll_s: float) -> dict:
        return {"dataset": dataset, "method": method, "nll": nll, "timing": {"nll_s": nll_s}, "quick": False,
                "budget": {"epochs_run": 10, "paper_epochs": 50}, "data": {"n_test": 1000},
                "provenance": {}, "config_hash": "x", "split": 0}

    stat = {"mean": 1.0, "std": 0.0, "n": 1000}
    recs = [rec("omniglot", "vaeac-image", {"is100": stat, "mc100": stat}, 7200.0),  # 3600 s of MC-10²: 100 h
            rec("omniglot", "gsnn-image", {"mc100": stat}, 900.0),  # 25 h
            rec("mnist", "gsnn-image-fc", {"mc100": stat, "mc10000": stat}, 90.0),  # computed: not listed
            rec("omniglot28", "vae-image-fc", {"mc100": stat}, 90.0)]  # figure 9's VAE: not a table-9 row
    assert long_mc_missing(recs[:3]) == ["Omniglot conv GSNN: about 25 CPU h", "Omniglot conv VAEAC: about 100 CPU h"]
    text = render_table9(recs)
    assert "Omniglot conv GSNN: about 25 CPU h; Omniglot conv VAEAC: about 100 CPU h, from each record's" in text
    assert "VAE:" not in text and "MNIST FC GSNN" not in text
