"""The features contract: ``<layer>.npy`` (float32 [n_stimuli, n_features], rows in the stimuli
table's order) and ``meta.json`` (written last: a folder with meta.json is complete).

The one module that writes and reads feature folders. It imports no torch, so that every stage
that only reads features (encoding, RSA, captioning, the demo) starts without it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from brainencode.errors import BrainencodeError
from brainencode.features.hub import sha256_hex

META = "meta.json"


def write_features(folder: str | Path, layers: dict[str, np.ndarray], meta: dict) -> dict:
    """Write one float32 array per layer, then meta.json with ``layers``, ``n_features`` and
    each file's SHA-256 (``sha256``, checked when a cached copy is reused). Non-finite values
    are an error naming the model and layer: they would make every score NaN downstream."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    meta = meta | {"layers": list(layers), "n_features": {}, "sha256": {}}
    for layer, array in layers.items():
        array = np.asarray(array, dtype=np.float32)
        _check_finite(array, meta.get("name", folder.name), layer)
        np.save(folder / f"{layer}.npy", array)
        meta["n_features"][layer] = int(array.shape[1])
        meta["sha256"][layer] = sha256_hex([folder / f"{layer}.npy"])
    (folder / META).write_text(json.dumps(meta, indent=1))
    return meta


def _check_finite(array: np.ndarray, model: str, layer: str) -> None:
    bad = int(array.size - np.isfinite(array).sum())
    if bad:
        raise BrainencodeError(f"models: {model}: layer {layer}: {bad} non-finite feature "
                               "values (NaN or inf), expected finite features")


def read_meta(folder: str | Path) -> dict:
    """meta.json of a complete features folder; one line if the folder is not complete."""
    path = Path(folder) / META
    if not path.is_file():
        raise BrainencodeError(f"{folder}: meta.json missing: expected a complete features "
                               "folder written by `brainencode features extract`")
    return json.loads(path.read_text())


def load_features(folder: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read meta.json and every layer array of a features folder (read_layer for each)."""
    meta = read_meta(folder)
    return meta, {layer: read_layer(folder, meta, layer) for layer in meta["layers"]}


def read_layer(folder: str | Path, meta: dict, layer: str) -> np.ndarray:
    """One layer's array, so that a stage can hold one layer at a time; one line for a layer
    file that is unreadable, truncated, of the wrong shape or not finite."""
    path = Path(folder) / f"{layer}.npy"
    try:
        array = np.load(path)
    except (OSError, ValueError, EOFError) as exc:
        raise BrainencodeError(f"{path}: cannot read the layer's features ({exc}); delete "
                               f"{folder} to extract them again") from None
    rows, width = len(meta["stimulus_ids"]), meta.get("n_features", {}).get(layer)
    if array.ndim != 2 or array.shape[0] != rows or width not in (None, array.shape[1]):
        raise BrainencodeError(f"{path}: shape: expected ({rows}, {width or 'n_features'}) "
                               f"(meta.json), got {array.shape}")
    _check_finite(array, meta.get("name", Path(folder).name), layer)
    return array


def layer_rows(folder: str | Path, layer: str, ids: list[str], where: str,
               layer_key: str) -> np.ndarray:
    """One layer's feature rows for ``ids`` (in that order), float64; one line naming
    ``layer_key`` for a layer the folder lacks, and the folder for a stimulus it lacks (one of
    ``where``'s)."""
    meta = read_meta(folder)
    if layer not in meta["layers"]:
        raise BrainencodeError(f"{layer_key}: expected one of {meta['layers']} "
                               f"({folder}), got {layer!r}")
    index = {sid: i for i, sid in enumerate(meta["stimulus_ids"])}
    missing = [s for s in ids if s not in index]
    if missing:
        raise BrainencodeError(f"{folder}: stimulus_ids: expected every stimulus of "
                               f"{where}, {missing[0]!r} is missing")
    return read_layer(folder, meta, layer)[[index[s] for s in ids]].astype(np.float64)


def publish(source: str | Path, folder: str | Path) -> dict:
    """Fill ``folder`` with copies of a cached folder's files, meta.json last, and return its
    meta. The cache is never shared with a file a user may edit (no hard links); an entry
    whose files no longer match their stored SHA-256 raises `StaleCacheEntry`."""
    source, folder = Path(source), Path(folder)
    meta = read_meta(source)
    for layer in meta["layers"]:
        path = source / f"{layer}.npy"
        if not path.is_file() or sha256_hex([path]) != meta.get("sha256", {}).get(layer):
            raise StaleCacheEntry(f"{path}: its SHA-256 does not match the one stored in "
                                  f"{source / META}")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for path in [*(source / f"{layer}.npy" for layer in meta["layers"]), source / META]:
        shutil.copyfile(path, folder / path.name)  # a reflink where the file system has them
    return read_meta(folder)


class StaleCacheEntry(BrainencodeError):
    """A cached features folder that was edited, truncated or corrupted after it was written."""


def protect(folder: str | Path) -> None:
    """Make a cache entry's files read-only, so that an edit is a deliberate act."""
    for path in Path(folder).iterdir():
        path.chmod(0o444)
