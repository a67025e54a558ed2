"""Outer cross-validation: out-of-fold predictions from models fitted on training folds only."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, KFold

from brainencode.encoders.kernel_ridge import KernelRidgeCV
from brainencode.encoders.ridge import RidgeCV
from brainencode.errors import BrainencodeError


def alpha_grid(encoding: dict) -> np.ndarray:
    """The ridge penalties of the config's ``encoding.alphas``: n values log-spaced between
    10^min_exp and 10^max_exp."""
    a = encoding["alphas"]
    return np.logspace(a["min_exp"], a["max_exp"], a["n"])


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z-score columns with the training fold's mean and std (constant columns only centred)."""
    mean = train.mean(0)
    std = train.std(0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def check_groups(groups: np.ndarray, n_folds: int, level: str) -> None:
    n_groups = len(np.unique(groups))
    if n_groups < n_folds:
        raise BrainencodeError(f"group: {level} cross-validation needs at least {n_folds} groups "
                               f"(encoding.{level}_folds), the stimuli have {n_groups}; lower "
                               f"{level}_folds or drop the group column")


def outer_splitter(n_folds: int, seed: int, groups: np.ndarray | None):
    """GroupKFold when stimuli carry groups (runs, stories, sessions), else shuffled KFold."""
    if groups is not None:
        check_groups(groups, n_folds, "outer")
        return GroupKFold(n_folds)
    return KFold(n_folds, shuffle=True, random_state=seed)


def cross_validated_predictions(X: np.ndarray, Y: np.ndarray, alphas: np.ndarray,
                                outer_folds: int, inner_folds: int, seed: int = 0,
                                groups: np.ndarray | None = None, device: str = "auto",
                                dual: bool = False,
                                ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Out-of-fold predictions [n_stimuli, n_targets], chosen alphas [n_folds, n_targets] and
    the test indices of each fold (score within folds: see metrics.fold_scores).

    Features are standardized on each training fold; RidgeCV picks one alpha per target by
    inner CV within that training fold (grouped when groups are given); ``dual`` fits it in
    the dual form (kernel_ridge.KernelRidgeCV, the same model) for more features than stimuli.
    """
    predictions = np.empty(Y.shape, dtype=np.float64)
    chosen, folds = [], []
    for train, test in outer_splitter(outer_folds, seed, groups).split(X, Y, groups):
        X_train, X_test = standardize(X[train], X[test])
        if groups is not None:
            check_groups(groups[train], inner_folds, "inner")
        inner = GroupKFold(inner_folds) if groups is not None else inner_folds
        model = (KernelRidgeCV if dual else RidgeCV)(alphas=alphas, cv=inner, device=device)
        model.fit(X_train, Y[train], None if groups is None else groups[train])
        predictions[test] = model.predict(X_test)
        chosen.append(model.alphas_)
        folds.append(test)
    return predictions, np.stack(chosen), folds
