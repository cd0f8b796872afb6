"""The CI performance gate (scripts/perf_gate.py): its decisions, its git handling, and (slow) the real gate.

The fast tests drive the gate's decision code on fabricated measurements and its git logic on throw-away
repositories. The ``slow`` tests run the real gate on a clone of this repository: a commit that doubles the
VAEAC step's work and one that changes a quality number must fail it, an empty commit must pass it twice.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("perf_gate", REPO / "scripts" / "perf_gate.py")
pg = importlib.util.module_from_spec(_spec)
sys.modules["perf_gate"] = pg
_spec.loader.exec_module(pg)

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def _repo(tmp_path: Path, with_suite: list[bool]) -> Path:
    """A repository of len(with_suite) commits; commit i contains benchmarks/bench_gate.py iff with_suite[i]."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for i, suite in enumerate(with_suite):
        (repo / "benchmarks").mkdir(exist_ok=True)
        f = repo / pg.SUITE
        if suite:
            f.write_text(f"# {i}\n")
        elif f.exists():
            f.unlink()
        (repo / "n.txt").write_text(str(i))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"c{i}")
    return repo


# -- decisions ---------------------------------------------------------------------------------------------------
def test_quality_identical_values_pass_and_a_tiny_change_fails_naming_both_values():
    base = {"bench_gate.GateQuality.track_nrmse(vaeac)": (0.6268524025713751, [])}
    same = {"bench_gate.GateQuality.track_nrmse(vaeac)": (0.6268524025713751, [])}
    assert pg.compare_quality(base, same, 1e-9, 1e-12) == ([], [])
    moved = {"bench_gate.GateQuality.track_nrmse(vaeac)": (0.6268524025713751 + 1e-6, [])}
    failures, _ = pg.compare_quality(base, moved, 1e-9, 1e-12)
    assert len(failures) == 1
    assert "track_nrmse(vaeac)" in failures[0]
    assert "0.6268524025713751" in failures[0] and "0.6268534025713751" in failures[0]


def test_quality_within_tolerance_passes_a_lost_value_fails_and_a_new_one_is_noted():
    base = {"a": (1.0, []), "b": (2.0, []), "c": (None, [])}
    head = {"a": (1.0 + 1e-12, []), "b": (None, []), "c": (None, []), "d": (3.0, [])}
    failures, notes = pg.compare_quality(base, head, 1e-9, 1e-12)
    assert failures == [f for f in failures if f.startswith("QUALITY b:")] and len(failures) == 1
    assert notes == ["new (not compared): d = 3.0"]


def test_timing_ratio_is_the_ratio_of_medians():
    base = {"t": (None, [1.0, 2.0, 100.0]), "only_base": (None, [1.0])}
    head = {"t": (None, [3.0, 4.0, 5.0])}
    assert pg.ratios(base, head) == {"t": (2.0, 4.0, 2.0)}


def _fake_gate(monkeypatch, first: dict, second: dict | None, quality: tuple[dict, dict] | None = None):
    """Replace asv with fabricated measurements; returns the list of rerun benchmark patterns."""
    calls: list[str] = []
    monkeypatch.setattr(pg, "asv_machine", lambda config: None)
    monkeypatch.setattr(pg, "asv_run", lambda *a, **k: None)
    qa, qb = quality or ({"q": (1.0, [])}, {"q": (1.0, [])})
    monkeypatch.setattr(pg, "load", lambda results, sha: qa if sha == pg._test_base else qb)

    def rounds(base, head, repo, work, tag, n, bench, log):
        calls.append(bench)
        return first if tag == "t1" else second

    monkeypatch.setattr(pg, "time_rounds", rounds)
    return calls


