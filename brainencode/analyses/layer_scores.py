"""Encode one subject with every layer of one model: per-target results and per-ROI summaries."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from brainencode.analyses.scores import write_chunk_layer, write_chunk_meta
from brainencode.datasets.responses import Responses, count_targets, read_responses
from brainencode.datasets.stimuli import stimulus_groups
from brainencode.encoders import metrics, noise_ceiling, significance
from brainencode.encoders.cross_validation import alpha_grid, cross_validated_predictions
from brainencode.encoders.ridge import invalid_targets, warn_invalid
from brainencode.encoders.time_series import fir_design
from brainencode.errors import BrainencodeError
from brainencode.features.store import read_layer, read_meta


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


def chunk_slice(n_targets: int, chunk: int, n_chunks: int) -> slice:
    """Chunk ``chunk`` of ``n_chunks`` contiguous, near-equal chunks of the targets (the first
    n_targets % n_chunks chunks one target longer, as numpy.array_split)."""
    if not 0 <= chunk < n_chunks:
        raise BrainencodeError(f"chunk: expected 0 to {n_chunks - 1}, got {chunk}")
    size, extra = divmod(n_targets, n_chunks)
    start = chunk * size + min(chunk, extra)
    return slice(start, start + size + (chunk < extra))


def two_vs_two_stimuli(folds: list[np.ndarray], limit: int, seed: int) -> list[np.ndarray]:
    """Each test fold's stimuli that 2V2 compares: all of them, or ``limit`` drawn at random
    (seeded by the encoding seed and the fold, so every chunk of targets draws the same and
    their products still add up) where a fold has more, which bounds the n x n products."""
    return [test if len(test) <= limit else
            np.sort(np.random.default_rng([seed, k]).choice(test, limit, replace=False))
            for k, test in enumerate(folds)]


def encode_model(*, responses: Path, features: Path, model: str, out_dir: Path, encoding: dict,
                 stimuli: Path | None = None, chunk: int = 0, n_chunks: int = 1) -> None:
    """Fit and score every layer on one chunk of the targets (all of them by default); write
    ``<layer>.h5`` per layer and ``meta.json``. gathering.gather_encoding joins the chunks.

    Outer CV is grouped by the stimuli table's ``group`` column when it has one. Time-series
    responses (naturalistic runs) are fitted on the FIR design of ``time_series_design``, with
    whole runs left out and permutations in blocks of ``block_trs`` TRs. Per target:
    Pearson r and R² on each outer test fold, averaged over folds; the geometric median alpha
    over outer folds; the noise ceiling on r and the explainable variance; the
    ceiling-normalized r; a one-sided p-value (permutation or parametric, ``significance``).
    Every target is fitted on its own (its own penalty), and folds and permutations depend on
    the stimuli only, so a chunk's results equal those targets' results in one fit. Per ROI and
    test fold the chunk also keeps the sums 2V2 needs (metrics.pattern_products), which add up
    over chunks. NaN or constant targets are warned about once and get NaN scores.
    """
    responses_file = Path(responses)
    targets = chunk_slice(count_targets(responses_file), chunk, n_chunks)
    responses = read_responses(responses_file, targets)
    meta = read_meta(features)  # the layers are read one at a time, below
    block_size = 1
    if responses.events is not None:
        design = time_series_design(responses, meta, features)
        groups = responses.run
        block_size = encoding["block_trs"]
        if encoding["significance"] == "parametric":
            warnings.warn(f"{responses_file}: parametric p-values assume independent samples, "
                          "but TRs are autocorrelated; encoding.significance: permutation "
                          "permutes blocks of encoding.block_trs TRs", stacklevel=2)
    else:
        if meta["stimulus_ids"] != responses.stimulus_ids:
            raise BrainencodeError(f"{features}: stimulus_ids: expected the same stimuli in "
                                   f"the same order as {responses_file}")
        groups = stimulus_groups(stimuli, responses.stimulus_ids)

        def design(layer: np.ndarray) -> np.ndarray:
            return layer
    alphas = alpha_grid(encoding)
    invalid = invalid_targets(responses.data)
    warn_invalid(invalid, str(responses_file), targets.start)
    Y = responses.data.astype(np.float32)
    Y_valid = Y[:, ~invalid]
    if responses.repeats is not None:
        ceiling = noise_ceiling.ceiling_r(responses.repeats)
        explainable = noise_ceiling.explainable_variance(responses.repeats)
    else:
        ceiling = explainable = np.full(responses.n_targets, np.nan)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rois = np.unique(responses.roi)
    paired = None
    for layer in tqdm(meta["layers"], desc=f"encode {responses.subject} {model} "
                      f"chunk {chunk + 1}/{n_chunks}", unit="layer", mininterval=5):
        prediction = np.full(Y.shape, np.nan)
        chosen = np.full((encoding["outer_folds"], Y.shape[1]), np.nan)
        prediction[:, ~invalid], chosen[:, ~invalid], folds = cross_validated_predictions(
            design(read_layer(features, meta, layer)), Y_valid, alphas, encoding["outer_folds"],
            encoding["inner_folds"], encoding["seed"], groups=groups, device=encoding["device"])
        if paired is None:  # the folds are the same for every layer (and every chunk)
            paired = two_vs_two_stimuli(folds, encoding["two_vs_two_stimuli"],
                                        encoding["seed"])
        fold_r = metrics.fold_scores(Y, prediction, folds)
        r = fold_r.mean(0)
        per_target = {
            "r": r,
            "r2": metrics.fold_scores(Y, prediction, folds, metrics.r2_score).mean(0),
            "alpha": np.exp(np.median(np.log(chosen), axis=0)),
            "ceiling": ceiling,
            "explainable_variance": explainable,
            "r_normalized": metrics.normalized_score(r, ceiling),
            "p": p_values(Y, prediction, folds, fold_r, encoding, block_size),
        }
        products = {}
        for roi in rois:
            inside = responses.roi == roi
            products[roi] = [metrics.pattern_products(Y[test][:, inside],
                                                      prediction[test][:, inside])
                             for test in paired]
        write_chunk_layer(out_dir / f"{layer}.h5", per_target, responses.roi, products)
    write_chunk_meta(out_dir, {
        "subject": responses.subject, "model": model, "layers": meta["layers"],
        "chunk": chunk, "n_chunks": n_chunks, "targets": [targets.start, targets.stop],
        "n_folds": len(folds)})
