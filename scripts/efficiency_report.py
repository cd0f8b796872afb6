"""Issue 12 §6: measure the VAEAC step's GFLOP/s and one-row sampling against this CPU's matmul rate; write a report.

Runs ``benchmarks.bench_efficiency.measure()`` (the asv suite's own code, one thread, one process, so the
matmul rate is measured in the same run) and writes ``reports/efficiency.json`` (the measurement) and
``reports/efficiency.md`` (its rendering) atomically. ``--render-only`` re-renders the Markdown from the JSON;
tests/test_reports.py checks that the committed report is that rendering, as it does for every report.

    OMP_NUM_THREADS=1 PYTHONPATH=src python scripts/efficiency_report.py --conditions "idle machine"
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def render(m: dict[str, float], meta: dict[str, str]) -> str:
    """The Markdown report of one measurement."""
    rate = max(m["matmul_gflops[1024x1024x1024]"], m["matmul_gflops_after"])
    rows = [
        ("fp32 matmul 1024x1024x1024 (reference rate; before / after the other figures)",
         f"{m['matmul_gflops[1024x1024x1024]']:.1f} / {m['matmul_gflops_after']:.1f} GFLOP/s", ""),
        ("fp32 matmul 64x256x256 (the step's layer shape)", f"{m['matmul_gflops[64x256x256]']:.1f} GFLOP/s",
         f"{m['matmul_gflops[64x256x256]'] / rate:.0%}"),
    ]
    for b in (64, 1024):
        rows.append((f"VAEAC training step through autograd, batch {b} ({m[f'step_mflop[{b}]']:.1f} MFLOP, "
                     f"{m[f'step_ms[{b}]']:.2f} ms)", f"{m[f'step_gflops[{b}]']:.1f} GFLOP/s",
                     f"{m[f'step_fraction[{b}]']:.0%}"))
    for b in (64, 1024):
        if f"manual_step_ms[{b}]" in m:
            rows.append((f"the same step, batch {b}, gradients by hand and one flat fused Adam "
                         f"(`methods/vaeac/manual_step.py`; the training path since 2026-12-05)",
                         f"{m[f'manual_step_gflops[{b}]']:.1f} GFLOP/s ({m[f'manual_step_ms[{b}]']:.2f} ms, "
                         f"x{m[f'step_ms[{b}]'] / m[f'manual_step_ms[{b}]']:.2f} speed)",
                         f"{m[f'manual_step_fraction[{b}]']:.0%}"))
    for b in (64, 1024):
        if f"manual_step_bf16_ms[{b}]" in m:  # measured since 2026-12-07
            rows.append((f"the hand-written step, batch {b}, its products in bf16 under autocast (benchmark only; "
                         "results: docs/performance.md)", f"{m[f'manual_step_bf16_ms[{b}]']:.2f} ms",
                         f"{m[f'manual_step_bf16_fraction[{b}]']:.0%}"))
    for b in (64, 1024):
        if f"step_ms_bf16[{b}]" in m:  # measurements before 2026-12-04 have batch 64 only
            rows.append((f"VAEAC training step through autograd, batch {b}, bf16 autocast (benchmark only)",
                         f"{m[f'step_ms_bf16[{b}]']:.2f} ms", f"x{m[f'step_ms[{b}]'] / m[f'step_ms_bf16[{b}]']:.2f} "
                         "speed vs fp32"))
    if "matmul_gflops_bf16[1024x1024x1024]" in m:
        rows.insert(1, ("bf16 matmul 1024x1024x1024 (not the reference rate)",
                        f"{m['matmul_gflops_bf16[1024x1024x1024]']:.1f} GFLOP/s",
                        f"{m['matmul_gflops_bf16[1024x1024x1024]'] / rate:.1f}x the fp32 rate"))
    rows.append((f"100 imputations of one row ({m['impute100_mflop']:.2f} MFLOP)", f"{m['impute100_ms']:.2f} ms",
                 f"{m['impute100_ratio_to_floor']:.1f}x its floor ({m['impute100_floor_ms'] * 1e3:.0f} us)"))
    if "impute100_fast_ms" in m:
        if m.get("impute100_fast_direct"):  # measured since 2026-12-07, evening
            label = ("the same 100 imputations as one `FastSampler.sample` call on the batch the method builds (the "
                     "draw itself: no validation, scaling, weights' key check or copy back to numpy)")
        elif meta["date"] < "2026-12-05":
            label = ("the same 100 imputations through the leaner sampler (`methods/vaeac/fast_sampler.py`; the "
                     "method's sampler since 2026-12-05)")
        else:  # the benchmark replaced model.sample_imputations, which the method stopped calling on 2026-12-05
            label = ("the same 100 imputations again through the method's path (meant as a direct call of the "
                     "sampler, but the benchmark's switch no longer reached the method, which samples through "
                     "`sampler_for` since 2026-12-05: a repeat of the row above)")
        rows.append((label, f"{m['impute100_fast_ms']:.2f} ms",
                     f"{m['impute100_fast_ratio_to_floor']:.1f}x its floor"))
    if "impute100_key_ms" in m:  # measured since 2026-12-07, evening
        rows.append(("the weights' key check that `sampler_for` makes on every call of the method "
                     "(`fast_sampler._weights_key`, a walk over the model's parameters; the queued fix replaces it)",
                     f"{m['impute100_key_ms']:.2f} ms", f"{m['impute100_key_ms'] / m['impute100_ms']:.0%} of the "
                     "method's call"))
    if "impute100_products_ms" in m:  # measured since 2026-12-07
        rows.append(("the matrix products of those 100 imputations, replayed on their own in the sampler's order",
                     f"{m['impute100_products_ms']:.2f} ms",
                     f"{m['impute100_products_ratio_to_floor']:.1f}x its floor"))
    if "phase_ms[optimizer]" in m:  # the step's budget (measured since 2026-12-04, evening)
        total = sum(m[f"phase_ms[{k}]"] for k in ("batch", "forward", "backward", "optimizer"))
        rows.append(("the autograd batch-64 step by phase: batch + mask / forward / backward / fused Adam",
                     " / ".join(f"{m[f'phase_ms[{k}]']:.2f}" for k in ("batch", "forward", "backward", "optimizer"))
                     + " ms", f"Adam {m['phase_ms[optimizer]'] / total:.0%} of the step"))
        rows.append((f"fused Adam's memory traffic (7 fp32 arrays x {m['n_params'] / 1e6:.2f}M parameters) / "
                     "streaming rate (`addcmul`, same size)",
                     f"{m['optimizer_gbps']:.1f} / {m['stream_gbps']:.1f} GB/s",
                     f"Adam floor {m['adam_floor_ms']:.2f} ms"))
        rows.append(("best batch-64 step if every op but the products and Adam's traffic were free",
                     f"{m['step_floor_ms[64]'] + m['adam_floor_ms']:.2f} ms",
                     f"{m['attainable_fraction[64]']:.0%}"))
    if "products_in_step_ms[64]" in m:  # measured since 2026-12-07
        rows.append((f"the hand-written batch-64 step's {m['step_products[64]']:.0f} matrix products, replayed in its "
                     "order on its own tensors / each repeated alone (hot)",
                     f"{m['products_in_step_gflops[64]']:.1f} / {m['products_hot_gflops[64]']:.1f} GFLOP/s "
                     f"({m['products_in_step_ms[64]']:.2f} ms in the step's order)",
                     f"{m['products_in_step_gflops[64]'] / rate:.0%} / {m['products_hot_gflops[64]'] / rate:.0%}"))
        rows.append(("best hand-written batch-64 step if every op but its products (as they run in the step) and "
                     "its fused Adam were free",
                     f"{m['products_in_step_ms[64]'] + m['manual_adam_ms[64]']:.2f} ms "
                     f"(Adam {m['manual_adam_ms[64]']:.2f} ms)", f"{m['in_step_ceiling[64]']:.0%}"))
    for name, label in (("compiled", "torch.compile"), ("compiled_cpp_wrapper", "torch.compile, cpp_wrapper")):
        if f"{name}_step_ms" in m:
            cache = ", inductor's on-disk cache on" if m.get("compile_cache") else ""
            rows.append((f"batch-64 step, loss under {label}, noise drawn outside (benchmark only; the first "
                         f"call took {m[f'{name}_compile_s']:.0f} s{cache})",
                         f"{m[f'{name}_step_ms']:.2f} ms (eager, same run: {m[f'{name}_eager_ms']:.2f} ms)",
                         f"x{m[f'{name}_eager_ms'] / m[f'{name}_step_ms']:.2f} speed vs eager"))
    lines = ["# Compute efficiency of VAEAC on CPU (issue 12 §6)", "",
             f"Generated by `scripts/efficiency_report.py` on {meta['date']} ({meta['cpu']}, one thread). "
             f"Conditions: {meta['conditions']}", "",
             "| what | measured | of the matmul rate |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "FLOPs are torch's `FlopCounterMode` count (matrix products, forward and backward); the "
              "fractions divide by the higher of the two square-matmul measurements of the same process. "
              "Goals (issue 12 §6): batch-64 step at >= 60% of the matmul rate; 100 imputations of one row within "
              "2x of the floor. Reading and next steps: docs/performance.md, \"Compute efficiency\".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and write reports/efficiency.{json,md}."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--conditions", default="not stated")
    ap.add_argument("--out-dir", type=Path, default=REPO / "reports")
    ap.add_argument("--render-only", action="store_true", help="re-render efficiency.md from efficiency.json")
    ap.add_argument("--compile", action="store_true", help="also time the step with its loss under torch.compile "
                    "(about two minutes more)")
    args = ap.parse_args(argv)
    if args.render_only:
        saved = json.loads((args.out_dir / "efficiency.json").read_text())
        atomic_write(args.out_dir / "efficiency.md", render(saved["measured"], saved["meta"]))
        return 0
    from benchmarks.bench_efficiency import measure

    from vaeac_bench.provenance import machine

    m = measure(compile_variants=args.compile)
    meta = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": f"{machine()['cpu']}, {platform.machine()}, {os.cpu_count()} cores", "conditions": args.conditions,
            "load_average": f"{os.getloadavg()[0]:.1f}"}
    atomic_write(args.out_dir / "efficiency.json", json.dumps({"meta": meta, "measured": m}, indent=1) + "\n")
    atomic_write(args.out_dir / "efficiency.md", render(m, meta))
    print(render(m, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
