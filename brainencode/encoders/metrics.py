"""Per-target scores with their published definitions."""

from __future__ import annotations

import numpy as np


def pearson_r(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Pearson correlation per column (target); NaN where either column is constant."""
    yt = y_true - y_true.mean(0)
    yp = y_pred - y_pred.mean(0)
    denominator = np.sqrt((yt**2).sum(0) * (yp**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (yt * yp).sum(0) / denominator, np.nan)


def spearman_r(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Spearman rank correlation per column: the Pearson r of the ranks (ties get their mean
    rank), as ``scipy.stats.spearmanr``; NaN where either column is constant."""
    from scipy.stats import rankdata

    return pearson_r(rankdata(y_true, axis=0), rankdata(y_pred, axis=0))


def r2_score(y_true: np.ndarray, y_pred: np.ndarray,
             sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Coefficient of determination per target, 1 - SS_res / SS_tot, sums weighted by
    ``sample_weight`` when given (as scikit-learn's ``r2_score(..., multioutput='raw_values')``);
    NaN for constant targets."""
    w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, float)
    w = w.reshape(-1, *([1] * (np.ndim(y_true) - 1)))
    ss_res = (w * (y_true - y_pred) ** 2).sum(0)
    ss_tot = (w * (y_true - (w * y_true).sum(0) / w.sum()) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)


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


def pattern_products(y_true: np.ndarray, y_pred: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sums over targets that 2V2 needs: y_true @ y_pred.T and each row's squared norm,
    over the targets finite in both. Sums over disjoint sets of targets add up, so chunks of
    targets can be scored apart and their products summed (two_vs_two_from_products)."""
    keep = np.isfinite(y_true).all(0) & np.isfinite(y_pred).all(0)
    y, p = y_true[:, keep].astype(np.float64), y_pred[:, keep].astype(np.float64)
    return y @ p.T, (y * y).sum(1), (p * p).sum(1)


def two_vs_two_from_products(cross: np.ndarray, sq_true: np.ndarray,
                             sq_pred: np.ndarray) -> float:
    """2V2 accuracy (see two_vs_two) from the products of pattern_products."""
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = 1 - cross / np.sqrt(np.outer(sq_true, sq_pred))  # [true i, predicted j]
    return two_vs_two_from_distances(distance)


def two_vs_two_from_distances(distance: np.ndarray) -> float:
    """2V2 accuracy (see two_vs_two) from the cosine distances [true i, predicted j]."""
    matched = np.diag(distance)
    # every pair's difference at once, symmetric to the last bit (floating-point addition
    # commutes), so the pairs i < j are half of the off-diagonal entries: no n^2 index arrays
    difference = distance + distance.T
    difference -= matched[:, None] + matched[None, :]
    n = len(distance)
    return float((correct_pairs(difference) - correct_pairs(np.diag(difference)))
                 / (n * (n - 1)))


def correct_pairs(difference: np.ndarray) -> float:
    """Pairs whose matched distances are smaller, ties one half."""
    return np.count_nonzero(difference > 0) + 0.5 * np.count_nonzero(difference == 0)


MIN_2V2_TARGETS = 2


def two_vs_two_omitted(n_targets: int) -> str:
    """Why 2V2 is left out for a pattern of ``n_targets`` targets, or "" when it is defined.

    The cosine distance between patterns of one target is 0 or 2 by their signs alone, so a
    perfect prediction ties with the swapped one for most pairs and scores near 0.5 (0.509 on
    the averaged Pereira 2018 response).
    """
    if n_targets >= MIN_2V2_TARGETS:
        return ""
    return (f"2V2 left out: it compares response patterns by cosine distance, which needs "
            f"at least {MIN_2V2_TARGETS} targets; this ROI has {n_targets}")


def two_vs_two(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """2V2 accuracy over all pairs of stimuli (rows), chance 0.5.

    A pair (i, j) is correct when the matched predictions are closer than the swapped ones,
    d(y_i, p_i) + d(y_j, p_j) < d(y_i, p_j) + d(y_j, p_i), with d the cosine distance between
    response patterns across targets; ties count one half (Toneva & Wehbe 2019; Oota et al.
    2022, "Neural language taskonomy"). Targets with NaN values are left out; for fewer than
    MIN_2V2_TARGETS targets the pipeline leaves the score out (two_vs_two_omitted).
    """
    return two_vs_two_from_products(*pattern_products(y_true, y_pred))
