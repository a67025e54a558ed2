"""Every dataset format: fixtures written in the real format, real data when ../shared has it,
and bad input that must end in one line naming the file and field, exit code 2."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import scipy.io

from brainencode.cli import main
from brainencode.datasets.formats import load_responses, write_stimuli
from brainencode.datasets.responses import read_responses
from brainencode.datasets.stimuli import read_stimuli
from tests.conftest import shared


def cli_error(capsys, *argv: str) -> str:
    """Run the CLI expecting failure: exit 2 and exactly one line on stderr."""
    assert main(list(argv)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def responses_via_cli(tmp_path: Path, dataset: dict, subject: str = "sub-01",
                      stimuli: Path | None = None):
    """Write the stimuli table when the format makes one, then the responses, via the CLI."""
    if stimuli is None:
        stimuli = tmp_path / "stimuli.tsv"
        assert main(["stimuli", "--dataset", json.dumps(dataset), "--out", str(stimuli)]) == 0
    out = tmp_path / f"{subject}.h5"
    code = main(["responses", "--dataset", json.dumps(dataset), "--subject", subject,
                 "--stimuli", str(stimuli), "--out", str(out)])
    return code, stimuli, out


# --- table ---------------------------------------------------------------------------------

def test_table_tsv_with_text_column(tmp_path):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"Sentence": [f"sentence number {i}." for i in range(30)],
                          "lang": rng.normal(size=30), "md": rng.normal(size=30)})
    table.to_csv(tmp_path / "avg.csv")
    dataset = {"format": "table", "subjects": ["sub-avg"], "path": str(tmp_path / "avg.csv"),
               "text_column": "Sentence", "response_columns": ["lang", "md"], "roi": "network"}
    code, stimuli, out = responses_via_cli(tmp_path, dataset, "sub-avg")
    assert code == 0
    assert list(read_stimuli(stimuli)["text"]) == list(table["Sentence"])
    responses = read_responses(out)
    np.testing.assert_allclose(responses.data, table[["lang", "md"]], rtol=1e-6)
    assert list(responses.roi) == ["network", "network"]


def test_table_npy_and_h5_reordered(tmp_path):
    ids = [f"s{i}" for i in range(12)]
    pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids}).to_csv(
        tmp_path / "stim.tsv", sep="\t", index=False)
    data = np.random.default_rng(1).normal(size=(12, 5)).astype(np.float32)
    np.save(tmp_path / "sub-01.npy", data)
    dataset = {"format": "table", "subjects": ["sub-01"], "path": str(tmp_path / "{subject}.npy"),
               "stimuli_table": str(tmp_path / "stim.tsv")}
    assert responses_via_cli(tmp_path, dataset)[0] == 0
    np.testing.assert_array_equal(read_responses(tmp_path / "sub-01.h5").data, data)
    with h5py.File(tmp_path / "resp.h5", "w") as f:  # rows in another order, with ROI labels
        f["data"] = data[::-1]
        f["stimulus_id"] = np.array(ids[::-1], dtype=object).astype("S")
        f["roi"] = np.array(["a", "a", "b", "b", "b"], dtype="S")
    dataset["path"] = str(tmp_path / "resp.h5")
    assert responses_via_cli(tmp_path, dataset)[0] == 0
    responses = read_responses(tmp_path / "sub-01.h5")
    np.testing.assert_array_equal(responses.data, data)
    assert list(responses.roi) == ["a", "a", "b", "b", "b"]


def traced_peak(tmp_path: Path, data: np.ndarray) -> int:
    """Peak numpy/Python memory (tracemalloc) of writing ``data`` as a table .npy's responses,
    traced the second time (modules and schemas loaded the first)."""
    import tracemalloc

    from brainencode.datasets.formats import write_subject_responses

    ids = [f"s{i:03d}" for i in range(len(data))]
    pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids}).to_csv(
        tmp_path / "stim.tsv", sep="\t", index=False)
    np.save(tmp_path / "big.npy", data)
    dataset = {"format": "table", "subjects": ["sub-01"], "path": str(tmp_path / "big.npy"),
               "stimuli_table": str(tmp_path / "stim.tsv")}
    assert responses_via_cli(tmp_path, dataset, stimuli=tmp_path / "stim.tsv")[0] == 0
    np.testing.assert_array_equal(read_responses(tmp_path / "sub-01.h5").data, data)
    tracemalloc.start()
    write_subject_responses(dataset=dataset, subject="sub-01", stimuli=tmp_path / "stim.tsv",
                            out=tmp_path / "again.h5")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_table_written_a_block_of_targets_at_a_time(tmp_path, capsys):
    """A table .npy/.h5 is never held whole (TargetBlocks): from 4 to 16 blocks of targets
    the memory traced while writing grows by under a quarter of the data's growth (by the
    per-target labels, about 70 bytes a target, and masks only); what is written equals the
    array, with invalid targets past the first block refused, naming the first by its index
    in the whole file, or dropped (the rows of an .h5 in another order)."""
    from brainencode.datasets.responses import BLOCK_TARGETS

    rng = np.random.default_rng(2)
    small, large = (rng.normal(size=(100, n * BLOCK_TARGETS)).astype(np.float32)
                    for n in (4, 16))
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    growth = traced_peak(tmp_path / "large", large) - traced_peak(tmp_path / "small", small)
    assert growth < (large.nbytes - small.nbytes) / 4, growth
    with h5py.File(tmp_path / "large" / "sub-01.h5") as f:
        assert f["data"].chunks == (100, BLOCK_TARGETS)

    ids = [f"s{i:02d}" for i in range(20)]
    pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids}).to_csv(
        tmp_path / "stim.tsv", sep="\t", index=False)
    n_targets = 6 * BLOCK_TARGETS + 100
    data = rng.normal(size=(20, n_targets)).astype(np.float32)
    bad = data.copy()
    bad[3, [BLOCK_TARGETS + 7, 5 * BLOCK_TARGETS]] = np.nan
    bad[:, 2 * BLOCK_TARGETS + 1] = 1.5
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["data"] = bad[::-1]
        f["stimulus_id"] = np.array(ids[::-1], dtype="S")
    dataset = {"format": "table", "subjects": ["sub-01"], "path": str(tmp_path / "bad.h5"),
               "stimuli_table": str(tmp_path / "stim.tsv")}
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), "--subject",
                     "sub-01", "--stimuli", str(tmp_path / "stim.tsv"), "--out",
                     str(tmp_path / "o.h5"))
    assert line.endswith(f"bad.h5: data: expected finite responses, 2 targets have NaN or "
                         f"infinite values (first: target {BLOCK_TARGETS + 7}); set "
                         "dataset.invalid_targets: drop to leave them out (and 1 more "
                         "problems)")  # the constant target
    assert not (tmp_path / "o.h5").exists()
    dataset["invalid_targets"] = "drop"
    assert responses_via_cli(tmp_path, dataset, stimuli=tmp_path / "stim.tsv")[0] == 0
    kept = read_responses(tmp_path / "sub-01.h5")
    valid = np.ones(n_targets, bool)
    valid[[BLOCK_TARGETS + 7, 2 * BLOCK_TARGETS + 1, 5 * BLOCK_TARGETS]] = False
    np.testing.assert_array_equal(kept.data, data[:, valid])
    assert kept.attrs["n_invalid_dropped"] == 3 and len(kept.roi) == n_targets - 3


def test_table_bad_input(tmp_path, capsys):
    ids = [f"s{i}" for i in range(6)]
    pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids}).to_csv(
        tmp_path / "stim.tsv", sep="\t", index=False)
    base = {"format": "table", "subjects": ["sub-01"], "stimuli_table": str(tmp_path / "stim.tsv")}
    np.save(tmp_path / "short.npy", np.ones((5, 3)))
    line = cli_error(capsys, "responses", "--dataset", json.dumps(
        base | {"path": str(tmp_path / "short.npy")}), "--subject", "sub-01",
        "--stimuli", str(tmp_path / "stim.tsv"), "--out", str(tmp_path / "o.h5"))
    assert "short.npy: data: expected [n_stimuli=6, n_targets], got shape (5, 3)" in line
    assert not (tmp_path / "o.h5").exists()

    data = np.random.default_rng(0).normal(size=(6, 4))
    data[:, 1] = 3.0
    data[2, 3] = np.nan
    np.save(tmp_path / "bad.npy", data)
    dataset = base | {"path": str(tmp_path / "bad.npy")}
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), "--subject",
                     "sub-01", "--stimuli", str(tmp_path / "stim.tsv"), "--out",
                     str(tmp_path / "o.h5"))
    assert "bad.npy: data: expected finite responses, 1 targets have NaN" in line
    assert not (tmp_path / "o.h5").exists()
    kept = load_responses(dataset | {"invalid_targets": "drop"}, "sub-01", tmp_path / "stim.tsv")
    assert kept.n_targets == 2 and kept.attrs["n_invalid_dropped"] == 2

    h5 = tmp_path / "ids.h5"
    with h5py.File(h5, "w") as f:
        f["data"] = np.ones((6, 2))
        f["stimulus_id"] = np.array([*ids[:5], "zebra"], dtype="S")
    line = cli_error(capsys, "responses", "--dataset", json.dumps(base | {"path": str(h5)}),
                     "--subject", "sub-01", "--stimuli", str(tmp_path / "stim.tsv"), "--out",
                     str(tmp_path / "o.h5"))
    assert "ids.h5: stimulus_id: expected each stimulus of" in line and "'zebra'" in line


def test_pereira_averaged_real_as_table(tmp_path):
    folder = shared("pereira2018_averaged")
    dataset = {"format": "table", "subjects": ["sub-avg"],
               "path": str(folder / "pereira_averaged.csv"), "text_column": "Sentence",
               "response_columns": ["EffectSize"], "roi": "language"}
    code, stimuli, out = responses_via_cli(tmp_path, dataset, "sub-avg")
    assert code == 0
    responses = read_responses(out)
    assert responses.data.shape == (627, 1)
    assert abs(float(responses.data.mean()) - 0.586) < 0.01  # as the MANIFEST states
    assert read_stimuli(stimuli)["text"].iloc[0].startswith("A banana is a long fruit")


# --- Pereira 2018 .mat -------------------------------------------------------------------------

def write_pereira(path: Path, rng: np.random.Generator, n_sentences: int = 24,
                  n_voxels: int = 40) -> np.ndarray:
    """A file with the published layout; examples are stored in a shuffled sentence order."""
    order = rng.permutation(n_sentences)
    examples = rng.normal(size=(n_sentences, n_voxels))
    meta = {"colToCoord": rng.integers(1, 10, size=(n_voxels, 3)).astype(float),
            "dimensions": np.array([10.0, 10.0, 10.0]), "matrix": np.eye(4),
            "atlases": np.array(["gordon", "language"], dtype=object),
            "rois": np.array([np.array(["g1"], dtype=object),
                              np.array(["LH_IFG", "LH_PostTemp"], dtype=object)], dtype=object),
            "colToROInum": np.column_stack([np.ones(n_voxels), np.arange(n_voxels) % 3])}
    scipy.io.savemat(path, {
        "examples": examples, "meta": meta,
        "keySentences": np.array([f"Sentence {i} is about topic {i // 4}." for i in
                                  range(n_sentences)], dtype=object),
        "labelsSentences": (order + 1).astype(float)[:, None],
        "labelsPassageForEachSentence": (np.arange(n_sentences) // 4 + 1).astype(float)[:, None],
    })
    return examples[np.argsort(order)]  # in sentence order


def test_pereira_mat(tmp_path):
    expected = write_pereira(tmp_path / "P01_examples.mat", np.random.default_rng(2))
    dataset = {"format": "pereira", "subjects": ["sub-P01"],
               "path": str(tmp_path / "{label}_examples.mat"), "atlas": "language"}
    code, stimuli, out = responses_via_cli(tmp_path, dataset, "sub-P01")
    assert code == 0
    table = read_stimuli(stimuli)
    assert table["text"].iloc[5] == "Sentence 5 is about topic 1."
    assert table["group"].nunique() == 6
    responses = read_responses(out)
    np.testing.assert_allclose(responses.data, expected, rtol=1e-6)
    assert list(responses.roi[:3]) == ["none", "LH_IFG", "LH_PostTemp"]
    assert responses.ijk.min() >= 0


def test_pereira_bad_input(tmp_path, capsys):
    write_pereira(tmp_path / "P01_examples.mat", np.random.default_rng(2))
    dataset = {"format": "pereira", "subjects": ["sub-P01"],
               "path": str(tmp_path / "{label}_examples.mat"), "atlas": "nope"}
    write_stimuli(dataset=dataset, out=tmp_path / "stim.tsv")
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), "--subject",
                     "sub-P01", "--stimuli", str(tmp_path / "stim.tsv"), "--out",
                     str(tmp_path / "o.h5"))
    assert "meta.atlases: expected dataset.atlas 'nope' among ['gordon', 'language']" in line
    scipy.io.savemat(tmp_path / "P02_examples.mat", {"keySentences": np.array(["a"], object),
                                                      "labelsSentences": [[1.0]]})
    dataset |= {"subjects": ["sub-P02"], "atlas": "language"}
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), "--subject",
                     "sub-P02", "--stimuli", str(tmp_path / "stim.tsv"), "--out",
                     str(tmp_path / "o.h5"))
    assert "P02_examples.mat: examples: missing (expected [n_sentences, n_voxels]" in line
    (tmp_path / "P03_examples.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    line = cli_error(capsys, "stimuli", "--dataset", json.dumps(dataset | {
        "subjects": ["sub-P03"]}), "--out", str(tmp_path / "s.tsv"))
    assert "P03_examples.mat: cannot read Pereira examples file as a MATLAB file" in line


# --- RDMs ----------------------------------------------------------------------------------------

def test_rdm_kriegeskorte_real(tmp_path):
    folder = shared("kriegeskorte2008_92images_hIT_RDMs")
    dataset = {"format": "rdm", "subjects": ["sub-BE"], "path": str(folder / "92_brainRDMs.mat"),
               "images": str(folder / "images_png_derived")}
    stimuli = tmp_path / "stim.tsv"
    assert main(["stimuli", "--dataset", json.dumps(dataset), "--out", str(stimuli)]) == 0
    assert main(["rdms", "--dataset", json.dumps(dataset), "--subject", "sub-BE", "--stimuli",
                 str(stimuli), "--out", str(tmp_path / "rdm.h5")]) == 0
    with h5py.File(tmp_path / "rdm.h5") as f:
        assert f["rdm"].shape == (2, 92, 92)
        assert list(f["name"].asstr()[:]) == ["hIT | BE | Session: 1", "hIT | BE | Session: 2"]
    assert read_stimuli(stimuli)["stimulus_id"].iloc[0] == "img01"


def test_rdm_bad_input(tmp_path, capsys):
    from PIL import Image

    (tmp_path / "images").mkdir()
    for i in range(4):
        Image.new("RGB", (8, 8)).save(tmp_path / "images" / f"im{i}.png")
    rdm = np.random.default_rng(0).random((4, 4))
    np.save(tmp_path / "asym.npy", rdm)
    np.save(tmp_path / "small.npy", np.zeros((3, 3)))
    for name, expected in [("asym.npy", "RDM: expected symmetric matrices"),
                           ("small.npy", "RDM: expected [4, 4] (one row per image")]:
        dataset = {"format": "rdm", "subjects": ["sub-01"], "path": str(tmp_path / name),
                   "images": str(tmp_path / "images")}
        write_stimuli(dataset=dataset, out=tmp_path / "stim.tsv")
        line = cli_error(capsys, "rdms", "--dataset", json.dumps(dataset), "--subject",
                         "sub-01", "--stimuli", str(tmp_path / "stim.tsv"), "--out",
                         str(tmp_path / "o.h5"))
        assert f"{name}: {expected}" in line


# --- BOLD5000 ------------------------------------------------------------------------------------

def test_bold5000(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(3)
    (tmp_path / "Presented" / "COCO").mkdir(parents=True)
    names = [f"COCO_train2014_{i:012d}.jpg" for i in range(10)]
    for name in names:
        Image.new("RGB", (8, 8)).save(tmp_path / "Presented" / "COCO" / name)
    trials = names + names[:3]  # three images repeated, as BOLD5000's repeated set
    (tmp_path / "CSI1_stim_lists.txt").write_text("\n".join(trials) + "\n")
    per_image = rng.normal(size=(10, 7))
    for tr in (3, 4):
        trial_data = per_image[[names.index(n) for n in trials]] + (tr - 3.5)
        scipy.io.savemat(tmp_path / f"CSI1_ROIs_TR{tr}.mat",
                         {"LHPPA": trial_data[:, :3], "RHLOC": trial_data[:, 3:]})
    dataset = {"format": "bold5000", "subjects": ["sub-CSI1"],
               "path": str(tmp_path / "{label}_ROIs_TR{tr}.mat"),
               "stim_list": str(tmp_path / "{label}_stim_lists.txt"),
               "images": str(tmp_path / "Presented"), "trs": [3, 4]}
    code, stimuli, out = responses_via_cli(tmp_path, dataset, "sub-CSI1")
    assert code == 0
    responses = read_responses(out)
    np.testing.assert_allclose(responses.data, per_image, atol=1e-5)  # TR3/TR4 offsets cancel
    assert list(responses.roi) == ["LHPPA"] * 3 + ["RHLOC"] * 4
    scipy.io.savemat(tmp_path / "CSI1_ROIs_TR4.mat", {"LHPPA": np.ones((5, 3))})
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), "--subject",
                     "sub-CSI1", "--stimuli", str(stimuli), "--out", str(tmp_path / "o.h5"))
    assert "CSI1_ROIs_TR4.mat: LHPPA: expected one row per trial of the stimulus list (13)" in line


# --- NSD -----------------------------------------------------------------------------------------

def nsd_fixture(tmp_path: Path, coco_ids: list[int], captions: list[Path],
                images: Path) -> tuple[dict, np.ndarray]:
    """Two sessions of 750 trials over len(coco_ids) images, betas in the released HDF5 layout."""
    rng = np.random.default_rng(4)
    n_images = len(coco_ids)
    grid = (5, 4, 3)
    mask = np.zeros(grid, np.uint8)
    mask[1:4, 1:3, :] = 1
    nib.save(nib.Nifti1Image(mask, np.eye(4)), tmp_path / "nsdgeneral.nii.gz")
    subjectim = np.zeros((8, 10000), int)
    subjectim[0, :n_images] = np.arange(1, n_images + 1)  # 10k-index k -> nsdId k
    masterordering = rng.integers(1, n_images + 1, size=1500)
    scipy.io.savemat(tmp_path / "nsd_expdesign.mat", {"masterordering": masterordering[None],
                                                      "subjectim": subjectim})
    pd.DataFrame({"nsdId": np.arange(n_images), "cocoId": coco_ids,
                  "cocoSplit": "val2017"}).to_csv(tmp_path / "stim_info.csv", index=False)
    pattern = rng.normal(size=(n_images, int(mask.sum())))
    for session in (1, 2):
        trials = masterordering[(session - 1) * 750:session * 750]
        volume = np.zeros((750, *grid))
        volume[:, mask > 0] = pattern[trials - 1] + 0.3 * rng.normal(size=(750, mask.sum()))
        with h5py.File(tmp_path / f"betas_session{session:02d}.hdf5", "w") as f:
            f["betas"] = np.round(volume.transpose(0, 3, 2, 1) * 300).astype(np.int16)
    dataset = {"format": "nsd", "subjects": ["sub-01"], "sessions": [1, 2],
               "path": str(tmp_path / "betas_session{session}.hdf5"),
               "expdesign": str(tmp_path / "nsd_expdesign.mat"),
               "stim_info": str(tmp_path / "stim_info.csv"),
               "captions": [str(c) for c in captions], "images": str(images),
               "mask": str(tmp_path / "nsdgeneral.nii.gz"), "min_repeats": 2}
    return dataset, pattern


def test_nsd_with_coco_mini_captions(tmp_path):
    coco = shared("coco_mini_159img_captions")
    annotations = json.loads((coco / "annotations" / "captions_val2017.json").read_text())
    coco_ids = sorted({a["image_id"] for a in annotations["annotations"]})[:20]
    dataset, pattern = nsd_fixture(tmp_path, coco_ids,
                                   [coco / "annotations" / "captions_val2017.json"], coco)
    code, stimuli, out = responses_via_cli(tmp_path, dataset)
    assert code == 0
    table = read_stimuli(stimuli)
    assert len(table) == 20 and all(Path(p).is_file() for p in table["path"])
    first = table.iloc[0]
    real = [a["caption"] for a in annotations["annotations"]
            if a["image_id"] == coco_ids[int(first["stimulus_id"][4:]) - 1]]
    assert first["caption"].split() == real[0].split() or first["caption"] in [
        " ".join(r.split()) for r in real]
    assert len(first["captions"].split(" | ")) == 5
    responses = read_responses(out)
    assert responses.repeats is not None and responses.repeats.shape[0] >= 2
    order = [int(s[4:]) - 1 for s in table["stimulus_id"]]
    # the planted image patterns come back (z-scoring per session keeps the correlation)
    r = [np.corrcoef(responses.data[i], pattern[k])[0, 1] for i, k in enumerate(order)]
    assert np.mean(r) > 0.9
    # against the definition: per session betas / 300 inside the mask, z-scored per voxel;
    # per image the mean of its trials, and its first showings as repeats
    mask = np.asarray(nib.load(tmp_path / "nsdgeneral.nii.gz").dataobj) > 0
    zscored = []
    for session in (1, 2):
        with h5py.File(tmp_path / f"betas_session{session:02d}.hdf5") as f:
            betas = f["betas"][:].transpose(0, 3, 2, 1)[:, mask] / 300
        zscored.append((betas - betas.mean(0)) / betas.std(0))
    zscored = np.concatenate(zscored)
    shown = np.asarray(scipy.io.loadmat(tmp_path / "nsd_expdesign.mat")["masterordering"]).ravel()
    for i, stimulus in enumerate(table["stimulus_id"]):
        trials = np.flatnonzero(shown == int(stimulus[4:]))
        np.testing.assert_allclose(responses.data[i], zscored[trials].mean(0), atol=1e-5)
        np.testing.assert_allclose(responses.repeats[:, i],
                                   zscored[trials[:len(responses.repeats)]], atol=1e-5)
    assert not list(Path(tempfile.gettempdir()).glob("brainencode-nsd-*"))  # scratch removed


# --- BIDS fMRI runs -> single-trial GLM -----------------------------------------------------------

def write_bids_bold(root: Path, rng: np.random.Generator, n_runs: int = 2,
                    trial_types: tuple[str, ...] = ("a", "b", "c", "d")) -> np.ndarray:
    """Runs whose voxels respond to each stimulus with a planted pattern (through the HRF)."""
    from nilearn.glm.first_level import compute_regressor

    tr, n_scans, grid = 2.0, 120, (4, 4, 2)
    func = root / "sub-01" / "func"
    func.mkdir(parents=True)
    patterns = rng.normal(size=(len(trial_types), int(np.prod(grid))))
    frame_times = np.arange(n_scans) * tr
    for run in range(1, n_runs + 1):
        onsets = np.arange(8.0, 200.0, 12.0)
        kinds = rng.permutation(np.resize(np.arange(len(trial_types)), len(onsets)))
        signal = np.zeros((n_scans, patterns.shape[1]))
        for onset, kind in zip(onsets, kinds, strict=True):
            regressor = compute_regressor(np.array([[onset], [1.0], [1.0]]), "glover",
                                          frame_times)[0][:, 0]
            signal += regressor[:, None] * patterns[kind]
        bold = 1000 + 10 * signal + rng.normal(size=signal.shape)
        name = f"sub-01_task-objects_run-{run:02d}_bold.nii.gz"
        nib.save(nib.Nifti1Image(bold.T.reshape(*grid, n_scans).astype(np.float32),
                                 np.diag([3, 3, 3, 1.0])), func / name)
        (func / name.replace(".nii.gz", ".json")).write_text(json.dumps({"RepetitionTime": tr}))
        pd.DataFrame({"onset": onsets, "duration": 1.0,
                      "trial_type": [trial_types[k] for k in kinds]}).to_csv(
            func / name.replace("bold.nii.gz", "events.tsv"), sep="\t", index=False)
    nib.save(nib.Nifti1Image(np.ones(grid, np.uint8), np.diag([3, 3, 3, 1.0])),
             root / "mask.nii.gz")
    pd.DataFrame({"stimulus_id": list(trial_types), "modality": "text",
                  "text": list(trial_types)}).to_csv(root / "stimuli.tsv", sep="\t", index=False)
    return patterns


@pytest.mark.parametrize("method", ["lss", "lsa"])
def test_bids_glm_recovers_planted_patterns(tmp_path, method):
    patterns = write_bids_bold(tmp_path, np.random.default_rng(5))
    dataset = {"format": "bids-glm", "subjects": ["sub-01"], "bids_root": str(tmp_path),
               "task": "objects", "stimuli_table": str(tmp_path / "stimuli.tsv"),
               "mask": str(tmp_path / "mask.nii.gz"), "glm": {"method": method}}
    responses = load_responses(dataset, "sub-01", tmp_path / "stimuli.tsv")
    assert responses.repeats.shape == (2 * 4, 4, 32)  # 16 trials a run, 4 of each stimulus
    r = [np.corrcoef(responses.data[i], patterns[i])[0, 1] for i in range(4)]
    assert min(r) > 0.95


def test_bids_glm_bad_input(tmp_path, capsys):
    write_bids_bold(tmp_path, np.random.default_rng(6), n_runs=1)
    dataset = {"format": "bids-glm", "subjects": ["sub-01"], "bids_root": str(tmp_path),
               "task": "objects", "stimuli_table": str(tmp_path / "stimuli.tsv"),
               "mask": str(tmp_path / "mask.nii.gz")}
    args = ["--subject", "sub-01", "--stimuli", str(tmp_path / "stimuli.tsv"), "--out",
            str(tmp_path / "o.h5")]

    line = cli_error(capsys, "responses", "--dataset",
                     json.dumps(dataset | {"mask": str(tmp_path / "nomask.nii.gz")}), *args)
    assert line.endswith("nomask.nii.gz: dataset.mask (brain mask) not found")

    events = tmp_path / "sub-01" / "func" / "sub-01_task-objects_run-01_events.tsv"
    table = pd.read_csv(events, sep="\t")
    events.unlink()
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)
    assert f"{events}: cannot read as TSV" in line
    table.loc[3, "trial_type"] = "unicorn"
    table.to_csv(events, sep="\t", index=False)
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)
    assert f"{events}: trial_type: expected one of the stimulus ids" in line
    assert "'unicorn'" in line

    bold = tmp_path / "sub-01" / "func" / "sub-01_task-objects_run-01_bold.nii.gz"
    bold.write_bytes(bold.read_bytes()[:2000])
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)
    assert f"{bold}: cannot read BOLD run as NIfTI" in line
    assert not (tmp_path / "o.h5").exists()


def test_bids_glm_haxby_real(tmp_path):
    haxby = shared("haxby2001_sub1_pymvpa") / "mvpa2" / "data" / "haxby2001" / "sub001"
    func = tmp_path / "sub-1" / "func"
    func.mkdir(parents=True)
    for run in (1, 2, 3, 4):
        source = haxby / "BOLD" / f"task001_run{run:03d}"
        name = f"sub-1_task-objects_run-{run:02d}_bold.nii.gz"
        (func / name).write_bytes((source / "bold_25mm.nii.gz").read_bytes())
        (func / name.replace("bold.nii.gz", "events.tsv")).write_bytes(
            (source / "bold_events.tsv").read_bytes())
    categories = sorted(pd.read_csv(func / "sub-1_task-objects_run-01_events.tsv",
                                    sep="\t")["trial_type"])
    pd.DataFrame({"stimulus_id": categories, "modality": "text", "text": categories}).to_csv(
        tmp_path / "stimuli.tsv", sep="\t", index=False)
    dataset = {"format": "bids-glm", "subjects": ["sub-1"], "bids_root": str(tmp_path),
               "task": "objects", "stimuli_table": str(tmp_path / "stimuli.tsv"),
               "mask": str(haxby / "masks" / "25mm" / "brain.nii.gz"),
               "glm": {"method": "lsa"}}
    code, _, out = responses_via_cli(tmp_path, dataset, "sub-1", tmp_path / "stimuli.tsv")
    assert code == 0
    responses = read_responses(out)
    assert responses.data.shape == (8, 129) and responses.repeats.shape == (4, 8, 129)
    assert np.isfinite(responses.repeats).all()
    # real category information: patterns of runs 1+2 match runs 3+4 best for the same category
    first, second = responses.repeats[:2].mean(0), responses.repeats[2:].mean(0)
    r = np.corrcoef(first, second)[:8, 8:]
    assert np.trace(r) / 8 > r[~np.eye(8, dtype=bool)].mean()


# --- naturalistic runs -> TR time series, FIR delays ----------------------------------------------

WORDS = ("dog house river song bread green mother winter window teacher run sleep laugh "
         "cold stone music ocean paper table friend city night garden doctor apple chair king "
         "horse storm fire quiet letter road money summer child smile bridge forest glass "
         "dream school train island sugar kitchen dance mountain cloud silver violin market "
         "wolf candle engine lemon prayer thunder blanket spoon").split()


def write_word_table(root: Path) -> Path:
    """The stimuli table of the story words (60 distinct words, as text)."""
    ids = [f"w{k:02d}" for k in range(len(WORDS))]
    path = root / "stimuli.tsv"
    pd.DataFrame({"stimulus_id": ids, "modality": "word", "text": WORDS}).to_csv(
        path, sep="\t", index=False)
    return path


def write_naturalistic(root: Path, rng: np.random.Generator, n_runs: int = 4, n_trs: int = 150,
                       tr: float = 2.0, features: np.ndarray | None = None) -> None:
    """Story-like runs: ~1 word a second; the first 16 voxels sum the words' ``features``
    (default: 8 random ones, also written as a features folder) through fixed weights and the
    Glover HRF, plus a slow drift; the other 16 voxels are noise with the same drift."""
    from nilearn.glm.first_level import glover_hrf

    grid, dt = (4, 4, 2), 0.1
    write_word_table(root)
    if features is None:
        features = rng.standard_normal((len(WORDS), 8)).astype(np.float32)
        (root / "features").mkdir()
        np.save(root / "features" / "layer00.npy", features)
        (root / "features" / "meta.json").write_text(json.dumps({
            "layers": ["layer00"], "stimulus_ids": [f"w{k:02d}" for k in range(len(WORDS))]}))
    weights = rng.standard_normal((features.shape[1], 16))
    hrf = glover_hrf(t_r=tr, oversampling=int(tr / dt), time_length=32.0)
    func = root / "sub-01" / "func"
    func.mkdir(parents=True)
    for run in range(1, n_runs + 1):
        onsets = np.sort(rng.uniform(1.0, n_trs * tr - 2, int(n_trs * tr)))
        words = rng.integers(0, len(WORDS), len(onsets))
        impulses = np.zeros((int(n_trs * tr / dt), 16))
        np.add.at(impulses, np.round((onsets + 0.15) / dt).astype(int),
                  features[words] @ weights)
        neural = np.apply_along_axis(lambda x: np.convolve(x, hrf)[:len(x)], 0, impulses)
        signal = neural[::int(tr / dt)]
        signal /= signal.std(0)
        drift = np.linspace(0, 3, n_trs)[:, None]
        bold = 1000 + drift + rng.standard_normal((n_trs, 32))
        bold[:, :16] += signal
        name = f"sub-01_task-story_run-{run}_bold.nii.gz"
        nib.save(nib.Nifti1Image(bold.T.reshape(*grid, n_trs).astype(np.float32),
                                 np.diag([3, 3, 3, 1.0])), func / name)
        (func / name.replace(".nii.gz", ".json")).write_text(json.dumps({"RepetitionTime": tr}))
        pd.DataFrame({"onset": onsets, "duration": 0.3, "trial_type": "word",
                      "stimulus_id": [f"w{k:02d}" for k in words]}).to_csv(
            func / name.replace("bold.nii.gz", "events.tsv"), sep="\t", index=False)
    nib.save(nib.Nifti1Image(np.ones(grid, np.uint8), np.diag([3, 3, 3, 1.0])),
             root / "mask.nii.gz")
    atlas = np.repeat([1, 2], 16).reshape(grid)  # C order, as the voxels of the BOLD arrays
    nib.save(nib.Nifti1Image(atlas.astype(np.uint8), np.diag([3, 3, 3, 1.0])),
             root / "rois.nii.gz")
    pd.DataFrame({"index": [1, 2], "name": ["driven", "noise"]}).to_csv(
        root / "rois.tsv", sep="\t", index=False)


def naturalistic_dataset(root: Path, **settings) -> dict:
    return {"format": "naturalistic", "subjects": ["sub-01"], "bids_root": str(root),
            "task": "story", "stimuli_table": str(root / "stimuli.tsv"),
            "mask": str(root / "mask.nii.gz"), "atlas": str(root / "rois.nii.gz"),
            "atlas_labels": str(root / "rois.tsv"), "naturalistic": {"trim": [5, 5]} | settings}


def encode_via_cli(root: Path, responses: Path, out: str, **settings) -> np.ndarray:
    """Encode with the schema's defaults (and ``settings``); the per-voxel r of layer00."""
    from brainencode.config import validate_config

    config = validate_config({"dataset": {"format": "demo", "subjects": ["sub-01"]},
                              "models": {"m": {"family": "minilm"}}})
    encoding = config["encoding"] | {"outer_folds": 4, "inner_folds": 3, "device": "cpu"}
    chunk = root / f"{out}-chunk"
    assert main(["encode", "--responses", str(responses), "--features", str(root / "features"),
                 "--stimuli", str(root / "stimuli.tsv"), "--model", "m", "--encoding",
                 json.dumps(encoding | settings), "--out-dir", str(chunk)]) == 0
    assert main(["gather-encoding", "--chunks", str(chunk), "--fdr-q",
                 str(config["encoding"]["fdr_q"]), "--out-dir", str(root / out)]) == 0
    with h5py.File(root / out / "layer00.h5") as f:
        return {key: f[key][:] for key in ("r", "q")}


