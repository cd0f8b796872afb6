"""Issue 13 §4 distributional scores, each against a case computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from vaeac_bench.distributional import (
    brier_per_column,
    crps,
    crps_per_column,
    distributional_scores,
    interval_coverage,
    wasserstein_per_column,
)
from vaeac_bench.schema import Feature, Schema

ONE_REAL = Schema((Feature("x", "real"),))


def test_wasserstein_of_a_shift_and_of_pooled_draws():
    truth = np.array([[0.0], [1.0]])
    scored = np.ones((2, 1), bool)
    assert wasserstein_per_column(truth, truth + 0.5, scored, ONE_REAL) == {"x": pytest.approx(0.5)}
    # draws {0, 1} and {2, 3} pooled vs truth {0, 1}: ∫|F - G| = 0.25 + 0.5 + 0.25 = 1
    draws = np.array([[[0.0], [1.0]], [[2.0], [3.0]]])
    assert wasserstein_per_column(truth, draws, scored, ONE_REAL)["x"] == pytest.approx(1.0)


def test_wasserstein_uses_scored_cells_only_and_skips_categoricals():
    schema = Schema((Feature("x", "real"), Feature("c", "categorical", ("a", "b"))))
    truth = np.array([[0.0, 0], [10.0, 1]])
    imputed = np.array([[0.0, 1], [99.0, 0]])
    scored = np.array([[True, True], [False, True]])
    assert wasserstein_per_column(truth, imputed, scored, schema) == {"x": 0.0}
    assert wasserstein_per_column(truth, imputed, np.zeros((2, 2), bool), schema) == {"x": None}


def test_crps_hand_computed_fair_and_standard():
    draws = np.array([[0.0], [2.0]])
    y = np.array([1.0])
    # mean |x - y| = 1; Σ_{i≠j}|x_i - x_j| = 4: fair 1 - 4/(2·2·1) = 0, standard 1 - 4/(2·4) = 0.5
    assert crps(draws, y)[0] == pytest.approx(0.0)
    assert crps(draws, y, fair=False)[0] == pytest.approx(0.5)
    draws = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0.0])
    # mean |x - 0| = 1.5; Σ_{i≠j} = 20: fair 1.5 - 20/24, standard 1.5 - 20/32
    assert crps(draws, y)[0] == pytest.approx(1.5 - 20 / 24)
    assert crps(draws, y, fair=False)[0] == pytest.approx(1.5 - 20 / 32)
    assert crps(np.full((5, 1), 3.0), np.array([3.0]))[0] == 0.0  # a point mass on the truth


def test_fair_crps_matches_the_closed_form_for_a_gaussian():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(4000, 1))
    closed = 2 * norm.pdf(0.0) - 1 / np.sqrt(np.pi)  # CRPS(N(0, 1), y = 0) (Gneiting & Raftery 2007)
    assert crps(draws, np.zeros(1))[0] == pytest.approx(closed, abs=0.02)


def test_crps_per_column_refuses_a_single_draw_for_the_fair_estimator():
    truth = np.array([[0.0], [1.0]])
    scored = np.ones((2, 1), bool)
    with pytest.raises(ValueError, match="at least 2"):
        crps_per_column(truth, truth[None], scored, ONE_REAL)
    assert crps_per_column(truth, truth[None], scored, ONE_REAL, fair=False) == {"x": 0.0}


def test_interval_coverage_hand_computed():
    draws = np.tile(np.arange(11.0)[:, None, None], (1, 3, 1))  # draws 0..10 for three cells
    truth = np.array([[5.0], [2.0], [10.0]])
    # 50 %: [2.5, 7.5] holds 5 only; 90 %: [0.5, 9.5] holds 5 and 2
    cov = interval_coverage(truth, draws, np.ones((3, 1), bool), ONE_REAL)
    assert cov[0.5]["x"] == pytest.approx(1 / 3)
    assert cov[0.9]["x"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="levels"):
        interval_coverage(truth, draws, np.ones((3, 1), bool), ONE_REAL, levels=(90,))


def test_brier_score_of_draw_frequencies_hand_computed():
    schema = Schema((Feature("c", "categorical", ("a", "b", "z")),))
    draws = np.array([0, 0, 1, 2], float)[:, None, None].repeat(2, axis=1)  # frequencies (.5, .25, .25)
    truth = np.array([[0.0], [2.0]])
    # truth a: .25 + .0625 + .0625 = .375; truth z: .25 + .0625 + .5625 = .875
    out = brier_per_column(truth, draws, np.ones((2, 1), bool), schema)
    assert out == {"c": pytest.approx((0.375 + 0.875) / 2)}
    with pytest.raises(ValueError, match="outside 0..2"):
        brier_per_column(truth, draws + 3, np.ones((2, 1), bool), schema)


def test_bad_shapes_name_the_argument():
    truth = np.zeros((3, 1))
    with pytest.raises(ValueError, match="imputations must be"):
        wasserstein_per_column(truth, np.zeros((2, 4, 1)), np.ones((3, 1), bool), ONE_REAL)
    with pytest.raises(ValueError, match="scored must be a boolean"):
        wasserstein_per_column(truth, truth, np.ones((3, 1)), ONE_REAL)


def test_calibrated_draws_cover_their_level_and_summary_is_json_ready():
    import json

    rng = np.random.default_rng(1)
    schema = Schema((Feature("x", "real"), Feature("c", "categorical", ("a", "b"))))
    truth = np.column_stack([rng.normal(size=2000), rng.integers(0, 2, 2000)])
    draws = np.stack([np.column_stack([rng.normal(size=2000), rng.integers(0, 2, 2000)]) for _ in range(50)])
    out = distributional_scores(truth, draws, np.ones(truth.shape, bool), schema)
    # calibrated draws: the interval between the m = 50 draws' empirical quantiles covers l (m - 1) / (m + 1)
    assert out["coverage"]["0.5"]["mean"] == pytest.approx(0.5 * 49 / 51, abs=0.03)
    assert out["coverage"]["0.9"]["mean"] == pytest.approx(0.9 * 49 / 51, abs=0.02)
    assert out["brier"]["mean"] == pytest.approx(0.5, abs=0.03)  # p = (.5, .5): .25 + .25 whatever the truth
    json.dumps(out)
    assert "crps" not in distributional_scores(truth, draws[0], np.ones(truth.shape, bool), schema)
