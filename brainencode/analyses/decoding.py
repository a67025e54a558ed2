"""Decoding: a model layer's features read out of a subject's responses, and how well the
decoded vectors pick their stimulus out of the held-out ones.

The encoder turned around (Naselaris et al. 2011): ridge from the responses of an ROI (voxels,
vertices, or contacts x windows) to the layer's features, with the encoding stage's outer and
inner cross-validation (grouped by the stimuli table's ``group``), fitted in the dual form when
the targets read outnumber the training stimuli (kernel_ridge.KernelRidgeCV). The features are
z-scored per dimension with each training fold's statistics, decoded and true alike, so that
no dimension's scale dominates the comparisons of encoders/identification.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from brainencode.analyses.decoding_files import write_decoding
from brainencode.datasets.responses import Responses, read_responses
from brainencode.datasets.stimuli import stimulus_groups
from brainencode.encoders import identification, significance
from brainencode.encoders.cross_validation import alpha_grid, cross_validated_predictions
from brainencode.encoders.metrics import fold_scores
from brainencode.encoders.ridge import invalid_targets
from brainencode.errors import BrainencodeError
from brainencode.features.store import layer_rows


def feature_folders(features: list[Path]) -> dict[str, Path]:
    """Model name (its folder's name, as the features rule writes them) -> features folder."""
    return {Path(folder).name: Path(folder) for folder in features}


def layer_features(folders: dict[str, Path], model: str, layer: str, stimulus_ids: list[str],
                   where: str, responses: Path) -> np.ndarray:
    """One layer's features [n_stimuli, n_dimensions] in the responses' stimulus order."""
    if model not in folders:
        raise BrainencodeError(f"{where}.model: expected one of {sorted(folders)}, got "
                               f"{model!r}")
    return layer_rows(folders[model], layer, stimulus_ids, str(responses), f"{where}.layer")


def roi_targets(responses: Responses, roi: str | None, where: str, path: Path) -> np.ndarray:
    """The targets decoded from: those labelled ``roi``, or all of them."""
    if roi is None:
        return np.ones(responses.n_targets, dtype=bool)
    inside = responses.roi == roi
    if not inside.any():
        raise BrainencodeError(f"{path}: roi: {where}.roi is {roi!r}, expected one of "
                               f"{sorted(set(responses.roi))}")
    return inside


def per_fold_standardized(Y: np.ndarray, prediction: np.ndarray, folds: list[np.ndarray]
                          ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(decoded, true) per test fold, both z-scored per dimension with the training rows'
    mean and std (constant dimensions only centred)."""
    pairs = []
    for test in folds:
        train = np.setdiff1d(np.arange(len(Y)), test)
        mean, std = Y[train].mean(0), Y[train].std(0)
        std = np.where(std > 0, std, 1.0)
        pairs.append(((prediction[test] - mean) / std, (Y[test] - mean) / std))
    return pairs


def check_per_stimulus(responses: Responses, path: Path) -> None:
    if responses.events is not None:
        raise BrainencodeError(f"{path}: events: decoding needs one response per stimulus, "
                               "these are time series (naturalistic runs); use single-trial "
                               "betas (bids-glm) to decode")


def decode_subject(*, responses: Path, features: list[Path], decoding: dict, encoding: dict,
                   out_dir: Path, stimuli: Path | None = None) -> pd.DataFrame:
    """Decode each ``decoding.targets`` entry (a model layer from an ROI) for one subject;
    write decoding.tsv (identification, top-1/top-5 retrieval, 2V2, mean per-dimension r, each
    with chance and permutation p) and dimensions.tsv (per-dimension r, p, q)."""
    path = Path(responses)
    data = read_responses(path)
    check_per_stimulus(data, path)
    folders = feature_folders(features)
    groups = stimulus_groups(stimuli, data.stimulus_ids)
    alphas = alpha_grid(encoding)
    n_permutations, seed = decoding["n_permutations"], encoding["seed"]
    rows, dimensions = [], []
    for index, target in enumerate(tqdm(decoding["targets"], desc=f"decode {data.subject}",
                                        unit="target")):
        where = f"decoding.targets.{index}"
        inside = roi_targets(data, target.get("roi"), where, path)
        Y = layer_features(folders, target["model"], target["layer"], data.stimulus_ids, where,
                           path)
        X = data.data[:, inside].astype(np.float32)
        X = X[:, ~invalid_targets(X)]
        if X.shape[1] == 0:
            raise BrainencodeError(f"{path}: data: {where} reads no target with finite, "
                                   "varying responses")
        n_train = len(X) - len(X) // encoding["outer_folds"]
        prediction, _, folds = cross_validated_predictions(
            X, Y.astype(np.float32), alphas, encoding["outer_folds"], encoding["inner_folds"],
            seed, groups=groups, device=encoding["device"], dual=X.shape[1] > n_train)
        pairs = per_fold_standardized(Y, prediction, folds)
        matrices = [identification.FoldMatrices.of(d, t) for d, t in pairs]
        scores = identification.decoding_scores(matrices, n_permutations, seed,
                                                decoding["two_vs_two_null_pairs"])
        chance = identification.chance_levels([len(f) for f in folds])
        key = {"subject": data.subject, "roi": target.get("roi", "all"),
               "model": target["model"], "layer": target["layer"]}
        rows += [key | {"metric": name, "value": value, "chance": chance[name], "p": p,
                        "n_targets": X.shape[1], "n_dimensions": Y.shape[1]}
                 for name, (value, p) in scores.items()]
        r = fold_scores(Y, prediction, folds).mean(0)
        p = significance.permutation_p(Y, prediction, folds, n_permutations, seed=seed)
        dimensions.append(pd.DataFrame(key | {"dimension": np.arange(Y.shape[1]), "r": r,
                                              "p": p, "q": significance.fdr_bh(p)}))
    out_dir = Path(out_dir)
    write_decoding(rows, pd.concat(dimensions, ignore_index=True), out_dir)
    return pd.DataFrame(rows)
