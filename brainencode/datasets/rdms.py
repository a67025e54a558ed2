"""RDM targets: representational dissimilarity matrices for similarity analyses (RSA).

``path`` holds the RDMs: a .npy [n_rdms, n, n] or [n, n], an HDF5 with ``rdm``, or a .mat with
``variable`` (default: the first variable) that is either an array or a struct array with an
``RDM`` field and a ``name`` (rsatoolbox / Kriegeskorte 2008: ``92_brainRDMs.mat``,
'hIT | BE | Session: 1'). When ``path`` has no ``{subject}``, the structs whose name mentions the
subject label are that subject's (its sessions). Row i of every RDM is the i-th image of
``images`` in file-name order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from brainencode.datasets.h5files import writing
from brainencode.datasets.matfiles import load_mat
from brainencode.datasets.paths import subject_path
from brainencode.datasets.responses import STR
from brainencode.datasets.stimuli import read_stimuli, write_stimuli_table
from brainencode.errors import BrainencodeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass
class RDMs:
    """One subject's RDMs [n_rdms, n_stimuli, n_stimuli], rows in the stimuli table's order."""

    rdms: np.ndarray
    names: list[str]
    stimulus_ids: list[str]
    subject: str


def _images(config: dict) -> list[Path]:
    folder = Path(config["images"])
    images = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise BrainencodeError(f"{folder}: dataset.images: expected a folder of images "
                               f"({', '.join(IMAGE_SUFFIXES)})")
    return images


def write_stimuli(config: dict, out: Path) -> None:
    images = _images(config)
    write_stimuli_table(pd.DataFrame({"stimulus_id": [p.stem for p in images],
                                      "modality": "image",
                                      "path": [str(p.resolve()) for p in images]}), out)


def _read(path: Path, variable: str | None) -> tuple[np.ndarray, list[str] | None]:
    """The RDMs and, for struct arrays and HDF5 with ``name``, their names."""
    name = path.name.lower()
    if name.endswith(".npy"):
        try:
            return np.load(path), None
        except (OSError, ValueError) as exc:
            raise BrainencodeError(f"{path}: cannot read as .npy ({exc})") from None
    if name.endswith((".h5", ".hdf5")):
        try:
            with h5py.File(path, "r") as f:
                rdms = f["rdm"][:]
                return rdms, list(f["name"].asstr()[:]) if "name" in f else None
        except (OSError, KeyError) as exc:
            raise BrainencodeError(f"{path}: rdm: cannot read ({exc})") from None
    variables = load_mat(path, "RDM file")
    key = variable or next(iter(variables), None)
    if key not in variables:
        raise BrainencodeError(f"{path}: {variable}: missing (dataset.variable names the RDMs)")
    value = variables[key]
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list):
        if not all(isinstance(v, dict) and "RDM" in v for v in value):
            raise BrainencodeError(f"{path}: {key}: expected a struct array with an RDM field")
        return (np.stack([np.asarray(v["RDM"], float) for v in value]),
                [str(v.get("name", f"{key}-{i}")) for i, v in enumerate(value)])
    return np.asarray(value, float), None


def load_rdms(config: dict, subject: str, stimuli: Path) -> RDMs:
    """The subject's RDMs, checked: square, n = number of stimuli, symmetric, zero diagonal."""
    path = subject_path(config["path"], subject)
    rdms, names = _read(path, config.get("variable"))
    if rdms.ndim == 2:
        rdms = rdms[None]
    per_subject = "{subject}" in config["path"] or "{label}" in config["path"]
    if names is None:
        names = [path.stem] * len(rdms)
    elif not per_subject:
        label = subject.removeprefix("sub-")
        mine = [i for i, n in enumerate(names) if label in n.replace("|", " ").split()]
        if not mine:
            raise BrainencodeError(f"{path}: name: expected RDMs whose name mentions "
                                   f"{label!r}, found {sorted(set(names))[:4]}")
        rdms, names = rdms[mine], [names[i] for i in mine]
    ids = list(read_stimuli(stimuli)["stimulus_id"])
    n = len(ids)
    if rdms.shape[1:] != (n, n):
        raise BrainencodeError(f"{path}: RDM: expected [{n}, {n}] (one row per image of "
                               f"{config['images']}), got {rdms.shape[1:]}")
    if not np.isfinite(rdms).all():
        raise BrainencodeError(f"{path}: RDM: expected finite dissimilarities, found NaN")
    if not np.allclose(rdms, rdms.transpose(0, 2, 1), atol=1e-6 * np.abs(rdms).max()):
        raise BrainencodeError(f"{path}: RDM: expected symmetric matrices")
    return RDMs(rdms=rdms.astype(np.float64), names=names, stimulus_ids=ids, subject=subject)


def write_rdms(path: str | Path, rdms: RDMs) -> None:
    with writing(path) as f:
        f.create_dataset("rdm", data=rdms.rdms)
        f.create_dataset("name", data=np.array(rdms.names, dtype=object), dtype=STR)
        f.create_dataset("stimulus_id", data=np.array(rdms.stimulus_ids, dtype=object), dtype=STR)
        f.attrs["subject"] = rdms.subject


def read_rdms(path: str | Path) -> RDMs:
    try:
        with h5py.File(path, "r") as f:
            return RDMs(rdms=f["rdm"][:], names=list(f["name"].asstr()[:]),
                        stimulus_ids=list(f["stimulus_id"].asstr()[:]),
                        subject=str(f.attrs["subject"]))
    except (OSError, KeyError) as exc:
        raise BrainencodeError(f"{path}: cannot read RDMs ({exc})") from None


def write_subject_rdms(*, dataset: dict, subject: str, stimuli: Path, out: Path) -> None:
    """Read one subject's RDM targets (dataset.format rdm) into an RDMs HDF5."""
    write_rdms(out, load_rdms(dataset, subject, stimuli))