@needs_git
@pytest.mark.parametrize(("second_ratio", "expected"), [(1.05, 0), (2.0, 1)])
def test_a_timing_failure_is_measured_again_and_fails_only_if_it_persists(tmp_path, monkeypatch, capsys,
                                                                           second_ratio, expected):
    repo = _repo(tmp_path, [True, True])
    monkeypatch.chdir(repo)
    pg._test_base = _git(repo, "rev-parse", "HEAD^")
    first = {"bench_gate.GateVAEACStep.time_vaeac_train_step": (1e-3, 2e-3, 2.0), "other": (1e-3, 1e-3, 1.0)}
    second = {"bench_gate.GateVAEACStep.time_vaeac_train_step": (1e-3, second_ratio * 1e-3, second_ratio)}
    calls = _fake_gate(monkeypatch, first, second)
    assert pg.main([]) == expected
    assert len(calls) == 2 and "GateVAEACStep" in calls[1] and "other" not in calls[1]
    err = capsys.readouterr().err
    assert ("REGRESSION bench_gate.GateVAEACStep.time_vaeac_train_step" in err) == bool(expected)


def _noise_file(path: Path, rounds: int, factors: dict) -> Path:
    path.write_text(json.dumps({"rounds_per_commit": rounds, "per_benchmark_factor": {"factors": factors}}))
    return path


@needs_git
def test_each_benchmark_is_judged_by_its_own_measured_factor(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, [True, True])
    monkeypatch.chdir(repo)
    pg._test_base = _git(repo, "rev-parse", "HEAD^")
    noise = _noise_file(tmp_path / "noise.json", 16, {"quiet": 1.2, "noisy": 2.0})
    both = {"quiet": (1e-3, 1.3e-3, 1.3), "noisy": (1e-3, 1.8e-3, 1.8), "unmeasured": (1e-3, 1.4e-3, 1.4)}
    calls = _fake_gate(monkeypatch, both, {"quiet": (1e-3, 1.3e-3, 1.3)})
    assert pg.main(["--noise", str(noise)]) == 1  # quiet: 1.3 > 1.2 twice; noisy: 1.8 < 2.0; unmeasured: < 1.5
    err = capsys.readouterr().err
    assert "REGRESSION quiet" in err and "noisy" not in err and "unmeasured" not in err
    assert len(calls) == 2 and "quiet" in calls[1] and "noisy" not in calls[1]
    assert pg.main(["--noise", str(noise), "--factor", "1.35"]) == 1  # --factor: one factor for all (noisy fails)
    assert "REGRESSION noisy" in capsys.readouterr().err


def test_a_noise_file_without_enough_rounds_gives_no_per_benchmark_factors(tmp_path):
    assert pg.noise_factors(_noise_file(tmp_path / "a.json", pg.MIN_NOISE_ROUNDS - 1, {"t": 1.1})) == {}
    assert pg.noise_factors(_noise_file(tmp_path / "b.json", pg.MIN_NOISE_ROUNDS, {"t": 1.1, "u": None})) == {
        "t": 1.1}
    assert pg.noise_factors(tmp_path / "missing.json") == {}


def test_per_benchmark_factors_hold_the_gate_s_false_alarm_rate():
    spec = importlib.util.spec_from_file_location("perf_gate_noise", REPO / "scripts" / "perf_gate_noise.py")
    noise = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noise)
    rng = np.random.default_rng(0)
    boot = [{"quiet": float(np.exp(rng.normal(0, 0.02))), "noisy": float(np.exp(rng.normal(0, 0.2))),
             "wild": float(np.exp(rng.normal(0, 1.0)))} for _ in range(4000)]
    got = noise.per_benchmark_factors(boot, target=0.01)
    f = got["factors"]
    assert f["quiet"] == 1.1 and f["wild"] is None and 1.1 < f["noisy"] <= 2.0
    # the rule: P(ratio > f)^2 <= target / n for the chosen f, and not for the candidate below it
    p = lambda name, fac: sum(b[name] > fac for b in boot) / len(boot)  # noqa: E731
    share = 0.01 / 3
    assert p("noisy", f["noisy"]) ** 2 <= share
    below = noise.FACTORS[noise.FACTORS.index(f["noisy"]) - 1]
    assert p("noisy", below) ** 2 > share


