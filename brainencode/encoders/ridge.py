"""Ridge regression with a separate penalty per target, chosen by inner cross-validation."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold

from brainencode.errors import BrainencodeError

DEFAULT_ALPHAS = tuple(np.logspace(-2, 6, 20))


def resolve_device(device: str) -> torch.device:
    """'auto' picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class RidgeCV(RegressorMixin, BaseEstimator):
    """Ridge regression, one alpha per target, chosen by K-fold CV on the training data.

    Each fold is solved with one thin SVD of its centred training features,
    X = U diag(s) V^T, reused for every alpha and every target: the ridge solution is
    V diag(s / (s^2 + alpha)) U^T Y. The alpha with the smallest summed squared validation error
    (the criterion of himalaya's RidgeCV, l2 loss) is kept per target, then the model is refit
    on all the data. Targets are processed in chunks so memory stays bounded.

    Parameters
    ----------
    alphas : penalties to try. cv : number of folds or a scikit-learn splitter.
    fit_intercept : centre X and Y on the training data. device : 'auto', 'cpu' or 'cuda'.
    target_chunk : targets solved at once.
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, fit_intercept: bool = True,
                 device: str = "auto", target_chunk: int = 8192):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.device = device
        self.target_chunk = target_chunk

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device_)

    def _svd(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        U, s, Vh = torch.linalg.svd(X, full_matrices=False)
        keep = s > s[0] * max(X.shape) * torch.finfo(s.dtype).eps
        return U[:, keep], s[keep], Vh[keep].T

    def fit(self, X: np.ndarray, Y: np.ndarray, groups: np.ndarray | None = None) -> RidgeCV:
        X = np.asarray(X)
        Y = np.asarray(Y)
        if Y.ndim == 1:
            Y = Y[:, None]
        if X.shape[0] != Y.shape[0]:
            raise BrainencodeError(f"RidgeCV.fit: X has {X.shape[0]} rows but Y has "
                                   f"{Y.shape[0]}: expected one row per stimulus in both")
        self.device_ = resolve_device(self.device)
        alphas = self._tensor(np.asarray(self.alphas, dtype=np.float64))
        Xt, Yt = self._tensor(X), self._tensor(Y)
        n_targets = Y.shape[1]
        splitter = KFold(self.cv) if isinstance(self.cv, int) else self.cv
        sse = torch.zeros(len(alphas), n_targets, device=self.device_)
        for train, val in splitter.split(X, Y, groups):
            Xtr, Xval = Xt[train], Xt[val]
            Ytr, Yval = Yt[train], Yt[val]
            if self.fit_intercept:
                x_mean, y_mean = Xtr.mean(0), Ytr.mean(0)
                Xtr, Xval = Xtr - x_mean, Xval - x_mean
                Ytr, Yval = Ytr - y_mean, Yval - y_mean
            U, s, V = self._svd(Xtr)
            XvalV = Xval @ V
            for chunk in self._chunks(n_targets):
                UtY = U.T @ Ytr[:, chunk]
                for a, alpha in enumerate(alphas):
                    prediction = (XvalV * (s / (s**2 + alpha))) @ UtY
                    sse[a, chunk] += ((Yval[:, chunk] - prediction) ** 2).sum(0)
        best = sse.argmin(0)
        self.alphas_ = alphas[best].cpu().numpy()
        self.cv_scores_ = (-sse / len(X)).cpu().numpy()  # mean negative squared error per alpha

        x_mean = Xt.mean(0) if self.fit_intercept else torch.zeros_like(Xt[0])
        y_mean = Yt.mean(0) if self.fit_intercept else torch.zeros_like(Yt[0])
        U, s, V = self._svd(Xt - x_mean)
        factors = s[:, None] / (s[:, None] ** 2 + alphas[None])  # [rank, n_alphas]
        coef = torch.empty(X.shape[1], n_targets, device=self.device_)
        for chunk in self._chunks(n_targets):
            UtY = U.T @ (Yt[:, chunk] - y_mean[chunk])
            coef[:, chunk] = V @ (factors[:, best[chunk]] * UtY)
        self.coef_ = coef.T.cpu().numpy()  # [n_targets, n_features], as in scikit-learn
        self.intercept_ = (y_mean - x_mean @ coef).cpu().numpy()
        return self

    def _chunks(self, n: int):
        for start in range(0, n, self.target_chunk):
            yield slice(start, min(start + self.target_chunk, n))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted responses [n_samples, n_targets], float64.

        The product is computed in float32, the intercept added in float64: for a heavily
        regularized target the prediction varies by far less than float32 resolves around a
        large intercept, and rounding it would distort the correlation scored on it.
        """
        product = np.asarray(X, dtype=np.float32) @ self.coef_.T
        return product.astype(np.float64) + self.intercept_.astype(np.float64)
