"""Per model variant (trained, or untrained with one seed): how well it aligns with the brain.

Language (after AlKhamissi et al. 2024, SUMA): the variant's localized units, k random units
(the control) and all units of each layer predict language responses by ridge with out-of-fold
predictions (grouped by the stimuli table's ``group`` when there is one). Vision: the RDM of
each layer is compared with each subject's RDMs (Spearman and Kendall tau-a; see
analyses.rsa). Predictions and model RDMs are kept so that the summary can bootstrap over
stimuli and seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.analyses.alignment import brain_score as bs
from brainencode.analyses.alignment.localizer import (
    landmark_responses,
    localize,
    selected_units,
)
from brainencode.analyses.alignment.variants import variant_info, write_variant
from brainencode.analyses.rsa import compare, correlation_rdm, subject_rdms
from brainencode.datasets.responses import Responses, read_subjects
from brainencode.datasets.stimuli import read_stimuli, stimulus_groups
from brainencode.encoders import noise_ceiling
from brainencode.encoders.cross_validation import alpha_grid, cross_validated_predictions
from brainencode.encoders.metrics import pearson_r
from brainencode.errors import BrainencodeError
from brainencode.features.store import load_features


def language_targets(subjects: list[Responses]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Responses of every subject side by side [n_stimuli, all targets], their noise
    ceilings (NaN without repeats) and the stimulus ids (the same for every subject)."""
    ceilings = [noise_ceiling.ceiling_r(r.repeats) if r.repeats is not None
                else np.full(r.n_targets, np.nan) for r in subjects]
    return (np.concatenate([r.data for r in subjects], 1), np.concatenate(ceilings),
            subjects[0].stimulus_ids)


def word_counts(stimuli: Path, ids: list[str]) -> np.ndarray:
    """The baseline design [n_stimuli, 1]: each sentence's number of words (whitespace-split
    ``text``), a predictor of sentence-level language responses that needs no model (the
    baseline of Schrimpf et al. 2021 and AlKhamissi et al. 2024)."""
    table = read_stimuli(stimuli).set_index("stimulus_id")
    if "text" not in table.columns:
        raise BrainencodeError(f"{stimuli}: text: expected the sentences' text for the word-count "
                               "baseline")
    return table.loc[ids, "text"].str.split().str.len().to_numpy(np.float32)[:, None]


