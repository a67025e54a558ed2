"""Encoding split into target chunks and gathered equals one fit of all targets."""

from __future__ import annotations

import json
import subprocess

import h5py
import numpy as np
import pandas as pd
import pytest

from brainencode.analyses.gathering import gather_encoding
from brainencode.analyses.layer_scores import chunk_slice, encode_model
from brainencode.datasets.responses import Responses, read_responses, write_responses
from brainencode.errors import BrainencodeError

N_STIMULI, N_TARGETS = 60, 23
SETTINGS = {"alphas": {"min_exp": -2, "max_exp": 4, "n": 7}, "outer_folds": 5,
            "inner_folds": 3, "seed": 0, "device": "cpu", "significance": "parametric",
            "n_permutations": 50, "block_trs": 10, "fdr_q": 0.05, "two_vs_two_stimuli": 2000}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two layers of features; targets in three ROIs (one spans every chunk boundary), some
    driven by a layer, one constant (invalid), all with two repeats."""
    root = tmp_path_factory.mktemp("chunks")
    rng = np.random.default_rng(0)
    ids = [f"s{i:03d}" for i in range(N_STIMULI)]
    layers = {"layer01": rng.standard_normal((N_STIMULI, 8)),
              "layer02": rng.standard_normal((N_STIMULI, 12))}
    features = root / "features"
    features.mkdir()
    for name, values in layers.items():
        np.save(features / f"{name}.npy", values.astype(np.float32))
    (features / "meta.json").write_text(json.dumps({"layers": list(layers),
                                                    "stimulus_ids": ids}))
    signal = layers["layer02"] @ rng.standard_normal((12, N_TARGETS))
    signal[:, 15:] = 0
    repeats = signal + rng.standard_normal((2, N_STIMULI, N_TARGETS)) * 2
    repeats[:, :, 7] = 1.0
    roi = np.array(["A"] * 5 + ["B"] * 12 + ["C"] * 6)
    responses = root / "sub-01.h5"
    write_responses(responses, Responses(
        data=repeats.mean(0), stimulus_ids=ids, roi=roi, subject="sub-01", repeats=repeats,
        ijk=np.stack([np.arange(N_TARGETS)] * 3, 1), attrs={"modality": "fmri"}))
    return root, responses, features


def _encode(root, responses, features, n_chunks: int, settings: dict):
    chunks = [root / f"{settings['significance']}-{n_chunks}" / f"chunk{c}"
              for c in range(n_chunks)]
    with pytest.warns(RuntimeWarning, match=r"constant \(first: \[7\]\)"):
        for c, folder in enumerate(chunks):
            encode_model(responses=responses, features=features, model="m", out_dir=folder,
                         encoding=settings, chunk=c, n_chunks=n_chunks)
    out = root / f"{settings['significance']}-{n_chunks}" / "gathered"
    return gather_encoding(chunks=chunks, out_dir=out, fdr_q=settings["fdr_q"]), out


@pytest.mark.parametrize(("significance", "paired"), [("parametric", 2000), ("permutation", 8)])
def test_gathered_chunks_equal_the_unsplit_fit(data, significance, paired):
    """Also with 2V2 on 8 of each fold's 12 test stimuli: every chunk draws the same 8."""
    root, responses, features = data
    settings = SETTINGS | {"significance": significance, "two_vs_two_stimuli": paired}
    whole, whole_dir = _encode(root, responses, features, 1, settings)
    split, split_dir = _encode(root, responses, features, 4, settings)
    pd.testing.assert_frame_equal(whole, split, rtol=1e-6, atol=1e-7)
    for layer in ("layer01", "layer02"):
        with h5py.File(whole_dir / f"{layer}.h5") as a, h5py.File(split_dir / f"{layer}.h5") as b:
            assert set(a) == set(b) == {"r", "r2", "alpha", "ceiling", "explainable_variance",
                                        "r_normalized", "p", "q"}
            for key in a:
                np.testing.assert_allclose(a[key][:], b[key][:], rtol=1e-6, atol=1e-7,
                                           equal_nan=True, err_msg=key)
    r = whole[(whole["metric"] == "r") & (whole["layer"] == "layer02")].set_index("roi")
    assert r.loc["B", "value"] > 0.5 and abs(r.loc["C", "value"]) < 0.2  # the fit is real
    two_vs_two = whole[(whole["metric"] == "2v2") & (whole["layer"] == "layer02")]
    assert (two_vs_two.set_index("roi").loc[["A", "B"], "value"] > 0.9).all()