def test_naturalistic_fir_recovers_planted_voxels(tmp_path):
    write_naturalistic(tmp_path, np.random.default_rng(7))
    code, _, out = responses_via_cli(tmp_path, naturalistic_dataset(tmp_path), "sub-01",
                                     tmp_path / "stimuli.tsv")
    assert code == 0
    responses = read_responses(out)
    assert responses.data.shape == (4 * 140, 32)  # 150 TRs a run, 5 + 5 trimmed
    assert responses.stimulus_ids[0] == "run-0_tr-5" and responses.time[0] == 10.0
    assert set(responses.run) == {0, 1, 2, 3} and len(responses.events) > 4 * 250
    assert list(responses.roi) == ["driven"] * 16 + ["noise"] * 16
    np.testing.assert_allclose(responses.data[responses.run == 0].mean(0), 0, atol=0.1)

    scores = encode_via_cli(tmp_path, out, "fir", significance="permutation",
                            n_permutations=200)
    r, q = scores["r"], scores["q"]
    assert r[:16].min() > 0.5 and abs(r[16:].mean()) < 0.05
    assert (q[:16] < 0.05).all() and (q[16:] < 0.05).mean() <= 0.125
    # the delays carry the haemodynamic lag: without them (delay 0 only) the fit is worse
    code, _, out = responses_via_cli(tmp_path, naturalistic_dataset(tmp_path, delays=[0]),
                                     "sub-01", tmp_path / "stimuli.tsv")
    assert code == 0
    assert encode_via_cli(tmp_path, out, "no-delay")["r"][:16].mean() < r[:16].mean() - 0.1


