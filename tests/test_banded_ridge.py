"""BandedRidgeCV against himalaya, and variance partitioning on planted feature spaces."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold

from brainencode.encoders import BandedRidgeCV, variance_partitioning
from brainencode.encoders.metrics import pearson_r

ALPHAS = np.logspace(-2, 6, 20)


def _two_spaces(n: int, seed: int = 0):
    """Targets mix space A and space B in proportions that sweep from all-A to all-B."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, 30)).astype(np.float32)
    B = rng.standard_normal((n, 50)).astype(np.float32)
    mix = np.linspace(0, 1, 120)
    signal = (A @ rng.standard_normal((30, 120)) / np.sqrt(30) * np.sqrt(1 - mix)
              + B @ rng.standard_normal((50, 120)) / np.sqrt(50) * np.sqrt(mix))
    Y = 2 * signal + rng.standard_normal((n, 120)) + 5.0
    return A, B, Y.astype(np.float32), mix


def test_hyperparameters_and_predictions_agree_with_himalaya():
    from himalaya.backend import set_backend
    from himalaya.ridge import BandedRidgeCV as HimalayaBandedRidgeCV

    set_backend("numpy")
    A, B, Y, _ = _two_spaces(400)
    train, test = slice(0, 300), slice(300, None)
    gammas = np.random.default_rng(0).dirichlet([1.0, 1.0], 15)
    gammas[0] = 0.5
    cv = KFold(5)
    ours = BandedRidgeCV(gammas=gammas, alphas=ALPHAS, cv=cv, device="cpu").fit(
        [A[train], B[train]], Y[train])
    theirs = HimalayaBandedRidgeCV(
        groups=np.repeat([0, 1], [30, 50]), cv=cv, fit_intercept=True,
        solver_params={"n_iter": gammas, "alphas": ALPHAS, "progress_bar": False},
    ).fit(np.hstack([A, B])[train].astype(np.float64), Y[train].astype(np.float64))
    deltas = np.log(ours.gammas_.T / ours.alphas_)  # himalaya's parametrization
    same = np.isclose(deltas, theirs.deltas_, rtol=1e-4).all(0)
    assert same.mean() >= 0.99
    r_ours = pearson_r(Y[test], ours.predict([A[test], B[test]]))
    r_theirs = pearson_r(Y[test], theirs.predict(np.hstack([A, B])[test].astype(np.float64)))
    assert np.max(np.abs(r_ours - r_theirs)[same]) < 1e-4
    np.testing.assert_allclose(ours.space_alphas_, ours.alphas_[:, None] / ours.gammas_)


def test_space_penalties_follow_which_space_drives_the_target():
    A, B, Y, mix = _two_spaces(600)
    model = BandedRidgeCV(space_sizes=[30, 50], gammas=20, alphas=ALPHAS,
                          device="cpu").fit(np.hstack([A, B]), Y)
    log_ratio = np.log10(model.space_alphas_[:, 0] / model.space_alphas_[:, 1])
    assert np.median(log_ratio[mix < 0.1]) < -1  # A-driven: A is penalized far less
    assert np.median(log_ratio[mix > 0.9]) > 1
    split = model.predict_space([A, B], 0) + model.predict_space([A, B], 1)
    np.testing.assert_allclose(split + model.intercept_, model.predict([A, B]), atol=1e-4)


def test_variance_partitioning_finds_unique_and_shared_variance():
    """Space A = [Z, a], space B = [Z, b]: targets driven by Z are shared, by a unique to A."""
    rng = np.random.default_rng(5)
    n = 800
    Z, a, b = (rng.standard_normal((n, 10)).astype(np.float32) for _ in range(3))
    A, B = np.hstack([Z, a]), np.hstack([Z, b])
    Y = np.hstack([Z @ rng.standard_normal((10, 20)), a @ rng.standard_normal((10, 20))])
    Y = (Y / np.sqrt(10) + 0.5 * rng.standard_normal(Y.shape)).astype(np.float32)
    train, test = slice(0, 600), slice(600, None)
    parts = variance_partitioning([A[train], B[train]], Y[train], [A[test], B[test]], Y[test],
                                  names=["A", "B"], gammas=10, alphas=ALPHAS, device="cpu")
    shared_targets, unique_targets = slice(0, 20), slice(20, 40)
    assert parts["joint"].mean() > 0.7
    assert parts["shared"][shared_targets].mean() > 0.6
    assert abs(parts["unique_A"][shared_targets].mean()) < 0.05
    assert parts["unique_A"][unique_targets].mean() > 0.6
    assert abs(parts["unique_B"][unique_targets].mean()) < 0.05
    total = parts["shared"] + parts["unique_A"] + parts["unique_B"]
    np.testing.assert_allclose(total, parts["joint"], atol=1e-6)
