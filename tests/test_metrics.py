"""Metrics against their reference implementations and their published definitions."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import r2_score as sk_r2

from brainencode.encoders import metrics


def test_pearson_and_r2_match_scipy_and_sklearn():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((80, 5))
    yhat = y + rng.standard_normal((80, 5))
    expected_r = [stats.pearsonr(y[:, i], yhat[:, i])[0] for i in range(5)]
    np.testing.assert_allclose(metrics.pearson_r(y, yhat), expected_r, rtol=1e-10)
    np.testing.assert_allclose(metrics.r2_score(y, yhat),
                               sk_r2(y, yhat, multioutput="raw_values"), rtol=1e-10)


def test_constant_target_gives_nan_not_a_crash():
    y = np.ones((20, 2))
    y[:, 1] = np.arange(20)
    r = metrics.pearson_r(y, np.arange(40.0).reshape(20, 2))
    assert np.isnan(r[0]) and r[1] == 1.0


def test_split_half_ceiling_recovers_planted_reliability():
    """Signal variance 1, noise variance 1 per repeat, 2 repeats: the best possible r with the
    mean is sqrt(1 / (1 + 1/2)) = 0.816."""
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((4000, 50))
    repeats = signal + rng.standard_normal((2, 4000, 50))
    ceiling = metrics.split_half_ceiling(repeats)
    np.testing.assert_allclose(ceiling.mean(), np.sqrt(1 / 1.5), atol=0.01)
    best_possible = metrics.pearson_r(repeats.mean(0), signal)
    np.testing.assert_allclose(ceiling.mean(), best_possible.mean(), atol=0.01)


def test_fold_scores_are_unbiased_for_noise_where_pooled_scores_are_not():
    """Predicting each fold with its training mean: pooled r is strongly negative, per-fold
    r is undefined (constant prediction) - and tiny noise around it averages to zero."""
    rng = np.random.default_rng(0)
    y = rng.standard_normal((100, 200))
    folds = np.array_split(rng.permutation(100), 5)
    prediction = np.empty_like(y)
    for test in folds:
        train = np.setdiff1d(np.arange(100), test)
        prediction[test] = y[train].mean(0) + 1e-3 * rng.standard_normal((len(test), 200))
    assert metrics.pearson_r(y, prediction).mean() < -0.1
    assert abs(metrics.fold_scores(y, prediction, folds).mean()) < 0.02


def test_fold_p_values_are_uniform_under_the_null_and_fdr_matches_scipy():
    rng = np.random.default_rng(1)
    folds = np.array_split(np.arange(200), 5)
    y, yhat = rng.standard_normal((2, 200, 2000))
    p = metrics.fold_pearson_p(metrics.fold_scores(y, yhat, folds), [len(f) for f in folds])
    assert abs(np.mean(p < 0.05) - 0.05) < 0.015
    assert stats.kstest(p, "uniform").pvalue > 0.01
    np.testing.assert_allclose(metrics.fdr_bh(p), stats.false_discovery_control(p))
