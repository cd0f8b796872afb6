"""Run one quick grid cell and write which package code it ran (tests/test_provenance_audit.py runs this).

A fresh process per cell, so that no cache filled by another cell hides a call. ``sys.settrace`` sees each
Python function call; the trace function returns None, so no line events are asked for, and it records each code
object once, so a repeated call costs one set look-up (this took the costliest cell, the image UM, from 47 s to
29 s wall, about its untraced time). The JSON file named by the last argument gets ``executed`` (package file
-> qualified names of the functions it ran), ``dataclass_inits`` (package files whose dataclasses were built:
their generated ``__init__`` has no file of its own) and ``imported`` (every package module the process
imported).

Usage: ``python tests/provenance_trace.py METHOD DATASET MECHANISM OUT.json``
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import vaeac_bench

PKG = Path(vaeac_bench.__file__).resolve().parent
CO_NEWLOCALS = 0x2  # set on function code objects, not on module or class bodies


def _rel(filename: str) -> str | None:
    """Package-relative path of a source file, or None outside the package."""
    p = Path(filename)
    return p.relative_to(PKG).as_posix() if p.is_absolute() and p.is_relative_to(PKG) else None


class CallTrace:
    """A ``sys.settrace`` function that records the package's function calls and dataclass constructions; use it as
    a context manager around the code to trace."""

    def __init__(self) -> None:
        self.executed: dict[str, set[str]] = {}
        self.dataclass_inits: set[str] = set()
        self._seen: set[object] = set()  # code objects already recorded: a set look-up is all a repeat call costs

    def __call__(self, frame, event, arg):  # noqa: ANN001, ANN204 - sys.settrace's signature; None: no line events
        code = frame.f_code
        if code in self._seen:
            return
        rel = _rel(code.co_filename)
        if rel is not None and code.co_flags & CO_NEWLOCALS:
            self.executed.setdefault(rel, set()).add(code.co_qualname)
            self._seen.add(code)
        elif rel is not None or code.co_filename != "<string>":
            self._seen.add(code)  # outside the package, or a module/class body: nothing to record, ever
        elif code.co_name == "__init__" and "self" in frame.f_locals:  # generated code ("<string>"): a dataclass's
            mod = sys.modules.get(type(frame.f_locals["self"]).__module__)
            rel = _rel(getattr(mod, "__file__", "") or "")
            if rel is not None:
                self.dataclass_inits.add(rel)

    def __enter__(self) -> CallTrace:
        sys.settrace(self)  # called on each Python function call only (C calls are not traced)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(None)


def main(method: str, dataset: str, mechanism: str, out: str) -> None:
    """Trace one quick cell of ``method`` on ``dataset`` and write what ran."""
    from vaeac_bench.runner import compute_cell, plan

    cell = plan([dataset], [method], [0], mechanism=mechanism, quick=True)[0]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VAEAC_BENCH_CHECKPOINTS"] = tmp
        with CallTrace() as trace:
            compute_cell(cell)
    imported = sorted(r for m in list(sys.modules.values())
                      if (r := _rel(getattr(m, "__file__", None) or "")) is not None)
    Path(out).write_text(json.dumps({"executed": {k: sorted(v) for k, v in trace.executed.items()},
                                     "dataclass_inits": sorted(trace.dataclass_inits), "imported": imported},
                                    indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:5])
