"""Decoding with many more voxels than stimuli: the dual form against the primal form and
scikit-learn, from one run: time and peak memory.

    python benchmarks/decoding.py              # the issue's problem: 200k voxels -> 768 features
    python benchmarks/decoding.py --small      # a quick look: 20k voxels -> 256 features

The decoder reads ``n`` stimuli x ``voxels`` responses and predicts ``features`` targets, one
penalty per target chosen by 5-fold CV among 20 (ours) or by leave-one-out GCV (scikit-learn's
``RidgeCV(alpha_per_target=True)``, which also works from the n x n Gram matrix when the
features outnumber the samples), then predicts 200 new stimuli. Each fit runs in its own child
process, and its peak memory is that child's VmHWM above what it held with the libraries
imported and the data made (the same in every child). Ratios are against the dual form.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

ALPHAS = np.logspace(-2, 6, 20)
N_TEST = 200


def make_data(n: int, voxels: int, features: int, seed: int = 0):
    """Responses that carry a 64-dimensional projection of the features, plus noise."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n + N_TEST, features), dtype=np.float32)
    X = np.empty((n + N_TEST, voxels), dtype=np.float32)
    mix = rng.standard_normal((features, 64), dtype=np.float32) / np.sqrt(features)
    latent = F @ mix
    for start in range(0, voxels, 20000):  # in blocks: generating X does not set the peak
        block = slice(start, min(start + 20000, voxels))
        X[:, block] = latent @ rng.standard_normal((64, block.stop - start), dtype=np.float32)
        X[:, block] += 2 * rng.standard_normal((n + N_TEST, block.stop - start),
                                               dtype=np.float32)
    return X[:n], F[:n], X[n:], F[n:]


def peak_gb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def child(which: str, n: int, voxels: int, features: int) -> None:
    import sklearn.linear_model  # noqa: F401  every child holds the same libraries
    import torch  # noqa: F401

    X, Y, X_test, Y_test = make_data(n, voxels, features)
    data_gb = peak_gb()
    start = time.perf_counter()
    if which == "dual":
        from brainencode.encoders.kernel_ridge import KernelRidgeCV

        prediction = KernelRidgeCV(alphas=ALPHAS, cv=5, device="cpu").fit(X, Y).predict(X_test)
    elif which == "primal":
        from brainencode.encoders import RidgeCV

        prediction = RidgeCV(alphas=ALPHAS, cv=5, device="cpu").fit(X, Y).predict(X_test)
    else:
        from sklearn.linear_model import RidgeCV as SklearnRidgeCV

        prediction = SklearnRidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X, Y).predict(
            X_test)
    seconds = time.perf_counter() - start
    yt, yp = Y_test - Y_test.mean(0), prediction - prediction.mean(0)
    r = (yt * yp).sum(0) / np.sqrt((yt**2).sum(0) * (yp**2).sum(0))
    print(json.dumps({"seconds": seconds, "peak_gb": peak_gb(), "data_gb": data_gb,
                      "mean_r": float(np.mean(r))}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n, voxels, features = (500, 20000, 256) if args.small else (1000, 200000, 768)
    if args.child:
        child(args.child, n, voxels, features)
        return
    print(f"decoding {n} stimuli x {voxels} voxels -> {features} features, "
          f"{N_TEST} test stimuli")
    results = {}
    for which in ("dual", "primal", "sklearn"):
        out = subprocess.run([sys.executable, __file__, "--child", which,
                              *(["--small"] if args.small else [])],
                             capture_output=True, text=True, check=True)
        results[which] = json.loads(out.stdout.strip().splitlines()[-1])
    base = results["dual"]
    base_gb = base["peak_gb"] - base["data_gb"]
    for which, res in results.items():
        above = res["peak_gb"] - res["data_gb"]
        print(f"{which:8s} {res['seconds']:7.1f} s ({res['seconds'] / base['seconds']:.2f}x)  "
              f"peak {above:.2f} GB above the data ({above / base_gb:.2f}x; libraries and "
              f"data {res['data_gb']:.2f} GB)  mean test r {res['mean_r']:.3f}")


if __name__ == "__main__":
    main()
