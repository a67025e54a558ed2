"""Trained versus untrained: point estimates with bootstrap confidence intervals.

Each bootstrap draw resamples the stimuli (with replacement; the same draw for every variant,
so comparisons are paired) and, for untrained models, the seeds; a model's value in the draw
is the mean over the drawn seeds. Intervals are the 2.5 and 97.5 percentiles (Efron &
Tibshirani 1993). For RDMs, a resampled stimulus set keeps only the pairs of two different
stimuli, as in the stimulus bootstrap of Nili et al. 2014. The noise ceiling of RSA is the
inter-subject agreement of Nili et al. 2014 (analyses.rsa.noise_ceiling).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from brainencode.analyses.alignment import brain_score as bs
from brainencode.analyses.alignment.localizer_stimuli import LANDMARKS
from brainencode.analyses.alignment.variants import (
    read_arrays,
    read_brain_score,
    read_variant_scores,
    read_variants,
)
from brainencode.analyses.rsa import noise_ceiling, subject_rdms
from brainencode.analyses.scores import Metric
from brainencode.encoders.metrics import pearson_r

SUMMARY, LAYERS, LANDMARKS_FILE = "summary.tsv", "layers.tsv", "landmarks.tsv"
BRAIN_SCORE_FILE = "brainscore.tsv"
OVERALL = "overall"  # Brain-Score's Pereira2018-linear: the mean of the experiments' scores
# the contrasts of AlKhamissi et al. 2024 (fig. 2) between Fedorenko et al. 2010's conditions
CONTRASTS = {"S-J": ("S", "J", "lexical"), "W-N": ("W", "N", "lexical"),
             "S-W": ("S", "W", "syntactic"), "J-N": ("J", "N", "syntactic")}


def _interval(draws: np.ndarray) -> tuple[float, float]:
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return float(low), float(high)


def _group_rows(values: np.ndarray, draws: np.ndarray, rng: np.random.Generator
                ) -> tuple[float, np.ndarray]:
    """values [n_seeds] on all data and draws [n_boot, n_seeds]: the mean over seeds, and per
    draw the mean over seeds drawn with replacement."""
    picks = rng.integers(0, draws.shape[1], size=draws.shape)
    return float(np.mean(values)), np.take_along_axis(draws, picks, 1).mean(1)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])


def _pairs(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every pair i < j of a resampled stimulus set, two different stimuli."""
    i, j = np.triu_indices(len(index), k=1)
    keep = index[i] != index[j]
    return index[i[keep]], index[j[keep]]


def _draw_rsa(model_rdm: np.ndarray, subjects: np.ndarray, draws: list) -> np.ndarray:
    return np.array([np.mean([_spearman(model_rdm[rows, cols], s[rows, cols])
                              for s in subjects]) for rows, cols in draws])