def test_naturalistic_bad_input(tmp_path, capsys):
    write_naturalistic(tmp_path, np.random.default_rng(8), n_runs=2, n_trs=40)
    dataset = naturalistic_dataset(tmp_path)
    func = tmp_path / "sub-01" / "func"
    args = ["--subject", "sub-01", "--stimuli", str(tmp_path / "stimuli.tsv"), "--out",
            str(tmp_path / "o.h5")]

    events = func / "sub-01_task-story_run-2_events.tsv"
    table = pd.read_csv(events, sep="\t")
    table.loc[4, "onset"] = 500.0
    table.to_csv(events, sep="\t", index=False)
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)
    assert line.endswith(f"{events}: onset: expected times within the run (0 to 80 s), got 500.15")
    table.loc[4, "onset"] = 5.0
    table.loc[5, "stimulus_id"] = "w99"
    table.to_csv(events, sep="\t", index=False)
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)
    assert line.endswith(f"{events}: stimulus_id: expected ids of the stimuli table, got "
                         "unknown 'w99'")
    table.loc[5, "stimulus_id"] = "w01"
    table.to_csv(events, sep="\t", index=False)

    sidecar = func / "sub-01_task-story_run-2_bold.json"
    sidecar.write_text(json.dumps({"RepetitionTime": 1.5}))
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)
    assert line.endswith("sub-01_task-story_run-2_bold.nii.gz: RepetitionTime: expected the "
                         "same TR as sub-01_task-story_run-1_bold.nii.gz (2 s), got 1.5 s")
    sidecar.write_text(json.dumps({"RepetitionTime": 2.0}))
    line = cli_error(capsys, "responses", "--dataset",
                     json.dumps(dataset | {"naturalistic": {"trim": [20, 20]}}), *args)
    assert "sub-01_task-story_run-1_bold.nii.gz: time: 40 TRs, expected more than" in line
    assert not (tmp_path / "o.h5").exists()

    # features that lack a stimulus of the events: one line from encode, no results
    assert main(["responses", "--dataset", json.dumps(dataset), *args]) == 0
    meta = json.loads((tmp_path / "features" / "meta.json").read_text())
    meta["stimulus_ids"][1] = "w_other"
    (tmp_path / "features" / "meta.json").write_text(json.dumps(meta))
    line = cli_error(capsys, "encode", "--responses", str(tmp_path / "o.h5"), "--features",
                     str(tmp_path / "features"), "--model", "m", "--encoding", "{}",
                     "--out-dir", str(tmp_path / "enc"))
    assert line.endswith("stimulus_ids: expected features for every stimulus of the events, "
                         "'w01' has none")
    assert not (tmp_path / "enc").exists()


