"""Image loaders on the real files (skipped when absent), and the loader logic on tiny synthetic files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from vaeac_bench.datasets import images
from vaeac_bench.datasets.images import IMAGE_SPECS, binarise, downscale, load_images, validation_split
from vaeac_bench.datasets.sources import ChecksumError, DataNotFoundError


def _load_or_skip(name: str, **kw) -> images.ImageData:
    try:
        return load_images(name, **kw)
    except DataNotFoundError:
        pytest.skip(f"{name} files not available (set VAEAC_BENCH_DATA to the data folder)")


@pytest.fixture(scope="module")
def mnist() -> images.ImageData:
    return _load_or_skip("mnist")


@pytest.fixture(scope="module")
def omniglot() -> images.ImageData:
    return _load_or_skip("omniglot")


def _binary_float(a: np.ndarray) -> bool:
    return a.dtype == np.float32 and bool(np.isin(a, (0.0, 1.0)).all())


def test_mnist_shapes_split_and_binary_values(mnist: images.ImageData) -> None:
    assert mnist.train.shape == (50000, 1, 28, 28) and mnist.val.shape == (10000, 1, 28, 28)
    assert mnist.test.shape == (10000, 1, 28, 28)
    assert len(mnist.y_train) == 50000 and len(mnist.y_test) == 10000
    assert _binary_float(mnist.train) and _binary_float(mnist.test)
    assert 0.1 < mnist.train.mean() < 0.2  # ink is the minority; threshold 0.5 keeps the strokes


def test_mnist_validation_is_seeded_and_disjoint(mnist: images.ImageData) -> None:
    again = load_images("mnist", seed=0)
    np.testing.assert_array_equal(again.val, mnist.val)
    other = load_images("mnist", seed=1)
    assert not np.array_equal(other.y_val, mnist.y_val)
    tr, va = validation_split(60000, 10000, seed=0)
    assert np.intersect1d(tr, va).size == 0 and tr.size + va.size == 60000


def test_omniglot_is_inverted_so_ink_is_one(omniglot: images.ImageData) -> None:
    assert omniglot.train.shape == (19280 - 2000, 1, 105, 105) and omniglot.test.shape == (13180, 1, 105, 105)
    assert _binary_float(omniglot.test)
    assert omniglot.test.mean() < 0.15  # ink is ~8% of the pixels
    assert omniglot.test[:, :, 0, :].mean() < 0.01  # the borders are background (0)


def test_omniglot28_downscale_keeps_the_ink_fraction(omniglot: images.ImageData) -> None:
    small = downscale(omniglot.test[:500], 28)
    assert small.shape == (500, 1, 28, 28) and _binary_float(small)
    assert abs(small.mean() - omniglot.test[:500].mean()) < 0.02


@pytest.mark.slow
def test_omniglot28_loader() -> None:
    d = _load_or_skip("omniglot28")
    assert d.train.shape[1:] == (1, 28, 28) and d.test.shape == (13180, 1, 28, 28) and _binary_float(d.test)


def test_binarise_threshold() -> None:
    np.testing.assert_array_equal(binarise(np.array([0.0, 0.49, 0.5, 1.0])), [0, 0, 1, 1])


def test_loader_logic_on_a_synthetic_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.zeros((12, 28, 28), np.uint8)
    x[:, 10:12] = 200  # ink rows
    x[:, 5] = 100  # below the threshold
    (tmp_path / "mnist").mkdir()
    path = tmp_path / "mnist" / "mnist.npz"
    np.savez(path, x_train=x[:8], y_train=np.arange(8), x_test=x[8:], y_test=np.arange(4))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = images.ImageSpec("mnist", "tiny", (("mnist/mnist.npz", sha),), 28, 28, 8, 4, 2, 16)
    monkeypatch.setitem(IMAGE_SPECS, "mnist", spec)
    d = load_images("mnist", tmp_path)
    assert d.train.shape == (6, 1, 28, 28) and d.val.shape == (2, 1, 28, 28)
    assert d.test[:, 0, 10:12].min() == 1 and d.test[:, 0, 5].max() == 0
    assert load_images("mnist", tmp_path, threshold=0.3).test[:, 0, 5].min() == 1  # 100/255 = 0.39
    bad = images.ImageSpec("mnist", "tiny", (("mnist/mnist.npz", "0" * 64),), 28, 28, 8, 4, 2, 16)
    monkeypatch.setitem(IMAGE_SPECS, "mnist", bad)
    with pytest.raises(ChecksumError, match="mnist.npz"):
        load_images("mnist", tmp_path)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown image dataset"):
        load_images("cifar")
    with pytest.raises(ValueError, match="threshold"):
        load_images("mnist", threshold=0.0)
    with pytest.raises(ValueError, match="val_size"):
        validation_split(10, 10, seed=0)
