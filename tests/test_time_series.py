"""FIR delays and Lanczos downsampling for naturalistic time series."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from brainencode.encoders import RidgeCV
from brainencode.encoders.time_series import (
    Delayer,
    delay_features,
    fir_design,
    lanczos_resample,
)
from brainencode.errors import BrainencodeError


def test_delays_shift_within_runs_only():
    X = np.arange(1, 7, dtype=float)[:, None]
    out = delay_features(X, [0, 1, 2], runs=np.array([0, 0, 0, 1, 1, 1]))
    np.testing.assert_array_equal(out[:, 0], [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(out[:, 1], [0, 1, 2, 0, 4, 5])
    np.testing.assert_array_equal(out[:, 2], [0, 0, 1, 0, 0, 4])
    with pytest.raises(BrainencodeError, match="runs has 2 labels but X has 6 rows"):
        delay_features(X, [1], runs=np.array([0, 1]))


def test_fir_model_recovers_a_planted_haemodynamic_response():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 1))
    hrf = np.array([0.0, 0.6, 1.0, 0.5, 0.1])
    y = np.convolve(x[:, 0], hrf)[:600] + 0.1 * rng.standard_normal(600)
    model = make_pipeline(Delayer(delays=range(5)), RidgeCV(device="cpu")).fit(x, y)
    np.testing.assert_allclose(model[-1].coef_, hrf, atol=0.03)  # 1-D y: 1-D coef_


def test_lanczos_downsampling_keeps_slow_signal_and_sums_events():
    """Densely sampled slow sine, resampled to a 2 s TR, is the sine scaled by the number of
    input samples per TR (the filter sums, as in Huth et al. 2016)."""
    old = np.arange(0, 300, 0.1)
    new = np.arange(10, 290, 2.0)
    signal = np.sin(2 * np.pi * old / 60)[:, None]
    out = lanczos_resample(signal, old, new)
    np.testing.assert_allclose(out[:, 0] / 20, np.sin(2 * np.pi * new / 60), atol=0.02)
    assert lanczos_resample(signal, old, new, window=2).shape == (len(new), 1)
    with pytest.raises(BrainencodeError, match="one time per row"):
        lanczos_resample(signal[:5], old, new)


def test_fir_design_is_resample_then_delay_then_zscore_per_run():
    """Lanczos to TR times shifted back by d TRs equals resampling then shifting d rows, for
    rows whose shifted time stays in the run; dropping a run's first TRs changes nothing for the
    rest; columns are z-scored within each run."""
    rng = np.random.default_rng(1)
    tr, n_trs = 2.0, 60
    times = np.sort(rng.uniform(0, tr * n_trs, 200))
    features = rng.standard_normal((200, 3))
    tr_times = np.arange(n_trs) * tr
    design = fir_design(features, times, np.zeros(200), tr_times, np.zeros(n_trs), tr, [0, 2])
    shifted = delay_features(lanczos_resample(features, times, tr_times), [0, 2])
    for column in range(6):
        kept = slice(2, None)  # rows whose delayed time is inside the run
        assert np.corrcoef(design[kept, column], shifted[kept, column])[0, 1] > 0.999
    np.testing.assert_allclose(design.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(design.std(0), 1, atol=1e-4)

    trimmed = fir_design(features, times, np.zeros(200), tr_times[10:], np.zeros(n_trs - 10),
                         tr, [0, 2])
    raw = fir_design(features, times, np.zeros(200), tr_times, np.zeros(n_trs), tr, [0, 2])
    assert np.corrcoef(trimmed[:, 4], raw[10:, 4])[0, 1] > 0.9999

    two_runs = fir_design(np.vstack([features, features]), np.concatenate([times, times]),
                          np.repeat([0, 1], 200), np.concatenate([tr_times, tr_times]),
                          np.repeat([0, 1], n_trs), tr, [0, 2])
    np.testing.assert_allclose(two_runs[:n_trs], two_runs[n_trs:], atol=1e-6)
