"""The image pipeline's one integer-argument check (argcheck.check_int), and the callers that use it."""

import numpy as np
import pytest

from vaeac_bench.argcheck import check_int
from vaeac_bench.datasets.image_masks import check_args
from vaeac_bench.image_cell import scored_objects


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integers_at_or_above_the_bound_pass_as_python_ints(value):
    out = check_int(value, "n", 1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize("value", [True, False, 3.0, "3", None, 0, -1, np.float64(2.0)])
def test_bools_floats_text_and_small_values_are_refused_by_name(value):
    with pytest.raises(ValueError, match=r"n_samples must be an int >= 1 \(draws\), got"):
        check_int(value, "n_samples", 1, "draws")


def test_callers_name_their_own_argument():
    with pytest.raises(ValueError, match="n_test must be an int >= 1"):
        scored_objects(10, True, 0)
    with pytest.raises(ValueError, match=r"width must be an int >= 3 \(image size in pixels\)"):
        check_args(2, 28, 2, np.random.default_rng(0), min_size=3)
    with pytest.raises(ValueError, match=r"n must be an int >= 0 \(number of masks\)"):
        check_args(-1, 28, 28, np.random.default_rng(0))
