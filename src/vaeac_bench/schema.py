"""Feature types of a table: which columns are real and which are categorical (with their levels).

Every method in the suite sees data in one numeric layout: a float array of shape (rows, D) where a
real column holds its value and a categorical column holds the integer code 0..K-1 of its level, and
NaN marks a missing cell. The :class:`Schema` says how to read each column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["real", "categorical"]


@dataclass(frozen=True)
class Feature:
    """One column: its name, its kind and, for a categorical column, its levels in code order."""

    name: str
    kind: Kind
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("real", "categorical"):
            raise ValueError(f"feature {self.name!r}: kind must be 'real' or 'categorical', got {self.kind!r}")
        if self.kind == "categorical" and len(self.categories) < 1:
            raise ValueError(f"categorical feature {self.name!r} needs at least one category")
        if self.kind == "real" and self.categories:
            raise ValueError(f"real feature {self.name!r} cannot have categories")

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"

    @property
    def n_categories(self) -> int:
        """K for a categorical column, 0 for a real one (the reference code's `one_hot_max_sizes`)."""
        return len(self.categories) if self.is_categorical else 0


@dataclass(frozen=True)
class Schema:
    """The ordered feature types of a table's columns."""

    features: tuple[Feature, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate column names in schema: {sorted(dup)}")

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self):
        return iter(self.features)

    def __getitem__(self, i: int) -> Feature:
        return self.features[i]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def n_categories(self) -> list[int]:
        """Per column: K for categorical, 0 for real."""
        return [f.n_categories for f in self.features]

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([f.is_categorical for f in self.features], dtype=bool)

    @property
    def real_mask(self) -> np.ndarray:
        return ~self.categorical_mask

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no column named {name!r}; columns are {self.names}") from None

    def select(self, columns: list[int]) -> Schema:
        return Schema(tuple(self.features[i] for i in columns))

    @classmethod
    def from_kinds(cls, names: list[str], n_categories: list[int]) -> Schema:
        """Build from names and per-column K (0 = real), as the reference code's `one_hot_max_sizes`."""
        feats = []
        for name, k in zip(names, n_categories, strict=True):
            if k and k >= 1:
                feats.append(Feature(name, "categorical", tuple(str(i) for i in range(int(k)))))
            else:
                feats.append(Feature(name, "real"))
        return cls(tuple(feats))

    def to_dict(self) -> list[dict]:
        return [{"name": f.name, "kind": f.kind, "categories": list(f.categories)} for f in self.features]

    @classmethod
    def from_dict(cls, items: list[dict]) -> Schema:
        return cls(tuple(Feature(d["name"], d["kind"], tuple(d.get("categories", ()))) for d in items))
