"""Surface data files: per-hemisphere GIFTI (.func.gii, .shape.gii) and FreeSurfer MGH/MGZ,
and CIFTI-2 dense files (.dtseries.nii, .dscalar.nii), all through nibabel.

Each opens as a :class:`SurfaceFile`: [n_samples, n_targets] (volumes or trials x vertices or
grayordinates) read a block of targets at a time, so that fsaverage7 (163842 vertices a
hemisphere) and fsLR 91k data are never held whole: uncompressed MGH and CIFTI read straight
from the file, only the block's bytes (both are stored in Fortran order: a CIFTI file's
grayordinates each hold their samples contiguously, an MGH file's frames their vertices),
compressed MGZ through nibabel's array proxy, GIFTI as parsed (its XML holds base64 arrays
that cannot be read in part). Unreadable or truncated files are one line naming the file.
"""

from __future__ import annotations

import binascii
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.parsers.expat import ExpatError

import nibabel as nib
import numpy as np

from brainencode.datasets.checks import check_exists, require
from brainencode.errors import BrainencodeError

READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, binascii.Error, ExpatError,
               nib.filebasedimages.ImageFileError, KeyError, IndexError, TypeError)
GIFTI = (".gii",)
FREESURFER = (".mgh", ".mgz")
CIFTI = (".dtseries.nii", ".dscalar.nii", ".dlabel.nii")
SURFACE_SUFFIXES = (".func.gii", ".shape.gii", ".label.gii", *FREESURFER, *CIFTI)


def is_surface_file(path: str | Path) -> bool:
    return str(path).endswith((*GIFTI, *FREESURFER, *CIFTI))


@dataclass
class SurfaceFile:
    """One surface data file, [n_samples, n_targets]; ``columns`` reads a block of targets."""

    path: Path
    shape: tuple[int, int]
    image: object
    arrays: np.ndarray | None = None  # GIFTI: the parsed [n_samples, n_vertices]

    def columns(self, targets: slice = slice(None)) -> np.ndarray:
        """float32 [n_samples, len(targets)]."""
        cifti = isinstance(self.image, nib.cifti2.Cifti2Image)
        try:
            if self.arrays is not None:
                return np.ascontiguousarray(self.arrays[:, targets], np.float32)
            proxy = self.image.dataobj
            if self.path.suffix in (".mgh", ".nii"):
                return self._read_runs(proxy, targets)
            block = np.asarray(proxy[:, targets] if cifti else proxy[targets], np.float32)
            return block if cifti else block.reshape(block.shape[0], -1).T  # MGH: (V, 1, 1, T)
        except READ_ERRORS as exc:
            raise BrainencodeError(f"{self.path}: cannot read its data (truncated? {exc})"
                                   ) from None

    def _read_runs(self, proxy, targets: slice) -> np.ndarray:
        """[n_samples, block] of an uncompressed file, read as stored (Fortran order): a
        CIFTI file's grayordinates each hold their samples contiguously (one read), an MGH
        file's frames each hold their vertices contiguously (one read per frame)."""
        n_samples, n_targets = self.shape
        start, stop, _ = targets.indices(n_targets)
        size, width = proxy.dtype.itemsize, stop - start
        cifti = isinstance(self.image, nib.cifti2.Cifti2Image)
        with open(self.path, "rb") as f:
            if cifti:
                f.seek(proxy.offset + start * n_samples * size)
                out = np.frombuffer(f.read(width * n_samples * size), proxy.dtype).reshape(
                    width, n_samples).T.astype(np.float32)
            else:
                out = np.empty((n_samples, width), np.float32)
                for t in range(n_samples):
                    f.seek(proxy.offset + (t * n_targets + start) * size)
                    out[t] = np.frombuffer(f.read(width * size), proxy.dtype)
        if (proxy.slope, proxy.inter) != (1.0, 0.0):
            out = out * np.float32(proxy.slope) + np.float32(proxy.inter)
        return out

    def brain_models(self) -> nib.cifti2.BrainModelAxis:
        """A CIFTI file's grayordinates (its brain-model axis)."""
        return self.image.header.get_axis(1)

    def step_s(self) -> float | None:
        """The sampling interval in s a CIFTI series axis or GIFTI ``TimeStep`` (ms) records."""
        if isinstance(self.image, nib.cifti2.Cifti2Image):
            axis = self.image.header.get_axis(0)
            return float(axis.step) if isinstance(axis, nib.cifti2.SeriesAxis) else None
        if isinstance(self.image, nib.gifti.GiftiImage) and self.image.darrays:
            step = self.image.darrays[0].meta.get("TimeStep")
            return float(step) / 1000 if step else None
        return None


