"""Simulated fMRI subjects with planted truth, written as a BIDS derivative of single-trial betas.

Each ROI is a union of spheres at MNI coordinates, intersected with the MNI152 brain mask on a
coarse grid. A driven ROI's voxels are random linear read-outs of one model layer's features
(z-scored) or of a ``latent_dims``-dimensional latent of them that all subjects share, or all
respond to one concept (the stimuli whose caption names it), scaled to the configured SNR;
every other brain voxel is noise only. Each repeat
presents the stimuli in a new random order, as a real experiment would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from brainencode.datasets import bids_names
from brainencode.datasets.stimuli import read_stimuli
from brainencode.errors import BrainencodeError
from brainencode.features.store import load_features

MNI_BOX = np.array([[-90.0, -126.0, -72.0], [90.0, 90.0, 108.0]])  # MNI152 field of view, mm


def mni_grid(voxel_size: float) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Affine and shape of an isotropic grid covering the MNI152 field of view."""
    affine = np.diag([voxel_size, voxel_size, voxel_size, 1.0])
    affine[:3, 3] = MNI_BOX[0]
    shape = tuple(int(n) for n in np.floor((MNI_BOX[1] - MNI_BOX[0]) / voxel_size) + 1)
    return affine, shape


def brain_mask(voxel_size: float) -> nib.Nifti1Image:
    """nilearn's MNI152 brain mask resampled (nearest neighbour) to the demo grid."""
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.image import resample_img

    affine, shape = mni_grid(voxel_size)
    mask = resample_img(load_mni152_brain_mask(resolution=2), target_affine=affine,
                        target_shape=shape, interpolation="nearest", force_resample=True,
                        copy_header=True)
    data = (np.asarray(mask.dataobj) > 0).astype(np.uint8)
    return nib.Nifti1Image(data, affine)


def roi_labels(mask: nib.Nifti1Image, rois: list[dict], jitter_mm: np.ndarray) -> np.ndarray:
    """Integer label volume: 0 outside ROIs, i+1 inside rois[i] (first ROI wins on overlap)."""
    inside = np.asarray(mask.dataobj) > 0
    ijk = np.argwhere(inside)
    xyz = nib.affines.apply_affine(mask.affine, ijk)
    labels = np.zeros(mask.shape, dtype=np.int16)
    for index, roi in enumerate(rois, start=1):
        centers = np.asarray(roi["centers_mni"], dtype=float) + jitter_mm
        distance = np.linalg.norm(xyz[:, None, :] - centers[None], axis=2).min(axis=1)
        hit = ijk[(distance <= roi["radius_mm"])]
        free = labels[tuple(hit.T)] == 0
        labels[tuple(hit[free].T)] = index
    return labels


def _zscore(x: np.ndarray) -> np.ndarray:
    std = x.std(0)
    return (x - x.mean(0)) / np.where(std > 0, std, 1.0)


def concept_signal(stimuli_path: str | Path, concept: str, n_targets: int, where: str
                   ) -> np.ndarray:
    """[n_stimuli, n_targets] z-scored indicator of the stimuli whose caption has the word."""
    table = read_stimuli(stimuli_path)
    if "caption" not in table.columns:
        raise BrainencodeError(f"{stimuli_path}: caption: a concept driver needs captions")
    word = re.compile(rf"\b{re.escape(concept.lower())}\b")
    present = np.array([bool(word.search(c.lower())) for c in table["caption"]], dtype=float)
    if present.std() == 0:
        raise BrainencodeError(f"{where}.driver.concept: {concept!r} is in "
                               f"{'every' if present.all() else 'no'} caption of {stimuli_path}")
    return np.repeat(_zscore(present)[:, None], n_targets, axis=1)


def latent_rng(demo: dict, roi_index: int) -> np.random.Generator:
    """The generator of an ROI's shared latent read-out: the demo's seed and the ROI, not the
    subject, so that every subject's ROI sees the same latent."""
    return np.random.default_rng([demo["seed"], roi_index, 101])


def driver_signal(feature_dirs: dict[str, str | Path], driver: dict, ids: list[str],
                  n_targets: int, rng: np.random.Generator, stimuli_path: str | Path,
                  where: str, shared_rng: np.random.Generator) -> np.ndarray:
    """[n_stimuli, n_targets] z-scored drive: random linear read-outs of one layer's features,
    or, for a ``concept`` driver, the presence of that word in each stimulus' caption. With
    ``latent_dims``, the read-outs are of a latent that every subject shares (``latent_dims``
    z-scored read-outs of the layer drawn from ``shared_rng``), mixed by the subject's own
    random matrix (from ``rng``)."""
    if "concept" in driver:
        return concept_signal(stimuli_path, driver["concept"], n_targets, where)
    meta, layers = load_features(feature_dirs[driver["model"]])
    if meta["stimulus_ids"] != ids:
        raise BrainencodeError(f"{feature_dirs[driver['model']]}: stimulus_ids: expected "
                               f"the order of {stimuli_path}")
    if driver["layer"] not in layers:
        raise BrainencodeError(f"{where}.driver.layer: expected one of {meta['layers']}, got "
                               f"{driver['layer']!r}")
    features = _zscore(layers[driver["layer"]].astype(np.float64))
    if "latent_dims" in driver:
        features = _zscore(features @ shared_rng.standard_normal((features.shape[1],
                                                                  driver["latent_dims"])))
    weights = rng.standard_normal((features.shape[1], n_targets))
    return _zscore(features @ weights)


