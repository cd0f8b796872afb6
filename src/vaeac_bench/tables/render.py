"""Markdown reports: our mean ± std over splits beside the paper's published value, cell by cell.

Only results computed with the current configuration of a method are used (a result file whose config
hash differs, e.g. a ``--quick`` run or other parameters, is ignored). A cell whose results were computed by
older code (see :mod:`vaeac_bench.provenance`) is marked "stale"; a cell never computed says "not run";
nothing is left blank. Rendering reads result files and the published numbers only: it never imports torch,
miceforest or a method module (issue 9 item 3).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results import atomic_write_text, iter_results, long_table
from .definitions import TABLES, TableDef
from .published import published

log = logging.getLogger("vaeac_bench")

WORSE, BETTER = "▼", "▲"
STALE, NOT_RUN = "stale", "not run"
QUICK_BANNER = ("> **Quick run (`--quick`): tiny budgets, not comparable with the paper.** No ▲/▼ marks and no "
                "agreement counts are given.")
N_SPLITS = 5


def primary_metric(kind: str, metrics: dict[str, Any]) -> float | None:
    """The number a table shows for one result: NRMSE (or PFC if no real feature), or R²/accuracy."""
    if kind in ("imputation", "imputation_train"):
        prefix = "train_" if kind == "imputation_train" else ""
        nrmse = metrics.get(f"{prefix}nrmse")
        return nrmse if nrmse is not None else metrics.get(f"{prefix}pfc")
    return metrics.get("r2", metrics.get("accuracy"))


def current_results(results_dir: Path, quick: bool = False, mechanism: str = "mcar", rate: float = 0.5,
                    n_imputations: int = 10) -> list[dict[str, Any]]:
    """Results whose config hash matches what the registry would run now (for this protocol)."""
    from ..results import config_hash
    from ..runner import cell_config  # registry-only: imports no method module

    expected: dict[tuple[str, str], str | None] = {}
    out = []
    for r in iter_results(results_dir):
        if r["mechanism"] != mechanism or float(r["rate"]) != float(rate):
            continue
        pair = (r["dataset"], r["method"])
        if pair not in expected:
            try:
                expected[pair] = config_hash(cell_config(*pair, mechanism, rate, n_imputations, quick))
            except ValueError as err:  # a method or dataset no longer registered cannot be reported
                log.warning("cannot report %s/%s: %s", *pair, err)
                expected[pair] = None
        if r["config_hash"] == expected[pair]:
            out.append(r)
    return out


def summarise(results: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Mean and sample std over splits of each (dataset, method) for both table metrics and timings."""
    from ..provenance import is_stale

    rows = []
    for r in results:
        m = r["metrics"]
        training = (r.get("provenance") or {}).get("training") or {}
        rows.append({"dataset": r["dataset"], "method": r["method"], "split": r["split"], "stale": is_stale(r),
                     "under_trained": bool(training.get("under_trained", False)),
                     "imputation": primary_metric("imputation", m), "downstream": primary_metric("downstream", m),
                     "imputation_train": primary_metric("imputation_train", m),
                     "fit_s": r["timing"]["fit_s"], "impute_s": r["timing"]["impute_test_s"],
                     "cell_s": sum(r["timing"].values()), "cpu_s": r.get("cpu", {}).get("total_s", np.nan),
                     "peak_mb": (r.get("provenance") or {}).get("peak_rss_mb", np.nan)})
    df = pd.DataFrame(rows, columns=["dataset", "method", "split", "stale", "under_trained", "imputation", "downstream",
                                     "imputation_train", "fit_s", "impute_s", "cell_s", "cpu_s", "peak_mb"])
    if df.empty:
        return pd.DataFrame(columns=["dataset", "method", "kind", "mean", "std", "n", "sum", "max", "stale",
                                     "under_trained"])
    out = []
    for (d, meth), g in df.groupby(["dataset", "method"]):
        for kind in ("imputation", "downstream", "imputation_train", "fit_s", "impute_s", "cell_s", "cpu_s", "peak_mb"):
            vals = g[kind].dropna().astype(float).to_numpy()
            out.append({"dataset": d, "method": meth, "kind": kind, "mean": vals.mean() if vals.size else np.nan,
                        "std": vals.std(ddof=1) if vals.size > 1 else np.nan, "n": int(vals.size),
                        "sum": vals.sum(), "max": vals.max() if vals.size else np.nan, "stale": int(g["stale"].sum()),
                        "under_trained": int(g["under_trained"].sum())})
    return pd.DataFrame(out)


