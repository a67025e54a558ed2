"""LaVCa step 1: fit each voxel's encoder on image embeddings, find its top images in a bank.

The dataset's stimuli are split into training and held-out test stimuli (whole groups when the
table has a ``group`` column). Everything that chooses a caption sees the training stimuli
only: the voxels are picked by cross-validated r within the training set, their ridge
encoders are fitted on it, and the test stimuli are left out of the bank (by id and by image
file). The BrainSCUBA-style baseline (Luo et al. 2024, ICLR) projects each voxel's weight
vector onto the bank's image embeddings (a softmax over cosine similarities, temperature
``baseline_temperature``) and keeps the bank image nearest to the projection. BrainSCUBA
decodes that embedding with a trained captioner (ClipCap); here the image's caption stands in.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.analyses.captioning.files import Selection, write_selection
from brainencode.datasets.responses import read_responses
from brainencode.datasets.stimuli import image_paths, read_stimuli, stimulus_groups
from brainencode.encoders.cross_validation import (
    alpha_grid,
    cross_validated_predictions,
    standardize,
)
from brainencode.encoders.metrics import pearson_r
from brainencode.encoders.ridge import RidgeCV, invalid_targets
from brainencode.errors import BrainencodeError
from brainencode.features.store import layer_rows

log = logging.getLogger(__name__)


def split_stimuli(ids: list[str], groups: np.ndarray | None, test_fraction: float,
                  seed: int) -> np.ndarray:
    """Boolean test mask: a random ``test_fraction`` of the stimuli, or of the groups."""
    rng = np.random.default_rng(seed)
    if groups is None:
        n_test = max(2, int(round(test_fraction * len(ids))))
        test = np.zeros(len(ids), dtype=bool)
        test[rng.choice(len(ids), n_test, replace=False)] = True
        return test
    unique = rng.permutation(np.unique(groups))
    n_test = max(1, int(round(test_fraction * len(unique))))
    return np.isin(groups, unique[:n_test])


def row_indices(ids: list[str], wanted: list[str], where: str) -> np.ndarray:
    """Positions of ``wanted`` in ``ids``; an error naming ``where`` if one is missing."""
    index = {sid: i for i, sid in enumerate(ids)}
    missing = [s for s in wanted if s not in index]
    if missing:
        raise BrainencodeError(f"{where}: stimulus_id: expected {missing[0]!r}")
    return np.array([index[s] for s in wanted])


def pick_voxels(cv_r: np.ndarray, roi: np.ndarray, per_roi: int, min_r: float
                ) -> np.ndarray:
    """Indices (into cv_r) of the ``per_roi`` best voxels of each ROI with r >= min_r."""
    chosen = []
    for name in pd.unique(roi):
        inside = np.flatnonzero((roi == name) & (cv_r >= min_r))
        chosen.extend(inside[np.argsort(-cv_r[inside], kind="stable")][:per_roi])
    return np.sort(np.asarray(chosen, dtype=int))


def brainscuba_nearest(coef: np.ndarray, bank: np.ndarray, temperature: float) -> np.ndarray:
    """Per voxel, the bank row nearest (cosine) to its weights' softmax projection onto the
    bank embeddings (BrainSCUBA, eq. 3: sum_i softmax(cos(w, b_i) / T) b_i)."""
    b = bank / np.maximum(np.linalg.norm(bank, axis=1, keepdims=True), 1e-12)
    w = coef / np.maximum(np.linalg.norm(coef, axis=1, keepdims=True), 1e-12)
    logits = (w @ b.T) / temperature  # [n_voxels, n_bank]
    weights = np.exp(logits - logits.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    projected = weights @ b
    return np.argmax(projected @ b.T, axis=1)


def select_images(*, responses: Path, features: Path, bank_features: Path, bank: Path,
                  stimuli: Path, captioning: dict, encoding: dict, out_dir: Path) -> dict:
    """Write split.tsv, voxels.tsv, top_images.tsv, baseline.tsv, model.npz, meta.json (last);
    ``captioning`` has files.SELECTION_KEYS (``rois`` absent: every ROI but 'other')."""
    out_dir, responses_file, bank_file = Path(out_dir), Path(responses), Path(bank)
    responses = read_responses(responses_file)
    if responses.run is not None:
        raise BrainencodeError(f"{responses_file}: captioning needs one response per stimulus; "
                               "these are time series (naturalistic runs)")
    ids = responses.stimulus_ids
    layer = captioning["layer"]
    X = layer_rows(features, layer, ids, str(responses_file), "captioning.layer")
    groups = stimulus_groups(stimuli, ids)
    test = split_stimuli(ids, groups, captioning["test_fraction"], captioning["seed"])
    train_groups = None if groups is None else groups[~test]
    rois = captioning.get("rois") or sorted(set(responses.roi) - {"other"})
    candidates = np.flatnonzero(np.isin(responses.roi, rois)
                                & ~invalid_targets(responses.data))
    if len(candidates) == 0:
        raise BrainencodeError(f"{responses_file}: roi: expected targets in captioning.rois "
                               f"{rois}, found none")
    Y = responses.data[:, candidates].astype(np.float32)
    alphas = alpha_grid(encoding)
    X_train, X_test = standardize(X[~test], X[test])
    prediction, _, _ = cross_validated_predictions(
        X_train, Y[~test], alphas, encoding["inner_folds"], encoding["inner_folds"],
        captioning["seed"], train_groups, encoding["device"])
    cv_r = pearson_r(Y[~test], prediction)
    picked = pick_voxels(np.nan_to_num(cv_r, nan=-1.0), responses.roi[candidates],
                         captioning["voxels_per_roi"], captioning["min_r"])
    if len(picked) == 0:
        raise BrainencodeError(f"{responses_file}: no voxel of {rois} reaches captioning.min_r "
                               f"= {captioning['min_r']} (best cross-validated r "
                               f"{np.nanmax(cv_r):.3f} in the training stimuli)")
    targets = candidates[picked]
    model = RidgeCV(alphas=alphas, cv=encoding["inner_folds"], device=encoding["device"])
    model.fit(X_train, Y[~test][:, picked], train_groups)

    held_out = set(np.asarray(ids)[test])
    paths = image_paths(read_stimuli(stimuli))
    held_out_paths = {paths[s] for s in held_out if s in paths}
    bank = read_stimuli(bank_file)
    bank = bank[~bank["stimulus_id"].isin(held_out)
                & ~bank["path"].isin(held_out_paths)].reset_index(drop=True)
    bank_ids = list(bank["stimulus_id"])
    mean, std = X[~test].mean(0), X[~test].std(0)
    bank_rows = layer_rows(bank_features, layer, bank_ids, str(bank_file), "captioning.layer")
    bank_z = (bank_rows - mean) / np.where(std > 0, std, 1.0)
    bank_prediction = model.predict(bank_z)  # [n_bank, n_voxels]
    top_n = min(captioning["top_n"], len(bank_ids))
    order = np.argsort(-bank_prediction, axis=0, kind="stable")[:top_n]
    nearest = brainscuba_nearest(model.coef_, bank_z, captioning["baseline_temperature"])

    spread = bank_prediction.std(0)
    meta = {"subject": responses.subject, "layer": layer, "n_train": int((~test).sum()),
            "n_test": int(test.sum()), "n_bank": len(bank_ids), "n_candidates": len(candidates),
            "n_voxels": len(targets), "rois": rois, "top_n": top_n,
            "responses": str(responses_file), "bank": str(bank_file)}
    write_selection(out_dir, Selection(
        split=pd.DataFrame({"stimulus_id": ids, "split": np.where(test, "test", "train")}),
        voxels=pd.DataFrame({"target": targets, "roi": responses.roi[targets],
                             "cv_r": cv_r[picked], "alpha": model.alphas_}),
        top_images=pd.DataFrame([
            {"target": int(t), "rank": rank + 1, "stimulus_id": bank_ids[i],
             "predicted_z": float((bank_prediction[i, v] - bank_prediction[:, v].mean())
                                  / spread[v])}
            for v, t in enumerate(targets) for rank, i in enumerate(order[:, v])]),
        baseline=pd.DataFrame({"target": targets,
                               "stimulus_id": [bank_ids[i] for i in nearest]}),
        model={"targets": targets, "coef": model.coef_, "intercept": model.intercept_,
               "feature_mean": mean, "feature_std": std,
               "test_prediction": model.predict(X_test)},
        meta=meta))
    log.info("captioning: %d voxels of %s, %d bank images", len(targets), rois, len(bank_ids))
    return meta