def language_variant(*, model: str, spec: dict, localizer_stimuli: Path, localizer_features: Path,
                     stimuli: Path, features: Path, responses: list[Path], encoding: dict,
                     k: int, seed: int, out_dir: Path, fraction: float | None = None,
                     brain_score: dict | None = None) -> pd.DataFrame:
    """Localize, then score localized, random and per-layer units on the language data.

    The localizer keeps the top ``k`` units (or ``fraction`` of all units, when given) by
    Welch t; the model entry's ``localize`` (k or fraction) replaces both. The random control
    draws as many units with ``seed`` plus the variant's seed.

    The word-count baseline (word_counts) is fitted the same way. Writes ``localizer.npz`` (t
    of every unit, the selected ones), ``predictions.npz`` (the out-of-fold predictions of
    every condition, the responses, their ceilings, and the landmark responses of
    localizer.landmark_responses) and
    ``scores.tsv`` (condition, layer, r = mean over targets of the Pearson r between
    out-of-fold predictions and responses, r_normalized = r / ceiling per target). With
    ``brain_score`` (the protocol's settings), every design is also scored as Brain-Score
    scores Pereira 2018 (analyses.alignment.brain_score) into ``brainscore.tsv``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = out_dir.name
    device = encoding["device"]
    loc_meta, loc_layers = load_features(localizer_features)
    items = read_stimuli(localizer_stimuli).set_index("stimulus_id").loc[loc_meta["stimulus_ids"]]
    condition = items["condition"].to_numpy()
    own = spec.get("localize") or ({"fraction": fraction} if fraction is not None else {"k": k})
    localizer = localize(loc_layers, loc_meta["layers"], condition, own.get("k"),
                         own.get("fraction"))
    localizer.save(out_dir / "localizer.npz")
    landmarks = dict(zip(("landmark_condition", "landmark_item", "landmark_response"),
                         landmark_responses(loc_layers, loc_meta["layers"], condition,
                                            items["item"].astype(int).to_numpy(), own.get("k"),
                                            own.get("fraction")), strict=True))

    meta, layers = load_features(features)
    subjects = read_subjects(responses)
    Y, ceiling, ids = language_targets(subjects)
    if meta["stimulus_ids"] != ids:
        raise BrainencodeError(f"{stimuli}: stimulus_id: expected the stimuli of "
                               f"{responses[0]} in the same order")
    groups = stimulus_groups(stimuli, ids)
    n_units = len(localizer.t)
    rng = np.random.default_rng(spec.get("seed", 0) + seed)
    designs = {"localized": selected_units(layers, localizer),
               "random": selected_units(layers, localizer,
                                        np.sort(rng.choice(n_units, len(localizer.selected),
                                                           replace=False)))}
    designs |= {f"layer:{layer}": layers[layer] for layer in meta["layers"]}
    designs["word_count"] = word_counts(stimuli, ids)
    alphas = alpha_grid(encoding)
    predictions, rows = {}, []
    for key, X in designs.items():
        predictions[key], _, _ = cross_validated_predictions(
            X, Y.astype(np.float32), alphas, encoding["outer_folds"], encoding["inner_folds"],
            encoding["seed"], groups=groups, device=device)
        r = pearson_r(Y, predictions[key])
        condition_name, _, layer = key.partition(":")
        rows.append({"variant": name, "condition": condition_name, "layer": layer,
                     "n_units": X.shape[1], "r": float(np.nanmean(r)),
                     "r_normalized": float(np.nanmean(r / ceiling))
                     if np.isfinite(ceiling).any() else np.nan})
    scores = pd.DataFrame(rows)
    described = {"tokenizer": meta["provenance"].get("tokenizer", ""),
                 "localized": f"{len(localizer.selected)} of {n_units} units"
                              + (f" ({own['fraction']:.0%})" if "fraction" in own else "")}
    protocol = (bs.variant_scores(designs, stimuli,
                                  [bs.atlas_voxels(r, path) for r, path
                                   in zip(subjects, responses, strict=True)], ids, brain_score)
                if brain_score is not None else None)
    write_variant(out_dir, variant_info(model, spec, name, **described), scores, "predictions",
                  {"y": Y, "ceiling": ceiling, **landmarks,
                   **{key.replace(":", "__"): value for key, value in predictions.items()}},
                  protocol)
    return scores


def vision_variant(*, model: str, spec: dict, features: Path, rdms: list[Path], out_dir: Path
                   ) -> pd.DataFrame:
    """Every layer's correlation-distance RDM against each subject's RDM (sessions pooled; the
    protocol of analyses.rsa).

    Writes ``model_rdms.npz`` (one RDM per layer) and ``scores.tsv`` (layer, metric, the mean
    over subjects of the comparison with that subject's mean RDM).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = out_dir.name
    meta, layers = load_features(features)
    subjects = subject_rdms(rdms, meta["stimulus_ids"])
    model_rdms, rows = {}, []
    for layer in meta["layers"]:
        model_rdms[layer] = correlation_rdm(layers[layer])
        scores = pd.DataFrame([compare(model_rdms[layer], rdm) for rdm in subjects]).mean()
        rows += [{"variant": name, "layer": layer, "metric": metric, "value": value}
                 for metric, value in scores.items()]
    table = pd.DataFrame(rows)
    write_variant(out_dir, variant_info(model, spec, name), table, "model_rdms",
                  {"layers": np.array(meta["layers"]),
                   "stimulus_ids": np.array(meta["stimulus_ids"]),
                   "rdms": np.stack([model_rdms[layer] for layer in meta["layers"]])})
    return table
