"""Where the scores are: voxel maps (MNI volume, fsaverage5 surface), sEEG contacts, bars.

Every map shows, per target, its best r over all model x layer choices, kept only where it is
significant after a Bonferroni step across those choices (see best_significant).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from brainencode.analyses.scores import read_layers  # noqa: E402
from brainencode.datasets.responses import Responses  # noqa: E402

DPI = 110
CMAP = "YlOrRd"
MIN_CEILING = 0.1  # below it, r / ceiling is too unstable to map


def best_significant(encoding_dirs: list[Path], n_targets: int, alpha: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per target, the best r over every model and layer, and r / ceiling of that choice.

    The maximum over k model x layer choices is biased upwards for noise targets, so a target
    keeps its values only where its smallest BH q-value survives a Bonferroni step across the
    k choices (q_min * k < alpha); elsewhere both are 0.
    """
    best = np.full(n_targets, -np.inf)
    normalized = np.full(n_targets, np.nan)
    q_min = np.ones(n_targets)
    n_choices = 0
    for folder in encoding_dirs:
        for _, f in read_layers(folder, ("r", "ceiling", "r_normalized", "q")):
            r = f["r"]
            better = r > best
            best[better] = r[better]
            normalized[better] = np.where(f["ceiling"] >= MIN_CEILING, f["r_normalized"],
                                          np.nan)[better]
            q_min = np.fmin(q_min, f["q"])
            n_choices += 1
    keep = np.isfinite(best) & (q_min * n_choices < alpha)
    return np.where(keep, best, 0.0), np.where(keep, np.nan_to_num(normalized), 0.0)


def volume(values: np.ndarray, responses: Responses) -> nib.Nifti1Image:
    """Per-voxel values placed back into the responses' grid."""
    shape = tuple(int(s) for s in responses.attrs["shape"])
    grid = np.zeros(shape, dtype=np.float32)
    grid[tuple(responses.ijk.T)] = values
    return nib.Nifti1Image(grid, np.asarray(responses.attrs["affine"]).reshape(4, 4))


def _vmax(values: np.ndarray) -> float:
    return max(float(np.max(values)), 0.1)


def _label_colorbar(fig: plt.Figure, label: str) -> None:
    """nilearn's slice displays draw their colour bar last, at the right edge, with its ticks
    on the left and no label: add one on the left, inside the figure."""
    colorbar = fig.axes[-1]
    colorbar.yaxis.set_label_position("left")
    colorbar.set_ylabel(label, fontsize=9)


def volume_map(image: nib.Nifti1Image, on_template: bool, title: str, label: str,
               path: Path, vmax: float | None = None) -> None:
    """Orthogonal slices through the strongest scores (nilearn picks the cuts), on nilearn's
    MNI152 template for MNI-space data and without a background for native-space data."""
    from nilearn import plotting

    background = {} if on_template else {"bg_img": None}
    fig = plt.figure(figsize=(9.0, 3.6))
    plotting.plot_stat_map(image, **background, threshold=1e-6, display_mode="ortho",
                           colorbar=True, cmap=CMAP, symmetric_cbar=False, vmin=0,
                           vmax=vmax or _vmax(np.asarray(image.dataobj)), title=title, figure=fig,
                           draw_cross=False, cbar_tick_format="%.2f")
    _label_colorbar(fig, label)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def surface_map(image: nib.Nifti1Image, title: str, label: str, path: Path) -> None:
    """The volume sampled onto fsaverage5's pial mesh (nilearn's vol_to_surf, nilearn's own
    copy of the template, nothing downloaded) and shown on the inflated mesh over sulcal depth:
    lateral and medial views of both hemispheres."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from nilearn import datasets, plotting
    from nilearn.surface import SurfaceImage

    mesh = datasets.load_fsaverage("fsaverage5")
    sulcal = datasets.load_fsaverage_data(mesh="fsaverage5", mesh_type="inflated",
                                          data_type="sulcal")
    scores = SurfaceImage.from_volume(mesh=mesh["pial"], volume_img=image)
    vmax = _vmax(np.asarray(image.dataobj))
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 6.4), subplot_kw={"projection": "3d"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Meshes are not identical")  # pial data, inflated view
        for row, view in enumerate(("lateral", "medial")):
            for col, hemi in enumerate(("left", "right")):
                plotting.plot_surf_stat_map(mesh["inflated"], scores, hemi=hemi, view=view,
                                            bg_map=sulcal, axes=axes[row, col], figure=fig,
                                            colorbar=False, cmap=CMAP, threshold=1e-6, vmin=0,
                                            vmax=vmax, symmetric_cbar=False)
                axes[row, col].set_title(f"{hemi} hemisphere, {view}", fontsize=10)
    colorbar = fig.colorbar(ScalarMappable(Normalize(0, vmax), CMAP), ax=axes, shrink=0.6)
    colorbar.set_label(label, fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def electrode_map(values: np.ndarray, responses: Responses, title: str, label: str,
                  path: Path) -> None:
    """Contacts on a glass brain (MNI), coloured by their best value over time windows."""
    from nilearn import plotting

    table = pd.DataFrame({"channel": responses.channel, "value": values,
                          "x": responses.xyz[:, 0], "y": responses.xyz[:, 1],
                          "z": responses.xyz[:, 2]}).groupby("channel", sort=False).max()
    fig = plt.figure(figsize=(9.0, 3.6))
    plotting.plot_markers(table["value"].to_numpy(), table[["x", "y", "z"]].to_numpy(),
                          node_cmap=CMAP, node_vmin=0, node_vmax=_vmax(values), figure=fig,
                          display_mode="ortho", title=title, colorbar=True)
    _label_colorbar(fig, label)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def target_bars(values: np.ndarray, responses: Responses, title: str, label: str,
                path: Path) -> None:
    """Targets without a location (table data): their values, sorted within each ROI, as
    one filled step outline per ROI (one artist per ROI, not per target: 200 000 bars took
    minutes and GBs)."""
    order = np.lexsort((-values, responses.roi))
    rois, starts = np.unique(responses.roi[order], return_index=True)
    fig, ax = plt.subplots(figsize=(min(12.0, 3 + 0.25 * len(values)), 4))
    stops = [*starts[1:], len(values)]  # lexsort put each ROI's targets together, in order
    for i, (roi, start, stop) in enumerate(zip(rois, starts, stops, strict=True)):
        ax.stairs(values[order][start:stop], np.arange(start, stop + 1) - 0.5, fill=True,
                  color=f"C{i}", label=roi)
    ax.set_xlabel("target (sorted within ROI)", fontsize=10)
    ax.set_ylabel(label, fontsize=10)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
