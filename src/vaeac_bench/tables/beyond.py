"""The report beyond the paper (issue 13 §3-§6): every mechanism and rate run, the distributional scores, and
the figures, as ``beyond.md`` plus three PNGs, from whatever tabular results exist.

Like the paper tables, only results computed with a method's current configuration count (the config hash the
registry gives now, for the record's own mechanism and rate; for a user's table, ``run-bench --csv``, the
record's file and column options with the method's current parameters); stale ones (older code) are counted
and flagged. Table 7's GAIN α grid (group ``gain-original``) is an ablation of one method and stays out of the
figures. Rendering imports no method module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results import atomic_write_text, config_hash, distributional_means, iter_results
from .figures import figure_cost, figure_missing_rate, figure_ranks

log = logging.getLogger("vaeac_bench")

FIGURES = {"rates": "figure_rates.png", "ranks": "figure_ranks.png", "cost": "figure_cost.png"}
BEYOND = "beyond.md"
#: the columns of :func:`tidy` beyond the identifiers
SCORES = ("imputation", "nrmse", "pfc", "r2", "accuracy", "w1", "w1_point", "crps", "coverage_50", "coverage_90",
          "brier", "fit_s")


def expected_hash(record: dict[str, Any], quick: bool = False, n_imputations: int = 10) -> str | None:
    """The config hash a record must carry to count as current (None: a dataset or method no longer known, or
    not a tabular cell)."""
    from ..datasets.image_registry import dataset_kind
    from ..runner import cell_config

    cfg = record.get("config") or {}
    try:
        if "dataset_file" in cfg:  # a user's table (issue 13 §5): its file and options, current method params
            from ..datasets.splits import TEST_FRACTION
            from ..methods import get, params_for
            from ..runner import PROTOCOL_VERSION

            expected = {**cfg, "protocol": PROTOCOL_VERSION, "test_fraction": TEST_FRACTION,
                        "target": get(record["method"]).target, "params": params_for(record["method"], quick),
                        "n_imputations": int(n_imputations)}
            return config_hash(expected)
        if dataset_kind(record["dataset"]) != "table":
            return None
        return config_hash(cell_config(record["dataset"], record["method"], record["mechanism"], record["rate"],
                                       n_imputations, quick))
    except (ValueError, KeyError):
        return None


def grid_results(results_dir: str | Path, quick: bool = False, n_imputations: int = 10) -> list[dict[str, Any]]:
    """Every current-configuration tabular result under ``results_dir``, any mechanism and rate."""
    out = []
    for r in iter_results(Path(results_dir)):
        if "config_hash" in r and r["config_hash"] == expected_hash(r, quick, n_imputations):
            out.append(r)
    return out


def tidy(results: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per result: identifiers, staleness and every score (NaN where a record lacks it)."""
    from ..provenance import is_stale
    from .render import primary_metric

    rows = []
    for r in results:
        m = r["metrics"]
        rows.append({"dataset": r["dataset"], "method": r["method"], "split": r["split"],
                     "mechanism": r["mechanism"], "rate": float(r["rate"]), "stale": is_stale(r),
                     "imputation": primary_metric("imputation", m), "nrmse": m.get("nrmse"), "pfc": m.get("pfc"),
                     "r2": m.get("r2"), "accuracy": m.get("accuracy"), "fit_s": r["timing"]["fit_s"],
                     "n_draws": (r.get("distributional") or {}).get("n_draws"), **distributional_means(r)})
    df = pd.DataFrame(rows, columns=["dataset", "method", "split", "mechanism", "rate", "stale", "n_draws",
                                     *SCORES])
    for c in SCORES:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    return df.sort_values(["mechanism", "rate", "method", "dataset", "split"], kind="mergesort").reset_index(drop=True)


def _labels(methods: list[str]) -> dict[str, str]:
    from .render import _labels as labels

    return labels(methods)


def per_dataset(df: pd.DataFrame, metric: str, mechanism: str = "mcar", rate: float = 0.5) -> pd.DataFrame:
    """Datasets x methods: the mean over splits of ``metric`` in one setting (NaN where not run)."""
    sub = df[(df.mechanism == mechanism) & (df.rate == rate)].dropna(subset=[metric])
    if sub.empty:
        return pd.DataFrame()
    return sub.groupby(["dataset", "method"])[metric].mean().unstack("method")


def _fmt(v: float) -> str:
    return "—" if v is None or np.isnan(v) else f"{v:.3f}"


