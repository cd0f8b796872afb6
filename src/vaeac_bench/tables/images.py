"""Tables 5 and 9 (image inpainting, issue 10) from the image cells' result files, beside the paper's numbers.

Only current records count: an image record whose config hash is the one the registry would run now (quick runs
apart from full ones). Our numbers are mean ± std over the test objects, as the paper's; the paper's times are
from the authors' GPU, ours from the machine each record names. ``omniglot28`` is a different dataset (28×28)
and gets its own column, never beside the paper's Omniglot (105×105) numbers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..results import atomic_write_text, config_hash, iter_results
from .published import load_published

#: table 9's rows: (label, method family, metric stem)
TABLE9_ROWS = (
    ("VAEAC IS-10²", "vaeac-image", "nll_is100"),
    ("VAEAC MC-10⁴", "vaeac-image", "nll_mc10000"),
    ("VAEAC MC-10²", "vaeac-image", "nll_mc100"),
    ("GSNN MC-10⁴", "gsnn-image", "nll_mc10000"),
    ("GSNN MC-10²", "gsnn-image", "nll_mc100"),
    ("Naive Bayes", "naive-bayes-image", "nll_exact"),
)
IMAGE_DATASETS = ("mnist", "omniglot", "omniglot28")


def current_image_results(results_dir: str | Path, quick: bool = False, kind: str = "image") -> list[dict[str, Any]]:
    """Records of ``kind`` ("image"; "celeba" for issue 11) whose config hash is what the registry would run now."""
    from ..runner import cell_config

    out = []
    for r in iter_results(Path(results_dir)):
        if r.get("kind") != kind or bool(r.get("quick")) != quick:
            continue
        try:
            expected = config_hash(cell_config(r["dataset"], r["method"], r["mechanism"], r["rate"], 1, quick))
        except ValueError:  # no longer registered
            continue
        if r["config_hash"] == expected:
            out.append(r)
    return out


def _fmt(mean: float | None, std: float | None = None) -> str:
    if mean is None or not math.isfinite(mean):
        return "—"
    digits = 0 if abs(mean) >= 10 else 2
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None and math.isfinite(std) else "")


def _ours(results: list[dict[str, Any]], dataset: str, method: str, metric: str) -> tuple[str, str]:
    """(value text, epochs text) of one of our cells: the metric with the smallest S we ran when S differs."""
    hits = [r for r in results if r["dataset"] == dataset and r["method"] == method]
    if not hits:
        return "not run", ""
    r = hits[0]
    key = metric.removeprefix("nll_")
    nll = r.get("nll") or {}
    stats = nll.get(key)
    if stats is None and r.get("quick") and key in ("is100", "mc100"):  # quick cells use fewer samples
        key = next((k for k in nll if k.startswith(key[:2])), key)
        stats = nll.get(key)
    if stats is None:
        return "—", ""
    b = r.get("budget") or {}
    ep = f"{b.get('epochs_run')}/{b['paper_epochs']} ep" if b.get("paper_epochs") else ""
    fewer = scored_fewer(stats, (r.get("data") or {}).get("n_test"))
    if fewer is not None:  # MC-10⁴ on fewer objects
        ep = f"{fewer} objects" + (f", {ep}" if ep else "")
    if key != metric.removeprefix("nll_"):
        ep = f"S={key[2:]}" + (f", {ep}" if ep else "")
    if older_code(r):
        ep = (f"{ep}, " if ep else "") + "older code"
    return _fmt(stats["mean"], stats.get("std")), ep


#: how the image tables name each binary image dataset (table 9's column heads add "(ours only)" to omniglot28)
_DATASET_LABEL = {"mnist": "MNIST", "omniglot": "Omniglot", "omniglot28": "Omniglot 28×28"}


def long_mc_missing(results: list[dict[str, Any]]) -> list[str]:
    """Table 9's cells with an MC-10² but no MC-10⁴, each with its cost estimated from its own record: 10⁴ decoder
    passes an object are 100 times the record's MC-10² scoring (its NLL time shared equally among its S = 10²
    estimators), e.g. "Omniglot conv GSNN: about 26 CPU h"."""
    out = []
    for r in results:
        nll = r.get("nll") or {}
        secs = (r.get("timing") or {}).get("nll_s")
        if "mc100" not in nll or "mc10000" in nll or not secs or r.get("quick") or r["dataset"] not in _DATASET_LABEL:
            continue
        net = "FC" if r["method"].endswith("-fc") else "conv"
        label = r["method"].split("-")[0].upper()
        share = secs / len([k for k in nll if k.endswith("100") and not k.endswith("10000")])
        out.append(f"{_DATASET_LABEL[r['dataset']]} {net} {label}: about {100 * share / 3600:.0f} CPU h")
    return sorted(out)


def scored_fewer(stats: dict[str, Any], n_cell: int | None) -> int | None:
    """How many objects an NLL estimate covered, where fewer than its cell's ``n_cell`` (else None)."""
    n = stats.get("n")
    return int(n) if n is not None and n_cell and n < n_cell else None


