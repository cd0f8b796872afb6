"""Figures of the benchmark beyond the paper (issue 13 §6), drawn from whatever results exist.

* :func:`figure_missing_rate`: NRMSE and 90% interval coverage against the missing rate, one panel per
  mechanism, one line per method (mean over the datasets each method ran at that setting).
* :func:`figure_ranks`: average rank of each method across datasets in the paper's setting (50% MCAR) with
  a critical-difference diagram (Demšar, JMLR 2006, §3.2.2): the Friedman test over the datasets, then the
  Nemenyi critical difference ``CD = q_α √(k (k + 1) / (6 N))``, ``q_α`` the studentized range quantile for
  ``k`` groups and infinite degrees of freedom divided by √2 (Demšar's table 5 lists the same values).
  Methods joined by a bar are not significantly different.
* :func:`figure_cost`: fit time (log scale) against NRMSE, one point per method.

Every figure is drawn with matplotlib's Agg backend in its default style at a fixed size and dpi and saved
without the software/date metadata, so the same results give the same PNG bytes (on the same matplotlib and
FreeType versions); files are written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import friedmanchisquare, studentized_range

from ..results import atomic_write_bytes

DPI = 100
#: panel order: the paper's MCAR first, then MAR and the MNAR mechanisms of Muzellec et al. (2020)
MECHANISM_ORDER = ("mcar", "mar", "mnar-logistic", "mnar-selfmask", "mnar-quantile")
WIDE = (9.0, 4.6)


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """The Nemenyi critical difference of average ranks for ``k`` methods over ``n`` datasets (Demšar 2006)."""
    if k < 2 or n < 1:
        raise ValueError(f"the critical difference needs k >= 2 methods and n >= 1 datasets, got k={k}, n={n}")
    q = float(studentized_range.ppf(1 - alpha, k, np.inf)) / np.sqrt(2)
    return q * float(np.sqrt(k * (k + 1) / (6.0 * n)))


def average_ranks(scores: pd.DataFrame, higher_is_better: bool = False) -> pd.Series:
    """Mean over datasets (rows) of each method's (column's) rank, 1 = best, ties sharing the mean rank."""
    ranks = scores.rank(axis=1, ascending=not higher_is_better, method="average")
    return ranks.mean(axis=0).sort_values(kind="mergesort")


def friedman_p(scores: pd.DataFrame) -> float | None:
    """The Friedman test's p-value that all methods (columns) rank alike over datasets (rows); None if k < 3."""
    if scores.shape[1] < 3 or scores.shape[0] < 2:
        return None
    return float(friedmanchisquare(*[scores[c].to_numpy() for c in scores.columns]).pvalue)


def cliques(ranks: pd.Series, cd: float) -> list[tuple[int, int]]:
    """Maximal runs ``(i, j)`` of methods (in rank order) whose average ranks differ by at most ``cd``."""
    r = ranks.to_numpy()
    out: list[tuple[int, int]] = []
    for i in range(len(r)):
        j = int(np.searchsorted(r, r[i] + cd + 1e-12, side="right")) - 1
        if j > i and not any(a <= i and j <= b for a, b in out):
            out.append((i, j))
    return out


def complete_block(matrix: pd.DataFrame) -> pd.DataFrame:
    """The largest-looking complete part of a datasets x methods table: repeatedly drop the method (column) or
    dataset (row) with the largest share of missing cells (ties: the first in sorted order) until none is."""
    m = matrix.sort_index().sort_index(axis=1)
    while m.size and m.isna().to_numpy().any():
        col_share = m.isna().mean(axis=0)
        row_share = m.isna().mean(axis=1)
        if col_share.max() >= row_share.max():
            m = m.drop(columns=[col_share.idxmax()])
        else:
            m = m.drop(index=[row_share.idxmax()])
    return m


@contextmanager
def _figure(figsize: tuple[float, float], ncols: int = 1, nrows: int = 1) -> Iterator[tuple[Any, Any]]:
    """A figure in matplotlib's default style on the Agg backend (no user rc file can change the bytes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.style.context("default"), matplotlib.rc_context({"svg.hashsalt": "vaeac-bench"}):
        fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def save_png(fig: Any, path: Path) -> Path:
    """Save ``fig`` as a PNG without metadata that changes between runs, atomically; quantised to a 256-colour
    palette (median cut, no dither: deterministic) so that a wide figure with many lines stays a few tens of KB."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    buf.seek(0)
    with Image.open(buf) as im:
        palette = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    atomic_write_bytes(path, out.getvalue())
    return path


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, wrap=True,
            color="0.35")


