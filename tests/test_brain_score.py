"""Brain-Score's Pereira 2018 protocol: passage context, experiments, the metric written out with
scikit-learn, the ceilings, on .mat files in the published layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import ShuffleSplit

from brainencode.analyses.alignment import brain_score as bs
from brainencode.cli import main
from brainencode.datasets.formats import write_stimuli, write_subject_responses
from brainencode.datasets.pereira import passage_contexts
from brainencode.datasets.stimuli import read_stimuli
from brainencode.errors import BrainencodeError
from brainencode.features.extract import extract_features
from brainencode.features.store import load_features

SETTINGS = {"regression": "linear", "splits": 10, "train_size": 0.9, "random_state": 1}
TOPICS = ["the river", "a small dog", "the old king", "my garden", "the city train",
          "a winter storm", "the new school", "our kitchen"]


def passage_sentences(n_passages: int, per_passage: int) -> tuple[list[str], np.ndarray]:
    """Sentences in passages: the first names the topic, the others refer back to it."""
    sentences, passages = [], []
    for p in range(n_passages):
        topic = TOPICS[p % len(TOPICS)]
        sentences.append(f"This story is about {topic} number {p}.")
        sentences += [f"It was seen again on day {d} of the week." for d in range(1, per_passage)]
        passages += [p + 1] * per_passage
    return sentences, np.array(passages)


def write_examples(path: Path, sentences: list[str], passages: np.ndarray,
                   examples: np.ndarray, coords: np.ndarray, language: np.ndarray) -> None:
    """One examples_<experiment>.mat in Pereira's published layout (sentence order stored
    shuffled, a gordon and a language atlas; ROI 0 = outside the atlas)."""
    order = np.random.default_rng(len(sentences)).permutation(len(sentences))
    meta = {"colToCoord": coords.astype(float), "dimensions": np.array([20.0, 20.0, 20.0]),
            "matrix": np.eye(4), "atlases": np.array(["gordon", "language"], dtype=object),
            "rois": np.array([np.array(["g1"], dtype=object),
                              np.array(["LH_IFG", "LH_PostTemp"], dtype=object)], dtype=object),
            "colToROInum": np.column_stack([np.ones(len(language)), language])}
    scipy.io.savemat(path, {"examples": examples[order], "meta": meta,
                            "keySentences": np.array(sentences, dtype=object),
                            "labelsSentences": (order + 1).astype(float)[:, None],
                            "labelsPassageForEachSentence": passages.astype(float)[:, None]})


def pereira_dataset(tmp_path: Path, responses) -> dict:
    """Two subjects, each with examples_243sentences.mat (6 passages of 3) and
    examples_384sentences.mat (6 passages of 4); ``responses(experiment, sentences, subject)``
    gives the examples in sentence order."""
    rng = np.random.default_rng(0)
    for s, subject in enumerate(["M01", "M02"]):
        coords = rng.integers(1, 20, size=(30, 3))
        language = np.arange(30) % 3  # a third of the voxels outside the language atlas
        (tmp_path / subject).mkdir()
        for experiment, per in (("243sentences", 3), ("384sentences", 4)):
            sentences, passages = passage_sentences(6, per)
            write_examples(tmp_path / subject / f"examples_{experiment}.mat", sentences,
                           passages, responses(experiment, sentences, s), coords, language)
    return {"format": "pereira", "subjects": ["sub-M01", "sub-M02"],
            "path": str(tmp_path / "{label}" / "examples_{experiment}.mat"), "atlas": "language",
            "experiments": ["243sentences", "384sentences"], "context": "passage"}


def test_experiments_and_passage_context_are_read_as_published(tmp_path):
    """Ids and passages carry their experiment; each sentence's context is its passage's
    earlier sentences (Brain-Score digests a passage sentence by sentence); responses of both
    experiments come back in table order, voxels outside the atlas labelled none."""
    def planted(experiment, sentences, subject):
        return np.outer(np.arange(len(sentences)) + 100 * (experiment == "384sentences")
                        + 1000 * subject, np.ones(30))

    dataset = pereira_dataset(tmp_path, planted)
    write_stimuli(dataset=dataset, out=tmp_path / "stimuli.tsv")
    table = read_stimuli(tmp_path / "stimuli.tsv")
    assert len(table) == 18 + 24
    assert table["experiment"].value_counts().to_dict() == {"243sentences": 18,
                                                           "384sentences": 24}
    assert table["stimulus_id"].iloc[0] == "243sentences-sentence-001"
    assert table["group"].nunique() == 12
    first, second, third = table["text"].iloc[:3]
    assert list(table["context"].iloc[:4]) == ["", first, f"{first} {second}", ""]
    assert table["context"].iloc[2] == f"{first} {second}" and third.startswith("It was")
    write_subject_responses(dataset=dataset, subject="sub-M02", stimuli=tmp_path / "stimuli.tsv",
                            out=tmp_path / "M02.h5")
    Y, ids = bs.atlas_targets([tmp_path / "M02.h5"])
    assert ids == list(table["stimulus_id"]) and Y[0].shape == (42, 20)
    np.testing.assert_allclose(Y[0][:, 0], np.r_[np.arange(18), 100 + np.arange(24)] + 1000)
    rows = bs.experiments(tmp_path / "stimuli.tsv", ids)
    assert {k: len(v) for k, v in rows.items()} == {"243sentences": 18, "384sentences": 24}

    bad = {key: value for key, value in dataset.items() if key != "experiments"}
    with pytest.raises(BrainencodeError, match="expected {experiment} in the path exactly when"):
        write_stimuli(dataset=bad, out=tmp_path / "bad.tsv")
    sentences, passages = passage_sentences(6, 3)  # M02's 243-sentence file on other voxels
    write_examples(tmp_path / "M02" / "examples_243sentences.mat", sentences, passages,
                   np.zeros((18, 30)), np.ones((30, 3), int), np.arange(30) % 3)
    with pytest.raises(BrainencodeError, match="M02/examples_384sentences.mat: meta.colToCoord: "
                       "expected the voxels of .*243sentences.mat"):
        write_subject_responses(dataset=dataset, subject="sub-M02",
                                stimuli=tmp_path / "stimuli.tsv", out=tmp_path / "M02b.h5")


def test_metric_equals_scikit_learn_written_out():
    """ShuffleSplit(10, 90/10, random_state=1), LinearRegression, Pearson r per voxel, median
    over voxels, mean over splits; the error is the standard error over splits; the score is
    clipped to [0, 1] by the ceiling."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 5))
    Y = X @ rng.normal(size=(5, 7)) + rng.normal(scale=2.0, size=(80, 7))
    expected = []
    for train, test in ShuffleSplit(10, train_size=0.9, random_state=1).split(X):
        prediction = LinearRegression().fit(X[train], Y[train]).predict(X[test])
        expected.append(np.median([np.corrcoef(prediction[:, v], Y[test, v])[0, 1]
                                   for v in range(7)]))
    scores = bs.split_scores(X, Y, SETTINGS)
    np.testing.assert_allclose(scores, expected, atol=1e-7)
    raw, error = bs.aggregate(scores)
    assert raw == pytest.approx(np.mean(expected))
    assert error == pytest.approx(np.std(expected) / np.sqrt(10))
    assert bs.normalize(0.2, 0.4) == 0.5 and bs.normalize(0.5, 0.4) == 1.0
    assert bs.normalize(-0.1, 0.4) == 0.0 and np.isnan(bs.normalize(0.2, float("nan")))
    ridge = bs.split_scores(X, Y, SETTINGS | {"regression": "ridge"})
    assert np.abs(ridge - scores).max() < 0.05  # mild shrinkage on a well-posed problem


