"""Representational similarity analysis of model layers against brain RDMs.

Model RDMs are correlation distances (1 - Pearson r between stimulus patterns), as in
Kriegeskorte et al. 2008. Model and brain RDMs are compared on their upper triangles by
Spearman's rho and by Kendall's tau-a, the rank correlation Nili et al. 2014 (PLoS Comput Biol
10:e1003553) recommend when models predict tied dissimilarities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from brainencode.analyses.scores import Metric, score_table, write_scores
from brainencode.datasets.rdms import read_rdms
from brainencode.errors import BrainencodeError
from brainencode.features.store import load_features


def correlation_rdm(features: np.ndarray) -> np.ndarray:
    """1 - Pearson r between the rows (stimuli) of ``features``."""
    return 1.0 - np.corrcoef(np.asarray(features, dtype=np.float64))


def upper(rdm: np.ndarray) -> np.ndarray:
    return rdm[np.triu_indices(len(rdm), k=1)]


def kendall_tau_a(x: np.ndarray, y: np.ndarray, chunk: int = 512) -> float:
    """Kendall's tau-a: (concordant - discordant pairs) / (n (n - 1) / 2); ties count zero."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    total = 0.0
    for start in range(0, n, chunk):
        xs, ys = x[start:start + chunk, None], y[start:start + chunk, None]
        total += float(np.sum(np.sign(xs - x[None]) * np.sign(ys - y[None])))
    return total / (n * (n - 1))  # every pair was counted twice


def compare(model_rdm: np.ndarray, brain_rdm: np.ndarray) -> dict[str, float]:
    m, b = upper(model_rdm), upper(brain_rdm)
    return {Metric.RSA_SPEARMAN: float(spearmanr(m, b).statistic),
            Metric.RSA_KENDALL_TAU_A: kendall_tau_a(m, b)}


def rsa_scores(*, rdms: Path, features: list[Path], roi: str, out: Path) -> pd.DataFrame:
    """Per model and layer, the mean over the subject's RDMs of each comparison."""
    rdms_file = Path(rdms)
    rdms = read_rdms(rdms_file)
    rows = []
    for features_dir in map(Path, features):
        meta, layers = load_features(features_dir)
        if meta["stimulus_ids"] != rdms.stimulus_ids:
            raise BrainencodeError(f"{features_dir}: stimulus_ids: expected the stimuli of "
                                   f"{rdms_file} in the same order")
        for layer in meta["layers"]:
            model_rdm = correlation_rdm(layers[layer])
            scores = pd.DataFrame([compare(model_rdm, brain) for brain in rdms.rdms]).mean()
            rows += [(rdms.subject, roi, features_dir.name, layer, metric, value)
                     for metric, value in scores.items()]
    table = score_table(rows)
    write_scores(table, out)
    return table
