"""Dataset registry, loaders, splits and missingness masks.

>>> from vaeac_bench.datasets import load, resolve
>>> resolve("sklearn")
['breast', 'diabetes', 'digits', 'iris']
"""

from __future__ import annotations

import os

from .masks import MECHANISMS, register_mechanism
from .mechanisms_extra import EXTRA_MECHANISMS
from .registry import GROUPS, SPECS
from .registry import register as register_dataset
from .sources import ENV_VAR, ChecksumError, DataNotFoundError, cache_dir
from .spec import DatasetSpec, Table, codes_to_frame
from .splits import Split, make_split, split_indices

__all__ = [
    "ENV_VAR", "GROUPS", "MECHANISMS", "SPECS", "ChecksumError", "DataNotFoundError", "DatasetSpec", "Split",
    "Table", "cache_dir", "codes_to_frame", "get_spec", "load", "make_split", "register_dataset",
    "register_mechanism", "resolve", "split_indices",
]

# MAR / MNAR mechanisms of Muzellec et al. (2020), issue 13 §3: built-ins of the same registry as MCAR
for _name, _fn in EXTRA_MECHANISMS.items():
    register_mechanism(_name)(_fn)

# image datasets (kind "image", group "images") and image masks in the same registries (issue 10)
# CelebA (kind "celeba", group "celeba") and its GFC masks (issue 11)
from . import celeba_registry as _celeba  # noqa: E402, F401
from . import image_registry as _images  # noqa: E402, F401


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name`` (case-insensitive), or a ValueError listing the known names."""
    return SPECS.get(name)


def resolve(names: str | list[str]) -> list[str]:
    """Expand a comma-separated list of dataset names and group names (``uci``, ``sklearn``) in order."""
    return SPECS.resolve(names)


def load(name: str, data_dir: str | os.PathLike | None = None, download: bool = False) -> Table:
    """Load a registered dataset (sha256-verified) into the suite's numeric layout, target last."""
    from .loaders import load_table

    return load_table(get_spec(name), data_dir=data_dir, download=download)
