"""Per-target scores with their published definitions."""

from __future__ import annotations

import numpy as np
from scipy import stats


def pearson_r(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Pearson correlation per column (target); NaN where either column is constant."""
    yt = y_true - y_true.mean(0)
    yp = y_pred - y_pred.mean(0)
    denominator = np.sqrt((yt**2).sum(0) * (yp**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (yt * yp).sum(0) / denominator, np.nan)


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per target, 1 - SS_res / SS_tot (as scikit-learn's
    ``r2_score(..., multioutput='raw_values')``); NaN for constant targets."""
    ss_res = ((y_true - y_pred) ** 2).sum(0)
    ss_tot = ((y_true - y_true.mean(0)) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


def split_half_ceiling(repeats: np.ndarray) -> np.ndarray:
    """Noise ceiling on Pearson r for predicting the mean over repeats, per target.

    repeats: [n_repeats, n_stimuli, n_targets]. The mean of the odd and the even repeats are
    correlated (split-half reliability rho) and stepped up to the full number of repeats with the
    Spearman-Brown prophecy formula, rho_SB = k rho / (1 + (k - 1) rho) with k = 2 halves
    (Spearman 1910, Brown 1910). A model that predicted the true signal perfectly would reach
    r = sqrt(rho_SB) with the measured mean (Hsu, Borst & Theunissen 2004; Lage-Castellanos et
    al. 2019), which is the ceiling returned. Negative reliabilities give a ceiling of 0.
    """
    first = repeats[0::2].mean(0)
    second = repeats[1::2].mean(0)
    rho = pearson_r(first, second)
    rho_sb = 2 * rho / (1 + rho)
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.clip(rho_sb, 0, None))


def normalized_score(r: np.ndarray, ceiling: np.ndarray, min_ceiling: float = 0.1) -> np.ndarray:
    """r divided by the noise ceiling; NaN where the ceiling is below ``min_ceiling`` (unreliable
    targets would otherwise give arbitrarily large ratios)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ceiling >= min_ceiling, r / ceiling, np.nan)


def fold_scores(y_true: np.ndarray, y_pred: np.ndarray, folds: list[np.ndarray],
                score=pearson_r) -> np.ndarray:
    """``score`` within each outer test fold: [n_folds, n_targets].

    Scoring the pooled out-of-fold predictions instead would be biased: each fold's intercept is
    its training mean, which anti-correlates with the held-out values, so pure-noise targets
    would get r < 0 on average. Averaging per-fold scores is the convention of himalaya's and
    Brain-Score's cross-validated scores.
    """
    return np.stack([score(y_true[test], y_pred[test]) for test in folds])


def fold_pearson_p(fold_r: np.ndarray, fold_sizes: list[int]) -> np.ndarray:
    """One-sided p-value for r > 0 from per-fold correlations, combined over folds.

    Each fold's r is Fisher z-transformed, z_k = atanh(r_k) sqrt(n_k - 3) ~ N(0, 1) under the
    null (Fisher 1915), and the disjoint test folds are combined with Stouffer's method,
    Z = sum_k z_k / sqrt(K) (Stouffer et al. 1949). NaN where any fold's r is NaN.
    """
    n = np.asarray(fold_sizes, dtype=float)[:, None]
    z = np.arctanh(np.clip(fold_r, -1 + 1e-7, 1 - 1e-7)) * np.sqrt(n - 3)
    return stats.norm.sf(z.sum(0) / np.sqrt(len(fold_sizes)))


def fdr_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values (q-values); NaN entries stay NaN."""
    q = np.full_like(p, np.nan, dtype=float)
    valid = ~np.isnan(p)
    if valid.any():
        q[valid] = stats.false_discovery_control(p[valid], method="bh")
    return q
