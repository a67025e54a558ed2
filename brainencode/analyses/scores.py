"""The encoding-results contract: the one module that writes and reads its files.

- ``scores.tsv`` (per subject, and per subject and model; RSA writes the same layout): long
  format, one row per subject, ROI, model, layer and metric, the metric names being ``Metric``;
  ``note`` says why a value is left out (NaN), and is empty otherwise.
- ``<layer>.h5`` of an encoding folder: per target ``r``, ``r2``, ``alpha``, ``ceiling``,
  ``explainable_variance``, ``r_normalized``, ``p`` and ``q`` (float32), attributes subject,
  model, layer.
- ``<layer>.h5`` of a chunk folder (between ``encode`` and ``gather-encoding``): the same arrays
  without ``q``, the targets' ``roi`` labels and per ROI and test fold the sums that 2V2 needs
  (``pattern_products/<i>``), with ``meta.json`` (written last).
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from brainencode.datasets.h5files import writing
from brainencode.datasets.responses import STR
from brainencode.datasets.tables import write_tsv
from brainencode.errors import BrainencodeError


class Metric(str, Enum):
    """Every metric name a scores table can hold (the ``metric`` column)."""

    R = "r"
    R2 = "r2"
    R_NORMALIZED = "r_normalized"
    CEILING = "ceiling"
    EXPLAINABLE_VARIANCE = "explainable_variance"
    TWO_VS_TWO = "2v2"
    FRACTION_SIGNIFICANT = "fraction_significant"
    N_TARGETS = "n_targets"
    RSA_SPEARMAN = "rsa_spearman"
    RSA_KENDALL_TAU_A = "rsa_kendall_tau_a"

    def __str__(self) -> str:
        return self.value


SCORE_COLUMNS = ["subject", "roi", "model", "layer", "metric", "value", "note"]
# per-target arrays of a chunk, and of a joined encoding folder (which adds q)
PER_TARGET = ("r", "r2", "alpha", "ceiling", "explainable_variance", "r_normalized", "p")
JOINED = (*PER_TARGET, "q")
PRODUCTS = ("cross", "sq_true", "sq_pred")  # metrics.pattern_products, per ROI and test fold
META = "meta.json"


def score_table(rows: list[tuple]) -> pd.DataFrame:
    """Rows (subject, roi, model, layer, metric, value), or with a seventh item, the note of a
    value left out, as a scores table."""
    table = pd.DataFrame([(*row, "")[:7] for row in rows], columns=SCORE_COLUMNS)
    table["metric"] = table["metric"].map(lambda m: Metric(m).value)  # only known metrics
    return table


def write_scores(table: pd.DataFrame, path: str | Path) -> None:
    write_tsv(table[SCORE_COLUMNS], path)


def read_scores(paths: str | Path | list) -> pd.DataFrame:
    """One scores table, or several concatenated."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    table = pd.concat([pd.read_csv(p, sep="\t", keep_default_na=False,
                                   na_values={"value": ["", "NaN", "nan"]}) for p in paths],
                      ignore_index=True)
    return table.astype({"value": float, "note": str})


def write_chunk_layer(path: Path, per_target: dict[str, np.ndarray], roi: np.ndarray,
                      products: dict[str, list[tuple[np.ndarray, ...]]]) -> None:
    """One layer of one chunk; ``products[roi]`` holds per test fold the PRODUCTS sums."""
    with writing(path) as f:
        for key in PER_TARGET:
            f.create_dataset(key, data=np.asarray(per_target[key], dtype=np.float32))
        f.create_dataset("roi", data=roi.astype(object), dtype=STR)
        for i, (name, per_fold) in enumerate(products.items()):
            group = f.create_group(f"pattern_products/{i}")
            group.attrs["roi"] = name
            for k, sums in enumerate(per_fold):
                for product, value in zip(PRODUCTS, sums, strict=True):
                    group.create_dataset(f"{product}{k}", data=value)


def write_chunk_meta(folder: Path, meta: dict) -> None:
    (folder / META).write_text(json.dumps(meta))


def read_chunk_metas(folders: list[Path]) -> list[dict]:
    """meta.json of every chunk, checked to be chunks 0..n-1 covering the targets in order."""
    metas = []
    for folder in folders:
        if not (folder / META).is_file():
            raise BrainencodeError(f"{folder}: meta.json missing: expected a complete chunk "
                                   "written by `brainencode encode`")
        metas.append(json.loads((folder / META).read_text()))
    covered = [m["targets"] for m in metas]
    if ([m["chunk"] for m in metas] != list(range(metas[0]["n_chunks"]))
            or any(a[1] != b[0] for a, b in zip(covered, covered[1:], strict=False))):
        raise BrainencodeError(f"{folders[0].parent}: chunks: expected chunks 0 to "
                               f"{metas[0]['n_chunks'] - 1} in order, got "
                               f"{[m['chunk'] for m in metas]}")
    return metas


def read_chunk_layers(folders: list[Path], layer: str
                      ) -> tuple[dict[str, np.ndarray], np.ndarray,
                                 dict[tuple[str, str], np.ndarray]]:
    """One layer of every chunk: per-target arrays joined, ROI labels joined, and per ROI and
    ``<product><fold>`` the 2V2 sums added up over chunks."""
    arrays: dict[str, list] = {key: [] for key in PER_TARGET}
    roi = []
    products: dict[tuple[str, str], np.ndarray] = {}
    for folder in folders:
        with h5py.File(folder / f"{layer}.h5", "r") as f:
            for key in PER_TARGET:
                arrays[key].append(f[key][:])
            roi.append(f["roi"].asstr()[:])
            for group in f["pattern_products"].values():
                for name in group:
                    key = (group.attrs["roi"], name)
                    products[key] = products.get(key, 0) + group[name][:]
    return ({k: np.concatenate(v) for k, v in arrays.items()}, np.concatenate(roi), products)


def write_layer(folder: Path, layer: str, per_target: dict[str, np.ndarray],
                attrs: dict) -> None:
    """One layer of a joined encoding folder."""
    with writing(folder / f"{layer}.h5") as f:
        for key in JOINED:
            f.create_dataset(key, data=np.asarray(per_target[key], dtype=np.float32))
        f.attrs.update(attrs | {"layer": layer})


def read_layers(folder: str | Path, keys: tuple[str, ...] = JOINED):
    """(layer, {key: per-target array}) for every layer file of an encoding folder."""
    for path in sorted(Path(folder).glob("*.h5")):
        with h5py.File(path, "r") as f:
            yield path.stem, {key: f[key][:] for key in keys}
