"""The captioning stage's files: the one module that writes and reads them.

Per subject, under ``<results>/captioning/<subject>/``:

- ``selection/``: ``split.tsv`` (stimulus_id, split train/test), ``voxels.tsv`` (target, roi,
  cv_r, alpha), ``top_images.tsv`` (target, rank, stimulus_id, predicted_z), ``baseline.tsv``
  (target, stimulus_id of the BrainSCUBA-style nearest image), ``model.npz`` (the voxels'
  encoders and their held-out predictions) and ``meta.json`` (written last);
- ``image_captions.tsv`` (stimulus_id, caption, captioner; one row per caption);
- ``voxel_captions.tsv`` (target, roi, cv_r, keywords, caption, describer, llm,
  baseline_image, baseline_caption);
- ``evaluation.tsv`` (subject, target, roi, method, spearman), ``summary.tsv`` (per ROI and
  method) and ``evaluation.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.datasets.tables import write_tsv
from brainencode.errors import BrainencodeError

SELECTION_TABLES = ("split", "voxels", "top_images", "baseline")
# the captioning keys the selection reads (selection.select_images): only a change of one of
# them reruns it and what follows, not a change of the captioner's or describer's settings
SELECTION_KEYS = ("layer", "test_fraction", "seed", "rois", "voxels_per_roi", "min_r", "top_n",
                  "baseline_temperature")


@dataclass
class Selection:
    """The voxels picked for captioning, their top and baseline images, the split."""

    split: pd.DataFrame
    voxels: pd.DataFrame
    top_images: pd.DataFrame
    baseline: pd.DataFrame
    model: dict[str, np.ndarray]
    meta: dict

    def ids(self, part: str) -> list[str]:
        """Stimulus ids of the ``train`` or ``test`` part of the split."""
        return list(self.split.loc[self.split["split"] == part, "stimulus_id"])

    def top(self, target: int) -> list[str]:
        """A voxel's top images, best first."""
        rows = self.top_images[self.top_images["target"] == target]
        return list(rows.sort_values("rank")["stimulus_id"])

    def images(self) -> set[str]:
        """Every image a later step needs a caption of."""
        return (set(self.top_images["stimulus_id"]) | set(self.baseline["stimulus_id"])
                | set(self.split["stimulus_id"]))


def write_captions(table: pd.DataFrame, path: Path) -> None:
    """image_captions.tsv or voxel_captions.tsv, written atomically."""
    write_tsv(table, path)


def write_selection(folder: Path, selection: Selection) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in SELECTION_TABLES:
        getattr(selection, name).to_csv(folder / f"{name}.tsv", sep="\t", index=False)
    np.savez(folder / "model.npz", **selection.model)
    (folder / "meta.json").write_text(json.dumps(selection.meta, indent=1))


def read_selection(folder: str | Path) -> Selection:
    folder = Path(folder)
    if not (folder / "meta.json").is_file():
        raise BrainencodeError(f"{folder}: meta.json missing: expected a complete selection "
                               "written by `brainencode captioning select`")
    dtypes = {"split": str, "voxels": None, "top_images": {"stimulus_id": str},
              "baseline": {"stimulus_id": str}}
    tables = {name: pd.read_csv(folder / f"{name}.tsv", sep="\t", dtype=dtypes[name])
              for name in SELECTION_TABLES}
    with np.load(folder / "model.npz") as model:
        arrays = {key: model[key] for key in model.files}
    return Selection(**tables, model=arrays, meta=json.loads((folder / "meta.json").read_text()))


def read_image_captions(path: str | Path) -> dict[str, list[str]]:
    """stimulus_id -> its captions, in file order."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return table.groupby("stimulus_id", sort=False)["caption"].apply(list).to_dict()


def read_voxel_captions(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False)


def write_evaluation(folder: Path, evaluation: pd.DataFrame, summary: pd.DataFrame,
                     naming: pd.DataFrame, info: dict) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    evaluation.to_csv(folder / "evaluation.tsv", sep="\t", index=False)
    summary.to_csv(folder / "summary.tsv", sep="\t", index=False)
    naming.to_csv(folder / "naming.tsv", sep="\t", index=False)
    (folder / "evaluation.json").write_text(json.dumps(info, indent=1))


def read_evaluation(path: str | Path) -> pd.DataFrame:
    """evaluation.tsv: per voxel and method, the held-out Spearman."""
    return pd.read_csv(path, sep="\t")


def read_summary(folder: str | Path) -> pd.DataFrame:
    """summary.tsv of a subject's captioning folder: per ROI and method."""
    return pd.read_csv(Path(folder) / "summary.tsv", sep="\t")


def read_naming(folder: str | Path) -> pd.DataFrame:
    """naming.tsv of a subject's captioning folder: per planted concept, describer and field,
    the share of voxels naming it (empty without planted concepts)."""
    return pd.read_csv(Path(folder) / "naming.tsv", sep="\t")
