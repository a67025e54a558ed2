"""Naturalistic fMRI: BIDS BOLD runs (stories, movies) + events.tsv of stimulus onsets.

Responses stay a time series, one row per kept TR: each voxel is cleaned within its run with
nilearn's ``signal.clean`` (linear detrend, cosine high-pass drift removal, z-score), then the
first and last ``trim`` TRs of each run are dropped (the filter's edges and the haemodynamic
onset). The events (run, time, stimulus_id) go into the responses file; at encoding time each
stimulus's features are placed at its event times, Lanczos-resampled to the TRs and delayed by
``delays`` TRs (an FIR model of the haemodynamic response; Huth et al. 2016), and outer
cross-validation leaves whole runs out. An event's time is its midpoint, onset + duration / 2
(a word's middle, as in Huth et al. 2016).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from brainencode.datasets.bids_glm import bold_runs, read_events, repetition_time
from brainencode.datasets.responses import Responses
from brainencode.datasets.stimuli import read_stimuli
from brainencode.errors import BrainencodeError


def clean_run(Y: np.ndarray, tr: float, high_pass: float) -> np.ndarray:
    """Detrend, remove cosine drifts below ``high_pass`` Hz and z-score each voxel over time."""
    from nilearn.signal import clean

    with warnings.catch_warnings():  # about confounds, of which there are none here
        warnings.filterwarnings("ignore", "From release 0.14.0, confounds", DeprecationWarning)
        return clean(Y, detrend=True, standardize="zscore_sample", filter="cosine",
                     high_pass=high_pass or None, t_r=tr)


def load(config: dict, subject: str, stimuli) -> Responses:
    settings = config["naturalistic"]
    ids = set(read_stimuli(stimuli)["stimulus_id"])
    bold_files = bold_runs(config, subject)
    bolds = bold_files.paths
    start, end = settings["trim"]
    data, runs, kept_trs, events, first_tr = [], [], [], [], None
    for run, bold in enumerate(bolds):
        image = bold_files.open(run)
        tr = repetition_time(bold, image)
        first_tr = tr if first_tr is None else first_tr
        if tr != first_tr:
            raise BrainencodeError(f"{bold}: RepetitionTime: expected the same TR as "
                                   f"{bolds[0].name} ({first_tr:g} s), got {tr:g} s")
        n_trs = bold_files.n_trs(image)
        if n_trs - start - end < 2:
            raise BrainencodeError(f"{bold}: time: {n_trs} TRs, expected more than "
                                   f"naturalistic.trim = {settings['trim']} leaves out")
        events_path = bold_files.events[run]
        table = read_events(events_path, ids, set(settings["ignore_trial_types"]))
        table = table[table["stimulus"] != ""]
        middle = table["onset"] + table["duration"] / 2
        outside = (middle < 0) | (middle > n_trs * tr)
        if outside.any():
            raise BrainencodeError(f"{events_path}: onset: expected times within the run "
                                   f"(0 to {n_trs * tr:g} s), got {middle[outside].iloc[0]:g}")
        kept = np.arange(start, n_trs - end)
        cleaned = np.empty((len(kept), len(bold_files.roi)), np.float32)
        for piece in bold_files.chunks(image):
            cleaned[:, piece] = clean_run(bold_files.columns(image, piece), tr,
                                          settings["high_pass"])[kept]
        data.append(cleaned)
        runs.append(np.full(len(kept), run))
        kept_trs.append(kept)
        events.append(pd.DataFrame({"run": run, "time": middle.to_numpy(),
                                    "stimulus_id": table["stimulus"].to_numpy()}))
    run, index = np.concatenate(runs), np.concatenate(kept_trs)
    return Responses(
        data=np.concatenate(data), roi=bold_files.roi, subject=subject, **bold_files.fields,
        stimulus_ids=[f"run-{r}_tr-{i}" for r, i in zip(run, index, strict=True)],
        run=run, time=index * tr, events=pd.concat(events, ignore_index=True),
        attrs={"modality": "fmri", "space": config["space"], "tr": tr,
               "fir_delays": np.asarray(settings["delays"]),
               "lanczos_window": settings["lanczos_window"],
               "runs": [bold.name for bold in bolds]} | bold_files.attrs)