def _fmt(mean: float, std: float) -> str:
    if np.isnan(std):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f}"


def _cell(summary: pd.DataFrame, table: TableDef, dataset: str, method: str) -> pd.Series | None:
    hit = summary[(summary.dataset == dataset) & (summary.method == method) & (summary.kind == table.metric)]
    if hit.empty or hit.iloc[0]["n"] == 0:
        return None
    return hit.iloc[0]


def _verdict(table: TableDef, dataset: str, method: str, mean: float) -> str | None:
    """``inside``, ``worse`` or ``better`` against the paper's mean ± 2 std; None without a published std."""
    pub = published(table.published_as, dataset, method)
    if pub is None or np.isnan(pub[1]) or pub[1] <= 0:
        return None
    lo, hi = pub[0] - 2 * pub[1], pub[0] + 2 * pub[1]
    if lo <= mean <= hi:
        return "inside"
    better = (mean > hi) if table.higher_is_better else (mean < lo)
    return "better" if better else "worse"


def _ours(summary: pd.DataFrame, table: TableDef, dataset: str, method: str, quick: bool = False) -> str:
    row = _cell(summary, table, dataset, method)
    if row is None:
        return NOT_RUN
    text = _fmt(row["mean"], row["std"])
    if row["n"] < N_SPLITS:
        text += f" ({row['n']}/{N_SPLITS} splits)"
    if row.get("stale", 0):
        text += f" ({STALE})"
    verdict = None if quick else _verdict(table, dataset, method, row["mean"])
    if verdict in ("better", "worse"):
        text += " " + (BETTER if verdict == "better" else WORSE)
    return text


def _verdicts(table: TableDef, summary: pd.DataFrame, method: str) -> dict[str, str]:
    """Dataset -> inside / better / worse, for every dataset where we ran ``method`` and the paper has a std."""
    verdicts = {d: _verdict(table, d, method, row["mean"]) for d in table.datasets
                if (row := _cell(summary, table, d, method)) is not None}
    return {d: v for d, v in verdicts.items() if v is not None}


def agreement(table: TableDef, summary: pd.DataFrame, labels: dict[str, str], ds_label: dict[str, str]) -> list[str]:
    """One line per method: how many of our cells fall inside the paper's mean ± 2 std, and which do not."""
    lines = []
    for m in table.methods:
        verdicts = _verdicts(table, summary, m)
        if not verdicts:
            continue
        inside = sum(v == "inside" for v in verdicts.values())
        text = f"- {labels[m]}: {inside} of {len(verdicts)} datasets inside the paper's mean ± 2 std"
        for kind, mark in (("better", BETTER), ("worse", WORSE)):
            names = [ds_label[d] for d, v in verdicts.items() if v == kind]
            if names:
                text += f"; {kind} {mark}: {', '.join(names)}"
        lines.append(text + ".")
    return lines


def contrast(table: TableDef, summary: pd.DataFrame, labels: dict[str, str], ds_label: dict[str, str]) -> list[str]:
    """Our method ``table.contrast[0]`` against each rival, dataset by dataset, on our own numbers."""
    if not table.contrast:
        return []
    method, rivals = table.contrast
    lines = []
    for r in rivals:
        pairs = [(d, a["mean"], b["mean"]) for d in table.datasets
                 if (a := _cell(summary, table, d, method)) is not None
                 and (b := _cell(summary, table, d, r)) is not None]
        if not pairs:
            continue
        wins = [d for d, a, b in pairs if (a > b if table.higher_is_better else a < b)]
        losses = [ds_label[d] for d, _, _ in pairs if d not in wins]
        text = f"- {labels[method]} beats {labels[r]} on {len(wins)} of {len(pairs)} datasets"
        lines.append(text + (f"; not on: {', '.join(losses)}." if losses else "."))
    return lines


