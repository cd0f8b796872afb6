"""The grid on a real Dask cluster (issue 12 §4): a scheduler and two worker processes on loopback, one of them
SIGKILLed mid-run; every cell must be written exactly once, by the driver, with the local backend's metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import vaeac_bench.runner as runner  # noqa: E402
from vaeac_bench.runner import plan, run  # noqa: E402

SRC = str(Path(runner.__file__).resolve().parents[1])
DASK = str(Path(sys.executable).with_name("dask"))
DEADLINE_S = 240  # the whole test, cluster start included; a watchdog kills everything after it


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("DASK_DISTRIBUTED__WORKER__DAEMON", None)
    return env


@pytest.fixture
def loopback_cluster(tmp_path):
    """A scheduler and two single-threaded worker processes (no nanny: SIGKILL really loses the worker)."""
    if not Path(DASK).is_file():
        pytest.skip("the dask command is not installed beside this Python")
    sfile = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sfile)], env=_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    watchdog = threading.Timer(DEADLINE_S, lambda: [p.kill() for p in procs])
    watchdog.start()
    try:
        t0 = time.monotonic()
        while not sfile.is_file() or not sfile.read_text().strip():
            assert time.monotonic() - t0 < 60 and procs[0].poll() is None, "the Dask scheduler did not start"
            time.sleep(0.2)
        address = json.loads(sfile.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            procs.append(subprocess.Popen(
                [DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                 "--memory-limit", "0", "--resources", "MEMORY_MB=4000"],
                env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            yield address, client, procs
    finally:
        watchdog.cancel()
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _metrics(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.rglob("*.json")):
        r = json.loads(path.read_text())
        out[str(path.relative_to(folder))] = {"metrics": r["metrics"], "per_feature": r["per_feature"]}
    return out


def test_a_killed_worker_loses_no_cell_and_results_match_the_local_backend(loopback_cluster, tmp_path, monkeypatch):
    address, client, procs = loopback_cluster
    cells = plan(["iris"], ["mean", "vaeac"], [0, 1, 2], quick=True)
    pids = client.run(os.getpid)  # worker address -> process id (no nanny: the worker is the dask process)
    assert len(pids) == 2

    writes: Counter[str] = Counter()
    real_write = runner.atomic_write_json

    def counting_write(path, payload):
        writes[str(path)] += 1
        real_write(path, payload)

    monkeypatch.setattr(runner, "atomic_write_json", counting_write)
    killed: dict[str, object] = {}

    def kill_a_busy_worker(label: str, error: str | None) -> None:
        if killed:
            return
        busy = {addr: keys for addr, keys in client.processing().items() if keys and addr in pids}
        if not busy:
            return  # nothing in flight at this instant: try again when the next cell finishes
        victim = next(iter(busy))
        killed.update(addr=victim, cells=list(busy[victim]), after=label)
        os.kill(pids[victim], signal.SIGKILL)

    dask_dir = tmp_path / "dask"
    with pytest.raises(runner.MemoryRefused, match="largest Dask worker offers 3.9 GB"):  # it would wait forever
        run(cells, dask_dir, backend="dask", scheduler=address, progress=False, shapes={"iris": (10**7, 100)})
    summary = run(cells, dask_dir, backend="dask", scheduler=address, progress=False, threads=1,
                  on_cell_done=kill_a_busy_worker)
    assert killed, "no worker was busy when a cell finished, so none was killed"
    assert killed["cells"], "the killed worker had a cell in flight"
    victim_proc = next(p for p in procs[1:] if p.pid == pids[killed["addr"]])
    assert victim_proc.wait(timeout=10) == -signal.SIGKILL
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 1  # the scheduler saw the worker go

    assert not summary.failed, summary.failed
    assert sorted(summary.computed) == sorted(c.label for c in cells)
    on_disk = {str(p) for p in dask_dir.rglob("*.json")}
    assert set(writes) == on_disk and len(on_disk) == len(cells)
    assert all(n == 1 for n in writes.values()), writes  # every cell written exactly once, by the driver
    for path in on_disk:  # the records say where they ran and on which device
        prov = json.loads(Path(path).read_text())["provenance"]
        assert prov["device"] == "cpu" and prov["machine"]["threads"] == 1

    monkeypatch.setattr(runner, "atomic_write_json", real_write)
    local_dir = tmp_path / "local"
    local = run(cells, local_dir, progress=False, threads=1)
    assert not local.failed
    assert _metrics(dask_dir) == _metrics(local_dir)  # identical numbers, file for file


def test_a_local_cluster_starts_without_an_address_and_reuses_finished_cells(tmp_path):
    cells = plan(["iris"], ["mean"], [0, 1])
    run(cells[:1], tmp_path, progress=False)
    summary = run(cells, tmp_path, backend="dask", jobs=2, progress=False)
    assert summary.reused == [cells[0].label] and summary.computed == [cells[1].label] and not summary.failed
    record = json.loads(next((tmp_path / "iris" / "mean").glob("*split1_*.json")).read_text())
    assert record["provenance"]["machine"]["threads"] == 1


def test_a_cell_too_big_for_a_local_worker_is_refused_before_any_worker_starts(tmp_path):
    cells = plan(["iris"], ["mean"], [0])
    # 250 MB + 0.0005 MB x 2e6 values = 1250 MB: fits the 2000 MB budget, not one of two 1000 MB shares
    with pytest.raises(runner.MemoryRefused, match="largest Dask worker offers 1.0 GB.*fewer --jobs"):
        run(cells, tmp_path, backend="dask", jobs=2, memory_budget_mb=2000, progress=False,
            shapes={"iris": (20_000, 100)})
    assert not list(tmp_path.rglob("*.json"))