def figure_missing_rate(tidy: pd.DataFrame, labels: dict[str, str], path: Path, n_draws: int | None = None) -> Path:
    """NRMSE and 90% coverage against the missing rate, per mechanism (panels) and method (lines); with the
    number of draws ``m`` known, the coverage panels mark 0.9 (m - 1) / (m + 1), what calibrated draws give."""
    mechanisms = sorted(tidy.mechanism.unique(), key=lambda m: (MECHANISM_ORDER.index(m) if m in MECHANISM_ORDER
                                                                else len(MECHANISM_ORDER), m)) \
        if not tidy.empty else ["mcar"]
    methods = sorted(tidy.method.unique()) if not tidy.empty else []
    colors = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    markers = "osD^v<>ph*"
    with _figure((max(4.6 * len(mechanisms), 7.0), 6.4), ncols=len(mechanisms), nrows=2) as (fig, axes):
        for c, mech in enumerate(mechanisms):
            sub = tidy[tidy.mechanism == mech] if not tidy.empty else tidy
            for r, (metric, name) in enumerate((("nrmse", "NRMSE (real columns)"),
                                                ("coverage_90", "coverage of the central 90% interval"))):
                ax = axes[r, c]
                per = sub.dropna(subset=[metric]) if metric in sub else sub.iloc[0:0]
                # per dataset first (mean over splits), then the mean over the datasets each method ran
                by_dataset = per.groupby(["method", "rate", "dataset"])[metric].mean()
                means = (by_dataset.groupby(level=["method", "rate"]).agg(["mean", "count"]) if not per.empty
                         else pd.DataFrame())
                for i, m in enumerate(methods):
                    if means.empty or m not in means.index.get_level_values(0):
                        continue
                    line = means.loc[m]
                    ax.plot(line.index, line["mean"], marker=markers[i % len(markers)], color=colors[m],
                            label=labels.get(m, m), linewidth=1.2, markersize=5)
                if metric == "coverage_90" and not means.empty:
                    ax.axhline(0.9, color="0.5", linestyle=":", linewidth=1)
                    if n_draws:
                        ax.axhline(0.9 * (n_draws - 1) / (n_draws + 1), color="0.3", linestyle="--", linewidth=1,
                                   label=f"calibrated with {n_draws} draws")
                rates = sorted(per.rate.unique()) if not per.empty else []
                if means.empty:
                    _note(ax, "no result records this score yet\n(cells computed before the distributional "
                              "scores were recorded,\nor single-imputation methods only)" if metric == "coverage_90"
                          else "no result with real columns")
                elif len(rates) == 1:
                    ax.set_title(f"{mech}: only rate {rates[0]:g} has results so far", fontsize=8, color="0.35",
                                 loc="right")
                ax.set_xlim(0, 0.8)
                ax.set_xlabel("missing rate" if r == 1 else "")
                ax.set_ylabel(name if c == 0 else "")
                ax.tick_params(labelsize=8)
                if r == 0:
                    ax.set_title(mech, loc="left", fontsize=10)
        handles, names = [], []
        for ax in axes.ravel():
            for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
                if n not in names:
                    handles.append(h)
                    names.append(n)
        if handles:
            fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), fontsize=8, frameon=False)
        fig.suptitle("Imputation error and interval coverage against the missing rate (mean over datasets)",
                     fontsize=10)
        fig.tight_layout(rect=(0, 0.08 if handles else 0, 1, 0.96))
        return save_png(fig, path)


