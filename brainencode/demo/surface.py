"""A simulated surface fMRI subject with planted truth: single-trial betas on fsaverage5, both
hemispheres, as per-hemisphere GIFTI in a BIDS derivative (read by ``bids-betas`` with
``space: fsaverage5``, as real fMRIPrep-style surface data would be).

The ROIs are the volume subjects' (``demo.rois``): a vertex belongs to an ROI when its
position on nilearn's fsaverage5 pial mesh (MNI305 coordinates, close to MNI152) lies within
the ROI's radius of one of its centres; the drives, noise and repeats are drawn as for the
volume subjects (demo/fmri.py), and written with each repeat's own stimulus order.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainencode.datasets import bids_names
from brainencode.datasets.meshes import HEMIS, mesh_of_space
from brainencode.datasets.stimuli import read_stimuli
from brainencode.demo.fmri import planted_signal
from brainencode.errors import BrainencodeError

MESH = "fsaverage5"  # the mesh nilearn ships, so nothing is downloaded


def vertex_positions() -> dict[str, np.ndarray]:
    """Per hemisphere, the fsaverage5 pial vertices' coordinates (nilearn's copy)."""
    from nilearn import datasets

    pial = datasets.load_fsaverage(MESH)["pial"]
    return {h: np.asarray(pial.parts[side].coordinates, float)
            for h, side in zip(HEMIS, ("left", "right"), strict=True)}


def vertex_labels(positions: dict[str, np.ndarray], rois: list[dict], jitter_mm: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """Per hemisphere, 0 outside ROIs and i+1 inside rois[i] (first ROI wins on overlap)."""
    labels = {}
    for hemi, xyz in positions.items():
        out = np.zeros(len(xyz), np.int32)
        for index, roi in enumerate(rois, start=1):
            centers = np.asarray(roi["centers_mni"], float) + jitter_mm
            inside = np.linalg.norm(xyz[:, None] - centers[None], axis=2).min(1) <= roi[
                "radius_mm"]
            out[inside & (out == 0)] = index
        labels[hemi] = out
    return labels


def _gifti(arrays: list[np.ndarray], intent: str) -> nib.gifti.GiftiImage:
    return nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(a, intent=intent)
                                         for a in arrays])


def label_gifti(values: np.ndarray, names: list[str]) -> nib.gifti.GiftiImage:
    """A label GIFTI: the integer labels and a table naming them (0: unlabelled)."""
    image = _gifti([values.astype(np.int32)], "NIFTI_INTENT_LABEL")
    for key, name in enumerate(["???", *names]):
        label = nib.gifti.GiftiLabel(key)
        label.label = name
        image.labeltable.labels.append(label)
    return image


def simulate_surface_subject(stimuli_path: str | Path, feature_dirs: dict[str, str | Path],
                             demo: dict, subject: str, subject_index: int,
                             bids_root: str | Path, task: str, space: str) -> None:
    """Write one simulated fsaverage5 subject (betas per repeat, ROI labels, truth);
    ``space`` is the BIDS space label of its file names."""
    mesh = mesh_of_space(space)
    if mesh is None or mesh.name != MESH:
        raise BrainencodeError(f"demo surface subjects: expected space {MESH}, got {space!r}")
    ids = list(read_stimuli(stimuli_path)["stimulus_id"])
    rng = np.random.default_rng([demo["seed"], subject_index])
    labels = vertex_labels(vertex_positions(), demo["rois"], rng.uniform(-3, 3, size=3))
    target_labels = np.concatenate([labels[h] for h in HEMIS])
    noise_sd = demo["noise_sd"]
    signal, truth = planted_signal(feature_dirs, demo, target_labels, ids, rng, stimuli_path)

    out = bids_names.func_dir(bids_root, subject)
    out.mkdir(parents=True, exist_ok=True)
    names = [r["name"] for r in demo["rois"]]
    rois = bids_names.surface_name(subject, space, mesh, "rois")
    for hemi in HEMIS:
        nib.save(label_gifti(labels[hemi], names), out / rois.format(hemi=hemi))
    n = mesh.n_vertices
    for run in range(1, demo["n_repeats"] + 1):
        order = rng.permutation(len(ids))
        trials = (signal[order] + rng.standard_normal(signal.shape) * noise_sd).astype(
            np.float32)
        name = bids_names.surface_betas_name(subject, task, run, space, mesh)
        for h, hemi in enumerate(HEMIS):
            part = trials[:, h * n:(h + 1) * n]
            nib.save(_gifti(list(part), "NIFTI_INTENT_ESTIMATE"), out / name.format(hemi=hemi))
        pd.DataFrame({"stimulus_id": [ids[i] for i in order]}).to_csv(
            out / bids_names.surface_sidecar(name), sep="\t", index=False)
    (out / f"{subject}_desc-truth.json").write_text(json.dumps(
        {"subject": subject, "space": space, "noise_sd": noise_sd,
         "n_repeats": demo["n_repeats"], "rois": truth}, indent=1))
