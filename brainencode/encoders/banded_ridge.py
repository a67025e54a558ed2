"""Banded ridge: one penalty per feature space and target, and variance partitioning."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted

from brainencode.encoders.ridge import (
    DEFAULT_ALPHAS,
    RidgeCV,
    RidgeTags,
    check_features,
    check_targets,
    check_weights,
    cv_sse,
    fold_bases,
    load_chunk,
    mean_score,
    predict_linear,
    refit_targets,
    resolve_device,
    resolve_splits,
    scale_rows,
    target_chunks,
    targets_score,
    thin_svd,
    warn_invalid,
    weighted_mean,
)
from brainencode.errors import BrainencodeError


def is_space_list(X) -> bool:
    """Whether X is a list of per-space matrices (not one matrix written as nested lists)."""
    return isinstance(X, list | tuple) and len(X) > 0 and all(np.ndim(x) == 2 for x in X)


def stack_spaces(X) -> tuple[np.ndarray, list[int] | None]:
    """A list of per-space matrices concatenated (each checked as scikit-learn checks X), with
    the width of each space; one matrix passes as it is, with None."""
    if not is_space_list(X):
        return X, None
    spaces = [check_array(x, dtype=np.float32, input_name=f"X[{i}]") for i, x in enumerate(X)]
    rows = [len(x) for x in spaces]
    if len(set(rows)) > 1:
        raise BrainencodeError(f"BandedRidgeCV: the feature spaces have {rows} rows: expected "
                               "the same rows (samples) in every space")
    return np.concatenate(spaces, axis=1), [x.shape[1] for x in spaces]


def space_widths(n_features: int, listed: list[int] | None,
                 space_sizes: Sequence[int] | None) -> list[int]:
    """The width of each space: from the list of spaces, else ``space_sizes``, else one space
    (then the model equals RidgeCV)."""
    sizes = listed or list(space_sizes or [n_features])
    if sum(sizes) != n_features:
        raise BrainencodeError(f"BandedRidgeCV: space_sizes {sizes} sum to {sum(sizes)}, but X "
                               f"has {n_features} columns")
    return sizes


def dirichlet_gammas(n: int, n_spaces: int, concentration: Sequence[float],
                     seed: int) -> np.ndarray:
    """Candidate space weights on the simplex, as himalaya's random search draws them: Dirichlet
    samples cycling through the concentrations, the first candidate being equal weights."""
    rng = np.random.default_rng(seed)
    per = int(np.ceil(n / len(concentration)))
    gammas = np.concatenate([rng.dirichlet([c] * n_spaces, per) for c in concentration])[:n]
    gammas[0] = 1.0 / n_spaces
    return gammas


class BandedRidgeCV(RidgeTags, RegressorMixin, BaseEstimator):
    """Ridge with one penalty per feature space and per target (Nunez-Elizalde, Huth & Gallant
    2019, "Voxelwise encoding models with non-spherical multivariate normal priors").

    The loss is ||Y - sum_i X_i b_i||^2 + sum_i (alpha / gamma_i) ||b_i||^2: features of space i
    are scaled by sqrt(gamma_i), with gamma on the simplex, and a ridge with penalty alpha is
    solved on the scaled features. Candidate gammas are searched at random (himalaya's
    ``solve_group_ridge_random_search``); for each, every alpha and every target is solved
    from one diagonalization per inner fold, as in RidgeCV. Per target the (gamma, alpha) with
    the smallest summed squared validation error wins.

    Parameters
    ----------
    space_sizes : number of columns of each space, in column order (or fit X as a list; None
    and one matrix: a single space).
    gammas : number of random candidates, or an array [n_gammas, n_spaces].
    concentration : Dirichlet concentrations the random candidates cycle through.
    alphas, cv, fit_intercept, device, target_chunk : as RidgeCV. random_state : seed.

    Attributes
    ----------
    gammas_ : [n_targets, n_spaces]. alphas_ : [n_targets]. space_alphas_ : [n_targets,
    n_spaces], the effective penalty alpha / gamma_i of each space. cv_scores_ : [n_gammas,
    n_targets], mean negative squared validation error at the best alpha. coef_, intercept_.
    For a 1-D y the target axis is dropped, as in RidgeCV. Sample weights, 1-D y, input checks
    and ``score`` / ``score_targets`` as RidgeCV.
    """

    def __init__(self, space_sizes: Sequence[int] | None = None, gammas=20,
                 concentration: Sequence[float] = (0.1, 1.0), alphas=DEFAULT_ALPHAS, cv=5,
                 fit_intercept: bool = True, device: str = "auto", target_chunk: int = 4096,
                 random_state: int = 0):
        self.space_sizes = space_sizes
        self.gammas = gammas
        self.concentration = concentration
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.device = device
        self.target_chunk = target_chunk
        self.random_state = random_state

    def _candidates(self, n_spaces: int) -> np.ndarray:
        if isinstance(self.gammas, int):
            return dirichlet_gammas(self.gammas, n_spaces, self.concentration, self.random_state)
        gammas = np.asarray(self.gammas, dtype=np.float64)
        if gammas.ndim != 2 or gammas.shape[1] != n_spaces:
            raise BrainencodeError(f"BandedRidgeCV: gammas has shape {gammas.shape}, expected "
                                   f"[n_candidates, {n_spaces}]")
        return gammas

    def fit(self, X, y, groups: np.ndarray | None = None, sample_weight=None) -> BandedRidgeCV:
        """Fit on X (one matrix, or a list of per-space matrices) and y [n_samples] or
        [n_samples, n_targets]; ``groups`` as RidgeCV."""
        X, listed = stack_spaces(X)
        X = check_features(self, X, reset=True)
        sizes = space_widths(X.shape[1], listed, self.space_sizes)
        Y, single = check_targets(self, y, len(X))
        self.device_ = resolve_device(self.device)
        weights = check_weights(sample_weight, X, self.device_)
        self.space_sizes_ = sizes
        candidates = self._candidates(len(sizes))
        alphas = torch.as_tensor(np.asarray(self.alphas, dtype=np.float32), device=self.device_)
        Xt = torch.as_tensor(X, device=self.device_)
        splits = resolve_splits(self.cv, X, groups)
        n_targets = Y.shape[1]
        total = len(X) if weights is None else float(weights.sum())

        best_sse = torch.full((n_targets,), torch.inf, dtype=torch.float64)
        best_gamma = torch.zeros(n_targets, dtype=torch.long)
        best_alpha = torch.zeros(n_targets, dtype=torch.long)
        self.cv_scores_ = np.empty((len(candidates), n_targets), dtype=np.float32)
        invalid = np.zeros(n_targets, dtype=bool)
        for g, gamma in enumerate(candidates):
            bases = fold_bases(Xt * self._column_scale(gamma), splits, self.fit_intercept,
                               weights)
            for chunk in target_chunks(n_targets, self.target_chunk):
                Yc, invalid[chunk] = load_chunk(Y, chunk, self.device_)
                sse, alpha_index = cv_sse(bases, Yc, alphas, self.fit_intercept).min(0)
                sse = sse.cpu()
                better = sse < best_sse[chunk]
                best_sse[chunk] = torch.where(better, sse, best_sse[chunk])
                best_gamma[chunk][better] = g
                best_alpha[chunk][better] = alpha_index.cpu()[better]
                self.cv_scores_[g, chunk] = (-sse / total).numpy()
        warn_invalid(invalid, "BandedRidgeCV.fit")

        self.gammas_ = candidates[best_gamma.numpy()]
        self.alphas_ = alphas.cpu().numpy()[best_alpha.numpy()]
        self.space_alphas_ = self.alphas_[:, None] / self.gammas_
        self._refit(Xt, Y, candidates, best_gamma.numpy(), best_alpha.numpy(), alphas, weights)
        for attribute in ("coef_", "intercept_", "alphas_", "gammas_", "space_alphas_"):
            getattr(self, attribute)[invalid] = np.nan
        if single:
            for attribute in ("coef_", "intercept_", "alphas_", "gammas_", "space_alphas_"):
                setattr(self, attribute, getattr(self, attribute)[0])
            self.cv_scores_ = self.cv_scores_[:, 0]
        return self

    def _column_scale(self, gamma: np.ndarray) -> torch.Tensor:
        scale = np.repeat(np.sqrt(gamma), self.space_sizes_).astype(np.float32)
        return torch.as_tensor(scale, device=self.device_)

    def _refit(self, Xt: torch.Tensor, Y, candidates: np.ndarray, best_gamma: np.ndarray,
               best_alpha: np.ndarray, alphas: torch.Tensor,
               weights: torch.Tensor | None) -> None:
        """Refit on all data, one diagonalization per gamma that some target chose."""
        n_targets = Y.shape[1]
        self.coef_ = np.empty((n_targets, Xt.shape[1]), dtype=np.float32)
        self.intercept_ = np.empty(n_targets, dtype=np.float32)
        x_mean = weighted_mean(Xt, weights) if self.fit_intercept else torch.zeros_like(Xt[0])
        sqrt_weights = None if weights is None else weights.sqrt()
        for g in np.unique(best_gamma):
            scale = self._column_scale(candidates[g])
            U, s, V = thin_svd(scale_rows((Xt - x_mean) * scale, sqrt_weights))
            factors = s[:, None] / (s[:, None] ** 2 + alphas[None])
            for chunk in target_chunks(n_targets, self.target_chunk):
                chosen = np.flatnonzero(best_gamma[chunk] == g)
                if not len(chosen):
                    continue
                Yc, _ = load_chunk(Y, chunk, self.device_)
                Yc = Yc[:, torch.as_tensor(chosen, device=self.device_)]
                index = torch.as_tensor(best_alpha[chunk][chosen], device=self.device_)
                # solved on the scaled, centred features; the intercept is unchanged by the
                # scaling, and the coefficients are mapped back to the unscaled features
                coef, intercept = refit_targets(U, V, factors, Yc, index, x_mean * scale,
                                                self.fit_intercept, weights)
                self.coef_[chunk.start + chosen] = (scale[:, None] * coef).T.cpu().numpy()
                self.intercept_[chunk.start + chosen] = intercept.cpu().numpy()

    def _features(self, X) -> np.ndarray:
        """X of predict: a list of spaces is stacked; the width is checked against the fit."""
        check_is_fitted(self)
        return check_features(self, stack_spaces(X)[0], reset=False)

    def predict(self, X) -> np.ndarray:
        """Predicted responses [n_samples, n_targets], float64 (see RidgeCV.predict)."""
        return predict_linear(self._features(X), self.coef_, self.intercept_)

    def predict_space(self, X, space: int) -> np.ndarray:
        """The part of the prediction carried by one feature space (no intercept)."""
        X = self._features(X)
        edges = np.cumsum([0, *self.space_sizes_])
        columns = slice(edges[space], edges[space + 1])
        return (X[:, columns] @ self.coef_[..., columns].T).astype(np.float64)

    def score_targets(self, X, y, sample_weight=None) -> np.ndarray:
        """R² per target, NaN for constant or NaN targets."""
        return targets_score(y, self.predict(X), sample_weight)

    def score(self, X, y, sample_weight=None) -> float:
        """R², the uniform average over targets (see RidgeCV.score)."""
        return mean_score(self.score_targets(X, y, sample_weight))


def variance_partitioning(X_train: list[np.ndarray], Y_train: np.ndarray,
                          X_test: list[np.ndarray], Y_test: np.ndarray,
                          names: Sequence[str] | None = None, **params) -> dict[str, np.ndarray]:
    """Held-out R² split into what each feature space explains alone and what they share.

    Set-theoretic variance partitioning (Lescroart, Stansbury & Gallant 2015; de Heer et al.
    2017): fit the joint model and, for each space i, the model without it, all scored by R² on
    the test data. unique_i = R²(all) - R²(all but i); shared = R²(all) - sum_i unique_i, which
    for two spaces A, B is R²(A) + R²(B) - R²(A ∪ B). Models with one space use RidgeCV, with
    several BandedRidgeCV; ``params`` go to both (``gammas`` only to the banded ones).
    Returns per-target arrays: 'joint', 'unique_<name>' per space, and 'shared'.
    """
    names = list(names or [f"space{i}" for i in range(len(X_train))])
    if len(names) != len(X_train) or len(X_train) < 2:
        raise BrainencodeError("variance_partitioning: expected at least two feature spaces and "
                               "one name per space")

    def held_out_r2(spaces: list[int]) -> np.ndarray:
        if len(spaces) == 1:
            ridge_params = {k: v for k, v in params.items()
                            if k not in ("gammas", "concentration", "random_state")}
            model = RidgeCV(**ridge_params).fit(X_train[spaces[0]], Y_train)
            return model.score_targets(X_test[spaces[0]], Y_test)
        model = BandedRidgeCV(**params).fit([X_train[i] for i in spaces], Y_train)
        return model.score_targets([X_test[i] for i in spaces], Y_test)

    every = list(range(len(X_train)))
    result = {"joint": held_out_r2(every)}
    for i, name in enumerate(names):
        result[f"unique_{name}"] = result["joint"] - held_out_r2([j for j in every if j != i])
    result["shared"] = result["joint"] - sum(result[f"unique_{name}"] for name in names)
    return result
