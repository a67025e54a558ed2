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

from brainencode.encoders.metrics import correct_pairs, two_vs_two_from_distances


def _unit_rows(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / np.linalg.norm(a, axis=1, keepdims=True)


def _unit_columns(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / np.linalg.norm(a, axis=0)


Pairs = tuple[np.ndarray, np.ndarray]
"""Pairs of stimuli (i, j), i != j, as two index arrays."""


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

    def permuted_scores(self, orders: np.ndarray, pairs: Pairs | None = None
                        ) -> dict[str, np.ndarray]:
        """Every score of SCORES after each permutation (the rows of ``orders``): decoded
        vector order[i] given to stimulus i, the matrices' rows permuted, without forming the
        permuted matrices where a score allows.

        After decoded vector order[i] is given to stimulus i, stimulus i's own entry is
        correlation[order[i], i] and its competitors are the rest of row order[i]. So each
        entry's rank within its row, computed once (n^2 log n), gives every permutation's
        identification and top-k accuracy in O(n), and the trace of ``dimension`` is a gather
        too. 2V2 compares every pair of stimuli, O(n^2) per permutation, or only ``pairs``
        (pair_two_vs_two); a score without a shortcut here is computed on each permuted fold.
        """
        n = len(self.correlation)
        below, rank = _row_ranks(self.correlation)
        columns = np.arange(n)
        scores = {"identification": np.mean(below[orders, columns] / (n - 1), axis=1),
                  "dimension_r": self.dimension[orders, columns].sum(1)}
        for k in (1, 5):
            scores[f"top{k}"] = np.mean(rank[orders, columns] < k, axis=1)
        scores["2v2"] = (np.array([two_vs_two_from_distances(self.distance[order])
                                   for order in orders]) if pairs is None
                         else self.pair_two_vs_two(orders, pairs))
        for name, score in SCORES.items():
            if name not in scores:  # a score without a shortcut: each permuted fold rescored
                scores[name] = np.array([score(FoldMatrices(
                    self.correlation[o], self.distance[o], self.dimension[o])) for o in orders])
        return {name: scores[name] for name in SCORES}

    def pair_two_vs_two(self, orders: np.ndarray, pairs: Pairs) -> np.ndarray:
        """2V2 over ``pairs`` only, after each permutation: pair (i, j) is correct when
        distance[order[i], i] + distance[order[j], j] < distance[order[i], j] +
        distance[order[j], i], ties one half (metrics.two_vs_two); four gathers per pair."""
        first, second = pairs
        n, flat = len(self.distance), self.distance.ravel()
        values = np.empty(len(orders))
        for k, order in enumerate(orders):
            row_first, row_second = order[first] * n, order[second] * n
            swapped_minus_matched = flat.take(row_first + second)
            swapped_minus_matched += flat.take(row_second + first)
            swapped_minus_matched -= flat.take(row_first + first)
            swapped_minus_matched -= flat.take(row_second + second)
            values[k] = correct_pairs(swapped_minus_matched) / len(first)
        return values


def draw_null_pairs(n: int, limit: int, rng: np.random.Generator) -> Pairs | None:
    """The pairs of a fold's n stimuli whose 2V2 its permutation test compares: None (every
    pair) when there are at most ``limit``, else ``limit`` pairs drawn uniformly at random
    (with replacement) from the n (n - 1) / 2."""
    if n * (n - 1) // 2 <= limit:
        return None
    first = rng.integers(n, size=limit)
    second = rng.integers(n - 1, size=limit)
    return first, second + (second >= first)


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


def decoding_scores(folds: list[FoldMatrices], n_permutations: int, seed: int,
                    null_pairs: int | None = None) -> dict[str, tuple[float, float]]:
    """Per score: the value averaged over test folds and its one-sided permutation p,
    (1 + #{null >= observed}) / (1 + n_permutations) (Phipson & Smyth 2010), the decoded
    vectors permuted within each fold, the same permutations for every score.

    2V2's null costs O(n^2) per permutation of a fold of n stimuli. A fold with more than
    ``null_pairs`` pairs (None: no bound) tests it on that many pairs drawn at random
    (draw_null_pairs, seeded by ``seed`` and the fold), O(null_pairs) per permutation: the
    observed value the p compares with is the 2V2 of the same pairs, so the test stays exact
    (a permutation test is valid for any fixed statistic of the permuted fold). The value
    reported still compares every pair.
    """
    rng = np.random.default_rng(seed)
    observed = {name: np.mean([score(m) for m in folds]) for name, score in SCORES.items()}
    tested = dict(observed)  # what each null is compared with
    tested_2v2, null = [], {name: np.zeros(n_permutations) for name in SCORES}
    for k, m in enumerate(folds):
        n = len(m.correlation)
        orders = np.stack([rng.permutation(n) for _ in range(n_permutations)])
        pairs = (None if null_pairs is None
                 else draw_null_pairs(n, null_pairs, np.random.default_rng([seed, k])))
        tested_2v2.append(SCORES["2v2"](m) if pairs is None
                          else m.pair_two_vs_two(np.arange(n)[None], pairs)[0])
        for name, values in m.permuted_scores(orders, pairs).items():
            null[name] += values / len(folds)
    tested["2v2"] = np.mean(tested_2v2)
    return {name: (float(observed[name]),
                   float((1 + np.sum(null[name] >= tested[name] - 1e-12))
                         / (1 + n_permutations)))
            for name in SCORES}