def render_beyond_md(df: pd.DataFrame, labels: dict[str, str], ranks: dict[str, Any], cost_n: int,
                     quick: bool = False) -> str:
    """The Markdown of ``beyond.md``: settings run, per-setting means of every score, ranks and the figures."""
    lines = ["# Beyond the paper: mechanisms, missing rates, distributional scores", ""]
    if quick:
        lines += ["> **Quick run (`--quick`): tiny budgets, not comparable with the paper.**", ""]
    lines += ["Every tabular result with a method's current configuration, in every missingness mechanism and rate "
              "that was run (`run-bench --mechanism ... --missing-rate ...`). Per setting and method: the mean over "
              "datasets of each dataset's mean over splits (NRMSE over the datasets with real columns, PFC over "
              "those with categorical ones, R² and accuracy over those of that task). W1: Wasserstein-1 between "
              "the imputed values (all draws) and the true hidden ones per real column; CRPS: the fair estimator "
              "per real column; coverage: share of true values inside the central 50% / 90% interval of the draws; "
              "Brier: of the draw frequencies per categorical column (definitions in "
              "`src/vaeac_bench/distributional.py`). These need the draws, so cells computed before they were "
              "recorded, and single-imputation methods (no CRPS, coverage or Brier), show —.", ""]
    if df.empty:
        return "\n".join(lines + ["No tabular results yet.", ""])
    lines += ["## Settings run", "", "| mechanism | rate | datasets | methods | cells | stale cells | cells with "
              "distributional scores |", "|---|---|---|---|---|---|---|"]
    settings = df.groupby(["mechanism", "rate"], sort=True)
    for (mech, rate), g in settings:
        lines.append(f"| {mech} | {rate:g} | {g.dataset.nunique()} | {g.method.nunique()} | {len(g)} | "
                     f"{int(g.stale.sum())} | {int(g.w1.notna().sum())} |")
    cols = [("datasets", None), ("NRMSE", "nrmse"), ("PFC", "pfc"), ("R²", "r2"), ("accuracy", "accuracy"),
            ("W1 / std", "w1"), ("CRPS / std", "crps"), ("cov. 50%", "coverage_50"), ("cov. 90%", "coverage_90"),
            ("Brier", "brier"), ("fit s", "fit_s")]
    for (mech, rate), g in settings:
        lines += ["", f"## {mech}, missing rate {rate:g}", "",
                  "| Method | " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * (len(cols) + 1)]
        means = g.groupby(["method", "dataset"])[list(SCORES)].mean().groupby(level="method").mean()
        for m in sorted(g.method.unique()):
            cells = [str(g[g.method == m].dataset.nunique())] + [_fmt(means.loc[m, key]) for _, key in cols[1:]]
            lines.append(f"| {labels.get(m, m)} | " + " | ".join(cells) + " |")
    lines += ["", "## Average rank and critical difference (50% MCAR)", ""]
    if ranks.get("cd") is None:
        lines.append(f"Not drawn: it needs 2+ methods with results on the same 2+ datasets "
                     f"({len(ranks.get('datasets', []))} dataset(s) qualify).")
    else:
        p = ranks["friedman_p"]
        lines += [f"Ranks of NRMSE (PFC on all-categorical datasets), 1 = best, over the {len(ranks['datasets'])} "
                  f"datasets where all {len(ranks['methods'])} methods below have results "
                  f"({', '.join(ranks['datasets'])}). Friedman test p = "
                  f"{'n/a (needs 3+ methods)' if p is None else f'{p:.3g}'}; Nemenyi critical difference "
                  f"(α = 0.05, Demšar 2006) CD = {ranks['cd']:.3f}: two methods whose average ranks differ by less "
                  "are not significantly different.", "", "| Method | average rank |", "|---|---|"]
        lines += [f"| {labels.get(m, m)} | {r:.2f} |" for m, r in ranks["ranks"].items()]
        groups = [", ".join(labels.get(m, m) for m in c) for c in ranks["cliques"]]
        if groups:
            lines += ["", "Groups within the critical difference: " + "; ".join(f"{{{g}}}" for g in groups) + "."]
    lines += ["", "## Figures", "",
              f"![NRMSE and coverage against the missing rate]({FIGURES['rates']})", "",
              f"![Average ranks with the critical difference]({FIGURES['ranks']})", "",
              f"![Fit time against NRMSE]({FIGURES['cost']})", "",
              f"The cost figure uses the {cost_n} dataset(s) with real columns where every method shown has a 50% "
              "MCAR result (fit time is wall time on the machine named in each record; loaded machines inflate it).",
              ""]
    return "\n".join(lines)


def render_beyond(results_dir: str | Path, reports_dir: str | Path, quick: bool = False,
                  n_imputations: int = 10) -> list[Path]:
    """Write ``beyond.md`` and its three figures from the results; return their paths."""
    from ..methods import GROUPS

    reports_dir = Path(reports_dir)
    df = tidy(grid_results(results_dir, quick, n_imputations))
    df = df[~df.method.isin(GROUPS.get("gain-original", ()))].reset_index(drop=True)
    labels = _labels(sorted(df.method.unique()))
    draws = df.loc[df.coverage_90.notna(), "n_draws"].dropna().unique()  # the multiple-imputation cells' m
    paths = [figure_missing_rate(df, labels, reports_dir / FIGURES["rates"],
                                 int(draws[0]) if len(draws) == 1 else None)]
    path, ranks = figure_ranks(per_dataset(df, "imputation"), labels, reports_dir / FIGURES["ranks"],
                               caption=", NRMSE or PFC at 50% MCAR")
    paths.append(path)
    path, cost_n = figure_cost(per_dataset(df, "nrmse"), per_dataset(df, "fit_s"), labels,
                               reports_dir / FIGURES["cost"])
    paths.append(path)
    text = render_beyond_md(df, labels, ranks, cost_n, quick)
    atomic_write_text(reports_dir / BEYOND, text)
    return [reports_dir / BEYOND, *paths]
