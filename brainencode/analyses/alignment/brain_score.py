"""Brain-Score's Pereira 2018 protocol: linear predictivity as brain-score/language scores it.

As in brain-score/language (``benchmarks/pereira2018/benchmark.py``,
``metrics/linear_predictivity/metric.py``, ``utils/transformations.py``, ``utils/ceiling.py``):

- the targets are the language-atlas voxels of every subject, side by side (voxels outside the
  atlas, ROI ``none``, are left out);
- each experiment (Pereira's 243- and 384-sentence sets) is scored on its own stimuli;
- ``ShuffleSplit(n_splits=10, train_size=0.9, random_state=1)`` over the stimuli;
- on each split, ``LinearRegression`` (``linear_pearsonr``; ``ridge`` is scikit-learn's
  ``RidgeCV(alphas=logspace(-3, 3, 7))``, the CPU twin of Brain-Score's ``RidgeGCVTorch`` of
  ``ridge_pearsonr``) is fitted on the training stimuli and predicts the test stimuli;
- the Pearson r of every voxel (the norms plus 1e-8, as Brain-Score's batched ``pearsonr``),
  then the median over voxels (``CrossRegressedCorrelation.aggregate``);
- the mean over splits is the raw score and its standard error over splits (``std / sqrt(n)``,
  ``Split.aggregate``) the error;
- the score is the raw score over the ceiling, clipped to [0, 1] (``ceiling_normalize``).

The ceiling is configured (Brain-Score publishes 0.3538 for 243sentences and 0.3634 for
384sentences) or estimated from the data (``subjects``): the same protocol predicting each
subject's voxels from the other subjects' voxels, median over every voxel. Brain-Score
extrapolates such subject-pool consistencies to infinitely many subjects, so this estimate,
from the subjects at hand, is lower than theirs and the normalised scores are higher.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.datasets.responses import Responses, read_subjects
from brainencode.datasets.stimuli import read_stimuli
from brainencode.datasets.tables import write_tsv
from brainencode.errors import BrainencodeError

RIDGE_ALPHAS = np.logspace(-3, 3, 7)  # Brain-Score's ridge_regression
CEILING_FILE = "brainscore_ceiling.tsv"
ALL_STIMULI = "all"  # the experiment of a stimuli table without an experiment column


def experiments(stimuli: str | Path, ids: list[str]) -> dict[str, np.ndarray]:
    """Experiment -> its rows among ``ids`` (the stimuli table's ``experiment`` column, else
    one experiment of every stimulus)."""
    table = read_stimuli(stimuli).set_index("stimulus_id").loc[ids]
    if "experiment" not in table.columns:
        return {ALL_STIMULI: np.arange(len(ids))}
    names = table["experiment"].to_numpy()
    return {name: np.flatnonzero(names == name) for name in dict.fromkeys(names)}


def atlas_voxels(responses: Responses, path: str | Path) -> np.ndarray:
    """One subject's language-atlas voxels [n_stimuli, n_voxels] (ROI ``none`` left out)."""
    inside = np.asarray(responses.roi) != "none"
    if not inside.any():
        raise BrainencodeError(f"{path}: roi: expected voxels of an atlas ROI (all are "
                               "'none'); set dataset.atlas")
    return responses.data[:, inside].astype(np.float64)


def atlas_targets(paths: list[str | Path]) -> tuple[list[np.ndarray], list[str]]:
    """Each subject's language-atlas voxels (atlas_voxels) and the stimulus ids (the same for
    every subject)."""
    subjects = read_subjects(paths)
    return ([atlas_voxels(r, path) for r, path in zip(subjects, paths, strict=True)],
            subjects[0].stimulus_ids)


