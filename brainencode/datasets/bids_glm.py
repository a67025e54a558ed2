"""BIDS fMRI runs + events.tsv -> single-trial betas with nilearn's first-level GLM.

Each event of ``events.tsv`` is one trial of the stimulus named by its ``stimulus_id`` column
(or, without one, by its ``trial_type``); trial types listed in ``glm.ignore_trial_types`` (e.g.
fixation) are modelled as nuisance conditions but are not stimuli. Two estimators
(Mumford et al. 2012, NeuroImage 59:2636):

- LSA (least squares all): one GLM per run with one regressor per trial;
- LSS (least squares separate): one GLM per trial, with that trial as one regressor and every
  other trial in regressors per condition; less collinear when trials are close in time.

Design matrices are nilearn's (``make_first_level_design_matrix``: HRF, cosine drifts), the fit
is nilearn's ``run_glm`` (OLS or AR(1)), on signals scaled to percent of the voxel mean, as
``FirstLevelModel(signal_scaling=0)`` does; the tests check LSA against FirstLevelModel.
A stimulus seen in several runs gets one beta per occurrence: ``repeats`` keeps them when every
stimulus has the same number, ``data`` is their mean.

When ``space`` names a mesh, the runs are fMRIPrep's surface outputs under ``derivatives``
(``_hemi-L_space-fsaverage5_bold.func.gii`` and its R, or ``_space-fsLR_den-91k_bold.dtseries
.nii``), their events in the raw ``bids_root``; the same GLM is fitted a block of vertices at a
time (what nilearn's FirstLevelModel does for a SurfaceImage: the tests compare).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.datasets import bids_names
from brainencode.datasets.checks import check_events, check_table, read_nifti, require
from brainencode.datasets.meshes import Mesh, mesh_of_space
from brainencode.datasets.paths import subject_path
from brainencode.datasets.responses import Responses
from brainencode.datasets.stimuli import average_presentations, read_stimuli
from brainencode.datasets.surface_atlases import surface_rois
from brainencode.datasets.surface_runs import SurfaceRun, open_run, same_layout
from brainencode.datasets.surfaces import sidecar_json
from brainencode.datasets.tables import label_names
from brainencode.errors import BrainencodeError


def repetition_time(bold: Path, image) -> float:
    """RepetitionTime from the BIDS JSON sidecar, else from the NIfTI header (a surface run:
    its CIFTI series step or GIFTI TimeStep)."""
    sidecar = bold.with_name(bold.name.replace(".nii.gz", ".json").replace(".nii", ".json"))
    if isinstance(image, SurfaceRun):
        path = image.files[0].path
        if "RepetitionTime" in sidecar_json(path):
            return _seconds(sidecar_json(path), path)
        tr = image.files[0].step_s() or 0.0
    elif sidecar.is_file():
        try:
            return float(json.loads(sidecar.read_text())["RepetitionTime"])
        except (KeyError, ValueError, TypeError) as exc:
            raise BrainencodeError(f"{sidecar}: RepetitionTime: expected seconds ({exc})") from None
    else:
        tr = float(image.header.get_zooms()[3]) if image.ndim == 4 else 0.0
    if tr <= 0:
        raise BrainencodeError(f"{bold}: RepetitionTime: expected it in the .json sidecar or "
                               "the file's header")
    return tr


def _seconds(sidecar: dict, path: Path) -> float:
    try:
        return float(sidecar["RepetitionTime"])
    except (ValueError, TypeError) as exc:
        raise BrainencodeError(f"{path}: RepetitionTime (JSON sidecar): expected seconds "
                               f"({exc})") from None


def volume_targets(config: dict, subject: str) -> tuple[np.ndarray, np.ndarray, object]:
    """Mask voxels (ijk), their ROI names (from ``atlas`` + ``atlas_labels``) and the mask."""
    mask_image = read_nifti(subject_path(config["mask"], subject), "dataset.mask (brain mask)",
                            ndim=3)
    mask = np.asarray(mask_image.dataobj) > 0
    roi = np.full(int(mask.sum()), "all", dtype=object)
    if "atlas" in config:
        atlas_path = subject_path(config["atlas"], subject)
        atlas = np.asarray(read_nifti(atlas_path, "dataset.atlas (ROI labels)", ndim=3).dataobj)
        if atlas.shape != mask.shape:
            raise BrainencodeError(f"{atlas_path}: shape: expected the mask's grid {mask.shape}, "
                                   f"got {atlas.shape}")
        names = label_names(config["atlas_labels"]) if "atlas_labels" in config else {}
        values = atlas[mask].astype(int)
        roi = np.array([names.get(v, f"label-{v}") if v else "other" for v in values])
    return np.argwhere(mask).astype(np.int32), np.asarray(roi, dtype=str), mask_image


def percent_signal(Y: np.ndarray) -> np.ndarray:
    """Percent of each voxel's mean, as nilearn's mean_scaling (signal_scaling=0)."""
    mean = Y.mean(axis=0)
    mean[mean == 0] = 1
    return 100 * (Y / mean - 1)


def _fit(Y: np.ndarray, design: pd.DataFrame, columns: list[str], noise_model: str) -> np.ndarray:
    """Betas [len(columns), n_voxels] of one GLM, with nilearn's run_glm."""
    from nilearn.glm.first_level import run_glm

    labels, results = run_glm(Y, design.to_numpy(), noise_model=noise_model, verbose=0)
    index = [design.columns.get_loc(c) for c in columns]
    betas = np.empty((len(columns), Y.shape[1]))
    for label, result in results.items():
        betas[:, labels == label] = result.theta[index]
    return betas


