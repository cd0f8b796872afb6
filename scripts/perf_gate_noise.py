"""Noise of the perf gate's timing: the same code against itself, many interleaved rounds (issue 12 §1).

In a temporary clone, an empty commit is added on top of ``--rev`` (same tree, another hash), and the gate's
timing benchmarks are run for the two commits alternately (A B, B A, ...) for ``--rounds`` rounds, each round in
its own asv results dir, with asv exactly as ``scripts/perf_gate.py`` runs it. Every ratio head/base is then
noise. Two readings are written to ``--out`` (JSON):

* ``gates``: consecutive blocks of ``--gate-rounds`` rounds, each exactly one gate's statistic (medians over
  the block's samples, ratio head/base): the observed distribution of the gate's ratio under no change;
* ``bootstrap``: ``--bootstrap`` gates re-sampled from the rounds (with replacement, per side), for the tail,
  with the per-gate false-alarm rate (any benchmark above the factor) at each candidate factor, before and
  after the gate's one re-run (the re-run counted as an independent second gate on the flagged benchmarks);
* ``per_benchmark_factor``: each benchmark's own factor for a 1% false-alarm rate per gate
  (:func:`per_benchmark_factors`), which ``scripts/perf_gate.py`` uses once the file holds at least
  ``perf_gate.MIN_NOISE_ROUNDS`` rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import perf_gate as pg  # noqa: E402

FACTORS = [1.1, 1.15, 1.2, 1.25, 1.3, 1.4, 1.5, 1.75, 2.0]
#: the per-gate false-alarm rate (after the one re-run) that the per-benchmark factors are chosen for
TARGET_FALSE_ALARM = 0.01


def per_benchmark_factors(boot: list[dict[str, float]], target: float = TARGET_FALSE_ALARM) -> dict:
    """Each benchmark's smallest candidate factor whose false alarm, squared (a flag must survive the re-run),
    is at most its share ``target / n`` of the gate's rate; None where no candidate is enough.

    Under the bootstrap model the gate (every benchmark, re-run included) then false-alarms at most ``target``
    per run, while a quiet benchmark keeps a factor small enough to catch a 1.5-2x slowdown. The tail is taken
    two-sided, from max(r, 1/r) / 2: same-code medians measured here sat off 1 (0.79 for GAIN's fit, head
    faster), an order effect whose sign CI did not share (1.415 there), so a one-sided tail would understate it.
    """
    names = sorted(boot[0])
    share = target / len(names)
    factors = {}
    for n in names:
        p = {f: sum(max(b[n], 1.0 / b[n]) > f for b in boot) / (2 * len(boot)) for f in FACTORS}
        factors[n] = next((f for f in FACTORS if p[f] ** 2 <= share), None)
    return {"target_false_alarm_after_rerun": target, "candidates": FACTORS, "factors": factors}


def gate_ratio(rounds_a: list[dict], rounds_b: list[dict]) -> dict[str, float]:
    """The gate's statistic over given rounds: median of the pooled samples, head over base, per benchmark."""
    out = {}
    for name in rounds_a[0]:
        sa = [x for r in rounds_a for x in r.get(name, [])]
        sb = [x for r in rounds_b for x in r.get(name, [])]
        if sa and sb:
            out[name] = statistics.median(sb) / statistics.median(sa)
    return out


def summarise(values: list[float]) -> dict[str, float]:
    """Min, quartiles, 95th/99th percentile and max of ratios."""
    v = sorted(values)

    def q(p: float) -> float:
        return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]

    return {"n": len(v), "min": v[0], "q25": q(0.25), "median": q(0.5), "q75": q(0.75), "p95": q(0.95),
            "p99": q(0.99), "max": v[-1]}


