"""One small definition per paper table: which datasets and methods, which metric, which layout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

UCI = ("boston", "breast", "concrete", "diabetes", "digits", "glass", "iris", "mushroom", "orthopedic", "phishing",
       "wallrobot", "whitewine", "yeast", "zoo")
TABLE1_DATASETS = ("whitewine", "yeast", "mushroom", "zoo", "phishing")
PAPER_METHODS = ("mice", "missforest", "gain", "vaeac", "gsnn", "nn")
# methods with no published column in these tables: the mean/mode floor and the Universal Marginalizer
OURS_ONLY = ("mean", "um", "um-naive")
GAIN_GRID = ("gain", "gain-original-a10", "gain-original-a2", "gain-original-a1", "gain-original-a0.5",
             "gain-original-a0.1")


@dataclass(frozen=True)
class TableDef:
    """A results table of the paper, as a layout over (dataset, method) cells.

    ``metric`` ``imputation`` is NRMSE for datasets with real features and PFC for all-categorical ones
    (the paper's convention); ``downstream`` is R² (regression targets) or accuracy (classification).
    ``rows`` says whether methods (tables 1, 2) or datasets (tables 7, 10, 11) run down the page.
    ``extra_methods`` are ours only (no published column), e.g. the mean/mode floor.
    """

    number: str
    title: str
    datasets: tuple[str, ...]
    methods: tuple[str, ...]
    metric: Literal["imputation", "downstream", "imputation_train"]
    rows: Literal["methods", "datasets"]
    extra_methods: tuple[str, ...] = ()
    contrast: tuple[str, tuple[str, ...]] | None = None  # (method, rivals) compared on our own numbers

    #: the published table whose numbers stand beside ours (a variant reading shares its table's numbers)
    paper_table: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "downstream"

    @property
    def published_as(self) -> str:
        return self.paper_table or self.number

    @property
    def filename(self) -> str:
        digits = "".join(c for c in self.number if c.isdigit())
        return f"table{int(digits):02d}{self.number[len(digits):]}.md"


TABLES: dict[str, TableDef] = {t.number: t for t in (
    TableDef("1", "NRMSE (real-valued datasets) or PFC (categorical ones) of imputations. Less is better.",
             TABLE1_DATASETS, ("mice", "missforest", "gain", "vaeac"), "imputation", "methods", ("mean",)),
    TableDef("2", "R² (continuous targets) or accuracy (categorical ones) of post-imputation regression or "
             "classification. Higher is better.",
             TABLE1_DATASETS, ("mice", "missforest", "gain", "vaeac"), "downstream", "methods", ("mean",)),
    TableDef("7", "NRMSE or PFC of imputations for the GAIN modifications (appendix A.4). Less is better.",
             UCI, GAIN_GRID, "imputation", "datasets", contrast=("gain", GAIN_GRID[1:])),
    TableDef("10", "NRMSE (real-valued datasets) or PFC (categorical ones) of imputations. Less is better.",
             UCI, PAPER_METHODS, "imputation", "datasets", OURS_ONLY),
    TableDef("10t", "Table 10 read transductively: NRMSE / PFC of each method's imputations of its own *training* "
             "rows (their target observed), not of the test rows. The paper's text implies the test-set reading "
             "(table 10 here); this variant shows how much the reading matters. Less is better.",
             UCI, PAPER_METHODS, "imputation_train", "datasets", OURS_ONLY, paper_table="10"),
    TableDef("11", "R² (continuous targets) or accuracy (categorical ones) of post-imputation regression or "
             "classification. Higher is better.",
             UCI, PAPER_METHODS, "downstream", "datasets", OURS_ONLY),
)}