def figure_ranks(scores: pd.DataFrame, labels: dict[str, str], path: Path, alpha: float = 0.05,
                 caption: str = "") -> tuple[Path, dict[str, Any]]:
    """Average ranks over datasets with the Nemenyi critical difference (Demšar's CD diagram); also returns
    the numbers drawn (ranks, CD, Friedman p-value, datasets, cliques) for the report."""
    block = complete_block(scores)
    k, n = block.shape[1], block.shape[0]
    info: dict[str, Any] = {"datasets": list(block.index), "methods": list(block.columns), "cd": None,
                            "friedman_p": None, "ranks": {}, "cliques": []}
    with _figure((9.0, 2.4 + 0.16 * max(k, 1))) as (fig, axes):
        ax = axes[0, 0]
        if k < 2 or n < 2:
            ax.axis("off")
            _note(ax, "a critical-difference diagram needs at least 2 methods with results on the same 2+ "
                      f"datasets; the results hold {n} such dataset(s) for {k} method(s)")
            return save_png(fig, path), info
        ranks = average_ranks(block)
        cd = critical_difference(k, n, alpha)
        groups = cliques(ranks, cd)
        info.update(cd=cd, friedman_p=friedman_p(block), ranks={m: float(v) for m, v in ranks.items()},
                    cliques=[[ranks.index[i] for i in range(a, b + 1)] for a, b in groups])
        pad = 1.7  # room for the method labels beyond the rank axis
        ax.set_xlim(k + 0.5 + pad, 0.5 - pad)  # rank 1 (best) on the right, as in Demšar's figures
        ax.set_ylim(0, 1)
        ax.axis("off")
        top = 0.82
        ax.hlines(top, 1, k, color="k", linewidth=1)
        for t in range(1, k + 1):
            ax.vlines(t, top, top + 0.03, color="k", linewidth=1)
            ax.text(t, top + 0.05, str(t), ha="center", va="bottom", fontsize=8)
        ax.hlines(top + 0.14, 1, 1 + cd, color="k", linewidth=2)
        ax.text(1 + cd / 2, top + 0.16, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
        half = (k + 1) // 2
        step = 0.7 / max(half, 1)
        for i, (m, r) in enumerate(ranks.items()):
            right = i < half  # the better half labelled on the right
            y = top - 0.1 - step * (i if right else k - 1 - i)
            end = 0.5 if right else k + 0.5
            ax.plot([r, r, end], [top, y, y], color="0.25", linewidth=0.8)
            ax.text(end - 0.05 if right else end + 0.05, y, f"{labels.get(m, m)} ({r:.2f})", fontsize=8,
                    va="center", ha="left" if right else "right")
        for g, (a, b) in enumerate(groups):
            y = top - 0.03 - 0.025 * g
            ax.hlines(y, ranks.iloc[a] - 0.03, ranks.iloc[b] + 0.03, color="C3", linewidth=3)
        p = info["friedman_p"]
        ptext = f"Friedman p = {p:.2g}" if p is not None else "Friedman test needs 3+ methods"
        fig.suptitle(f"Average rank over {n} datasets (1 = best){caption}; Nemenyi CD at α = {alpha:g}; "
                     f"{ptext}", fontsize=9)
        fig.tight_layout(rect=(0.02, 0, 0.98, 0.95))
        return save_png(fig, path), info


def figure_cost(accuracy: pd.DataFrame, fit_s: pd.DataFrame, labels: dict[str, str], path: Path) -> tuple[Path, int]:
    """Fit seconds (geometric mean, log scale) against NRMSE (mean) over the datasets every plotted method ran;
    returns the path and that number of datasets."""
    block = complete_block(accuracy)
    times = fit_s.reindex(index=block.index, columns=block.columns)
    with _figure(WIDE) as (fig, axes):
        ax = axes[0, 0]
        n = block.shape[0]
        if block.empty or n < 1 or times.isna().to_numpy().any():
            _note(ax, "no methods with NRMSE and fit time on a common dataset yet")
            return save_png(fig, path), 0
        x = np.exp(np.log(times.clip(lower=1e-3)).mean(axis=0))
        y = block.mean(axis=0)
        for i, m in enumerate(block.columns):
            ax.scatter(x[m], y[m], s=36, color=f"C{i % 10}", zorder=3)
            ax.annotate(labels.get(m, m), (x[m], y[m]), textcoords="offset points", xytext=(5, 4), fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("fit time per cell, seconds (geometric mean over datasets; log scale)", fontsize=9)
        ax.set_ylabel("NRMSE (mean over datasets)", fontsize=9)
        ax.grid(True, which="both", alpha=0.25)
        ax.tick_params(labelsize=8)
        ax.set_title(f"Cost against accuracy, 50% MCAR, {n} dataset(s) every method ran; lower left is better",
                     fontsize=9)
        fig.tight_layout()
        return save_png(fig, path), n
