"""Caption galleries: per ROI, a voxel's top images, their captions, its caption and score."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from brainencode.analyses.captioning.files import (  # noqa: E402
    read_evaluation,
    read_image_captions,
    read_selection,
    read_voxel_captions,
)
from brainencode.datasets.stimuli import image_paths, read_stimuli  # noqa: E402


@dataclass
class GalleryVoxel:
    """One captioned voxel as the gallery shows it."""

    roi: str
    target: int
    caption: str
    keywords: str
    describer: str
    llm: bool
    scores: dict[str, float]  # method -> Spearman on the held-out stimuli
    images: list[tuple[str, str, str]] = field(default_factory=list)  # (id, path, caption)


def gallery_voxels(selection_dir: str | Path, image_captions: str | Path,
                   voxel_captions: str | Path, evaluation: str | Path,
                   paths: dict[str, str], per_roi: int = 1, n_images: int = 5
                   ) -> list[GalleryVoxel]:
    """The ``per_roi`` voxels of each ROI best predicted within the training stimuli (chosen
    without the held-out scores they display)."""
    picked = read_selection(selection_dir)
    captions = read_image_captions(image_captions)
    voxels = read_voxel_captions(voxel_captions)
    scores = read_evaluation(evaluation).pivot(index="target", columns="method",
                                               values="spearman")
    chosen = []
    for roi, part in voxels.groupby("roi", sort=True):
        for row in part.sort_values("cv_r", ascending=False).head(per_roi).itertuples():
            images = picked.top(row.target)
            chosen.append(GalleryVoxel(
                str(roi), int(row.target), row.caption, row.keywords, row.describer,
                str(row.llm) == "True", scores.loc[row.target].to_dict(),
                [(s, paths[s], captions[s][0]) for s in images[:n_images]]))
    return chosen


def score_line(scores: dict[str, float]) -> str:
    return (f"Spearman on held-out stimuli: caption {scores['lavca']:.2f}, shuffled "
            f"{scores['shuffled']:.2f}, BrainSCUBA-style {scores['brainscuba']:.2f}, encoder "
            f"{scores['encoder']:.2f}")


def gallery_figure(*, selection: Path, image_captions: Path, voxel_captions: Path,
                   evaluation: Path, stimuli: Path, bank: Path, out: Path) -> Path:
    """One row per ROI (its best-predicted voxel): top images with their captions."""
    voxels = gallery_voxels(selection, image_captions, voxel_captions, evaluation,
                            image_paths(read_stimuli(stimuli), read_stimuli(bank)))
    n_images = max((len(v.images) for v in voxels), default=1)
    fig, axes = plt.subplots(max(len(voxels), 1), n_images, squeeze=False,
                             figsize=(2.4 * n_images, 3.4 * max(len(voxels), 1)))
    for ax in axes.flat:
        ax.axis("off")
    for row, voxel in zip(axes, voxels, strict=False):
        for ax, (sid, path, caption) in zip(row, voxel.images, strict=False):
            ax.imshow(np.asarray(Image.open(path).convert("RGB")))
            ax.set_title(f"{sid}", fontsize=7)
            ax.text(0.5, -0.04, textwrap.fill(caption, 32), transform=ax.transAxes,
                    ha="center", va="top", fontsize=6.5)
        label = "" if voxel.llm else " [not an LLM]"
        row[0].text(0, 1.32, textwrap.fill(
            f"{voxel.roi}, voxel {voxel.target}: \u201c{voxel.caption}\u201d{label}", 110),
            transform=row[0].transAxes, fontsize=9, fontweight="bold", va="bottom")
        row[0].text(0, 1.16, score_line(voxel.scores), transform=row[0].transAxes, fontsize=7.5,
                    va="bottom")
    describer = voxels[0].describer if voxels else "no voxel"
    fig.suptitle(f"Voxel captions ({describer}); top images by predicted response", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97), h_pad=4)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
