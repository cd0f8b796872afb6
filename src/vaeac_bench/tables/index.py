"""``reports/index.md``: one page linking every rendered table and figure (issue 13 §6).

It lists what the reports folder holds (Markdown reports, PNG figures, the tidy CSV), grouped and described, so
it follows whatever one ``run-bench --no-run`` (or ``--tables all``) rendered; files written by other scripts
(``*.json``) are not reports and are left out. The same folder always gives the same bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..results import atomic_write_text

INDEX = "index.md"

#: file name -> (section, description); a file not listed here goes under "Other reports" with its name
KNOWN: dict[str, tuple[str, str]] = {
    "table01.md": ("paper", "Table 1: NRMSE / PFC of imputations on five UCI datasets"),
    "table02.md": ("paper", "Table 2: post-imputation R² / accuracy on the same datasets"),
    "figure01.png": ("paper", "Figure 1: MNIST inpaintings from VAEAC (input, samples, ground truth)"),
    "figure02.png": ("paper", "Figure 2: Omniglot inpaintings (whichever Omniglot models have records)"),
    "table3.md": ("paper", "Table 3: CelebA PSNR on Yeh et al.'s masks, classical baselines beside (issue 11)"),
    "table4.md": ("paper", "Table 4: CelebA PSNR on GFC's masks O1-O6, classical baselines beside"),
    "table5.md": ("paper", "Table 5: VAEAC against the Universal Marginalizer on MNIST: NLL, train and sample time"),
    "table6.md": ("paper", "Table 6: the GFC masks from the mask registry beside the paper's coordinates"),
    "table07.md": ("paper", "Table 7: GAIN as modified (appendix A.4) against the original, α grid"),
    "table08.md": ("paper", "Table 8: synthetic 2-D mixture, IS-10 / MC-10 NLL for α in {1, 0.99, 0.9}"),
    "figure07.png": ("paper", "Figure 7: samples of the synthetic mixture's conditionals"),
    "figure08.png": ("paper", "Figure 8: MNIST inpaintings, VAEAC against GSNN on the same inputs"),
    "figure09.png": ("paper", "Figure 9: validation IWAE per epoch, VAEAC against a plain VAE on MNIST"),
    "table9.md": ("paper", "Table 9: binary MNIST / Omniglot inpainting, NLL of the hidden pixels"),
    "table9_celeba.md": ("paper", "Table 9, CelebA column: NLL of the hidden pixels of faces"),
    "figure_psnr_samples.png": ("paper", "Figure: CelebA PSNR of the best of k inpaintings, k = 1..10, per mask"),
    "table10.md": ("paper", "Table 10: NRMSE / PFC of imputations on the 14 UCI datasets"),
    "table10t.md": ("paper", "Table 10 read on the training rows (the transductive reading)"),
    "table11.md": ("paper", "Table 11: post-imputation R² / accuracy on the 14 UCI datasets"),
    "figure11.png": ("paper", "Figure 11: MNIST inpaintings from GAIN (original and modified) with the line mask"),
    "figure12.png": ("paper", "Figure 12: MNIST inpaintings, the Universal Marginalizer against VAEAC"),
    "summary.md": ("paper", "Agreement with the paper per table and method; does the paper's ordering hold"),
    "beyond.md": ("beyond", "Every mechanism and missing rate run, distributional scores (W1, CRPS, coverage, "
                            "Brier), average ranks with the critical difference"),
    "figure_rates.png": ("beyond", "Figure: NRMSE and 90% interval coverage against the missing rate, per "
                                   "mechanism and method"),
    "figure_ranks.png": ("beyond", "Figure: average rank across datasets with the critical-difference diagram "
                                   "(Demšar 2006)"),
    "figure_cost.png": ("beyond", "Figure: fit time (log scale) against NRMSE"),
    "timing.md": ("cost", "Wall time per cell and compute per method"),
    "efficiency.md": ("cost", "Compute efficiency: VAEAC's training step and one-row sampling against this CPU's "
                              "matmul rate (measured by scripts/efficiency_report.py)"),
    "results_long.csv": ("cost", "Every result as one tidy table (dataset, method, split, mechanism, rate, "
                                 "metric, value)"),
}
SECTIONS = (("paper", "The paper's tables"), ("beyond", "Beyond the paper"), ("cost", "Cost and raw numbers"),
            ("other", "Other reports"))


def _order(name: str) -> tuple[int, str]:
    """Known files in their listed order, the others by name."""
    names = list(KNOWN)
    return (names.index(name), "") if name in names else (len(names), name)


def _title(path: Path) -> str:
    """The first Markdown heading of a report not in :data:`KNOWN`, else its file name."""
    if path.suffix == ".md":
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"#\s+(.+)", line)
            if match:
                return match.group(1).strip()
    return path.name


def render_index(reports_dir: str | Path) -> Path:
    """Write ``index.md`` linking every report (Markdown, PNG, the long CSV) in ``reports_dir``; return its path."""
    reports_dir = Path(reports_dir)
    files = sorted((p for p in reports_dir.iterdir() if p.is_file() and p.name != INDEX and not p.name.startswith(".")
                    and (p.suffix in (".md", ".png") or p.name == "results_long.csv")),
                   key=lambda p: _order(p.name)) if reports_dir.is_dir() else []
    lines = ["# Reports", "",
             "Every table and figure `run-bench` rendered into this folder (regenerated by the same command: "
             "`run-bench --no-run`, or `--tables all` for the image tables and table 8 too).", ""]
    for key, heading in SECTIONS:
        entries = [p for p in files if KNOWN.get(p.name, ("other", ""))[0] == key]
        if not entries:
            continue
        lines += [f"## {heading}", ""]
        for p in entries:
            text = KNOWN[p.name][1] if p.name in KNOWN else _title(p)
            lines.append(f"- [{p.name}]({p.name}): {text}")
        lines.append("")
    if not files:
        lines += ["No reports rendered yet.", ""]
    path = reports_dir / INDEX
    atomic_write_text(path, "\n".join(lines))
    return path