def _paper(table: TableDef, dataset: str, method: str) -> str:
    pub = published(table.published_as, dataset, method)
    return pub[2] if pub is not None else "—"


def _labels(methods: Iterable[str]) -> dict[str, str]:
    from ..methods import get

    out = {}
    for m in methods:
        try:
            out[m] = get(m).label or m
        except ValueError:
            out[m] = m
    return out


LEGEND = (f"Ours: mean ± sample std over the splits we ran ({N_SPLITS} seeded 3:1 splits, 50% MCAR; fewer are "
          f"flagged). Paper: the published value, loaded from `src/vaeac_bench/tables/published.csv`. "
          f"{WORSE} ours is outside the paper's mean ± 2 std on the worse side, {BETTER} on the better side. "
          "\"not run\": no result with the method's current configuration; \"(stale)\": computed by older code "
          "(its recorded code digest differs from the current source; the next `run-bench` recomputes it); "
          "\"—\": the paper has no such cell.")


def cell_status(table: TableDef, summary: pd.DataFrame) -> tuple[int, int, int]:
    """(current, stale, not run) counts over the table's cells of ours."""
    current = stale = missing = 0
    for d in table.datasets:
        for m in table.methods + table.extra_methods:
            row = _cell(summary, table, d, m)
            if row is None:
                missing += 1
            elif row.get("stale", 0):
                stale += 1
            else:
                current += 1
    return current, stale, missing


def under_trained_note(table: TableDef, summary: pd.DataFrame, labels: dict[str, str],
                       ds_label: dict[str, str]) -> list[str]:
    """Cells whose best epoch still sat at the end of the (possibly extended) budget: named, never silent."""
    hits = []
    for m in table.methods + table.extra_methods:
        for d in table.datasets:
            row = _cell(summary, table, d, m)
            if row is not None and row.get("under_trained", 0):
                hits.append(f"{labels[m]} on {ds_label[d]} ({int(row['under_trained'])}/{int(row['n'])} splits)")
    if not hits:
        return []
    return ["Under-trained (the best validation score fell in the last window of the epoch budget, after any "
            "extension the method allows): " + "; ".join(hits) + ".", ""]


def _dataset_labels(table: TableDef) -> dict[str, str]:
    """Each dataset of ``table`` by its display title (the column and sentence names)."""
    from ..datasets import get_spec

    return {d: get_spec(d).title for d in table.datasets}


def render_table(table: TableDef, summary: pd.DataFrame, quick: bool = False) -> str:
    """The Markdown text of one paper table, ours beside the paper's (no ▲/▼ marks for a quick run)."""
    methods = table.methods + table.extra_methods
    labels = _labels(methods)
    ds_label = _dataset_labels(table)
    lines = [f"# Table {table.number}", "", table.title, ""] + ([QUICK_BANNER, ""] if quick else [])
    if table.rows == "datasets":
        head = ["Dataset"]
        for m in methods:
            head += [f"{labels[m]} (ours)"] + ([f"{labels[m]} (paper)"] if m in table.methods else [])
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for d in table.datasets:
            cells = [ds_label[d]]
            for m in methods:
                cells.append(_ours(summary, table, d, m, quick))
                if m in table.methods:
                    cells.append(_paper(table, d, m))
            lines.append("| " + " | ".join(cells) + " |")
    else:
        head = ["Method"] + [ds_label[d] for d in table.datasets]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for m in methods:
            lines.append("| " + " | ".join([f"{labels[m]} (ours)"] + [_ours(summary, table, d, m, quick)
                                                                      for d in table.datasets]) + " |")
            if m in table.methods:
                lines.append("| " + " | ".join([f"{labels[m]} (paper)"] + [_paper(table, d, m)
                                                                           for d in table.datasets]) + " |")
    current, stale, missing = cell_status(table, summary)
    lines += ["", LEGEND, "",
              f"Cells of ours: {current} current, {stale} {STALE}, {missing} {NOT_RUN}.", ""]
    lines += under_trained_note(table, summary, labels, ds_label)
    agree = [] if quick else agreement(table, summary, labels, ds_label)
    if agree:
        lines += ["Agreement with the paper (our mean against the published mean ± 2 std):", "", *agree, ""]
    versus = contrast(table, summary, labels, ds_label)
    if versus:
        lines += ["On our own numbers:", "", *versus, ""]
    return "\n".join(lines)