def test_subjects_ceiling_follows_the_shared_signal():
    """Subjects sharing one signal predict each other; independent subjects do not."""
    rng = np.random.default_rng(2)
    signal = rng.normal(size=(200, 3))
    shared = [signal @ rng.normal(size=(3, 8)) + 0.3 * rng.normal(size=(200, 8))
              for _ in range(3)]
    assert bs.subjects_ceiling(shared, SETTINGS) > 0.8
    alone = [rng.normal(size=(200, 8)) for _ in range(3)]
    assert abs(bs.subjects_ceiling(alone, SETTINGS)) < 0.15
    with pytest.raises(BrainencodeError, match="'subjects' needs at least 2 subjects"):
        bs.subjects_ceiling(shared[:1], SETTINGS)


def test_planted_passage_structure_is_found_only_with_the_context(tmp_path, capsys):
    """Responses planted as a linear read-out of a model's features of the passage so far are
    predicted by the protocol from the features with context, much less from the sentences
    alone; the ceilings file holds one value per experiment; a missing one is one line."""
    minilm = {"family": "minilm", "trained": True, "pooling": "last"}
    weights = np.random.default_rng(3).normal(size=(5, 30))
    noise = np.random.default_rng(4)
    planted = {}

    def responses(experiment, sentences, subject):
        return planted[experiment] + 0.5 * noise.normal(size=planted[experiment].shape)

    sentences, passages = passage_sentences(24, 4)
    contexts = pd.DataFrame({"stimulus_id": [f"s{i}" for i in range(len(sentences))],
                             "modality": "text", "text": sentences,
                             "context": passage_contexts(sentences, passages)})
    contexts.to_csv(tmp_path / "contexts.tsv", sep="\t", index=False)
    extract_features(stimuli=tmp_path / "contexts.tsv", spec=minilm, out_dir=tmp_path / "cf",
                     device="cpu")
    features = load_features(tmp_path / "cf")[1]["layer06"]
    for experiment, per in (("243sentences", 3), ("384sentences", 4)):
        keep = np.array([i % 4 < per for i in range(len(sentences))])
        centred = features[keep] - features[keep].mean(0)
        components = np.linalg.svd(centred, full_matrices=False)[2][:5]
        planted[experiment] = centred @ components.T @ weights  # its 5 main directions
    folder = tmp_path / "data"
    folder.mkdir()

    rng = np.random.default_rng(0)
    for s, subject in enumerate(["M01", "M02"]):
        coords, language = rng.integers(1, 20, size=(30, 3)), np.arange(30) % 3
        (folder / subject).mkdir()
        for experiment, per in (("243sentences", 3), ("384sentences", 4)):
            text, labels = passage_sentences(24, per)
            write_examples(folder / subject / f"examples_{experiment}.mat", text, labels,
                           responses(experiment, text, s), coords, language)
    dataset = {"format": "pereira", "subjects": ["sub-M01", "sub-M02"],
               "path": str(folder / "{label}" / "examples_{experiment}.mat"),
               "atlas": "language", "experiments": ["243sentences", "384sentences"]}
    scores = {}
    for context in ("passage", "none"):
        stimuli = tmp_path / f"stimuli-{context}.tsv"
        write_stimuli(dataset=dataset | {"context": context}, out=stimuli)
        extract_features(stimuli=stimuli, spec=minilm, out_dir=tmp_path / context, device="cpu")
        paths = []
        for subject in dataset["subjects"]:
            paths.append(tmp_path / f"{subject}-{context}.h5")
            write_subject_responses(dataset=dataset | {"context": context}, subject=subject,
                                    stimuli=stimuli, out=paths[-1])
        X = {"layer:layer06": load_features(tmp_path / context)[1]["layer06"]}
        table = bs.variant_scores(X, stimuli, *bs.atlas_targets(paths), SETTINGS)
        scores[context] = table.groupby("experiment")["score"].mean()
    assert (scores["passage"] > 0.8).all()  # measured: 0.94, 0.93
    assert (scores["passage"] > scores["none"] + 0.3).all()  # measured: 0.43, 0.49

    out = tmp_path / "ceilings.tsv"
    settings = SETTINGS | {"ceiling": {"243sentences": 0.3538, "384sentences": 0.3634}}
    assert main(["alignment", "brain-score-ceiling", "--stimuli", str(stimuli), "--responses",
                 *map(str, paths), "--settings", json.dumps(settings), "--out", str(out)]) == 0
    assert bs.read_ceilings(out) == {"243sentences": 0.3538, "384sentences": 0.3634}
    settings["ceiling"] = {"243sentences": 0.3538}
    assert main(["alignment", "brain-score-ceiling", "--stimuli", str(stimuli), "--responses",
                 *map(str, paths), "--settings", json.dumps(settings), "--out", str(out)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.endswith("brain_score.ceiling: expected a value for experiment '384sentences', "
                         "got ['243sentences']")
    assert bs.read_ceilings(out)["384sentences"] == 0.3634  # the complete file is untouched
    settings["ceiling"] = "subjects"
    assert main(["alignment", "brain-score-ceiling", "--stimuli", str(stimuli), "--responses",
                 *map(str, paths), "--settings", json.dumps(settings), "--out", str(out)]) == 0
    assert all(0 < value < 1 for value in bs.read_ceilings(out).values())


def test_summary_normalises_per_experiment_and_averages_them(tmp_path):
    """Per model, trained or not: seeds averaged split by split, the best layer chosen per
    variant, raw / ceiling clipped, and the overall row the mean of the experiments' scores."""
    from brainencode.analyses.alignment.summary import brain_score_summary
    from brainencode.analyses.alignment.variants import variant_info, write_variant

    def variant(name, trained, seed, level):
        rows = [{"experiment": e, "condition": c, "layer": layer, "split": i,
                 "score": level * scale + bump + 0.01 * i}
                for e, scale in (("243sentences", 1.0), ("384sentences", 2.0))
                for c, layer, bump in (("localized", "", 0.0), ("random", "", -0.05),
                                       ("layer", "a", -0.02), ("layer", "b", 0.03),
                                       ("word_count", "", -0.1))
                for i in range(10)]
        spec = {"family": "minilm", "trained": trained, "seed": seed}
        write_variant(tmp_path / name, variant_info("m", spec, name), pd.DataFrame(), "x",
                      {}, pd.DataFrame(rows))
        return tmp_path / name

    dirs = [variant("m", True, 0, 0.2), variant("m-s1", False, 1, 0.1),
            variant("m-s2", False, 2, 0.05)]
    ceilings = {"243sentences": 0.3538, "384sentences": 0.3634}
    table = brain_score_summary(dirs, ceilings).set_index(["trained", "condition", "experiment"])
    row = table.loc[(False, "localized", "243sentences")]
    assert row["n_seeds"] == 2 and row["raw"] == pytest.approx(0.075 + 0.045)
    assert row["error"] == pytest.approx(np.std(0.01 * np.arange(10)) / np.sqrt(10))
    assert row["score"] == pytest.approx(0.12 / 0.3538)
    best = table.loc[(True, "all units, best layer", "384sentences")]
    assert best["raw"] == pytest.approx(0.4 + 0.03 + 0.045)  # layer b
    assert table.loc[(True, "localized", "384sentences"), "score"] == 1.0  # 0.445 > ceiling
    overall = table.loc[(False, "localized", "overall"), "score"]
    assert overall == pytest.approx((0.12 / 0.3538 + (0.15 + 0.045) / 0.3634) / 2)
    words = table.xs("baseline", level="condition")
    assert len(words) == 2 + 1 and (words["n_seeds"] == 0).all()
