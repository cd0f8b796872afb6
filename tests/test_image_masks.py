"""Image mask generators: the statistics the paper states (A.3, table 6), determinism, shapes, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vaeac_bench.datasets.image_masks import (
    GFC_RECTS_128,
    IMAGE_MASKS,
    gfc,
    mixture,
    mnist_line,
    rectangle,
    rectangle16,
    yeh_center,
    yeh_half,
    yeh_pattern,
    yeh_random,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


@pytest.mark.parametrize("name", sorted(IMAGE_MASKS))
@pytest.mark.parametrize("size", [(28, 28), (64, 48)])
def test_shape_dtype_and_determinism(name: str, size: tuple[int, int]) -> None:
    gen = IMAGE_MASKS[name]
    a, b = gen(40, *size, rng(1)), gen(40, *size, rng(1))
    assert a.shape == (40, *size) and a.dtype == bool
    np.testing.assert_array_equal(a, b)
    assert gen(0, *size, rng(1)).shape == (0, *size)


@pytest.mark.parametrize("name", ["mnist_line", "rectangle", "rectangle16", "pixel_bernoulli", "yeh_half",
                                  "yeh_random", "yeh_pattern", "yeh_mixture", "gfc", "image_mixture"])
def test_random_generators_depend_on_the_seed(name: str) -> None:
    gen = IMAGE_MASKS[name]
    assert not np.array_equal(gen(40, 64, 64, rng(1)), gen(40, 64, 64, rng(2)))


def test_mnist_line_observes_one_band_of_three_rows_at_a_uniform_row() -> None:
    m = mnist_line(26_000, 28, 28, rng(3))
    observed = ~m
    assert (observed.all(2) == observed.any(2)).all()  # a row is observed entirely or not at all
    rows = observed.all(2)
    assert (rows.sum(1) == 3).all()
    tops = rows.argmax(1)
    assert (rows[np.arange(len(m)), tops + 2]).all()  # contiguous
    counts = np.bincount(tops, minlength=26)
    assert counts.size == 26 and counts.min() > 0  # every position 0..25 occurs
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("size", [(28, 28), (105, 105)])
def test_rectangle_is_one_box_with_area_at_least_a_quarter(size: tuple[int, int]) -> None:
    m = rectangle(3000, *size, rng(4))
    area = m.reshape(len(m), -1).mean(1)
    assert area.min() >= 0.25
    assert (area < 0.3).mean() > 0.02  # the paper's 1/4, not the reference code's 0.3
    for mk in m[:200]:
        r0, r1, c0, c1 = bbox(mk)
        assert mk.sum() == (r1 - r0) * (c1 - c0)


@pytest.mark.parametrize("size", [(28, 28), (64, 64)])
def test_rectangle16_sides_at_least_16(size: tuple[int, int]) -> None:
    m = rectangle16(2000, *size, rng(5))
    heights = m.any(2).sum(1)
    widths = m.any(1).sum(1)
    assert heights.min() >= 16 and widths.min() >= 16
    assert heights.min() == 16 or size[0] < 32  # the bound is reached, not a larger one
    assert (m.sum((1, 2)) == heights * widths).all()


def test_pattern_masks_are_20_to_30_percent_unobserved_and_not_boxes() -> None:
    m = yeh_pattern(500, 64, 64, rng(6))
    frac = m.mean((1, 2))
    assert frac.min() > 0.2 and frac.max() < 0.3
    box_areas = [(r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in map(bbox, m[:50])]
    assert np.mean(m[:50].sum((1, 2)) < np.array(box_areas)) > 0.9  # blobs, not rectangles


def test_yeh_half_four_equiprobable_halves() -> None:
    m = yeh_half(8000, 64, 64, rng(7))
    kinds = np.stack([m[:, :, :32].all((1, 2)) & ~m[:, :, 32:].any((1, 2)),
                      m[:, :32].all((1, 2)) & ~m[:, 32:].any((1, 2)),
                      m[:, :, 32:].all((1, 2)) & ~m[:, :, :32].any((1, 2)),
                      m[:, 32:].all((1, 2)) & ~m[:, :32].any((1, 2))], axis=1)
    assert (kinds.sum(1) == 1).all()  # every mask is exactly one of the four halves
    assert stats.chisquare(kinds.sum(0)).pvalue > 1e-3


def test_yeh_center_is_the_central_32_square_of_64() -> None:
    m = yeh_center(3, 64, 64, rng())
    want = np.zeros((64, 64), bool)
    want[16:48, 16:48] = True
    assert (m == want).all()


def test_yeh_random_rate_is_0_8() -> None:
    m = yeh_random(200, 64, 64, rng(8))
    n = m.size
    assert abs(m.mean() - 0.8) < 5 * np.sqrt(0.16 / n)


def test_gfc_exact_rectangles_at_128() -> None:
    # paper table 6 / facts §3, inclusive ranges: (rows, cols)
    inclusive = {"O1": (52, 115, 33, 70), "O2": (52, 115, 57, 94), "O3": (52, 73, 29, 98),
                 "O4": (52, 73, 29, 66), "O5": (52, 73, 61, 99), "O6": (86, 123, 40, 87)}
    for k, (r0, r1, c0, c1) in inclusive.items():
        m = gfc(2, 128, 128, rng(), which=k)[0]
        assert bbox(m) == (r0, r1 + 1, c0, c1 + 1), k
        assert m.sum() == (r1 - r0 + 1) * (c1 - c0 + 1)
    picks = gfc(6000, 128, 128, rng(9))
    ids = [next(i for i, k in enumerate(GFC_RECTS_128) if (gfc(1, 128, 128, rng(), which=k)[0] == p).all())
           for p in picks[:600]]
    assert stats.chisquare(np.bincount(ids, minlength=6)).pvalue > 1e-3


def test_gfc_scaled_to_64() -> None:
    m = gfc(1, 64, 64, rng(), which="O1")[0]
    assert bbox(m) == (26, 58, 16, 36)  # floor(52/2), ceil(116/2), floor(33/2), ceil(71/2)
    m5 = gfc(1, 64, 64, rng(), which="O5")[0]
    assert bbox(m5) == (26, 37, 30, 50)


def test_mixture_follows_its_weights() -> None:
    def ones(n: int, h: int, w: int, r: np.random.Generator) -> np.ndarray:
        return np.ones((n, h, w), bool)

    def zeros(n: int, h: int, w: int, r: np.random.Generator) -> np.ndarray:
        return np.zeros((n, h, w), bool)

    m = mixture({"a": ones, "b": zeros}, {"a": 1, "b": 3})(4000, 8, 8, rng(10))
    share = m.all((1, 2)).mean()
    assert (m.all((1, 2)) | ~m.any((1, 2))).all()
    assert abs(share - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 4000)


def test_bad_arguments_are_refused_with_the_argument_named() -> None:
    with pytest.raises(ValueError, match="n must be"):
        rectangle(-1, 28, 28, rng())
    with pytest.raises(ValueError, match="height must be"):
        mnist_line(2, 2, 28, rng())
    with pytest.raises(ValueError, match="width must be"):
        rectangle16(2, 28, 10, rng())
    with pytest.raises(TypeError, match="rng must be"):
        rectangle(2, 28, 28, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_area"):
        rectangle(2, 28, 28, rng(), min_area=1.5)
    with pytest.raises(ValueError, match="which must be"):
        gfc(2, 128, 128, rng(), which="O7")
    with pytest.raises(ValueError, match="weights must name"):
        mixture({"a": rectangle}, {"b": 1.0})
