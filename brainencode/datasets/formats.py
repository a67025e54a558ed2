"""Dataset formats: `dataset.format` in the config picks one loader (see config/examples/).

Each format names its loader module and whether it writes the stimuli table itself (from the
dataset's own files) or reads the user's ``stimuli_table``; its keys and their defaults are its
block of the config schema, and every loader gets the section validated against it (defaults
filled in). Loaders are imported lazily so that MNE is only loaded for iEEG data.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from pathlib import Path

from brainencode.config import load_schema, validate_dataset
from brainencode.datasets.checks import check_exists, require
from brainencode.datasets.paths import experiment_paths
from brainencode.datasets.responses import Responses, TargetBlocks, write_responses
from brainencode.errors import BrainencodeError


@dataclass(frozen=True)
class DatasetFormat:
    """Where a format's loader lives and whether it writes the stimuli table itself, as its
    block in the config schema (``format-<name>``) says, beside its keys and defaults."""

    name: str
    module: str
    writes_stimuli: bool

    def function(self, name: str):
        return getattr(importlib.import_module(f"brainencode.datasets.{self.module}"), name)


def _formats() -> dict[str, DatasetFormat]:
    """Every format of the config schema (its ``format-<name>`` blocks) with its loader."""
    blocks = load_schema()["$defs"]
    return {key.removeprefix("format-"): DatasetFormat(key.removeprefix("format-"),
                                                       block["x-loader"],
                                                       block["x-writes-stimuli"])
            for key, block in blocks.items() if key.startswith("format-") and "x-loader" in block}


FORMATS = _formats()


def get_format(config: dict, source: str = "config") -> DatasetFormat:
    name = config["format"]
    if name not in FORMATS:
        raise BrainencodeError(f"{source}: dataset.format: expected one of "
                               f"{['demo', *FORMATS]}, got {name!r}")
    return FORMATS[name]


def check_dataset(config: dict, source: str = "config") -> list[str]:
    """Problems with a dataset section: its format's keys (the schema), the files each subject
    needs."""
    if config["format"] == "demo":
        return []
    try:
        config = validate_dataset(config, source)
    except BrainencodeError as exc:
        return [str(exc)]
    return _file_problems(config)


def _file_problems(config: dict) -> list[str]:
    """The files a validated dataset section names that are not there."""
    problems = []
    if "stimuli_table" in config:
        problems += check_exists(Path(config["stimuli_table"]), "dataset.stimuli_table")
    if "bids_root" in config and not Path(config["bids_root"]).is_dir():
        problems.append(f"{config['bids_root']}: dataset.bids_root: folder not found")
    if ("{experiment}" in config.get("path", "")) != bool(config.get("experiments")):
        return problems + [f"{config['path']}: dataset.path: expected {{experiment}} in the "
                           "path exactly when dataset.experiments is given"]
    if "path" in config and "{session}" not in config["path"] and "{tr}" not in config["path"]:
        for subject in config["subjects"]:
            for _, path in experiment_paths(config, subject):
                problems += check_exists(path, "dataset.path")
    return problems


def write_stimuli(*, dataset: dict, out: Path) -> None:
    """Write the stimuli table of a dataset whose files define the stimuli (pereira, bold5000,
    nsd, table, rdm)."""
    config = validate_dataset(dataset)
    fmt = get_format(config)
    if not fmt.writes_stimuli:
        raise BrainencodeError(f"dataset.format {fmt.name} reads dataset.stimuli_table; "
                               "there is nothing to write")
    require(_file_problems(config))
    fmt.function("write_stimuli")(config, Path(out))


def load_responses(config: dict, subject: str, stimuli: str | Path, blocks: bool = False
                   ) -> Responses:
    """One subject's responses in the canonical form, rows in the stimuli table's order; with
    ``blocks``, data that its format reads a block of targets at a time stay TargetBlocks
    (read when written), else they are read whole."""
    from brainencode.datasets.cleaning import drop_or_refuse_invalid

    config = validate_dataset(config)
    fmt = get_format(config)
    require(_file_problems(config))
    responses = drop_or_refuse_invalid(
        fmt.function("load")(config, subject, Path(stimuli)), config["invalid_targets"],
        source=config.get("path") or config.get("bids_root", ""))
    if isinstance(responses.data, TargetBlocks) and not blocks:
        data, repeats = responses.data.whole()
        return replace(responses, data=data, repeats=repeats)
    return responses


def write_subject_responses(*, dataset: dict, subject: str, stimuli: Path, out: Path) -> None:
    """Read one subject's data (any dataset.format) into the responses HDF5, a block of
    targets at a time where the format can (TargetBlocks)."""
    write_responses(out, load_responses(dataset, subject, stimuli, blocks=True))