# --- validate ------------------------------------------------------------------------------------

def test_validate_files(tmp_path, capsys):
    good = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((3, 3, 3), np.float32), np.eye(4)), good)
    bad = tmp_path / "truncated.nii.gz"
    bad.write_bytes(good.read_bytes()[:60])
    with h5py.File(tmp_path / "responses.h5", "w") as f:
        f["data"] = np.column_stack([np.arange(4.0), np.ones(4)])
        f["stimulus_id"] = np.array(["a", "b", "c", "c"], dtype="S")
        f["roi"] = np.array(["x", "x"], dtype="S")
    (tmp_path / "notes_events.tsv").write_text("onset\tduration\ttrial_type\nsoon\t1\ta\n")
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(bad), str(tmp_path / "responses.h5"),
                 str(tmp_path / "notes_events.tsv")]) == 2
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].startswith(f"{bad}: cannot read image as NIfTI")
    assert lines[2] == f"{tmp_path / 'responses.h5'}: stimulus_id: expected unique ids, 'c' " \
                       "appears more than once"
    assert lines[3].startswith(f"{tmp_path / 'responses.h5'}: data: expected responses that "
                               "vary over stimuli, 1 targets are constant")
    assert lines[4] == f"{tmp_path / 'notes_events.tsv'}: onset: expected seconds, got 'soon' " \
                       "in row 1"
    with gzip.open(tmp_path / "x.nii.gz", "wb") as f:
        f.write(b"not a nifti")
    assert main(["validate", str(tmp_path / "x.nii.gz")]) == 2


