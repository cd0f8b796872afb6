"""Time one method on a few grid cells and print their metrics as JSON lines (docs/performance.md's before/after).

Runs the runner's own compute path (``compute_cell``: fit, impute test and train, score) one cell at a time,
one thread, so the numbers are those of the grid. Peak RSS is this process's high-water mark after each cell
(run one large cell per process, under ``/usr/bin/time -v``, for a per-cell figure).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys

from vaeac_bench.runner import compute_cell, plan


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the cells, print one JSON line per cell."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", required=True)
    ap.add_argument("--datasets", nargs="+", required=True)
    ap.add_argument("--splits", nargs="+", type=int, default=[0])
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    for cell in plan(args.datasets, [args.method], args.splits):
        rec = compute_cell(cell, data_dir=args.data_dir, threads=1)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"dataset": rec["dataset"], "method": rec["method"], "split": rec["split"],
                          "nrmse": rec["metrics"]["nrmse"], "pfc": rec["metrics"]["pfc"],
                          "train_nrmse": rec["metrics"]["train_nrmse"], "train_pfc": rec["metrics"]["train_pfc"],
                          **rec["timing"], "cpu_total_s": rec["cpu"]["total_s"], "peak_rss_mib": peak_mib}),
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