def analyse(per_round: dict, n_rounds: int, args: argparse.Namespace, rev: str, loads: list[float],
            seconds: float) -> dict:
    """The noise summary of the first ``n_rounds`` rounds, written (atomically) to ``args.out``."""
    g = args.gate_rounds
    blocks = [gate_ratio(per_round["base"][i:i + g], per_round["head"][i:i + g])
              for i in range(0, n_rounds - g + 1, g)]
    rng = random.Random(0)
    boot = []
    for _ in range(args.bootstrap):
        ia = [rng.randrange(n_rounds) for _ in range(g)]
        ib = [rng.randrange(n_rounds) for _ in range(g)]
        boot.append(gate_ratio([per_round["base"][i] for i in ia], [per_round["head"][i] for i in ib]))
    names = sorted(boot[0])
    worst = [max(b.values()) for b in boot]
    false_alarm = {}
    for f in FACTORS:
        p1 = sum(w > f for w in worst) / len(worst)
        # after the re-run: a flagged benchmark must be flagged again by an independent gate
        p_bench = {n: sum(b[n] > f for b in boot) / len(boot) for n in names}
        p_pass_all = 1.0
        for n in names:
            p_pass_all *= 1 - p_bench[n] ** 2
        p2 = 1 - p_pass_all
        false_alarm[str(f)] = {"per_gate_first_measurement": p1, "per_gate_after_rerun": p2}
    payload = {
        "what": "perf gate timing, the same tree against itself (empty commit); ratio = median head / median base",
        "rev": rev, "rounds_per_commit": n_rounds, "gate_rounds": g, "bootstrap": args.bootstrap,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_average_per_round": loads, "conditions": args.conditions},
        "seconds": None if seconds != seconds else round(seconds, 1),
        "gates": {n: [b[n] for b in blocks] for n in names},
        "gate_worst_per_block": [max(b.values()) for b in blocks],
        "bootstrap_summary": {n: summarise([b[n] for b in boot]) for n in names},
        "bootstrap_worst_benchmark": summarise(worst),
        "false_alarm_rate": false_alarm,
        "per_benchmark_factor": per_benchmark_factors(boot),
        "per_round_samples": per_round,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(args.out)
    return payload


def analyse_dir(args: argparse.Namespace) -> int:
    """Re-read the round results under ``args.from_dir`` (complete base/head pairs only) and analyse them."""
    from asv.results import Results

    rounds: dict[str, list[dict[str, list[float]]]] = {"base": [], "head": []}
    shas = {}
    r = 0
    while all((args.from_dir / f"r{r}-{s}" / "gate").is_dir() for s in ("base", "head")):
        for side in ("base", "head"):
            f = next((args.from_dir / f"r{r}-{side}" / "gate").glob("*-*.json"), None)
            if f is None:
                break
            shas[side] = Results.load(str(f)).commit_hash
            rounds[side].append({k: v[1] for k, v in pg.load(args.from_dir / f"r{r}-{side}", shas[side]).items()})
        r += 1
    n = min(len(rounds["base"]), len(rounds["head"]))
    rounds = {k: v[:n] for k, v in rounds.items()}
    print(f"{n} complete rounds in {args.from_dir}")
    payload = analyse(rounds, n, args, shas.get("base", "?"), [], float("nan"))
    print(json.dumps({k: payload[k] for k in ("gates", "bootstrap_summary", "false_alarm_rate")}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Measure the gate's timing noise and write the distribution as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--rounds", type=int, default=16, help="rounds per commit")
    ap.add_argument("--gate-rounds", type=int, default=pg.DEFAULT_ROUNDS)
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=Path("docs/perf_gate_noise.json"))
    ap.add_argument("--conditions", default="", help="free text: the machine's load while measuring")
    ap.add_argument("--from-dir", type=Path, default=None,
                    help="analyse the finished rounds of an earlier (interrupted) run's work dir instead of measuring")
    args = ap.parse_args(argv)
    if args.from_dir is not None:
        return analyse_dir(args)

    src = Path(pg.git("rev-parse", "--show-toplevel", cwd=Path.cwd()))
    rev = pg.git("rev-parse", args.rev, cwd=src)
    work = Path(tempfile.mkdtemp(prefix="perf-gate-noise-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(src), str(clone)], check=True)
    pg.git("-c", "advice.detachedHead=false", "checkout", "-q", rev, cwd=clone)
    pg.git("-c", "user.name=perf-gate-noise", "-c", "user.email=noise@localhost", "commit", "-q", "--allow-empty",
           "-m", "empty: same tree as its parent", cwd=clone)
    head = pg.git("rev-parse", "HEAD", cwd=clone)
    base, hd = pg.Side("base", rev, work / "base"), pg.Side("head", head, work / "head")
    for s in (base, hd):
        pg.git("worktree", "add", "--detach", "--force", str(s.tree), s.sha, cwd=clone)
    log = work / "asv.log"
    pg.asv_machine(pg.write_config(hd, clone, work, work / "r0"))
    per_round: dict[str, list[dict[str, list[float]]]] = {"base": [], "head": []}
    loads, t0 = [], time.monotonic()
    for r in range(args.rounds):
        for side in (base, hd) if r % 2 == 0 else (hd, base):
            results = work / f"r{r}-{side.label}"
            pg.asv_run(side, pg.write_config(side, clone, work, results), pg.TIMING, [], log)
            per_round[side.label].append({k: v[1] for k, v in pg.load(results, side.sha).items()})
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1}/{args.rounds} done, load {loads[-1]:.1f}, {time.monotonic() - t0:.0f} s", flush=True)
        if r + 1 >= args.gate_rounds:
            payload = analyse(per_round, r + 1, args, rev, loads, time.monotonic() - t0)
    print(json.dumps({k: payload[k] for k in ("gate_worst_per_block", "bootstrap_worst_benchmark",
                                              "false_alarm_rate")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