def test_validate_dataset_config(tmp_path, capsys):
    config = tmp_path / "my.yaml"
    config.write_text("dataset: {format: pereira, subjects: [sub-01]}\n"
                      "models: {m: {family: minilm}}\n")
    assert main(["validate", str(config)]) == 2
    assert capsys.readouterr().out.strip() == (
        f"{config}: dataset.path: required for format pereira (Pereira et al. 2018 per-subject "
        ".mat files (examples, meta, keySentences))")
    config.write_text("dataset: {format: pereira, subjects: [sub-01], path: '/no/{subject}.mat'}\n"
                      "models: {m: {family: minilm}}\n")
    assert main(["validate", str(config)]) == 2
    assert capsys.readouterr().out.strip() == "/no/sub-01.mat: dataset.path not found"


# --- BIDS iEEG / sEEG ----------------------------------------------------------------------------

def test_high_gamma_envelope_on_real_seeg(tmp_path):
    """Real clinical sEEG: a 100 Hz burst added to one contact shows up in its envelope only."""
    import mne

    from brainencode.datasets.bids_ieeg import high_gamma_envelope

    edf = shared("mne_misc_ieeg_clips") / "seeg" / "sample_seeg.edf"
    assert main(["validate", str(edf)]) == 0
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    raw.set_channel_types(dict.fromkeys(raw.ch_names, "seeg"), verbose="error")
    sfreq = raw.info["sfreq"]
    t = np.arange(raw.n_times) / sfreq
    burst = (t > 10) & (t < 11)
    data = raw.get_data()
    data[5] += burst * 5 * data[5].std() * np.sin(2 * np.pi * 100 * t)
    raw._data = data
    envelope = high_gamma_envelope(raw, 70, 150, 4).get_data()
    assert envelope.shape == (len(raw.ch_names), raw.n_times)
    inside = (t > 10.2) & (t < 10.8)
    outside = (t > 2) & (t < 9)
    assert envelope[5, inside].mean() > 3 * envelope[5, outside].mean()
    others = np.delete(envelope, 5, axis=0)
    assert np.all(others[:, inside].mean(1) < 3 * others[:, outside].mean(1))
    truncated = tmp_path / "cut.edf"
    truncated.write_bytes(edf.read_bytes()[:100_000])
    assert main(["validate", str(truncated)]) == 2