def open_surface(path: str | Path, what: str) -> SurfaceFile:
    """Open a GIFTI, MGH/MGZ or CIFTI-2 dense data file, checked to be readable to its end."""
    path = Path(path)
    require(check_exists(path, what))
    name = path.name
    try:
        image = nib.load(path)
        if name.endswith(GIFTI):
            if not image.darrays:
                raise BrainencodeError(f"{path}: {what}: expected data arrays, the GIFTI has "
                                       "none")
            arrays = [np.asarray(d.data) for d in image.darrays]
            if len(arrays) == 1 and arrays[0].ndim == 2:  # one [n_vertices, n_samples] array
                data = arrays[0].T
            elif any(a.ndim != 1 or a.shape != arrays[0].shape for a in arrays):
                raise BrainencodeError(f"{path}: {what}: expected one value per vertex in each "
                                       f"data array, got shapes {[a.shape for a in arrays][:3]}")
            else:
                data = np.stack(arrays)
            return SurfaceFile(path, data.shape, image, data)
        if name.endswith(FREESURFER):
            if image.ndim != 4 or image.shape[1:3] != (1, 1):
                raise BrainencodeError(f"{path}: {what}: expected surface data (vertices, 1, 1, "
                                       f"frames), got shape {image.shape}")
            _check_complete(path, image)
            return SurfaceFile(path, (image.shape[3], image.shape[0]), image)
        if name.endswith(CIFTI):
            if not isinstance(image, nib.cifti2.Cifti2Image) or not isinstance(
                    image.header.get_axis(1), nib.cifti2.BrainModelAxis):
                raise BrainencodeError(f"{path}: {what}: expected a CIFTI-2 dense file "
                                       "(brain models on its second axis)")
            _check_complete(path, image)
            return SurfaceFile(path, tuple(image.shape), image)
    except BrainencodeError:
        raise
    except READ_ERRORS as exc:
        raise BrainencodeError(f"{path}: cannot read {what} ({type(exc).__name__}: "
                               f"{str(exc)[:120]})") from None
    raise BrainencodeError(f"{path}: {what}: expected a surface file "
                           f"({', '.join(SURFACE_SUFFIXES)})")


def _check_complete(path: Path, image) -> None:
    """A truncated file: an uncompressed one is shorter than its header says (checked without
    reading it), a compressed one fails to read its last sample."""
    proxy = image.dataobj
    if path.suffix in (".mgh", ".nii"):
        expected = proxy.offset + int(np.prod(proxy.shape)) * proxy.dtype.itemsize
        if path.stat().st_size < expected:
            raise EOFError(f"{path.stat().st_size} bytes, the header says {expected}")
    else:
        proxy[..., -1:]


def check_surface(path: Path) -> list[str]:
    """`brainencode validate` of a surface file: readable to its end, finite values (labels:
    readable)."""
    if path.name.endswith((".label.gii", ".dlabel.nii", ".annot")):
        try:
            nib.freesurfer.read_annot(path) if path.name.endswith(".annot") else nib.load(path)
        except READ_ERRORS as exc:
            return [f"{path}: cannot read as a label file ({exc})"]
        return []
    try:
        surface = open_surface(path, "surface data")
        for start in range(0, surface.shape[1], 8192):
            block = surface.columns(slice(start, start + 8192))
            if not np.isfinite(block).all():
                return [f"{path}: data: expected finite values, found NaN or infinite ones "
                        f"(targets {start} to {start + block.shape[1] - 1})"]
    except BrainencodeError as exc:
        return [str(exc)]
    return []


def sidecar_json(path: Path) -> dict:
    """The BIDS JSON sidecar of a data file (same name, .json), or {}."""
    name = path.name
    for suffix in (*SURFACE_SUFFIXES, ".gii", ".nii.gz", ".nii"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    sidecar = path.with_name(name + ".json")
    if not sidecar.is_file():
        return {}
    try:
        return json.loads(sidecar.read_text())
    except ValueError as exc:
        raise BrainencodeError(f"{sidecar}: expected JSON ({exc})") from None
