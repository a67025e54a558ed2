"""Ridge regression with a separate penalty per target, chosen by inner cross-validation."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import h5py
import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold
from sklearn.utils.validation import (
    _check_sample_weight,
    assert_all_finite,
    check_array,
    check_is_fitted,
    validate_data,
)

from brainencode.encoders.metrics import r2_score
from brainencode.errors import BrainencodeError

DEFAULT_ALPHAS = tuple(np.logspace(-2, 6, 20))
STACK_ROWS = 512  # validation rows of the alphas that share one GEMM
SSE_COLUMNS = 512  # targets per block of those stacked predictions


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


def weighted_mean(A: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Column means of A, weighted by the rows' sample weights when there are any."""
    return A.mean(0) if weights is None else (weights @ A) / weights.sum()


def scale_rows(A: torch.Tensor, sqrt_weights: torch.Tensor | None) -> torch.Tensor:
    return A if sqrt_weights is None else A * sqrt_weights[:, None]


def row_runs(rows: torch.Tensor, most: int = 4) -> list[tuple[slice, slice]] | None:
    """``rows`` as at most ``most`` runs of consecutive row numbers, each as (its positions in
    ``rows``, the rows it covers), so that those rows are read as views instead of gathered
    (an unshuffled KFold's training rows are one or two runs); None when they are more."""
    index = rows.cpu().numpy()
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    if index.size == 0 or len(breaks) >= most:
        return None
    edges = [0, *breaks.tolist(), index.size]
    return [(slice(a, b), slice(int(index[a]), int(index[b - 1]) + 1))
            for a, b in zip(edges[:-1], edges[1:], strict=False)]