def write_bids_ieeg(root: Path, n_stimuli: int = 30) -> np.ndarray:
    """mne-bids recording: contact A1's high gamma in 0.1-0.4 s scales with a stimulus value."""
    import mne
    import mne_bids
    from scipy import signal

    rng = np.random.default_rng(8)
    sfreq, ids = 500.0, [f"w{i:02d}" for i in range(n_stimuli)]
    value = rng.uniform(0, 2, n_stimuli)
    order = np.concatenate([rng.permutation(n_stimuli), rng.permutation(n_stimuli)])
    onsets = 1.0 + np.arange(len(order)) * 1.0
    n_times = int((onsets[-1] + 1.5) * sfreq)
    envelope = np.ones((3, n_times))
    for onset, k in zip(onsets, order, strict=True):
        start = int((onset + 0.1) * sfreq)
        envelope[0, start:start + int(0.3 * sfreq)] += value[k]
    sos = signal.butter(4, [70, 150], btype="bandpass", fs=sfreq, output="sos")
    carrier = signal.sosfiltfilt(sos, rng.standard_normal((3, n_times)), axis=1)
    info = mne.create_info(["A1", "A2", "B1"], sfreq, "seeg")
    info["line_freq"] = 50.0
    raw = mne.io.RawArray(carrier * envelope * 1e-5, info, verbose="error")
    raw.set_montage(mne.channels.make_dig_montage(
        {"A1": [-0.04, 0.02, 0.0], "A2": [-0.045, 0.02, 0.0], "B1": [0.03, -0.05, 0.01]},
        coord_frame="mni_tal"))
    mne_bids.write_raw_bids(
        raw, mne_bids.BIDSPath(subject="01", task="words", root=root, datatype="ieeg"),
        events=np.column_stack([np.round(onsets * sfreq).astype(int), np.zeros_like(order),
                                order + 1]),
        event_id={s: i + 1 for i, s in enumerate(ids)}, format="BrainVision",
        allow_preload=True, verbose="error")
    pd.DataFrame({"stimulus_id": ids, "modality": "word", "text": ids}).to_csv(
        root / "stimuli.tsv", sep="\t", index=False)
    return value


