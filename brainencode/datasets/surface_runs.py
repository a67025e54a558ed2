"""One surface recording (a run of BOLD, a run of betas, an NSD session) as targets x samples:
both hemispheres' files on one mesh, or one CIFTI-2 file of grayordinates.

Targets are the left hemisphere's vertices then the right's (all of the mesh's vertices), or
the CIFTI file's grayordinates in its own order. Each target carries its ``vertex`` (-1 for a
CIFTI voxel), ``hemi`` (L, R, or empty for midline structures), CIFTI ``structure`` and, for
CIFTI voxels, ``ijk`` in the file's volume (-1 for vertices).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from brainencode.datasets.meshes import CIFTI_CORTEX, HEMIS, Mesh, fill_hemi
from brainencode.datasets.surfaces import SurfaceFile, open_surface
from brainencode.errors import BrainencodeError

CHUNK = 8192  # targets read at a time


@dataclass
class SurfaceTargets:
    """Where each target of a surface recording lies (see the module docstring)."""

    mesh: Mesh
    vertex: np.ndarray
    hemi: np.ndarray
    structure: np.ndarray
    ijk: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)

    @property
    def n_targets(self) -> int:
        return len(self.vertex)

    def fields(self) -> dict:
        """The per-target fields of the responses contract."""
        out = {"vertex": self.vertex, "hemi": self.hemi, "structure": self.structure}
        return out | ({"ijk": self.ijk} if self.ijk is not None else {})

    def responses_attrs(self) -> dict:
        return {"mesh": self.mesh.name} | self.attrs


def hemisphere_targets(mesh: Mesh) -> SurfaceTargets:
    """Every vertex of both hemispheres, left first."""
    n = mesh.n_vertices
    return SurfaceTargets(mesh, np.tile(np.arange(n, dtype=np.int32), 2),
                          np.repeat(np.array(HEMIS), n),
                          np.repeat(np.array([CIFTI_CORTEX[h] for h in HEMIS]), n))


def _hemi_of(structure: str) -> str:
    return "L" if structure.endswith("_LEFT") else "R" if structure.endswith("_RIGHT") else ""


def grayordinate_targets(axis: nib.cifti2.BrainModelAxis, mesh: Mesh, path: Path
                         ) -> SurfaceTargets:
    """The grayordinates of a CIFTI brain-model axis, its cortex checked to lie on ``mesh``."""
    for name, n in axis.nvertices.items():
        if n != mesh.n_vertices:
            raise BrainencodeError(f"{path}: {name}: expected {mesh.n_vertices} vertices "
                                   f"({mesh.name}), the brain model has {n}")
    structure = np.asarray(axis.name, dtype=str)
    vertex = np.where(axis.surface_mask, axis.vertex, -1).astype(np.int32)
    ijk = None
    attrs = {}
    if axis.volume_mask.any():
        ijk = np.where(axis.volume_mask[:, None], axis.voxel, -1).astype(np.int32)
        attrs = {"affine": axis.affine.ravel(), "shape": np.array(axis.volume_shape)}
    return SurfaceTargets(mesh, vertex, np.array([_hemi_of(s) for s in structure]), structure,
                          ijk, attrs)


def per_vertex(values: np.ndarray, hemi: np.ndarray, vertex: np.ndarray, n_vertices: int,
               fill: float | str = 0.0) -> dict[str, np.ndarray]:
    """Per hemisphere, each target's value at its vertex (``fill`` where no target lies, as on
    a CIFTI file's medial wall; CIFTI voxels, vertex -1, have no vertex)."""
    values = np.asarray(values)
    dtype = object if values.dtype.kind in "OUS" else np.float32
    out = {}
    for h in HEMIS:
        rows = np.flatnonzero((hemi == h) & (vertex >= 0))
        out[h] = np.full(n_vertices, fill, dtype=dtype)
        out[h][vertex[rows]] = values[rows]
    return out


@dataclass
class SurfaceRun:
    """One recording's files (L and R, or one CIFTI) and its targets."""

    files: list[SurfaceFile]
    targets: SurfaceTargets
    n_samples: int
    # the CIFTI brain models, kept to compare the layouts of runs and atlases
    brain_models: nib.cifti2.BrainModelAxis | None = None

    def columns(self, targets: slice) -> np.ndarray:
        """float32 [n_samples, len(targets)] of the targets in ``targets`` (a step-1 slice)."""
        start, stop, _ = targets.indices(self.targets.n_targets)
        blocks, offset = [], 0
        for f in self.files:
            n = f.shape[1]
            lo, hi = max(start - offset, 0), min(stop - offset, n)
            if lo < hi:
                blocks.append(f.columns(slice(lo, hi)))
            offset += n
        return np.concatenate(blocks, axis=1) if blocks else np.empty((self.n_samples, 0),
                                                                        np.float32)

    def read(self, chunk: int = CHUNK) -> np.ndarray:
        """float32 [n_samples, n_targets], filled a block of targets at a time."""
        out = np.empty((self.n_samples, self.targets.n_targets), np.float32)
        for piece in self.chunks(chunk):
            out[:, piece] = self.columns(piece)
        return out

    def chunks(self, chunk: int = CHUNK) -> list[slice]:
        n = self.targets.n_targets
        return [slice(s, min(s + chunk, n)) for s in range(0, n, chunk)]


def open_run(path: str | Path, mesh: Mesh, what: str) -> SurfaceRun:
    """A CIFTI file (``mesh.cifti``) or the pair of hemisphere files a ``{hemi}``/``{fs_hemi}``
    pattern names, checked: both hemispheres present, each with the mesh's vertex count and
    the same number of samples."""
    path = str(path)
    if mesh.cifti:
        f = open_surface(path, what)
        axis = f.brain_models()
        return SurfaceRun([f], grayordinate_targets(axis, mesh, Path(path)), f.shape[0], axis)
    if "{hemi}" not in path and "{fs_hemi}" not in path:
        raise BrainencodeError(f"{path}: {what}: expected one file a hemisphere, named with "
                               "{hemi} (L/R) or {fs_hemi} (lh/rh)")
    files = []
    for hemi in HEMIS:
        name = Path(fill_hemi(path, hemi))
        if not name.is_file():
            other = Path(fill_hemi(path, "R" if hemi == "L" else "L"))
            found = f", found {other.name}" if other.is_file() else ""
            raise BrainencodeError(f"{name}: {what}: hemisphere {hemi} not found (expected "
                                   f"both hemispheres{found})")
        f = open_surface(name, what)
        if f.shape[1] != mesh.n_vertices:
            raise BrainencodeError(f"{name}: {what}: expected {mesh.n_vertices} vertices "
                                   f"({mesh.name}), got {f.shape[1]}")
        files.append(f)
    if files[0].shape[0] != files[1].shape[0]:
        raise BrainencodeError(f"{files[1].path}: {what}: expected the {files[0].shape[0]} "
                               f"samples of {files[0].path.name}, got {files[1].shape[0]}")
    return SurfaceRun(files, hemisphere_targets(mesh), files[0].shape[0])


def same_layout(run: SurfaceRun, reference: SurfaceRun) -> None:
    """Refuse a run whose grayordinates differ from the first run's."""
    if run.brain_models is not None and run.brain_models != reference.brain_models:
        raise BrainencodeError(f"{run.files[0].path}: brain models: expected the grayordinates "
                               f"of {reference.files[0].path.name}")
