"""scripts/grid_cpu_hours.py: sums the grid's recorded CPU hours per method and CPU, scales other CPUs' records
by the asv speed ratio of the method's proxy benchmark, and leaves records of the target CPU alone."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("grid_cpu_hours", REPO / "scripts" / "grid_cpu_hours.py")
gch = importlib.util.module_from_spec(_spec)
sys.modules["grid_cpu_hours"] = gch
_spec.loader.exec_module(gch)


def _asv(folder: Path, fit_s: float, um_s: float) -> None:
    folder.mkdir(parents=True)
    (folder / "machine.json").write_text("{}")
    cols = ["result", "params"]
    results = {"bench_vaeac.Fit.time_fit_5_epochs": [[fit_s, fit_s * 2], [["'fast'", "'reference'"]]],
               "bench_gain_um.UMSuite.time_fit": [[um_s], [["8"]]]}
    # the header asv 0.6 writes (results format version 2); the script reads it with asv's Results.load
    header = {"commit_hash": "abc", "env_name": "env", "date": 0, "params": {"machine": folder.name},
              "python": "3.11", "requirements": {}, "env_vars": {}, "durations": {}, "version": 2}
    (folder / "abc-env.json").write_text(json.dumps(header | {"result_columns": cols, "results": results}))


def _record(root: Path, ds: str, method: str, split: int, cpu: str, cpu_s: float) -> None:
    folder = root / ds / method
    folder.mkdir(parents=True, exist_ok=True)
    rec = {"quick": False, "cpu": {"total_s": cpu_s}, "provenance": {"machine": {"cpu": cpu}}}
    (folder / f"mcar-0.5_split{split}_x.json").write_text(json.dumps(rec))


def test_other_cpus_are_scaled_by_the_proxy_ratio_and_the_target_cpu_is_not(tmp_path, capsys) -> None:
    pytest.importorskip("asv", reason="the bench extra (asv) reads the asv results")
    _asv(tmp_path / "asv" / "slow", fit_s=4.0, um_s=9.0)
    _asv(tmp_path / "asv" / "fast", fit_s=2.0, um_s=3.0)
    _record(tmp_path, "iris", "vaeac", 0, "Old CPU", 3600.0)  # 1 h, VAEAC ratio 2 -> 0.5 h
    _record(tmp_path, "iris", "vaeac", 1, "Old CPU", 3600.0)
    _record(tmp_path, "iris", "um", 0, "Old CPU", 3600.0)  # UM ratio 3 -> 0.33 h
    _record(tmp_path, "iris", "gain", 0, "New CPU", 1800.0)  # same CPU: 0.5 h as recorded
    assert gch.main(["--results", str(tmp_path), "--from-machine", "slow", "--to-machine", "fast",
                     "--to-cpu", "New CPU"]) == 0
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["vaeac"] == ["Old CPU", "2", "2.00", "2.00", "1.00"]
    assert rows["um"] == ["Old CPU", "1", "1.00", "3.00", "0.33"]
    assert rows["gain"] == ["New CPU", "1", "0.50", "(same CPU)", "0.50"]
    assert rows["**all**"][2:] == ["**3.50**", "", "**1.83**"]