def test_the_rerun_pattern_selects_exactly_the_slow_benchmarks_as_asv_names_them():
    import re

    pat = pg.rerun_pattern(["bench_gate.GateFits.time_fit(gain)", "bench_gate.GateHarness.time_loop"])
    # asv matches a parameterised benchmark as key('param', ...), a plain one by its key
    assert re.search(pat, "bench_gate.GateFits.time_fit('gain')")
    assert re.search(pat, "bench_gate.GateHarness.time_loop")
    assert not re.search(pat, "bench_gate.GateFits.time_fit('missforest')")
    assert not re.search(pat, "bench_gate.GateHarness.time_loop_2")


def test_only_a_whole_line_accepts_a_quality_change():
    assert pg.accepts_quality_change(f"retune\n\n  {pg.ACCEPT_TRAILER.upper()}  \n")
    assert not pg.accepts_quality_change(f"retune; do not add {pg.ACCEPT_TRAILER} here")


@needs_git
def test_a_slow_benchmark_the_rerun_did_not_measure_fails(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, [True, True])
    monkeypatch.chdir(repo)
    pg._test_base = _git(repo, "rev-parse", "HEAD^")
    first = {"bench_gate.GateFits.time_fit(gain)": (1e-3, 2e-3, 2.0)}
    calls = _fake_gate(monkeypatch, first, {})
    assert pg.main([]) == 1
    assert "time_fit\\('?gain'?\\)" in calls[1]
    assert "not measured again" in capsys.readouterr().err


@needs_git
def test_the_gate_s_own_failures_are_errors_not_regressions(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, [True, True])
    monkeypatch.chdir(repo)
    pg._test_base = _git(repo, "rev-parse", "HEAD^")
    _fake_gate(monkeypatch, {}, None)  # no timing benchmark measured on both commits
    assert pg.main([]) == 2
    assert "nothing to compare" in capsys.readouterr().err
    assert pg.main(["--rounds", "0"]) == 2 and pg.main(["--factor", "0.9"]) == 2

    def broken(*a, **k):
        raise KeyError("results")

    monkeypatch.setattr(pg, "time_rounds", broken)
    assert pg.main([]) == 2
    assert "KeyError" in capsys.readouterr().err


@needs_git
def test_no_timing_regression_runs_once_and_passes_and_a_quality_change_fails(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, [True, True])
    monkeypatch.chdir(repo)
    pg._test_base = _git(repo, "rev-parse", "HEAD^")
    fine = {"t": (1e-3, 1.2e-3, 1.2)}
    calls = _fake_gate(monkeypatch, fine, None)
    assert pg.main(["--factor", "1.5"]) == 0
    assert len(calls) == 1
    calls = _fake_gate(monkeypatch, fine, None, quality=({"q": (1.0, [])}, {"q": (1.1, [])}))
    assert pg.main(["--factor", "1.5"]) == 1
    assert "QUALITY q: parent 1.0, this commit 1.1" in capsys.readouterr().err


@needs_git
def test_the_accept_trailer_reports_quality_changes_without_failing(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, [True, True])
    _git(repo, "commit", "-q", "--amend", "-m", f"retune\n\n{pg.ACCEPT_TRAILER}")
    monkeypatch.chdir(repo)
    pg._test_base = _git(repo, "rev-parse", "HEAD^")
    _fake_gate(monkeypatch, {"t": (1e-3, 1e-3, 1.0)}, None, quality=({"q": (1.0, [])}, {"q": (1.1, [])}))
    assert pg.main([]) == 0
    captured = capsys.readouterr()
    assert "QUALITY q" in captured.err and "reported, not failed" in captured.out


# -- git handling ------------------------------------------------------------------------------------------------
@needs_git
def test_a_parent_without_the_gate_suite_passes_and_says_so(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, [False, True])
    monkeypatch.chdir(repo)
    monkeypatch.setattr(pg, "asv_run", lambda *a, **k: pytest.fail("asv must not run"))
    assert pg.main([]) == 0
    assert "introduces the gate" in capsys.readouterr().out


