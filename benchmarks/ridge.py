"""Ridge against himalaya, from one run: time, peak memory and the GEMM-bound minimum.

    python benchmarks/ridge.py                 # the issue's problem, (4000, 768, 20000)
    python benchmarks/ridge.py --small         # a quick look, (1000, 256, 4000)

Each fit runs in its own child process so its peak RSS is its own (ru_maxrss of the child).
The GEMM-bound minimum counts the floating-point operations the per-fold SVD method cannot
avoid (U^T Y per fold, one validation prediction per fold and alpha, the refit) and divides
them by the float32 matmul throughput measured in this run. The throughput moves between runs
on a shared machine (121-177 GFLOP/s on one 2-core machine in one day), so it is measured
before, between and after the fits, and the ratio is given against the fastest and the median
of those measurements.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

ALPHAS = np.logspace(-2, 6, 20)
FOLDS = 5
N_TEST = 1000  # held-out rows (same weights) on which both fits' r are compared


def make_data(n: int, p: int, t: int, spaces: int = 1, seed: int = 0):
    """X [n, p * spaces] and Y [n, t] = X W (a signal-to-noise ratio per target) + noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p * spaces), dtype=np.float32)
    Y = np.empty((n, t), dtype=np.float32)
    snr = np.logspace(-1, 0.5, t, dtype=np.float32)
    for start in range(0, t, 1000):  # in blocks, so generating Y does not set the peak RSS
        block = slice(start, min(start + 1000, t))
        W = rng.standard_normal((p * spaces, block.stop - start), dtype=np.float32)
        Y[:, block] = (X @ W) * (snr[block] / np.sqrt(p * spaces))
        Y[:, block] += rng.standard_normal((n, block.stop - start), dtype=np.float32)
    return X, Y


def child(which: str, n: int, p: int, t: int, n_gammas: int) -> None:
    """Fit one estimator and print its time, peak RSS and chosen hyperparameters as JSON."""
    import torch
    from sklearn.model_selection import KFold

    torch.set_num_threads(torch.get_num_threads())
    banded = which.endswith("banded")
    X, Y = make_data(n + N_TEST, p, t, spaces=2 if banded else 1)
    (X, X_test), (Y, Y_test) = np.split(X, [n]), np.split(Y, [n])
    gammas = np.random.default_rng(0).dirichlet([1.0, 1.0], max(n_gammas, 1))
    gammas[0] = 0.5
    cv = KFold(FOLDS)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if which == "ours":
        from brainencode.encoders import RidgeCV

        model = RidgeCV(alphas=ALPHAS, cv=cv, device="cpu").fit(X, Y)
        chosen = model.alphas_
    elif which == "ours-banded":
        from brainencode.encoders import BandedRidgeCV

        model = BandedRidgeCV(space_sizes=[p, p], gammas=gammas, alphas=ALPHAS, cv=cv,
                              device="cpu").fit(X, Y)
        chosen = np.log(model.gammas_.T / model.alphas_)
    else:
        from himalaya.backend import set_backend

        set_backend("numpy")
        if which == "himalaya":
            from himalaya.ridge import RidgeCV as Himalaya

            model = Himalaya(alphas=ALPHAS, cv=cv, fit_intercept=True,
                             solver_params={"warn": False}).fit(X, Y)
            chosen = model.best_alphas_
        else:
            from himalaya.ridge import BandedRidgeCV as Himalaya

            params = {"n_iter": gammas, "alphas": ALPHAS, "progress_bar": False}
            model = Himalaya(groups=np.repeat([0, 1], p), solver_params=params, cv=cv,
                             fit_intercept=True).fit(X, Y)
            chosen = model.deltas_
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r = pearson_columns(np.asarray(model.predict(X_test)), Y_test)
    best_cv = np.asarray(model.cv_scores_, dtype=np.float64)
    best_cv = best_cv.max(0) if best_cv.ndim == 2 else best_cv
    np.savez(f"/tmp/benchmark-ridge-{which}.npz", chosen=np.asarray(chosen, dtype=np.float64),
             best_cv=best_cv, r=r)
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "data_mb": rss_data}))


