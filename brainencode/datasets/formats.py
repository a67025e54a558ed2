"""Dataset formats: `dataset.format` in the config picks one loader (see config/examples/).

Each format names the dataset keys it needs, whether it writes the stimuli table itself (from
the dataset's own files) or reads the user's ``stimuli_table``, and the functions that do the
work. Loaders are imported lazily so that MNE is only loaded for iEEG data.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from brainencode.datasets.checks import check_exists, require
from brainencode.datasets.responses import Responses
from brainencode.errors import BrainencodeError


@dataclass(frozen=True)
class DatasetFormat:
    name: str
    module: str
    required: tuple[str, ...]
    writes_stimuli: bool
    description: str

    def function(self, name: str):
        return getattr(importlib.import_module(f"brainencode.datasets.{self.module}"), name)


FORMATS = {f.name: f for f in [
    DatasetFormat("bids-betas", "bids_betas", ("bids_root", "stimuli_table"), False,
                  "single-trial beta maps already estimated, one 4D NIfTI per repeat"),
    DatasetFormat("bids-glm", "bids_glm", ("bids_root", "stimuli_table", "task"), False,
                  "BIDS fMRI runs + events.tsv -> single-trial betas (nilearn GLM, LSA or LSS)"),
    DatasetFormat("naturalistic", "naturalistic", ("bids_root", "stimuli_table", "task"), False,
                  "BIDS BOLD runs + events.tsv of onsets -> TR time series, FIR delays"),
    DatasetFormat("bids-ieeg", "bids_ieeg", ("bids_root", "stimuli_table", "task"), False,
                  "BIDS iEEG/sEEG -> high-gamma envelope epochs, time windows as targets"),
    DatasetFormat("pereira", "pereira", ("path",), True,
                  "Pereira et al. 2018 per-subject .mat files (examples, meta, keySentences)"),
    DatasetFormat("bold5000", "bold5000", ("path", "stim_list", "images"), True,
                  "BOLD5000 per-subject ROI .mat files (TR-wise) + stimulus lists"),
    DatasetFormat("nsd", "nsd", ("path", "expdesign", "stim_info", "images", "captions",
                                 "mask"), True,
                  "NSD betas per session (HDF5 or NIfTI), nsd_expdesign.mat, COCO captions"),
    DatasetFormat("table", "table", ("path",), True,
                  "a stimulus table + a responses array (npy, HDF5, TSV/CSV columns)"),
    DatasetFormat("rdm", "rdms", ("path", "images"), True,
                  "representational dissimilarity matrices as targets (e.g. Kriegeskorte 2008)"),
]}


def get_format(config: dict, source: str = "config") -> DatasetFormat:
    name = config["format"]
    if name not in FORMATS:
        raise BrainencodeError(f"{source}: dataset.format: expected one of "
                               f"{['demo', *FORMATS]}, got {name!r}")
    return FORMATS[name]


def subject_path(pattern: str, subject: str, **fields) -> Path:
    """Fill ``{subject}`` (sub-01) and ``{label}`` (01) into a per-subject file pattern."""
    return Path(pattern.format(subject=subject, label=subject.removeprefix("sub-"), **fields))


def check_dataset(config: dict, source: str = "config") -> list[str]:
    """Problems with a dataset section: keys the format needs, files each subject needs."""
    if config["format"] == "demo":
        return []
    fmt = get_format(config, source)
    missing = [key for key in fmt.required if key not in config]
    if missing:
        return [f"{source}: dataset.{key}: required for format {fmt.name} ({fmt.description})"
                for key in missing]
    problems = []
    if "stimuli_table" in config:
        problems += check_exists(Path(config["stimuli_table"]), "dataset.stimuli_table")
    if "bids_root" in config and not Path(config["bids_root"]).is_dir():
        problems.append(f"{config['bids_root']}: dataset.bids_root: folder not found")
    if "path" in config and "{session}" not in config["path"] and "{tr}" not in config["path"]:
        for subject in config["subjects"]:
            problems += check_exists(subject_path(config["path"], subject), "dataset.path")
    return problems


def check_config_file(path: Path) -> list[str]:
    """`brainencode validate config.yaml`: schema, then the dataset's keys and files."""
    from brainencode.config import load_config

    try:
        config = load_config(path)
    except BrainencodeError as exc:
        return [str(exc)]
    return check_dataset(config["dataset"], str(path))


def write_stimuli(config: dict, out: str | Path) -> None:
    """The stimuli table of a dataset whose files define the stimuli (e.g. Pereira sentences)."""
    fmt = get_format(config)
    if not fmt.writes_stimuli:
        raise BrainencodeError(f"dataset.format {fmt.name} reads dataset.stimuli_table; "
                               "there is nothing to write")
    require(check_dataset(config))
    fmt.function("write_stimuli")(config, Path(out))


def load_responses(config: dict, subject: str, stimuli: str | Path) -> Responses:
    """One subject's responses in the canonical form, rows in the stimuli table's order."""
    from brainencode.datasets.cleaning import drop_or_refuse_invalid

    fmt = get_format(config)
    require(check_dataset(config))
    responses = fmt.function("load")(config, subject, Path(stimuli))
    return drop_or_refuse_invalid(responses, config.get("invalid_targets", "error"),
                                  source=config.get("path") or config.get("bids_root", ""))
