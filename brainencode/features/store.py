"""The features contract: ``<layer>.npy`` (float32 [n_stimuli, n_features], rows in the stimuli
table's order) and ``meta.json`` (written last: a folder with meta.json is complete).

The one module that writes and reads feature folders. It imports no torch, so that every stage
that only reads features (encoding, RSA, captioning, the demo) starts without it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from brainencode.errors import BrainencodeError

META = "meta.json"


def write_features(folder: str | Path, layers: dict[str, np.ndarray], meta: dict) -> dict:
    """Write one float32 array per layer, then meta.json with ``layers`` and ``n_features``."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    meta = meta | {"layers": list(layers), "n_features": {}}
    for layer, array in layers.items():
        array = np.asarray(array, dtype=np.float32)
        np.save(folder / f"{layer}.npy", array)
        meta["n_features"][layer] = int(array.shape[1])
    (folder / META).write_text(json.dumps(meta, indent=1))
    return meta


def read_meta(folder: str | Path) -> dict:
    """meta.json of a complete features folder; one line if the folder is not complete."""
    path = Path(folder) / META
    if not path.is_file():
        raise BrainencodeError(f"{folder}: meta.json missing: expected a complete features "
                               "folder written by `brainencode features extract`")
    return json.loads(path.read_text())


def load_features(folder: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read meta.json and every layer array of a features folder."""
    folder = Path(folder)
    meta = read_meta(folder)
    return meta, {layer: np.load(folder / f"{layer}.npy") for layer in meta["layers"]}


def layer_rows(folder: str | Path, layer: str, ids: list[str], where: str,
               layer_key: str) -> np.ndarray:
    """One layer's feature rows for ``ids`` (in that order), float64; one line naming
    ``layer_key`` for a layer the folder lacks, and the folder for a stimulus it lacks (one of
    ``where``'s)."""
    meta, layers = load_features(folder)
    if layer not in layers:
        raise BrainencodeError(f"{layer_key}: expected one of {meta['layers']} "
                               f"({folder}), got {layer!r}")
    index = {sid: i for i, sid in enumerate(meta["stimulus_ids"])}
    missing = [s for s in ids if s not in index]
    if missing:
        raise BrainencodeError(f"{folder}: stimulus_ids: expected every stimulus of "
                               f"{where}, {missing[0]!r} is missing")
    return layers[layer][[index[s] for s in ids]].astype(np.float64)


def publish(source: str | Path, folder: str | Path) -> dict:
    """Fill ``folder`` from a complete cached folder (hard links where possible), meta.json
    last, and return its meta."""
    source, folder = Path(source), Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for path in [*sorted(source.glob("*.npy")), source / META]:
        try:
            os.link(path, folder / path.name)
        except OSError:
            shutil.copy2(path, folder / path.name)
    return read_meta(folder)
