"""scripts/gain_curves.py: where a patience rule stops a recorded held-out curve, and which best it keeps."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gain_curves.py"


def _module():
    spec = importlib.util.spec_from_file_location("gain_curves", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stop_at_follows_the_harness_rule() -> None:
    """A fit stops `patience` iterations after its best so far (ties keep the earlier), else runs to the cap."""
    stop_at = _module().stop_at
    curve = [[100, 0.5], [200, 0.4], [300, 0.45], [400, 0.4], [500, 0.3]]
    assert stop_at(curve, 200, 500) == (400, 200)  # 400 ties 200's error: not better, so 200 stays the best
    assert stop_at(curve, 300, 500) == (500, 500)  # 500 improves before the patience runs out: the full run
    assert stop_at(curve, 100, 500) == (300, 200)
