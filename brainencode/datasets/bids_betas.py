"""Read single-trial beta maps from a BIDS derivative folder into the responses contract:
volumes (4D NIfTI in a brain mask) or surfaces (per-hemisphere GIFTI or CIFTI-2 dscalar, when
``space`` names a mesh: datasets/meshes.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainencode.datasets import bids_names
from brainencode.datasets.checks import read_nifti
from brainencode.datasets.meshes import Mesh, mesh_of_space
from brainencode.datasets.paths import subject_path
from brainencode.datasets.responses import Responses
from brainencode.datasets.stimuli import align_rows, read_stimuli
from brainencode.datasets.surface_atlases import surface_rois
from brainencode.datasets.surface_runs import open_run, same_layout
from brainencode.datasets.tables import label_names, read_tsv
from brainencode.errors import BrainencodeError


def load_bids_betas(bids_root: str | Path, subject: str, stimuli_path: str | Path,
                    task: str, space: str) -> Responses:
    """One 4D NIfTI per run (= repeat), volumes listed by stimulus_id in the .tsv sidecar.

    Targets are the voxels inside the brain mask; each run is reordered to the stimuli table's
    order, ``repeats`` keeps the runs and ``data`` is their mean.
    """
    folder = bids_names.func_dir(bids_root, subject)
    ids = list(read_stimuli(stimuli_path)["stimulus_id"])

    mask_path = folder / bids_names.mask_name(subject, space)
    mask_image = read_nifti(mask_path, "brain mask")
    mask = np.asarray(mask_image.dataobj) > 0
    rois_path = folder / bids_names.rois_name(subject, space)
    labels = np.asarray(read_nifti(rois_path, "ROI atlas").dataobj).astype(int)
    names = label_names(folder / bids_names.sidecar(rois_path.name))
    roi = np.array([names.get(v, "other") for v in labels[mask]])

    runs = sorted(folder.glob(bids_names.betas_name(subject, task, 0, space).replace(
        "run-0", "run-*")))
    if not runs:
        raise BrainencodeError(f"{folder}: no beta maps matching "
                               f"{bids_names.betas_name(subject, task, '*', space)}")
    repeats = np.empty((len(runs), len(ids), int(mask.sum())), dtype=np.float32)
    for r, run_path in enumerate(runs):
        image = read_nifti(run_path, "single-trial betas")
        if image.shape[:3] != mask.shape or image.ndim != 4:
            raise BrainencodeError(f"{run_path}: shape: expected 4D with a 3D grid of "
                                   f"{mask.shape}, got {image.shape}")
        trials = read_tsv(run_path.parent / bids_names.sidecar(run_path.name),
                          ("stimulus_id",), "the run's trials")["stimulus_id"].tolist()
        if len(trials) != image.shape[3]:
            raise BrainencodeError(f"{run_path}: expected one stimulus_id per volume in its .tsv "
                                   f"({image.shape[3]} volumes, {len(trials)} rows)")
        data = np.asarray(image.dataobj, dtype=np.float32)[mask].T
        repeats[r] = align_rows(data, trials, ids, run_path, Path(stimuli_path))

    return Responses(
        data=repeats.mean(0), stimulus_ids=ids, roi=roi, subject=subject, repeats=repeats,
        ijk=np.argwhere(mask).astype(np.int32),
        attrs={"space": space, "modality": "fmri", "mask": str(mask_path.resolve()),
               "affine": mask_image.affine.ravel(), "shape": np.array(mask.shape)},
    )


def load_surface_betas(bids_root: str | Path, subject: str, stimuli_path: str | Path,
                       task: str, space: str, mesh: Mesh, atlas: str | None,
                       atlas_labels: str | None) -> Responses:
    """One file a hemisphere (or one CIFTI dscalar) per run, maps listed by stimulus_id in the
    run's .tsv (bids_names.surface_sidecar); ROIs from ``atlas`` or the subject's
    ``desc-rois_dseg`` label files (.label.gii a hemisphere, or .dlabel.nii)."""
    folder = bids_names.func_dir(bids_root, subject)
    ids = list(read_stimuli(stimuli_path)["stimulus_id"])
    pattern = bids_names.surface_betas_name(subject, task, "*", space, mesh)
    names = sorted({p.name.replace("_hemi-L_", "_hemi-{hemi}_").replace("_hemi-R_",
                                                                         "_hemi-{hemi}_")
                    for p in folder.glob(pattern.replace("{hemi}", "*"))})
    if not names:
        raise BrainencodeError(f"{folder}: no surface beta maps matching {pattern}")
    first = None
    repeats = []
    for name in names:
        run = open_run(folder / name, mesh, "single-trial betas")
        first = first or run
        same_layout(run, first)
        sidecar = folder / bids_names.surface_sidecar(name)
        trials = read_tsv(sidecar, ("stimulus_id",), "the run's trials")["stimulus_id"].tolist()
        if len(trials) != run.n_samples:
            raise BrainencodeError(f"{sidecar}: expected one stimulus_id per map of "
                                   f"{name} ({run.n_samples} maps, {len(trials)} rows)")
        repeats.append(align_rows(run.read(), trials, ids, folder / name, Path(stimuli_path)))
    targets = first.targets
    atlas = (str(subject_path(atlas, subject)) if atlas
             else str(folder / bids_names.surface_name(subject, space, mesh, "rois")))
    roi = surface_rois(atlas, targets, atlas_labels, first.brain_models)
    repeats = np.stack(repeats)
    return Responses(data=repeats.mean(0), stimulus_ids=ids, roi=roi, subject=subject,
                     repeats=repeats, **targets.fields(),
                     attrs={"space": space, "modality": "fmri"} | targets.responses_attrs())


def load(config: dict, subject: str, stimuli: Path) -> Responses:
    mesh = mesh_of_space(config["space"])
    if mesh is not None:
        return load_surface_betas(config["bids_root"], subject, stimuli, config["task"],
                                  config["space"], mesh, config.get("atlas"),
                                  config.get("atlas_labels"))
    return load_bids_betas(config["bids_root"], subject, stimuli, config["task"],
                           config["space"])
