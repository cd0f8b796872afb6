"""Result files: one JSON per benchmark cell, written atomically; reading them back as tables.

A cell is (dataset, method, configuration hash, split, mechanism, rate). Its file name carries all of
them, so a re-run finds a finished cell by name and skips it, and a changed configuration never
overwrites or mixes with an old one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

RESULT_SCHEMA = 1


@dataclass(frozen=True)
class CellKey:
    """The identity of one benchmark cell."""

    dataset: str
    method: str
    split: int
    mechanism: str
    rate: float
    config_hash: str

    def relpath(self) -> Path:
        rate = f"{self.rate:g}"
        return Path(self.dataset) / self.method / f"{self.mechanism}-{rate}_split{self.split}_{self.config_hash}.json"


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of a JSON-serialisable configuration."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that it is either absent/old or complete (temp file + rename in the same folder)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes (a figure, a text's encoding) atomically: temp file + rename in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; keep the mode a plain open() would give
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    """The process umask (read by setting and restoring it: there is no other portable getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write one result file atomically (refuses NaN: undefined values must be ``null``)."""
    atomic_write_text(path, json.dumps(payload, indent=1, allow_nan=False) + "\n")


def iter_results(results_dir: Path) -> Iterator[dict[str, Any]]:
    """Every finished result under ``results_dir`` (partial temp files are ignored)."""
    if not results_dir.is_dir():
        return
    for path in sorted(results_dir.rglob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            continue
        if isinstance(data, dict) and data.get("result_schema") == RESULT_SCHEMA:
            yield data


LONG_COLUMNS = ["dataset", "method", "split", "mechanism", "rate", "metric", "value"]


def distributional_means(record: dict[str, Any]) -> dict[str, float]:
    """A record's distributional scores (issue 13 §4) averaged over columns, as flat metric names.

    ``w1`` (draws pooled), ``w1_point`` and ``crps`` are in each column's units, so each column's value is
    divided by the column's std (the record's ``column_std``, NRMSE's normaliser) before the mean over real
    columns, as NRMSE is; ``brier``, ``coverage_50`` and ``coverage_90`` are unitless means. Each is present only
    where the record has it (records computed before these scores existed have none; single imputations no
    CRPS, coverage or Brier).
    """
    dist = record.get("distributional") or {}
    std = dist.get("column_std") or {}
    out: dict[str, float] = {}
    for key, name in (("wasserstein", "w1"), ("wasserstein_point", "w1_point"), ("crps", "crps")):
        cols = (dist.get(key) or {}).get("columns") or {}
        vals = [v / std[c] for c, v in cols.items() if v is not None and std.get(c)]
        if vals:
            out[name] = float(sum(vals) / len(vals))
    mean = (dist.get("brier") or {}).get("mean")
    if mean is not None:
        out["brier"] = float(mean)
    for level, block in (dist.get("coverage") or {}).items():
        if block.get("mean") is not None:
            out[f"coverage_{round(float(level) * 100)}"] = float(block["mean"])
    return out


def long_table(results: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One tidy row per (dataset, method, split, mechanism, rate, metric), distributional means included."""
    rows = []
    for r in results:
        base = {k: r[k] for k in ("dataset", "method", "split", "mechanism", "rate")}
        values = dict(r["metrics"])
        values.update({f"time_{k}": v for k, v in r.get("timing", {}).items()})
        values.update(distributional_means(r))
        for metric, value in values.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                rows.append({**base, "metric": metric, "value": float(value)})
    return pd.DataFrame(rows, columns=LONG_COLUMNS)