def test_reading_where_the_targets_are_leaves_the_data_unread(data):
    """The figures read the target layout only: the same per-target fields, a data view of
    the right shape that holds no memory, no repeats."""
    _, responses, _ = data
    whole, layout = read_responses(responses), read_responses(responses, data=False)
    assert layout.n_targets == N_TARGETS and layout.data.shape == whole.data.shape
    assert layout.data.base is not None and layout.data.strides == (0, 0)
    assert layout.repeats is None and whole.repeats is not None
    np.testing.assert_array_equal(layout.ijk, whole.ijk)
    np.testing.assert_array_equal(layout.roi, whole.roi)
    chunk = read_responses(responses, slice(5, 17), data=False)
    assert chunk.n_targets == 12 and list(chunk.roi) == ["B"] * 12


def test_chunks_cover_every_target_once():
    for n, k in [(23, 4), (5, 5), (100, 3), (7, 1)]:
        parts = [chunk_slice(n, c, k) for c in range(k)]
        assert [len(range(n)[p]) for p in parts] == [len(a) for a in
                                                      np.array_split(np.arange(n), k)]
        assert parts[0].start == 0 and parts[-1].stop == n
    with pytest.raises(BrainencodeError, match="chunk: expected 0 to 2"):
        chunk_slice(10, 3, 3)


def test_a_missing_chunk_is_one_clear_error(data, env, tmp_path):
    root, responses, features = data
    chunks = [tmp_path / f"chunk{c}" for c in range(3)]
    with pytest.warns(RuntimeWarning, match="constant"):  # chunk 0 holds target 7
        for c in (0, 2):
            encode_model(responses=responses, features=features, model="m", out_dir=chunks[c],
                         encoding=SETTINGS, chunk=c, n_chunks=3)
    result = subprocess.run(["brainencode", "gather-encoding", "--chunks", str(chunks[0]),
                             str(chunks[2]), "--fdr-q", "0.05", "--out-dir",
                             str(tmp_path / "out")],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"brainencode gather-encoding: error: {tmp_path}: chunks: expected chunks 0 to 2 in "
        "order, got [0, 2]"]
    assert not (tmp_path / "out").exists()


def test_2v2_on_one_target_is_left_out_with_its_reason(data, tmp_path):
    """A one-target ROI (like the averaged Pereira 2018 response) has no 2V2: the cosine
    distance of one-target patterns is their signs, so even a perfect model scores near 0.5.
    The score is NaN with the reason in the note column; ROIs of several targets keep theirs."""
    _, responses, features = data
    from brainencode.analyses.scores import read_scores
    from brainencode.datasets.responses import read_responses

    original = read_responses(responses)
    roi = original.roi.copy()
    roi[0] = "solo"
    single = tmp_path / "sub-01.h5"
    write_responses(single, Responses(
        data=original.data, stimulus_ids=original.stimulus_ids, roi=roi, subject="sub-01",
        repeats=original.repeats, ijk=original.ijk, attrs={"modality": "fmri"}))
    with pytest.warns(RuntimeWarning, match="constant"):
        encode_model(responses=single, features=features, model="m", out_dir=tmp_path / "c0",
                     encoding=SETTINGS)
    gather_encoding(chunks=[tmp_path / "c0"], out_dir=tmp_path / "out", fdr_q=0.05)
    scores = read_scores(tmp_path / "out" / "scores.tsv")
    two_vs_two = scores[scores["metric"] == "2v2"].set_index(["roi", "layer"])
    assert two_vs_two.loc["solo", "value"].isna().all()
    assert (two_vs_two.loc["solo", "note"].str.startswith(
        "2V2 left out: it compares response patterns by cosine distance, which needs at least "
        "2 targets; this ROI has 1")).all()
    assert two_vs_two.loc[("B", "layer02"), "value"] > 0.9
    assert (two_vs_two.loc["B", "note"] == "").all()
    others = scores[scores["metric"] != "2v2"]
    assert (others["note"] == "").all()