@needs_git
def test_a_root_commit_passes_and_a_bad_revision_is_an_error(tmp_path, monkeypatch, capsys):
    repo = _repo(tmp_path, [True])
    monkeypatch.chdir(repo)
    assert pg.main([]) == 0
    assert "no parent" in capsys.readouterr().out
    assert pg.main(["--head", "nonexistent-rev"]) == 2


@needs_git
def test_a_merge_commit_is_compared_with_its_first_parent(tmp_path, monkeypatch):
    repo = _repo(tmp_path, [True, True])
    main_branch = _git(repo, "rev-parse", "--abbrev-ref", "HEAD")
    first_parent = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "-b", "side", "HEAD^")
    (repo / "side.txt").write_text("x")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "side")
    _git(repo, "checkout", "-q", main_branch)
    _git(repo, "merge", "-q", "--no-ff", "-m", "merge", "side")
    monkeypatch.chdir(repo)
    seen: list[str] = []
    monkeypatch.setattr(pg, "has_suite", lambda sha, r: seen.append(sha) or False)
    assert pg.main([]) == 0
    assert seen[0] == first_parent


def test_the_gate_times_the_step_the_registered_vaeac_trains_with(monkeypatch):
    """``GateVAEACStep`` runs ``ManualStep.step`` (what ``training.train`` runs since 2026-12-05), once per call:
    until 2026-12-07 it timed autograd's step, so a slower hand-written step passed the gate unseen."""
    from benchmarks.bench_gate import GateVAEACStep

    from vaeac_bench.methods.vaeac.manual_step import ManualStep

    calls = []
    original = ManualStep.step
    monkeypatch.setattr(ManualStep, "step", lambda self, *args: calls.append(1) or original(self, *args))
    gate = GateVAEACStep()
    gate.setup()
    calls.clear()
    gate.time_vaeac_train_step()
    assert calls == [1] and gate.run.manual


# -- the real gate (minutes; run with -m slow) --------------------------------------------------------------------
def _clone_with_commit(tmp_path: Path, edit) -> Path:
    """A clone of this repository's HEAD plus one commit made by ``edit(clone)`` (may change nothing)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    _git(clone, "checkout", "-q", _git(REPO, "rev-parse", "HEAD"))
    edit(clone)
    _git(clone, "add", "-A")
    _git(clone, "commit", "-q", "--allow-empty", "-m", "gate test commit")
    return clone


def _run_gate(clone: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/perf_gate.py", *args], cwd=clone, capture_output=True,
                          text=True, timeout=1800)


@pytest.mark.slow
@needs_git
def test_real_gate_fails_a_commit_that_doubles_the_vaeac_step(tmp_path):
    def slow_down(clone: Path) -> None:
        f = clone / pg.SUITE
        text = f.read_text()
        old = "    def time_vaeac_train_step(self) -> None:\n        self.run()\n"
        assert old in text
        f.write_text(text.replace(old, old + "        self.run()  # injected: twice the work\n"))

    clone = _clone_with_commit(tmp_path, slow_down)
    proc = _run_gate(clone, "--no-quality")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REGRESSION bench_gate.GateVAEACStep.time_vaeac_train_step" in proc.stderr
    assert "re-run: ratio" in proc.stderr


@pytest.mark.slow
@needs_git
def test_real_gate_fails_a_commit_that_changes_a_quality_number(tmp_path):
    def reseed(clone: Path) -> None:
        f = clone / pg.SUITE
        text = f.read_text()
        assert "seed(build(method, quick=True), 0)" in text
        f.write_text(text.replace("seed(build(method, quick=True), 0)", "seed(build(method, quick=True), 1)", 1))

    proc = _run_gate(_clone_with_commit(tmp_path, reseed))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "QUALITY bench_gate.GateQuality.track_nrmse(vaeac): parent " in proc.stderr


@pytest.mark.slow
@needs_git
def test_real_gate_passes_an_unchanged_commit_twice(tmp_path):
    clone = _clone_with_commit(tmp_path, lambda clone: None)
    for _ in range(2):
        proc = _run_gate(clone)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "quality: " in proc.stdout and " 0 differ" in proc.stdout
