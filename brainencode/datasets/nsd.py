"""Natural Scenes Dataset (Allen et al. 2022, Nat Neurosci 25:116): betas + expdesign + COCO.

- ``expdesign``: nsd_expdesign.mat; trial t (0-based, 750 per session) showed the 10k-index
  ``masterordering[t]``, i.e. the image ``subjectim[subject - 1, that - 1]`` (1-based nsdId).
- ``path``: betas of one session, ``{session}`` filled in (01, 02, ...): an HDF5 with ``betas``
  [750, z, y, x] (the released layout) or [750, x, y, z], or a 4D NIfTI [x, y, z, 750]. Values
  are divided by ``betas_scale`` (300 in the release: int16 percent signal change x 300), read
  one trial at a time inside ``mask``, and z-scored per voxel within each session, as NSD's
  papers do; the scaled trials go to a scratch file, from which blocks of voxels are
  z-scored and averaged. With ``space: fsaverage``, ``path`` names NSD's per-hemisphere
  surface betas (``.../fsaverage/betas_fithrf_GLMdenoise_RR/{fs_hemi}.betas_session{session}.mgh``,
  163842 vertices x 1 x 1 x 750 trials): read a block of vertices at a time across sessions.
  Either way one block of targets is held as the responses are written, never the subject.
- ``stim_info``: nsd_stim_info_merged.csv (nsdId 0-based, cocoId, cocoSplit); ``captions``: the
  COCO captions_*.json files; ``images``: a folder of COCO images (found by file name, e.g.
  000000358083.jpg) or nsd_stimuli.hdf5 (``imgBrick``), whose images are written as PNG.
- The stimuli are the images every configured subject saw at least ``min_repeats`` times in
  ``sessions`` (one subject: its images); ``caption`` is the first COCO caption and
  ``captions`` all of them, joined by " | ".
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from PIL import Image

from brainencode.datasets.bids_glm import volume_targets
from brainencode.datasets.checks import read_nifti
from brainencode.datasets.matfiles import field, load_mat
from brainencode.datasets.meshes import Mesh, mesh_of_space
from brainencode.datasets.paths import subject_path
from brainencode.datasets.responses import BLOCK_TARGETS, Responses, TargetBlocks
from brainencode.datasets.stimuli import CAPTION_SEPARATOR, read_stimuli, write_stimuli_table
from brainencode.datasets.surface_atlases import surface_rois
from brainencode.datasets.surface_runs import open_run
from brainencode.errors import BrainencodeError

TRIALS_PER_SESSION = 750
TRIAL_GROUP = 64  # trials read and written to the scratch file at a time


def subject_number(subject: str) -> int:
    digits = "".join(c for c in subject.removeprefix("sub-") if c.isdigit())
    if not digits:
        raise BrainencodeError(f"dataset.subjects: expected NSD subjects like sub-01, got "
                               f"{subject!r}")
    return int(digits)


def session_trials(config: dict, subject: str) -> list[np.ndarray]:
    """Per configured session, the 1-based nsdId shown on each of its trials."""
    path = Path(config["expdesign"])
    design = load_mat(path, "nsd_expdesign.mat")
    order = np.asarray(field(design, "masterordering", path, "the 10k-index of each trial"),
                       int).ravel()
    images = np.atleast_2d(np.asarray(field(design, "subjectim", path,
                                            "[subjects, 10000] nsdIds"), int))
    number = subject_number(subject)
    if number > len(images):
        raise BrainencodeError(f"{path}: subjectim: expected a row for subject {number}, it has "
                               f"{len(images)}")
    out = []
    for session in config["sessions"]:
        trials = order[(session - 1) * TRIALS_PER_SESSION:session * TRIALS_PER_SESSION]
        if len(trials) == 0:
            raise BrainencodeError(f"{path}: masterordering: expected trials for session "
                                   f"{session}")
        out.append(images[number - 1, trials - 1])
    return out


def stimulus_id(nsd_id: int) -> str:
    return f"nsd-{nsd_id:05d}"


def write_stimuli(config: dict, out: Path) -> None:
    minimum = config["min_repeats"]
    chosen = None
    for subject in config["subjects"]:
        shown = pd.Series(np.concatenate(session_trials(config, subject))).value_counts(
            sort=False)
        mine = list(shown.index[shown >= minimum])
        chosen = mine if chosen is None else [i for i in chosen if i in set(mine)]
    if not chosen:
        raise BrainencodeError(f"{config['expdesign']}: expected images shown at least "
                               f"{minimum} times to every subject in sessions "
                               f"{config.get('sessions', [1])}, found none")
    info = pd.read_csv(config["stim_info"])
    for column in ("nsdId", "cocoId"):
        if column not in info.columns:
            raise BrainencodeError(f"{config['stim_info']}: missing column {column!r} (expected "
                                   "nsd_stim_info_merged.csv)")
    coco = dict(zip(info["nsdId"].astype(int) + 1, info["cocoId"].astype(int), strict=True))
    captions = coco_captions(config["captions"])
    paths = image_files(config, chosen, coco, out.parent / "images")
    rows = []
    for nsd_id, image in zip(chosen, paths, strict=True):
        texts = captions.get(coco.get(nsd_id), [])
        if not texts:
            raise BrainencodeError(f"{config['captions']}: expected captions for COCO image "
                                   f"{coco.get(nsd_id)} (nsdId {nsd_id - 1})")
        rows.append({"stimulus_id": stimulus_id(nsd_id), "modality": "image",
                     "path": str(image), "caption": texts[0],
                     "captions": CAPTION_SEPARATOR.join(texts)})
    write_stimuli_table(pd.DataFrame(rows), out)


def coco_entries(name: str, key: str, where: str) -> list[dict]:
    """The ``key`` list ('images' or 'annotations') of a COCO captions JSON file."""
    try:
        return json.loads(Path(name).read_text())[key]
    except (OSError, ValueError, KeyError) as exc:
        raise BrainencodeError(f"{name}: {where}: expected a COCO captions JSON with '{key}' "
                               f"({exc})") from None


def coco_captions(files: list[str], where: str = "dataset.captions") -> dict[int, list[str]]:
    """COCO image id -> its captions, in annotation order."""
    captions: dict[int, list[str]] = {}
    for name in files:
        for a in sorted(coco_entries(name, "annotations", where), key=lambda a: a["id"]):
            captions.setdefault(int(a["image_id"]), []).append(" ".join(a["caption"].split()))
    return captions


def image_files(config: dict, nsd_ids: list[int], coco: dict[int, int],
                export_dir: Path) -> list[Path]:
    source = Path(config["images"])
    if source.suffix in (".hdf5", ".h5"):
        export_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        with h5py.File(source, "r") as f:
            for nsd_id in nsd_ids:
                path = export_dir / f"{stimulus_id(nsd_id)}.png"
                Image.fromarray(np.asarray(f["imgBrick"][nsd_id - 1], np.uint8)).save(path)
                paths.append(path.resolve())
        return paths
    found = {p.name: p for p in source.rglob("*.jpg")}
    paths = []
    for nsd_id in nsd_ids:
        name = f"{coco.get(nsd_id, -1):012d}.jpg"
        if name not in found:
            raise BrainencodeError(f"{source}: dataset.images: expected COCO image {name} "
                                   f"(nsdId {nsd_id - 1})")
        paths.append(found[name].resolve())
    return paths


def session_betas(path: Path, mask: np.ndarray, scale: float, n_trials: int
                  ) -> Iterator[np.ndarray]:
    """One session's betas inside the mask, [up to TRIAL_GROUP trials, n_mask_voxels] at a
    time, in trial order (read one trial at a time); the file must hold ``n_trials``."""
    if path.name.endswith((".nii", ".nii.gz")):
        image = read_nifti(path, "NSD betas", ndim=4)
        if image.shape[:3] != mask.shape:
            raise BrainencodeError(f"{path}: shape: expected the mask's grid {mask.shape}, got "
                                   f"{image.shape[:3]}")
        _check_trials(path, image.shape[3], n_trials)
        for first in range(0, n_trials, TRIAL_GROUP):
            yield np.stack([np.asarray(image.dataobj[..., t], np.float32)[mask]
                            for t in range(first, min(first + TRIAL_GROUP, n_trials))]) / scale
        return
    try:
        with h5py.File(path, "r") as f:
            betas = f["betas"]
            if betas.shape[1:] == mask.shape[::-1]:
                grid_mask = mask.T
            elif betas.shape[1:] == mask.shape:
                grid_mask = mask
            else:
                raise BrainencodeError(f"{path}: betas: expected [trials, *mask grid] with "
                                       f"grid {mask.shape} (or reversed), got {betas.shape}")
            _check_trials(path, betas.shape[0], n_trials)
            # column of each voxel in the order of np.argwhere(mask), whatever the grid order
            column = np.full(mask.shape, -1)
            column[mask] = np.arange(int(mask.sum()))
            column = (column.T if grid_mask is not mask else column)[grid_mask]
            for first in range(0, n_trials, TRIAL_GROUP):
                out = np.empty((min(TRIAL_GROUP, n_trials - first), len(column)), np.float32)
                for t in range(len(out)):
                    out[t, column] = betas[first + t][grid_mask]
                yield out / scale
    except (OSError, KeyError) as exc:
        raise BrainencodeError(f"{path}: betas: cannot read NSD betas ({exc})") from None


def _check_trials(path: Path, found: int, expected: int) -> None:
    if found != expected:
        raise BrainencodeError(f"{path}: betas: expected {expected} trials, got {found}")


def _zscore(betas: np.ndarray) -> np.ndarray:
    """Per target within one session, as NSD's papers do."""
    std = betas.std(axis=0)
    return (betas - betas.mean(axis=0)) / np.where(std > 0, std, 1)


