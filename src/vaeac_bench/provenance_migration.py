"""Re-stamp result records after a change of the code lists behind their digests, where the check allows it.

A record names the digest of the code that computed it (:mod:`provenance`: its method's ``MethodSpec.code`` plus
``COMMON_CODE``, or the record's own ``code_paths``). When a list changes but the code a record's cell ran does
not, the record stays current under the new list; this module proves that per record and writes it in:

* **a file dropped from a list:** the record must be current under the old list (its recorded digest equals the
  old list's digest of today's files), so every file left in the list is the one that ran;
* **a file added to a list:** git must show that the file's code (its AST without docstrings, as the digest
  hashes it) is today's in every commit that touched it since the record was computed (``finished``) and in the
  last one before, so the cell ran today's file.

A record that fails either check keeps its old digest: it is stale, the tables say "older code", and
``run-bench`` recomputes it. Migrated records keep the digest they had under ``provenance.digest_migrations``,
and ``results/provenance_migrations.json`` logs each run (the old and new lists, counts, refusals).

Run ``python -m vaeac_bench.provenance_migration --old OLD.json --reason TEXT`` after editing the lists, with
``OLD.json`` the lists before the edit (``--dump-old`` writes them; run it first).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .provenance import PACKAGE_DIR, code_files, fingerprint_of, source_digest, source_fingerprint

LOG_NAME = "provenance_migrations.json"


def current_lists() -> dict[str, Any]:
    """The code lists of today's registry: ``common``, ``methods`` (name -> files) and ``long_mc_code``."""
    from .image_long_mc import LONG_MC_CODE
    from .methods import REGISTRY, get
    from .provenance import COMMON_CODE

    return {"common": list(COMMON_CODE), "methods": {m: list(get(m).code) for m in REGISTRY.keys()},
            "long_mc_code": list(LONG_MC_CODE)}


@dataclass
class Sources:
    """The package's source files and their git history, each read once per migration run (thousands of
    records name the same few code lists): digests of code lists, and whether a file's code is today's since a
    time."""

    repo: Path
    package: Path = PACKAGE_DIR
    _digests: dict[tuple[str, ...], str] = field(default_factory=dict)
    _today: dict[str, str] = field(default_factory=dict)
    _versions: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)

    def digest(self, paths: list[str]) -> str:
        """:func:`~vaeac_bench.provenance.source_digest` of a code list."""
        key = tuple(paths)
        if key not in self._digests:
            self._digests[key] = source_digest(key, self.package)
        return self._digests[key]

    def files(self, paths: list[str]) -> set[str]:
        """The package-relative files a code list names (folders expanded, as the digest does)."""
        return {p.relative_to(self.package).as_posix() for p in code_files(paths, self.package)}

    def _fingerprints(self, rel: str) -> tuple[str, list[tuple[int, str | None]]]:
        """Today's fingerprint of ``rel`` and (commit time, fingerprint or None where the file is absent) of each
        commit touching it, newest first."""
        if rel not in self._versions:
            self._today[rel] = hashlib.sha256(source_fingerprint(self.package / rel)).hexdigest()
            path = (self.package / rel).relative_to(self.repo).as_posix()
            log = subprocess.run(["git", "-C", str(self.repo), "log", "--format=%H %ct", "--", path],
                                 capture_output=True, text=True, check=True).stdout.split()
            out = []
            for sha, ct in zip(log[0::2], log[1::2], strict=True):
                show = subprocess.run(["git", "-C", str(self.repo), "show", f"{sha}:{path}"], capture_output=True)
                fp = hashlib.sha256(fingerprint_of(show.stdout, rel)).hexdigest() if show.returncode == 0 else None
                out.append((int(ct), fp))
            self._versions[rel] = out
        return self._today[rel], self._versions[rel]

    def unchanged_since(self, rel: str, when: datetime) -> bool:
        """True when ``rel``'s code is today's in every commit after ``when`` and in the last commit before it."""
        today, versions = self._fingerprints(rel)
        t = when.timestamp()
        for ct, fp in versions:
            if fp != today:
                return False
            if ct < t:  # the version the record's cell ran (unless it ran uncommitted code, committed later)
                return True
        return False  # no commit before the record: the file did not exist then

    def unchanged_added(self, old: list[str], new: list[str], when: datetime | None) -> tuple[list[str], bool]:
        """The files ``new`` adds to ``old``, and whether each has kept today's code since ``when``."""
        added = sorted(self.files(new) - self.files(old))
        return added, not added or (when is not None and all(self.unchanged_since(f, when) for f in added))


