"""Ridge regression with a separate penalty per target, chosen by inner cross-validation."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold

from brainencode.encoders.metrics import r2_score
from brainencode.errors import BrainencodeError

DEFAULT_ALPHAS = tuple(np.logspace(-2, 6, 20))


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def thin_svd(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """X = U diag(s) V^T, rank-truncated, from an eigendecomposition of the smaller Gram matrix.

    The Gram matrix (X^T X or X X^T) is formed and diagonalized in float64, so singular values
    stay accurate far below the float32 resolution of s^2; U and V are returned in X's dtype.
    Directions with s below the float32 rank tolerance (s_max * max(n, p) * eps) are dropped.
    """
    n, p = X.shape
    X64 = X.double()
    eigenvalues, vectors = torch.linalg.eigh(X64.T @ X64 if n >= p else X64 @ X64.T)
    s = eigenvalues.clamp(min=0).sqrt().flip(0)
    vectors = vectors.flip(1)
    keep = s > s[0] * max(n, p) * torch.finfo(X.dtype).eps
    s, vectors = s[keep], vectors[:, keep]
    if n >= p:
        V = vectors
        U = (X64 @ V) / s
    else:
        U = vectors
        V = (X64.T @ U) / s
    return U.to(X.dtype), s.to(X.dtype), V.to(X.dtype)


def invalid_targets(Y: np.ndarray) -> np.ndarray:
    """Targets with any NaN/inf or no variance: they cannot be fitted or scored."""
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(Y).all(0) | (Y.max(0) == Y.min(0))


def warn_invalid(invalid: np.ndarray, where: str, first_target: int = 0) -> None:
    """Warn once about NaN or constant targets, naming the first few by index (counted from
    ``first_target`` when ``invalid`` covers one chunk of the targets)."""
    if invalid.any():
        first = (np.flatnonzero(invalid)[:5] + first_target).tolist()
        warnings.warn(f"{where}: {int(invalid.sum())} of {invalid.size} targets are NaN or "
                      f"constant (first: {first}); they get NaN coefficients and NaN scores",
                      RuntimeWarning, stacklevel=3)


def check_rows(X: np.ndarray, Y: np.ndarray, where: str) -> None:
    if X.shape[0] != Y.shape[0]:
        raise BrainencodeError(f"{where}: X has {X.shape[0]} rows but Y has {Y.shape[0]}: "
                               "expected one row per stimulus in both")


@dataclass
class FoldBasis:
    """One inner fold, diagonalized once: validation predictions for any alpha and target are
    ``(A * s / (s^2 + alpha)) @ (U^T Y_train)``; U is orthogonal to the constant vector when
    the training features are centred, so Y_train needs no centring for that product."""

    train: torch.Tensor
    val: torch.Tensor
    U: torch.Tensor
    s: torch.Tensor
    A: torch.Tensor  # centred validation features @ V


def fold_bases(X: torch.Tensor, splits: list[tuple[np.ndarray, np.ndarray]],
               fit_intercept: bool) -> list[FoldBasis]:
    bases = []
    for train, val in splits:
        train_t = torch.as_tensor(train, device=X.device)
        val_t = torch.as_tensor(val, device=X.device)
        Xtr, Xval = X[train_t], X[val_t]
        if fit_intercept:
            mean = Xtr.mean(0)
            Xtr, Xval = Xtr - mean, Xval - mean
        U, s, V = thin_svd(Xtr)
        bases.append(FoldBasis(train_t, val_t, U, s, Xval @ V))
    return bases


def cv_sse(bases: list[FoldBasis], Y: torch.Tensor, alphas: torch.Tensor,
           fit_intercept: bool) -> torch.Tensor:
    """Summed squared validation error over folds, [n_alphas, n_targets] (float64).

    One GEMM per fold and alpha, with the subtraction fused into it (addmm), so the cost is
    the GEMM-bound minimum of the method.
    """
    sse = torch.zeros(len(alphas), Y.shape[1], dtype=torch.float64, device=Y.device)
    for fold in bases:
        Ytr, Yval = Y[fold.train], Y[fold.val]
        if fit_intercept:
            Yval = Yval - Ytr.mean(0)
        UtY = fold.U.T @ Ytr
        for a, alpha in enumerate(alphas):
            residual = torch.addmm(Yval, fold.A * (fold.s / (fold.s**2 + alpha)), UtY, alpha=-1)
            sse[a] += residual.square_().sum(0)
    return sse


def refit_targets(U: torch.Tensor, V: torch.Tensor, factors: torch.Tensor, Y: torch.Tensor,
                  alpha_index: torch.Tensor, x_mean: torch.Tensor, fit_intercept: bool
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients [n_features, n_targets] and intercepts on all data, each target with its
    own alpha: V diag(factors[:, alpha]) U^T (Y - mean), factors = s / (s^2 + alpha)."""
    y_mean = Y.mean(0) if fit_intercept else torch.zeros_like(Y[0])
    coef = V @ (factors[:, alpha_index] * (U.T @ (Y - y_mean)))
    return coef, y_mean - x_mean @ coef