def render_timing(summary: pd.DataFrame) -> str:
    """Mean fit and test-imputation wall time per dataset and method (single-threaded jobs)."""
    lines = ["# Wall time per cell", "",
             "Mean over splits of the fit time and of the time to impute the test set (n imputations), in "
             "seconds, one thread per job. Measured on the machine named in each result file.", ""]
    if summary.empty:
        return "\n".join(lines + ["No results yet.", ""])
    methods = sorted(summary.method.unique())
    lines += ["| Dataset | " + " | ".join(f"{m} fit / impute" for m in methods) + " |",
              "|" + "---|" * (len(methods) + 1)]
    for d in sorted(summary.dataset.unique()):
        cells = []
        for m in methods:
            f = summary[(summary.dataset == d) & (summary.method == m) & (summary.kind == "fit_s")]
            i = summary[(summary.dataset == d) & (summary.method == m) & (summary.kind == "impute_s")]
            cells.append("—" if f.empty else f"{f.iloc[0]['mean']:.1f} / {i.iloc[0]['mean']:.2f}")
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines += ["", "Compute per method, summed over every cell we ran (fit, test and train imputation, one thread per "
              "cell). Wall hours are inflated when other jobs shared the machine; CPU hours (recorded from the "
              "runner's process clock, where present) are what the cells cost on an idle core.", "",
              "| Method | cells | wall hours | CPU hours (cells with a CPU record) |", "|---|---|---|---|"]
    for m in methods:
        wall = summary[(summary.method == m) & (summary.kind == "cell_s")]
        cpu = summary[(summary.method == m) & (summary.kind == "cpu_s")]
        cpu_text = f"{cpu['sum'].sum() / 3600:.2f} ({int(cpu['n'].sum())})" if cpu["n"].sum() else "—"
        lines.append(f"| {m} | {int(wall['n'].sum())} | {wall['sum'].sum() / 3600:.2f} | {cpu_text} |")
    return "\n".join(lines + [""])


def render_summary(tables: Iterable[TableDef], summary: pd.DataFrame) -> str:
    """One line per (table, method): how many of our cells agree with the paper, are better, or are worse."""
    lines = ["# Agreement with the paper", "",
             "For each rendered table and each method the paper reports: of the datasets we ran (all 5 splits or "
             "fewer), how many have our mean inside the paper's mean ± 2 std, outside it on the better side "
             f"({BETTER}) or on the worse side ({WORSE}). The per-dataset detail is in each table's file.", "",
             "| Table | Method | datasets compared | inside | better ▲ | worse ▼ | complete (5 splits) |",
             "|---|---|---|---|---|---|---|"]
    n_rows = 0
    for table in tables:
        labels = _labels(table.methods)
        for m in table.methods:
            verdicts = _verdicts(table, summary, m)
            if not verdicts:
                continue
            complete = sum(int(_cell(summary, table, d, m)["n"]) >= N_SPLITS for d in verdicts)
            counts = [sum(v == k for v in verdicts.values()) for k in ("inside", "better", "worse")]
            lines.append(f"| [{table.number}]({table.filename}) | {labels[m]} | {len(verdicts)} | "
                         + " | ".join(map(str, counts)) + f" | {complete} of {len(verdicts)} |")
            n_rows += 1
    if not n_rows:
        lines.append("| — | no results yet | | | | | |")
    lines += ["", "## Does the paper's ordering of methods hold?", "",
              "For every dataset and every pair of methods that both the paper and we report, whether our means "
              "order the pair as the paper's means do (pairs the paper ties are left out). This asks whether the "
              "paper's conclusions hold on our numbers, whatever the absolute level.", "",
              "| Table | pairs compared | same order | share |", "|---|---|---|---|"]
    for table in tables:
        same, total = pair_order_agreement(table, summary)
        if total:
            lines.append(f"| [{table.number}]({table.filename}) | {total} | {same} | {same / total:.0%} |")
    return "\n".join(lines + [""])


