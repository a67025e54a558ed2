"""MATLAB .mat files (v5 through scipy, v7.3 through h5py) as plain Python values."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import scipy.io

from brainencode.errors import BrainencodeError


def load_mat(path: str | Path, what: str) -> dict:
    """Variables of a .mat file; structs become dicts, cell arrays lists, arrays squeezed."""
    path = Path(path)
    if not path.is_file():
        raise BrainencodeError(f"{path}: {what} not found")
    try:
        raw = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except NotImplementedError:  # v7.3 is HDF5
        return _load_v73(path, what)
    except (OSError, ValueError, TypeError, EOFError, IndexError,
            scipy.io.matlab.MatReadError) as exc:
        raise BrainencodeError(f"{path}: cannot read {what} as a MATLAB file "
                               f"({exc or type(exc).__name__})") from None
    return {k: _plain(v) for k, v in raw.items() if not k.startswith("__")}


def _plain(value):
    if isinstance(value, scipy.io.matlab.mat_struct):
        return {name: _plain(getattr(value, name)) for name in value._fieldnames}
    if isinstance(value, np.ndarray) and value.dtype == object:
        return [_plain(v) for v in value.ravel()]
    return value


def _load_v73(path: Path, what: str) -> dict:
    try:
        with h5py.File(path, "r") as f:
            return {k: _h5_value(f, f[k]) for k in f if not k.startswith("#")}
    except OSError as exc:
        raise BrainencodeError(f"{path}: cannot read {what} as a MATLAB file ({exc})") from None


def _h5_value(f: h5py.File, item):
    if isinstance(item, h5py.Group):
        return {k: _h5_value(f, item[k]) for k in item}
    if item.dtype == h5py.ref_dtype:
        return [_h5_value(f, f[ref]) for ref in item[()].ravel()]
    value = item[()]
    if item.attrs.get("MATLAB_class", b"") == b"char":
        return "".join(map(chr, np.asarray(value).ravel()))
    return np.squeeze(np.asarray(value).T)  # MATLAB is column-major


def field(variables: dict, key: str, path: str | Path, expected: str):
    """variables[key] (dotted for struct fields), or one line naming the missing field."""
    value = variables
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise BrainencodeError(f"{path}: {key}: missing (expected {expected})")
        value = value[part]
    return value
