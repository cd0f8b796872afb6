"""What produced a result: a digest of the source that computed it, the versions, the data and the machine.

A cell is *stale* when the ``code_digest`` its file records differs from the digest of the current source
(or when the file records none). The digest covers the method's own code (``MethodSpec.code``) plus the
protocol code every cell shares (:data:`COMMON_CODE`). Each ``.py`` file is hashed as an AST dump with
docstrings removed, so an edit of a comment or docstring does not stale any result. Files are read from the
package directory by path and never imported: the renderer computes digests without torch installed.
"""

from __future__ import annotations

import ast
import hashlib
import os
import platform
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent

#: the protocol code shared by every cell (splits, masks, metrics, validation, loading); encoding.py since
#: 2026-12-07: metrics.py's downstream score one-hot encodes with it (tests/test_provenance_audit.py found it)
COMMON_CODE: tuple[str, ...] = (
    "methods/base.py", "validation.py", "schema.py", "seeding.py", "metrics.py", "datasets/splits.py",
    "datasets/masks.py", "datasets/spec.py", "datasets/loaders.py", "datasets/mechanisms_extra.py", "encoding.py",
)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Drop the docstring of the module and of every class and function (they never change a result)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def fingerprint_of(data: bytes, name: str) -> bytes:
    """The bytes hashed for a file named ``name`` holding ``data``: a ``.py`` file's AST dump without docstrings,
    else the raw bytes (also used on a file's committed versions: ``provenance_migration``)."""
    if not name.endswith(".py"):
        return data
    return ast.dump(_strip_docstrings(ast.parse(data, filename=name)), include_attributes=False).encode()


def source_fingerprint(path: Path) -> bytes:
    """The bytes hashed for one file: the AST dump of a ``.py`` file without docstrings, else the raw bytes."""
    return fingerprint_of(path.read_bytes(), str(path))


def _expand(rel: str, root: Path) -> list[Path]:
    """One package-relative file, or every ``.py`` file under a package-relative folder."""
    path = root / rel
    if path.is_dir():
        return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    if path.is_file():
        return [path]
    raise FileNotFoundError(f"code path {rel!r} does not exist under {root}; fix the method's MethodSpec.code")


def code_files(paths: Iterable[str], root: Path = PACKAGE_DIR) -> set[Path]:
    """The files a code list names (package-relative files, or folders of ``.py`` files)."""
    return {p for rel in paths for p in _expand(rel, root)}


def source_digest(paths: Iterable[str], root: Path = PACKAGE_DIR) -> str:
    """sha256 over the named package files (sorted, each with its relative path): what computed a result."""
    h = hashlib.sha256()
    for p in sorted(code_files(paths, root)):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(source_fingerprint(p)).digest())
    return h.hexdigest()


@cache
def code_digest(method: str) -> str:
    """The digest of the code that computes ``method``'s cells (its ``MethodSpec.code`` + :data:`COMMON_CODE`)."""
    from .methods import get

    return source_digest(tuple(get(method).code) + COMMON_CODE)


@cache
def paths_digest(code: tuple[str, ...]) -> str:
    """The digest of the given package code paths plus :data:`COMMON_CODE` (for cells outside the registry)."""
    return source_digest(tuple(code) + COMMON_CODE)


def recorded_digest(record: dict[str, Any]) -> str | None:
    """The code digest a result file records (None for files written before provenance existed)."""
    prov = record.get("provenance")
    return prov.get("code_digest") if isinstance(prov, dict) else None


def is_stale(record: dict[str, Any]) -> bool:
    """True when a result was computed by code other than the current (or records no digest at all)."""
    digest = recorded_digest(record)
    if digest is None:
        return True
    paths = record["provenance"].get("code_paths")
    return digest != (paths_digest(tuple(paths)) if paths else code_digest(record["method"]))


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries a cell used (those not imported are left out)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("vaeac-bench", "numpy", "scikit-learn", "scipy", "pandas", "torch", "miceforest", "lightgbm",
                 "joblib"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return out


def _read_cpuinfo() -> str | None:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return None


def _first_cpu(cpuinfo: str | None) -> dict[str, str]:
    """The fields of the first processor's block of a ``/proc/cpuinfo`` text (empty without one)."""
    fields: dict[str, str] = {}
    for line in (cpuinfo or "").splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block only
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _cpu_model(fields: dict[str, str]) -> str:
    return fields.get("model name") or platform.processor() or platform.machine()


#: ISA extensions that oneDNN and MKL dispatch on: a different set picks other kernels, hence other rounding
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def cpu_id(cpuinfo: str | None = None) -> str | None:
    """Vendor, family/model/stepping and :data:`KERNEL_FLAGS` of the first CPU in ``/proc/cpuinfo`` (or ``cpuinfo``).

    The model name alone does not identify the kernels a cell ran: two hosts both named "AMD EPYC" trained the conv
    MNIST GSNN to different weights (docs/images.md). None where there is no ``/proc/cpuinfo``.
    """
    fields = _first_cpu(_read_cpuinfo() if cpuinfo is None else cpuinfo)
    if "vendor_id" not in fields:
        return None
    flags = set(fields.get("flags", "").split())
    return (f"{fields['vendor_id']} {fields.get('cpu family', '?')}/{fields.get('model', '?')}/"
            f"{fields.get('stepping', '?')} " + " ".join(f for f in KERNEL_FLAGS if f in flags)).strip()


@cache
def machine() -> dict[str, Any]:
    """The machine a cell ran on: platform, CPU model (and :func:`cpu_id`), cores and total memory."""
    import psutil

    cpuinfo = _read_cpuinfo()  # read once for both the name and the kernels
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": _cpu_model(_first_cpu(cpuinfo)),
            "cpu_id": cpu_id(cpuinfo) if cpuinfo is not None else None, "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python_implementation": sys.implementation.name}


def training_info(est: object) -> dict[str, Any] | None:
    """The fitted estimator's ``fit_info_`` (epochs run, best epoch, cap, ...) if it is a JSON-safe dict."""
    import json

    info = getattr(est, "fit_info_", None)
    if not isinstance(info, dict):
        return None
    try:
        json.dumps(info, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return info


def build_provenance(*, method: str, target: str, params: dict[str, Any], dataset_source: str,
                     seeds: dict[str, int], est: object | None = None, peak_rss_mb: float | None = None,
                     threads: int = 1, code_paths: tuple[str, ...] | None = None, device: str = "cpu",
                     device_requested: str | None = None) -> dict[str, Any]:
    """The ``provenance`` block of one result file (``code_paths``: hash these instead of the method's code).

    ``device`` is where the cell ran (``cpu``, ``cuda:0``), ``device_requested`` what was asked (``auto``); neither
    enters the config hash or the code digest: they say where a result was computed, not what it is.
    """
    from . import __version__
    from .resources import THP_VAR

    digest = paths_digest(tuple(code_paths)) if code_paths else code_digest(method)
    extra = {"code_paths": list(code_paths)} if code_paths else {}
    if device.startswith("cuda"):  # name the GPU beside the CPU
        import torch

        extra["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return {
        "package_version": __version__, "code_digest": digest, **extra, "method": method, "target": target,
        "params": params, "data_source": dataset_source, "seeds": seeds, "versions": versions(),
        # huge pages change a cell's time, never its numbers (cli.huge_page_allocations): recorded for the timings
        "machine": machine() | {"threads": threads, "torch_thp": os.environ.get(THP_VAR) == "1"},
        "device": device,
        "device_requested": device_requested or device, "training": training_info(est) if est is not None else None,
        "peak_rss_mb": peak_rss_mb,
    }
