"""Issue 12 §5: the CPU hours of the paper's 14-dataset grid, per method and per CPU model that computed them,
and what they would be on another machine, scaled by the asv suite's per-method speed ratio between the two.

The records say which CPU computed them (``provenance.machine.cpu``, and since 2026-12-06 ``cpu_id``: vendor,
family/model/stepping and ISA flags) and what the cell cost (``cpu.total_s``, the runner's process clock). The
records were computed on several CPUs (two kinds of AMD EPYC under one name, an Intel Xeon): a sum mixes them.
A record's own asv machine is the one whose ``machine.json`` names its ``cpu_id``; a record without one (older)
is taken for ``--from-machine``'s CPU unless it carries ``--to-machine``'s CPU name. The scaled column is an
estimate, not a measurement; the measurement is a rerun of the grid into a scratch results folder (README,
"run-bench").

    python scripts/grid_cpu_hours.py [--results results] [--from-machine shared-2core-epyc] \
        [--to-machine shared-2core-xeon]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import math
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UCI = ("boston", "breast", "concrete", "diabetes", "digits", "glass", "iris", "mushroom", "orthopedic", "phishing",
       "wallrobot", "whitewine", "yeast", "zoo")
#: the paper's grid: tables 1, 2, 7, 10, 11 (the comparators of issue 13 are not in it)
GRID = ("vaeac", "gsnn", "nn", "mice", "missforest", "um", "um-naive", "gain", "gain-original-a0.1",
        "gain-original-a0.5", "gain-original-a1", "gain-original-a2", "gain-original-a10", "mean")
#: the asv benchmarks whose machine-to-machine ratio stands for a method's cells (fit-dominated)
PROXY = {"vaeac": "bench_vaeac.Fit.time_fit_5_epochs", "gsnn": "bench_vaeac.Fit.time_fit_5_epochs",
         "nn": "bench_vaeac.Fit.time_fit_5_epochs", "um": "bench_gain_um.UMSuite.time_fit",
         "um-naive": "bench_gain_um.UMSuite.time_fit", "mice": "bench_baselines.BaselineSuite.time_impute_test_10",
         "missforest": "bench_gate.GateFits.time_fit", "gain": "bench_gain_um.GAINSuite.time_fit"}


MATMUL = ("bench_efficiency.MatmulRate.track_gflops", ("'1024x1024x1024'",))  # the run's own one-thread rate


def _values(path: Path) -> dict[tuple[str, tuple[str, ...]], float]:
    """Every (benchmark, parameter combination) -> value of one asv result file, read through asv's own result API
    (``asv.results.Results``), so a change of its file format is asv's to handle."""
    from asv.results import Results

    res = Results.load(str(path))
    out = {}
    for name in res.get_all_result_keys():
        params = res.get_result_params(name)
        values = res.get_result_value(name, params)
        combos = list(itertools.product(*params)) if params else [()]
        for combo, value in zip(combos, values if params else [values], strict=False):
            if isinstance(value, int | float) and not math.isnan(value):
                out[(name, tuple(combo))] = float(value)
    return out


def asv_values(folder: Path) -> dict[tuple[str, tuple[str, ...]], float]:
    """The values of an asv machine's quietest full run: the result file whose own matmul rate (``MATMUL``) is
    highest, since a shared host's other tenants slow every benchmark of a run alike (docs/performance.md, the
    asv history); runs without that benchmark count by size, the largest (the fullest) first."""
    runs = [_values(p) for p in sorted(folder.glob("*.json")) if p.name != "machine.json"]
    return max(runs, key=lambda v: (v.get(MATMUL, 0.0), len(v)))


def speed_ratio(method: str, slow: dict, fast: dict) -> float | None:
    """Median ratio slow/fast over the parameter combinations of the method's proxy benchmark (method-matched
    combinations where the benchmark is parametrised by method)."""
    bench = PROXY.get(method.split("-original")[0] if method.startswith("gain") else method)
    if bench is None:
        return None
    keys = [k for k in slow if k[0] == bench and k in fast]
    named = [k for k in keys if any(method in p for p in k[1])]
    ratios = [slow[k] / fast[k] for k in (named or keys) if fast[k] > 0]
    return statistics.median(ratios) if ratios else None


