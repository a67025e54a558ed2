"""Checks on data files, shared by the loaders and by `brainencode validate`.

Every check returns a list of problems, each one line naming the file, the field and what was
expected; an empty list means the file is fine. Loaders call :func:`require`, which raises the
first problem as a BrainencodeError (one line, exit code 2); ``validate`` prints them all.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pandas as pd

from brainencode.errors import BrainencodeError


def require(problems: list[str]) -> None:
    """Raise the first problem (and say how many more there are)."""
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise BrainencodeError(problems[0] + more)


def check_exists(path: Path, what: str) -> list[str]:
    return [] if Path(path).is_file() else [f"{path}: {what} not found"]


def read_nifti(path: str | Path, what: str, ndim: int | None = None) -> nib.Nifti1Image:
    """Load a NIfTI fully (a truncated or corrupt file fails here, not halfway through a fit)."""
    path = Path(path)
    require(check_exists(path, what))
    try:
        image = nib.load(path)
        image.get_fdata(dtype=np.float32)
    except (OSError, EOFError, ValueError, zlib.error, nib.filebasedimages.ImageFileError) as exc:
        raise BrainencodeError(f"{path}: cannot read {what} as NIfTI ({exc})") from None
    if ndim is not None and image.ndim != ndim:
        raise BrainencodeError(f"{path}: {what}: expected a {ndim}D image, got shape "
                               f"{image.shape}")
    return image


def check_nifti(path: Path) -> list[str]:
    try:
        image = read_nifti(path, "image")
    except BrainencodeError as exc:
        return [str(exc)]
    if image.ndim not in (3, 4):
        return [f"{path}: shape: expected a 3D or 4D image, got {image.shape}"]
    data = np.asarray(image.dataobj, dtype=np.float32)
    if not np.isfinite(data).all():
        return [f"{path}: data: expected finite values, {int((~np.isfinite(data)).sum())} "
                "are NaN or infinite"]
    return []


def target_problems(data: np.ndarray, path: str | Path, field: str = "data") -> list[str]:
    """NaN/infinite or constant columns of a [n_samples, n_targets] array."""
    return flag_problems(*column_flags(data), path, field)


def column_flags(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of [n_samples, n_targets]: has NaN/inf; finite but constant."""
    finite = np.isfinite(data).all(axis=0)
    with np.errstate(invalid="ignore"):
        return ~finite, finite & (np.nanstd(data, axis=0) == 0)


def flag_problems(nonfinite: np.ndarray, constant: np.ndarray, path: str | Path,
                  field: str = "data") -> list[str]:
    """One line each for the NaN/infinite and the constant targets of :func:`column_flags`."""
    problems = []
    if nonfinite.any():
        problems.append(f"{path}: {field}: expected finite responses, {int(nonfinite.sum())} "
                        f"targets have NaN or infinite values (first: target "
                        f"{int(np.flatnonzero(nonfinite)[0])}); set dataset.invalid_targets: "
                        "drop to leave them out")
    if constant.any():
        problems.append(f"{path}: {field}: expected responses that vary over stimuli, "
                        f"{int(constant.sum())} targets are constant (first: target "
                        f"{int(np.flatnonzero(constant)[0])}); set dataset.invalid_targets: drop "
                        "to leave them out")
    return problems


