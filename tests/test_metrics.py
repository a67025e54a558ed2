"""Metrics against their reference implementations and their published definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import r2_score as sk_r2

from brainencode.encoders import metrics, noise_ceiling, significance


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


@pytest.mark.parametrize("k", [2, 3, 4, 5, 10])
@pytest.mark.parametrize("snr", [0.0, 0.1, 1.0])
def test_noise_ceiling_equals_the_analytic_value_for_any_number_of_repeats(k, snr):
    """Signal variance snr, noise variance 1 per repeat: a perfect model of the signal reaches
    R² = snr / (snr + 1/k) on the mean of k repeats (k = 3, snr 1: r = 0.866; the old split
    into 2 + 1 repeats gave 0.855)."""
    rng = np.random.default_rng(k)
    signal = np.sqrt(snr) * rng.standard_normal((1000, 400))
    repeats = signal + rng.standard_normal((k, 1000, 400))
    analytic = snr / (snr + 1 / k)
    np.testing.assert_allclose(noise_ceiling.ceiling_r2(repeats).mean(), analytic, atol=0.006)
    if snr > 0:
        best_possible = metrics.pearson_r(repeats.mean(0), signal)
        np.testing.assert_allclose(noise_ceiling.ceiling_r(repeats).mean(), np.sqrt(analytic),
                                   atol=0.006)
        np.testing.assert_allclose(noise_ceiling.ceiling_r(repeats).mean(),
                                   best_possible.mean(), atol=0.006)
    # the R² ceiling is the Spearman-Brown step of the bias-corrected explainable variance
    ev = noise_ceiling.explainable_variance(repeats)
    np.testing.assert_allclose(noise_ceiling.ceiling_r2(repeats), k * ev / (1 + (k - 1) * ev),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("k", [2, 10])
def test_noise_ceiling_bias_for_pure_noise_is_the_documented_size(k):
    """Clipping at 0 and the square root bias the r ceiling up: about 0.5 / n^(1/4)."""
    rng = np.random.default_rng(3)
    for n, expected in [(100, 0.16), (625, 0.105), (2000, 0.082)]:
        noise = rng.standard_normal((k, n, 1000))
        assert abs(noise_ceiling.ceiling_r(noise).mean() - expected) < 0.02
        assert abs(noise_ceiling.ceiling_r2(noise).mean()) < 0.03


def test_explainable_variance_does_not_bound_the_r2_on_the_mean():
    """k = 2, signal variance = noise variance: EV is 0.5, a perfect model reaches R² 0.667."""
    rng = np.random.default_rng(4)
    signal = rng.standard_normal((3000, 100))
    repeats = signal + rng.standard_normal((2, 3000, 100))
    np.testing.assert_allclose(noise_ceiling.explainable_variance(repeats).mean(), 0.5,
                               atol=0.01)
    perfect = metrics.r2_score(repeats.mean(0), signal * 1.0)  # already the best linear fit
    np.testing.assert_allclose(perfect.mean(), 2 / 3, atol=0.01)
    np.testing.assert_allclose(noise_ceiling.ceiling_r2(repeats).mean(), 2 / 3, atol=0.01)


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
    p = significance.fold_pearson_p(metrics.fold_scores(y, yhat, folds), [len(f) for f in folds])
    assert abs(np.mean(p < 0.05) - 0.05) < 0.015
    assert stats.kstest(p, "uniform").pvalue > 0.01
    np.testing.assert_allclose(significance.fdr_bh(p), stats.false_discovery_control(p))


def test_explainable_variance_recovers_planted_signal_fraction():
    """Signal variance 1, noise variance 1: a single repeat is half signal (EV 0.5), and pure
    noise gives EV near 0 thanks to the bias correction."""
    rng = np.random.default_rng(2)
    signal = rng.standard_normal((3000, 40))
    repeats = signal + rng.standard_normal((4, 3000, 40))
    np.testing.assert_allclose(noise_ceiling.explainable_variance(repeats).mean(), 0.5,
                               atol=0.01)
    noise = rng.standard_normal((4, 3000, 40))
    assert abs(noise_ceiling.explainable_variance(noise).mean()) < 0.005
    uncorrected = noise_ceiling.explainable_variance(noise, bias_correction=False)
    np.testing.assert_allclose(uncorrected.mean(), 1 / 4, atol=0.01)


def _two_vs_two_by_loops(y, p):
    def d(a, b):
        return 1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    outcomes = []
    for i in range(len(y)):
        for j in range(i + 1, len(y)):
            matched = d(y[i], p[i]) + d(y[j], p[j])
            swapped = d(y[i], p[j]) + d(y[j], p[i])
            outcomes.append(1.0 if matched < swapped else 0.5 if matched == swapped else 0.0)
    return np.mean(outcomes)


def test_two_vs_two_follows_its_definition_with_chance_half():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((30, 50))
    noisy = y + 2 * rng.standard_normal((30, 50))
    assert metrics.two_vs_two(y, noisy) == _two_vs_two_by_loops(y, noisy)
    assert metrics.two_vs_two(y, y) == 1.0
    chance = [metrics.two_vs_two(y, rng.standard_normal((30, 50))) for _ in range(40)]
    assert abs(np.mean(chance) - 0.5) < 0.02


def test_permutation_p_equals_rescoring_every_permuted_fold():
    """The gather that builds the null equals permuting the held-out rows in blocks and
    recomputing the fold-averaged Pearson r, p = (1 + #{null >= r}) / (1 + n_permutations)."""
    rng = np.random.default_rng(5)
    folds = [np.arange(0, 37), np.arange(37, 60), np.arange(60, 90)]
    y = rng.standard_normal((90, 40))
    prediction = 0.15 * y + rng.standard_normal((90, 40))
    draws = np.random.default_rng(3)
    orders = [[significance._block_permutation(len(test), 4, draws) for _ in range(150)]
              for test in folds]
    observed = metrics.fold_scores(y, prediction, folds).mean(0)
    null = np.mean([[metrics.pearson_r(y[test][order], prediction[test]) for order in fold]
                    for test, fold in zip(folds, orders, strict=True)], axis=0)
    expected = (1 + (null >= observed - 1e-6).sum(0)) / 151
    np.testing.assert_array_equal(
        significance.permutation_p(y, prediction, folds, 150, block_size=4, seed=3), expected)


def test_permutation_p_is_uniform_under_the_null_and_tiny_for_signal():
    rng = np.random.default_rng(4)
    folds = np.array_split(np.arange(100), 5)
    y, noise = rng.standard_normal((2, 100, 400))
    p_null = significance.permutation_p(y, noise, folds, n_permutations=200)
    assert abs(np.mean(p_null < 0.1) - 0.1) < 0.04
    assert stats.kstest(p_null, "uniform").pvalue > 0.001
    good = y + 0.5 * rng.standard_normal((100, 400))
    p_signal = significance.permutation_p(y, good, folds, n_permutations=200)
    assert np.all(p_signal == 1 / 201)
    p_parametric = significance.fold_pearson_p(metrics.fold_scores(y, noise, folds),
                                               [len(f) for f in folds])
    assert stats.pearsonr(p_null, p_parametric)[0] > 0.95
    y[:, 0] = 1.0
    assert np.isnan(significance.permutation_p(y, noise, folds, n_permutations=10)[0])
