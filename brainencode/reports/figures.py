"""Per-subject figures: layer curves per ROI, a model x ROI heatmap and a voxel-wise brain map."""

from __future__ import annotations

from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from brainencode.datasets.responses import Responses, read_responses  # noqa: E402

FIGURES = ("layer_curves.png", "model_roi_heatmap.png", "brain_best_r.png")


def _metric(scores: pd.DataFrame, metric: str) -> pd.DataFrame:
    table = scores[scores["metric"] == metric].copy()
    order = {}
    for model, group in table.groupby("model", sort=False):
        layers = list(dict.fromkeys(group["layer"]))
        order.update({(model, layer): i / max(len(layers) - 1, 1)
                      for i, layer in enumerate(layers)})
    table["depth"] = [order[(m, la)] for m, la in zip(table["model"], table["layer"], strict=True)]
    return table


def layer_curves(scores: pd.DataFrame, path: Path) -> None:
    """Mean out-of-fold r per ROI against relative layer depth, one line per model."""
    table = _metric(scores, "r")
    rois = list(dict.fromkeys(table["roi"]))
    fig, axes = plt.subplots(1, len(rois), figsize=(3.2 * len(rois), 3.0), sharey=True,
                             squeeze=False)
    for ax, roi in zip(axes[0], rois, strict=True):
        for model, group in table[table["roi"] == roi].groupby("model", sort=False):
            ax.plot(group["depth"], group["value"], marker="o", ms=3, label=model)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_title(roi)
        ax.set_xlabel("relative layer depth (0 = embeddings)")
    axes[0, 0].set_ylabel("mean Pearson r (out-of-fold)")
    axes[0, -1].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def model_roi_heatmap(scores: pd.DataFrame, path: Path) -> None:
    """Best-layer mean r per model and ROI, annotated with the best layer."""
    table = _metric(scores, "r")
    best = table.loc[table.groupby(["model", "roi"], sort=False)["value"].idxmax()]
    models = list(dict.fromkeys(table["model"]))
    rois = list(dict.fromkeys(table["roi"]))
    grid = best.pivot(index="model", columns="roi", values="value").loc[models, rois]
    layer = best.pivot(index="model", columns="roi", values="layer").loc[models, rois]
    fig, ax = plt.subplots(figsize=(1.4 * len(rois) + 2.5, 0.7 * len(models) + 1.5))
    limit = max(float(np.nanmax(np.abs(grid.values))), 0.05)
    image = ax.imshow(grid.values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for i in range(len(models)):
        for j in range(len(rois)):
            value = grid.values[i, j]
            ax.text(j, i, f"{value:.2f}\n{layer.values[i, j]}", ha="center", va="center",
                    fontsize=8, color="white" if abs(value) > 0.6 * limit else "black")
    ax.set_xticks(range(len(rois)), rois)
    ax.set_yticks(range(len(models)), models)
    fig.colorbar(image, ax=ax, label="best-layer mean Pearson r")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def best_significant_r(encoding_dirs: list[Path], n_targets: int, alpha: float) -> np.ndarray:
    """Per target, the best r over every model and layer where it is significant, else 0.

    The maximum over k model x layer choices is biased upwards for noise targets, so a target
    is kept only where its smallest BH q-value survives a Bonferroni step across the k choices
    (q_min * k < alpha).
    """
    best = np.full(n_targets, -np.inf)
    q_min = np.ones(n_targets)
    n_choices = 0
    for folder in encoding_dirs:
        for layer_file in sorted(Path(folder).glob("*.h5")):
            with h5py.File(layer_file, "r") as f:
                best = np.fmax(best, f["r"][:])
                q_min = np.fmin(q_min, f["q"][:])
            n_choices += 1
    keep = np.isfinite(best) & (q_min * n_choices < alpha)
    return np.where(keep, best, 0.0)


def best_r_volume(encoding_dirs: list[Path], responses: Responses,
                  alpha: float) -> nib.Nifti1Image:
    """The voxels' best significant r (see best_significant_r) as a volume."""
    best = best_significant_r(encoding_dirs, responses.n_targets, alpha)
    shape = tuple(int(s) for s in responses.attrs["shape"])
    volume = np.zeros(shape, dtype=np.float32)
    volume[tuple(responses.ijk.T)] = best
    return nib.Nifti1Image(volume, np.asarray(responses.attrs["affine"]).reshape(4, 4))


def electrode_map(encoding_dirs: list[Path], responses: Responses, alpha: float, title: str,
                  path: Path) -> None:
    """Contacts on a glass brain (MNI), coloured by their best significant r over windows."""
    from nilearn import plotting

    best = best_significant_r(encoding_dirs, responses.n_targets, alpha)
    table = pd.DataFrame({"channel": responses.channel, "r": best,
                          "x": responses.xyz[:, 0], "y": responses.xyz[:, 1],
                          "z": responses.xyz[:, 2]}).groupby("channel", sort=False).max()
    display = plotting.plot_markers(table["r"].to_numpy(), table[["x", "y", "z"]].to_numpy(),
                                    node_cmap="hot", node_vmin=0,
                                    node_vmax=max(float(table["r"].max()), 0.1),
                                    display_mode="ortho", title=title, colorbar=True)
    display.savefig(path, dpi=110)
    display.close()


def brain_map(volume: nib.Nifti1Image, space: str, title: str, path: Path) -> None:
    """Orthogonal slices through the strongest scores (nilearn picks the cuts), on nilearn's
    MNI152 template for MNI-space data and without a background for native-space data."""
    from nilearn import plotting

    vmax = max(float(np.asarray(volume.dataobj).max()), 0.1)
    background = {} if space.startswith("MNI") else {"bg_img": None}
    display = plotting.plot_stat_map(volume, **background, threshold=1e-6,
                                     display_mode="ortho", colorbar=True, cmap="hot",
                                     symmetric_cbar=False, vmin=0, vmax=vmax, title=title,
                                     draw_cross=False)
    display.savefig(path, dpi=110)
    display.close()


def target_bars(encoding_dirs: list[Path], responses: Responses, alpha: float, title: str,
                path: Path) -> None:
    """Targets without a location (table data): their best significant r, sorted, per ROI."""
    best = best_significant_r(encoding_dirs, responses.n_targets, alpha)
    order = np.lexsort((-best, responses.roi))
    fig, ax = plt.subplots(figsize=(min(12.0, 3 + 0.25 * len(best)), 4))
    colours = {roi: f"C{i}" for i, roi in enumerate(dict.fromkeys(responses.roi[order]))}
    ax.bar(np.arange(len(best)), best[order], color=[colours[r] for r in responses.roi[order]])
    for roi, colour in colours.items():
        ax.bar([], [], color=colour, label=roi)
    ax.set_xlabel("target (sorted within ROI)")
    ax.set_ylabel("best Pearson r (significant)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def subject_figures(scores_path: Path, encoding_dirs: list[Path], responses_path: Path,
                    out_dir: Path, alpha: float) -> list[Path]:
    """Write the three per-subject figures into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = pd.read_csv(scores_path, sep="\t")
    subject = scores["subject"].iloc[0]
    paths = [out_dir / name for name in FIGURES]
    layer_curves(scores, paths[0])
    model_roi_heatmap(scores, paths[1])
    responses = read_responses(responses_path)
    if responses.channel is not None:
        electrode_map(encoding_dirs, responses, alpha,
                      f"{subject}: best Pearson r per contact (significant windows)", paths[2])
    elif responses.ijk is None:
        target_bars(encoding_dirs, responses, alpha,
                    f"{subject}: best Pearson r per target over models and layers", paths[2])
    else:
        brain_map(best_r_volume(encoding_dirs, responses, alpha),
                  str(responses.attrs.get("space", "")),
                  f"{subject}: best Pearson r over models and layers (significant voxels)",
                  paths[2])
    return paths