def predict_linear(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Predicted responses [n_samples, n_targets], float64.

    The product is computed in float32, the intercept added in float64: for a heavily
    regularized target the prediction varies by far less than float32 resolves around a
    large intercept, and rounding it would distort the correlation scored on it.
    """
    product = np.asarray(X, dtype=np.float32) @ coef.T
    return product.astype(np.float64) + intercept.astype(np.float64)


def as_targets(Y):
    """Y as a 2-D array-like; h5py datasets pass through unread, to be streamed in chunks."""
    if not hasattr(Y, "shape"):
        Y = np.asarray(Y)
    return Y[:, None] if len(Y.shape) == 1 else Y


def target_chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def load_chunk(Y, chunk: slice, device: torch.device) -> tuple[torch.Tensor, np.ndarray]:
    """One block of target columns as float32 on ``device`` (Y may be an array or an h5py
    dataset), with invalid targets zeroed, and the mask of those targets."""
    block = np.asarray(Y[:, chunk], dtype=np.float32)
    invalid = invalid_targets(block)
    if invalid.any():
        block = block.copy()
        block[:, invalid] = 0.0
    return torch.as_tensor(np.ascontiguousarray(block), device=device), invalid


def resolve_splits(cv, X: np.ndarray, groups: np.ndarray | None) -> list:
    splitter = KFold(cv) if isinstance(cv, int) else cv
    return list(splitter.split(X, None, groups))


class RidgeCV(RegressorMixin, BaseEstimator):
    """Ridge regression, one alpha per target, chosen by K-fold CV on the training data.

    Each inner fold is diagonalized once, X_train = U diag(s) V^T (thin_svd), and reused for
    every alpha and every target: the ridge solution is V diag(s / (s^2 + alpha)) U^T Y. The
    alpha with the smallest summed squared validation error (the criterion of himalaya's
    RidgeCV, l2 loss) is kept per target, then the model is refit on all the data. Targets are
    streamed in chunks of ``target_chunk`` columns, so Y may be larger than memory (an h5py
    dataset works) and peak memory stays near one chunk beyond X. NaN or constant targets are
    warned about and get NaN coefficients.

    Parameters
    ----------
    alphas : penalties to try. cv : number of folds or a scikit-learn splitter.
    fit_intercept : centre X and Y on the training data. device : 'auto', 'cpu' or 'cuda'.
    target_chunk : targets solved at once.

    Attributes
    ----------
    alphas_ : [n_targets] chosen alpha. cv_scores_ : [n_alphas, n_targets] mean negative
    squared validation error. coef_ : [n_targets, n_features]. intercept_ : [n_targets].
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, fit_intercept: bool = True,
                 device: str = "auto", target_chunk: int = 4096):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.device = device
        self.target_chunk = target_chunk

    def fit(self, X: np.ndarray, Y, groups: np.ndarray | None = None) -> RidgeCV:
        X = np.asarray(X, dtype=np.float32)
        Y = as_targets(Y)
        check_rows(X, Y, "RidgeCV.fit")
        self.device_ = resolve_device(self.device)
        alphas = torch.as_tensor(np.asarray(self.alphas, dtype=np.float32), device=self.device_)
        Xt = torch.as_tensor(X, device=self.device_)
        bases = fold_bases(Xt, resolve_splits(self.cv, X, groups), self.fit_intercept)
        x_mean = Xt.mean(0) if self.fit_intercept else torch.zeros_like(Xt[0])
        U, s, V = thin_svd(Xt - x_mean)
        factors = s[:, None] / (s[:, None] ** 2 + alphas[None])  # [rank, n_alphas]

        n_targets = Y.shape[1]
        self.alphas_ = np.empty(n_targets, dtype=np.float32)
        self.cv_scores_ = np.empty((len(alphas), n_targets), dtype=np.float32)
        self.coef_ = np.empty((n_targets, X.shape[1]), dtype=np.float32)
        self.intercept_ = np.empty(n_targets, dtype=np.float32)
        invalid = np.zeros(n_targets, dtype=bool)
        for chunk in target_chunks(n_targets, self.target_chunk):
            Yc, invalid[chunk] = load_chunk(Y, chunk, self.device_)
            sse = cv_sse(bases, Yc, alphas, self.fit_intercept)
            best = sse.argmin(0)
            coef, intercept = refit_targets(U, V, factors, Yc, best, x_mean, self.fit_intercept)
            self.alphas_[chunk] = alphas[best].cpu().numpy()
            self.cv_scores_[:, chunk] = (-sse / len(X)).cpu().numpy()
            self.coef_[chunk] = coef.T.cpu().numpy()
            self.intercept_[chunk] = intercept.cpu().numpy()
        warn_invalid(invalid, "RidgeCV.fit")
        self.coef_[invalid] = np.nan
        self.intercept_[invalid] = np.nan
        self.alphas_[invalid] = np.nan
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted responses [n_samples, n_targets], float64 (see predict_linear)."""
        return predict_linear(X, self.coef_, self.intercept_)

    def score(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """R² per target (as himalaya's ``score``), NaN for constant or NaN targets."""
        return r2_score(np.asarray(as_targets(Y)), self.predict(X))
