"""Shared-space encoding across subjects, and transfer to a new subject with little data.

After "See Through Their Minds" (Wang et al. 2024): shallow subject-specific adapters map
every subject into one shared space, one model is trained there on all subjects, and a new
subject needs only a new adapter. Here the adapters are those of the shared response model
(encoders/shared_response.py, Chen et al. 2015) fitted per ROI on the training stimuli all
subjects saw, and the shared model is a ridge encoder from a layer's features to the shared
response, so that subject i's responses are predicted as encoder(features) W_i^T.

Per outer fold (the encoding stage's folds over the shared stimuli, grouped by ``group``):

- ``within``: each subject's own ridge encoder, features -> its voxels;
- ``shared``: the SRM of all subjects and the shared encoder, back through the subject's
  adapter;
- transfer, for each held-out subject: the SRM and encoder of the other subjects (of one other
  subject, its SRM is that subject's k-dimensional principal subspace), and the held-out
  subject's adapter fitted on ``fraction`` of its training stimuli (``n_draws`` random draws
  below 1), against its own encoder fitted on the same stimuli (``own``).

Responses and features are z-scored with the statistics of the stimuli each model is fitted
on. Scores are the ROI's mean voxel-wise Pearson r within test folds, averaged over folds (and
draws), with a 95% percentile bootstrap CI from resampling each fold's test stimuli, the same
resamples for every method, so that transfer's gain over the own encoder has a paired CI.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold
from tqdm import tqdm

from brainencode.analyses.decoding import (
    check_per_stimulus,
    feature_folders,
    layer_features,
    roi_targets,
)
from brainencode.analyses.decoding_files import write_shared_space
from brainencode.datasets.responses import Responses, read_responses
from brainencode.datasets.stimuli import stimulus_groups
from brainencode.encoders.cross_validation import alpha_grid, outer_splitter, standardize
from brainencode.encoders.ridge import RidgeCV, invalid_targets
from brainencode.encoders.shared_response import SharedResponseModel
from brainencode.errors import BrainencodeError

Pairs = list[tuple[np.ndarray, np.ndarray]]  # (predicted, true) per test fold


def shared_stimuli(subjects: list[Responses], paths: list[Path]) -> list[str]:
    """The stimuli every subject has responses to, in the first subject's order."""
    common = set.intersection(*(set(s.stimulus_ids) for s in subjects))
    ids = [s for s in subjects[0].stimulus_ids if s in common]
    if len(ids) < 10:
        raise BrainencodeError(f"{paths[0]}: stimulus_ids: shared_space needs stimuli that "
                               f"all subjects saw, these subjects share {len(ids)}")
    return ids


def roi_responses(data: Responses, ids: list[str], roi: str, where: str, path: Path
                  ) -> np.ndarray:
    """[n_shared, n_voxels] of the ROI, finite non-constant voxels only."""
    index = {s: i for i, s in enumerate(data.stimulus_ids)}
    Y = data.data[[index[s] for s in ids]][:, roi_targets(data, roi, where, path)]
    return Y[:, ~invalid_targets(Y)].astype(np.float64)


def fold_r(pairs: Pairs, counts: list[np.ndarray] | None = None) -> np.ndarray:
    """The ROI-mean Pearson r averaged over folds, [1]; with ``counts`` (per fold, how often
    each test stimulus is drawn in each bootstrap resample, [n_boot, n_test]), [n_boot]. The
    resampled sums are GEMMs of the counts with the fold's moments, so no resample is copied."""
    values = []
    for k, (predicted, true) in enumerate(pairs):
        c = np.ones((1, len(true))) if counts is None else counts[k]
        n = c.sum(1, keepdims=True)
        sp, st = c @ predicted, c @ true
        cov = c @ (predicted * true) - sp * st / n
        var_p, var_t = c @ predicted**2 - sp**2 / n, c @ true**2 - st**2 / n
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cov / np.sqrt(var_p * var_t)
        values.append(np.nanmean(np.where(np.isfinite(r), r, np.nan), axis=1))
    return np.mean(values, axis=0)


