"""File names of single-trial beta maps in a BIDS derivative folder (for writer and reader),
and of surface recordings as fMRIPrep names them (``_hemi-L_space-fsaverage5_bold.func.gii``,
``_space-fsLR_den-91k_bold.dtseries.nii``)."""

from __future__ import annotations

from pathlib import Path

from brainencode.datasets.meshes import Mesh


def func_dir(root: str | Path, subject: str) -> Path:
    return Path(root) / subject / "func"


def betas_name(subject: str, task: str, run: int, space: str) -> str:
    """4D NIfTI, one volume per trial; its .tsv sidecar lists the stimulus_id of each volume."""
    return f"{subject}_task-{task}_run-{run}_space-{space}_desc-singletrial_betas.nii.gz"


def surface_suffix(mesh: Mesh, kind: str) -> str:
    """The entities and extension after ``space-<label>`` of a surface file: ``kind`` is
    ``betas`` (trial maps), ``bold`` (runs) or ``rois`` (labels); ``{hemi}`` marks where a
    per-hemisphere file names its hemisphere."""
    if mesh.cifti:
        return {"betas": "_desc-singletrial_betas.dscalar.nii", "bold": "_bold.dtseries.nii",
                "rois": "_desc-rois_dseg.dlabel.nii"}[kind]
    return {"betas": "_desc-singletrial_betas.func.gii", "bold": "_bold.func.gii",
            "rois": "_desc-rois_dseg.label.gii"}[kind]


def surface_name(prefix: str, space: str, mesh: Mesh, kind: str) -> str:
    """``<prefix>[_hemi-{hemi}]_space-<space><suffix>``: one file a hemisphere, or one CIFTI."""
    hemi = "" if mesh.cifti else "_hemi-{hemi}"
    return f"{prefix}{hemi}_space-{space}{surface_suffix(mesh, kind)}"


def surface_betas_name(subject: str, task: str, run: int | str, space: str, mesh: Mesh) -> str:
    """Surface trial maps of one run; its .tsv sidecar (no hemi entity) lists stimulus_ids."""
    return surface_name(f"{subject}_task-{task}_run-{run}", space, mesh, "betas")


def surface_sidecar(name: str) -> str:
    """The hemisphere-free .tsv beside a surface betas file."""
    base = name.replace("_hemi-{hemi}", "").replace("_hemi-L", "").replace("_hemi-R", "")
    return base[: base.index("_desc-singletrial_betas")] + "_desc-singletrial_betas.tsv"


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


def surface_events(root: str | Path, derivatives: str | Path, run: Path) -> Path:
    """The raw events.tsv of a surface run found in a derivatives folder: the run's entities
    before ``_hemi-``/``_space-``, in the same place under the raw BIDS ``root``."""
    name = run.name.split("_hemi-")[0].split("_space-")[0] + "_events.tsv"
    return Path(root) / run.parent.relative_to(derivatives) / name