def vision_summary(dirs: list[str | Path], rdm_paths: list[str | Path], n_boot: int,
                   seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model, trained and untrained: Spearman RSA of the best layer (chosen on all data,
    per variant) with each subject's RDM, averaged over subjects, with bootstrap CIs; and the
    per-layer values of every variant."""
    variants = read_variants(dirs)
    rng = np.random.default_rng(seed)
    layer_rows, summary, subjects = [], [], None
    draws = None
    for model, group in variants.groupby("model", sort=False):
        for trained, part in group.groupby("trained", sort=False):
            values, boots = [], []
            for _, variant in part.iterrows():
                scores = read_variant_scores(variant["dir"])
                spearman = scores[scores["metric"] == Metric.RSA_SPEARMAN]
                layer_rows += [{"side": "vision", "model": model, "trained": trained,
                                "seed": variant["seed"], "layer": row.layer, "value": row.value}
                               for row in spearman.itertuples()]
                best = spearman.loc[spearman["value"].idxmax()]
                f = read_arrays(variant["dir"], "model_rdms")
                model_rdm = f["rdms"][list(f["layers"]).index(best["layer"])]
                ids = [str(i) for i in f["stimulus_ids"]]
                if subjects is None:
                    subjects = subject_rdms(rdm_paths, ids)
                    draws = [_pairs(rng.integers(0, len(ids), len(ids))) for _ in range(n_boot)]
                values.append(best["value"])
                boots.append(_draw_rsa(model_rdm, subjects, draws))
            value, boot = _group_rows(np.array(values), np.stack(boots, 1), rng)
            summary.append({"side": "vision", "model": model, "trained": bool(trained),
                            "condition": "best layer", "metric": str(Metric.RSA_SPEARMAN),
                            "value": value, "n_seeds": len(part), "boot": boot})
    lower, upper_bound = noise_ceiling(subjects)
    table = _finish(summary)
    table["ceiling_lower"], table["ceiling_upper"] = lower, upper_bound
    return table, pd.DataFrame(layer_rows)


def _scored(y: np.ndarray, prediction: np.ndarray, ceiling: np.ndarray, index: np.ndarray
            ) -> tuple[float, np.ndarray]:
    """Mean over targets of the Pearson r (over each target's ceiling when there is one), on
    all stimuli and on every bootstrap draw of stimuli (the rows of ``index``)."""
    scale = ceiling if np.isfinite(ceiling).any() else 1.0
    return (np.nanmean(pearson_r(y, prediction) / scale),
            np.array([np.nanmean(pearson_r(y[i], prediction[i]) / scale) for i in index]))


def language_summary(dirs: list[str | Path], n_boot: int, seed: int
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model, trained and untrained, per condition (localized units, k random units, all
    units of the best layer): mean over targets of the out-of-fold Pearson r (divided by each
    target's ceiling when there is one), with bootstrap CIs; one row for the word-count
    baseline (model "word count"); and the per-layer values."""
    variants = read_variants(dirs)
    rng = np.random.default_rng(seed)
    layer_rows, summary = [], []
    index = baseline = None
    for model, group in variants.groupby("model", sort=False):
        for trained, part in group.groupby("trained", sort=False):
            per_condition: dict[str, tuple[list, list]] = {}
            for _, variant in part.iterrows():
                scores = read_variant_scores(variant["dir"])
                layers = scores[scores["condition"] == "layer"]
                layer_rows += [{"side": "language", "model": model, "trained": trained,
                                "seed": variant["seed"], "layer": row.layer, "value": row.r}
                               for row in layers.itertuples()]
                best_layer = layers.loc[layers["r"].idxmax(), "layer"]
                f = read_arrays(variant["dir"], "predictions")
                y, ceiling = f["y"], f["ceiling"]
                if index is None:
                    index = rng.integers(0, len(y), (n_boot, len(y)))
                for condition, key in [("localized", "localized"), ("random", "random"),
                                       ("all units, best layer", f"layer__{best_layer}")]:
                    value, boot = _scored(y, f[key], ceiling, index)
                    values, boots = per_condition.setdefault(condition, ([], []))
                    values.append(value)
                    boots.append(boot)
            metric = str(Metric.R_NORMALIZED if np.isfinite(ceiling).any() else Metric.R)
            if baseline is None and "word_count" in f:
                value, boot = _scored(y, f["word_count"], ceiling, index)
                baseline = {"side": "language", "model": "word count", "trained": True,
                            "condition": "baseline", "metric": metric, "value": value,
                            "n_seeds": 0, "tokenizer": "", "localized": "", "boot": boot}
            for condition, (values, boots) in per_condition.items():
                value, boot = _group_rows(np.array(values), np.array(boots).T, rng)
                summary.append({"side": "language", "model": model, "trained": bool(trained),
                                "condition": condition, "metric": metric, "value": value,
                                "n_seeds": len(part), "boot": boot,
                                "tokenizer": part["tokenizer"].iloc[0],
                                "localized": part["localized"].iloc[0]})
    if baseline is not None:  # the same design for every variant: one row
        summary.append(baseline)
    return _finish(summary), pd.DataFrame(layer_rows)


def landmark_summary(dirs: list[str | Path], n_boot: int, seed: int) -> pd.DataFrame:
    """Per language model, trained and untrained: the localized units' mean response to S, W,
    J and N and the lexical (S-J, W-N) and syntactic (S-W, J-N) contrasts, mean over items and
    seeds with 95% bootstrap intervals over items (resampled within each condition) and seeds;
    ``human_ordering`` says whether all four contrasts are positive as in the human language
    network (Fedorenko et al. 2010): "yes" (every interval above 0), "in point estimates", or
    "no"."""
    variants = read_variants(dirs)
    rng = np.random.default_rng(seed)
    rows = []
    for (model, trained), part in variants.groupby(["model", "trained"], sort=False):
        values, boots = [], []
        for folder in part["dir"]:
            f = read_arrays(folder, "predictions")
            if "landmark_condition" not in f:
                return pd.DataFrame()
            per = {key: f["landmark_response"][f["landmark_condition"] == name]
                   for key, name in LANDMARKS.items()}
            values.append({key: r.mean() for key, r in per.items()})
            boots.append({key: r[rng.integers(0, len(r), (n_boot, len(r)))].mean(1)
                          for key, r in per.items()})
        picks = rng.integers(0, len(values), (n_boot, len(values)))
        point = {key: np.mean([v[key] for v in values]) for key in LANDMARKS}
        draws = {key: np.take_along_axis(np.stack([b[key] for b in boots], 1), picks, 1).mean(1)
                 for key in LANDMARKS}
        for key, (a, b, _) in CONTRASTS.items():
            point[key], draws[key] = point[a] - point[b], draws[a] - draws[b]
        intervals = {key: _interval(draw) for key, draw in draws.items()}
        if all(intervals[key][0] > 0 for key in CONTRASTS):
            ordering = "yes"
        elif all(point[key] > 0 for key in CONTRASTS):
            ordering = "in point estimates"
        else:
            ordering = "no"
        rows += [{"model": model, "trained": bool(trained), "n_seeds": len(part),
                  "measure": key, "kind": CONTRASTS[key][2] if key in CONTRASTS else "response",
                  "value": float(point[key]), "ci_low": intervals[key][0],
                  "ci_high": intervals[key][1], "human_ordering": ordering}
                 for key in point]
    return pd.DataFrame(rows)


def _protocol_row(model: str, trained: bool, condition: str, per_seed: list[np.ndarray],
                  experiment: str, ceiling: float) -> dict:
    """One Brain-Score row: the per-split scores [n_seeds][n_splits] averaged over seeds, then
    aggregated over splits (raw score, error) and normalised by the ceiling."""
    raw, error = bs.aggregate(np.mean(per_seed, 0))
    return {"model": model, "trained": trained, "condition": condition,
            "experiment": experiment, "n_seeds": len(per_seed) if condition != "baseline"
            else 0, "raw": raw, "error": error, "ceiling": ceiling,
            "score": bs.normalize(raw, ceiling)}


def brain_score_summary(dirs: list[str | Path], ceilings: dict[str, float]) -> pd.DataFrame:
    """Per language model, trained and untrained, per condition (localized units, random units,
    all units of the best layer, chosen per variant and experiment) and experiment: the
    Brain-Score Pereira 2018 raw score (mean over seeds of each split's median voxel r, then
    the mean over splits), its error over splits, the ceiling and the normalised score; one
    word-count baseline row per experiment; and with several experiments, an ``overall`` row
    per model and condition: the mean of the experiments' normalised scores, as Brain-Score's
    Pereira2018-linear averages its two experiments."""
    variants = read_variants(dirs)
    rows, baseline = [], {}
    for (model, trained), part in variants.groupby(["model", "trained"], sort=False):
        per: dict[tuple[str, str], list[np.ndarray]] = {}
        for folder in part["dir"]:
            table = read_brain_score(folder)
            if table is None:
                return pd.DataFrame()
            for experiment, scores in table.groupby("experiment", sort=False):
                by = {key: group.sort_values("split")["score"].to_numpy() for key, group
                      in scores.groupby(["condition", "layer"], sort=False)}
                layers = {key: value for key, value in by.items() if key[0] == "layer"}
                best = max(layers, key=lambda key: layers[key].mean())
                for condition, key in [("localized", ("localized", "")),
                                       ("random", ("random", "")),
                                       ("all units, best layer", best)]:
                    per.setdefault((condition, experiment), []).append(by[key])
                baseline.setdefault(experiment, by[("word_count", "")])
        for (condition, experiment), per_seed in per.items():
            rows.append(_protocol_row(model, bool(trained), condition, per_seed, experiment,
                                      ceilings[experiment]))
    rows += [_protocol_row("word count", True, "baseline", [scores], experiment,
                           ceilings[experiment]) for experiment, scores in baseline.items()]
    table = pd.DataFrame(rows)
    if len(ceilings) > 1 and np.isfinite(list(ceilings.values())).all():
        overall = (table.groupby(["model", "trained", "condition"], sort=False)
                   .agg(n_seeds=("n_seeds", "first"), score=("score", "mean")).reset_index())
        table = pd.concat([table, overall.assign(experiment=OVERALL)], ignore_index=True)
    return table


def _finish(summary: list[dict]) -> pd.DataFrame:
    """CIs from the draws, and for each trained row the difference from its untrained twin
    with its CI and the fraction of draws where trained is not better (a one-sided p)."""
    rows = []
    for row in summary:
        low, high = _interval(row["boot"])
        twin = [r for r in summary if r["model"] == row["model"]
                and r["condition"] == row["condition"] and r["trained"] != row["trained"]]
        out = {k: v for k, v in row.items() if k != "boot"} | {"ci_low": low, "ci_high": high}
        if row["trained"] and twin:
            difference = row["boot"] - twin[0]["boot"]
            out |= {"minus_untrained": row["value"] - twin[0]["value"],
                    "minus_untrained_ci_low": _interval(difference)[0],
                    "minus_untrained_ci_high": _interval(difference)[1],
                    "p_not_better": float(np.mean(difference <= 0))}
        rows.append(out)
    return pd.DataFrame(rows)


def write_summary(*, out_dir: Path, n_boot: int, seed: int, language: list[Path] = (),
                  vision: list[Path] = (), rdms: list[Path] = (),
                  brain_score_ceilings: Path | None = None) -> pd.DataFrame:
    """summary.tsv and layers.tsv of every side that ran, landmarks.tsv of the language side,
    and brainscore.tsv when the language variants were also scored by the Brain-Score
    protocol (its ceilings: ``brain_score_ceilings``). The figures are a step of their own
    (reports.alignment_figures)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables, layers = [], []
    if language:
        table, per_layer = language_summary(language, n_boot, seed)
        tables.append(table)
        layers.append(per_layer)
        landmark_summary(language, n_boot, seed).to_csv(out_dir / LANDMARKS_FILE, sep="\t",
                                                        index=False)
        if brain_score_ceilings is not None:
            brain_score_summary(language, bs.read_ceilings(brain_score_ceilings)).to_csv(
                out_dir / BRAIN_SCORE_FILE, sep="\t", index=False)
    if vision:
        table, per_layer = vision_summary(vision, rdms, n_boot, seed)
        tables.append(table)
        layers.append(per_layer)
    summary = pd.concat(tables, ignore_index=True)
    per_layer = pd.concat(layers, ignore_index=True)
    per_layer.to_csv(out_dir / LAYERS, sep="\t", index=False)
    summary.to_csv(out_dir / SUMMARY, sep="\t", index=False)  # last: complete
    return summary


def read_summary(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """summary.tsv and layers.tsv of a summary folder written by write_summary."""
    folder = Path(folder)
    return (pd.read_csv(folder / SUMMARY, sep="\t"), pd.read_csv(folder / LAYERS, sep="\t"))


def read_landmarks(folder: str | Path) -> pd.DataFrame:
    """landmarks.tsv of a summary folder (empty when no language side ran)."""
    path = Path(folder) / LANDMARKS_FILE
    if not path.is_file() or path.stat().st_size <= 1:
        return pd.DataFrame()
    return pd.read_csv(path, sep="\t")


def read_brain_score_summary(folder: str | Path) -> pd.DataFrame:
    """brainscore.tsv of a summary folder (empty when the protocol did not run)."""
    path = Path(folder) / BRAIN_SCORE_FILE
    return pd.read_csv(path, sep="\t") if path.is_file() else pd.DataFrame()