class Fitter:
    """The stage's ridge encoders: standardized features, RidgeCV with inner CV grouped by
    the stimuli's groups where the fitted stimuli have enough of them."""

    def __init__(self, X: np.ndarray, groups: np.ndarray | None, encoding: dict):
        self.X, self.groups, self.encoding = X, groups, encoding
        self.alphas = alpha_grid(encoding)

    def predict(self, train: np.ndarray, test: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Fit features[train] -> Y (rows of train), predict features[test]."""
        X_train, X_test = standardize(self.X[train], self.X[test])
        folds = self.encoding["inner_folds"]
        groups = None if self.groups is None else self.groups[train]
        if groups is not None and len(np.unique(groups)) < folds:
            groups = None  # a small subset of a few groups: plain K-fold
        inner = folds if groups is None else GroupKFold(folds)
        model = RidgeCV(alphas=self.alphas, cv=inner, device=self.encoding["device"])
        return model.fit(X_train, Y, groups).predict(X_test)


def subset_size(fraction: float, n_train: int, inner_folds: int) -> int:
    """Stimuli in a fraction of a training fold: at least two per inner fold."""
    return min(n_train, max(2 * inner_folds, int(round(fraction * n_train))))


def target_pairs(X: np.ndarray, Y: dict[str, np.ndarray], groups: np.ndarray | None,
                 settings: dict, encoding: dict) -> tuple[dict, dict, list[np.ndarray]]:
    """(predicted, true) per fold for every subject and method, and per held-out subject,
    fraction and method (lists over draws), with each fold's test rows."""
    fitter = Fitter(X, groups, encoding)
    srm = {"n_components": settings["n_components"], "n_iter": settings["n_iter"],
           "seed": encoding["seed"]}
    rng = np.random.default_rng(encoding["seed"])
    scores, transfer, tests = defaultdict(list), defaultdict(list), []
    splitter = outer_splitter(encoding["outer_folds"], encoding["seed"], groups)
    for train, test in splitter.split(X, None, groups):
        tests.append(test)
        Z = {s: standardize(y[train], y[test]) for s, y in Y.items()}
        for s, (z_train, z_test) in Z.items():
            scores[s, "within"].append((fitter.predict(train, test, z_train), z_test))
        model = SharedResponseModel(**srm).fit([z for z, _ in Z.values()])
        shared = fitter.predict(train, test, model.shared_response_)
        for (s, (_, z_test)), adapter in zip(Z.items(), model.adapters_, strict=True):
            scores[s, "shared"].append((shared @ adapter.T, z_test))
        for held_out in Y:
            others = SharedResponseModel(**srm).fit([Z[s][0] for s in Y if s != held_out])
            shared = fitter.predict(train, test, others.shared_response_)
            for fraction in settings["fractions"]:
                n = subset_size(fraction, len(train), encoding["inner_folds"])
                for _ in range(1 if n == len(train) else settings["n_draws"]):
                    rows = np.sort(rng.choice(len(train), n, replace=False))
                    z_rows, z_test = standardize(Y[held_out][train[rows]], Y[held_out][test])
                    adapter = others.transform_subject(z_rows, rows)
                    transfer[held_out, fraction, n, "transfer"].append(
                        (shared @ adapter.T, z_test))
                    transfer[held_out, fraction, n, "own"].append(
                        (fitter.predict(train[rows], test, z_rows), z_test))
    return scores, transfer, tests


def bootstrapped(pairs: Pairs, n_folds: int, counts: list[np.ndarray]
                 ) -> tuple[float, np.ndarray]:
    """Mean r and its bootstrap replicates; ``pairs`` run over draws within folds
    (fold-major), a draw's value is its folds' mean, the draws are averaged."""
    n_draws = len(pairs) // n_folds
    draws = [pairs[d::n_draws] for d in range(n_draws)]
    return (float(np.mean([fold_r(d)[0] for d in draws])),
            np.mean([fold_r(d, counts) for d in draws], axis=0))


def interval(value: float, boot: np.ndarray, name: str = "r", ci: str = "ci"
             ) -> dict[str, float]:
    """The value with its 95% percentile bootstrap CI, as columns name, ci_low, ci_high."""
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return {name: value, f"{ci}_low": float(low), f"{ci}_high": float(high)}


def transfer_table(transfer: dict, key: dict, n_folds: int, counts: list[np.ndarray]
                   ) -> list[dict]:
    """Rows of transfer.tsv for one target; a transfer row also has its gain over the own
    encoder on the same stimuli, with the paired bootstrap CI of that difference."""
    rows, boots = [], {}
    for (s, fraction, n, method), pairs in transfer.items():
        value, boots[s, fraction, method] = bootstrapped(pairs, n_folds, counts)
        rows.append({"subject": s, **key, "fraction": fraction, "n_train": n,
                     "method": method, **interval(value, boots[s, fraction, method])})
    for row in rows:
        if row["method"] == "transfer":
            own = next(r for r in rows if r["method"] == "own" and r["subject"] == row["subject"]
                       and r["fraction"] == row["fraction"])
            boot = (boots[row["subject"], row["fraction"], "transfer"]
                    - boots[row["subject"], row["fraction"], "own"])
            row |= interval(row["r"] - own["r"], boot, "gain", "gain_ci")
    return rows


def fit_shared_space(*, responses: list[Path], features: list[Path], shared_space: dict,
                     encoding: dict, out_dir: Path, stimuli: Path | None = None) -> None:
    """Shared-space and transfer scores of every ``shared_space.targets`` entry (an ROI and
    the model layer its encoder reads) over the subjects given; write scores.tsv and
    transfer.tsv (analyses/decoding_files.py)."""
    paths = [Path(p) for p in responses]
    if len(paths) < 2:
        raise BrainencodeError("shared_space.subjects: expected two subjects at least, got "
                               f"{len(paths)}")
    subjects = [read_responses(p) for p in paths]
    for data, path in zip(subjects, paths, strict=True):
        check_per_stimulus(data, path)
    ids = shared_stimuli(subjects, paths)
    folders = feature_folders(features)
    groups = stimulus_groups(stimuli, ids)
    boot_rng = np.random.default_rng(encoding["seed"])
    score_rows, transfer_rows = [], []
    for index, target in enumerate(tqdm(shared_space["targets"], desc="shared space",
                                        unit="target")):
        where = f"shared_space.targets.{index}"
        X = layer_features(folders, target["model"], target["layer"], ids, where, paths[0])
        Y = {data.subject: roi_responses(data, ids, target["roi"], where, path)
             for data, path in zip(subjects, paths, strict=True)}
        for (subject, y), path in zip(Y.items(), paths, strict=True):
            if y.shape[1] < shared_space["n_components"]:
                raise BrainencodeError(
                    f"{path}: roi: {target['roi']!r} has {y.shape[1]} usable targets in "
                    f"{subject}, shared_space.n_components is {shared_space['n_components']}; "
                    "expected at least as many targets as shared dimensions")
        scores, transfer, tests = target_pairs(X, Y, groups, shared_space, encoding)
        counts = [boot_rng.multinomial(len(t), np.full(len(t), 1 / len(t)),
                                       size=shared_space["n_boot"]).astype(float)
                  for t in tests]
        key = {"roi": target["roi"], "model": target["model"], "layer": target["layer"]}
        score_rows += [{"subject": s, **key, "method": method,
                        **interval(*bootstrapped(pairs, len(tests), counts))}
                       for (s, method), pairs in scores.items()]
        transfer_rows += transfer_table(transfer, key, len(tests), counts)
    write_shared_space(score_rows, transfer_rows, Path(out_dir))
