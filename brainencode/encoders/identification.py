"""Decoding scores: identification, top-k retrieval, 2V2 and per-dimension r, with their
permutation nulls.

Every score of one test fold is a function of an n x n matrix between its decoded and its
true feature vectors (n held-out stimuli). Permuting which decoded vector belongs to which
stimulus permutes that matrix's rows, so the null of each score costs one gather per
permutation, not a refit: the within-fold permutation of held-out predictions that
significance.permutation_p uses for encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from brainencode.encoders.metrics import two_vs_two_from_distances


def _unit_rows(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / np.linalg.norm(a, axis=1, keepdims=True)


def _unit_columns(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / np.linalg.norm(a, axis=0)


@dataclass
class FoldMatrices:
    """One test fold's matrices, rows indexed by the decoded vector, columns by the true one:
    ``correlation`` (Pearson r across feature dimensions), ``distance`` (cosine distance) and
    ``dimension`` (sum over dimensions of the dimension-wise unit-norm products, divided by the
    number of dimensions: its trace is the mean per-dimension Pearson r)."""

    correlation: np.ndarray
    distance: np.ndarray
    dimension: np.ndarray

    @classmethod
    def of(cls, decoded: np.ndarray, true: np.ndarray) -> FoldMatrices:
        decoded, true = np.asarray(decoded, np.float64), np.asarray(true, np.float64)
        norms = np.outer(np.linalg.norm(decoded, axis=1), np.linalg.norm(true, axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            distance = 1 - (decoded @ true.T) / norms
        dimension = _unit_columns(decoded) @ _unit_columns(true).T / decoded.shape[1]
        return cls(_unit_rows(decoded) @ _unit_rows(true).T, distance, dimension)

    def permuted_scores(self, orders: np.ndarray) -> dict[str, np.ndarray]:
        """Every score of SCORES after each permutation (the rows of ``orders``): decoded
        vector order[i] given to stimulus i, the matrices' rows permuted, without forming the
        permuted matrices where a score allows.

        After decoded vector order[i] is given to stimulus i, stimulus i's own entry is
        correlation[order[i], i] and its competitors are the rest of row order[i]. So each
        entry's rank within its row, computed once (n^2 log n), gives every permutation's
        identification and top-k accuracy in O(n), and the trace of ``dimension`` is a gather
        too. 2V2 compares every pair of stimuli and stays O(n^2) per permutation; a score
        without a shortcut here is computed on each permuted fold.
        """
        n = len(self.correlation)
        below, rank = _row_ranks(self.correlation)
        columns = np.arange(n)
        scores = {"identification": np.mean(below[orders, columns] / (n - 1), axis=1),
                  "dimension_r": self.dimension[orders, columns].sum(1)}
        for k in (1, 5):
            scores[f"top{k}"] = np.mean(rank[orders, columns] < k, axis=1)
        scores["2v2"] = np.array([two_vs_two_from_distances(self.distance[order])
                                  for order in orders])
        for name, score in SCORES.items():
            if name not in scores:  # a score without a shortcut: each permuted fold rescored
                scores[name] = np.array([score(FoldMatrices(
                    self.correlation[o], self.distance[o], self.dimension[o])) for o in orders])
        return {name: scores[name] for name in SCORES}


def _row_ranks(correlation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per entry, as identification_accuracy and top_k_accuracy count it against the rest of
    its row: the entries below it (ties one half, itself left out) and its retrieval rank (the
    entries above it plus its ties). NaN entries compare false with everything, as there."""
    finite = np.isfinite(correlation)
    filled = np.where(finite, correlation, np.inf)
    less = rankdata(filled, axis=1, method="min") - 1
    at_most = rankdata(filled, axis=1, method="max")
    ties = at_most - less
    below = np.where(finite, less + 0.5 * (ties - 1), -0.5)
    above = finite.sum(1, keepdims=True) - at_most
    return below, np.where(finite, above + ties - 1, -1)


def identification_accuracy(correlation: np.ndarray) -> float:
    """Pairwise identification: for each decoded vector, the fraction of the other held-out
    candidates whose true features correlate less with it than its own stimulus' do (ties
    one half), averaged; chance 0.5 (Kay et al. 2008; Horikawa & Kamitani 2017, "generic
    decoding": "the percentage of candidates with correlation lower than the true one")."""
    n = len(correlation)
    own = np.diag(correlation)[:, None]
    below = (correlation < own).sum(1) + 0.5 * ((correlation == own).sum(1) - 1)
    return float(np.mean(below / (n - 1)))


def top_k_accuracy(correlation: np.ndarray, k: int) -> float:
    """Retrieval: the fraction of decoded vectors whose own stimulus is among the k
    candidates they correlate with most (ties counted against it); chance k / n."""
    own = np.diag(correlation)[:, None]
    rank = (correlation > own).sum(1) + ((correlation == own).sum(1) - 1)
    return float(np.mean(rank < k))


def retrieval_chance(n_candidates: int, k: int) -> float:
    return min(k, n_candidates) / n_candidates


SCORES: dict[str, Callable[[FoldMatrices], float]] = {
    "identification": lambda m: identification_accuracy(m.correlation),
    "top1": lambda m: top_k_accuracy(m.correlation, 1),
    "top5": lambda m: top_k_accuracy(m.correlation, 5),
    "2v2": lambda m: two_vs_two_from_distances(m.distance),
    "dimension_r": lambda m: float(np.trace(m.dimension)),
}
"""Each decoding score of one fold; 2V2 as metrics.two_vs_two (Toneva & Wehbe 2019), and
dimension_r the mean over feature dimensions of their Pearson r across held-out stimuli."""


def chance_levels(fold_sizes: list[int]) -> dict[str, float]:
    """Each score's expected value under the null, averaged over folds."""
    return {"identification": 0.5, "2v2": 0.5, "dimension_r": 0.0,
            "top1": float(np.mean([retrieval_chance(n, 1) for n in fold_sizes])),
            "top5": float(np.mean([retrieval_chance(n, 5) for n in fold_sizes]))}


def decoding_scores(folds: list[FoldMatrices], n_permutations: int, seed: int
                    ) -> dict[str, tuple[float, float]]:
    """Per score: the value averaged over test folds and its one-sided permutation p,
    (1 + #{null >= observed}) / (1 + n_permutations) (Phipson & Smyth 2010), the decoded
    vectors permuted within each fold, the same permutations for every score."""
    rng = np.random.default_rng(seed)
    observed = {name: np.mean([score(m) for m in folds]) for name, score in SCORES.items()}
    null = {name: np.zeros(n_permutations) for name in SCORES}
    for m in folds:
        orders = np.stack([rng.permutation(len(m.correlation)) for _ in range(n_permutations)])
        for name, values in m.permuted_scores(orders).items():
            null[name] += values / len(folds)
    return {name: (float(observed[name]),
                   float((1 + np.sum(null[name] >= observed[name] - 1e-12))
                         / (1 + n_permutations)))
            for name in SCORES}
