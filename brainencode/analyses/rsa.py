"""Representational similarity analysis of model layers against brain RDMs: one protocol.

Model RDMs are correlation distances (1 - Pearson r between stimulus patterns), as in
Kriegeskorte et al. 2008. Model and brain RDMs are compared on their upper triangles by
Spearman's rho and by Kendall's tau-a, the rank correlation Nili et al. 2014 (PLoS Comput Biol
10:e1003553) recommend when models predict tied dissimilarities.

The protocol, used by the ``rdm`` stage and the alignment stage alike: the subject is the unit.
A subject's sessions are repeated measurements of one RDM, so they are pooled into the
subject's RDM first, the way rsatoolbox pools for rank correlations (``pool_rdm`` with
'spearman' or 'tau-a': the mean of each RDM's ranks). The model is compared with each
subject's RDM and the comparisons are averaged over subjects (rsatoolbox ``eval_fixed``; Nili
et al. 2014), which is also the quantity the inter-subject noise ceiling bounds. Averaging
per-session comparisons instead would score a model against single-session noise that the
ceiling does not contain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import squareform
from scipy.stats import rankdata, spearmanr

from brainencode.analyses.scores import Metric, score_table, write_scores
from brainencode.datasets.rdms import RDMs, read_rdms
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


def pool_rdms(rdms: np.ndarray) -> np.ndarray:
    """RDMs [n_rdms, n, n] pooled into one [n, n]: the mean of each RDM's ranked upper triangle
    (ties get their mean rank), as rsatoolbox's ``pool_rdm`` for 'spearman' and 'tau-a'."""
    return squareform(np.mean([rankdata(upper(rdm)) for rdm in rdms], axis=0))


def subject_rdm(rdms: RDMs) -> np.ndarray:
    """The subject's RDM: its sessions pooled (pool_rdms)."""
    return pool_rdms(rdms.rdms)


def subject_rdms(paths: list[str | Path], stimulus_ids: list[str]) -> np.ndarray:
    """Each subject's RDM (sessions pooled), [n_subjects, n, n], rows in stimulus_ids order."""
    out = []
    for path in paths:
        rdms = read_rdms(path)
        if rdms.stimulus_ids != stimulus_ids:
            raise BrainencodeError(f"{path}: stimulus_id: expected the stimuli of the features "
                                   "in the same order")
        out.append(subject_rdm(rdms))
    return np.stack(out)


def noise_ceiling(subjects: np.ndarray) -> tuple[float, float]:
    """Lower and upper bound of the Spearman RSA noise ceiling (Nili et al. 2014), from the
    subjects' RDMs [n_subjects, n, n], as rsatoolbox's ``boot_noise_ceiling`` with
    'spearman': the mean over subjects of the Spearman rho of a subject's RDM with the pooled
    RDM of all subjects (upper) and of the others (lower), pooled by ranks (pool_rdms)."""
    def rho(subject: np.ndarray, group: np.ndarray) -> float:
        return float(spearmanr(upper(subject), upper(pool_rdms(group))).statistic)

    upper_bound = np.mean([rho(s, subjects) for s in subjects])
    lower_bound = np.mean([rho(s, np.delete(subjects, i, 0)) for i, s in enumerate(subjects)])
    return float(lower_bound), float(upper_bound)


def rsa_scores(*, rdms: Path, features: list[Path], roi: str, out: Path) -> pd.DataFrame:
    """Per model and layer, each comparison with the subject's RDM (its sessions pooled)."""
    rdms_file = Path(rdms)
    rdms = read_rdms(rdms_file)
    brain = subject_rdm(rdms)
    rows = []
    for features_dir in map(Path, features):
        meta, layers = load_features(features_dir)
        if meta["stimulus_ids"] != rdms.stimulus_ids:
            raise BrainencodeError(f"{features_dir}: stimulus_ids: expected the stimuli of "
                                   f"{rdms_file} in the same order")
        for layer in meta["layers"]:
            scores = compare(correlation_rdm(layers[layer]), brain)
            rows += [(rdms.subject, roi, features_dir.name, layer, metric, value)
                     for metric, value in scores.items()]
    table = score_table(rows)
    write_scores(table, out)
    return table
