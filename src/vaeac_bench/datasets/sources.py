"""Finding dataset files: ``--data-dir``, then ``$VAEAC_BENCH_DATA``, then the user cache (downloads).

Every file is checked against the sha256 in its spec before it is parsed; a mismatch is an error that
names the file, so a corrupted or substituted download can never reach a model.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .spec import DatasetSpec

ENV_VAR = "VAEAC_BENCH_DATA"


class DataNotFoundError(FileNotFoundError):
    """A dataset file is in none of the places we look."""


class ChecksumError(ValueError):
    """A dataset file does not have the sha256 its spec expects."""


def cache_dir() -> Path:
    """The per-user cache where downloads land (``$XDG_CACHE_HOME/vaeac-bench`` or ``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vaeac-bench"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Raise :class:`ChecksumError` naming ``path`` unless its sha256 is ``expected``."""
    got = sha256_of(path)
    if got != expected:
        raise ChecksumError(
            f"{path}: sha256 is {got}, expected {expected}. The file is corrupted or is not the copy "
            "this benchmark was built on; delete it and fetch it again (run-bench --download)."
        )


@dataclass(frozen=True)
class Located:
    """A verified file and whether it is the canonical CSV or the original as downloaded."""

    path: Path
    canonical: bool


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The data directories in lookup order (the cache is searched separately, for originals)."""
    dirs = []
    if data_dir:
        dirs.append(Path(data_dir))
    env = os.environ.get(ENV_VAR)
    if env:
        dirs.append(Path(env))
    return dirs


def locate(spec: DatasetSpec, data_dir: str | os.PathLike | None = None, download: bool = False) -> Located:
    """Find (and verify) the file of a file-backed dataset, downloading into the cache if asked."""
    assert spec.path is not None and spec.sha256 is not None
    looked = []
    for d in search_dirs(data_dir):
        p = d / spec.path
        looked.append(str(p))
        if p.is_file():
            verify(p, spec.sha256)
            return Located(p, canonical=True)
    cache = cache_dir()
    p = cache / spec.path
    looked.append(str(p))
    if p.is_file():
        verify(p, spec.sha256)
        return Located(p, canonical=True)
    if spec.download is not None:
        orig = cache / spec.name / "original" / spec.download.filename
        looked.append(str(orig))
        if orig.is_file():
            verify(orig, spec.download.sha256)
            return Located(orig, canonical=False)
        if download:
            fetch(spec.download.url, orig, spec.download.sha256)
            return Located(orig, canonical=False)
    where = "\n  ".join(looked)
    how = (f"Point --data-dir or ${ENV_VAR} at a folder holding {spec.path}, or run with --download to "
           f"fetch it from {spec.download.url}" if spec.download else f"Point --data-dir or ${ENV_VAR} at a "
           f"folder holding {spec.path}")
    raise DataNotFoundError(f"dataset {spec.name!r}: file not found. Looked in:\n  {where}\n{how}.")


def fetch(url: str, dest: Path, sha256: str, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically; the file only appears once its sha256 matches."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600: give the download the mode a plain open() would
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        try:
            verify(Path(tmp), sha256)
        except ChecksumError as err:
            raise ChecksumError(f"download of {url} refused: {err}") from None
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _umask() -> int:
    """The process umask (read by setting and restoring it: there is no portable getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
