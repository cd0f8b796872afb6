"""Image mask generators of the paper (A.3, reference-code facts §3): which pixels to hide.

Every generator is ``fn(n, height, width, rng) -> bool array (n, height, width)`` with **True = unobserved**
(the tabular convention: True = cell dropped), draws only from the numpy ``rng`` it is given (same seed, same
masks) and is vectorised over pixels; rejection sampling loops over rounds, never over pixels. They are
collected in :data:`IMAGE_MASKS` for registration.

Where the paper and the reference code (``tigvarts/vaeac`` ``mask_generators.py``) disagree, we follow the paper:

* random rectangles: area >= 1/4 of the image (paper A.3); the code's default is 0.3;
* Yeh's random mask: p = 0.8 unobserved (paper); the code raised it to 0.95 for 128x128;
* GFC O5: columns 61..99 inclusive (paper table 6, x2 = 99); the code stops one column earlier. O2 uses the code's
  columns 57..94 because the paper's O2 row is self-contradictory (facts §3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from ..argcheck import check_int

MaskGenerator = Callable[[int, int, int, np.random.Generator], np.ndarray]

#: GFC masks O1-O6 at 128x128: (row start, row end, col start, col end), end-exclusive (facts §3, paper table 6).
GFC_RECTS_128: dict[str, tuple[int, int, int, int]] = {
    "O1": (52, 116, 33, 71),  # left half of the face: rows 52-115, cols 33-70 inclusive
    "O2": (52, 116, 57, 95),  # right half: rows 52-115, cols 57-94 (the code; the paper's row is garbled)
    "O3": (52, 74, 29, 99),  # both eyes: rows 52-73, cols 29-98
    "O4": (52, 74, 29, 67),  # left eye: rows 52-73, cols 29-66
    "O5": (52, 74, 61, 100),  # right eye: rows 52-73, cols 61-99 (paper x2 = 99; the code has 98)
    "O6": (86, 124, 40, 88),  # lower half: rows 86-123, cols 40-87
}

_MAX_ROUNDS = 10_000


def check_args(n: int, height: int, width: int, rng: np.random.Generator, min_size: int = 1) -> None:
    """Refuse bad generator arguments with an error naming the argument and the fix."""
    check_int(n, "n", 0, "number of masks")
    check_int(height, "height", min_size, "image size in pixels")
    check_int(width, "width", min_size, "image size in pixels")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")


def _box(n: int, height: int, width: int, r0: np.ndarray, r1: np.ndarray, c0: np.ndarray,
         c1: np.ndarray) -> np.ndarray:
    """Masks that are True exactly on the boxes rows [r0, r1) x cols [c0, c1), one per object (vectorised)."""
    rows = np.arange(height)[None, :, None]
    cols = np.arange(width)[None, None, :]
    r0, r1, c0, c1 = (np.asarray(a).reshape(-1, 1, 1) for a in (r0, r1, c0, c1))
    out = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
    return np.broadcast_to(out, (n, height, width)).copy()


def mnist_line(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """MNIST mask (A.3): only a horizontal band 3 pixels high is observed, its top row uniform on [0, H-3]."""
    check_args(n, height, width, rng, min_size=3)
    top = rng.integers(0, height - 2, size=n)
    return ~_box(n, height, width, top, top + 3, np.zeros(n, int), np.full(n, width))


def _rectangles(n: int, height: int, width: int, rng: np.random.Generator,
                accept: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Rectangles with uniformly drawn corners (two sorted rows, two sorted cols, inclusive), kept if ``accept``."""
    r0 = np.empty(n, int)
    r1 = np.empty(n, int)
    c0 = np.empty(n, int)
    c1 = np.empty(n, int)
    todo = np.arange(n)
    for _ in range(_MAX_ROUNDS):
        if todo.size == 0:
            break
        k = todo.size
        rr = np.sort(rng.integers(0, height, size=(k, 2)), axis=1)
        cc = np.sort(rng.integers(0, width, size=(k, 2)), axis=1)
        h = rr[:, 1] - rr[:, 0] + 1
        w = cc[:, 1] - cc[:, 0] + 1
        ok = accept(h, w)
        idx = todo[ok]
        r0[idx], r1[idx], c0[idx], c1[idx] = rr[ok, 0], rr[ok, 1] + 1, cc[ok, 0], cc[ok, 1] + 1
        todo = todo[~ok]
    else:  # pragma: no cover - acceptance rates are far above 1e-4 for every size allowed
        raise RuntimeError("rectangle rejection sampling did not finish")
    return _box(n, height, width, r0, r1, c0, c1)


