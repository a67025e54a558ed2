"""Noise ceilings from repeated measurements: how well any model could do.

The model of the data: repeat j of stimulus i is s_i + e_ij, with stimulus-driven signal of
variance sigma_s^2 and independent noise of variance sigma_n^2. The encoders predict the mean
over the k repeats, whose variance is sigma_s^2 + sigma_n^2 / k. Every estimate here is
computed per target from the variance of single repeats (V_1) and of their mean (V_k), each
repeat z-scored over stimuli as in the gallantlab voxelwise tutorials.
"""

from __future__ import annotations

import numpy as np


def _variances(repeats: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """V_1 (mean variance of single z-scored repeats), V_k (variance of their mean) and k."""
    repeats = np.asarray(repeats, dtype=np.float64)
    k = len(repeats)
    if k < 2:
        raise ValueError(f"a noise ceiling needs at least 2 repeats, got {k}")
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (repeats - repeats.mean(1, keepdims=True)) / repeats.std(1, keepdims=True)
    return z.var(1, ddof=1).mean(0), z.mean(0).var(0, ddof=1), k


def explainable_variance(repeats: np.ndarray, bias_correction: bool = True) -> np.ndarray:
    """Fraction of a single repeat's variance that the stimulus explains, per target.

    repeats: [k, n_stimuli, n_targets]. EV = V_k / V_1 (Hsu, Borst & Theunissen 2004; Sahani &
    Linden 2003); with ``bias_correction``, EV - (1 - EV) / (k - 1), as in the gallantlab
    voxelwise tutorials. The corrected EV estimates sigma_s^2 / (sigma_s^2 + sigma_n^2): its
    expectation is zero for pure noise, and it bounds the R² of a model that predicts a single
    repeat. It does not bound the R² on the mean over k repeats, which is higher (k = 2 and
    sigma_s = sigma_n: EV 0.5, a perfect model reaches R² 0.667); that bound is ceiling_r2.
    """
    single, mean, k = _variances(repeats)
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = mean / single
    if bias_correction:
        ev = ev - (1 - ev) / (k - 1)
    return ev


def ceiling_r2(repeats: np.ndarray) -> np.ndarray:
    """The R² that a model of the true signal reaches on the mean over the k repeats.

    sigma_s^2 / (sigma_s^2 + sigma_n^2 / k), estimated without bias in both variances:
    sigma_s^2 = (k V_k - V_1) / (k - 1) and sigma_s^2 + sigma_n^2 / k = V_k, so the estimate is
    (k V_k - V_1) / ((k - 1) V_k). It equals the Spearman-Brown step of the bias-corrected EV
    to k repeats, k EV / (1 + (k - 1) EV) (Spearman 1910, Brown 1910), and the noise ceiling of
    NSD, ncsnr^2 / (ncsnr^2 + 1 / k) (Allen et al. 2022, Nat Neurosci 25:116; Schoppe et al.
    2016, Front Comput Neurosci 10:10). Correct for any k >= 2 (a split into halves is not
    needed); not clipped, so pure noise scatters around zero.
    """
    single, mean, k = _variances(repeats)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (k * mean - single) / ((k - 1) * mean)


def ceiling_r(repeats: np.ndarray) -> np.ndarray:
    """Noise ceiling on the Pearson r with the mean over the k repeats, per target.

    sqrt(ceiling_r2), negative estimates set to 0: a model that predicted the true signal
    perfectly would reach this r (Hsu, Borst & Theunissen 2004; Lage-Castellanos et al. 2019).
    The clip and the square root bias it upwards where there is little signal: for pure noise
    its mean is about 0.5 / n^(1/4) over n stimuli (from k = 2 to 10: 0.17 to 0.15 at
    n = 100, 0.115 to 0.095 at 625, 0.09 to 0.075 at 2000; tests/test_metrics.py measures it),
    while ceiling_r2 stays within 0.03 of zero. ``r_normalized`` is left out where the
    ceiling is below 0.1.
    """
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.clip(ceiling_r2(repeats), 0, None))
