"""The method registry: every imputation method by name, with its paper defaults and a quick budget.

Entries name their class as ``"module:Class"`` and are imported on first use, so ``run-bench --methods
mean`` never imports torch. The full list lives in :mod:`vaeac_bench.methods.registry`.

>>> from vaeac_bench.methods import build
>>> build("mean").multiple
False
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from .base import Imputer, NotFittedError


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its class, the paper's hyper-parameters and the ``--quick`` overrides."""

    name: str
    target: str  # "package.module:Class"
    params: dict[str, Any] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    label: str = ""  # the column name the paper's tables use
    description: str = ""
    #: package-relative files/folders whose source computes this method's results (hashed into each result
    #: file's provenance, so a cell computed by older code is recognised as stale)
    code: tuple[str, ...] = ()

    def load_class(self) -> type[Imputer]:
        mod, cls = self.target.split(":")
        return getattr(importlib.import_module(mod), cls)


REGISTRY: dict[str, MethodSpec] = {}
GROUPS: dict[str, tuple[str, ...]] = {}


def register(spec: MethodSpec) -> MethodSpec:
    """Add a method (names are unique and lower-case)."""
    if spec.name in REGISTRY or spec.name in GROUPS:
        raise ValueError(f"method {spec.name!r} is registered twice")
    REGISTRY[spec.name] = spec
    return spec


def register_group(name: str, members: tuple[str, ...]) -> None:
    """A name that expands to several methods (e.g. ``gain-original`` = its alpha grid)."""
    if name in REGISTRY or name in GROUPS:
        raise ValueError(f"method group {name!r} clashes with a registered name")
    GROUPS[name] = members


def get(name: str) -> MethodSpec:
    _ensure_registry()
    key = name.strip().lower()
    if key not in REGISTRY:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(sorted(REGISTRY))}"
                         + (f"; groups: {', '.join(sorted(GROUPS))}" if GROUPS else ""))
    return REGISTRY[key]


def resolve(names: str | list[str]) -> list[str]:
    """Expand a comma-separated list of method names and groups (``all`` = every registered method)."""
    _ensure_registry()
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in (i.strip().lower() for i in items):
        if not item:
            continue
        expanded = tuple(REGISTRY) if item == "all" else GROUPS.get(item, (item,))
        for n in expanded:
            get(n)
            if n not in out:
                out.append(n)
    if not out:
        raise ValueError("no method given; known methods: " + ", ".join(sorted(REGISTRY)))
    return out


def params_for(name: str, quick: bool = False, **overrides: Any) -> dict[str, Any]:
    """The hyper-parameters a registered method runs with (paper defaults, then quick, then overrides)."""
    spec = get(name)
    params = dict(spec.params)
    if quick:
        params.update(spec.quick)
    params.update(overrides)
    return params


def build(name: str, quick: bool = False, **overrides: Any) -> Imputer:
    """Instantiate a registered method; every parameter reaches the class constructor."""
    spec = get(name)
    return spec.load_class()(**params_for(name, quick, **overrides))


def seed(est: Imputer, random_state: int | None) -> Imputer:
    """Set ``random_state`` on methods that take one (deterministic methods have none)."""
    if "random_state" in est.get_params(deep=False):
        est.set_params(random_state=random_state)
    return est


def _ensure_registry() -> None:
    if not REGISTRY:
        importlib.import_module(".registry", __name__)


__all__ = ["GROUPS", "REGISTRY", "Imputer", "MethodSpec", "NotFittedError", "build", "get", "params_for",
           "register", "register_group", "resolve", "seed"]
