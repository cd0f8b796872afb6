"""A change of a code list re-stamps only the records it provably cannot change (provenance_migration)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vaeac_bench.provenance import source_digest
from vaeac_bench.provenance_migration import Sources, migrate, migrate_record

T0, T1, T2 = 1_765_000_000, 1_765_000_600, 1_765_001_200  # commit, record finished, later commit


def _commit(repo: Path, when: int, message: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000"}
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message],
                   check=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, Path]:
    """A git repository whose package holds a.py, b.py and c.py, committed at T0."""
    root = tmp_path / "repo"
    pkg = root / "src" / "pkg"
    pkg.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name in ("a", "b", "c"):
        (pkg / f"{name}.py").write_text(f'"""{name}."""\n\n\ndef f():\n    return "{name}"\n')
    _commit(root, T0, "start")
    return root, pkg


def _when(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def test_a_file_counts_as_unchanged_only_if_every_later_version_has_todays_code(repo: tuple[Path, Path]) -> None:
    root, pkg = repo
    assert Sources(root, pkg).unchanged_since("c.py", _when(T1))
    assert not Sources(root, pkg).unchanged_since("c.py", _when(T0 - 10))  # not yet committed then
    # a docstring edit after the record leaves the code, so the answer, as it was
    (pkg / "c.py").write_text('"""c, documented."""\n\n\ndef f():\n    """Say c."""\n    return "c"\n')
    _commit(root, T2, "doc")
    assert Sources(root, pkg).unchanged_since("c.py", _when(T1))
    # a change committed after the record, even one undone later, may be what the record's cell ran: refused
    (pkg / "c.py").write_text('def f():\n    return "C"\n')
    _commit(root, T2 + 10, "change")
    (pkg / "c.py").write_text('"""c."""\n\n\ndef f():\n    return "c"\n')
    _commit(root, T2 + 20, "undo")
    assert not Sources(root, pkg).unchanged_since("c.py", _when(T1))
    assert Sources(root, pkg).unchanged_since("c.py", _when(T2 + 30))


def test_dropped_and_added_files_restamp_current_records_and_leave_the_rest(repo: tuple[Path, Path],
                                                                           tmp_path: Path) -> None:
    root, pkg = repo
    old = {"common": [], "methods": {"m": ["a.py", "b.py"]}}
    new = {"common": [], "methods": {"m": ["a.py", "c.py"]}}  # b.py never ran; c.py did and was left out
    old_d, new_d = source_digest(["a.py", "b.py"], pkg), source_digest(["a.py", "c.py"], pkg)
    results = root / "results"
    results.mkdir()
    recs = {
        "current": {"provenance": {"method": "m", "code_digest": old_d}, "finished": _when(T1).isoformat()},
        "stale": {"provenance": {"method": "m", "code_digest": "0" * 64}, "finished": _when(T1).isoformat()},
        "other": {"provenance": {"method": "x", "code_digest": "1" * 64}, "finished": _when(T1).isoformat()},
        "mc": {"provenance": {"method": "m", "code_digest": old_d}, "cell_code_digest": old_d,
               "finished": _when(T1).isoformat()},
    }
    for k, r in recs.items():
        (results / f"{k}.json").write_text(json.dumps(r, indent=1) + "\n")
    stale_bytes = (results / "stale.json").read_bytes()
    out = migrate(results, old, new, "narrowed", root, package=pkg)
    assert (out.migrated, out.stale, out.unaffected, out.refused) == (2, 1, 1, [])
    cur = json.loads((results / "current.json").read_text())
    assert cur["provenance"]["code_digest"] == new_d
    assert cur["provenance"]["digest_migrations"][0]["from"] == old_d
    assert cur["provenance"]["digest_migrations"][0]["added"] == ["c.py"]
    assert json.loads((results / "mc.json").read_text())["cell_code_digest"] == new_d
    assert (results / "stale.json").read_bytes() == stale_bytes  # left for run-bench to recompute
    log = json.loads((results / "provenance_migrations.json").read_text())["migrations"]
    assert log[0]["reason"] == "narrowed" and log[0]["migrated"] == 2 and log[0]["old"] == old
    # run again: nothing left to do
    assert migrate(results, old, new, "again", root, package=pkg).already_current == 2


def test_an_added_file_changed_since_the_record_is_refused(repo: tuple[Path, Path]) -> None:
    root, pkg = repo
    old = {"common": [], "methods": {"m": ["a.py"]}}
    new = {"common": ["c.py"], "methods": {"m": ["a.py"]}}
    rec = {"provenance": {"method": "m", "code_digest": source_digest(["a.py"], pkg)},
           "finished": _when(T1).isoformat()}
    (pkg / "c.py").write_text('def f():\n    return "changed"\n')
    _commit(root, T2, "c changed after the record")
    before = json.dumps(rec)
    assert migrate_record(rec, old, new, Sources(root, pkg), {"date": "d"}) == "refused"
    assert json.dumps(rec) == before
