"""Resources (issue 9 items 7, 15, 18): memory-aware scheduling, scoped threads, file modes."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from vaeac_bench.resources import (
    IMAGE_MEMORY_MB,
    MemoryScheduler,
    estimate_mb,
    formula_mb,
    image_estimate_mb,
    limit_threads,
)
from vaeac_bench.results import atomic_write_text
from vaeac_bench.runner import MemoryRefused, plan, run


def test_scheduler_never_runs_cells_whose_estimates_exceed_the_budget_together():
    lock, running, peak = threading.Lock(), [0.0], [0.0]

    def cell(est):
        with lock:
            running[0] += est
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= est
        return est

    estimates = [6.0, 6.0, 3.0, 3.0, 1.0, 9.0, 1.0]
    sched = MemoryScheduler(budget_mb=10.0, jobs=4)
    with ThreadPoolExecutor(4) as pool:
        done = [item for item, fut in sched.run(estimates, estimates, lambda e: pool.submit(cell, e))]
    assert sorted(done) == sorted(estimates) and peak[0] <= 10.0
    assert peak[0] > 6.0  # small cells did run side by side: the scheduler is not simply serial


def test_scheduler_respects_the_job_count_and_flags_cells_too_big_alone():
    sched = MemoryScheduler(budget_mb=100.0, jobs=1)
    assert sched.can_start(99.0) and sched.too_big(101.0) and not sched.too_big(100.0)
    sched.running["a"] = 1.0
    assert not sched.can_start(1.0)  # one job: a second cell waits however small


def test_estimates_come_from_recorded_peaks_else_the_family_formula():
    assert estimate_mb("iris", "mice", (150, 5), {("iris", "mice"): 1000.0}) == pytest.approx(1100.0)
    digits = formula_mb("mice", 1797, 65)
    assert 1_400 < digits < 2_100  # above the 1.4 GB that MICE Digits cells record, not 9x above it
    assert formula_mb("gain-original-a1", 150, 5) == formula_mb("gain", 150, 5)


def test_a_cell_too_big_for_the_machine_is_refused_with_one_clear_line(tmp_path):
    cells = plan(["iris"], ["mean"], [0])
    with pytest.raises(MemoryRefused, match="iris/mean/split0 needs about .* --ignore-memory"):
        run(cells, tmp_path, progress=False, memory_budget_mb=1.0)
    assert not list(tmp_path.rglob("*.json"))
    assert run(cells, tmp_path, progress=False, memory_budget_mb=1.0, ignore_memory=True).computed


def test_image_cells_are_estimated_from_measured_image_peaks_not_a_table_formula():
    """Two Omniglot conv cells (15-17 GB each, measured) never start together on a 24 GB machine, even with no
    record of them in the results folder (they were OOM-killed on 2026-12-04 when estimated as tables)."""
    from vaeac_bench.datasets import get_spec
    from vaeac_bench.datasets.image_registry import dataset_kind

    image_sets = [n for n in ("mnist", "omniglot", "omniglot28", "celeba64", "celeba128") if get_spec(n)]
    assert all(dataset_kind(n) != "table" for n in image_sets)
    conv = estimate_mb("omniglot", "vaeac-image", None, {}, image=True)
    assert conv == pytest.approx(1.1 * 17400.0) and conv > 20 * estimate_mb("omniglot", "vaeac-image", None, {})
    sched = MemoryScheduler(budget_mb=24 * 1024, jobs=2)
    sched.running["vaeac"] = conv
    assert not sched.can_start(estimate_mb("omniglot", "gsnn-image", None, {}, image=True))
    assert sched.can_start(estimate_mb("mnist", "vaeac-image-fc", None, {}, image=True))  # small ones still pair
    # a recorded peak still wins; an unmeasured method takes its dataset's largest peak, an unmeasured dataset
    # the largest of all (too high costs parallelism, too low an OOM kill)
    assert estimate_mb("omniglot", "vaeac-image", None, {("omniglot", "vaeac-image"): 1000.0}, image=True) == \
        pytest.approx(1100.0)
    assert image_estimate_mb("omniglot28", "vaeac-image") == max(IMAGE_MEMORY_MB["omniglot28"].values())
    assert image_estimate_mb("celeba128", "vaeac-celeba") == 17400.0


def test_the_runner_refuses_an_image_cell_by_its_image_estimate(tmp_path):
    from vaeac_bench.image_cell import plan_image_cells

    _, _, cells = plan_image_cells(["omniglot"], ["vaeac-image"], None, "mcar", False)
    with pytest.raises(MemoryRefused, match=r"omniglot/vaeac-image.* needs about 18\.7 GB but 10\.0 GB"):
        run(cells, tmp_path, progress=False, memory_budget_mb=10 * 1024)
    assert not list(tmp_path.rglob("*.json"))


def test_thread_limits_are_scoped_to_the_cell_and_restored():
    torch = pytest.importorskip("torch")
    from threadpoolctl import threadpool_info

    torch.set_num_threads(2)
    before = [(p["internal_api"], p["num_threads"]) for p in threadpool_info()]
    with limit_threads(1):
        assert torch.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert torch.get_num_threads() == 2
    assert [(p["internal_api"], p["num_threads"]) for p in threadpool_info()] == before


def test_a_run_leaves_the_environment_and_torch_threads_alone(tmp_path):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    env = dict(os.environ)
    run(plan(["iris"], ["mean"], [0, 1]), tmp_path, jobs=2, threads=1, progress=False)
    run(plan(["iris"], ["mean"], [2]), tmp_path, jobs=1, threads=1, progress=False)
    assert dict(os.environ) == env and torch.get_num_threads() == 2


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_atomic_writes_keep_the_mode_a_plain_write_gives(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        with open(tmp_path / "b.json", "w") as fh:
            fh.write("{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == (tmp_path / "b.json").stat().st_mode & 0o777
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_recorded_peaks_prefer_records_of_the_current_code(tmp_path):
    """A stale record's peak (old, memory-hungry code) only counts while no current record exists."""
    import json

    from vaeac_bench.resources import recorded_peaks

    run(plan(["iris"], ["mean"], [0, 1]), tmp_path, progress=False)
    files = sorted(tmp_path.rglob("*.json"))
    fresh = json.loads(files[0].read_text())
    fresh["provenance"]["peak_rss_mb"] = 300.0
    files[0].write_text(json.dumps(fresh))
    old = json.loads(files[1].read_text())
    old["provenance"]["peak_rss_mb"] = 16_000.0
    old["provenance"]["code_digest"] = "0" * 64  # computed by other code: stale
    files[1].write_text(json.dumps(old))
    assert recorded_peaks(tmp_path)[("iris", "mean")] == 300.0
    files[0].unlink()
    assert recorded_peaks(tmp_path)[("iris", "mean")] == 16_000.0


def test_run_bench_gives_in_process_cells_one_thread_from_the_start():
    """The CLI sets one BLAS/OpenMP thread before torch loads (a pool sized earlier kept a thread spinning)."""
    import subprocess
    import sys

    code = ("import os, sys\n"
            "from vaeac_bench.cli import main\n"
            "main(['--list'])\n"
            "import torch\n"
            "print('THREADS', os.environ['OMP_NUM_THREADS'], os.environ['OPENBLAS_NUM_THREADS'],\n"
            "      torch.get_num_threads())\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "3"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "THREADS 1 3 1" in out  # set where unset; a value the user chose (OpenBLAS 3) is kept
