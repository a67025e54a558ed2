"""Ridge in its dual (linear-kernel) form, for many more features than samples.

Decoding reads a stimulus out of 10^4-10^5 voxels with a few hundred to a few thousand stimuli:
the primal coefficients [n_features, n_targets] (200k voxels x 768 features: 0.6 GB in float32,
twice that in float64 for prediction) are never formed. Everything goes through the n x n
Gram matrix K = X X^T and the dual coefficients (K + alpha I)^-1 Y [n_samples, n_targets], as
himalaya's ``KernelRidgeCV`` with a linear kernel (gallantlab/himalaya,
``himalaya/kernel_ridge/_random_search.py``) and scikit-learn's ``KernelRidge``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from brainencode.encoders.ridge import (
    DEFAULT_ALPHAS,
    FoldBasis,
    RidgeTags,
    check_features,
    check_targets,
    cv_sse,
    load_chunk,
    mean_score,
    resolve_device,
    resolve_splits,
    target_chunks,
    targets_score,
    warn_invalid,
)

FEATURE_BLOCK = 16384  # columns of X multiplied at once when forming the Gram matrix


def gram(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """A @ B^T in float64, accumulated over blocks of columns (no float64 copy of A or B)."""
    out = torch.zeros(len(A), len(B), dtype=torch.float64, device=A.device)
    for start in range(0, A.shape[1], FEATURE_BLOCK):
        block = slice(start, start + FEATURE_BLOCK)
        out += (A[:, block].double() @ B[:, block].double().T)
    return out


def centre_kernel(K_rows: torch.Tensor, K_train: torch.Tensor) -> torch.Tensor:
    """Kernel rows of centred features, (x - m)(x_j - m)^T with m the training rows' mean,
    from the uncentred kernel: K_rows [n, n_train] between any rows and the training rows,
    K_train [n_train, n_train] between the training rows."""
    return (K_rows - K_rows.mean(1, keepdim=True) - K_train.mean(0, keepdim=True)
            + K_train.mean())


def kernel_eigh(K_train: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvectors Q and sqrt-eigenvalues s of a centred training kernel, largest first, the
    directions below the float32 rank tolerance dropped (as ridge.thin_svd): K = Q diag(s^2) Q^T,
    so Q and s are the U and s of the thin SVD of the centred features."""
    eigenvalues, Q = torch.linalg.eigh(K_train)
    s = eigenvalues.clamp(min=0).sqrt().flip(0)
    Q = Q.flip(1)
    keep = s > s[0] * len(K_train) * torch.finfo(dtype).eps
    return Q[:, keep], s[keep]


class KernelRidgeCV(RidgeTags, RegressorMixin, BaseEstimator):
    """Linear ridge fitted in the dual, one alpha per target chosen by inner K-fold CV.

    The same estimator as ridge.RidgeCV (the same folds, alphas, criterion and refit; the
    predictions agree to float precision), computed from the Gram matrix: each inner fold's
    centred training kernel is diagonalized once, K_tr = Q diag(s^2) Q^T, and the validation
    predictions for every alpha are K_val,tr Q diag(1 / (s^2 + alpha)) Q^T Y_tr (ridge.cv_sse
    with A = K_val,tr Q / s). The refit keeps the dual coefficients
    Q diag(1 / (s^2 + alpha_t)) Q^T (Y - mean) and the training features, and predicts
    (X - m) (X_fit - m)^T dual_coef_ + mean. Memory is the features plus n x n, never
    n_features x n_targets; time n^2 n_features for the kernels.

    Attributes
    ----------
    alphas_ : [n_targets]. dual_coef_ : [n_samples, n_targets]. X_fit_ : the training
    features (float32). intercept_ : [n_targets], the training targets' mean. n_features_in_.
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, device: str = "auto",
                 target_chunk: int = 4096):
        self.alphas = alphas
        self.cv = cv
        self.device = device
        self.target_chunk = target_chunk

    def fit(self, X, y, groups: np.ndarray | None = None) -> KernelRidgeCV:
        """Fit on X [n_samples, n_features] and y [n_samples] or [n_samples, n_targets];
        ``groups`` keep groups together in the inner folds of a group splitter."""
        X = check_features(self, X, reset=True)
        Y, single = check_targets(self, y, len(X))
        self.device_ = resolve_device(self.device)
        alphas = torch.as_tensor(np.asarray(self.alphas, dtype=np.float64), device=self.device_)
        Xt = torch.as_tensor(X, device=self.device_)
        K = gram(Xt, Xt)
        bases = []
        for train, val in resolve_splits(self.cv, X, groups):
            train_t = torch.as_tensor(train, device=self.device_)
            val_t = torch.as_tensor(val, device=self.device_)
            K_tr = K[train_t][:, train_t]
            Q, s = kernel_eigh(centre_kernel(K_tr, K_tr), Xt.dtype)
            A = centre_kernel(K[val_t][:, train_t], K_tr) @ Q / s
            bases.append(FoldBasis(train_t, val_t, Q, s, A))
        Q, s = kernel_eigh(centre_kernel(K, K), Xt.dtype)
        inverse = 1.0 / (s[:, None] ** 2 + alphas[None])  # [rank, n_alphas]

        n_targets = Y.shape[1]
        self.alphas_ = np.empty(n_targets)
        self.dual_coef_ = np.empty((len(X), n_targets))
        self.intercept_ = np.empty(n_targets)
        invalid = np.zeros(n_targets, dtype=bool)
        for chunk in target_chunks(n_targets, self.target_chunk):
            Yc, invalid[chunk] = load_chunk(Y, chunk, self.device_)
            Yc = Yc.double()
            best = cv_sse(bases, Yc, alphas, fit_intercept=True).argmin(0)
            mean = Yc.mean(0)
            dual = Q @ (inverse[:, best] * (Q.T @ (Yc - mean)))
            self.alphas_[chunk] = alphas[best].cpu().numpy()
            self.dual_coef_[:, chunk] = dual.cpu().numpy()
            self.intercept_[chunk] = mean.cpu().numpy()
        warn_invalid(invalid, "KernelRidgeCV.fit")
        self.alphas_[invalid] = np.nan
        self.dual_coef_[:, invalid] = np.nan
        self.intercept_[invalid] = np.nan
        self.X_fit_ = X
        self.K_fit_mean_ = K.mean(0).cpu().numpy()  # for centring the test kernel
        if single:
            self.dual_coef_, self.intercept_ = self.dual_coef_[:, 0], self.intercept_[0]
            self.alphas_ = self.alphas_[0]
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted targets [n_samples, n_targets] ([n_samples] after a 1-D y), float64."""
        check_is_fitted(self)
        X = check_features(self, X, reset=False)
        device = self.device_
        K_fit_mean = torch.as_tensor(self.K_fit_mean_, device=device)
        Xt = torch.as_tensor(X, device=device)
        X_fit = torch.as_tensor(self.X_fit_, device=device)
        K_test = gram(Xt, X_fit)
        centred = K_test - K_test.mean(1, keepdim=True) - K_fit_mean[None] + K_fit_mean.mean()
        dual = torch.as_tensor(self.dual_coef_, device=device)
        return (centred @ dual).cpu().numpy() + self.intercept_

    def score_targets(self, X, y) -> np.ndarray:
        """R² per target, NaN for constant or NaN targets."""
        return targets_score(y, self.predict(X), None)

    def score(self, X, y, sample_weight=None) -> float:
        """R², the uniform average over targets (scikit-learn's multi-output ``score``)."""
        return mean_score(targets_score(y, self.predict(X), sample_weight))
