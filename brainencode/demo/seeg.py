"""A simulated sEEG subject with planted high-gamma truth, written as BIDS iEEG (mne-bids).

The subject sees every demo stimulus once, at jittered onsets about a second apart. Contacts sit
inside each demo ROI (``contacts_per_roi``, MNI coordinates) and elsewhere in the brain
(``n_other``). Each contact records 1/f background activity plus a 70-150 Hz carrier whose
amplitude follows the stimulus: for contacts of a driven ROI, in a Hann bump from 0.1 to 0.4 s
after onset, it rises by ``modulation`` x (read-out of the ROI's driver layer at its SNR, plus
unit noise) / sqrt(1 + SNR); every other contact's amplitude stays flat. The high-gamma loader
should therefore find the driver's model in the driven contacts' 0.1-0.4 s windows and nothing
elsewhere; the truth is written next to the recording.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import signal

from brainencode.datasets.stimuli import read_stimuli
from brainencode.demo.fmri import brain_mask, driver_signal, latent_rng

PLANTED_WINDOW_S = (0.1, 0.4)


def place_contacts(demo: dict, rng: np.random.Generator) -> pd.DataFrame:
    """Contact names, MNI xyz (mm) and region: inside each ROI sphere, then elsewhere."""
    seeg = demo["seeg"]
    rows = []
    for roi in demo["rois"]:
        center = np.asarray(roi["centers_mni"][0], float)
        for k in range(seeg["contacts_per_roi"]):
            offset = rng.normal(size=3)
            offset *= rng.uniform(0, 0.6 * roi["radius_mm"]) / np.linalg.norm(offset)
            rows.append((f"{roi['name']}{k + 1}", *(center + offset), roi["name"]))
    mask = brain_mask(demo["voxel_size_mm"])
    xyz = nib.affines.apply_affine(mask.affine, np.argwhere(np.asarray(mask.dataobj) > 0))
    centers = np.array([c for roi in demo["rois"] for c in roi["centers_mni"]], float)
    radius = max((roi["radius_mm"] for roi in demo["rois"]), default=0)
    far = np.linalg.norm(xyz[:, None] - centers[None], axis=2).min(axis=1) > radius + 15
    for k, point in enumerate(rng.choice(xyz[far], seeg["n_other"], replace=False)):
        rows.append((f"X{k + 1}", *point, "other"))
    return pd.DataFrame(rows, columns=["name", "x", "y", "z", "region"])


def _background(n_channels: int, n_times: int, sfreq: float,
                rng: np.random.Generator) -> np.ndarray:
    """1/f ("pink") noise per channel, unit variance."""
    spectrum = np.fft.rfft(rng.standard_normal((n_channels, n_times)), axis=1)
    freqs = np.fft.rfftfreq(n_times, 1 / sfreq)
    spectrum /= np.sqrt(np.maximum(freqs, 1.0))
    noise = np.fft.irfft(spectrum, n_times, axis=1)
    return noise / noise.std(axis=1, keepdims=True)


def simulate_seeg_subject(stimuli_path: str | Path, feature_dirs: dict[str, str | Path],
                          demo: dict, subject: str, subject_index: int, bids_root: str | Path,
                          task: str) -> None:
    import mne
    import mne_bids

    seeg = demo["seeg"]
    ids = list(read_stimuli(stimuli_path)["stimulus_id"])
    rng = np.random.default_rng([demo["seed"], subject_index, 7])
    contacts = place_contacts(demo, rng)
    sfreq = float(seeg["sfreq"])
    order = rng.permutation(len(ids))
    onsets = 2.0 + np.cumsum(rng.uniform(0.9, 1.1, len(ids))) - 1.0
    n_times = int((onsets[-1] + 2.0) * sfreq)

    amplitude_change = np.zeros((len(ids), len(contacts)))
    truth = []
    for index, roi in enumerate(demo["rois"]):
        inside = np.flatnonzero(contacts["region"] == roi["name"])
        driver = roi.get("driver")
        truth.append({"name": roi["name"], "contacts": list(contacts["name"][inside]),
                      "driver": driver})
        if driver is None:
            continue
        drive = driver_signal(feature_dirs, driver, ids, len(inside), rng, stimuli_path,
                              f"demo.rois.{index}", latent_rng(demo, index))
        noisy = (drive * np.sqrt(driver["snr"]) + rng.standard_normal(drive.shape))
        amplitude_change[:, inside] = (seeg["modulation"] * noisy / np.sqrt(1 + driver["snr"]))

    bump_start, bump_end = PLANTED_WINDOW_S
    bump = signal.windows.hann(int((bump_end - bump_start) * sfreq))
    envelope = np.ones((len(contacts), n_times))
    for trial, stimulus in enumerate(order):
        start = int((onsets[trial] + bump_start) * sfreq)
        envelope[:, start:start + len(bump)] += amplitude_change[stimulus][:, None] * bump
    envelope = np.maximum(envelope, 0.05)
    sos = signal.butter(4, [70, 150], btype="bandpass", fs=sfreq, output="sos")
    carrier = signal.sosfiltfilt(sos, rng.standard_normal((len(contacts), n_times)), axis=1)
    carrier /= carrier.std(axis=1, keepdims=True)
    volts = (_background(len(contacts), n_times, sfreq, rng) + 0.5 * carrier * envelope) * 20e-6

    info = mne.create_info(list(contacts["name"]), sfreq, "seeg")
    info["line_freq"] = 50.0
    raw = mne.io.RawArray(volts, info, verbose="error")
    positions = {row.name: np.array([row.x, row.y, row.z]) / 1000
                 for row in contacts.itertuples(index=False)}
    raw.set_montage(mne.channels.make_dig_montage(positions, coord_frame="mni_tal"))
    events = np.column_stack([np.round(onsets * sfreq).astype(int), np.zeros(len(ids), int),
                              order + 1])
    path = mne_bids.BIDSPath(subject=subject.removeprefix("sub-"), task=task, root=bids_root,
                             datatype="ieeg")
    mne_bids.write_raw_bids(raw, path, events=events,
                            event_id={s: i + 1 for i, s in enumerate(ids)},
                            format="BrainVision", allow_preload=True, overwrite=True,
                            verbose="error")
    folder = Path(bids_root) / subject / "ieeg"
    for electrodes in folder.glob(f"{subject}_*electrodes.tsv"):
        table = pd.read_csv(electrodes, sep="\t", dtype=str, keep_default_na=False)
        table["region"] = table["name"].map(dict(zip(contacts["name"], contacts["region"],
                                                     strict=True)))
        table.to_csv(electrodes, sep="\t", index=False)
    (Path(bids_root) / subject / f"{subject}_desc-truth.json").write_text(json.dumps(
        {"subject": subject, "modality": "seeg", "planted_window_s": PLANTED_WINDOW_S,
         "rois": truth}, indent=1))
