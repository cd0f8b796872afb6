"""The method registry: every imputation method by name, with its paper defaults and a quick budget.

Entries name their class as ``"module:Class"`` and are imported on first use, so ``run-bench --methods
mean`` never imports torch. The built-in list lives in :mod:`vaeac_bench.methods.registry` and is registered
when this package is imported; a plugin adds its own with :func:`register` (same call, same rules).

>>> from vaeac_bench.methods import build
>>> build("mean").multiple
False
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from ..registry import Registry
from .base import Imputer, InvalidParameterError, NotFittedError


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
        """Import the registered class (the only place a method's module is imported by name)."""
        mod, cls = self.target.split(":")
        klass = getattr(importlib.import_module(mod), cls)
        if not (isinstance(klass, type) and issubclass(klass, Imputer)):
            raise TypeError(f"method {self.name!r}: {self.target} is not an Imputer subclass")
        return klass


#: every registered method by name; built-ins are added when this package is imported (see the end of this file)
REGISTRY: Registry[MethodSpec] = Registry("method", allow_all=True)
#: names that expand to several methods (read-only view; add with :func:`register_group`)
GROUPS = REGISTRY.groups


def register(spec: MethodSpec) -> MethodSpec:
    """Add a method, built-in or plugin, under ``spec.name`` (unique, lower-case); returns ``spec``."""
    if not isinstance(spec, MethodSpec):
        raise TypeError(f"register() takes a MethodSpec, got {type(spec).__name__}")
    if not isinstance(spec.target, str) or spec.target.count(":") != 1:
        raise ValueError(f"MethodSpec.target must be 'package.module:Class', got {spec.target!r}")
    return REGISTRY.register(spec.name, spec)


def register_group(name: str, members: tuple[str, ...]) -> None:
    """A name that expands to several methods (e.g. ``gain-original`` = its alpha grid)."""
    REGISTRY.register_group(name, members)


def get(name: str) -> MethodSpec:
    """The spec registered under ``name`` (case-insensitive), or a ValueError listing the known methods."""
    return REGISTRY.get(name)


def resolve(names: str | list[str]) -> list[str]:
    """Expand a comma-separated list of method names and groups (``all`` = every registered method)."""
    return REGISTRY.resolve(names)


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


# the built-in methods, registered eagerly so that lookups never depend on import order (issue 9, item 11);
# the entries name their classes as strings, so this imports neither torch nor miceforest
from . import registry as _builtins  # noqa: E402, F401

__all__ = ["GROUPS", "REGISTRY", "Imputer", "InvalidParameterError", "MethodSpec", "NotFittedError", "build", "get",
           "params_for", "register", "register_group", "resolve", "seed"]
