"""Does VAEAC's grid hold its results when the hand-written step's products run in bf16? (issue 12 §6)

A check, not a training path. It trains the grid's ``vaeac`` cells of the given datasets and splits (full
protocol, the runner's ``compute_cell``; nothing is written to ``results/``) in one of two precisions:

* ``fp32``: the registered path, ``methods/vaeac/manual_step.py`` as it is;
* ``bf16``: the same step under ``torch.autocast("cpu", torch.bfloat16)``. Autocast refuses a product written
  into an fp32 gradient (``torch.mm(..., out=grad)``), so the step used is a copy of ``manual_step.py`` made
  in memory, with each such product written as ``grad.copy_(torch.mm(...))`` (and each column sum the
  same way; ``benchmarks/bench_efficiency.bf16_step_class``, which ``ManualStepBF16Efficiency`` times).
  The ops after a product run in the precision type promotion gives them (bf16 until they meet an fp32
  tensor); weights, gradients, Adam, noise, masks, batches and validation stay fp32.

Run one process per precision, one thread each, so both see the same host (``--jobs`` is not offered: the
two processes are the comparison). Each finished cell is one JSON line in ``--out`` (resumable: done cells are
skipped). ``--seed-offsets 1,2,3`` trains the same cells with other method seeds (the grid's seed + k, as
``scripts/before_after.py --extra-seeds`` does), for a dataset whose shift needs more draws than its 5 splits.
``--summary FP32 BF16`` prints the table docs/performance.md quotes, with the committed records of the
same cells beside it: they are fp32 draws from another CPU, the scale of a difference that is only rounding.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT = "zoo,iris,glass,orthopedic,diabetes,boston,breast,phishing,concrete,yeast"


def read_rows(path: Path) -> list[dict]:
    """The finished cells of ``path``; a torn last line (a run killed while writing it) is dropped from the file,
    so that the next line appended starts on a line of its own."""
    if not path.exists():
        return []
    text = path.read_text()
    rows, good = [], []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
        good.append(line)
    if len(good) < len(text.splitlines()) or (text and not text.endswith("\n")):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("".join(g + "\n" for g in good))
        tmp.replace(path)
    return rows


def run(prec: str, out: Path, datasets: list[str], splits: list[int], offsets: tuple[int, ...] = (0,)) -> None:
    """Train each cell in ``prec`` (with the grid's method seed + each of ``offsets``) and append its metrics and
    CPU time to ``out``."""
    import torch

    torch.set_num_threads(1)
    if prec == "bf16":
        from benchmarks.bench_efficiency import bf16_step_class

        from vaeac_bench.methods.vaeac import training

        training.ManualStep = bf16_step_class()  # what training.manual_step builds
    from vaeac_bench import runner
    from vaeac_bench.runner import compute_cell, plan

    grid_seed = runner.method_seed
    done = {(r["dataset"], r["split"], r.get("seed_offset", 0)) for r in read_rows(out)}
    for k, split, ds in ((k, s, d) for k in offsets for s in splits for d in datasets):
        if (ds, split, k) in done:
            continue
        runner.method_seed = lambda *key, k=k: grid_seed(*key) + k  # compute_cell reads it from the module
        try:
            t = time.process_time()
            rec = compute_cell(plan([ds], ["vaeac"], [split])[0])
        finally:
            runner.method_seed = grid_seed
        row = {"dataset": ds, "split": split, "seed_offset": k, "prec": prec, "metrics": rec["metrics"],
               "cpu_s": time.process_time() - t, "fit_s": rec["cpu"]["fit_s"],
               "step": rec["provenance"]["training"].get("step"),
               "epochs": rec["provenance"]["training"].get("epochs_run")}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def stored(results: Path, dataset: str, split: int) -> dict | None:
    """The committed record of the same cell (another CPU's draw, for the scale of CPU-to-CPU differences)."""
    from vaeac_bench.runner import plan

    path = results / plan([dataset], ["vaeac"], [split])[0].key.relpath()
    return json.loads(path.read_text()) if path.exists() else None


def summary(fp32: Path, bf16: Path, results: Path | None = None) -> str:
    """Per dataset: the mean metric over the cells both precisions ran (splits x seed offsets), the difference in
    fp32's cell-to-cell standard deviations, the paired difference (mean ± its standard error, and their ratio t),
    the CPU seconds of the fits, and the speed per epoch (early stopping and the budget extensions make the two
    precisions run different numbers of epochs; for all datasets, bf16's seconds scaled to fp32's epochs). The
    committed records are the grid's own seeds (offset 0) only."""
    rows: dict[str, dict[str, dict[tuple[int, int], tuple]]] = {}
    for path in (fp32, bf16):
        for r in read_rows(path):
            metric = "nrmse" if r["metrics"].get("nrmse") is not None else "pfc"
            rows.setdefault(r["dataset"], {}).setdefault(r["prec"], {})[(r["split"], r.get("seed_offset", 0))] = (
                metric, r["metrics"][metric], r["fit_s"], r["epochs"])
    lines = ["| dataset | metric | cells | fp32 mean | bf16 mean | bf16 - fp32 (in fp32 cell sd) | paired bf16 - fp32 "
             "(t) | committed mean (its CPU) | fp32 - committed (in sd) | fit CPU s fp32 | fit CPU s bf16 | "
             "speed per epoch |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    tot = {"fp32": 0.0, "bf16": 0.0, "bf16_at_fp32_epochs": 0.0}
    for ds, by in rows.items():
        common = sorted(set(by.get("fp32", {})) & set(by.get("bf16", {})))
        if not common:
            continue
        metric = by["fp32"][common[0]][0]
        a = np.array([by["fp32"][c][1] for c in common])
        b = np.array([by["bf16"][c][1] for c in common])
        (ta, ea), (tb, eb) = ((sum(by[p][c][2] for c in common), sum(by[p][c][3] for c in common))
                              for p in ("fp32", "bf16"))
        tot["fp32"] += ta
        tot["bf16"] += tb
        tot["bf16_at_fp32_epochs"] += tb * ea / eb
        sd = a.std(ddof=1) if len(a) > 1 else float("nan")
        d = b - a
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        paired = f"{d.mean():+.4f} ± {se:.4f} ({d.mean() / se:+.1f})" if se > 0 else f"{d.mean():+.4f}"
        splits = sorted({s for s, k in common if k == 0})
        recs = [stored(results, ds, s) for s in splits] if results is not None else []
        if recs and all(r is not None for r in recs):
            c = np.array([r["metrics"][metric] for r in recs])
            a0 = np.array([by["fp32"][(s, 0)][1] for s in splits])
            cpus = sorted({r["provenance"]["machine"]["cpu"] for r in recs})
            committed = f"{c.mean():.4f} ({', '.join(cpus)}) | {(a0.mean() - c.mean()) / sd:+.2f}"
        else:
            committed = "- | -"
        lines.append(f"| {ds} | {metric.upper()} | {len(common)} | {a.mean():.4f} | {b.mean():.4f} | "
                     f"{(b.mean() - a.mean()) / sd:+.2f} | {paired} | {committed} | {ta:.0f} | {tb:.0f} | "
                     f"x{ta / ea / (tb / eb):.2f} |")
    lines.append(f"| **all** | | | | | | | | | {tot['fp32']:.0f} | {tot['bf16']:.0f} | "
                 f"x{tot['fp32'] / tot['bf16_at_fp32_epochs']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Train one precision's cells, or print the summary of two finished runs."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--precision", choices=("fp32", "bf16"))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--datasets", default=DEFAULT)
    ap.add_argument("--splits", default="0,1,2,3,4")
    ap.add_argument("--seed-offsets", default="0",
                    help="train each cell with the grid's method seed + each of these (0 is the grid's own seed)")
    ap.add_argument("--summary", nargs=2, type=Path, metavar=("FP32", "BF16"))
    ap.add_argument("--results", type=Path, default=REPO / "results",
                    help="committed records to set beside the summary (another CPU's draws of the same cells)")
    args = ap.parse_args(argv)
    if args.summary:
        print(summary(*args.summary, results=args.results))
        return 0
    if args.precision is None or args.out is None:
        ap.error("give --precision and --out (or --summary FP32 BF16)")
    run(args.precision, args.out, args.datasets.split(","), [int(s) for s in args.splits.split(",")],
        tuple(int(k) for k in args.seed_offsets.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
