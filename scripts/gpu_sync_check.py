"""Host round-trips and launch overhead of the VAEAC training step on a lent GPU (issue 12 §3).

Trains the tabular VAEAC for two epochs with ``torch.cuda.set_sync_debug_mode("warn")``, which warns at every
operation that makes the host wait for the device; the warnings are counted by the source line that caused
them, so a synchronisation inside the per-step loop shows up as a count of about one per step. Then profiles
20 training steps (batch 64) with ``torch.profiler`` to say where the step's wall time goes (kernel launches
versus kernel time). Writes one JSON report.

    python scripts/gpu_sync_check.py --out gpu_sync.json [--device cuda]
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks package


def _bench():
    """The asv suite's ``bench_vaeac`` module: its data, schema and training step are what is profiled."""
    from benchmarks import bench_vaeac

    return bench_vaeac


def sync_report(device: str) -> dict:
    from vaeac_bench.methods.vaeac import TrainConfig, VAEACModel
    from vaeac_bench.methods.vaeac.training import train
    from vaeac_bench.nn import FeatureLayout

    bench = _bench()
    X = bench.yeast_like()
    model = VAEACModel(FeatureLayout.from_schema(bench.SCHEMA), fused=True, zero_latent_heads=True,
                       generator=torch.Generator().manual_seed(0), device=device)
    cfg = TrainConfig(epochs=2)
    by_line: collections.Counter[str] = collections.Counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if device == "cuda":
            torch.cuda.set_sync_debug_mode("warn")
        t0 = time.perf_counter()
        hist = train(model, X, cfg, seed=0)
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("default")
        wall = time.perf_counter() - t0
    for w in caught:
        if "synchroniz" in str(w.message).lower():
            by_line[f"{w.filename.split('src/')[-1]}:{w.lineno}"] += 1
    steps = 2 * int(np.ceil(hist.n_train / cfg.batch_size))
    return {"epochs": 2, "train_steps": steps, "wall_s": wall, "syncs_total": sum(by_line.values()),
            "syncs_by_line": dict(by_line.most_common())}


def profile_report(device: str, n_steps: int = 20) -> dict:
    bench = _bench()
    out = {}
    for mode in ("fast", "reference"):
        ts = bench.TrainStep()
        ts.setup(mode, device, False)
        for _ in range(5):
            ts.step()
        t0 = time.perf_counter()
        for _ in range(n_steps):
            ts.step()
        per_step = (time.perf_counter() - t0) / n_steps
        acts = [torch.profiler.ProfilerActivity.CPU]
        if device == "cuda":
            acts.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=acts) as prof:
            for _ in range(n_steps):
                ts.step()
        ev = prof.key_averages()
        launches = sum(e.count for e in ev if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC"))
        syncs = sum(e.count for e in ev if "Synchronize" in e.key)
        dev_us = sum(getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0)) for e in ev)
        out[mode] = {"step_ms": per_step * 1e3, "kernel_launches_per_step": launches / n_steps,
                     "synchronize_calls_per_step": syncs / n_steps,
                     "device_busy_ms_per_step": dev_us / 1e3 / n_steps,
                     "top_cpu_ops": [(e.key, round(e.self_cpu_time_total / n_steps, 1), e.count // n_steps)
                                     for e in sorted(ev, key=lambda e: -e.self_cpu_time_total)[:12]]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    torch.set_num_threads(1)
    rep = {"device": a.device, "torch": torch.__version__,
           "gpu": torch.cuda.get_device_name() if a.device == "cuda" else None}
    for name, fn in (("sync", sync_report), ("profile", profile_report)):
        try:
            rep[name] = fn(a.device)
        except Exception as e:  # a failed part must not lose the other
            rep[name] = {"error": repr(e)}
        with open(a.out, "w") as f:
            json.dump(rep, f, indent=1)
    print(json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
