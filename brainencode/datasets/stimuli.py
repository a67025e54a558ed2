"""The stimuli table contract: a TSV with stimulus_id, modality, path or text, optional caption.

Optional columns: ``group`` (stimuli that must not straddle train and test, e.g. a passage),
``context`` (text that a language model reads before ``text``, e.g. the passage's earlier
sentences; Brain-Score feeds Pereira 2018 passages this way) and ``experiment`` (stimuli
scored separately by the Brain-Score protocol, e.g. Pereira's 243- and 384-sentence sets).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.datasets.tables import write_tsv
from brainencode.errors import BrainencodeError

MODALITIES = ("image", "text", "word")

CAPTION_SEPARATOR = " | "  # joins several captions of one stimulus in a `captions` column

def read_stimuli(path: str | Path) -> pd.DataFrame:
    """Read and check a stimuli TSV; image paths are resolved relative to the table's folder."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise BrainencodeError(f"{path}: empty file, expected a stimuli table with a header "
                               "(stimulus_id, modality, path or text) and one row per "
                               "stimulus") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BrainencodeError(f"{path}: cannot read stimuli table ({exc})") from None
    if table.empty:
        raise BrainencodeError(f"{path}: rows: expected one row per stimulus, the table has "
                               "only its header")
    for column in ("stimulus_id", "modality"):
        if column not in table.columns:
            raise BrainencodeError(f"{path}: missing column '{column}' (expected stimulus_id, "
                                   "modality, path or text)")
    duplicated = table["stimulus_id"][table["stimulus_id"].duplicated()]
    if len(duplicated):
        raise BrainencodeError(f"{path}: stimulus_id: expected unique ids, "
                               f"{duplicated.iloc[0]!r} appears more than once")
    bad = table.loc[~table["modality"].isin(MODALITIES), "modality"]
    if len(bad):
        raise BrainencodeError(f"{path}: modality: expected one of {MODALITIES}, "
                               f"got {bad.iloc[0]!r}")
    if (table["modality"] == "image").any():
        if "path" not in table.columns:
            raise BrainencodeError(f"{path}: image stimuli need a 'path' column")
        resolved = [str((path.parent / p).resolve()) if p else "" for p in table["path"]]
        table["path"] = resolved
        missing = [p for p, m in zip(resolved, table["modality"], strict=True) if m == "image"
                   and not Path(p).is_file()]
        if missing:
            raise BrainencodeError(f"{path}: path: image file not found: {missing[0]}")
    return table


def image_paths(*tables: pd.DataFrame) -> dict[str, str]:
    """stimulus_id -> image path over the tables (image stimuli only; later tables win)."""
    paths: dict[str, str] = {}
    for table in tables:
        images = table[table["modality"] == "image"]
        paths |= dict(zip(images["stimulus_id"], images["path"], strict=True))
    return paths


def stimuli_hash(table: pd.DataFrame) -> str:
    """SHA-256 over the stimulus ids, texts, captions, contexts (when there are) and image
    bytes, in table order."""
    digest = hashlib.sha256()
    columns = ("stimulus_id", "modality", "text", "caption") + (
        ("context",) if "context" in table.columns else ())
    for row in table.itertuples(index=False):
        for column in columns:
            digest.update(str(getattr(row, column, "")).encode() + b"\0")
        if row.modality == "image":
            digest.update(Path(row.path).read_bytes())
    return digest.hexdigest()


def align_rows(data: np.ndarray, file_ids: list[str], ids: list[str], path: Path,
               stimuli: Path) -> np.ndarray:
    """Rows of ``data`` (labelled ``file_ids``) in the stimuli table's order ``ids``."""
    return data[row_order(file_ids, ids, path, stimuli)]


def row_order(file_ids: list[str], ids: list[str], path: Path, stimuli: Path) -> np.ndarray:
    """Which row of a file labelled ``file_ids`` holds each stimulus of ``ids``, in order;
    each stimulus must be there once."""
    position = {s: i for i, s in enumerate(file_ids)}
    unknown = sorted(set(file_ids) - set(ids))
    missing = [s for s in ids if s not in position]
    if unknown or missing or len(position) != len(file_ids):
        detail = (f"unknown {unknown[0]!r}" if unknown else f"missing {missing[0]!r}"
                  if missing else "duplicates")
        raise BrainencodeError(f"{path}: stimulus_id: expected each stimulus of {stimuli} "
                               f"once, {detail}")
    return np.array([position[s] for s in ids], dtype=np.intp)


def write_stimuli_table(table: pd.DataFrame, out: str | Path) -> None:
    """Write a stimuli TSV atomically (a partial table never looks complete)."""
    write_tsv(table, out)


def average_presentations(occurrences: dict[str, list[np.ndarray]], ids: list[str],
                          source: str | Path, stimuli: str | Path
                          ) -> tuple[np.ndarray, np.ndarray | None]:
    """Per stimulus (in ``ids`` order) the mean over its presentations, and the presentations
    as ``repeats`` [n, n_stimuli, n_targets] when every stimulus has the same number n > 1."""
    missing = [s for s in ids if not occurrences[s]]
    if missing:
        raise BrainencodeError(f"{source}: stimulus_id: expected every stimulus of {stimuli} in "
                               f"an events.tsv, {missing[0]!r} never is")
    counts = {len(occurrences[s]) for s in ids}
    repeats = (np.stack([np.stack(occurrences[s]) for s in ids], axis=1).astype(np.float32)
               if len(counts) == 1 and counts != {1} else None)
    data = np.stack([np.mean(occurrences[s], axis=0) for s in ids]).astype(np.float32)
    return data, repeats


def stimulus_groups(stimuli_path: str | Path | None, stimulus_ids: list[str]) -> np.ndarray | None:
    """The stimuli table's ``group`` column (run, story, session) in response order, or None."""
    if stimuli_path is None:
        return None
    table = read_stimuli(stimuli_path).set_index("stimulus_id")
    if "group" not in table.columns:
        return None
    missing = [s for s in stimulus_ids if s not in table.index]
    if missing:
        raise BrainencodeError(f"{stimuli_path}: stimulus_id: {missing[0]!r} has responses but "
                               "is not in the stimuli table")
    groups = table.loc[stimulus_ids, "group"].to_numpy()
    if (groups == "").any():
        raise BrainencodeError(f"{stimuli_path}: group: expected a group for every stimulus, "
                               "some are empty")
    return groups
