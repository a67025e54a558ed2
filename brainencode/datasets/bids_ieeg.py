"""BIDS iEEG/sEEG/ECoG -> high-gamma envelope epochs; each contact x time window is a target.

High gamma (70-150 Hz by default) is the envelope of the analytic signal (Hilbert), computed in
log-spaced sub-bands, each divided by its mean over the recording and then averaged, so that the
1/f fall-off does not let the lowest sub-band dominate (as in e.g. Edwards et al. 2009,
J Neurophysiol 102:377). Line noise harmonics inside the band are notched first when the
recording states its line frequency. Epochs run from ``tmin`` to ``tmax`` around each event,
baseline-corrected by the mean before 0, and the mean envelope in each ``window_s`` window from
0 to ``tmax`` is one target per contact. Contacts keep their name and coordinates (mm, from
electrodes.tsv via mne-bids) for plotting; bad channels (channels.tsv) are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.datasets import bids_names
from brainencode.datasets.checks import check_events, read_raw_ieeg, require
from brainencode.datasets.responses import Responses
from brainencode.datasets.stimuli import average_presentations, read_stimuli
from brainencode.errors import BrainencodeError

SUFFIXES = ("ieeg.vhdr", "ieeg.edf", "ieeg.bdf", "ieeg.fif", "ieeg.set")
CONTACT_TYPES = ("seeg", "ecog")


def high_gamma_envelope(raw, l_freq: float, h_freq: float, n_bands: int):
    """A Raw of the normalized high-gamma envelope of the sEEG/ECoG contacts (bads dropped)."""
    import mne

    raw = raw.copy().pick(CONTACT_TYPES, exclude="bads").load_data(verbose="error")
    if h_freq >= raw.info["sfreq"] / 2:
        raise BrainencodeError(f"{raw.filenames[0]}: sfreq: expected above {2 * h_freq:g} Hz for "
                               f"high gamma up to {h_freq:g} Hz, got {raw.info['sfreq']:g} Hz")
    line = raw.info.get("line_freq")
    if line:
        harmonics = np.arange(line, h_freq + line, line)
        harmonics = harmonics[(harmonics > l_freq - 5) & (harmonics < raw.info["sfreq"] / 2)]
        if len(harmonics):
            raw.notch_filter(harmonics, verbose="error")
    edges = np.geomspace(l_freq, h_freq, n_bands + 1)
    total = np.zeros((len(raw.ch_names), raw.n_times))
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        band = raw.copy().filter(low, high, verbose="error").apply_hilbert(envelope=True)
        amplitude = band.get_data()
        total += amplitude / amplitude.mean(axis=1, keepdims=True)
    envelope = mne.io.RawArray(total / n_bands, raw.info, first_samp=raw.first_samp,
                               verbose="error")
    return envelope.set_annotations(raw.annotations)


def window_targets(epochs: np.ndarray, times: np.ndarray, tmax: float,
                   window_s: float) -> tuple[np.ndarray, list[str]]:
    """[n_epochs, n_channels, n_times] -> [n_epochs, n_channels * n_windows] window means."""
    starts = np.arange(0.0, tmax - window_s / 2, window_s)
    means, names = [], []
    for start in starts:
        inside = (times >= start - 1e-9) & (times < start + window_s - 1e-9)
        means.append(epochs[:, :, inside].mean(axis=2))
        names.append(f"{start:.3f}-{start + window_s:.3f}s")
    return np.stack(means, axis=2).reshape(len(epochs), -1), names


def load(config: dict, subject: str, stimuli: Path) -> Responses:
    import mne
    import mne_bids

    settings = config["ieeg"]
    ids = list(read_stimuli(stimuli)["stimulus_id"])
    recordings = [r for suffix in SUFFIXES for r in bids_names.raw_runs(
        config["bids_root"], subject, config["task"], "ieeg", suffix)]
    if not recordings:
        raise BrainencodeError(f"{config['bids_root']}/{subject}: expected iEEG recordings "
                               f"{subject}_task-{config['task']}_*ieeg.(vhdr|edf|bdf|fif) in ieeg/")
    occurrences: dict[str, list[np.ndarray]] = {s: [] for s in ids}
    for recording in recordings:
        suffix = next(s for s in SUFFIXES if recording.name.endswith(s))
        events_path = bids_names.events_of(recording, suffix)
        require(check_events(events_path))
        read_raw_ieeg(recording, preload=False)  # one clear line for a corrupt file
        path = mne_bids.get_bids_path_from_fname(recording)
        try:
            raw = mne_bids.read_raw_bids(path, verbose="error")
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise BrainencodeError(f"{recording}: cannot read with mne-bids ({exc})") from None
        envelope = high_gamma_envelope(raw, settings["l_freq"], settings["h_freq"],
                                       settings["n_bands"])
        events = pd.read_csv(events_path, sep="\t", dtype=str, keep_default_na=False)
        column = "stimulus_id" if "stimulus_id" in events.columns else "trial_type"
        unknown = sorted(set(events[column]) - set(ids))
        if unknown:
            raise BrainencodeError(f"{events_path}: {column}: expected stimulus ids of "
                                   f"{stimuli}, got unknown {unknown[0]!r}")
        onsets = np.round(events["onset"].astype(float).to_numpy() * raw.info["sfreq"])
        mne_events = np.column_stack([onsets.astype(int) + raw.first_samp,
                                      np.zeros(len(onsets), int), np.arange(1, len(onsets) + 1)])
        epochs = mne.Epochs(envelope, mne_events, tmin=settings["tmin"], tmax=settings["tmax"],
                            baseline=(None, 0), preload=True, reject_by_annotation=False,
                            verbose="error")
        if len(epochs) != len(events):
            raise BrainencodeError(f"{events_path}: onset: expected every event to leave room "
                                   f"for an epoch of {settings['tmin']}..{settings['tmax']} s "
                                   "inside the recording")
        targets, windows = window_targets(epochs.get_data(), epochs.times, settings["tmax"],
                                          settings["window_s"])
        for stimulus, row in zip(events[column], targets, strict=True):
            occurrences[stimulus].append(row)
        channels = envelope.ch_names
        montage = raw.get_montage()
    data, repeats = average_presentations(occurrences, ids,
                                          f"{config['bids_root']}/{subject}", stimuli)
    positions = montage.get_positions() if montage is not None else {"ch_pos": {},
                                                                      "coord_frame": "unknown"}
    xyz = np.array([positions["ch_pos"].get(c, np.full(3, np.nan)) for c in channels]) * 1000
    n_windows = len(windows)
    return Responses(
        data=data, stimulus_ids=ids, subject=subject, repeats=repeats,
        roi=np.repeat(_contact_regions(config, subject, channels), n_windows),
        channel=np.repeat(channels, n_windows), window=np.tile(windows, len(channels)),
        xyz=np.repeat(xyz, n_windows, axis=0),
        attrs={"modality": "ieeg", "space": str(positions["coord_frame"]),
               "high_gamma_hz": [settings["l_freq"], settings["h_freq"]]})


def _contact_regions(config: dict, subject: str, channels: list[str]) -> np.ndarray:
    """Region of each contact: the ``region`` column of electrodes.tsv when there is one."""
    folder = Path(config["bids_root"]) / subject
    tables = sorted(folder.glob(f"**/ieeg/{subject}_*electrodes.tsv"))
    if tables:
        table = pd.read_csv(tables[0], sep="\t", dtype=str, keep_default_na=False)
        if "region" in table.columns:
            region = dict(zip(table["name"], table["region"], strict=True))
            return np.array([region.get(c, "other") or "other" for c in channels])
    return np.full(len(channels), "all")
