"""BOLD5000 (Chang et al. 2019, Sci Data 6:49): per-subject ROI .mat files + stimulus lists.

``path`` is the TR-wise ROI file, e.g. ``{label}_ROIs_TR{tr}.mat``: one variable per ROI
(LHPPA, RHLOC, ...), each [n_trials, n_voxels]. ``trs`` (default 3 and 4, the customary
TR34 average) are averaged. ``stim_list`` names the image of each trial (one file name per
line); ``images`` is the folder of presented images (searched recursively by file name).
Repeated images are averaged; targets are the voxels of every ROI, labelled by ROI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.datasets.matfiles import load_mat
from brainencode.datasets.paths import subject_path
from brainencode.datasets.responses import Responses
from brainencode.datasets.stimuli import align_rows, read_stimuli, write_stimuli_table
from brainencode.errors import BrainencodeError


def trial_images(config: dict, subject: str) -> list[str]:
    path = subject_path(config["stim_list"], subject)
    if not path.is_file():
        raise BrainencodeError(f"{path}: dataset.stim_list: stimulus list not found")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def write_stimuli(config: dict, out: Path) -> None:
    names = list(dict.fromkeys(trial_images(config, config["subjects"][0])))
    found = {p.name: p for p in Path(config["images"]).rglob("*") if p.is_file()}
    missing = [n for n in names if n not in found]
    if missing:
        raise BrainencodeError(f"{config['images']}: dataset.images: expected every image of "
                               f"the stimulus list, {missing[0]!r} is not there")
    write_stimuli_table(pd.DataFrame({"stimulus_id": [Path(n).stem for n in names],
                                      "modality": "image",
                                      "path": [str(found[n].resolve()) for n in names]}), out)


def load(config: dict, subject: str, stimuli: Path) -> Responses:
    trials = [Path(n).stem for n in trial_images(config, subject)]
    per_tr, roi = [], None
    for tr in config["trs"]:
        path = subject_path(config["path"], subject, tr=tr)
        variables = {k: np.asarray(v, np.float32) for k, v in load_mat(path, "ROI file").items()
                     if isinstance(v, np.ndarray) and v.ndim == 2}
        if not variables:
            raise BrainencodeError(f"{path}: expected ROI variables [n_trials, n_voxels]")
        bad = [k for k, v in variables.items() if v.shape[0] != len(trials)]
        if bad:
            raise BrainencodeError(f"{path}: {bad[0]}: expected one row per trial of the "
                                   f"stimulus list ({len(trials)}), got "
                                   f"{variables[bad[0]].shape[0]}")
        names = sorted(variables)
        per_tr.append(np.concatenate([variables[k] for k in names], axis=1))
        labels = np.concatenate([np.full(variables[k].shape[1], k) for k in names])
        if roi is not None and not np.array_equal(roi, labels):
            raise BrainencodeError(f"{path}: expected the same ROIs and voxels in every TR file")
        roi = labels
    data = pd.DataFrame(np.mean(per_tr, axis=0)).groupby(np.array(trials), sort=False).mean()
    ids = list(read_stimuli(stimuli)["stimulus_id"])
    return Responses(data=align_rows(data.to_numpy(np.float32), list(data.index), ids,
                                     subject_path(config["stim_list"], subject), stimuli),
                     stimulus_ids=ids, roi=roi, subject=subject,
                     attrs={"modality": "fmri", "trs": list(config["trs"])})