def rectangle(n: int, height: int, width: int, rng: np.random.Generator, min_area: float = 0.25) -> np.ndarray:
    """Random rectangle (A.3, Omniglot/CelebA): uniform corners, rejected if its area is < ``min_area`` of the image.

    The paper says a quarter; the reference code's ``RectangleGenerator`` defaults to 0.3 (we use the paper's).
    """
    check_args(n, height, width, rng)
    if not 0.0 <= min_area <= 1.0:
        raise ValueError(f"min_area must be a fraction of the image area in [0, 1], got {min_area!r}")
    total = height * width
    return _rectangles(n, height, width, rng, lambda h, w: h * w >= min_area * total)


def rectangle16(n: int, height: int, width: int, rng: np.random.Generator, min_side: int = 16) -> np.ndarray:
    """GFC training mask (A.3): uniform-corner rectangle, rejected if its width or height is < 16 px."""
    check_args(n, height, width, rng, min_size=min_side)
    return _rectangles(n, height, width, rng, lambda h, w: (h >= min_side) & (w >= min_side))


def bernoulli(n: int, height: int, width: int, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Pixelwise-independent mask: each pixel unobserved with probability ``p`` (reference ImageMCARGenerator)."""
    check_args(n, height, width, rng)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    return rng.random((n, height, width)) < p


def yeh_random(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Yeh et al.'s random mask (A.3): pixelwise Bernoulli with p = 0.8 unobserved (the code's 0.95 is not used)."""
    return bernoulli(n, height, width, rng, p=0.8)


def yeh_center(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Yeh et al.'s center mask (A.3): the central square of half the side (32x32 of 64x64) is unobserved."""
    check_args(n, height, width, rng, min_size=2)
    r0, c0 = height // 4, width // 4
    return _box(n, height, width, np.full(n, r0), np.full(n, r0 + height // 2), np.full(n, c0),
                np.full(n, c0 + width // 2))


def yeh_half(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Yeh et al.'s half mask (A.3): the left, top, right or bottom half is unobserved, the four equiprobable."""
    check_args(n, height, width, rng, min_size=2)
    kind = rng.integers(0, 4, size=n)  # 0 left, 1 top, 2 right, 3 bottom (the reference code's order)
    h2, w2 = height // 2, width // 2
    r0 = np.where(kind == 3, h2, 0)
    r1 = np.where(kind == 1, h2, height)
    c0 = np.where(kind == 2, w2, 0)
    c1 = np.where(kind == 0, w2, width)
    return _box(n, height, width, r0, r1, c0, c1)


def yeh_pattern(n: int, height: int, width: int, rng: np.random.Generator, density: float = 0.25,
                low: float = 0.20, high: float = 0.30) -> np.ndarray:
    """Context-Encoder pattern mask (Pathak et al. 2016; paper A.3), vectorised.

    The paper's process: 600x600 uniform noise, bicubically resized to 10000x10000, pixels < 0.25 unobserved,
    64x64 crops at uniform positions, rejected unless 20-30% unobserved. A 10000² float field does not fit in
    memory per call, so we keep its local statistics instead: the same blob scale (10000/600 = 16.7 px per noise
    cell at 64x64, scaled with the image size as the reference code does for 128x128) on a field 8 crops wide,
    drawn from ``rng`` on every call. Crop acceptance is computed for all candidates at once with a summed-area
    table.
    """
    check_args(n, height, width, rng, min_size=2)
    from scipy.ndimage import zoom

    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1 for the unobserved-fraction band, got {low!r}, {high!r}")
    cell = (10000 / 600) * max(height, width) / 64
    side = 8 * max(height, width)
    base = max(4, math.ceil(side / cell))
    out = np.empty((n, height, width), dtype=bool)
    todo = np.arange(n)
    for _ in range(_MAX_ROUNDS):
        if todo.size == 0:
            break
        noise = rng.random((base, base))
        field = zoom(noise, side / base, order=3, mode="reflect", grid_mode=True)[:side, :side] < density
        sat = np.pad(field.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        k = 4 * todo.size
        r = rng.integers(0, field.shape[0] - height + 1, size=k)
        c = rng.integers(0, field.shape[1] - width + 1, size=k)
        frac = (sat[r + height, c + width] - sat[r, c + width] - sat[r + height, c] + sat[r, c]) / (height * width)
        good = np.flatnonzero((frac > low) & (frac < high))[:todo.size]
        if good.size:
            win = np.lib.stride_tricks.sliding_window_view(field, (height, width))
            out[todo[:good.size]] = win[r[good], c[good]]
            todo = todo[good.size:]
    else:
        raise RuntimeError(f"pattern masks: no crop with {low:.0%}-{high:.0%} unobserved found; widen low/high")
    return out


def gfc(n: int, height: int, width: int, rng: np.random.Generator, which: str | None = None) -> np.ndarray:
    """GFC masks O1-O6 (Li et al. 2017; paper table 6), equiprobable, or only ``which``.

    Defined at 128x128; for other sizes a rectangle's start is scaled with floor and its end with ceil, so the
    scaled mask covers the region the 128x128 one does.
    """
    check_args(n, height, width, rng)
    names = list(GFC_RECTS_128)
    if which is not None and which not in GFC_RECTS_128:
        raise ValueError(f"which must be one of {names} or None (all six, equiprobable), got {which!r}")
    rects = np.array([GFC_RECTS_128[k] for k in names], dtype=float)
    sy, sx = height / 128, width / 128
    scaled = np.stack([np.floor(rects[:, 0] * sy), np.ceil(rects[:, 1] * sy),
                       np.floor(rects[:, 2] * sx), np.ceil(rects[:, 3] * sx)], axis=1).astype(int)
    pick = np.full(n, names.index(which)) if which is not None else rng.integers(0, 6, size=n)
    sel = scaled[pick]
    return _box(n, height, width, sel[:, 0], sel[:, 1], sel[:, 2], sel[:, 3])


def mixture(generators: Mapping[str, MaskGenerator], weights: Mapping[str, float]) -> MaskGenerator:
    """A generator that picks a component per object with probability proportional to its weight (vectorised)."""
    names = list(generators)
    if set(weights) != set(names):
        raise ValueError(f"weights must name exactly the generators {names}, got {sorted(weights)}")
    w = np.array([float(weights[k]) for k in names])
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {dict(weights)}")
    probs = w / w.sum()

    def generate(n: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        check_args(n, height, width, rng)
        pick = rng.choice(len(names), size=n, p=probs)
        out = np.empty((n, height, width), dtype=bool)
        for i, k in enumerate(names):  # one call per component, not per object
            idx = np.flatnonzero(pick == i)
            if idx.size:
                out[idx] = generators[k](int(idx.size), height, width, rng)
        return out

    generate.__doc__ = f"Mixture of {names} with probabilities {np.round(probs, 4).tolist()}."
    return generate


#: Yeh et al.'s mixture (reference SIIDGMGenerator weights: center 2, pattern 2, random 2, each half 1).
yeh_mixture = mixture({"center": yeh_center, "pattern": yeh_pattern, "random": yeh_random, "half": yeh_half},
                      {"center": 2, "pattern": 2, "random": 2, "half": 4})

#: The reference ``ImageMaskGenerator``: Yeh mixture 1/4, GFC 1/4, rectangle 1/2 (area >= 1/4, the paper's).
image_mixture = mixture({"yeh": yeh_mixture, "gfc": gfc, "rectangle": rectangle},
                        {"yeh": 1, "gfc": 1, "rectangle": 2})

IMAGE_MASKS: dict[str, MaskGenerator] = {
    "mnist_line": mnist_line,
    "rectangle": rectangle,
    "rectangle16": rectangle16,
    "pixel_bernoulli": bernoulli,
    "yeh_center": yeh_center,
    "yeh_half": yeh_half,
    "yeh_random": yeh_random,
    "yeh_pattern": yeh_pattern,
    "yeh_mixture": yeh_mixture,
    "gfc": gfc,
    "image_mixture": image_mixture,
}