def older_code(record: dict[str, Any]) -> bool:
    """True when a record's code digest is not the current one (computed before the image code last changed)."""
    from ..provenance import is_stale

    return is_stale(record)


def _paper(table: str, dataset: str, method: str, metric: str) -> str:
    df = load_published()
    hit = df[(df.table == table) & (df.dataset == dataset) & (df.method == method) & (df.metric == metric)]
    return str(hit.iloc[0]["text"]) if not hit.empty else "—"


def render_table9(results: list[dict[str, Any]], quick: bool = False) -> str:
    """Table 9: NLL of the hidden pixels for 1000 test objects, ours (conv and FC) beside the paper's."""
    head = ["Method"]
    for d in IMAGE_DATASETS:
        name = _DATASET_LABEL[d] + (" (ours only)" if d == "omniglot28" else "")
        head += [f"{name} conv", f"{name} FC"] + ([f"{name} paper"] if d != "omniglot28" else [])
    rows = []
    for label, method, metric in TABLE9_ROWS:
        row = [label]
        for d in IMAGE_DATASETS:
            for suffix in ("", "-fc"):
                m = method if method == "naive-bayes-image" else method + suffix
                value, ep = _ours(results, d, m, metric)
                if method == "naive-bayes-image":  # no network: its one number belongs to neither column
                    row.append(f"{value} (no network)" if not suffix else "same")
                    continue
                row.append(f"{value} ({ep})" if ep and value not in ("not run", "—") else value)
            if d != "omniglot28":
                row.append(_paper("9", d, method, metric))
        rows.append(row)
    rowed = {m + suffix for _, m, _ in TABLE9_ROWS if m != "naive-bayes-image" for suffix in ("", "-fc")}
    missing = long_mc_missing([r for r in results if r["dataset"] in IMAGE_DATASETS and r["method"] in rowed])
    lines = ["# Table 9: negative log-likelihood of inpaintings (nats, mean ± std over test objects)", ""]
    if quick:
        lines += ["**Quick run: tiny budgets, not comparable to the paper.**", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "IS-S: importance sampling (18), MC-S: Monte Carlo (17), S samples per object; "
              "naive Bayes is exact and has no network (its one number sits under 'conv', 'same' under 'FC'). "
              "Masks: MNIST the observed 3-row band, Omniglot random rectangles (A.3). '(e/p ep)': epochs run / the "
              "paper's; 'older code': the record's code digest is not the current one (computed before the image "
              "code last changed; `run-bench --datasets images` recomputes it). MC-10⁴ (10⁴ decoder passes per object) "
              "is computed after the cells by `run-bench --mc-long N` from each cell's trained network, on the "
              "first N test objects ('(n objects)' where fewer than the cell's); '—' where not computed. "
              + (f"Not computed, for their cost on one CPU core ({'; '.join(missing)}, from each record's MC-10² "
                 "time), not by choice: the paper's numbers are from a GPU. " if missing else "") +
              "MNIST is binarised at 0.5; the paper's naive Bayes (205 nats) matches a lower threshold, so its "
              "digits were probably thicker than ours (docs/images.md, Binarisation). "
              "Test objects: a seeded sample of 1000 of the whole test set (the same for every method). Records "
              "marked 'older code' scored the first 1000 instead; Omniglot's evaluation set is ordered by "
              "character, so those are 50 of its 659 characters (docs/images.md). "
              "Paper numbers: tables/published.csv.",
              "", "Where ours differ from the paper, and why (docs/images.md, 'What the numbers say'): our networks "
              "ran fewer epochs than the paper's where '(e/p ep)' says so, and every one's best epoch was its last or "
              "the one before, so they were still improving (Omniglot's gaps are the widest: its networks ran 10 "
              "(conv) and 30 (FC) of the paper's 50 epochs). Our ± are spreads over test objects, whose masks hide "
              "from a band to the whole image; the paper's ± are too narrow for that and are likely over runs. "
              "GSNN's MC-10⁴ equals its MC-10², as in the paper: its prior barely varies, so more samples change "
              "nothing."]
    return "\n".join(lines) + "\n"


