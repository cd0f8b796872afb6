"""scripts/grid_cpu_hours.py: sums the grid's recorded CPU hours per method and CPU, scales other CPUs' records
by the asv speed ratio of the method's proxy benchmark, and leaves records of the target CPU alone. A record's CPU
is found by its cpu_id where it names one (two CPUs share the name "AMD EPYC"), by its name where not."""

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


def _asv(folder: Path, fit_s: float, um_s: float, cpu: str = "", commit: str = "abc",
         matmul: float | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "machine.json").write_text(json.dumps({"cpu": cpu, "machine": folder.name}))
    cols = ["result", "params"]
    results = {"bench_vaeac.Fit.time_fit_5_epochs": [[fit_s, fit_s * 2], [["'fast'", "'reference'"]]],
               "bench_gain_um.UMSuite.time_fit": [[um_s], [["8"]]]}
    if matmul is not None:
        results["bench_efficiency.MatmulRate.track_gflops"] = [[matmul], [["'1024x1024x1024'"]]]
    # the header asv 0.6 writes (results format version 2); the script reads it with asv's Results.load
    header = {"commit_hash": commit, "env_name": "env", "date": 0, "params": {"machine": folder.name},
              "python": "3.11", "requirements": {}, "env_vars": {}, "durations": {}, "version": 2}
    (folder / f"{commit}-env.json").write_text(json.dumps(header | {"result_columns": cols, "results": results}))


def _record(root: Path, ds: str, method: str, split: int, cpu: str, cpu_s: float, cpu_id: str | None = None) -> None:
    folder = root / ds / method
    folder.mkdir(parents=True, exist_ok=True)
    machine = {"cpu": cpu} | ({"cpu_id": cpu_id} if cpu_id else {})
    rec = {"quick": False, "cpu": {"total_s": cpu_s}, "provenance": {"machine": machine}}
    (folder / f"mcar-0.5_split{split}_x.json").write_text(json.dumps(rec))


def test_other_cpus_are_scaled_by_the_proxy_ratio_and_the_target_cpu_is_not(tmp_path, capsys) -> None:
    pytest.importorskip("asv", reason="the bench extra (asv) reads the asv results")
    _asv(tmp_path / "asv" / "slow", fit_s=4.0, um_s=9.0)
    _asv(tmp_path / "asv" / "fast", fit_s=2.0, um_s=3.0)
    _record(tmp_path, "iris", "vaeac", 0, "Old CPU", 3600.0)  # 1 h, VAEAC ratio 2 -> 0.5 h
    _record(tmp_path, "iris", "vaeac", 1, "Old CPU", 3600.0)
    _record(tmp_path, "iris", "um", 0, "Old CPU", 3600.0)  # UM ratio 3 -> 0.33 h
    _record(tmp_path, "iris", "gain", 0, "New CPU", 1800.0)  # same CPU: 0.5 h as recorded
    # "Old CPU" by name, but its cpu_id is a third machine's, twice as fast as the target on VAEAC: 1 h -> 2 h
    _asv(tmp_path / "asv" / "zen4", fit_s=1.0, um_s=1.0, cpu="Old CPU (AuthenticAMD 25/17/1 avx512_bf16)")
    _asv(tmp_path / "asv" / "device-gpu", fit_s=0.01, um_s=0.01, cpu="Old CPU (AuthenticAMD 25/17/1 avx512_bf16)")
    _record(tmp_path, "zoo", "vaeac", 0, "Old CPU", 3600.0, cpu_id="AuthenticAMD 25/17/1 avx512_bf16")
    # a cpu_id no asv machine names: not scaled, and said so
    _record(tmp_path, "zoo", "vaeac", 1, "Old CPU", 3600.0, cpu_id="AuthenticAMD 23/1/2 avx2")
    # the target's CPU name with a cpu_id no machine names: the target's (its machine.json predates cpu_id)
    _record(tmp_path, "zoo", "gain", 1, "New CPU", 1800.0, cpu_id="GenuineIntel 6/143/8 avx512f amx_tile")
    assert gch.main(["--results", str(tmp_path), "--from-machine", "slow", "--to-machine", "fast",
                     "--to-cpu", "New CPU"]) == 0
    rows = {(c[0], c[1]): c[2:] for line in capsys.readouterr().out.splitlines()[2:]
            if (c := [x.strip() for x in line.split("|")[1:-1]])}
    assert rows[("vaeac", "slow")] == ["2", "2.00", "2.00", "1.00"]
    assert rows[("vaeac", "zen4")] == ["1", "1.00", "0.50", "2.00"]  # device-* machines are never a record's
    assert rows[("vaeac", "(no asv run of Old CPU, AuthenticAMD 23/1/2 avx2)")] == ["1", "1.00", "(not scaled)", "1.00"]
    assert rows[("um", "slow")] == ["1", "1.00", "3.00", "0.33"]
    assert rows[("gain", "fast")] == ["2", "1.00", "(same CPU)", "1.00"]
    assert rows[("**all**", "")][1:] == ["**6.00**", "", "**5.33**"]


def test_a_machine_with_several_runs_is_read_from_its_quietest(tmp_path) -> None:
    """Runs of one machine on a shared host differ by its load: the ratio comes from the run whose own matmul rate
    is highest, not from the newest or the largest file."""
    pytest.importorskip("asv", reason="the bench extra (asv) reads the asv results")
    _asv(tmp_path / "m", fit_s=2.0, um_s=3.0, commit="aaa", matmul=200.0)
    _asv(tmp_path / "m", fit_s=2.6, um_s=3.9, commit="bbb", matmul=160.0)  # the same code on a busier day
    values = gch.asv_values(tmp_path / "m")
    assert values[("bench_vaeac.Fit.time_fit_5_epochs", ("'fast'",))] == 2.0
    assert values[gch.MATMUL] == 200.0