def pearson_r(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson r of every column, with Brain-Score's 1e-8 added to both norms."""
    xm, ym = prediction - prediction.mean(0), target - target.mean(0)
    return ((xm / (np.linalg.norm(xm, axis=0) + 1e-8))
            * (ym / (np.linalg.norm(ym, axis=0) + 1e-8))).sum(0)


def _regression(name: str):
    from sklearn.linear_model import LinearRegression, RidgeCV

    return LinearRegression() if name == "linear" else RidgeCV(alphas=RIDGE_ALPHAS)


def split_voxel_scores(X: np.ndarray, Y: np.ndarray, settings: dict) -> list[np.ndarray]:
    """Per split, the test Pearson r of every voxel (columns of ``Y``) predicted from ``X``."""
    # scikit-learn here, not at the top: the summary and the report read this module's tables
    from sklearn.model_selection import ShuffleSplit

    splitter = ShuffleSplit(n_splits=settings["splits"], train_size=settings["train_size"],
                            test_size=None, random_state=settings["random_state"])
    X, scores = np.asarray(X, np.float64), []
    for train, test in splitter.split(np.zeros(len(X))):
        model = _regression(settings["regression"]).fit(X[train], Y[train])
        scores.append(pearson_r(model.predict(X[test]), Y[test]))
    return scores


def split_scores(X: np.ndarray, Y: np.ndarray, settings: dict) -> np.ndarray:
    """Per split, the median over voxels of their test Pearson r [n_splits]."""
    return np.array([np.median(r) for r in split_voxel_scores(X, Y, settings)])


def aggregate(scores: np.ndarray) -> tuple[float, float]:
    """The mean over splits and its standard error (Brain-Score's ``Split.aggregate``)."""
    return float(np.mean(scores)), float(np.std(scores) / np.sqrt(len(scores)))


def normalize(raw: float, ceiling: float) -> float:
    """``ceiling_normalize``: raw over ceiling, clipped to [0, 1] (NaN without a ceiling)."""
    return float(np.clip(raw / ceiling, 0, 1)) if np.isfinite(ceiling) else float("nan")


def subjects_ceiling(subjects: list[np.ndarray], settings: dict) -> float:
    """Each subject's voxels predicted from the other subjects' voxels by the protocol; per
    split the median over every subject's voxels, then the mean over splits."""
    if len(subjects) < 2:
        raise BrainencodeError("alignment.language.brain_score.ceiling: 'subjects' needs at "
                               f"least 2 subjects, the dataset has {len(subjects)}")
    per_split = [split_voxel_scores(np.concatenate(subjects[:s] + subjects[s + 1:], 1),
                                    subjects[s], settings) for s in range(len(subjects))]
    return float(np.mean([np.median(np.concatenate(voxels)) for voxels in zip(*per_split,
                                                                               strict=True)]))


def write_ceilings(*, stimuli: Path, responses: list[Path], settings: dict, out: Path) -> None:
    """The ceiling of every experiment (experiment, ceiling, source): the configured value (one
    number, or one per experiment), the data's own estimate (subjects_ceiling), or none (NaN:
    raw scores only)."""
    subjects, ids = atlas_targets(responses)
    configured, rows = settings.get("ceiling"), []
    for name, index in experiments(stimuli, ids).items():
        if configured == "subjects":
            value, source = subjects_ceiling([y[index] for y in subjects], settings), "subjects"
        elif isinstance(configured, dict):
            if name not in configured:
                raise BrainencodeError(f"alignment.language.brain_score.ceiling: expected a "
                                       f"value for experiment {name!r}, got {sorted(configured)}")
            value, source = configured[name], "config"
        elif configured is None:
            value, source = float("nan"), "none"
        else:
            value, source = float(configured), "config"
        rows.append({"experiment": name, "ceiling": value, "source": source})
    write_tsv(pd.DataFrame(rows), out)


def read_ceilings(path: str | Path) -> dict[str, float]:
    table = pd.read_csv(path, sep="\t")
    return dict(zip(table["experiment"], table["ceiling"], strict=True))


def variant_scores(designs: dict[str, np.ndarray], stimuli: Path, subjects: list[np.ndarray],
                   ids: list[str], settings: dict) -> pd.DataFrame:
    """Every design's score on every split of every experiment (experiment, condition, layer,
    split, score): designs named as language_variant names them (``layer:<name>``), targets
    every subject's atlas voxels (atlas_voxels), rows the stimuli ``ids``."""
    Y = np.concatenate(subjects, 1)
    rows = []
    for name, index in experiments(stimuli, ids).items():
        for key, X in designs.items():
            condition, _, layer = key.partition(":")
            rows += [{"experiment": name, "condition": condition, "layer": layer, "split": i,
                      "score": score}
                     for i, score in enumerate(split_scores(X[index], Y[index], settings))]
    return pd.DataFrame(rows)
