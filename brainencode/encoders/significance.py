"""Significance of encoding scores: parametric and permutation p-values, FDR control."""

from __future__ import annotations

import numpy as np
from scipy import stats


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


def permutation_p(y_true: np.ndarray, y_pred: np.ndarray, folds: list[np.ndarray],
                  n_permutations: int = 1000, block_size: int = 1, seed: int = 0,
                  target_chunk: int = 2048) -> np.ndarray:
    """One-sided permutation p-value per target for the fold-averaged Pearson r being > 0.

    Under the null the predictions carry no information about which held-out stimulus they
    belong to, so the rows of the predictions are permuted within each test fold (in blocks of
    ``block_size`` consecutive rows for autocorrelated time series), the same permutation for
    every target, and the fold-averaged r recomputed. p = (1 + #{r_null >= r}) / (1 +
    n_permutations), the exact-test form of Phipson & Smyth 2010, never 0; NaN for NaN targets.
    p is never below 1 / (n_permutations + 1), so BH-FDR over m targets can only declare k of
    them significant when n_permutations is at least about m / (q k).
    """
    import torch  # here, not at the top: the verbs that only read p-values (FDR) skip it

    rng = np.random.default_rng(seed)
    orders = [torch.as_tensor(np.stack([_block_permutation(len(test), block_size, rng)
                                        for _ in range(n_permutations)])) for test in folds]
    p = np.empty(y_true.shape[1])
    for start in range(0, y_true.shape[1], target_chunk):
        chunk = slice(start, start + target_chunk)
        observed = torch.zeros(len(p[chunk]))
        null = torch.zeros(n_permutations, len(p[chunk]))
        for test, order in zip(folds, orders, strict=True):
            zt, zp = (torch.as_tensor(_unit_columns(a[test, chunk])) for a in (y_true, y_pred))
            observed += (zt * zp).sum(0) / len(folds)
            zp /= len(folds)
            rows = torch.empty(n_permutations, zt.shape[1])
            for n in range(len(test)):
                # permutation j gives row n's prediction to held-out row order[j, n]: one
                # gather of n_permutations rows, so all permutations together cost
                # n_permutations * n_k * n_targets multiply-adds, linear in the fold's size
                torch.index_select(zt, 0, order[:, n], out=rows)
                null.addcmul_(rows, zp[n])
        exceed = (null >= observed - 1e-6).sum(0).double()
        p[chunk] = ((1 + exceed) / (1 + n_permutations)).numpy()
        p[chunk][~torch.isfinite(observed).numpy()] = np.nan
    return p


def _unit_columns(a: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit norm, so a dot product of two is their Pearson r."""
    a = np.asarray(a, dtype=np.float64)
    a = a - a.mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a / np.linalg.norm(a, axis=0)).astype(np.float32)


def _block_permutation(n: int, block_size: int, rng: np.random.Generator) -> np.ndarray:
    blocks = np.array_split(np.arange(n), max(1, int(np.ceil(n / block_size))))
    return np.concatenate([blocks[i] for i in rng.permutation(len(blocks))])
