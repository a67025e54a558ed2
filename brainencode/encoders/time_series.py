"""Time-series features for naturalistic data: Lanczos downsampling to the TR and FIR delays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from brainencode.errors import BrainencodeError


def lanczos_kernel(t: np.ndarray, cutoff: float, window: int = 3) -> np.ndarray:
    """Lanczos-windowed sinc, L(t) = sinc(f t) sinc(f t / a) for |f t| <= a, else 0, with f the
    cutoff rate (samples per second) and a the window in lobes (Duchon 1979)."""
    x = np.asarray(t, dtype=np.float64) * cutoff
    return np.where(np.abs(x) <= window, np.sinc(x) * np.sinc(x / window), 0.0)


def lanczos_resample(data: np.ndarray, old_times: np.ndarray, new_times: np.ndarray,
                     window: int = 3, cutoff_mult: float = 1.0) -> np.ndarray:
    """Resample irregularly timed features (e.g. one row per word, at its onset) to new times
    (e.g. the fMRI acquisition times), low-pass filtered with a Lanczos kernel.

    Each output row is sum_j L(t_new - t_old_j) data_j, with the kernel's cutoff rate set to the
    new sampling rate times ``cutoff_mult`` (its first zero lies one new sample away, so the
    filter passes up to the new Nyquist frequency). This is the downsampling of Huth et al.
    2016 ("Natural speech reveals the semantic maps that tile human cerebral cortex") and the
    voxelwise-modelling tutorials that follow it.
    """
    data = np.asarray(data, dtype=np.float64)
    old_times = np.asarray(old_times, dtype=np.float64)
    new_times = np.asarray(new_times, dtype=np.float64)
    if data.shape[0] != len(old_times):
        raise BrainencodeError(f"lanczos_resample: data has {data.shape[0]} rows but "
                               f"old_times has {len(old_times)}: expected one time per row")
    if len(new_times) < 2:
        raise BrainencodeError("lanczos_resample: new_times needs at least two samples")
    cutoff = cutoff_mult / np.mean(np.diff(new_times))
    weights = lanczos_kernel(new_times[:, None] - old_times[None, :], cutoff, window)
    return (weights @ data.reshape(len(data), -1)).reshape(len(new_times), *data.shape[1:])


def delay_features(X: np.ndarray, delays: Sequence[int],
                   runs: np.ndarray | None = None) -> np.ndarray:
    """Finite impulse response (FIR) design: X shifted by each delay, stacked along features.

    Column block d holds X[t - delays[d]] (zero before the run starts), so a linear model on
    the result fits a separate haemodynamic weight per delay (Nishimoto et al. 2011; Huth et
    al. 2016 use delays of 1-4 TRs). ``runs`` labels each row's run, and shifts never cross a
    run boundary.
    """
    X = np.asarray(X)
    runs = np.zeros(len(X), dtype=int) if runs is None else np.asarray(runs)
    if len(runs) != len(X):
        raise BrainencodeError(f"delay_features: runs has {len(runs)} labels but X has "
                               f"{len(X)} rows: expected one run label per row")
    out = np.zeros((len(X), len(delays) * X.shape[1]), dtype=X.dtype)
    for run in np.unique(runs):
        rows = np.flatnonzero(runs == run)
        for d, delay in enumerate(delays):
            if abs(delay) >= len(rows):
                continue
            block = slice(d * X.shape[1], (d + 1) * X.shape[1])
            if delay >= 0:
                out[rows[delay:], block] = X[rows[:len(rows) - delay]]
            else:
                out[rows[:delay], block] = X[rows[-delay:]]
    return out


class Delayer(TransformerMixin, BaseEstimator):
    """scikit-learn transformer for ``delay_features`` (no run boundaries: one run)."""

    def __init__(self, delays: Sequence[int] = (1, 2, 3, 4)):
        self.delays = delays

    def fit(self, X: np.ndarray, y=None) -> Delayer:
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return delay_features(X, self.delays)


def fir_design(features: np.ndarray, event_times: np.ndarray, event_runs: np.ndarray,
               tr_times: np.ndarray, tr_runs: np.ndarray, tr: float,
               delays: Sequence[int] = (1, 2, 3, 4), window: int = 3) -> np.ndarray:
    """TR-wise FIR design [n_TRs, len(delays) * n_features] from one feature row per event.

    Within each run, the event features (at their times) are Lanczos-resampled to the TR
    times shifted back by each delay, ``lanczos(t - d * TR)``: the same as resampling to the TR
    grid and shifting by d rows (``delay_features``), but exact for runs whose first or last TRs
    were dropped, and zero before the run's first event. Each column is then z-scored within
    its run, as the voxelwise-modelling pipelines of Huth et al. 2016 do per story.
    """
    features = np.asarray(features, dtype=np.float64)
    out = np.zeros((len(tr_times), len(delays) * features.shape[1]))
    for run in np.unique(tr_runs):
        rows = np.flatnonzero(tr_runs == run)
        events = np.flatnonzero(event_runs == run)
        for d, delay in enumerate(delays):
            weights = lanczos_kernel(tr_times[rows, None] - delay * tr
                                     - event_times[None, events], 1.0 / tr, window)
            out[rows, d * features.shape[1]:(d + 1) * features.shape[1]] = (
                weights @ features[events])
        values = out[rows]
        std = values.std(0)
        out[rows] = (values - values.mean(0)) / np.where(std > 0, std, 1.0)
    return out.astype(np.float32)