def planted_signal(feature_dirs: dict[str, str | Path], demo: dict, target_labels: np.ndarray,
                   ids: list[str], rng: np.random.Generator, stimuli_path: str | Path
                   ) -> tuple[np.ndarray, list[dict]]:
    """[n_stimuli, n_targets] signal of the targets labelled i+1 by ``demo.rois[i]`` (0
    elsewhere), scaled to the ROI's SNR, and the truth written beside the data (each ROI's
    target count, driver and expected noise ceiling on the mean of the repeats)."""
    noise_sd = demo["noise_sd"]
    signal = np.zeros((len(ids), len(target_labels)), dtype=np.float64)
    truth = []
    for index, roi in enumerate(demo["rois"], start=1):
        targets = np.flatnonzero(target_labels == index)
        driver = roi.get("driver")
        entry = {"name": roi["name"], "n_voxels": int(len(targets)), "driver": driver}
        truth.append(entry)
        if driver is None or len(targets) == 0:
            continue
        drive = driver_signal(feature_dirs, driver, ids, len(targets), rng, stimuli_path,
                              f"demo.rois.{index - 1}", latent_rng(demo, index - 1))
        signal[:, targets] = drive * np.sqrt(driver["snr"]) * noise_sd
        entry["expected_ceiling_r"] = float(np.sqrt(
            driver["snr"] / (driver["snr"] + 1.0 / demo["n_repeats"])))
    return signal, truth


def simulate_fmri_subject(stimuli_path: str | Path, feature_dirs: dict[str, str | Path], demo: dict,
                     subject: str, subject_index: int, bids_root: str | Path,
                     task: str, space: str) -> None:
    """Write one simulated subject (betas per repeat, mask, ROI atlas, truth) under bids_root."""
    table = read_stimuli(stimuli_path)
    ids = list(table["stimulus_id"])
    n_stimuli = len(ids)
    rng = np.random.default_rng([demo["seed"], subject_index])

    mask = brain_mask(demo["voxel_size_mm"])
    labels = roi_labels(mask, demo["rois"], rng.uniform(-3, 3, size=3))
    inside = np.asarray(mask.dataobj) > 0
    target_labels = labels[inside]
    noise_sd = demo["noise_sd"]
    signal, truth = planted_signal(feature_dirs, demo, target_labels, ids, rng, stimuli_path)

    out = bids_names.func_dir(bids_root, subject)
    out.mkdir(parents=True, exist_ok=True)
    nib.save(mask, out / bids_names.mask_name(subject, space))
    rois_file = bids_names.rois_name(subject, space)
    nib.save(nib.Nifti1Image(labels, mask.affine), out / rois_file)
    pd.DataFrame({"index": range(1, len(demo["rois"]) + 1),
                  "name": [r["name"] for r in demo["rois"]]}).to_csv(
        out / bids_names.sidecar(rois_file), sep="\t", index=False)

    for run in range(1, demo["n_repeats"] + 1):
        order = rng.permutation(n_stimuli)
        trials = signal[order] + rng.standard_normal(signal.shape) * noise_sd
        volume = np.zeros((*mask.shape, n_stimuli), dtype=np.float32)
        volume[inside] = trials.T
        name = bids_names.betas_name(subject, task, run, space)
        nib.save(nib.Nifti1Image(volume, mask.affine), out / name)
        pd.DataFrame({"stimulus_id": [ids[i] for i in order]}).to_csv(
            out / bids_names.sidecar(name), sep="\t", index=False)

    (out / f"{subject}_desc-truth.json").write_text(json.dumps(
        {"subject": subject, "noise_sd": noise_sd, "n_repeats": demo["n_repeats"],
         "rois": truth}, indent=1))


def write_dataset_description(bids_root: str | Path) -> None:
    """BIDS derivative dataset_description.json for the demo betas."""
    root = Path(bids_root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps({
        "Name": "brainencode demo: simulated single-trial betas with planted truth",
        "BIDSVersion": "1.9.0",
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "brainencode", "Description": "brainencode demo-subject"}],
    }, indent=1))
