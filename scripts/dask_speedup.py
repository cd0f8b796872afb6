"""Measure the Dask backend's speed-up with 1 and 2 workers against the local backend (docs/dask.md).

Each run computes the same small grid from scratch in a fresh folder through ``runner.run``; wall time, the cells'
own CPU seconds and the machine's load are recorded, so a run slowed by other work on the machine can be read as
CPU-normalised numbers too. Also measures the scheduler's cost per task (no-op tasks) and one record's transfer
size. Usage: ``nice -n 10 python scripts/dask_speedup.py --out docs/dask_speedup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import tempfile
import time
from pathlib import Path

from vaeac_bench.provenance import machine
from vaeac_bench.results import atomic_write_text, iter_results
from vaeac_bench.runner import compute_cell, plan, run


def _noop(i: int) -> int:
    return i


def _tree_cpu() -> float:
    """CPU seconds of this process plus its waited-for descendants (RUSAGE_CHILDREN includes grandchildren)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def one_run(label: str, cells: list, **kwargs: object) -> dict:
    """Compute ``cells`` from scratch with ``runner.run(**kwargs)``; wall, CPU seconds and load."""
    with tempfile.TemporaryDirectory() as tmp:
        load0 = os.getloadavg()[0]
        c0, t0 = _tree_cpu(), time.perf_counter()
        summary = run(cells, tmp, progress=False, **kwargs)
        wall, tree = time.perf_counter() - t0, _tree_cpu() - c0
        records = list(iter_results(Path(tmp)))
    assert not summary.failed and len(records) == len(cells), summary.failed
    cpu = sum(r["cpu"]["total_s"] for r in records)
    return {"run": label, "wall_s": round(wall, 2), "cell_cpu_s": round(cpu, 2),
            # CPU seconds of this process and every finished descendant (driver, scheduler, nannies, workers):
            # what the run obtained from the machine; tree_cpu_s / wall_s = cores it actually got
            "tree_cpu_s": round(tree, 2), "cores_obtained": round(tree / wall, 2),
            "cells_wall_s": round(sum(r["timing"]["fit_s"] + r["timing"]["impute_test_s"]
                                      + r["timing"]["impute_train_s"] for r in records), 2),
            "load1_before": round(load0, 2), "load1_after": round(os.getloadavg()[0], 2)}


def scheduler_cost(n: int = 500) -> dict:
    """Seconds per no-op task through a 1-worker LocalCluster (submit, run, gather): the per-cell overhead floor."""
    import distributed

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster, distributed.Client(cluster) as client:
        t0 = time.perf_counter()
        futs = [client.submit(_noop, i, pure=False) for i in range(n)]
        client.gather(futs)
        per_task = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1"):
        cluster_start = time.perf_counter() - t0
    return {"noop_tasks": n, "s_per_task": round(per_task, 5), "local_cluster_start_s": round(cluster_start, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--datasets", default="iris,diabetes")
    p.add_argument("--method", default="vaeac")
    p.add_argument("--splits", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    cells = plan(args.datasets.split(","), [args.method], list(range(args.splits)), quick=True)
    record = compute_cell(cells[0])
    sizes = {"record_json_bytes": len(json.dumps(record, indent=1)), "record_pickle_bytes": len(pickle.dumps(record))}
    runs = []
    for rep in range(args.repeats):  # interleaved, so a change of background load hits every variant alike
        runs.append(one_run("local jobs=1", cells, jobs=1) | {"repeat": rep})
        runs.append(one_run("dask 1 worker", cells, backend="dask", jobs=1) | {"repeat": rep})
        runs.append(one_run("dask 2 workers", cells, backend="dask", jobs=2) | {"repeat": rep})
    out = {"grid": {"datasets": args.datasets, "method": args.method, "quick": True, "splits": args.splits,
                    "cells": len(cells)},
           "machine": machine(), "runs": runs, "transfer": sizes, "scheduler": scheduler_cost()}
    atomic_write_text(args.out, json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
