"""``run-bench`` end to end: help, clear one-line errors, a quick run that writes results and reports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vaeac_bench.cli import main


def test_help_lists_every_option():
    out = subprocess.run([sys.executable, "-m", "vaeac_bench.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for opt in ("--datasets", "--methods", "--splits", "--missing-rate", "--n-imputations", "--data-dir",
                "--results-dir", "--jobs", "--quick", "--tables", "--download", "--export"):
        assert opt in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--datasets", "nosuch"], "unknown dataset 'nosuch'"),
    (["--methods", "nosuch"], "unknown method 'nosuch'"),
    (["--tables", "3"], "unknown table(s) ['3']"),
])
def test_unknown_names_give_a_one_line_error(args, message, capsys):
    assert main(args + ["-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("run-bench: error:")


def test_missing_data_file_says_where_it_looked(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VAEAC_BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["--datasets", "yeast", "--methods", "mean", "--data-dir", str(tmp_path / "none"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "yeast/yeast.csv.gz" in err and "--download" in err


def test_bad_numbers_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["--missing-rate", "1.5"])
    assert "--missing-rate must be in [0, 1)" in capsys.readouterr().err


def test_quick_run_writes_results_and_reports_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--datasets", "iris", "--methods", "mean,missforest", "--splits", "2", "--quick", "--jobs", "1", "-q",
            "--tables", "10,11", "--export", "long.csv"]
    assert main(args) == 0
    results = sorted((tmp_path / "bench-quick" / "results").rglob("*.json"))
    assert len(results) == 4
    table = (tmp_path / "bench-quick" / "reports" / "table10.md").read_text()
    assert "| Iris |" in table and "0.59 ± 0.02" in table  # the paper's MICE value beside ours
    assert "(2/5 splits)" in table and "not run" in table
    assert (tmp_path / "long.csv").read_text().startswith("dataset,method,split,mechanism,rate,metric,value")
    stamps = [p.stat().st_mtime_ns for p in results]
    assert main(args) == 0
    assert [p.stat().st_mtime_ns for p in results] == stamps
