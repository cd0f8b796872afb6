"""Before and after a recompute: each method's per-dataset metric in the records at a git ref and in the tree now.

Issue 12 §5 asks for results "unchanged within noise" with "the table before and after". A recompute replaces
result files in place, so "before" is the committed records at ``--before`` (``git show``) and "after" the
files in ``results/`` now. For each dataset x method with all splits on both sides it prints the mean ± std
over splits of the paper's metric (NRMSE or PFC), the difference, the difference in units of its standard
error (std over splits of the paired differences / sqrt(n)), the CPU seconds of both (``cpu.total_s``) and the
CPUs that computed them. The paper's setting (MCAR 50%) is compared unless ``--settings`` names others (the
comparison grid's ``mar-0.1``, ...; ``all`` for every one), each its own row.

    python scripts/records_diff.py --before 6b63581 --methods vaeac gsnn nn --out docs/recompute-vaeac-step.md
    python scripts/records_diff.py --before 288ad5e --methods vaeac --settings all
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout


def _metric(record: dict) -> tuple[str, float]:
    m = record["metrics"]
    name = "nrmse" if m.get("nrmse") is not None else "pfc"  # the paper's metric: NRMSE, or PFC if no real column
    return name, float(m[name])


def _cpu(record: dict) -> str:
    return record.get("provenance", {}).get("machine", {}).get("cpu", "?")


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _setting(path: str) -> str:
    """The setting of a result file's name: ``mcar-0.5`` of ``mcar-0.5_split3_<hash>.json``."""
    return Path(path).name.split("_split")[0]


def collect(before: str, methods: list[str], settings: tuple[str, ...] = ("mcar-0.5",),
            ) -> dict[tuple[str, str], list[tuple[dict, dict]]]:
    """(dataset, method[, setting]) -> [(before record, after record)] for every file of ``settings`` in both."""
    every = settings == ("all",)
    paths = [p for p in _git("ls-tree", "-r", "--name-only", before, "results").split()
             if p.endswith(".json") and "_split" in p and p.count("/") == 3 and p.split("/")[2] in methods
             and (every or _setting(p) in settings) and "_mc" not in Path(p).stem]
    pairs: dict[tuple[str, str], list[tuple[dict, dict]]] = defaultdict(list)
    for p in paths:
        now = REPO / p
        if not now.is_file():
            continue
        old, new = json.loads(_git("show", f"{before}:{p}")), json.loads(now.read_text())
        if old.get("provenance", {}).get("code_digest") == new.get("provenance", {}).get("code_digest"):
            continue  # not recomputed yet
        method = old["method"] if settings == ("mcar-0.5",) else f"{old['method']} {_setting(p)}"
        pairs[(old["dataset"], method)].append((old, new))
    return pairs


def render(pairs: dict[tuple[str, str], list[tuple[dict, dict]]], before: str) -> str:
    """The Markdown table (one row per dataset x method) and a summary line per method."""
    lines = [f"| dataset | method | metric | before (`{before}`) | after | after - before | / its s.e. | "
             "CPU s before | CPU s after | CPUs before / after |", "|---|---|---|---|---|---|---|---|---|---|"]
    per_method: dict[str, list[float]] = defaultdict(list)
    cpu_sum: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (ds, meth), rows in sorted(pairs.items()):
        name = _metric(rows[0][0])[0]
        b = [_metric(o)[1] for o, _ in rows]
        a = [_metric(n)[1] for _, n in rows]
        d = [y - x for x, y in zip(b, a, strict=True)]
        se = statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else float("nan")
        z = statistics.mean(d) / se if se and se == se else float("nan")
        per_method[meth].append(z)
        cb = sum(o["cpu"]["total_s"] for o, _ in rows)
        ca = sum(n["cpu"]["total_s"] for _, n in rows)
        cpu_sum[meth][0] += cb
        cpu_sum[meth][1] += ca
        cpus = f"{'/'.join(sorted({_cpu(o) for o, _ in rows}))} / {'/'.join(sorted({_cpu(n) for _, n in rows}))}"
        lines.append(f"| {ds} | {meth} | {name} ({len(rows)} splits) | {statistics.mean(b):.4f} ± {_sd(b):.4f} | "
                     f"{statistics.mean(a):.4f} ± {_sd(a):.4f} | {statistics.mean(d):+.4f} | {z:+.1f} | {cb:.0f} | "
                     f"{ca:.0f} | {cpus} |")
    lines += ["", "Per method: datasets compared; the differences within 2 standard errors; CPU hours before and "
              "after (summed over the compared cells).", ""]
    for meth, zs in sorted(per_method.items()):
        within = sum(1 for z in zs if abs(z) <= 2)
        lines.append(f"* {meth}: {len(zs)} datasets, {within} within 2 s.e.; CPU {cpu_sum[meth][0] / 3600:.2f} h "
                     f"-> {cpu_sum[meth][1] / 3600:.2f} h")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print (or write) the before/after table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="git ref holding the records before the recompute")
    ap.add_argument("--methods", nargs="+", required=True)
    ap.add_argument("--settings", nargs="+", default=["mcar-0.5"],
                    help="mechanism-rate settings to compare (default: the paper's mcar-0.5; 'all': every one)")
    ap.add_argument("--out", type=Path, help="write the table here (Markdown) instead of printing it")
    args = ap.parse_args(argv)
    text = render(collect(args.before, args.methods, tuple(args.settings)), args.before)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
