"""Reports: the paper's numbers come from the data file; ours sit beside them; outliers are marked."""

from __future__ import annotations

import pandas as pd

from vaeac_bench.tables import TABLES, load_published, render_table
from vaeac_bench.tables.published import published
from vaeac_bench.tables.render import BETTER, WORSE


def test_published_numbers_are_complete():
    df = load_published()
    for table, n in (("1", 20), ("2", 20), ("7", 84), ("10", 84), ("11", 84), ("8", 6)):
        assert (df.table == table).sum() == n, table
    assert published("10", "mushroom", "gsnn") == (0.2412, 0.0009, "0.2412 ± 0.0009")
    assert published("11", "concrete", "nn")[:2] == (0.0, 1.0)
    assert published("1", "yeast", "nn") is None


def _summary(rows):
    return pd.DataFrame([{"dataset": d, "method": m, "kind": k, "mean": mu, "std": sd, "n": n}
                         for d, m, k, mu, sd, n in rows], columns=["dataset", "method", "kind", "mean", "std", "n"])


def test_render_marks_values_outside_two_paper_std_and_says_what_is_missing():
    # paper table 10, yeast: MICE 0.98 ± 0.02 (2 std: 0.94..1.02), MissForest 1.00 ± 0.02
    summ = _summary([("yeast", "mice", "imputation", 1.10, 0.01, 5),     # worse than the paper's range
                     ("yeast", "missforest", "imputation", 0.90, 0.01, 5),  # better
                     ("yeast", "vaeac", "imputation", 0.95, 0.01, 3)])     # inside, but only 3 splits
    text = render_table(TABLES["10"], summ)
    row = next(line for line in text.splitlines() if line.startswith("| Yeast"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"1.100 ± 0.010 {WORSE}" and cells[2] == "0.98 ± 0.02"
    assert cells[3] == f"0.900 ± 0.010 {BETTER}"
    assert cells[7] == "0.950 ± 0.010 (3/5 splits)"
    assert cells[5] == "not run"
    assert "Mean/mode (ours)" in text and "published.csv" in text


def test_downstream_tables_treat_higher_as_better():
    summ = _summary([("zoo", "mice", "downstream", 0.95, 0.01, 5)])  # paper 0.78 ± 0.06 (2 std: up to 0.90)
    text = render_table(TABLES["11"], summ)
    assert f"0.950 ± 0.010 {BETTER}" in text


def test_methods_as_rows_layout():
    text = render_table(TABLES["1"], _summary([]))
    assert "| MICE (paper) | 0.964 ± 0.007 | 1.01 ± 0.01 |" in text
    assert "| Method | Wine quality (white) | Yeast |" in text


def test_agreement_and_contrast_lines_say_where_ours_differs():
    summ = _summary([("yeast", "gain", "imputation", 1.20, 0.01, 5), ("yeast", "gain-original-a10", "imputation",
                                                                       1.10, 0.01, 5),
                     ("iris", "gain", "imputation", 0.70, 0.01, 5), ("iris", "gain-original-a10", "imputation",
                                                                     0.90, 0.01, 5)])
    text = render_table(TABLES["7"], summ)
    assert f"- GAIN: 1 of 2 datasets inside the paper's mean ± 2 std; worse {WORSE}: Yeast." in text
    assert "- GAIN beats GAIN original, α=10 on 1 of 2 datasets; not on: Yeast." in text


def test_transductive_variant_reads_train_metrics_and_the_table_10_numbers():
    from vaeac_bench.tables.render import primary_metric

    assert primary_metric("imputation_train", {"train_nrmse": None, "train_pfc": 0.2, "nrmse": 0.9}) == 0.2
    t = TABLES["10t"]
    assert t.filename == "table10t.md" and t.published_as == "10"
    text = render_table(t, _summary([("iris", "mice", "imputation_train", 0.60, 0.01, 5)]))
    assert "| Iris | 0.600 ± 0.010 | 0.59 ± 0.02 |" in text


def test_summary_counts_agreement_per_table_and_method():
    from vaeac_bench.tables.render import render_summary

    summ = _summary([("yeast", "gain", "imputation", 1.20, 0.01, 5),   # paper 0.99 ± 0.03: worse
                     ("iris", "gain", "imputation", 0.70, 0.01, 3),    # paper 0.72 ± 0.04: inside, 3 splits
                     ("mushroom", "gain", "imputation", 0.20, 0.01, 5)])  # paper 0.271 ± 0.003: better
    text = render_summary([TABLES["10"]], summ)
    assert "| [10](table10.md) | GAIN | 3 | 1 | 1 | 1 | 2 of 3 |" in text
    assert "MICE" not in text.split("|---|")[-1]  # methods we did not run get no row
    assert "no results yet" in render_summary([TABLES["10"]], _summary([]))


def test_pair_order_agreement_counts_pairs_ordered_as_in_the_paper():
    from vaeac_bench.tables.render import pair_order_agreement

    # paper, table 10, Iris: MICE 0.59, MissForest 0.62, GAIN 0.72
    summ = _summary([("iris", "mice", "imputation", 0.80, 0.01, 5), ("iris", "missforest", "imputation", 0.70, 0.01, 5),
                     ("iris", "gain", "imputation", 0.90, 0.01, 5)])
    # pairs: mice<missforest in the paper but not ours (differs); mice<gain (same); missforest<gain (same)
    assert pair_order_agreement(TABLES["10"], summ) == (2, 3)
    assert pair_order_agreement(TABLES["10"], _summary([])) == (0, 0)


def test_under_trained_cells_are_named_in_the_report():
    """Issue 9 item 10: a cell whose best epoch sat at the end of its budget is said, never silent."""
    from vaeac_bench.tables.render import summarise

    def record(split, under):
        return {"dataset": "phishing", "method": "vaeac", "split": split, "metrics": {"pfc": 0.1, "accuracy": 0.9},
                "timing": {"fit_s": 1.0, "impute_test_s": 0.1},
                "provenance": {"training": {"under_trained": under, "stopped": "cap"}}}

    summary = summarise([record(0, True), record(1, False), record(2, True)])
    text = render_table(TABLES["10"], summary)
    assert "Under-trained" in text and "VAEAC on Website Phishing (1353 rows) (2/3 splits)" in text
    assert "Under-trained" not in render_table(TABLES["10"], summarise([record(0, False)]))
