"""The report beyond the paper (issue 13 §3-§6): every mechanism and rate run, the distributional scores, and
the figures, as ``beyond.md`` plus three PNGs, from whatever tabular results exist.

Like the paper tables, only results computed with a method's current configuration count (the config hash the
registry gives now, for the record's own mechanism and rate; for a user's table, ``run-bench --csv``, the
record's file and column options with the method's current parameters); stale ones (older code) are counted
and flagged. Table 7's GAIN α grid (group ``gain-original``) is an ablation of one method and stays out of the
figures. Rendering imports no method module.

Per setting, methods are compared on the same datasets: the §7 grid's (:data:`GRID_DATASETS`) and any user
table; a method that lacks some of them in a setting is marked partial (its mean covers fewer datasets). The
paper's fourteen-dataset comparison at 50% MCAR is tables 1-2 and the rank section. The verdict pairs VAEAC with
the best cheap imputer and the best other method per dataset, over the same splits and masks.
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
          "brier", "fit_s", "cpu_fit_s")
#: the datasets of the §7 comparison grid (scripts/beyond_grid.sh reads them from here): 6 UCI tables, two with
#: categorical columns (boston's chas, zoo)
GRID_DATASETS = ("iris", "diabetes", "boston", "glass", "yeast", "zoo")
#: the imputers that fit in about a second or less: the bar VAEAC's time has to buy something against
CHEAP = ("mean", "knn", "iterative", "softimpute")
#: the two VAEAC configurations the verdict is about: the paper's and ``VAEACImputer()``'s
VAEAC_CONFIGS = ("vaeac", "vaeac-default")
#: significance level of the paired t-test over splits that separates a win or a loss from a tie
ALPHA = 0.05


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
                     "cpu_fit_s": (r.get("cpu") or {}).get("fit_s"),
                     "user_table": "dataset_file" in (r.get("config") or {}),
                     "n_draws": (r.get("distributional") or {}).get("n_draws"), **distributional_means(r)})
    df = pd.DataFrame(rows, columns=["dataset", "method", "split", "mechanism", "rate", "stale", "user_table",
                                     "n_draws", *SCORES])
    df["user_table"] = df["user_table"].astype(bool)
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


def compared(g: pd.DataFrame) -> pd.DataFrame:
    """The rows of one setting on the datasets its methods are compared on: the §7 grid's and users' tables
    (all of the setting's datasets when it has none of those)."""
    keep = g.dataset.isin(GRID_DATASETS) | g.user_table
    return g[keep] if keep.any() else g


def _paired(v: pd.Series, r: pd.Series) -> tuple[str, float, int]:
    """``win`` / ``loss`` / ``tie`` of scores ``v`` against ``r`` (lower is better) over their common splits:
    a paired t-test at :data:`ALPHA`; the mean difference and the number of splits."""
    from scipy import stats

    common = v.index.intersection(r.index)
    d = (v.loc[common] - r.loc[common]).to_numpy(dtype=float)
    if len(d) < 2:
        return "—", float(d.mean()) if len(d) else float("nan"), len(d)
    if np.allclose(d, d[0]):  # no spread: a constant difference is a sure one unless it is zero
        call = "tie" if np.isclose(d[0], 0.0) else ("win" if d[0] < 0 else "loss")
        return call, float(d.mean()), len(d)
    p = float(stats.ttest_rel(v.loc[common], r.loc[common]).pvalue)
    call = "tie" if not p < ALPHA else ("win" if d.mean() < 0 else "loss")
    return call, float(d.mean()), len(d)


def verdict(df: pd.DataFrame, vaeac: str) -> pd.DataFrame:
    """Per setting and compared dataset: ``vaeac``'s primary score (NRMSE, or PFC on an all-categorical table)
    against the best cheap imputer's and the best other method's, paired over the same splits and masks.

    "Best" is the rival with the lowest mean over the common splits (chosen on the test scores, which favours
    the rivals). Columns: the two calls (win / tie / loss), the rivals, the mean differences, and the fit-time
    ratio to the best cheap imputer (CPU seconds where both records have them, else wall seconds).
    """
    rows = []
    others = sorted(set(df.method) - set(VAEAC_CONFIGS))
    for (mech, rate), g in df.groupby(["mechanism", "rate"], sort=True):
        g = compared(g)
        for d, gd in g.groupby("dataset", sort=True):
            mine = gd[gd.method == vaeac].dropna(subset=["imputation"]).set_index("split")
            if mine.empty:
                continue
            row: dict[str, Any] = {"mechanism": mech, "rate": rate, "dataset": d, "splits": len(mine)}
            for tag, pool in (("cheap", [m for m in CHEAP if m in others]), ("best", others)):
                best, best_mean = None, np.inf
                for m in pool:
                    r = gd[gd.method == m].dropna(subset=["imputation"]).set_index("split")
                    common = mine.index.intersection(r.index)
                    if len(common) == len(mine) and r.loc[common, "imputation"].mean() < best_mean:
                        best, best_mean = m, float(r.loc[common, "imputation"].mean())
                row[f"{tag}_method"] = best
                if best is None:
                    row[f"{tag}_call"], row[f"{tag}_diff"] = "—", float("nan")
                    continue
                r = gd[gd.method == best].set_index("split")
                row[f"{tag}_call"], row[f"{tag}_diff"], _ = _paired(mine["imputation"], r["imputation"])
                if tag == "cheap":
                    cpu = mine["cpu_fit_s"].notna().all() and r.loc[mine.index, "cpu_fit_s"].notna().all()
                    col = "cpu_fit_s" if cpu else "fit_s"
                    row["time_ratio"] = float(mine[col].mean() / max(r.loc[mine.index, col].mean(), 1e-6))
            row["coverage_90"] = float(mine["coverage_90"].mean())
            rows.append(row)
    return pd.DataFrame(rows)


def _counts(calls: pd.Series) -> str:
    return " / ".join(str(int((calls == c).sum())) for c in ("win", "tie", "loss"))


def render_verdict(df: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    """The verdict section: where each VAEAC configuration wins, ties or loses, and what its time costs."""
    cheap = ", ".join(labels.get(m, m) for m in CHEAP)
    lines = ["## Verdict: where VAEAC wins, ties and loses", "",
             f"Per setting, each compared dataset's VAEAC score (NRMSE, or PFC on an all-categorical table) is paired "
             f"over the same splits and masks with the best cheap imputer's ({cheap}) "
             f"and with the best of every other method's (best = lowest mean on these test scores, which favours "
             f"the rival); a paired t-test at α = {ALPHA:g} over the splits separates a win or a loss from a tie. "
             "Counts are wins / ties / losses over datasets. Time: VAEAC's fit time divided by the best cheap "
             "imputer's (CPU seconds where recorded), the median over datasets. cov. 90%: share of true hidden "
             "values inside VAEAC's central 90% interval of the draws (0.9 is calibrated).", ""]
    for vaeac in VAEAC_CONFIGS:
        name = labels.get(vaeac, vaeac)
        v = verdict(df, vaeac)
        lines += [f"### {name} (`{vaeac}`)", ""]
        if v.empty:
            lines += [f"No results of `{vaeac}` on the compared datasets yet.", ""]
            continue
        lines += ["| mechanism | rate | datasets | vs best cheap | vs best other | best other (most often) | "
                  "time ÷ best cheap | cov. 90% |", "|---|---|---|---|---|---|---|---|"]
        for (mech, rate), g in v.groupby(["mechanism", "rate"], sort=True):
            top = g.best_method.dropna().value_counts()
            lines.append(f"| {mech} | {rate:g} | {len(g)} | {_counts(g.cheap_call)} | {_counts(g.best_call)} | "
                         f"{labels.get(top.index[0], top.index[0]) if len(top) else '—'} | "
                         f"{_fmt_ratio(g.time_ratio.median())} | {_fmt(g.coverage_90.mean())} |")
        called = v[v.cheap_call.isin(["win", "tie", "loss"])]
        wins = called[called.cheap_call == "win"]
        lines += ["", f"In plain words: over {len(called)} setting × dataset comparisons, {name} beats the best cheap "
                  f"imputer in {len(wins)}, ties in {int((called.cheap_call == 'tie').sum())} and loses in "
                  f"{int((called.cheap_call == 'loss').sum())}; against the best of every other method it wins "
                  f"{int((v.best_call == 'win').sum())}, ties {int((v.best_call == 'tie').sum())} and loses "
                  f"{int((v.best_call == 'loss').sum())}. Its fit costs a median "
                  f"{_fmt_ratio(v.time_ratio.median())} (range {_fmt_ratio(v.time_ratio.min())} to "
                  f"{_fmt_ratio(v.time_ratio.max())}) the best cheap imputer's."]
        if len(wins):
            where = wins.groupby("dataset").apply(
                lambda w: ", ".join(f"{m} {r:g}" for m, r in zip(w.mechanism, w.rate, strict=True)),
                include_groups=False)
            lines.append("It wins on " + "; ".join(f"{d} ({s})" for d, s in where.items()) + ".")
        lines.append("")
    return lines


def _fmt_ratio(v: float) -> str:
    return "—" if v is None or np.isnan(v) else f"{v:,.0f}×" if v >= 10 else f"{v:.1f}×"


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
        g = compared(g)
        n_all = g.dataset.nunique()
        lines += ["", f"## {mech}, missing rate {rate:g}", "",
                  f"Over {n_all} dataset(s): {', '.join(sorted(g.dataset.unique()))}.", "",
                  "| Method | " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * (len(cols) + 1)]
        means = g.groupby(["method", "dataset"])[list(SCORES)].mean().groupby(level="method").mean()
        for m in sorted(g.method.unique()):
            n_m = g[g.method == m].dataset.nunique()
            cells = [str(n_m) if n_m == n_all else f"{n_m} of {n_all} (partial)"]
            cells += [_fmt(means.loc[m, key]) for _, key in cols[1:]]
            lines.append(f"| {labels.get(m, m)} | " + " | ".join(cells) + " |")
    lines += ["", *render_verdict(df, labels)]
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
