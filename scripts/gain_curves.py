"""Record modified GAIN's held-out validation curve on the grid's cells, and what a patience rule would change.

A.4 holds out 5% of the observed cells "to choose the number of iterations"; the registered fit runs all 10,000
iterations and keeps the best. Training is deterministic, so a fit stopped ``P`` iterations after its best so far
follows the same curve up to its stop: it keeps the same weights exactly when the full run's best came before the
stop. This script fits each cell once (the runner's split, seed and parameters, one thread), saves the curve to a
JSON file, and prints, for each patience, how many cells would keep their weights and the iterations saved.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from joblib import Parallel, delayed

from vaeac_bench.datasets import load, make_split, resolve
from vaeac_bench.methods import build, seed
from vaeac_bench.resources import limit_threads
from vaeac_bench.runner import method_seed, plan


def curve(dataset: str, method: str, split: int) -> dict:
    """One cell's fit: its validation curve (iteration, held-out error), best iteration and CPU seconds."""
    cell = plan([dataset], [method], [split])[0]
    k = cell.key
    sp = make_split(load(k.dataset), k.split, k.mechanism, k.rate)
    est = seed(build(k.method, quick=False), method_seed(k.dataset, k.method, k.split))
    with limit_threads(1):
        c = time.process_time()
        est.fit(sp.train_obs, sp.schema)
        cpu = time.process_time() - c
    return {"dataset": dataset, "method": method, "split": split, "best_iteration": int(est.best_iteration_),
            "iterations": int(est.fit_info_["epochs_run"]), "fit_cpu_s": cpu,
            "curve": [[int(i), round(float(e), 7)] for i, e in est.history_]}


def stop_at(curve: list[list[float]], patience: int, cap: int) -> tuple[int, int]:
    """(stop iteration, best iteration) of the fit that stops ``patience`` iterations after its best so far
    (``nn.harness.fit_loop``'s rule, for a patience that is a multiple of the evaluation interval)."""
    best_it, best = None, float("inf")
    for it, err in curve:
        if err < best:  # strictly better: the earliest of equal errors wins (nn/harness.fit_loop)
            best_it, best = int(it), err
        if best_it is not None and it - best_it >= patience:
            return int(it), best_it
    return cap, best_it


def main(argv: list[str] | None = None) -> None:
    """Fit the cells (or read ``--out`` if it exists) and print the patience table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="uci")
    ap.add_argument("--method", default="gain")
    ap.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("reports/gain_curves.json"))
    ap.add_argument("--patience", type=int, nargs="+", default=[500, 1000, 2000, 3000, 4000, 5000])
    args = ap.parse_args(argv)
    if args.out.is_file():
        cells = json.loads(args.out.read_text())
    else:
        todo = [(d, args.method, s) for d in resolve(args.datasets) for s in args.splits]
        cells = Parallel(n_jobs=args.jobs)(delayed(curve)(*t) for t in todo)
        args.out.write_text(json.dumps(cells, indent=0) + "\n")
    total = sum(c["iterations"] for c in cells)
    print(f"{len(cells)} cells, {total} iterations, {sum(c['fit_cpu_s'] for c in cells) / 3600:.3f} CPU h of fits")
    print("| patience | cells with the same weights | iterations run | share of the full run's "
          "| held-out error, worst cell | held-out error, mean over cells |")
    print("|---|---|---|---|---|---|")
    errors = [dict(map(tuple, c["curve"])) for c in cells]  # iteration -> held-out error, once per cell
    for p in args.patience:
        runs = [stop_at(c["curve"], p, c["iterations"]) for c in cells]
        same = sum(b == c["best_iteration"] for (_, b), c in zip(runs, cells, strict=True))
        ran = sum(s for s, _ in runs)
        rel = [err[b] / err[c["best_iteration"]] - 1
               for (_, b), c, err in zip(runs, cells, errors, strict=True)]
        print(f"| {p} | {same} of {len(cells)} | {ran} | {ran / total:.2f} | {max(rel):+.1%} "
              f"| {sum(rel) / len(rel):+.2%} |")


if __name__ == "__main__":
    main()