def pair_order_agreement(table: TableDef, summary: pd.DataFrame) -> tuple[int, int]:
    """(pairs ordered as in the paper, pairs compared) over datasets x pairs of the table's methods."""
    same = total = 0
    for d in table.datasets:
        ours, paper = {}, {}
        for m in table.methods:
            row, pub = _cell(summary, table, d, m), published(table.published_as, d, m)
            if row is not None and pub is not None and not np.isnan(pub[0]):
                ours[m], paper[m] = row["mean"], pub[0]
        names = sorted(ours)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if paper[a] == paper[b]:
                    continue
                total += 1
                same += (ours[a] > ours[b]) == (paper[a] > paper[b])
    return same, total


def render_findings(summary: pd.DataFrame) -> str:
    """The README's generated findings: ordering agreement and inside-the-range counts per table and method."""
    lines = []
    shares = []
    for number in ("10", "1", "10t", "11", "2"):
        same, total = pair_order_agreement(TABLES[number], summary)
        if total:
            shares.append(f"{same / total:.0%} of the {total} (dataset, pair) comparisons of table {number}")
    if shares:
        lines.append("* Our means order pairs of methods as the paper's do for " + ", ".join(shares) + ".")
    for number in ("1", "10", "10t", "2", "11", "7"):
        table = TABLES[number]
        labels = _labels(table.methods)
        parts = []
        for m in table.methods:
            verdicts = _verdicts(table, summary, m)
            if verdicts:
                inside = sum(v == "inside" for v in verdicts.values())
                better = sum(v == "better" for v in verdicts.values())
                parts.append(f"{labels[m]} {inside} of {len(verdicts)}" + (f" ({better} better)" if better else ""))
        if parts:
            lines.append(f"* Table {number}, datasets inside the paper's mean ± 2 std (and better than it): "
                         + ", ".join(parts) + ".")
    lines += _head_to_head(summary)
    current = stale = missing = 0
    for table in TABLES.values():
        c, st, mi = cell_status(table, summary)
        current, stale, missing = current + c, stale + st, missing + mi
    lines.append(f"* Cells across tables 1, 2, 7, 10, 10t and 11: {current} current, {stale} {STALE} (computed by "
                 f"older code), {missing} {NOT_RUN}.")
    return "\n".join(lines) + "\n"


def _head_to_head(summary: pd.DataFrame) -> list[str]:
    """README lines: VAEAC against each paper method on table 10, and modified GAIN against every original α."""
    from dataclasses import replace

    out = []
    for number, method in (("10", "vaeac"), ("7", "gain")):
        base = TABLES[number]
        table = replace(base, contrast=(method, tuple(m for m in base.methods if m != method)))
        ds_label = _dataset_labels(table)
        wins = contrast(table, summary, _labels(table.methods), ds_label)
        if wins:
            out.append(f"* Table {number}, on our own means: " + " ".join(w.removeprefix("- ") for w in wins))
    return out


