"""`brainencode validate`: check data files or a config with its dataset, running nothing."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

from brainencode.config import load_config
from brainencode.datasets.checks import (
    check_events,
    check_hdf5,
    check_ieeg,
    check_mat,
    check_nifti,
    check_table,
)
from brainencode.datasets.formats import (
    check_dataset,
    get_format,
    load_responses,
    write_stimuli,
)
from brainencode.datasets.images import read_image
from brainencode.datasets.stimuli import read_stimuli
from brainencode.datasets.surfaces import check_surface, is_surface_file
from brainencode.errors import BrainencodeError


def check_config_file(path: Path) -> list[str]:
    """`brainencode validate config.yaml`: schema, then the dataset's keys and files, then the
    loaders on the data (check_data)."""
    try:
        config = load_config(path)
    except BrainencodeError as exc:
        return [str(exc)]
    problems = check_dataset(config["dataset"], str(path))
    if problems or config["dataset"]["format"] == "demo":  # the demo's data are generated
        return problems
    return check_data(config["dataset"])


def check_data(dataset: dict) -> list[str]:
    """Run the loaders of the pipeline's first steps on the data a dataset section names,
    keeping nothing: the stimuli table (written into a temporary folder by formats that define
    their stimuli), every image it lists, and each subject's responses (every file, header,
    event, sidecar and atlas the loader reads). A problem of the stimuli stops there; each
    subject's first problem is listed."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if get_format(dataset).writes_stimuli:
                stimuli = Path(tmp) / "stimuli.tsv"
                write_stimuli(dataset=dataset, out=stimuli)
            else:
                stimuli = Path(dataset["stimuli_table"])
            check_images(stimuli)
        except BrainencodeError as exc:
            return [str(exc)]
        problems = []
        for subject in dataset["subjects"]:
            try:
                responses = load_responses(dataset, subject, stimuli)
            except BrainencodeError as exc:
                problems.append(str(exc))
                continue
            print(f"{subject}: {len(responses.stimulus_ids)} stimuli x "
                  f"{responses.data.shape[-1]} targets read", file=sys.stderr)
    return problems


def check_images(stimuli: Path) -> None:
    """Decode every image of a stimuli table, as the features step does."""
    table = read_stimuli(stimuli)
    for path, modality in zip(table.get("path", ()), table["modality"], strict=False):
        if modality == "image":
            read_image(path, stimuli)


def check_file(path: str | Path) -> list[str]:
    """Dispatch on the file type; a folder or an unknown suffix is one problem."""
    path = Path(path)
    name = path.name.lower()
    if not path.exists():
        return [f"{path}: not found"]
    if name.endswith((".yaml", ".yml")):
        return check_config_file(path)
    if is_surface_file(name) or name.endswith(".annot"):
        return check_surface(path)
    if name.endswith((".nii", ".nii.gz")):
        return check_nifti(path)
    if name.endswith((".h5", ".hdf5")):
        return check_hdf5(path)
    if name.endswith((".edf", ".bdf", ".vhdr", ".fif")):
        return check_ieeg(path)
    if name.endswith(".mat"):
        return check_mat(path)
    if name.endswith("_events.tsv"):
        return check_events(path)
    if name.endswith(".tsv"):
        problems = check_table(path)
        if problems or "stimulus_id" not in pd.read_csv(path, sep="\t", nrows=0).columns:
            return problems
        try:
            check_images(path)
        except BrainencodeError as exc:
            return [str(exc)]
        return []
    return [f"{path}: expected a NIfTI, GIFTI, CIFTI, MGH/MGZ, .annot, EDF/BDF/BrainVision, "
            "HDF5, MATLAB .mat, TSV or YAML config file"]


def validate(*paths: Path) -> int:
    """Check data files (NIfTI, GIFTI/CIFTI/MGH, EDF/BrainVision, HDF5, .mat, TSV) or a config,
    with its dataset, running nothing; print every problem, one line each (exit 2), or ok."""
    problems = [p for path in paths for p in check_file(path)]
    for problem in problems:
        print(problem)
    if problems:
        return 2
    print(f"{', '.join(map(str, paths))}: ok")
    return 0
