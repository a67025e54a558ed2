"""The responses contract: one HDF5 file per subject (see DESIGN.md, 'Data contracts')."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from brainencode.datasets.h5files import writing
from brainencode.errors import BrainencodeError

STR = h5py.string_dtype("utf-8")
STRING_FIELDS = ("channel", "window", "hemi", "structure")
NUMERIC_FIELDS = {"ijk": np.int32, "xyz": np.float32, "vertex": np.int32, "run": np.int32,
                  "time": np.float64}
# one entry per target (column of data)
TARGET_FIELDS = ("ijk", "xyz", "vertex", "channel", "window", "hemi", "structure")
BLOCK_TARGETS = 4096  # targets a block when written (and the width of the data's HDF5 chunks)


@dataclass(frozen=True)
class TargetBlocks:
    """A subject's data and repeats read a block of targets at a time, never whole: what a
    loader returns when its files can be read that way (table .npy/.h5, NSD betas), so
    that writing the responses holds one block, not the subject. ``read(targets)`` gives
    float32 data [n_rows, len(targets)] and repeats [n_repeats, n_rows, len(targets)] (None
    when ``n_repeats`` is 0) of the source's targets; ``keep`` (a mask over them, from
    ``dataset.invalid_targets: drop``) leaves targets out as they are read."""

    n_rows: int
    n_source: int
    read: Callable[[slice], tuple[np.ndarray, np.ndarray | None]]
    n_repeats: int = 0
    keep: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_rows, self.n_source if self.keep is None else int(self.keep.sum())

    def blocks(self, size: int = BLOCK_TARGETS
               ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """The kept targets' data and repeats, one block of source targets at a time."""
        for start in range(0, self.n_source, size):
            piece = slice(start, min(start + size, self.n_source))
            data, repeats = self.read(piece)
            if self.keep is not None:
                kept = self.keep[piece]
                data, repeats = data[:, kept], None if repeats is None else repeats[:, :, kept]
            yield data, repeats

    def whole(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Every kept target at once (for callers that hold the subject anyway)."""
        parts = list(self.blocks())
        data = np.concatenate([d for d, _ in parts], axis=1)
        repeats = (np.concatenate([r for _, r in parts], axis=2) if self.n_repeats else None)
        return data, repeats


@dataclass
class Responses:
    """Responses of one subject: ``data`` is [n_stimuli, n_targets], the mean over ``repeats``.

    Targets are located by ``ijk`` (voxels of the mask in attrs), by ``vertex`` + ``hemi`` on
    the mesh ``attrs['mesh']`` (surface data; CIFTI grayordinates also keep their brain-model
    ``structure``, and their voxels ``ijk`` with vertex -1; see datasets/surface_runs.py) or by
    ``channel`` + MNI ``xyz`` (sEEG/ECoG contacts; ``window`` names each target's time
    window). Time-series responses (naturalistic runs) have one row per TR, with its ``run``
    and acquisition ``time`` in s, and ``events`` (run, time, stimulus_id: which stimulus
    occurred when) from which encoding builds the TR-wise features.
    """

    data: np.ndarray | TargetBlocks
    stimulus_ids: list[str]
    roi: np.ndarray
    subject: str
    repeats: np.ndarray | None = None
    ijk: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)
    channel: np.ndarray | None = None
    xyz: np.ndarray | None = None
    window: np.ndarray | None = None
    vertex: np.ndarray | None = None
    hemi: np.ndarray | None = None
    structure: np.ndarray | None = None
    run: np.ndarray | None = None
    time: np.ndarray | None = None
    events: pd.DataFrame | None = None

    @property
    def n_targets(self) -> int:
        return self.data.shape[1]

    @property
    def n_repeats(self) -> int:
        """Repeats kept (0: none), whether the data are held or read in blocks."""
        if isinstance(self.data, TargetBlocks):
            return self.data.n_repeats
        return 0 if self.repeats is None else len(self.repeats)


def target_blocks(responses: Responses, size: int = BLOCK_TARGETS
                  ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(data, repeats) a block of targets at a time, the same for held and block-read data."""
    if isinstance(responses.data, TargetBlocks):
        yield from responses.data.blocks(size)
        return
    for start in range(0, responses.n_targets, size):
        piece = slice(start, start + size)
        yield (responses.data[:, piece],
               None if responses.repeats is None else responses.repeats[:, :, piece])


def _write_targets(f: h5py.File, responses: Responses) -> None:
    """data (and repeats), a block of targets at a time."""
    n_stimuli, n_targets = responses.data.shape
    chunk = (n_stimuli, min(n_targets, BLOCK_TARGETS))
    data = f.create_dataset("data", (n_stimuli, n_targets), np.float32, chunks=chunk)
    repeats = (f.create_dataset("repeats", (responses.n_repeats, n_stimuli, n_targets),
                                np.float32, chunks=(1, *chunk))
               if responses.n_repeats else None)
    start = 0
    for block, block_repeats in target_blocks(responses):
        piece = slice(start, start + block.shape[1])
        data[:, piece] = block
        if repeats is not None:
            repeats[:, :, piece] = block_repeats
        start = piece.stop


def write_responses(path: str | Path, responses: Responses) -> None:
    """Write atomically (h5files.writing) so a partial file never looks complete, a block of
    targets at a time (TargetBlocks data are never held whole)."""
    with writing(path) as f:
        failed = None
        try:
            _write_targets(f, responses)
        except OSError as exc:
            # raised again once the failed write's traceback, and with it h5py's dataset
            # objects, are freed: freed after the file is closed, they crash the process
            failed = OSError(exc.errno, str(exc))
        if failed is not None:
            raise failed
        f.create_dataset("stimulus_id", data=np.array(responses.stimulus_ids, dtype=object),
                         dtype=STR)
        f.create_dataset("roi", data=np.asarray(responses.roi, dtype=object), dtype=STR)
        for key in STRING_FIELDS:
            if getattr(responses, key) is not None:
                f.create_dataset(key, data=np.asarray(getattr(responses, key), dtype=object),
                                 dtype=STR)
        for key, dtype in NUMERIC_FIELDS.items():
            if getattr(responses, key) is not None:
                f.create_dataset(key, data=np.asarray(getattr(responses, key), dtype=dtype))
        if responses.events is not None:
            group = f.create_group("events")
            group.create_dataset("run", data=responses.events["run"].to_numpy(np.int32))
            group.create_dataset("time", data=responses.events["time"].to_numpy(np.float64))
            group.create_dataset("stimulus_id", dtype=STR, data=np.asarray(
                responses.events["stimulus_id"], dtype=object))
        f.attrs["subject"] = responses.subject
        for key, value in responses.attrs.items():
            f.attrs[key] = value


def count_targets(path: str | Path) -> int:
    """The number of targets (columns of data) of a responses file, without reading them."""
    with h5py.File(path, "r") as f:
        return int(f["data"].shape[1])


def describe_responses(path: str | Path) -> dict:
    """What a responses file holds, read from its metadata without loading the data: subject,
    modality, space, rows x targets, repeats and ROIs (the report's data summary)."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        n_rows, n_targets = f["data"].shape
        return {"subject": str(f.attrs.get("subject", path.stem)),
                "modality": f.attrs.get("modality", ""), "space": f.attrs.get("space", ""),
                "rows": n_rows, "targets": n_targets,
                "rois": ", ".join(dict.fromkeys(f["roi"].asstr()[:])),
                "repeats": f["repeats"].shape[0] if "repeats" in f else "none"}


def read_responses(path: str | Path, targets: slice = slice(None), data: bool = True
                   ) -> Responses:
    """Read a responses file, checking the fields every consumer relies on; with ``targets``
    only those columns of data and of every per-target field (one chunk of a large subject).
    ``data=False`` leaves the data and repeats unread (``data`` a read-only NaN view of its
    shape, no memory): for the stages that need only where the targets are."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise BrainencodeError(f"{path}: cannot open as HDF5 responses ({exc})") from None
    with f:
        for key in ("data", "stimulus_id", "roi"):
            if key not in f:
                raise BrainencodeError(f"{path}: missing dataset '{key}' (expected the "
                                       "responses layout of DESIGN.md)")
        stimulus_ids = [s.decode() if isinstance(s, bytes) else s for s in f["stimulus_id"][:]]
        shape = f["data"].shape
        if len(shape) != 2 or shape[0] != len(stimulus_ids):
            raise BrainencodeError(f"{path}: data: expected [n_stimuli={len(stimulus_ids)}, "
                                   f"n_targets], got shape {shape}")
        if data:
            values = f["data"][:, targets]
        else:
            columns = len(range(*targets.indices(shape[1])))
            values = np.broadcast_to(np.float32(np.nan), (shape[0], columns))
        roi = f["roi"].asstr()[targets]
        events = None
        if "events" in f:
            events = pd.DataFrame({"run": f["events/run"][:], "time": f["events/time"][:],
                                   "stimulus_id": f["events/stimulus_id"].asstr()[:]})
        return Responses(
            data=values,
            stimulus_ids=stimulus_ids,
            roi=roi,
            subject=str(f.attrs.get("subject", path.stem)),
            repeats=f["repeats"][:, :, targets] if data and "repeats" in f else None,
            attrs={k: v for k, v in f.attrs.items() if k != "subject"},
            events=events,
            **{key: f[key][targets if key in TARGET_FIELDS else slice(None)]
               for key in NUMERIC_FIELDS if key in f},
            **{key: f[key].asstr()[targets] for key in STRING_FIELDS if key in f},
        )


def read_subjects(paths: list[str | Path]) -> list[Responses]:
    """Several subjects' responses files, which must list the same stimuli in the same order
    (rows that are compared or joined across subjects)."""
    subjects = [read_responses(path) for path in paths]
    for path, responses in zip(paths[1:], subjects[1:], strict=True):
        if responses.stimulus_ids != subjects[0].stimulus_ids:
            raise BrainencodeError(f"{path}: stimulus_id: expected the stimuli of {paths[0]} "
                                   "in the same order")
    return subjects