@dataclass
class FoldBasis:
    """One inner fold, diagonalized once: validation predictions for any alpha and target are
    ``(A * s / (s^2 + alpha)) @ (U^T Y_train)``. With sample weights w the training rows are
    scaled by sqrt(w) after weighted centring (weighted least squares), and the validation
    rows too, so that the error is the weighted one. U is orthogonal to sqrt(w) (to the
    constant vector without weights) when the features are centred, so Y_train needs no
    centring for that product."""

    train: torch.Tensor
    val: torch.Tensor
    U: torch.Tensor
    s: torch.Tensor
    A: torch.Tensor  # centred (and row-scaled) validation features @ V
    weights: torch.Tensor | None = None  # of the training rows
    val_scale: torch.Tensor | None = None  # sqrt of the validation rows' weights

    def __post_init__(self):
        self.train_runs = row_runs(self.train)
        self.val_runs = row_runs(self.val, most=1)

    def train_product(self, Y: torch.Tensor, fit_intercept: bool
                      ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """U^T Y_train (rows scaled by sqrt(w)), and Y_train's (weighted) column means when
        there is an intercept. Without weights the training rows are read run by run, as
        views, and the product is accumulated over the runs."""
        if self.weights is not None or self.train_runs is None:
            Ytr = Y[self.train]
            mean = weighted_mean(Ytr, self.weights) if fit_intercept else None
            sqrt_w = None if self.weights is None else self.weights.sqrt()
            return self.U.T @ scale_rows(Ytr, sqrt_w), mean
        UtY = torch.zeros(self.U.shape[1], Y.shape[1], dtype=Y.dtype, device=Y.device)
        total = torch.zeros_like(Y[0]) if fit_intercept else None
        for positions, rows in self.train_runs:
            UtY.addmm_(self.U[positions].T, Y[rows])
            if fit_intercept:
                total += Y[rows].sum(0)
        return UtY, None if total is None else total / len(self.train)

    def validation_targets(self, Y: torch.Tensor, mean: torch.Tensor | None) -> torch.Tensor:
        """Y_val, centred on the training mean and row-scaled like A (a view of Y when the
        validation rows are one run and nothing changes them)."""
        Yval = Y[self.val_runs[0][1]] if self.val_runs else Y[self.val]
        if mean is not None:
            Yval = Yval - mean
        return scale_rows(Yval, self.val_scale)


def fold_bases(X: torch.Tensor, splits: list[tuple[np.ndarray, np.ndarray]],
               fit_intercept: bool, weights: torch.Tensor | None = None) -> list[FoldBasis]:
    bases = []
    for train, val in splits:
        train_t = torch.as_tensor(train, device=X.device)
        val_t = torch.as_tensor(val, device=X.device)
        Xtr, Xval = X[train_t], X[val_t]
        w_train = None if weights is None else weights[train_t]
        val_scale = None if weights is None else weights[val_t].sqrt()
        if fit_intercept:
            mean = weighted_mean(Xtr, w_train)
            Xtr, Xval = Xtr - mean, Xval - mean
        if weights is not None:
            Xtr, Xval = scale_rows(Xtr, w_train.sqrt()), scale_rows(Xval, val_scale)
        U, s, V = thin_svd(Xtr)
        bases.append(FoldBasis(train_t, val_t, U, s, Xval @ V, w_train, val_scale))
    return bases


def cv_sse(bases: list[FoldBasis], Y: torch.Tensor, alphas: torch.Tensor,
           fit_intercept: bool) -> torch.Tensor:
    """Summed (weighted) squared validation error over folds, [n_alphas, n_targets] (float64).

    Per fold, the validation predictions of several alphas come from one GEMM when the fold's
    validation rows are few (a demo fold has 32): their scaled bases stacked as rows
    ([k * n_val, rank], k * n_val up to ``STACK_ROWS``) times U^T Y. A fold with more rows
    gets one GEMM per alpha, whose residual comes out of the GEMM itself (addmm with beta -1).
    Either way ``SSE_COLUMNS`` targets go at a time, so that the block's residuals are
    squared and summed while still in cache (a demo-sized fit, 200 x 192 x 15000, takes
    0.36 s instead of 0.55). The flops are those of one product per alpha.
    """
    sse = torch.zeros(len(alphas), Y.shape[1], dtype=torch.float64, device=Y.device)
    for fold in bases:
        UtY, mean = fold.train_product(Y, fit_intercept)
        Yval = fold.validation_targets(Y, mean)
        n_val, rank = fold.A.shape
        factors = fold.s / (fold.s**2 + alphas[:, None].to(fold.s.dtype))  # [n_alphas, rank]
        k = max(1, STACK_ROWS // n_val)
        for first in range(0, len(alphas), k):
            some = slice(first, first + k)
            stacked = (fold.A[None] * factors[some, None, :]).reshape(-1, rank)
            for block in target_chunks(Y.shape[1], SSE_COLUMNS):
                if k == 1:
                    residual = torch.addmm(Yval[:, block], stacked, UtY[:, block], beta=-1)
                    sse[first, block] += residual.square_().sum(0)
                else:
                    predicted = stacked @ UtY[:, block]
                    residual = predicted.view(-1, n_val, predicted.shape[1]
                                              ).sub_(Yval[:, block])
                    sse[some, block] += residual.square_().sum(1)
    return sse


def refit_targets(U: torch.Tensor, V: torch.Tensor, factors: torch.Tensor, Y: torch.Tensor,
                  alpha_index: torch.Tensor, x_mean: torch.Tensor, fit_intercept: bool,
                  weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients [n_features, n_targets] and intercepts on all data, each target with its
    own alpha: V diag(factors[:, alpha]) U^T sqrt(w) (Y - mean), factors = s / (s^2 + alpha),
    U, s, V of the (weighted-)centred, row-scaled features."""
    y_mean = weighted_mean(Y, weights) if fit_intercept else torch.zeros_like(Y[0])
    centred = scale_rows(Y - y_mean, None if weights is None else weights.sqrt())
    coef = V @ (factors[:, alpha_index] * (U.T @ centred))
    return coef, y_mean - x_mean @ coef


def predict_linear(X: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Predicted responses [n_samples, n_targets] (or [n_samples] for 1-D coef), float64.

    Computed in float64 (one GEMM, small beside the fit): a heavily regularized target's
    prediction varies by far less than float32 resolves around a large intercept, and a
    float32 product of a row depends on where the row falls in the BLAS blocks, so
    predictions would change with the order of the samples.
    """
    return (np.asarray(X, dtype=np.float64) @ coef.T.astype(np.float64)
            + np.asarray(intercept, dtype=np.float64))


def check_features(estimator: BaseEstimator, X, reset: bool) -> np.ndarray:
    """X as scikit-learn checks it: 2-D, numeric, finite, not sparse, not empty; float32. Fit
    (reset) records ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame), predict
    refuses another width in one line."""
    X = validate_data(estimator, X, reset=reset, dtype=np.float32)
    return np.require(X, requirements=["C", "W"])  # torch warns on read-only memory (memmaps)


def check_targets(estimator: BaseEstimator, y, n_samples: int):
    """y as 2-D targets and whether it was 1-D. Arrays, lists and pandas objects are checked
    (numeric; a 1-D y finite, a 2-D one may hold NaN targets, which are warned about and get
    NaN coefficients); an h5py dataset passes unread, to be streamed in chunks."""
    name = type(estimator).__name__
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None")
    if not isinstance(y, h5py.Dataset):
        y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y",
                        ensure_all_finite=False)
        if y.ndim == 1:
            assert_all_finite(y, input_name="y")
    if len(y.shape) not in (1, 2):
        raise ValueError(f"{name}.fit: y: expected [n_samples] or [n_samples, n_targets], got "
                         f"shape {y.shape}")
    if y.shape[0] != n_samples:
        raise BrainencodeError(f"{name}.fit: X has {n_samples} rows but Y has {y.shape[0]}: "
                               "expected one row per stimulus in both")
    return (y[:, None], True) if len(y.shape) == 1 else (y, False)


def check_weights(sample_weight, X: np.ndarray, device: torch.device) -> torch.Tensor | None:
    """Sample weights as scikit-learn checks them (one finite, non-negative weight per row),
    on ``device``; None without weights, so the unweighted path does no extra work."""
    if sample_weight is None:
        return None
    weights = _check_sample_weight(sample_weight, X, dtype=np.float32, ensure_non_negative=True)
    return torch.as_tensor(weights, device=device)


def targets_score(y_true: np.ndarray, y_pred: np.ndarray, sample_weight) -> np.ndarray:
    """R² per target (metrics.r2_score; weighted when there are sample weights)."""
    y_true = check_array(y_true, ensure_2d=False, dtype="numeric", ensure_all_finite=False,
                         input_name="y")
    weights = None if sample_weight is None else _check_sample_weight(sample_weight, y_pred)
    return r2_score(y_true, y_pred, weights)


def mean_score(per_target: np.ndarray) -> float:
    """The uniform average over targets, as scikit-learn's multi-output ``score``; targets
    without a score (NaN: constant or NaN) are left out."""
    finite = np.asarray(per_target)[np.isfinite(per_target)]
    return float(finite.mean()) if finite.size else np.nan


class RidgeTags:
    """Tags shared by the two estimators: regressors for one target or many."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


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
    return torch.as_tensor(np.require(block, requirements=["C", "W"]), device=device), invalid


def resolve_splits(cv, X: np.ndarray, groups: np.ndarray | None) -> list:
    """The inner folds: ``cv`` is a number of folds, a splitter, or (as in scikit-learn) an
    iterable of (train, validation) index arrays."""
    if isinstance(cv, int | np.integer):
        cv = KFold(int(cv))
    return list(cv.split(X, None, groups)) if hasattr(cv, "split") else list(cv)


class RidgeCV(RidgeTags, RegressorMixin, BaseEstimator):
    """Ridge regression, one alpha per target, chosen by K-fold CV on the training data.

    Each inner fold is diagonalized once, X_train = U diag(s) V^T (thin_svd), and reused for
    every alpha and every target: the ridge solution is V diag(s / (s^2 + alpha)) U^T Y. The
    alpha with the smallest summed squared validation error (the criterion of himalaya's
    RidgeCV, l2 loss) is kept per target, then the model is refit on all the data. Sample
    weights make every step weighted least squares (weighted centring, rows scaled by
    sqrt(w), weighted validation error), as scikit-learn's Ridge. Targets are streamed in
    chunks of ``target_chunk`` columns, so Y may be larger than memory (an h5py dataset works)
    and peak memory stays near one chunk beyond X. NaN or constant targets of a 2-D Y are
    warned about and get NaN coefficients; a 1-D y must be finite.

    Parameters
    ----------
    alphas : penalties to try. cv : number of folds or a scikit-learn splitter.
    fit_intercept : centre X and Y on the training data. device : 'auto', 'cpu' or 'cuda'.
    target_chunk : targets solved at once.

    Attributes
    ----------
    alphas_ : [n_targets] chosen alpha. cv_scores_ : [n_alphas, n_targets] mean negative
    squared validation error. coef_ : [n_targets, n_features]. intercept_ : [n_targets].
    For a 1-D y, the target axis is dropped (coef_ [n_features], a float alpha), as in
    scikit-learn. n_features_in_ (and feature_names_in_ for a DataFrame X).
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, fit_intercept: bool = True,
                 device: str = "auto", target_chunk: int = 4096):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.device = device
        self.target_chunk = target_chunk

    def fit(self, X, y, groups: np.ndarray | None = None, sample_weight=None) -> RidgeCV:
        """Fit on X [n_samples, n_features] and y [n_samples] or [n_samples, n_targets];
        ``groups`` keep groups together in the inner folds of a group splitter."""
        X = check_features(self, X, reset=True)
        Y, single = check_targets(self, y, len(X))
        self.device_ = resolve_device(self.device)
        weights = check_weights(sample_weight, X, self.device_)
        alphas = torch.as_tensor(np.asarray(self.alphas, dtype=np.float32), device=self.device_)
        Xt = torch.as_tensor(X, device=self.device_)
        bases = fold_bases(Xt, resolve_splits(self.cv, X, groups), self.fit_intercept, weights)
        x_mean = weighted_mean(Xt, weights) if self.fit_intercept else torch.zeros_like(Xt[0])
        U, s, V = thin_svd(scale_rows(Xt - x_mean, None if weights is None else weights.sqrt()))
        factors = s[:, None] / (s[:, None] ** 2 + alphas[None])  # [rank, n_alphas]
        total = len(X) if weights is None else float(weights.sum())

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
            coef, intercept = refit_targets(U, V, factors, Yc, best, x_mean, self.fit_intercept,
                                            weights)
            self.alphas_[chunk] = alphas[best].cpu().numpy()
            self.cv_scores_[:, chunk] = (-sse / total).cpu().numpy()
            self.coef_[chunk] = coef.T.cpu().numpy()
            self.intercept_[chunk] = intercept.cpu().numpy()
        warn_invalid(invalid, "RidgeCV.fit")
        self.coef_[invalid] = np.nan
        self.intercept_[invalid] = np.nan
        self.alphas_[invalid] = np.nan
        if single:
            self.coef_, self.intercept_ = self.coef_[0], self.intercept_[0]
            self.alphas_, self.cv_scores_ = self.alphas_[0], self.cv_scores_[:, 0]
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted responses [n_samples, n_targets] ([n_samples] after a 1-D y), float64
        (see predict_linear)."""
        check_is_fitted(self)
        return predict_linear(check_features(self, X, reset=False), self.coef_, self.intercept_)

    def score_targets(self, X, y, sample_weight=None) -> np.ndarray:
        """R² per target (as himalaya's ``score``), NaN for constant or NaN targets."""
        return targets_score(y, self.predict(X), sample_weight)

    def score(self, X, y, sample_weight=None) -> float:
        """R², the uniform average over targets (scikit-learn's multi-output ``score``);
        per-target values come from score_targets."""
        return mean_score(self.score_targets(X, y, sample_weight))
