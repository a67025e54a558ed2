"""Encode one subject with every layer of one model: per-target results and per-ROI summaries."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from brainencode.datasets.responses import Responses, read_responses
from brainencode.datasets.stimuli import read_stimuli
from brainencode.encoders import metrics, noise_ceiling, significance
from brainencode.encoders.cross_validation import alpha_grid, cross_validated_predictions
from brainencode.encoders.ridge import invalid_targets, warn_invalid
from brainencode.encoders.time_series import fir_design
from brainencode.errors import BrainencodeError
from brainencode.features.extract import load_features

SCORE_COLUMNS = ["subject", "roi", "model", "layer", "metric", "value"]


def finite_mean(values: np.ndarray) -> float:
    """Mean over the finite entries; NaN (without a warning) when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else np.nan


def stimulus_groups(stimuli_path: str | Path | None, stimulus_ids: list[str]) -> np.ndarray | None:
    """The stimuli table's ``group`` column (run, story, session) in response order, or None."""
    if stimuli_path is None:
        return None
    table = read_stimuli(stimuli_path).set_index("stimulus_id")
    if "group" not in table.columns:
        return None
    missing = [s for s in stimulus_ids if s not in table.index]
    if missing:
        raise BrainencodeError(f"{stimuli_path}: stimulus_id: {missing[0]!r} has responses but "
                               "is not in the stimuli table")
    groups = table.loc[stimulus_ids, "group"].to_numpy()
    if (groups == "").any():
        raise BrainencodeError(f"{stimuli_path}: group: expected a group for every stimulus, "
                               "some are empty")
    return groups


def time_series_design(responses: Responses, meta: dict,
                       features_dir: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """For TR-wise responses: a function from a layer's per-stimulus features to the FIR design
    at the responses' TRs, with each event's stimulus placed at the event's time."""
    events = responses.events
    index = {stimulus: row for row, stimulus in enumerate(meta["stimulus_ids"])}
    missing = sorted(set(events["stimulus_id"]) - set(index))
    if missing:
        raise BrainencodeError(f"{features_dir}: stimulus_ids: expected features for every "
                               f"stimulus of the events, {missing[0]!r} has none")
    rows = events["stimulus_id"].map(index).to_numpy()
    attrs = responses.attrs

    def design(layer: np.ndarray) -> np.ndarray:
        return fir_design(layer[rows], events["time"].to_numpy(), events["run"].to_numpy(),
                          responses.time, responses.run, float(attrs["tr"]),
                          [int(d) for d in attrs["fir_delays"]], int(attrs["lanczos_window"]))
    return design


def p_values(Y: np.ndarray, prediction: np.ndarray, folds: list[np.ndarray], fold_r: np.ndarray,
             settings: dict, block_size: int) -> np.ndarray:
    """One-sided p per target: permutation within test folds (in blocks of ``block_size``
    consecutive rows), or Fisher z + Stouffer."""
    if settings["significance"] == "permutation":
        return significance.permutation_p(Y, prediction, folds, settings["n_permutations"],
                                          block_size=block_size, seed=settings["seed"])
    return significance.fold_pearson_p(fold_r, [len(f) for f in folds])


def encode_model(responses_path: str | Path, features_dir: str | Path, model: str,
                 out_dir: str | Path, settings: dict,
                 stimuli_path: str | Path | None = None) -> pd.DataFrame:
    """Fit and score every layer; write ``<layer>.h5`` per layer and ``scores.tsv``.

    Outer CV is grouped by the stimuli table's ``group`` column when it has one. Time-series
    responses (naturalistic runs) are fitted on the FIR design of ``time_series_design``, with
    whole runs left out and permutations in blocks of ``block_trs`` TRs. Per target:
    Pearson r and R² on each outer test fold, averaged over folds; the geometric median alpha
    over outer folds; the split-half noise ceiling and the explainable variance; the
    ceiling-normalized r; a one-sided p-value (permutation or parametric, ``significance``)
    and its BH q-value. Per ROI also the 2V2 accuracy of the ROI's response patterns.
    NaN or constant targets are warned about once and get NaN scores.
    scores.tsv is long format (subject, roi, model, layer, metric, value), averaged per ROI.
    """
    responses = read_responses(responses_path)
    meta, layers = load_features(features_dir)
    block_size = 1
    if responses.events is not None:
        design = time_series_design(responses, meta, features_dir)
        groups = responses.run
        block_size = settings["block_trs"]
        if settings["significance"] == "parametric":
            warnings.warn(f"{responses_path}: parametric p-values assume independent samples, "
                          "but TRs are autocorrelated; encoding.significance: permutation "
                          "permutes blocks of encoding.block_trs TRs", stacklevel=2)
    else:
        if meta["stimulus_ids"] != responses.stimulus_ids:
            raise BrainencodeError(f"{features_dir}: stimulus_ids: expected the same stimuli in "
                                   f"the same order as {responses_path}")
        groups = stimulus_groups(stimuli_path, responses.stimulus_ids)

        def design(layer: np.ndarray) -> np.ndarray:
            return layer
    alphas = alpha_grid(settings)
    invalid = invalid_targets(responses.data)
    warn_invalid(invalid, str(responses_path))
    Y = responses.data.astype(np.float32)
    Y_valid = Y[:, ~invalid]
    if responses.repeats is not None:
        ceiling = noise_ceiling.split_half_ceiling(responses.repeats)
        explainable = noise_ceiling.explainable_variance(responses.repeats)
    else:
        ceiling = explainable = np.full(responses.n_targets, np.nan)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for layer in tqdm(meta["layers"], desc=f"encode {responses.subject} {model}",
                      unit="layer", mininterval=5):
        prediction = np.full(Y.shape, np.nan)
        chosen = np.full((settings["outer_folds"], Y.shape[1]), np.nan)
        prediction[:, ~invalid], chosen[:, ~invalid], folds = cross_validated_predictions(
            design(layers[layer]), Y_valid, alphas, settings["outer_folds"],
            settings["inner_folds"], settings["seed"], groups=groups, device=settings["device"])
        fold_r = metrics.fold_scores(Y, prediction, folds)
        r = fold_r.mean(0)
        p = p_values(Y, prediction, folds, fold_r, settings, block_size)
        per_target = {
            "r": r,
            "r2": metrics.fold_scores(Y, prediction, folds, metrics.r2_score).mean(0),
            "alpha": np.exp(np.median(np.log(chosen), axis=0)),
            "ceiling": ceiling,
            "explainable_variance": explainable,
            "r_normalized": metrics.normalized_score(r, ceiling),
            "p": p,
            "q": significance.fdr_bh(p),
        }
        with h5py.File(out_dir / f"{layer}.h5", "w") as f:
            for key, value in per_target.items():
                f.create_dataset(key, data=np.asarray(value, dtype=np.float32))
            f.attrs.update({"subject": responses.subject, "model": model, "layer": layer})
        for roi in np.unique(responses.roi):
            inside = responses.roi == roi
            summary = {key: finite_mean(per_target[key][inside])
                       for key in ("r", "r2", "r_normalized", "ceiling", "explainable_variance")}
            summary |= {
                "2v2": np.mean([metrics.two_vs_two(Y[test][:, inside], prediction[test][:, inside])
                                for test in folds]),
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