def _missing(config: dict, subject: str, stimuli: Path, ids: list[str], counts: list[int]):
    missing = [ids[i] for i, n in enumerate(counts) if not n]
    if missing:
        raise BrainencodeError(f"{config['expdesign']}: expected {subject} to have seen every "
                               f"stimulus of {stimuli}, {missing[0]!r} is not in its sessions")


def session_rows(ids: list[str], trials: np.ndarray) -> np.ndarray:
    """The stimulus row of each trial of a session (-1: an image not among the stimuli)."""
    position = {s: i for i, s in enumerate(ids)}
    return np.asarray([position.get(stimulus_id(nsd_id), -1) for nsd_id in trials])


@dataclass(frozen=True)
class Presentations:
    """Which stimulus each trial showed (``rows``, -1: none of them), over the sessions in
    order, and which showing of that stimulus each trial was (``occurrence``, 0 the first):
    from these a block of z-scored trials becomes the mean per stimulus and its first
    ``n_repeats`` showings."""

    rows: np.ndarray
    occurrence: np.ndarray
    counts: np.ndarray
    n_repeats: int  # kept as repeats (0: none)

    @classmethod
    def of(cls, config: dict, subject: str, stimuli: Path, ids: list[str],
           rows: np.ndarray) -> Presentations:
        counts = np.zeros(len(ids), int)
        occurrence = np.full(len(rows), -1)
        for t, row in enumerate(rows):
            if row >= 0:
                occurrence[t] = counts[row]
                counts[row] += 1
        _missing(config, subject, stimuli, ids, list(counts))
        n_repeats = int(counts.min())
        keep = n_repeats >= 2 and config["min_repeats"] >= 2
        return cls(rows, occurrence, counts, n_repeats if keep else 0)

    def average(self, betas: np.ndarray, trials: slice = slice(None),
                out: tuple[np.ndarray, np.ndarray | None] | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """Add the z-scored ``betas`` [trials, block] (the trials ``trials`` of all) to the
        per-stimulus sums and repeats of ``out`` (new ones when None), in trial order."""
        width = betas.shape[1]
        if out is None:
            out = (np.zeros((len(self.counts), width), np.float32),
                   np.empty((self.n_repeats, len(self.counts), width), np.float32)
                   if self.n_repeats else None)
        sums, repeats = out
        rows, occurrence = self.rows[trials], self.occurrence[trials]
        shown = rows >= 0
        np.add.at(sums, rows[shown], betas[shown])
        if repeats is not None:
            kept = shown & (occurrence < self.n_repeats)
            repeats[occurrence[kept], rows[kept]] = betas[kept]
        return out

    def mean(self, out: tuple[np.ndarray, np.ndarray | None]
             ) -> tuple[np.ndarray, np.ndarray | None]:
        sums, repeats = out
        return sums / self.counts.astype(np.float32)[:, None], repeats


def load_surface(config: dict, subject: str, stimuli: Path, mesh: Mesh) -> Responses:
    """NSD's fsaverage betas: per block of vertices, every session read, scaled, z-scored and
    its trials averaged per image (repeats kept as the volume route keeps them); the blocks
    are read as the responses are written (TargetBlocks), never the whole subject."""
    ids = list(read_stimuli(stimuli)["stimulus_id"])
    runs, rows = [], []
    for session, trials in zip(config["sessions"], session_trials(config, subject), strict=True):
        run = open_run(subject_path(config["path"], subject, session=f"{session:02d}"), mesh,
                       "NSD betas")
        if run.n_samples != len(trials):
            raise BrainencodeError(f"{run.files[0].path}: betas: expected {len(trials)} trials, "
                                   f"got {run.n_samples}")
        runs.append(run)
        rows.append(session_rows(ids, trials))
    shown = Presentations.of(config, subject, stimuli, ids, np.concatenate(rows))
    bounds = np.cumsum([0, *(len(r) for r in rows)])

    def read(piece: slice) -> tuple[np.ndarray, np.ndarray | None]:
        out = None
        for run, first, last in zip(runs, bounds[:-1], bounds[1:], strict=True):
            betas = _zscore(run.columns(piece) / config["betas_scale"])
            out = shown.average(betas, slice(first, last), out)
        return shown.mean(out)

    targets = runs[0].targets
    roi = np.full(targets.n_targets, "all")
    if "atlas" in config:
        roi = surface_rois(str(subject_path(config["atlas"], subject)), targets,
                           config.get("atlas_labels"))
    return Responses(data=TargetBlocks(len(ids), targets.n_targets, read, shown.n_repeats),
                     stimulus_ids=ids, roi=roi, subject=subject, **targets.fields(),
                     attrs={"modality": "fmri", "space": config["space"]}
                     | targets.responses_attrs())


def load(config: dict, subject: str, stimuli: Path) -> Responses:
    """Volume betas: each session read and scaled TRIAL_GROUP trials at a time into a scratch
    HDF5 in the temporary folder ($TMPDIR; the trials' size, chunked by blocks of voxels);
    as the responses are written (TargetBlocks), each block of voxels is z-scored per
    session and averaged per image. One group of trials or one block is held, never the
    subject."""
    mesh = mesh_of_space(config["space"])
    if mesh is not None:
        return load_surface(config, subject, stimuli, mesh)
    ijk, roi, mask_image = volume_targets(config, subject)
    mask = np.asarray(mask_image.dataobj) > 0
    ids = list(read_stimuli(stimuli)["stimulus_id"])
    sessions = list(zip(config["sessions"], session_trials(config, subject), strict=True))
    rows = [session_rows(ids, trials) for _, trials in sessions]
    shown = Presentations.of(config, subject, stimuli, ids, np.concatenate(rows))
    n_voxels = int(mask.sum())
    bounds = np.cumsum([0, *(len(r) for r in rows)])
    scratch = tempfile.TemporaryDirectory(prefix="brainencode-nsd-")
    with h5py.File(Path(scratch.name) / "trials.h5", "w") as f:
        scaled = f.create_dataset("betas", (bounds[-1], n_voxels), np.float32,
                                  chunks=(min(TRIAL_GROUP, bounds[-1]),
                                          min(BLOCK_TARGETS, n_voxels)))
        for (session, trials), first in zip(sessions, bounds[:-1], strict=True):
            path = subject_path(config["path"], subject, session=f"{session:02d}")
            for group in session_betas(path, mask, config["betas_scale"], len(trials)):
                scaled[first:first + len(group)] = group
                first += len(group)

    def read(piece: slice) -> tuple[np.ndarray, np.ndarray | None]:
        with h5py.File(Path(scratch.name) / "trials.h5", "r") as f:  # kept while read lives
            betas = f["betas"][:, piece]
        out = None
        for first, last in zip(bounds[:-1], bounds[1:], strict=True):
            out = shown.average(_zscore(betas[first:last]), slice(first, last), out)
        return shown.mean(out)

    return Responses(data=TargetBlocks(len(ids), n_voxels, read, shown.n_repeats),
                     stimulus_ids=ids, roi=roi, subject=subject, ijk=ijk,
                     attrs={"modality": "fmri", "space": config["space"],
                            "affine": mask_image.affine.ravel(),
                            "shape": np.array(mask.shape)})
