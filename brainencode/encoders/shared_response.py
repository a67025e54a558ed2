"""The deterministic shared response model (SRM; Chen et al. 2015, NeurIPS), as brainiak's
``brainiak.funcalign.srm.DetSRM`` computes it.

Each subject i's responses X_i [n_samples, n_voxels_i] (z-scored per voxel) are modelled as a
shared response S [n_samples, k] seen through the subject's own orthonormal adapter W_i
[n_voxels_i, k]: X_i ~ S W_i^T, minimizing sum_i ||X_i - S W_i^T||^2. Alternating updates:
W_i is the orthogonal Procrustes solution U V^T of the SVD of X_i^T S, and S = mean_i X_i W_i.
brainiak starts from random orthonormal adapters; so does this (seeded), and runs ``n_iter``
iterations (brainiak's default 10). A new subject needs only its adapter, the Procrustes step
against the shared response on the stimuli it saw (brainiak's ``transform_subject``): the
shallow subject-specific layer of "See Through Their Minds" (Wang et al. 2024) in its linear,
closed-form version. Voxel counts may differ between subjects.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

from brainencode.errors import BrainencodeError


def procrustes_adapter(X: np.ndarray, S: np.ndarray) -> np.ndarray:
    """The orthonormal W [n_voxels, k] minimizing ||X - S W^T||: U V^T of svd(X^T S), the
    orthonormal polar factor of X^T S (``scipy.linalg.polar``)."""
    U, _, Vt = np.linalg.svd(X.T @ S, full_matrices=False)
    return U @ Vt


class SharedResponseModel(BaseEstimator):
    """Deterministic SRM (see the module docstring).

    Attributes
    ----------
    adapters_ : list of [n_voxels_i, n_components] orthonormal adapters, one per subject.
    shared_response_ : [n_samples, n_components], the mean of the subjects' projections.
    """

    def __init__(self, n_components: int = 8, n_iter: int = 10, seed: int = 0):
        self.n_components = n_components
        self.n_iter = n_iter
        self.seed = seed

    def fit(self, X: list[np.ndarray], y=None) -> SharedResponseModel:
        """Fit on one array per subject, [n_samples, n_voxels_i], the same samples in the
        same order for every subject."""
        X = [check_array(x, dtype=np.float64) for x in X]
        if len({len(x) for x in X}) != 1:
            raise BrainencodeError("SharedResponseModel.fit: expected the same samples for "
                                   f"every subject, got {[len(x) for x in X]} rows")
        narrow = [x.shape[1] for x in X if x.shape[1] < self.n_components]
        if narrow:
            raise BrainencodeError(f"SharedResponseModel.fit: n_components is "
                                   f"{self.n_components}, a subject has only {narrow[0]} "
                                   "voxels; lower n_components")
        rng = np.random.default_rng(self.seed)
        adapters = [np.linalg.qr(rng.standard_normal((x.shape[1], self.n_components)))[0]
                    for x in X]
        shared = np.mean([x @ w for x, w in zip(X, adapters, strict=True)], axis=0)
        for _ in range(self.n_iter):
            adapters = [procrustes_adapter(x, shared) for x in X]
            shared = np.mean([x @ w for x, w in zip(X, adapters, strict=True)], axis=0)
        self.adapters_, self.shared_response_ = adapters, shared
        return self

    def transform_subject(self, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """A new subject's adapter from its responses X to the fitted samples ``rows`` (all
        of them by default): the Procrustes step against the shared response."""
        check_is_fitted(self)
        shared = self.shared_response_ if rows is None else self.shared_response_[rows]
        return procrustes_adapter(check_array(X, dtype=np.float64), shared)
