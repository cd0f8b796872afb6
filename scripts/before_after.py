"""Run grid cells with a method's module as it is at a git ref ("before") and as it is now ("after"); print a table.

Issue 12 item 5 (docs/performance.md, "GAIN and MissForest: the slow cells"): the speed-ups must leave results
unchanged. Both versions run the runner's own ``compute_cell`` (fit on the training rows, impute test and train,
score) on the same cells, one thread, in this process; "before" swaps the registry's class for the one defined
by ``git show REF:src/vaeac_bench/methods/MODULE.py`` (imported inside the package, so its relative imports
resolve to this checkout's shared code, which the speed-up does not touch). CPU seconds are this process's
clock (noisy on a shared machine, but not inflated by other jobs the way wall time is).

    PYTHONPATH=src python scripts/before_after.py --method gain --datasets iris boston --splits 0 1 --ref main
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from vaeac_bench import runner
from vaeac_bench.methods import get
from vaeac_bench.runner import compute_cell, plan

ROOT = Path(__file__).resolve().parents[1]


def load_module_at(ref: str, module: str) -> ModuleType:
    """Import ``vaeac_bench.methods.<module>`` as its source reads at git ``ref`` (a new module, same package)."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:src/vaeac_bench/methods/{module}.py"],
                         check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"{module}_before.py"
    path.write_text(src)
    name = f"vaeac_bench.methods._{module}_before"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def run(cell: Any, data_dir: str | None) -> dict[str, Any]:
    """One cell through the runner's compute path: its metrics and CPU seconds."""
    rec = compute_cell(cell, data_dir=data_dir, threads=1)
    return {**{k: rec["metrics"].get(k) for k in ("nrmse", "pfc", "train_nrmse", "train_pfc")},
            "cpu_s": rec["cpu"]["total_s"]}


def recorded(path: Path) -> dict[str, Any]:
    """A stored result's metrics, and its wall fit + impute seconds in place of CPU seconds (older records lack
    the CPU clock)."""
    rec = json.loads(path.read_text())
    t = rec["timing"]
    cpu = rec.get("cpu", {}).get("total_s") or t["fit_s"] + t["impute_test_s"] + t["impute_train_s"]
    return {**{k: rec["metrics"].get(k) for k in ("nrmse", "pfc", "train_nrmse", "train_pfc")}, "cpu_s": cpu}


def fmt(v: float | None) -> str:
    """A metric to 6 decimals, or a dash."""
    return "—" if v is None else f"{v:.6f}"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run every cell before and after, print JSON lines then a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", required=True, help="registry name, e.g. gain, gain-original-a1, missforest")
    ap.add_argument("--datasets", nargs="+", required=True)
    ap.add_argument("--splits", nargs="+", type=int, default=[0])
    ap.add_argument("--ref", default="main", help="git ref of the 'before' code (default: main)")
    ap.add_argument("--quick", action="store_true", help="the registry's quick settings (e.g. 200 GAIN iterations)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--before-results", default=None,
                    help="read 'before' from this results folder (the cells the grid computed with the --ref code) "
                         "instead of recomputing them; its CPU column is then the recorded wall fit+impute time")
    ap.add_argument("--extra-seeds", type=int, default=0,
                    help="also run both versions with this many other method seeds per cell (the grid's seed + k), "
                         "to show the seed-to-seed spread the before/after differences should be compared with")
    args = ap.parse_args(argv)

    mod_path, cls_name = get(args.method).target.split(":")
    live = importlib.import_module(mod_path)
    before_cls = getattr(load_module_at(args.ref, mod_path.rsplit(".", 1)[1]), cls_name)
    after_cls = getattr(live, cls_name)
    rows = []
    for cell in plan(args.datasets, [args.method], args.splits, quick=args.quick):
        out = {}
        if args.before_results:
            out["before"] = recorded(Path(args.before_results) / cell.key.relpath())
        for label, cls in (("before", before_cls), ("after", after_cls)):
            if label in out:
                continue
            setattr(live, cls_name, cls)  # the registry resolves "module:Class" at build time
            try:
                out[label] = run(cell, args.data_dir)
            finally:
                setattr(live, cls_name, after_cls)
        rows.append((cell.key.dataset, cell.key.split, out))
        print(json.dumps({"dataset": cell.key.dataset, "split": cell.key.split, **out}), flush=True)
        grid_seed = runner.method_seed
        for k in range(1, args.extra_seeds + 1):
            runner.method_seed = lambda *key, k=k, base=grid_seed: base(*key) + k  # type: ignore[misc]
            extra = {}
            try:
                for label, cls in (("before", before_cls), ("after", after_cls)):
                    setattr(live, cls_name, cls)
                    extra[label] = run(cell, args.data_dir)
            finally:
                runner.method_seed = grid_seed
                setattr(live, cls_name, after_cls)
            print(json.dumps({"dataset": cell.key.dataset, "split": cell.key.split, "seed_offset": k, **extra}),
                  flush=True)

    before_s = "before s (recorded, wall)" if args.before_results else "CPU s before"
    print(f"\n| dataset | split | metric | before | after | abs diff | {before_s} | CPU s after |")
    print("|---|---|---|---|---|---|---|---|")
    for ds, split, out in rows:
        b, a = out["before"], out["after"]
        metric = "nrmse" if b["nrmse"] is not None else "pfc"
        diff = abs(a[metric] - b[metric])
        print(f"| {ds} | {split} | {metric.upper()} | {fmt(b[metric])} | {fmt(a[metric])} | {diff:.2e} | "
              f"{b['cpu_s']:.1f} | {a['cpu_s']:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
