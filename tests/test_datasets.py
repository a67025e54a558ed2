"""Demo subjects written as BIDS beta maps and read back by the real loader; bad input."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainencode.datasets import bids_names
from brainencode.datasets.bids_betas import load_bids_betas
from brainencode.datasets.responses import read_responses, write_responses
from brainencode.demo.fmri import simulate_fmri_subject
from brainencode.demo.stimuli import make_demo_stimuli
from brainencode.errors import BrainencodeError
from brainencode.features.extract import extract_features
from tests.test_features import TINY_VIT

SPACE = "MNI152NLin2009cAsym"
DEMO = {"seed": 0, "n_repeats": 3, "voxel_size_mm": 8, "noise_sd": 1.0, "rois": [
    {"name": "EVC", "centers_mni": [[-10, -94, 2], [10, -94, 2]], "radius_mm": 16,
     "driver": {"model": "vit", "layer": "layer02", "snr": 4.0}},
    {"name": "M1", "centers_mni": [[-38, -22, 58]], "radius_mm": 16}]}


@pytest.fixture(scope="module")
def bids(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    stimuli = make_demo_stimuli(out_dir=root / "stimuli", n_stimuli=24, image_size=64, seed=1)
    extract_features(stimuli=stimuli, spec=TINY_VIT, out_dir=root / "features" / "vit")
    simulate_fmri_subject(stimuli, {"vit": root / "features" / "vit"}, DEMO, "sub-01", 1,
                     root / "bids", "demo", SPACE)
    return root, stimuli


def test_roundtrip_reorders_runs_and_keeps_rois(bids, tmp_path):
    root, stimuli = bids
    responses = load_bids_betas(root / "bids", "sub-01", stimuli, "demo", SPACE)
    ids = list(pd.read_csv(stimuli, sep="\t")["stimulus_id"])
    assert responses.stimulus_ids == ids
    assert responses.repeats.shape == (3, 24, responses.n_targets)
    assert set(responses.roi) == {"EVC", "M1", "other"}
    # the EVC signal is shared by all repeats once each run is put back in table order
    evc = responses.roi == "EVC"
    r = np.corrcoef(responses.repeats[0][:, evc].ravel(), responses.repeats[1][:, evc].ravel())
    assert r[0, 1] > 0.6
    other = responses.roi == "other"
    r = np.corrcoef(responses.repeats[0][:, other].ravel(),
                    responses.repeats[1][:, other].ravel())
    assert abs(r[0, 1]) < 0.05
    path = tmp_path / "sub-01.h5"
    write_responses(path, responses)
    back = read_responses(path)
    np.testing.assert_array_equal(back.data, responses.data)
    assert back.stimulus_ids == ids and list(back.roi) == list(responses.roi)


def test_unknown_stimulus_in_a_run_is_one_clear_error(bids, tmp_path):
    root, stimuli = bids
    table = pd.read_csv(stimuli, sep="\t")
    table.iloc[:-1].to_csv(tmp_path / "fewer.tsv", sep="\t", index=False)
    (tmp_path / "images").symlink_to(Path(stimuli).parent / "images")
    with pytest.raises(BrainencodeError, match=r"run-1_.*stimulus_id: expected each stimulus"):
        load_bids_betas(root / "bids", "sub-01", tmp_path / "fewer.tsv", "demo", SPACE)


def test_truncated_nifti_exits_2_with_one_line(bids, tmp_path, env):
    root, stimuli = bids
    broken = shutil.copytree(root / "bids", tmp_path / "bids")
    run = bids_names.func_dir(broken, "sub-01") / bids_names.betas_name("sub-01", "demo", 2,
                                                                         SPACE)
    data = gzip.decompress(run.read_bytes())
    run.write_bytes(gzip.compress(data[: len(data) // 2]))
    out = tmp_path / "sub-01.h5"
    result = subprocess.run(
        ["brainencode", "responses", "--dataset", json.dumps({
            "format": "bids-betas", "subjects": ["sub-01"], "bids_root": str(broken),
            "stimuli_table": str(stimuli), "task": "demo", "space": SPACE}), "--subject", "sub-01",
         "--stimuli", str(stimuli), "--out", str(out)], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(run) in lines[0] and "cannot read single-trial betas" in lines[0]
    assert not out.exists()


def test_missing_mask_is_named(bids, tmp_path):
    root, stimuli = bids
    broken = shutil.copytree(root / "bids", tmp_path / "bids")
    mask = bids_names.func_dir(broken, "sub-01") / bids_names.mask_name("sub-01", SPACE)
    mask.unlink()
    with pytest.raises(BrainencodeError, match="brain mask not found"):
        load_bids_betas(broken, "sub-01", stimuli, "demo", SPACE)