def gpu_checks(results_dir: str | Path) -> list[dict[str, Any]]:
    """The committed GPU check reports (``results/gpu/*.json``, scripts/gpu_check.py on a lent CUDA machine), oldest
    first. They are timings of the registered table-5 network on a named GPU, not cells: no config hash."""
    out = []
    for path in sorted((Path(results_dir) / "gpu").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        env = data.get("environment") if isinstance(data, dict) else None
        if isinstance(env, dict) and str(env.get("device", "")).startswith("cuda") and "steps" in data:
            out.append(data | {"file": path.name})
    return sorted(out, key=lambda d: str(d.get("started", "")))


def _gpu_cell(check: dict[str, Any] | None, what: str) -> str:
    """One table-5 cell of the latest GPU check: IS-10² NLL, the fit's time and epochs, or the 100-draw median."""
    if check is None:
        return "no GPU lent yet"
    steps = check.get("steps") or {}
    step = steps.get({"nll": "fc_vaeac_is100", "train": "fc_vaeac_fit", "sample": "fc_vaeac_100_samples"}[what])
    if not step or "error" in step or "skipped" in step:
        return "—"
    if what == "nll":
        return _fmt(step["mean"], step.get("std"))
    if what == "train":
        fit, ep = step.get("fit_s") or step["fit_wall_s"], step.get("epochs_run")
        return f"{fit:.0f} s ({ep} epochs" + (f", {fit / ep:.1f} s an epoch)" if ep else ")")
    return f"{1000 * step['median_s']:.2f} ms"


def render_table5(results: list[dict[str, Any]], quick: bool = False,
                  gpu: dict[str, Any] | None = None) -> str:
    """Table 5: VAEAC vs UM on MNIST (NLL, training time, 100-sample time), ours beside the paper's.

    ``gpu`` is the latest GPU check report (``gpu_checks``): its FC VAEAC gets a column of its own, since the
    paper's times are from a GPU and our cells' from a CPU.
    """
    lines = ["# Table 5: VAEAC and UM on MNIST", ""]
    if quick:
        lines += ["**Quick run: tiny budgets, not comparable to the paper.**", ""]
    lines += ["| | VAEAC conv (ours) | VAEAC FC (ours) | VAEAC FC (ours, GPU) | VAEAC (paper) | UM (ours) "
              "| UM (paper) |",
              "|---|---|---|---|---|---|---|"]
    by = {m: next((r for r in results if r["dataset"] == "mnist" and r["method"] == m), None)
          for m in ("vaeac-image", "vaeac-image-fc", "um-image")}

    def cell(r: dict[str, Any] | None, what: str) -> str:
        if r is None:
            return "not run"
        if what == "nll":
            s = (r.get("nll") or {}).get("is100") or next(iter((r.get("nll") or {}).values()), None)
            return _fmt(s["mean"], s.get("std")) if s else "—"
        t = r.get("timing") or {}
        if what == "train":
            b = r.get("budget") or {}
            older = ", older code" if older_code(r) else ""
            if t.get("fit_s") is None:  # resumed from an earlier process's checkpoint: not timed whole
                return f"not measured ({b.get('epochs_run')} epochs, resumed across runs){older}"
            per = f", {t['fit_s'] / b['epochs_run']:.0f} s an epoch" if b.get("epochs_run") else ""
            return f"{t['fit_s']:.0f} s ({b.get('epochs_run')} epochs{per}){older}"
        v = t.get("sample100_one_object_s")
        if v is None:
            return "—"
        return f"{1000 * v:.1f} ms" if v < 1 else f"{v:.1f} s"

    for label, what, metric in (("Negative log-likelihood", "nll", "nll"), ("Training time", "train", "train_s"),
                                ("100 samples for one object", "sample", "sample100_s")):
        lines.append(f"| {label} | {cell(by['vaeac-image'], what)} | {cell(by['vaeac-image-fc'], what)} | "
                     f"{_gpu_cell(gpu, what)} | "
                     f"{_paper('5', 'mnist', 'vaeac-image', metric)} | {cell(by['um-image'], what)} | "
                     f"{_paper('5', 'mnist', 'um-image', metric)} |")
    machines = sorted({str((r.get("provenance") or {}).get("machine", {}).get("cpu", "?")) for r in by.values() if r})
    lines += ["", "NLL: VAEAC IS-10², UM the chain rule (11) along one random permutation per object, on 1000 test "
              "objects with the line mask. 100 samples for one object: VAEAC one batched pass, UM |b| = 700 "
              "sequential network calls (§5.3), timed the same way. The paper's times are from the authors' GPU "
              f"(30 epochs); ours are from this machine's CPU ({', '.join(machines) or 'no record'}), one thread, "
              "for the epochs run. The machine is shared and was replaced between sessions: cells of different "
              "sessions may have run under different loads and CPUs, so our times compare only within a session. "
              "A training resumed from an earlier run's checkpoint is timed only in part, so it says 'not "
              "measured' rather than print that part.",
              "", "Where ours differ from the paper, and why (docs/images.md, 'What the numbers say'): the VAEAC NLL "
              "is above the paper's because our networks were still improving when their budget ended (the conv "
              "one ran a third of the paper's epochs; the FC one's best epoch is its last). Our UM, trained the "
              "paper's 30 epochs with the B.3 mask fix, does not show the paper's advantage over VAEAC; why is "
              "open. The times differ by device: the GPU column shows the paper's times met on a current GPU."]
    if gpu is not None:
        env = gpu.get("environment") or {}
        fit = (gpu.get("steps") or {}).get("fc_vaeac_fit") or {}
        lines += ["", f"GPU column: the registered FC VAEAC (`vaeac-image-fc`, {fit.get('epochs_run', '?')} epochs) "
                  f"trained and timed by `scripts/gpu_check.py` on an {env.get('gpu', '?')} (torch "
                  f"{env.get('torch', '?')}, CUDA {env.get('cuda', '?')}), {str(gpu.get('started', '?'))[:10]}, "
                  f"results/gpu/{gpu['file']}; the same scored objects and masks as the CPU cells, but not a cell "
                  "itself (its network was trained again on the GPU). 100 samples: the median of "
                  f"{(gpu['steps'].get('fc_vaeac_100_samples') or {}).get('repeats', '?')} synchronised draws "
                  "after a warm-up. UM was not timed on that GPU (it had no GPU path then; it takes `device=` since "
                  "2026-12-05, docs/performance.md)."]
    return "\n".join(lines) + "\n"


def render_image_tables(results_dir: str | Path, reports_dir: str | Path, quick: bool = False) -> list[Path]:
    """Write table5.md, table9.md and the image figures (atomically) from the current image records."""
    from ..image_long_mc import attach_long_mc

    results = current_image_results(results_dir, quick)
    attach_long_mc(results, results_dir)  # table 9's MC-10⁴ (run-bench --mc-long), where computed
    out = []
    gpu = None if quick else next(reversed(gpu_checks(results_dir)), None)
    for name, text in (("table5.md", render_table5(results, quick, gpu)), ("table9.md", render_table9(results, quick))):
        path = Path(reports_dir) / name
        atomic_write_text(path, text)
        out.append(path)
    from .image_figures import render_image_figures

    return out + render_image_figures(results, reports_dir)