def trial_betas(Y: np.ndarray, frame_times: np.ndarray, events: pd.DataFrame,
                trial_rows: np.ndarray, settings: dict) -> np.ndarray:
    """Single-trial betas [n_trials, n_voxels] for the events at ``trial_rows``."""
    from nilearn.glm.first_level import make_first_level_design_matrix

    def design(trial_types: list[str]) -> pd.DataFrame:
        return make_first_level_design_matrix(
            frame_times, events.assign(trial_type=trial_types)[["onset", "duration",
                                                                 "trial_type"]],
            hrf_model=settings["hrf_model"], drift_model=settings["drift_model"],
            high_pass=settings["high_pass"])

    Y = percent_signal(Y)
    names = [f"trial{i:04d}" for i in range(len(trial_rows))]
    if settings["method"] == "lsa":
        trial_types = list(events["trial_type"])
        for name, row in zip(names, trial_rows, strict=True):
            trial_types[row] = name
        return _fit(Y, design(trial_types), names, settings["noise_model"])
    betas = np.empty((len(trial_rows), Y.shape[1]))
    for i, row in enumerate(trial_rows):
        trial_types = [f"other_{t}" for t in events["trial_type"]]
        trial_types[row] = "target"
        betas[i] = _fit(Y, design(trial_types), ["target"], settings["noise_model"])[0]
    return betas


def read_events(path: Path, known: set[str], ignore: set[str]) -> pd.DataFrame:
    require(check_table(path, ("onset", "duration", "trial_type")))  # before reading its header
    has_ids = "stimulus_id" in pd.read_csv(path, sep="\t", nrows=0).columns
    require(check_events(path, None if has_ids else known | ignore))
    events = pd.read_csv(path, sep="\t", dtype={"trial_type": str, "stimulus_id": str},
                         keep_default_na=False)
    events["onset"] = events["onset"].astype(float)
    events["duration"] = events["duration"].astype(float)
    if "stimulus_id" in events.columns:
        stimulus = events["stimulus_id"].where(~events["trial_type"].isin(ignore), "")
        unknown = sorted(set(stimulus) - known - {"", "n/a"})
        if unknown:
            raise BrainencodeError(f"{path}: stimulus_id: expected ids of the stimuli table, got "
                                   f"unknown {unknown[0]!r}")
        events["stimulus"] = stimulus.replace("n/a", "")
    else:
        events["stimulus"] = events["trial_type"].where(~events["trial_type"].isin(ignore), "")
    return events


@dataclass
class BoldRuns:
    """A subject's BOLD runs (volumes in a mask, or surface files), their targets and ROIs."""

    paths: list[Path]
    roi: np.ndarray
    fields: dict  # per-target location fields of the responses contract
    attrs: dict
    events: list[Path]
    mask: np.ndarray | None = None
    # surface runs: each run's file pattern, the mesh, and the first run (its targets)
    surface: list[Path] = field(default_factory=list)
    mesh: Mesh | None = None
    first: SurfaceRun | None = None

    def open(self, index: int):
        """Run ``index``: its image (checked against the mask's grid) or SurfaceRun (checked
        to have the first run's grayordinates), opened when it is read: a GIFTI run is parsed
        whole, so only one is held at a time."""
        if not self.surface:
            return read_bold(self.paths[index], self.mask)
        if index == 0:
            return self.first
        run = open_run(self.surface[index], self.mesh, "BOLD run")
        same_layout(run, self.first)
        return run

    def chunks(self, image) -> list[slice]:
        """Blocks of targets read at a time: every voxel of a volume run at once."""
        return image.chunks() if isinstance(image, SurfaceRun) else [slice(None)]

    def columns(self, image, targets: slice) -> np.ndarray:
        """float64 [n_trs, targets] of one run."""
        if isinstance(image, SurfaceRun):
            return image.columns(targets).astype(np.float64)
        return np.asarray(image.dataobj, dtype=np.float64)[self.mask].T[:, targets]

    def n_trs(self, image) -> int:
        return image.n_samples if isinstance(image, SurfaceRun) else image.shape[3]


