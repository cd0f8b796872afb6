"""One registry design for everything the suite looks up by name: methods, datasets, missingness mechanisms.

Each kind has one :class:`Registry`. Its built-in entries are registered eagerly when the package module
that owns it is imported (``vaeac_bench.methods``, ``vaeac_bench.datasets``), so lookups never depend on
import order: a plugin that registers before the first lookup adds to the built-ins and cannot hide them.
Entries are cheap descriptions (a method names its class as ``"module:Class"`` and is imported on first
use), so registering everything eagerly imports neither torch nor miceforest.

>>> from vaeac_bench.registry import Registry
>>> colours = Registry("colour")
>>> colours.register("red", (255, 0, 0))
(255, 0, 0)
>>> colours.get(" RED ")
(255, 0, 0)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Mapping[str, T], Generic[T]):
    """Named entries of one kind plus named groups of them; names are unique, lower-case and case-insensitive.

    A read-only mapping (``name in reg``, ``reg[name]``, ``reg.items()``); change it only through
    :meth:`register`, :meth:`register_group` and :meth:`unregister`.
    """

    def __init__(self, kind: str, allow_all: bool = False) -> None:
        self.kind = kind
        #: whether :meth:`resolve` expands ``"all"`` to every entry
        self.allow_all = allow_all
        self._entries: dict[str, T] = {}
        self._groups: dict[str, tuple[str, ...]] = {}
        #: the groups, read-only (``name -> member names``)
        self.groups: Mapping[str, tuple[str, ...]] = MappingProxyType(self._groups)

    # -- Mapping ------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries, {len(self._groups)} groups)"

    # -- changing it --------------------------------------------------------------------------------
    def _check_new(self, name: object, what: str) -> str:
        if not isinstance(name, str) or not name or name != name.strip().lower() or "," in name:
            raise ValueError(f"a {self.kind} {what} name must be a non-empty lower-case string without spaces at "
                             f"its ends or commas, got {name!r}")
        if name in self._entries or name in self._groups or (self.allow_all and name == "all"):
            raise ValueError(f"{self.kind} {name!r} is registered twice; choose another name (or unregister the "
                             "existing entry first)")
        return name

    def register(self, name: str, entry: T) -> T:
        """Add ``entry`` under ``name`` (refused if the name is taken, by an entry or a group); returns ``entry``."""
        self._entries[self._check_new(name, "")] = entry
        return entry

    def register_group(self, name: str, members: tuple[str, ...]) -> tuple[str, ...]:
        """Add a name that expands to several registered entries (e.g. ``uci``, ``gain-original``)."""
        self._check_new(name, "group")
        members = tuple(members)
        for m in members:
            self.get(m)
        self._groups[name] = members
        return members

    def unregister(self, name: str) -> T:
        """Remove and return an entry (for plugins and tests that undo a registration)."""
        entry = self.get(name)
        del self._entries[name.strip().lower()]
        return entry

    # -- looking up ---------------------------------------------------------------------------------
    def known(self) -> str:
        """The known names (and groups), for error messages."""
        text = f"known {self.kind}s: {', '.join(sorted(self._entries))}"
        return text + (f"; groups: {', '.join(sorted(self._groups))}" if self._groups else "")

    def get(self, name: str) -> T:
        """The entry registered under ``name`` (case-insensitive), or a ValueError listing the known names."""
        if not isinstance(name, str):
            raise TypeError(f"a {self.kind} name must be a string, got {type(name).__name__}; {self.known()}")
        key = name.strip().lower()
        if key not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; {self.known()}")
        return self._entries[key]

    def resolve(self, names: str | list[str] | tuple[str, ...]) -> list[str]:
        """Expand a comma-separated string (or list) of names and groups into entry names, in order, once each."""
        items = names.split(",") if isinstance(names, str) else list(names)
        out: list[str] = []
        for item in (str(i).strip().lower() for i in items):
            if not item:
                continue
            expanded = tuple(self._entries) if self.allow_all and item == "all" else self._groups.get(item, (item,))
            for n in expanded:
                self.get(n)
                if n not in out:
                    out.append(n)
        if not out:
            raise ValueError(f"no {self.kind} given; use a name, a comma-separated list or a group; {self.known()}")
        return out
