"""Noise ceilings from repeated measurements: how well any model could do."""

from __future__ import annotations

import numpy as np

from brainencode.encoders.metrics import pearson_r


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


def explainable_variance(repeats: np.ndarray, bias_correction: bool = True) -> np.ndarray:
    """Fraction of each target's variance that is repeatable across presentations.

    repeats: [n_repeats, n_stimuli, n_targets]; each repeat is z-scored over stimuli. EV is the
    variance of the mean over repeats divided by the mean variance of single repeats (Hsu,
    Borst & Theunissen 2004; Sahani & Linden 2003); with ``bias_correction``,
    EV - (1 - EV) / (n_repeats - 1), which has expectation zero for pure noise (as in the
    gallantlab voxelwise tutorials). It bounds the R² of a model predicting the mean response.
    """
    repeats = np.asarray(repeats, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (repeats - repeats.mean(1, keepdims=True)) / repeats.std(1, keepdims=True)
        ev = z.mean(0).var(0, ddof=1) / z.var(1, ddof=1).mean(0)
    if bias_correction:
        ev = ev - (1 - ev) / (len(repeats) - 1)
    return ev