def bold_runs(config: dict, subject: str) -> BoldRuns:
    """The subject's BOLD runs of ``task``, volume or surface as ``space`` says."""
    mesh = mesh_of_space(config["space"])
    if mesh is None:
        ijk, roi, mask_image = volume_targets(config, subject)
        runs = bids_names.raw_runs(config["bids_root"], subject, config["task"], "func",
                                   "bold.nii.gz")
        if not runs:
            raise BrainencodeError(f"{config['bids_root']}/{subject}: expected BOLD runs "
                                   f"{subject}_task-{config['task']}_*bold.nii.gz in func/")
        return BoldRuns(runs, roi, {"ijk": ijk}, {"affine": mask_image.affine.ravel(),
                                                  "shape": np.array(mask_image.shape)},
                        [bids_names.events_of(r, "bold.nii.gz") for r in runs],
                        mask=np.asarray(mask_image.dataobj) > 0)
    derivatives = Path(config.get("derivatives", config["bids_root"]))
    suffix = bids_names.surface_name("", config["space"], mesh, "bold").replace(
        "{hemi}", "L").removeprefix("_")
    runs = bids_names.raw_runs(derivatives, subject, config["task"], "func", suffix)
    if not runs:
        raise BrainencodeError(f"{derivatives}/{subject}: expected surface BOLD runs "
                               f"{subject}_task-{config['task']}_*{suffix} in func/")
    patterns = [r.with_name(r.name.replace("_hemi-L_", "_hemi-{hemi}_")) for r in runs]
    first = open_run(patterns[0], mesh, "BOLD run")
    targets = first.targets
    roi = np.full(targets.n_targets, "all")
    if "atlas" in config:
        roi = surface_rois(str(subject_path(config["atlas"], subject)), targets,
                           config.get("atlas_labels"), first.brain_models)
    return BoldRuns(runs, roi, targets.fields(), targets.responses_attrs(),
                    [bids_names.surface_events(config["bids_root"], derivatives, r)
                     for r in runs], surface=patterns, mesh=mesh, first=first)


def read_bold(bold: Path, mask: np.ndarray):
    """One 4D BOLD run, checked to lie on the mask's grid."""
    image = read_nifti(bold, "BOLD run", ndim=4)
    if image.shape[:3] != mask.shape:
        raise BrainencodeError(f"{bold}: shape: expected the mask's grid {mask.shape}, got "
                               f"{image.shape[:3]}")
    return image


def load(config: dict, subject: str, stimuli: Path) -> Responses:
    settings = config["glm"]
    ids = list(read_stimuli(stimuli)["stimulus_id"])
    runs = bold_runs(config, subject)
    occurrences: dict[str, list[np.ndarray]] = {s: [] for s in ids}
    for index, bold in enumerate(runs.paths):
        image = runs.open(index)
        tr = repetition_time(bold, image)
        events = read_events(runs.events[index], set(ids), set(settings["ignore_trial_types"]))
        rows = np.flatnonzero(events["stimulus"] != "")
        frame_times = np.arange(runs.n_trs(image)) * tr
        betas = np.empty((len(rows), len(runs.roi)))
        for piece in runs.chunks(image):
            betas[:, piece] = trial_betas(runs.columns(image, piece), frame_times, events, rows,
                                          settings)
        for row, beta in zip(rows, betas, strict=True):
            occurrences[events["stimulus"][row]].append(beta)
    data, repeats = average_presentations(occurrences, ids,
                                          f"{config['bids_root']}/{subject}", stimuli)
    return Responses(data=data, stimulus_ids=ids, roi=runs.roi, subject=subject,
                     repeats=repeats, **runs.fields,
                     attrs={"modality": "fmri", "space": config["space"],
                            "glm": settings["method"]} | runs.attrs)
