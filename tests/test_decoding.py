"""Decoding, sEEG classification and the shared space, against outside references."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.linalg import polar
from scipy.stats import pearsonr
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold

from brainencode.analyses.classification import (
    balanced_accuracy,
    classify_subject,
    one_hot_codes,
    permuted_balanced_accuracy,
)
from brainencode.analyses.decoding import decode_subject
from brainencode.analyses.decoding_files import read_decoding, read_shared_space
from brainencode.analyses.shared_space import fit_shared_space
from brainencode.config import validate_config
from brainencode.datasets.responses import Responses, write_responses
from brainencode.datasets.stimuli import write_stimuli_table
from brainencode.encoders import identification
from brainencode.encoders.kernel_ridge import KernelRidgeCV
from brainencode.encoders.metrics import two_vs_two
from brainencode.encoders.ridge import RidgeCV
from brainencode.encoders.shared_response import SharedResponseModel
from brainencode.errors import BrainencodeError
from brainencode.features.store import write_features

ALPHAS = np.logspace(-2, 6, 20)
ENCODING = {"alphas": {"min_exp": -2, "max_exp": 6, "n": 20}, "outer_folds": 5,
            "inner_folds": 5, "seed": 0, "device": "cpu"}


def test_kernel_ridge_is_ridge_cv_in_the_dual():
    """Same alphas and predictions as RidgeCV (and scikit-learn's Ridge at the chosen alpha),
    with more features than samples, grouped inner folds too."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 2500)).astype(np.float32)
    Y = X[:, :30] @ rng.standard_normal((30, 6)) + 3 * rng.standard_normal((90, 6)) + 5.0
    Y[:, 5] = rng.standard_normal(90)  # a pure-noise target: a large alpha
    X_test = rng.standard_normal((25, 2500)).astype(np.float32)
    groups = np.repeat(np.arange(9), 10)
    for cv, g in ((5, None), (GroupKFold(3), groups)):
        dual = KernelRidgeCV(alphas=ALPHAS, cv=cv, device="cpu").fit(X, Y, g)
        primal = RidgeCV(alphas=ALPHAS, cv=cv, device="cpu").fit(X, Y, g)
        np.testing.assert_allclose(dual.alphas_, primal.alphas_, rtol=1e-5)
        np.testing.assert_allclose(dual.predict(X_test), primal.predict(X_test), atol=1e-4)
    for t in range(Y.shape[1]):
        reference = Ridge(alpha=dual.alphas_[t]).fit(X, Y[:, t]).predict(X_test)
        np.testing.assert_allclose(dual.predict(X_test)[:, t], reference, atol=1e-4)
    single = KernelRidgeCV(alphas=ALPHAS, device="cpu").fit(X, Y[:, 0])
    assert single.predict(X_test).shape == (25,) and np.ndim(single.alphas_) == 0


def _brute_identification(decoded, true):
    n = len(decoded)
    r = np.array([[pearsonr(decoded[i], true[j])[0] for j in range(n)] for i in range(n)])
    pairwise = np.mean([np.mean([r[i, i] > r[i, j] for j in range(n) if j != i])
                        for i in range(n)])
    rank = np.array([np.sum(r[i] > r[i, i]) for i in range(n)])
    return pairwise, np.mean(rank < 1), np.mean(rank < 5)


def test_identification_retrieval_and_2v2_against_direct_definitions():
    rng = np.random.default_rng(1)
    true = rng.standard_normal((30, 40))
    decoded = 0.5 * true + rng.standard_normal((30, 40))
    m = identification.FoldMatrices.of(decoded, true)
    pairwise, top1, top5 = _brute_identification(decoded, true)
    assert identification.identification_accuracy(m.correlation) == pytest.approx(pairwise)
    assert identification.top_k_accuracy(m.correlation, 1) == pytest.approx(top1)
    assert identification.top_k_accuracy(m.correlation, 5) == pytest.approx(top5)
    assert identification.SCORES["2v2"](m) == pytest.approx(two_vs_two(true, decoded))
    per_dimension = [pearsonr(decoded[:, d], true[:, d])[0] for d in range(40)]
    assert identification.SCORES["dimension_r"](m) == pytest.approx(np.mean(per_dimension))
    assert identification.chance_levels([30, 20]) == pytest.approx(
        {"identification": 0.5, "2v2": 0.5, "dimension_r": 0.0, "top1": (1 / 30 + 1 / 20) / 2,
         "top5": (5 / 30 + 5 / 20) / 2})


def test_permuted_scores_equal_scoring_each_permuted_fold(monkeypatch):
    """The rank tables give each permutation's scores exactly, ties and NaN included; a score
    without a shortcut (here a new one) is rescored on each permuted fold."""
    monkeypatch.setitem(identification.SCORES, "own_r",
                        lambda m: float(np.nanmean(np.diag(m.correlation))))
    rng = np.random.default_rng(6)
    true = np.round(rng.standard_normal((30, 4)), 0)
    m = identification.FoldMatrices.of(np.round(true + rng.standard_normal((30, 4)), 0), true)
    m.correlation[3, :5] = np.nan
    orders = np.stack([rng.permutation(30) for _ in range(40)])
    permuted = [identification.FoldMatrices(m.correlation[o], m.distance[o],
                                            m.dimension[o]) for o in orders]
    for name, values in m.permuted_scores(orders).items():
        expected = [identification.SCORES[name](shuffled) for shuffled in permuted]
        np.testing.assert_allclose(values, expected, rtol=1e-12, err_msg=name)


def test_permutation_p_finds_signal_and_not_noise():
    rng = np.random.default_rng(2)
    true = [rng.standard_normal((25, 30)) for _ in range(4)]
    signal = [identification.FoldMatrices.of(t + 0.5 * rng.standard_normal(t.shape), t)
              for t in true]
    noise = [identification.FoldMatrices.of(rng.standard_normal(t.shape), t) for t in true]
    strong = identification.decoding_scores(signal, 200, seed=0)
    assert all(p == pytest.approx(1 / 201) for _, p in strong.values())
    assert strong["identification"][0] > 0.95
    null = identification.decoding_scores(noise, 200, seed=0)
    assert all(p > 0.01 for _, p in null.values())
    assert abs(null["identification"][0] - 0.5) < 0.05


def test_2v2_null_on_drawn_pairs_against_the_definition():
    """Folds with more pairs than the bound test 2V2 on drawn pairs: each permutation's value
    is the definition's, pair by pair on the permuted fold; the drawn pairs' 2V2 estimates
    the full one; signal still reaches the smallest p and noise does not; folds within the
    bound keep every pair (the p-values of no bound)."""
    rng = np.random.default_rng(7)
    true = rng.standard_normal((300, 20))
    m = identification.FoldMatrices.of(0.3 * true + rng.standard_normal((300, 20)), true)
    pairs = identification.draw_null_pairs(300, 500, rng)
    assert identification.draw_null_pairs(300, 300 * 299 // 2, rng) is None
    first, second = pairs
    assert len(first) == 500 and np.all(first != second) and second.max() < 300
    orders = np.vstack([np.arange(300), [rng.permutation(300) for _ in range(5)]])
    for order, value in zip(orders, m.pair_two_vs_two(orders, pairs), strict=True):
        d = m.distance[order]  # [decoded given to stimulus i, true j]
        swapped = d[first, second] + d[second, first] - d[first, first] - d[second, second]
        assert value == pytest.approx(np.mean((swapped > 0) + 0.5 * (swapped == 0)))
    full = identification.SCORES["2v2"](m)
    drawn = m.pair_two_vs_two(orders[:1], identification.draw_null_pairs(300, 20000, rng))[0]
    assert abs(drawn - full) < 4 * 0.5 / np.sqrt(20000)

    signal = [identification.FoldMatrices.of(t + rng.standard_normal(t.shape), t)
              for t in (rng.standard_normal((80, 30)) for _ in range(3))]
    noise = [identification.FoldMatrices.of(rng.standard_normal(t.shape), t)
             for t in (rng.standard_normal((80, 30)) for _ in range(3))]
    value, p = identification.decoding_scores(signal, 200, seed=0, null_pairs=1000)["2v2"]
    assert value == identification.decoding_scores(signal, 200, seed=0)["2v2"][0]
    assert p == pytest.approx(1 / 201)
    assert identification.decoding_scores(noise, 200, seed=0, null_pairs=1000)["2v2"][1] > 0.01
    assert (identification.decoding_scores(noise, 200, seed=0, null_pairs=80 * 79 // 2)
            == identification.decoding_scores(noise, 200, seed=0))


def test_srm_recovers_a_shared_response_and_procrustes_adapters():
    """Noiseless subjects X_i = S W_i^T (orthonormal W_i, different voxel counts): SRM
    reconstructs every subject, and a new subject's adapter is the orthonormal polar factor of
    X^T S (scipy.linalg.polar), the semi-orthogonal Procrustes solution."""
    rng = np.random.default_rng(3)
    S = rng.standard_normal((120, 5))
    subjects = [S @ np.linalg.qr(rng.standard_normal((v, 5)))[0].T for v in (40, 55, 70)]
    model = SharedResponseModel(n_components=5, n_iter=30).fit(subjects)
    for X, W in zip(subjects, model.adapters_, strict=True):
        np.testing.assert_allclose(W.T @ W, np.eye(5), atol=1e-10)
        np.testing.assert_allclose(model.shared_response_ @ W.T, X, atol=1e-6)
    new = S @ np.linalg.qr(rng.standard_normal((33, 5)))[0].T
    rows = np.arange(0, 120, 3)
    W = model.transform_subject(new[rows], rows)
    unitary, _ = polar(new[rows].T @ model.shared_response_[rows])
    np.testing.assert_allclose(W, unitary, atol=1e-10)
    np.testing.assert_allclose(model.shared_response_ @ W.T, new, atol=1e-6)
    with pytest.raises(BrainencodeError, match="n_components"):
        SharedResponseModel(n_components=50).fit(subjects)


def test_balanced_accuracy_and_ridge_classification_match_scikit_learn():
    rng = np.random.default_rng(4)
    labels = rng.choice(["circle", "cross", "square"], 90, p=[0.5, 0.3, 0.2])
    predicted = rng.choice(["circle", "cross", "square"], 90)
    assert balanced_accuracy(labels, predicted)[0] == pytest.approx(
        balanced_accuracy_score(labels, predicted))
    X = rng.standard_normal((90, 12)) + (labels == "cross")[:, None]
    classes, codes = one_hot_codes(labels)
    ours = RidgeCV(alphas=[3.0], device="cpu").fit(X, codes)
    np.testing.assert_array_equal(classes[ours.predict(X).argmax(1)],
                                  RidgeClassifier(alpha=3.0).fit(X, labels).predict(X))
    folds = np.array_split(np.arange(90), 5)
    accuracy, p = permuted_balanced_accuracy(labels, labels.copy(), folds, 100, seed=0)
    assert accuracy == 1.0 and p == pytest.approx(1 / 101)


def _subject_file(path, subject, data, roi, ids, **fields):
    write_responses(path, Responses(data=data.astype(np.float32), stimulus_ids=ids,
                                    roi=np.asarray(roi), subject=subject, **fields))
    return path


@pytest.fixture
def latent_subjects(tmp_path):
    """Two subjects whose ROI A responds to one 4-dimensional latent of the features, each
    through its own random mixing, and whose ROI B is noise; a stimuli table with shapes."""
    rng = np.random.default_rng(5)
    n = 120
    ids = [f"s{i:03d}" for i in range(n)]
    features = rng.standard_normal((n, 60))
    latent = features @ rng.standard_normal((60, 4))
    write_features(tmp_path / "features" / "net", {"layer1": features}, {"stimulus_ids": ids})
    shapes = rng.choice(["circle", "square", "cross"], n)
    write_stimuli_table(pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids,
                                      "shape": shapes}), tmp_path / "stimuli.tsv")
    paths = []
    for k, n_voxels in enumerate((50, 65)):
        signal = latent @ rng.standard_normal((4, n_voxels))
        signal /= signal.std(0)
        data = np.hstack([signal + rng.standard_normal(signal.shape),
                          rng.standard_normal((n, 20))])
        roi = ["A"] * n_voxels + ["B"] * 20
        paths.append(_subject_file(tmp_path / f"sub-0{k + 1}.h5", f"sub-0{k + 1}", data, roi,
                                   ids))
    return tmp_path, paths, shapes


def test_decoding_finds_the_layer_in_the_driven_roi_only(latent_subjects):
    root, paths, _ = latent_subjects
    decoding = {"targets": [{"roi": "A", "model": "net", "layer": "layer1"},
                            {"roi": "B", "model": "net", "layer": "layer1"}],
                "n_permutations": 200, "two_vs_two_null_pairs": 100000}
    decode_subject(responses=paths[0], features=[root / "features" / "net"],
                   decoding=decoding, encoding=ENCODING, out_dir=root / "out",
                   stimuli=root / "stimuli.tsv")
    table = read_decoding(root / "out").set_index(["roi", "metric"])
    assert table.loc[("A", "identification"), "value"] > 0.75
    assert table.loc[("A", "identification"), "p"] < 0.01
    assert table.loc[("A", "top5"), "value"] > 2.5 * table.loc[("A", "top5"), "chance"]
    assert abs(table.loc[("B", "identification"), "value"] - 0.5) < 0.1
    assert table.loc[("B", "identification"), "p"] > 0.01
    dimensions = pd.read_csv(root / "out" / "dimensions.tsv", sep="\t")
    assert len(dimensions) == 2 * 60 and set(dimensions.columns) >= {"r", "p", "q"}
    with pytest.raises(BrainencodeError, match=r"sub-01.h5: roi: decoding.targets.0.roi is 'V9'"):
        decode_subject(responses=paths[0], features=[root / "features" / "net"],
                       decoding={**decoding, "targets": [{"roi": "V9", "model": "net",
                                                          "layer": "layer1"}]},
                       encoding=ENCODING, out_dir=root / "bad")
    assert not (root / "bad" / "decoding.tsv").exists()


def test_shared_space_transfer_beats_the_own_model_with_little_data(latent_subjects):
    root, paths, _ = latent_subjects
    settings = {"targets": [{"roi": "A", "model": "net", "layer": "layer1"}],
                "n_components": 4, "n_iter": 10, "fractions": [0.25, 1.0], "n_draws": 2,
                "n_boot": 200}
    fit_shared_space(responses=paths, features=[root / "features" / "net"],
                     shared_space=settings, encoding=ENCODING, out_dir=root / "shared")
    scores, transfer = read_shared_space(root / "shared")
    assert set(scores["method"]) == {"within", "shared"} and len(scores) == 4
    assert (scores["ci_low"] <= scores["r"]).all() and (scores["r"] <= scores["ci_high"]).all()
    quarter = transfer[transfer["fraction"] == 0.25].pivot(index="subject", columns="method",
                                                           values="r")
    assert (quarter["transfer"] > quarter["own"] + 0.1).all()
    gains = transfer[transfer["method"] == "transfer"]
    np.testing.assert_allclose(gains["gain"], gains["r"].to_numpy()
                               - transfer[transfer["method"] == "own"]["r"].to_numpy())
    assert (gains[gains["fraction"] == 0.25]["gain_ci_low"] > 0).all()
    assert transfer[transfer["method"] == "own"]["gain"].isna().all()
    assert set(transfer["n_train"]) == {24, 96}
    with pytest.raises(BrainencodeError, match=r"sub-01.h5: roi: 'A' has 50 usable targets"):
        fit_shared_space(responses=paths, features=[root / "features" / "net"],
                         shared_space={**settings, "n_components": 60}, encoding=ENCODING,
                         out_dir=root / "wide")
    assert not (root / "wide").exists()
    with pytest.raises(BrainencodeError, match="two subjects at least"):
        fit_shared_space(responses=paths[:1], features=[root / "features" / "net"],
                         shared_space=settings, encoding=ENCODING, out_dir=root / "one")


def test_classification_region_against_single_contacts(tmp_path, env):
    """Three contacts of region R each carry a weak, different part of the label; together
    they classify it better than any one of them. Region Q is noise. A label column the table
    lacks is one line and exit 2 from the verb, nothing written."""
    rng = np.random.default_rng(6)
    n = 150
    ids = [f"s{i:03d}" for i in range(n)]
    shapes = rng.choice(["circle", "square", "cross"], n)
    write_stimuli_table(pd.DataFrame({"stimulus_id": ids, "modality": "text", "text": ids,
                                      "shape": shapes}), tmp_path / "stimuli.tsv")
    onehot = (shapes[:, None] == np.array(["circle", "square", "cross"])).astype(float)
    contacts = ["R1", "R2", "R3", "Q1", "Q2"]
    data = rng.standard_normal((n, 2 * len(contacts)))  # two windows a contact
    for k in range(3):
        data[:, 2 * k] += 1.2 * onehot[:, k]
    path = _subject_file(tmp_path / "sub-09.h5", "sub-09", data,
                         np.repeat(["R", "R", "R", "Q", "Q"], 2), ids,
                         channel=np.repeat(contacts, 2), window=np.tile(["a", "b"], 5),
                         xyz=np.zeros((10, 3)))
    table = classify_subject(responses=path, stimuli=tmp_path / "stimuli.tsv",
                             decoding={"classification": {"label": "shape"},
                                       "n_permutations": 200},
                             encoding=ENCODING, out_dir=tmp_path / "out")
    table = table.set_index(["scope", "name"])
    best_contact = table.loc["contact", "balanced_accuracy"].max()
    assert table.loc[("region", "R"), "balanced_accuracy"] > best_contact + 0.05
    assert table.loc[("region", "R"), "p"] < 0.01
    assert table.loc[("region", "Q"), "p"] > 0.01
    assert table["chance"].iloc[0] == pytest.approx(1 / 3)
    bad = subprocess.run(
        ["brainencode", "classify", "--responses", str(path), "--stimuli",
         str(tmp_path / "stimuli.tsv"), "--decoding",
         json.dumps({"classification": {"label": "colour"}, "n_permutations": 10}),
         "--encoding", json.dumps(ENCODING), "--out-dir", str(tmp_path / "bad")],
        env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "stimuli.tsv: colour: decoding.classification.label names this column" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_config_refuses_unknown_models_subjects_and_roi_less_shared_targets():
    def config(**sections):
        return {"dataset": {"format": "demo", "subjects": ["sub-01"]},
                "models": {"net": {"family": "minilm"}}, **sections}
    target = {"roi": "A", "model": "net", "layer": "layer1"}
    validate_config(config(decoding={"targets": [target]}, shared_space={"targets": [target]}))
    with pytest.raises(BrainencodeError, match=r"decoding.targets.0.model: expected one of"):
        validate_config(config(decoding={"targets": [{**target, "model": "vit"}]}))
    with pytest.raises(BrainencodeError, match=r"shared_space.targets.0.roi"):
        validate_config(config(shared_space={"targets": [{"model": "net", "layer": "l"}]}))
    with pytest.raises(BrainencodeError, match=r"decoding.subjects: expected dataset subjects"):
        validate_config(config(decoding={"targets": [target], "subjects": ["sub-07"]}))
