"""The generic format: a stimulus table plus a responses array, for data no other loader reads.

``path`` (per subject, ``{subject}`` filled in) is one of
- ``.npy``: [n_stimuli, n_targets], rows in the stimuli table's order;
- ``.h5``: ``data`` [n_stimuli, n_targets], optional ``stimulus_id`` and per-target ``roi``;
- ``.tsv``/``.csv``: one row per stimulus; ``response_columns`` are the targets, ``id_column``
  names the stimulus (default: the row number) and ``text_column`` or ``path_column`` can supply
  the stimuli themselves when there is no ``stimuli_table`` (e.g. Pereira 2018 sentence-level
  averages: Sentence, EffectSize).
``roi`` labels all targets of a .npy/.tsv (default: all).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from brainencode.datasets.checks import check_hdf5, require
from brainencode.datasets.paths import subject_path
from brainencode.datasets.responses import Responses, TargetBlocks
from brainencode.datasets.stimuli import read_stimuli, row_order, write_stimuli_table
from brainencode.errors import BrainencodeError


def _read_columns(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise BrainencodeError(f"{path}: cannot read as a TSV/CSV table ({exc})") from None


def _ids(table: pd.DataFrame, config: dict, path: Path) -> list[str]:
    column = config.get("id_column")
    if column is None:
        return [f"stim-{i:05d}" for i in range(len(table))]
    if column not in table.columns:
        raise BrainencodeError(f"{path}: missing column {column!r} (dataset.id_column)")
    return [str(v) for v in table[column]]


def write_stimuli(config: dict, out: Path) -> None:
    """Copy ``stimuli_table`` (image paths made absolute: relative ones name files beside the
    user's table, not the copy), or build it from the responses table's text/path column."""
    if "stimuli_table" in config:
        write_stimuli_table(read_stimuli(config["stimuli_table"]), out)
        return
    path = subject_path(config["path"], config["subjects"][0])
    table = _read_columns(path)
    for key, modality in (("text_column", "text"), ("path_column", "image")):
        if key in config:
            column = config[key]
            if column not in table.columns:
                raise BrainencodeError(f"{path}: missing column {column!r} (dataset.{key})")
            rows = pd.DataFrame({"stimulus_id": _ids(table, config, path), "modality": modality})
            if modality == "text":
                rows["text"] = table[column].to_numpy()
            else:
                rows["path"] = [str((path.parent / p).resolve()) for p in table[column]]
            write_stimuli_table(rows, out)
            return
    raise BrainencodeError(f"{path}: dataset.stimuli_table, text_column or path_column: "
                           "expected one of them to say what the stimuli are")


def load(config: dict, subject: str, stimuli: Path) -> Responses:
    """A .npy or .h5 is read a block of targets at a time when the responses are written
    (TargetBlocks: memory-mapped or opened again for each block); a table is small."""
    ids = list(read_stimuli(stimuli)["stimulus_id"])
    path = subject_path(config["path"], subject)
    name = path.name.lower()
    roi_label = config["roi"]
    if name.endswith(".npy"):
        try:
            data = np.load(path, mmap_mode="r")
        except (OSError, ValueError, EOFError) as exc:
            raise BrainencodeError(f"{path}: cannot read as .npy ({exc})") from None
        file_ids, shape, roi = ids, data.shape, None

        def source(key):  # mapped afresh a block at a time: the pages read leave the RSS
            return np.load(path, mmap_mode="r")[key]
    elif name.endswith((".h5", ".hdf5")):
        require(check_hdf5(path, responses_layout=False))
        with h5py.File(path, "r") as f:
            if "data" not in f:
                raise BrainencodeError(f"{path}: missing dataset 'data' [n_stimuli, n_targets]")
            shape = f["data"].shape
            file_ids = list(f["stimulus_id"].asstr()[:]) if "stimulus_id" in f else ids
            roi = f["roi"].asstr()[:] if "roi" in f else None

        def source(key):
            with h5py.File(path, "r") as f:
                return f["data"][key]
    elif name.endswith((".tsv", ".csv", ".txt")):
        table = _read_columns(path)
        columns = config.get("response_columns")
        if not columns:
            raise BrainencodeError(f"{path}: dataset.response_columns: expected the columns "
                                   "that hold the responses")
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise BrainencodeError(f"{path}: missing column {missing[0]!r} "
                                   "(dataset.response_columns)")
        values = table[columns].apply(pd.to_numeric, errors="coerce")
        data = values.to_numpy(dtype=np.float32)
        file_ids, shape, source = _ids(table, config, path), data.shape, data.__getitem__
        roi = None
    else:
        raise BrainencodeError(f"{path}: dataset.path: expected .npy, .h5 or .tsv/.csv")
    if len(shape) != 2 or shape[0] != len(file_ids):
        raise BrainencodeError(f"{path}: data: expected [n_stimuli={len(file_ids)}, n_targets], "
                               f"got shape {shape}")
    rows = row_order(file_ids, ids, path, stimuli)
    if roi is None:  # one label for all
        roi = np.full(shape[1], roi_label)

    def read(targets: slice) -> tuple[np.ndarray, None]:
        return _numeric(source((slice(None), targets)), path)[rows], None

    return Responses(data=TargetBlocks(len(ids), shape[1], read), stimulus_ids=ids,
                     roi=np.asarray(roi), subject=subject, attrs={"modality": "unknown"})


def _numeric(block: np.ndarray, path: Path) -> np.ndarray:
    try:
        return np.asarray(block, np.float32)
    except (TypeError, ValueError) as exc:
        raise BrainencodeError(f"{path}: data: expected numbers ({exc})") from None
