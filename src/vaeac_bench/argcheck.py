"""Scalar argument checks shared by the image pipeline (counts, sizes, seeds).

Kept apart from :mod:`.validation` (the data checks every cell runs): that file is in every record's code
digest, this one only in the image and CelebA records' (``methods/registry.py``).
"""

from __future__ import annotations

from numbers import Integral


def check_int(value: object, name: str, low: int = 0, what: str = "") -> int:
    """``value`` as an ``int`` when it is an integer >= ``low`` (a bool or a float is not); else a ValueError
    naming ``name`` (and ``what`` it counts, e.g. "number of masks") and the bound."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        about = f" ({what})" if what else ""
        raise ValueError(f"{name} must be an int >= {low}{about}, got {value!r}")
    return int(value)