def render_cost(summary: pd.DataFrame) -> str:
    """The README's generated cost table: cells, CPU hours and wall hours per method, summed over the results."""
    lines = ["| method | cells | CPU hours (cells with a CPU record) | wall hours as run "
             "| largest peak memory of a cell |", "|---|---|---|---|---|"]
    for m in sorted(summary.method.unique()) if not summary.empty else []:
        wall = summary[(summary.method == m) & (summary.kind == "cell_s")]
        cpu = summary[(summary.method == m) & (summary.kind == "cpu_s")]
        peak = summary[(summary.method == m) & (summary.kind == "peak_mb") & (summary.n > 0)]
        cpu_text = f"{cpu['sum'].sum() / 3600:.2f} ({int(cpu['n'].sum())})" if cpu["n"].sum() else "not recorded"
        top = peak.loc[peak["max"].idxmax()] if not peak.empty else None
        peak_text = f"{top['max'] / 1024:.1f} GB ({top['dataset']})" if top is not None else "not recorded"
        lines.append(f"| `{m}` | {int(wall['n'].sum())} | {cpu_text} | {wall['sum'].sum() / 3600:.2f} | {peak_text} |")
    total = summary[summary.kind == "cell_s"]["sum"].sum() / 3600 if not summary.empty else 0.0
    cpu = summary[summary.kind == "cpu_s"]["sum"].sum() / 3600 if not summary.empty else 0.0
    lines += ["", f"All methods together: {cpu:.1f} CPU hours ({total:.1f} hours of cell wall time as run); "
                  f"with one job per idle core, about {cpu / 2:.1f} hours elapsed on 2 cores."]
    return "\n".join(lines) + "\n"


def replace_block(text: str, name: str, body: str) -> str:
    """Rewrite the text between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` (markers kept)."""
    start, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"README has no {start} ... {end} block; add the two markers where the text goes")
    return text[:i + len(start)] + "\n" + body + text[j:]


def render_readme(readme_text: str, summary: pd.DataFrame) -> str:
    """The README with its generated blocks (findings, cost) rewritten from the results."""
    text = replace_block(readme_text, "findings", render_findings(summary))
    return replace_block(text, "cost", render_cost(summary))


def render_all(results_dir: str | Path, reports_dir: str | Path, tables: Iterable[str] = ("1", "2", "10", "11"),
               quick: bool = False, mechanism: str = "mcar", rate: float = 0.5,
               n_imputations: int = 10, readme: str | Path | None = None) -> list[Path]:
    """Write the requested tables, summary, timing table, tidy long CSV, ``beyond.md`` with its figures (and the
    README blocks); return the paths.

    No table requested means nothing is written. Every file is written atomically.
    """
    results_dir, reports_dir = Path(results_dir), Path(reports_dir)
    tables = list(tables)
    for number in tables:
        if number not in TABLES:
            raise ValueError(f"no renderer for table {number!r}; tables: {', '.join(TABLES)}")
    if not tables:
        return []
    results = current_results(results_dir, quick, mechanism, rate, n_imputations)
    summary = summarise(results)
    written = []
    for number in tables:
        path = reports_dir / TABLES[number].filename
        atomic_write_text(path, render_table(TABLES[number], summary, quick))
        written.append(path)
    path = reports_dir / "summary.md"
    text = (f"# Agreement with the paper\n\n{QUICK_BANNER}\n" if quick
            else render_summary([TABLES[n] for n in tables], summary))
    atomic_write_text(path, text)
    written.append(path)
    path = reports_dir / "timing.md"
    atomic_write_text(path, render_timing(summary))
    written.append(path)
    path = reports_dir / "results_long.csv"
    atomic_write_text(path, long_table(results).sort_values(
        ["dataset", "method", "split", "metric"]).to_csv(index=False, float_format="%.6g"))
    written.append(path)
    # issue 13 §6: every mechanism and rate run, the distributional scores and the figures, from the same results
    from .beyond import render_beyond

    written += render_beyond(results_dir, reports_dir, quick, n_imputations)
    if readme is not None and not quick:
        readme = Path(readme)
        atomic_write_text(readme, render_readme(readme.read_text(), summary))
        written.append(readme)
    return written
