"""Encode one subject with every layer of one model: per-target results and per-ROI summaries."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from brainencode.datasets.responses import read_responses
from brainencode.encoders import metrics
from brainencode.encoders.cross_validation import cross_validated_predictions
from brainencode.errors import BrainencodeError
from brainencode.features.extract import load_features

SCORE_COLUMNS = ["subject", "roi", "model", "layer", "metric", "value"]


def encode_model(responses_path: str | Path, features_dir: str | Path, model: str,
                 out_dir: str | Path, settings: dict) -> pd.DataFrame:
    """Fit and score every layer; write ``<layer>.h5`` per layer and ``scores.tsv``.

    Per target: Pearson r and R² on each outer test fold, averaged over folds; the geometric
    median alpha over outer folds; the split-half noise ceiling; the ceiling-normalized r; a
    one-sided p-value (Fisher z, Stouffer over folds) and its BH q-value.
    scores.tsv is long format (subject, roi, model, layer, metric, value), averaged per ROI.
    """
    responses = read_responses(responses_path)
    meta, layers = load_features(features_dir)
    if meta["stimulus_ids"] != responses.stimulus_ids:
        raise BrainencodeError(f"{features_dir}: stimulus_ids: expected the same stimuli in the "
                               f"same order as {responses_path}")
    a = settings["alphas"]
    alphas = np.logspace(a["min_exp"], a["max_exp"], a["n"])
    Y = responses.data.astype(np.float32)
    ceiling = (metrics.split_half_ceiling(responses.repeats) if responses.repeats is not None
               else np.full(responses.n_targets, np.nan))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for layer in tqdm(meta["layers"], desc=f"encode {responses.subject} {model}",
                      unit="layer", mininterval=5):
        prediction, chosen, folds = cross_validated_predictions(
            layers[layer], Y, alphas, settings["outer_folds"], settings["inner_folds"],
            settings["seed"], device=settings["device"])
        fold_r = metrics.fold_scores(Y, prediction, folds)
        r = fold_r.mean(0)
        p = metrics.fold_pearson_p(fold_r, [len(f) for f in folds])
        per_target = {
            "r": r,
            "r2": metrics.fold_scores(Y, prediction, folds, metrics.r2_score).mean(0),
            "alpha": np.exp(np.median(np.log(chosen), axis=0)),
            "ceiling": ceiling,
            "r_normalized": metrics.normalized_score(r, ceiling),
            "p": p,
            "q": metrics.fdr_bh(p),
        }
        with h5py.File(out_dir / f"{layer}.h5", "w") as f:
            for key, value in per_target.items():
                f.create_dataset(key, data=np.asarray(value, dtype=np.float32))
            f.attrs.update({"subject": responses.subject, "model": model, "layer": layer})
        for roi in np.unique(responses.roi):
            inside = responses.roi == roi
            summary = {
                "r": np.nanmean(per_target["r"][inside]),
                "r2": np.nanmean(per_target["r2"][inside]),
                "r_normalized": np.nanmean(per_target["r_normalized"][inside])
                if np.isfinite(per_target["r_normalized"][inside]).any() else np.nan,
                "ceiling": np.nanmean(ceiling[inside]),
                "fraction_significant": np.mean(per_target["q"][inside] < settings["fdr_q"]),
                "n_targets": int(inside.sum()),
            }
            rows += [(responses.subject, roi, model, layer, k, float(v))
                     for k, v in summary.items()]
    scores = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    scores.to_csv(out_dir / "scores.tsv", sep="\t", index=False)
    return scores


def gather_scores(paths: list[str | Path], out_path: str | Path) -> pd.DataFrame:
    """Concatenate per-model score tables into one long table."""
    scores = pd.concat([pd.read_csv(p, sep="\t") for p in paths], ignore_index=True)
    scores.to_csv(out_path, sep="\t", index=False)
    return scores
