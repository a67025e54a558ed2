"""File names of single-trial beta maps in a BIDS derivative folder (for writer and reader)."""

from __future__ import annotations

from pathlib import Path


def func_dir(root: str | Path, subject: str) -> Path:
    return Path(root) / subject / "func"


def betas_name(subject: str, task: str, run: int, space: str) -> str:
    """4D NIfTI, one volume per trial; its .tsv sidecar lists the stimulus_id of each volume."""
    return f"{subject}_task-{task}_run-{run}_space-{space}_desc-singletrial_betas.nii.gz"


def mask_name(subject: str, space: str) -> str:
    return f"{subject}_space-{space}_desc-brain_mask.nii.gz"


def rois_name(subject: str, space: str) -> str:
    """Integer ROI atlas; its .tsv sidecar (BIDS dseg.tsv: index, name) names the labels."""
    return f"{subject}_space-{space}_desc-rois_dseg.nii.gz"


def sidecar(nifti_name: str) -> str:
    return nifti_name.replace(".nii.gz", ".tsv")


def raw_runs(root: str | Path, subject: str, task: str, datatype: str, suffix: str) -> list[Path]:
    """Raw BIDS recordings of one task (any session/run entities), sorted by name."""
    folder = Path(root) / subject
    pattern = f"{subject}_*task-{task}_*{suffix}"
    return sorted(p for p in folder.glob(f"**/{datatype}/{pattern}")
                  if "_task-" in p.name and p.name.split("_task-")[1].startswith(f"{task}_"))


def events_of(recording: Path, suffix: str) -> Path:
    """The events.tsv next to a recording: same entities, suffix replaced."""
    return recording.with_name(recording.name[: -len(suffix)] + "events.tsv")