@dataclass
class Outcome:
    """What a migration did, for the log."""

    migrated: int = 0
    already_current: int = 0
    unaffected: int = 0
    stale: int = 0
    refused: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and the refused records."""
        return {"migrated": self.migrated, "already_current": self.already_current, "unaffected": self.unaffected,
                "stale_left": self.stale, "refused": self.refused}


def _old_new(prov: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]] | None:
    """The record's code list before and after (None when its method is not in both registries)."""
    paths = prov.get("code_paths")
    if paths:
        return list(paths) + old["common"], list(paths) + new["common"]
    m = prov.get("method")
    if m not in old["methods"] or m not in new["methods"]:
        return None
    return old["methods"][m] + old["common"], new["methods"][m] + new["common"]


def migrate_record(rec: dict[str, Any], old: dict[str, Any], new: dict[str, Any], sources: Sources,
                   stamp: dict[str, Any]) -> str:
    """Re-stamp one record in place where the checks allow; returns what happened (an :class:`Outcome` field)."""
    prov = rec.get("provenance")
    lists = _old_new(prov, old, new) if isinstance(prov, dict) else None
    if lists is None:
        return "unaffected"
    old_list, new_list = lists
    old_d, new_d = sources.digest(old_list), sources.digest(new_list)
    recorded = prov.get("code_digest")
    if old_d == new_d:
        return "unaffected"
    if recorded == new_d:
        return "already_current"
    if recorded != old_d:
        return "stale"
    finished = rec.get("finished")
    when = datetime.fromisoformat(finished) if isinstance(finished, str) else None
    added, unchanged = sources.unchanged_added(old_list, new_list, when)
    if not unchanged:
        return "refused"
    prov["code_digest"] = new_d
    prov.setdefault("digest_migrations", []).append({**stamp, "from": old_d, "added": added})
    if rec.get("cell_code_digest") == old_d:  # an MC-10^4 record names its network's cell digest too
        rec["cell_code_digest"] = new_d
    if old.get("long_mc_code"):  # and the digest of its own scoring code
        long_old, long_new = old["long_mc_code"] + old["common"], new["long_mc_code"] + new["common"]
        if prov.get("long_mc_code_digest") == sources.digest(long_old) \
                and sources.unchanged_added(long_old, long_new, when)[1]:
            prov["long_mc_code_digest"] = sources.digest(long_new)
    return "migrated"


def migrate(results_dir: Path, old: dict[str, Any], new: dict[str, Any], reason: str, repo: Path,
            write: bool = True, package: Path = PACKAGE_DIR) -> Outcome:
    """Migrate every record under ``results_dir`` (asv results aside) and log the run beside them; ``package`` is
    the source folder the lists name files of, inside the git ``repo``."""
    from .results import atomic_write_json

    date = datetime.now(UTC).isoformat(timespec="seconds")
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    stamp = {"date": date, "log": f"results/{LOG_NAME}"}
    sources, out = Sources(repo, package), Outcome()
    for path in sorted(results_dir.rglob("*.json")):
        if path.name == LOG_NAME or "asv" in path.relative_to(results_dir).parts[:1]:
            continue
        rec = json.loads(path.read_text())
        if not isinstance(rec, dict):
            continue
        what = migrate_record(rec, old, new, sources, stamp)
        if what == "refused":
            out.refused.append(path.relative_to(results_dir).as_posix())
        else:
            setattr(out, what, getattr(out, what) + 1)
        if what == "migrated" and write:
            atomic_write_json(path, rec)
    if write:
        log_path = results_dir / LOG_NAME
        log = json.loads(log_path.read_text()) if log_path.is_file() else {"migrations": []}
        log["migrations"].append({"date": date, "reason": reason, "head": head, "old": old, "new": new,
                                  **out.to_dict()})
        atomic_write_json(log_path, log)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: dump today's lists, or migrate the records from the lists in ``--old``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dump-old", metavar="FILE", help="write today's code lists to FILE (run before the edit)")
    ap.add_argument("--old", metavar="FILE", help="the code lists before the edit (from --dump-old)")
    ap.add_argument("--reason", default="", help="why the lists changed (goes into the log)")
    ap.add_argument("--results", default="results", help="the results folder (default: results)")
    ap.add_argument("--dry-run", action="store_true", help="count, write nothing")
    args = ap.parse_args(argv)
    if args.dump_old:
        Path(args.dump_old).write_text(json.dumps(current_lists(), indent=1) + "\n")
        return 0
    if not args.old or not args.reason:
        ap.error("--old FILE and --reason TEXT are required to migrate (write FILE with --dump-old first)")
    results = Path(args.results)
    repo = Path(subprocess.run(["git", "-C", str(results), "rev-parse", "--show-toplevel"], capture_output=True,
                               text=True, check=True).stdout.strip())
    if not PACKAGE_DIR.is_relative_to(repo):
        ap.error(f"the package imported from {PACKAGE_DIR} is not the source in {repo}, whose git history the "
                 "checks read: run this from an editable install of that repository (pip install -e .)")
    out = migrate(results, json.loads(Path(args.old).read_text()), current_lists(), args.reason, repo,
                  write=not args.dry_run)
    print(json.dumps(out.to_dict(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