def test_bids_ieeg_high_gamma_windows(tmp_path):
    value = write_bids_ieeg(tmp_path)
    dataset = {"format": "bids-ieeg", "subjects": ["sub-01"], "bids_root": str(tmp_path),
               "task": "words", "stimuli_table": str(tmp_path / "stimuli.tsv"),
               "ieeg": {"n_bands": 4, "tmin": -0.2, "tmax": 0.6, "window_s": 0.1}}
    code, _, out = responses_via_cli(tmp_path, dataset, stimuli=tmp_path / "stimuli.tsv")
    assert code == 0
    responses = read_responses(out)
    assert responses.data.shape == (30, 3 * 6) and responses.repeats.shape == (2, 30, 18)
    assert list(responses.channel[:7]) == ["A1"] * 6 + ["A2"]
    assert responses.window[2] == "0.200-0.300s"
    np.testing.assert_allclose(responses.xyz[0], [-40, 20, 0], atol=1e-3)
    r = [np.corrcoef(responses.data[:, i], value)[0, 1] for i in range(18)]
    assert min(r[1:4]) > 0.8  # A1, 0.1-0.4 s: the planted windows
    assert max(abs(r[0]), *np.abs(r[6:])) < 0.5  # before the response, and the other contacts


def test_bids_ieeg_bad_input(tmp_path, capsys):
    write_bids_ieeg(tmp_path, n_stimuli=10)
    dataset = {"format": "bids-ieeg", "subjects": ["sub-01"], "bids_root": str(tmp_path),
               "task": "words", "stimuli_table": str(tmp_path / "stimuli.tsv")}
    args = ["--subject", "sub-01", "--stimuli", str(tmp_path / "stimuli.tsv"), "--out",
            str(tmp_path / "o.h5")]
    events = tmp_path / "sub-01" / "ieeg" / "sub-01_task-words_events.tsv"
    table = pd.read_csv(events, sep="\t")
    table.loc[0, "trial_type"] = "zebra"
    table.to_csv(events, sep="\t", index=False)
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)
    assert f"{events}: trial_type: expected stimulus ids of" in line and "'zebra'" in line
    recording = tmp_path / "sub-01" / "ieeg" / "sub-01_task-words_ieeg.eeg"
    recording.write_bytes(recording.read_bytes()[:1000])
    table.loc[0, "trial_type"] = "w00"
    table.to_csv(events, sep="\t", index=False)
    # BrainVision has no sample count in its header: a truncated .eeg reads as a short
    # recording, and the events that now fall outside it are the one-line error
    line = cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)
    assert f"{events}: onset: expected every event to leave room for an epoch" in line
    assert not (tmp_path / "o.h5").exists()