def machine_cpus(asv_dir: Path) -> dict[str, str]:
    """asv machine name -> the ``cpu`` text of its ``machine.json`` (CPU machines only: not ``device-*``)."""
    out = {}
    for m in sorted(asv_dir.glob("*/machine.json")):
        if not m.parent.name.startswith("device-"):
            out[m.parent.name] = json.loads(m.read_text()).get("cpu", "")
    return out


def record_machine(machine: dict, cpus: dict[str, str], from_machine: str, to_machine: str, to_cpu: str) -> str:
    """The asv machine whose CPU computed a record: the one naming the record's ``cpu_id``; else ``to_machine`` for
    a CPU named ``to_cpu``; else, for a record older than ``cpu_id``, ``from_machine`` (a newer one is unscaled)."""
    cpu_id = machine.get("cpu_id")
    named = [name for name, text in cpus.items() if cpu_id and cpu_id in text]
    if named:
        return named[0]
    if machine.get("cpu") == to_cpu:
        return to_machine
    return f"(no asv run of {machine.get('cpu')}, {cpu_id})" if cpu_id else from_machine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=REPO / "results")
    ap.add_argument("--from-machine", default="shared-2core-epyc",
                    help="the asv machine of records that name no cpu_id and not --to-cpu")
    ap.add_argument("--to-machine", default="shared-2core-xeon", help="the CPU to estimate the grid's hours on")
    ap.add_argument("--to-cpu", default="Intel(R) Xeon(R) Processor",
                    help="the CPU name of --to-machine's records that name no cpu_id")
    a = ap.parse_args(argv)
    asv_dir = a.results / "asv"
    cpus = machine_cpus(asv_dir)
    hours: dict[tuple[str, str], float] = collections.defaultdict(float)
    cells: collections.Counter[tuple[str, str]] = collections.Counter()
    for ds, method in itertools.product(UCI, GRID):
        for path in sorted((a.results / ds / method).glob("mcar-0.5_split*.json")):
            rec = json.loads(path.read_text())
            cpu_s = (rec.get("cpu") or {}).get("total_s")
            if rec.get("quick") or cpu_s is None:
                continue
            key = (method, record_machine(rec["provenance"]["machine"], cpus, a.from_machine, a.to_machine,
                                          a.to_cpu))
            hours[key] += cpu_s / 3600
            cells[key] += 1
    values = {m: asv_values(asv_dir / m) for m in {m for _, m in hours} | {a.to_machine} if m in cpus}
    fast = values[a.to_machine]
    print(f"| method | computed on (asv machine) | cells | CPU h recorded | asv ratio to {a.to_machine} | CPU h on "
          f"{a.to_machine} (estimate) |")
    print("|---|---|---|---|---|---|")
    total_rec = total_est = 0.0
    for (method, mach), h in sorted(hours.items(), key=lambda kv: (GRID.index(kv[0][0]), kv[0][1])):
        if mach == a.to_machine:
            ratio, label = 1.0, "(same CPU)"
        else:
            slow = values.get(mach)
            proxies = [r for m in PROXY if slow and (r := speed_ratio(m, slow, fast))]
            ratio = speed_ratio(method, slow, fast) if slow else None
            fallback = statistics.median(proxies) if proxies else None
            label = f"{ratio:.2f}" if ratio else f"{fallback:.2f} (median)" if fallback else "(not scaled)"
            ratio = ratio or fallback or 1.0
        est = h / ratio
        total_rec += h
        total_est += est
        print(f"| {method} | {mach} | {cells[(method, mach)]} | {h:.2f} | {label} | {est:.2f} |")
    print(f"| **all** | | {sum(cells.values())} | **{total_rec:.2f}** | | **{total_est:.2f}** |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