def check_hdf5(path: Path, responses_layout: bool = True) -> list[str]:
    """Readable HDF5, every dataset readable to its end; the responses layout if it has 'data'
    (and ``responses_layout``)."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        return [f"{path}: cannot open as HDF5 ({exc})"]
    problems: list[str] = []
    with f:
        def visit(name: str, item: h5py.HLObject) -> None:
            if isinstance(item, h5py.Dataset) and item.size:
                try:
                    item[(slice(-1, None),) * item.ndim]  # the last chunk: truncation shows here
                except (OSError, ValueError) as exc:
                    problems.append(f"{path}: {name}: cannot read ({exc})")

        f.visititems(visit)
        if problems or "data" not in f or not responses_layout:
            return problems
        problems += _responses_problems(f, path)
    return problems


def _responses_problems(f: h5py.File, path: Path) -> list[str]:
    """The responses contract of DESIGN.md: data, stimulus_id, roi and their shapes."""
    problems = [f"{path}: missing dataset '{key}' (expected the responses layout of DESIGN.md)"
                for key in ("stimulus_id", "roi") if key not in f]
    if problems:
        return problems
    n_stimuli, n_targets = f["data"].shape if f["data"].ndim == 2 else (None, None)
    if n_stimuli != len(f["stimulus_id"]):
        return [f"{path}: data: expected [n_stimuli={len(f['stimulus_id'])}, n_targets], got "
                f"shape {f['data'].shape}"]
    ids = pd.Series(f["stimulus_id"].asstr()[:])
    if ids.duplicated().any():
        problems.append(f"{path}: stimulus_id: expected unique ids, "
                        f"{ids[ids.duplicated()].iloc[0]!r} appears more than once")
    if len(f["roi"]) != n_targets:
        problems.append(f"{path}: roi: expected one label per target ({n_targets}), got "
                        f"{len(f['roi'])}")
    for start in range(0, n_targets, 8192):
        problems += target_problems(f["data"][:, start:start + 8192], path)
        if problems:
            break
    return problems


def check_table(path: Path, required: tuple[str, ...] = ()) -> list[str]:
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        return [f"{path}: cannot read as TSV ({exc})"]
    return [f"{path}: missing column '{c}' (expected columns {', '.join(required)})"
            for c in required if c not in table.columns]


def check_events(path: Path, trial_types: set[str] | None = None) -> list[str]:
    """A BIDS events.tsv: onset and duration numeric, duration not negative (BIDS: "Duration
    ... MUST be either zero or positive"), trial_type known (when a set is given)."""
    problems = check_table(path, ("onset", "duration", "trial_type"))
    if problems:
        return problems
    events = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for column in ("onset", "duration"):
        seconds = pd.to_numeric(events[column], errors="coerce")
        bad = seconds.isna() | ((seconds < 0) if column == "duration" else False)
        if bad.any():
            problems.append(f"{path}: {column}: expected seconds"
                            + (" (zero or more)" if column == "duration" else "")
                            + f", got {events[column][bad].iloc[0]!r} in row "
                            f"{int(bad.idxmax()) + 1}")
    if trial_types is not None:
        unknown = sorted(set(events["trial_type"]) - trial_types)
        if unknown:
            problems.append(f"{path}: trial_type: expected one of the stimulus ids or conditions "
                            f"of the stimuli table, got unknown {unknown[0]!r}"
                            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    return problems


def read_raw_ieeg(path: str | Path, preload: bool = True):
    """An EDF/BDF/BrainVision/FIF recording through MNE; unreadable or truncated -> one line."""
    import mne

    path = Path(path)
    require(check_exists(path, "iEEG recording"))
    try:
        raw = mne.io.read_raw(path, preload=preload, verbose="error")
    except (OSError, ValueError, RuntimeError, EOFError, KeyError, IndexError) as exc:
        raise BrainencodeError(f"{path}: cannot read as an iEEG recording ({exc})") from None
    return raw


def check_ieeg(path: Path) -> list[str]:
    try:
        raw = read_raw_ieeg(path)
    except BrainencodeError as exc:
        return [str(exc)]
    data = raw.get_data()
    if not np.isfinite(data).all():
        return [f"{path}: data: expected finite samples, found NaN or infinite values"]
    flat = np.flatnonzero(data.std(axis=1) == 0)
    if len(flat):
        return [f"{path}: channel {raw.ch_names[flat[0]]!r}: expected a signal, the channel is "
                f"flat ({len(flat)} flat channels); mark them bad in channels.tsv"]
    return []


def check_mat(path: Path) -> list[str]:
    from brainencode.datasets.matfiles import load_mat

    try:
        load_mat(path, "MATLAB file")
    except BrainencodeError as exc:
        return [str(exc)]
    return []