def run_child(which: str, n: int, p: int, t: int, n_gammas: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", which, str(n), str(p), str(t),
                          str(n_gammas)], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    saved = np.load(f"/tmp/benchmark-ridge-{which}.npz")
    return result | {key: saved[key] for key in ("chosen", "best_cv", "r")}


def pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each column of a with the same column of b (float64)."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def matmul_gflops(device: str = "cpu") -> float:
    """float32 matmul throughput of a 4000 x 4000 product on ``device`` (after one warm-up)."""
    import torch

    a, b = torch.randn(4000, 4000, device=device), torch.randn(4000, 4000, device=device)
    a @ b
    repeats = 20 if device == "cuda" else 5
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return repeats * 2 * 4000**3 / (time.perf_counter() - start) / 1e9


def ridge_flops(n: int, p: int, t: int, n_alphas: int) -> float:
    """Multiply-adds x 2 of the per-fold SVD method with a rank-min(n_train, p) basis."""
    n_val = n // FOLDS
    n_train = n - n_val
    rank = min(n_train, p)
    per_fold = rank * n_train * t + n_alphas * n_val * rank * t
    refit = min(n, p) * n * t + p * min(n, p) * t
    return 2.0 * (FOLDS * per_fold + refit)


def report(name: str, ours: dict, theirs: dict, same_tol: float) -> None:
    same = np.isclose(ours["chosen"], theirs["chosen"], rtol=same_tol)
    same = same.all(0) if same.ndim == 2 else same
    gap = np.abs(ours["best_cv"] - theirs["best_cv"]) / np.abs(theirs["best_cv"])
    delta_r = np.abs(ours["r"] - theirs["r"])
    print(f"{name}: ours {ours['seconds']:.1f} s, {ours['peak_mb']:.0f} MB peak RSS "
          f"(data alone {ours['data_mb']:.0f} MB) | himalaya {theirs['seconds']:.1f} s, "
          f"{theirs['peak_mb']:.0f} MB | speed-up x{theirs['seconds'] / ours['seconds']:.1f} | "
          f"same hyperparameters for {same.mean():.2%} of targets | held-out r "
          f"(n = {N_TEST}) differs by at most {delta_r.max():.1e}")
    if not same.all():
        print(f"  where they differ, the best CV losses differ by at most {gap[~same].max():.1e} "
              f"(relative; median over all targets {np.median(gap):.1e}); where they agree, "
              f"held-out r differs by at most {delta_r[same].max():.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--child", nargs=5)
    args = parser.parse_args()
    if args.child:
        which, *sizes = args.child
        child(which, *map(int, sizes))
        return
    n, p, t = (1000, 256, 4000) if args.small else (4000, 768, 20000)
    gflops = [matmul_gflops()]
    ours = run_child("ours", n, p, t, 0)
    gflops.append(matmul_gflops())
    theirs = run_child("himalaya", n, p, t, 0)
    gflops.append(matmul_gflops())
    again = run_child("ours", n, p, t, 0)
    gflops.append(matmul_gflops())
    print("float32 matmul throughput before, between and after the fits: "
          + ", ".join(f"{g:.0f}" for g in gflops) + " GFLOP/s")
    report(f"RidgeCV ({n}, {p}, {t}), {len(ALPHAS)} alphas, {FOLDS} folds", ours, theirs, 1e-5)
    flops = ridge_flops(n, p, t, len(ALPHAS)) / 1e9
    best = min(ours["seconds"], again["seconds"])
    print(f"  ours again {again['seconds']:.1f} s; GEMM-bound minimum {flops / max(gflops):.1f} s "
          f"at the fastest throughput, {flops / np.median(gflops):.1f} s at the median: ours "
          f"(faster of its two fits) reaches {flops / max(gflops) / best:.0%} and "
          f"{flops / np.median(gflops) / best:.0%} of it")

    nb, pb, tb, n_gammas = (1000, 128, 2000, 10) if args.small else (2000, 256, 5000, 10)
    ours, theirs = (run_child("ours-banded", nb, pb, tb, n_gammas),
                    run_child("himalaya-banded", nb, pb, tb, n_gammas))
    report(f"BandedRidgeCV ({nb}, 2 x {pb}, {tb}), {n_gammas} gammas x {len(ALPHAS)} alphas",
           ours, theirs, 1e-4)


if __name__ == "__main__":
    main()
