"""``run-bench --csv`` (issue 13 §5): the user's own table, its column kinds, its missing cells, every awkward
column refused with one line that names the column and the fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vaeac_bench.cli import main
from vaeac_bench.userdata import MAX_LEVELS, UserDataError, dataset_name, file_sha256, prepare

N = 60
BAD = ("ident", "const", "empty")
NUM_MISSING = [1, 5, 7, *range(12, N, 5)]  # rows (all with a known target) whose 'num' is missing in the file


def _frame() -> pd.DataFrame:
    """Every awkward case in one table: missing cells ('' and '?'), text, booleans with gaps, integers, an
    identifier, a constant, an all-missing column, and a target missing on two rows."""
    rng = np.random.default_rng(0)
    num = rng.normal(size=N).round(3).astype(object)
    num[NUM_MISSING] = ""
    num[7] = "?"
    colour = np.array(["red", "green", "blue"], dtype=object)[rng.integers(0, 3, N)]
    colour[3] = ""
    flag = np.array(["True", "False"], dtype=object)[rng.integers(0, 2, N)]
    flag[4] = ""
    y = rng.normal(size=N).round(3).astype(object)
    y[[10, 11]] = ""
    return pd.DataFrame({"num": num, "count": rng.integers(0, 9, N), "colour": colour, "flag": flag,
                         "ident": [f"user{i:03d}" for i in range(N)], "const": 3, "empty": "", "y": y})


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "shop.csv"
    _frame().to_csv(path, index=False)
    return path


def test_kinds_are_inferred_missing_cells_kept_and_target_last(csv):
    source, table, left_out = prepare(csv, target="y", drop=BAD)
    assert left_out == 2 and table.n_rows == N - 2 and table.task == "regression"
    assert table.schema.names == ["num", "count", "colour", "flag", "y"]
    kinds = {f.name: (f.kind, f.categories) for f in table.schema}
    assert kinds["num"] == ("real", ()) and kinds["count"] == ("real", ())  # integers stay real (imputer.py's rule)
    assert kinds["colour"] == ("categorical", ("blue", "green", "red"))
    assert kinds["flag"] == ("categorical", ("False", "True"))
    frame = _frame().drop(index=[10, 11]).reset_index(drop=True)
    rows = [r - 2 * (r > 11) for r in NUM_MISSING]  # rows 10 and 11 (no target) are left out
    assert np.isnan(table.data[rows, 0]).all() and np.isnan(table.data[3, 2]) and np.isnan(table.data[4, 3])
    assert np.isnan(table.data).sum() == len(NUM_MISSING) + 2  # exactly the cells missing in the file
    assert table.data[0, 0] == float(frame.num[0]) and table.data[0, 2] == ["blue", "green", "red"].index(
        frame.colour[0])
    assert source.sha256 == file_sha256(csv) and source.name == "shop" and source.target == "y"


def test_categorical_override_and_default_target(csv):
    _, table, _ = prepare(csv, categorical=("count",), drop=BAD)  # the last column, y, is the default target
    count = table.schema[table.schema.index("count")]
    assert count.is_categorical and count.categories == tuple(str(v) for v in sorted(_frame()["count"].unique()))
    assert table.target == "y"
    _, cls, _ = prepare(csv, target="colour", drop=BAD)
    assert cls.task == "classification" and cls.target == "colour" and cls.n_rows == N - 1


@pytest.mark.parametrize("kwargs, message", [
    ({"drop": ("const", "empty")}, f"column 'ident' has {N - 2} distinct values (more than {MAX_LEVELS})"),
    ({"drop": ("ident", "empty")}, "column 'const' is constant (every known value is 3.0)"),
    ({"drop": ("ident", "const")}, "column 'empty' has no value (every cell is missing); drop it with --drop empty"),
    ({"target": "nosuch", "drop": BAD}, "--target names 'nosuch', which is not a column of --csv shop.csv"),
    ({"categorical": ("colr",), "drop": BAD}, "--categorical names 'colr'"),
    ({"drop": ("ident", "const", "empty", "nope")}, "--drop names 'nope'"),
    ({"target": "const", "drop": ("ident", "empty")}, "column 'const' is constant"),
    ({"target": "ident", "drop": BAD}, "is also in --drop"),
])
def test_every_unusable_column_is_one_line_naming_it_and_the_fix(csv, kwargs, message):
    with pytest.raises(UserDataError) as err:
        prepare(csv, **kwargs)
    text = str(err.value)
    assert message in text and "\n" not in text
    if "constant" in message and kwargs.get("target") == "const":
        assert "choose another --target" in text
    elif "column '" in message:
        assert "--drop" in text


def test_unreadable_files_and_unusable_dtypes(tmp_path):
    with pytest.raises(UserDataError, match="no such file"):
        prepare(tmp_path / "absent.csv")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"\x00\x01not parquet at all")
    with pytest.raises(UserDataError, match=r"cannot read it as Parquet.*check the file's format"):
        prepare(junk)
    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=N), "x": np.arange(N, dtype=float),
                          "y": np.arange(N) % 7 * 1.5})
    frame.to_parquet(tmp_path / "dates.parquet")
    with pytest.raises(UserDataError, match=r"column 'when' has dtype datetime64.*--drop when"):
        prepare(tmp_path / "dates.parquet")
    _, table, _ = prepare(tmp_path / "dates.parquet", drop=("when",))  # Parquet reads like CSV
    assert table.schema.names == ["x", "y"] and table.n_rows == N
    (tmp_path / "tiny.csv").write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(UserDataError, match="needs at least 10"):
        prepare(tmp_path / "tiny.csv")


def test_a_file_changed_after_planning_is_refused(csv):
    source, _, _ = prepare(csv, drop=BAD)
    csv.write_text(csv.read_text().replace("red", "rouge"))
    with pytest.raises(UserDataError, match="changed since the run was planned"):
        source.load()


def test_names_never_collide_with_registered_datasets(tmp_path):
    assert dataset_name(tmp_path / "iris.csv") == "iris-csv" and dataset_name(tmp_path / "my data.parquet") == "my-data"


def test_run_bench_csv_scores_only_hidden_known_cells_and_files_results_by_sha(csv, tmp_path, monkeypatch):
    """The whole path: results in bench-STEM/, the file's sha256 in every record, the already-missing cells never
    scored, a report (beyond.md, figures, index) for the user's table."""
    from vaeac_bench.datasets import make_split

    monkeypatch.chdir(tmp_path)
    args = ["--csv", str(csv), "--target", "y", "--drop", ",".join(BAD), "--methods", "mean", "--splits", "2", "-q"]
    assert main(args) == 0
    files = sorted((tmp_path / "bench-shop" / "results").rglob("*.json"))
    assert [p.relative_to(tmp_path / "bench-shop" / "results").parts[:2] for p in files] == [("shop", "mean")] * 2
    record = json.loads(files[0].read_text())
    assert record["config"]["dataset_source"] == f"sha256:{file_sha256(csv)}"
    assert record["config"]["columns"] == {"target": "y", "categorical": [], "drop": sorted(BAD)}
    source, table, _ = prepare(csv, target="y", drop=BAD)
    split = make_split(table, record["split"])
    known = ~np.isnan(split.test_true)
    assert not (split.test_scored & ~known).any()
    num = next(f for f in record["per_feature"] if f["name"] == "num")
    assert num["n_scored"] == int(split.test_scored[:, 0].sum()) < int(split.test_dropped[:, 0].sum())
    reports = tmp_path / "bench-shop" / "reports"
    assert {"beyond.md", "index.md", "figure_rates.png"} <= {p.name for p in reports.iterdir()}
    assert "| Mean/mode | 1 |" in (reports / "beyond.md").read_text()
    assert "not run" not in (reports / "index.md").read_text()
    assert not (tmp_path / "results").exists()  # never mixed with the UCI results
    stamps = [p.stat().st_mtime_ns for p in files]
    assert main(args) == 0  # cached: the same cells are reused
    assert [p.stat().st_mtime_ns for p in files] == stamps


@pytest.mark.parametrize("args, message", [
    (["--drop", "ident,const"], "column 'empty' has no value"),
    (["--target", "nosuch", "--drop", "ident,const,empty"], "--target names 'nosuch'"),
])
def test_run_bench_csv_errors_are_one_line(csv, args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--csv", str(csv), "--methods", "mean", "-q", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("run-bench: error:") and message in err and "\n" not in err
    assert not (tmp_path / "bench-shop").exists()  # nothing ran


def test_csv_options_need_csv_and_exclude_datasets(capsys, csv):
    assert main(["--target", "y", "-q"]) == 2
    assert "--target applies to your own table; add --csv PATH" in capsys.readouterr().err
    assert main(["--csv", str(csv), "--datasets", "iris", "-q"]) == 2
    assert "pass one of them" in capsys.readouterr().err


def test_run_bench_csv_with_tables_none_writes_no_report(csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--csv", str(csv), "--drop", ",".join(BAD), "--methods", "mean", "--splits", "1", "--tables", "none",
                 "-q", "--results-dir", "r", "--reports-dir", "rep"]) == 0
    assert len(list((tmp_path / "r").rglob("*.json"))) == 1 and not (tmp_path / "rep").exists()
