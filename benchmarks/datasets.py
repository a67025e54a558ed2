"""Peak memory of reading NSD-scale responses in target chunks, against the array's size.

    python benchmarks/datasets.py                    # 30000 trials x 200000 voxels (24 GB)
    python benchmarks/datasets.py --trials 3000 --targets 20000

Writes a synthetic float32 responses HDF5 of that shape (chunked by targets, as
write_responses does) into --dir, then, in a child process so the peak RSS is its own, streams
it through the encoders' chunk reader (`target_chunks` + `load_chunk`) and computes every
target's mean and standard deviation. Prints the peak RSS of that pass, the size of the whole
array, and their ratio: reading everything at once would need at least the whole array.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np


def write(path: Path, trials: int, targets: int, chunk: int) -> None:
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        data = f.create_dataset("data", (trials, targets), np.float32,
                                chunks=(trials, min(chunk, targets)))
        for start in range(0, targets, chunk):
            stop = min(start + chunk, targets)
            data[:, start:stop] = rng.standard_normal((trials, stop - start), np.float32)


def stream(path: str, chunk: int) -> dict:
    import torch

    from brainencode.encoders.ridge import load_chunk, target_chunks

    start = time.perf_counter()
    with h5py.File(path, "r") as f:
        Y = f["data"]
        means = np.empty(Y.shape[1], np.float32)
        stds = np.empty(Y.shape[1], np.float32)
        for piece in target_chunks(Y.shape[1], chunk):
            block, _ = load_chunk(Y, piece, torch.device("cpu"))
            means[piece] = block.mean(0).numpy()
            stds[piece] = block.std(0).numpy()
    return {"seconds": time.perf_counter() - start,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
            "mean_of_means": float(means.mean()), "mean_std": float(stds.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30_000)
    parser.add_argument("--targets", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=4096, help="targets per chunk")
    parser.add_argument("--dir", default=None, help="where to write the array (needs its size)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(stream(args.child[0], int(args.child[1]))))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "responses.h5"
        start = time.perf_counter()
        write(path, args.trials, args.targets, args.chunk)
        print(f"wrote {args.trials} x {args.targets} float32 "
              f"({path.stat().st_size / 1e9:.1f} GB) in {time.perf_counter() - start:.0f} s")
        child = subprocess.run([sys.executable, __file__, "--child", str(path), str(args.chunk)],
                               capture_output=True, text=True, check=True)
        result = json.loads(child.stdout)
    array_gb = args.trials * args.targets * 4 / 1e9
    chunk_gb = args.trials * args.chunk * 4 / 1e9
    print(f"chunked read ({args.chunk} targets a chunk, {chunk_gb:.2f} GB each): "
          f"{result['seconds']:.0f} s, peak RSS {result['peak_rss_gb']:.2f} GB")
    print(f"whole array {array_gb:.1f} GB; peak RSS / array size = "
          f"{result['peak_rss_gb'] / array_gb:.3f}")
    print(f"check: mean of target means {result['mean_of_means']:+.4f} (0 expected), "
          f"mean target std {result['mean_std']:.4f} (1 expected)")


if __name__ == "__main__":
    main()
